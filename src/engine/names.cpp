// Stable upper-case names of the wire enums (API error codes, logs).
#include "bourse/engine/event.h"

namespace bourse {

const char* event_type_name(EventType t) {
  switch (t) {
    case EventType::kOrderAccepted: return "ORDER_ACCEPTED";
    case EventType::kOrderRejected: return "ORDER_REJECTED";
    case EventType::kTrade: return "TRADE";
    case EventType::kOrderCancelled: return "ORDER_CANCELLED";
    case EventType::kOrderExpired: return "ORDER_EXPIRED";
    case EventType::kOrderAmended: return "ORDER_AMENDED";
    case EventType::kOrderTriggered: return "ORDER_TRIGGERED";
    case EventType::kBalanceChanged: return "BALANCE_CHANGED";
    case EventType::kBookLevelChanged: return "BOOK_LEVEL_CHANGED";
    case EventType::kTransferCompleted: return "TRANSFER_COMPLETED";
    case EventType::kAssetAdded: return "ASSET_ADDED";
    case EventType::kInstrumentAdded: return "INSTRUMENT_ADDED";
    case EventType::kInstrumentStatusChanged: return "INSTRUMENT_STATUS_CHANGED";
    case EventType::kAccountConfigured: return "ACCOUNT_CONFIGURED";
    case EventType::kAccountStatusChanged: return "ACCOUNT_STATUS_CHANGED";
    case EventType::kExternalTradeApplied: return "EXTERNAL_TRADE";
    case EventType::kPositionChanged: return "POSITION_CHANGED";
    case EventType::kMarginParamsSet: return "MARGIN_PARAMS_SET";
    case EventType::kMarginStatusChanged: return "MARGIN_STATUS";
    case EventType::kLiquidation: return "LIQUIDATION";
    case EventType::kCancelAfterSet: return "CANCEL_AFTER";
    case EventType::kAccountLimitsSet: return "ACCOUNT_LIMITS_SET";
    case EventType::kLossLimitSet: return "LOSS_LIMIT_SET";
    case EventType::kDailyLossLimitReached: return "DAILY_LOSS_LIMIT_REACHED";
    case EventType::kCircuitLimitsSet: return "CIRCUIT_LIMITS_SET";
    case EventType::kCircuitBreakerTripped: return "CIRCUIT_BREAKER_TRIPPED";
  }
  return "UNKNOWN";
}

const char* reject_reason_name(RejectReason r) {
  switch (r) {
    case RejectReason::kNone: return "NONE";
    case RejectReason::kUnknownInstrument: return "UNKNOWN_INSTRUMENT";
    case RejectReason::kUnknownAccount: return "UNKNOWN_ACCOUNT";
    case RejectReason::kAccountDisabled: return "ACCOUNT_DISABLED";
    case RejectReason::kInstrumentHalted: return "INSTRUMENT_HALTED";
    case RejectReason::kInstrumentClosed: return "INSTRUMENT_CLOSED";
    case RejectReason::kInvalidOrder: return "INVALID_ORDER";
    case RejectReason::kInvalidTimeInForce: return "INVALID_TIME_IN_FORCE";
    case RejectReason::kInvalidPrice: return "INVALID_PRICE";
    case RejectReason::kInvalidTick: return "INVALID_TICK";
    case RejectReason::kInvalidLot: return "INVALID_LOT";
    case RejectReason::kQtyBelowMin: return "QTY_BELOW_MIN";
    case RejectReason::kQtyAboveMax: return "QTY_ABOVE_MAX";
    case RejectReason::kNotionalBelowMin: return "NOTIONAL_BELOW_MIN";
    case RejectReason::kPriceOutOfBand: return "PRICE_OUT_OF_BAND";
    case RejectReason::kInsufficientFunds: return "INSUFFICIENT_FUNDS";
    case RejectReason::kTooManyOpenOrders: return "TOO_MANY_OPEN_ORDERS";
    case RejectReason::kDuplicateClientOrderId: return "DUPLICATE_CLIENT_ORDER_ID";
    case RejectReason::kPostOnlyWouldTake: return "POST_ONLY_WOULD_TAKE";
    case RejectReason::kPostOnlyNotAllowed: return "POST_ONLY_NOT_ALLOWED";
    case RejectReason::kStopWouldTriggerImmediately: return "STOP_WOULD_TRIGGER_IMMEDIATELY";
    case RejectReason::kInvalidExpireTime: return "INVALID_EXPIRE_TIME";
    case RejectReason::kOrderNotFound: return "ORDER_NOT_FOUND";
    case RejectReason::kInvalidAmend: return "INVALID_AMEND";
    case RejectReason::kInvalidAmount: return "INVALID_AMOUNT";
    case RejectReason::kOverflow: return "OVERFLOW";
    case RejectReason::kUnknownAsset: return "UNKNOWN_ASSET";
    case RejectReason::kInvalidInstrument: return "INVALID_INSTRUMENT";
    case RejectReason::kDuplicateInstrument: return "DUPLICATE_INSTRUMENT";
    case RejectReason::kDuplicateAsset: return "DUPLICATE_ASSET";
    case RejectReason::kCapacityExceeded: return "CAPACITY_EXCEEDED";
    case RejectReason::kInvalidAccount: return "INVALID_ACCOUNT";
    case RejectReason::kInvalidCommand: return "INVALID_COMMAND";
    case RejectReason::kUnavailable: return "UNAVAILABLE";
    case RejectReason::kInstrumentExternal: return "INSTRUMENT_EXTERNAL";
    case RejectReason::kNotExternal: return "NOT_EXTERNAL";
    case RejectReason::kInvalidExternalTrade: return "INVALID_EXTERNAL_TRADE";
    case RejectReason::kInsufficientMargin: return "INSUFFICIENT_MARGIN";
    case RejectReason::kMarginNotAllowed: return "MARGIN_NOT_ALLOWED";
    case RejectReason::kInvalidMarginParams: return "INVALID_MARGIN_PARAMS";
    case RejectReason::kOrderLimitExceeded: return "ORDER_LIMIT_EXCEEDED";
    case RejectReason::kPositionLimitExceeded: return "POSITION_LIMIT_EXCEEDED";
    case RejectReason::kDailyLossLimit: return "DAILY_LOSS_LIMIT";
    case RejectReason::kPriceOutsideCircuit: return "PRICE_OUTSIDE_CIRCUIT";
    case RejectReason::kInvalidCircuit: return "INVALID_CIRCUIT";
    case RejectReason::kSessionClosed: return "SESSION_CLOSED";
    case RejectReason::kPreOpenOrderType: return "PRE_OPEN_ORDER_TYPE";
  }
  return "UNKNOWN";
}

const char* cancel_reason_name(CancelReason r) {
  switch (r) {
    case CancelReason::kUserRequested: return "USER_REQUESTED";
    case CancelReason::kCancelAll: return "CANCEL_ALL";
    case CancelReason::kUnfilledImmediate: return "UNFILLED_IMMEDIATE";
    case CancelReason::kFillOrKill: return "FILL_OR_KILL";
    case CancelReason::kSelfTrade: return "SELF_TRADE";
    case CancelReason::kAccountDisabled: return "ACCOUNT_DISABLED";
    case CancelReason::kInstrumentClosed: return "INSTRUMENT_CLOSED";
    case CancelReason::kBookLevelFull: return "BOOK_LEVEL_FULL";
    case CancelReason::kMarginCall: return "MARGIN_CALL";
    case CancelReason::kSquareOff: return "SQUARE_OFF";
    case CancelReason::kDeadMansSwitch: return "DEAD_MANS_SWITCH";
    case CancelReason::kDailyLossLimit: return "DAILY_LOSS_LIMIT";
    case CancelReason::kCircuitBreaker: return "CIRCUIT_BREAKER";
    case CancelReason::kOutsideCircuit: return "OUTSIDE_CIRCUIT";
  }
  return "UNKNOWN";
}

const char* command_type_name(CommandType t) {
  switch (t) {
    case CommandType::kPlaceOrder: return "PLACE_ORDER";
    case CommandType::kCancelOrder: return "CANCEL_ORDER";
    case CommandType::kAmendOrder: return "AMEND_ORDER";
    case CommandType::kCancelAll: return "CANCEL_ALL";
    case CommandType::kDeposit: return "DEPOSIT";
    case CommandType::kWithdraw: return "WITHDRAW";
    case CommandType::kAddAsset: return "ADD_ASSET";
    case CommandType::kAddInstrument: return "ADD_INSTRUMENT";
    case CommandType::kSetInstrumentStatus: return "SET_INSTRUMENT_STATUS";
    case CommandType::kConfigureAccount: return "CONFIGURE_ACCOUNT";
    case CommandType::kSetAccountEnabled: return "SET_ACCOUNT_ENABLED";
    case CommandType::kExpireDayOrders: return "EXPIRE_DAY_ORDERS";
    case CommandType::kHeartbeat: return "HEARTBEAT";
    case CommandType::kExternalTrade: return "EXTERNAL_TRADE";
    case CommandType::kSetMarginParams: return "SET_MARGIN_PARAMS";
    case CommandType::kSquareOff: return "SQUARE_OFF";
    case CommandType::kCancelAfter: return "CANCEL_AFTER";
    case CommandType::kSetAccountLimits: return "SET_ACCOUNT_LIMITS";
    case CommandType::kSetLossLimit: return "SET_LOSS_LIMIT";
    case CommandType::kSetCircuitLimits: return "SET_CIRCUIT_LIMITS";
  }
  return "UNKNOWN";
}

const char* side_name(Side s) { return s == Side::kBuy ? "BUY" : s == Side::kSell ? "SELL" : "UNKNOWN"; }

const char* order_type_name(OrderType t) {
  switch (t) {
    case OrderType::kLimit: return "LIMIT";
    case OrderType::kMarket: return "MARKET";
    case OrderType::kStopLimit: return "STOP_LIMIT";
    case OrderType::kStopMarket: return "STOP_MARKET";
  }
  return "UNKNOWN";
}

const char* tif_name(TimeInForce t) {
  switch (t) {
    case TimeInForce::kGtc: return "GTC";
    case TimeInForce::kIoc: return "IOC";
    case TimeInForce::kFok: return "FOK";
    case TimeInForce::kDay: return "DAY";
    case TimeInForce::kGtd: return "GTD";
  }
  return "UNKNOWN";
}

const char* product_name(Product p) {
  switch (p) {
    case Product::kCash: return "CASH";
    case Product::kMargin: return "MARGIN";
  }
  return "UNKNOWN";
}

const char* liquidation_reason_name(LiquidationReason r) {
  switch (r) {
    case LiquidationReason::kMarginCall: return "MARGIN_CALL";
    case LiquidationReason::kSquareOff: return "SQUARE_OFF";
  }
  return "UNKNOWN";
}

const char* mark_source_name(MarkSource m) {
  switch (m) {
    case MarkSource::kLast: return "LAST";
    case MarkSource::kMid: return "MID";
    case MarkSource::kReference: return "REFERENCE";
  }
  return "UNKNOWN";
}

}  // namespace bourse

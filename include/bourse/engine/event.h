// Events: everything the engine says. A closed set; consumers (gateway
// replies, market data, stores, the bus) need nothing else from the engine.
//
// Per command, the engine emits in this order:
//   1. Expired for GTD orders whose expire_at <= the command's timestamp,
//   2. the command's own events (Accepted/Rejected, Trade, Cancelled, ...),
//      including Triggered stop orders and their own events, in the order
//      they happened,
//   3. BalanceChanged once per (account, asset) whose balance differs from
//      before the command, sorted by (account, asset), with final values,
//   3b. PositionChanged once per (account, instrument) whose MARGIN position
//      (quantity, cost, realized PnL or fees) differs from before the
//      command, sorted by (account, instrument), with final values,
//   4. BookLevelChanged once per (instrument, side, price) level whose
//      aggregate differs from before the command, sorted by (instrument,
//      side, price), with the final aggregate (qty 0: level gone).
// Every event carries the header of the command that caused it.
#pragma once

#include <cstdint>

#include "bourse/engine/command.h"
#include "bourse/engine/types.h"

namespace bourse {

enum class EventType : uint8_t {
  kOrderAccepted = 1,
  kOrderRejected = 2,
  kTrade = 3,
  kOrderCancelled = 4,
  kOrderExpired = 5,
  kOrderAmended = 6,
  kOrderTriggered = 7,
  kBalanceChanged = 8,
  kBookLevelChanged = 9,
  kTransferCompleted = 10,  // deposit or withdrawal applied
  kAssetAdded = 11,
  kInstrumentAdded = 12,
  kInstrumentStatusChanged = 13,
  kAccountConfigured = 14,
  kAccountStatusChanged = 15,
  kExternalTradeApplied = 16,  // an ExternalTrade command, with its trade id and notional
  kPositionChanged = 17,       // a MARGIN position's final state after the command
  kMarginParamsSet = 18,       // SetMarginParams applied (the payload, as given)
  kMarginStatusChanged = 19,   // an account went below maintenance margin (a margin call) or back above it
  kLiquidation = 20,           // the engine closes a MARGIN position: its closing orders follow
  kCancelAfterSet = 21,        // a dead-man's switch armed (cancel_at), disarmed (0) or fired (fired 1)
  kAccountLimitsSet = 22,      // SetAccountLimits applied (the payload)
  kLossLimitSet = 23,          // SetLossLimit applied (the payload)
  kDailyLossLimitReached = 24, // an account's MARGIN loss today passed its limit: reduce-only until the day ends
  kCircuitLimitsSet = 25,      // SetCircuitLimits applied (the payload)
  kCircuitBreakerTripped = 26, // a trade would have moved past the breaker: the instrument halts until resume_at
};

struct OrderAccepted {
  ClientOrderId client_order_id;
  OrderId order_id;
  Price price;
  Price stop_price;
  Qty qty;
  Timestamp expire_at;
  Amount hold;           // amount locked for this order (quote for buys, base for sells); MARGIN: its reserve
  Price hold_price;      // the price holds (buys) and MARGIN reserves are computed at; 0 for CASH sells
  AccountId account;
  InstrumentId instrument;
  Side side;
  OrderType type;
  TimeInForce tif;
  StpMode stp;           // resolved mode (never kAccountDefault)
  uint8_t post_only;
  uint8_t pending_trigger;  // 1 for a stop order waiting for its trigger
  Product product;
};

struct OrderRejected {
  ClientOrderId client_order_id;  // from PlaceOrder / CancelOrder, else empty
  OrderId order_id;               // from CancelOrder / AmendOrder, else 0
  AccountId account;
  InstrumentId instrument;
  RejectReason reason;
  CommandType command;
};

struct TradeLeg {
  OrderId order_id;
  Amount fee;        // quote asset, charged to this leg, credited to the fee account
  Qty leaves;        // remaining open quantity of the order after this trade
  Qty filled;        // cumulative filled quantity of the order after this trade
  AccountId account;
  uint32_t reserved;
};

struct Trade {
  TradeId trade_id;
  Price price;       // the passive order's price
  Qty qty;
  Amount notional;   // quote minor units, exact
  TradeLeg aggressor;
  TradeLeg passive;
  InstrumentId instrument;
  Side aggressor_side;
};

struct OrderCancelled {
  OrderId order_id;
  Qty leaves;        // quantity that was still open and is now cancelled
  Qty filled;
  AccountId account;
  InstrumentId instrument;
  CancelReason reason;
};

struct OrderExpired {
  OrderId order_id;
  Qty leaves;
  Qty filled;
  AccountId account;
  InstrumentId instrument;
  ExpireReason reason;
};

struct OrderAmended {
  OrderId order_id;
  Price price;
  Price stop_price;
  Qty qty;           // new total quantity
  Qty leaves;
  Amount hold;       // the order's hold after the amend
  Price hold_price;
  AccountId account;
  InstrumentId instrument;
  uint8_t priority_kept;  // 1 when only the quantity went down
};

struct OrderTriggered {
  OrderId order_id;
  Price last_price;  // the trade price that triggered it
  AccountId account;
  InstrumentId instrument;
};

struct BalanceChanged {
  Amount available;
  Amount locked;
  AccountId account;
  AssetId asset;
};

struct BookLevelChanged {
  Price price;
  Qty qty;           // total open quantity at this level; 0 = level removed
  uint32_t order_count;
  InstrumentId instrument;
  Side side;
};

struct TransferCompleted {
  Amount amount;
  AccountId account;
  AssetId asset;
  uint8_t is_deposit;
};

struct InstrumentStatusChanged {
  InstrumentId instrument;
  InstrumentStatus status;
};

struct AccountConfigured {
  AccountId account;
  uint32_t max_open_orders;
  StpMode default_stp;
  uint8_t margin_tier;
};

// A MARGIN position (docs/engine.md, "Margin"). cost is the signed entry
// value of the open quantity (long > 0, short < 0), so the average entry
// price is cost / qty and the unrealized PnL at mark m is N(m, qty) − cost.
struct PositionChanged {
  Qty qty;           // signed base minor units: > 0 long, < 0 short, 0 flat
  Wide cost;         // quote minor units
  Wide realized;     // cumulative realized PnL, quote minor units, fees not included
  Wide fees;         // cumulative fees of this instrument's MARGIN fills
  AccountId account;
  InstrumentId instrument;
};

struct AccountStatusChanged {
  AccountId account;
  uint8_t enabled;
};

// An external instrument's trade: what venue trades are to market data,
// without orders, accounts or fees. trade_id comes from the venue's
// trade-id sequence, so trade ids stay unique across both kinds.
struct ExternalTradeApplied {
  TradeId trade_id;
  Price price;
  Qty qty;
  Amount notional;   // quote minor units, exact
  Timestamp time;    // the source's time
  InstrumentId instrument;
  Side aggressor_side;
  uint8_t reserved[3];
};

// A margin call (in_call 1: equity below maintenance in `asset`) or its end
// (0), from the margin sweep; values at that moment.
struct MarginStatusChanged {
  Wide equity;
  Wide maintenance;
  Wide initial;
  AccountId account;
  AssetId asset;
  uint8_t in_call;
  uint8_t reserved[7];
};

// The engine closes `qty` (the signed position before) of a MARGIN position;
// the closing MARKET IOC orders' own events follow.
struct Liquidation {
  Qty qty;
  Wide unrealized;   // at the mark when it started
  AccountId account;
  InstrumentId instrument;
  LiquidationReason reason;
  uint8_t reserved[7];
};

struct CancelAfterSet {
  Timestamp cancel_at;  // 0: disarmed
  AccountId account;
  uint8_t fired;        // 1: the countdown ran out; the account's cancels follow
  uint8_t reserved[3];
};

struct DailyLossLimitReached {
  Wide loss;          // realized PnL minus fees today, negated (> max_daily_loss)
  AccountId account;
  AssetId asset;
};

// The breaker refused a trade at `price`: more than breaker_bps from
// `anchor`, the last price window_s earlier. InstrumentStatusChanged(HALTED)
// follows; at resume_at the next command resumes trading (HALTED → TRADING).
struct CircuitBreakerTripped {
  Price anchor;
  Price price;
  Timestamp resume_at;
  InstrumentId instrument;
  uint32_t reserved;
};
struct Event {
  CommandHeader cause;  // header of the command this event answers
  EventType type{};
  uint8_t padding[7]{};  // explicit, so that equal events are equal bytes
  union {
    unsigned char raw[128];
    OrderAccepted accepted;
    OrderRejected rejected;
    Trade trade;
    OrderCancelled cancelled;
    OrderExpired expired;
    OrderAmended amended;
    OrderTriggered triggered;
    BalanceChanged balance;
    BookLevelChanged book_level;
    TransferCompleted transfer;
    AssetSpec asset_added;
    InstrumentSpec instrument_added;
    InstrumentStatusChanged instrument_status;
    AccountConfigured account_configured;
    AccountStatusChanged account_status;
    ExternalTradeApplied external_trade;
    PositionChanged position;
    SetMarginParams margin_params;
    MarginStatusChanged margin_status;
    Liquidation liquidation;
    CancelAfterSet cancel_after;
    SetAccountLimits account_limits;
    SetLossLimit loss_limit;
    DailyLossLimitReached daily_loss;
    SetCircuitLimits circuit_limits;
    CircuitBreakerTripped breaker;
  };
  Event() : raw{} {}
};

const char* event_type_name(EventType t);
const char* reject_reason_name(RejectReason r);
const char* cancel_reason_name(CancelReason r);
const char* command_type_name(CommandType t);
const char* side_name(Side s);
const char* order_type_name(OrderType t);
const char* tif_name(TimeInForce t);
const char* product_name(Product p);
const char* mark_source_name(MarkSource m);
const char* liquidation_reason_name(LiquidationReason r);

}  // namespace bourse

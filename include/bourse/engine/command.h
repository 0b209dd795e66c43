// Commands: the only way to change engine state. Gateways build them, the
// sequencer stamps seq + timestamp and journals them, the engine applies them.
//
// Every payload is a fixed-layout, padding-free struct (asserted below), so a
// command's journal record is its header followed by its payload bytes; see
// docs/journal-format.md. Field order and enum values must not change.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "bourse/engine/types.h"

namespace bourse {

enum class CommandType : uint8_t {
  kPlaceOrder = 1,
  kCancelOrder = 2,
  kAmendOrder = 3,
  kCancelAll = 4,
  kDeposit = 5,
  kWithdraw = 6,
  kAddAsset = 7,
  kAddInstrument = 8,
  kSetInstrumentStatus = 9,
  kConfigureAccount = 10,
  kSetAccountEnabled = 11,
  kExpireDayOrders = 12,
  kHeartbeat = 13,  // carries only time: lets GTD expiry run when no one trades
  kExternalTrade = 14,  // a trade on another market, for an external instrument (tick ingest)
  kSetMarginParams = 15,  // an instrument's mark source and margin rates per tier
  kSquareOff = 16,        // close every MARGIN position (intraday square-off)
  kCancelAfter = 17,      // dead-man's switch: cancel the account's orders unless refreshed
  kSetAccountLimits = 18, // per-account order and position limits in one instrument
  kSetLossLimit = 19,     // per-account max daily loss in one collateral asset
  kSetCircuitLimits = 20, // an instrument's static price limits and circuit breaker
};

struct PlaceOrder {
  ClientOrderId client_order_id;  // optional (empty); unique per account among live orders
  Price price;                    // limit price: LIMIT and STOP_LIMIT only, else 0
  Price stop_price;               // trigger: STOP_LIMIT and STOP_MARKET only, else 0
  Qty qty;
  Timestamp expire_at = 0;        // GTD only, else 0
  AccountId account;
  InstrumentId instrument;
  Side side = Side::kBuy;
  OrderType type = OrderType::kLimit;
  TimeInForce tif = TimeInForce::kGtc;
  StpMode stp = StpMode::kAccountDefault;
  uint8_t post_only = 0;
  Product product = Product::kCash;  // 0 in journals written before margin: CASH
  uint8_t reserved[2] = {};
};

// Cancels by order id, or by client order id when order_id is 0.
struct CancelOrder {
  ClientOrderId client_order_id;
  OrderId order_id;
  AccountId account;
  uint32_t reserved = 0;
};

// Zero fields mean "unchanged". new_qty is the new total order quantity
// (filled + leaves), as in FIX OrderCancelReplaceRequest.
struct AmendOrder {
  OrderId order_id;
  Price new_price;
  Price new_stop_price;
  Qty new_qty;
  AccountId account;
  uint32_t reserved = 0;
};

// instrument 0 = every instrument.
struct CancelAll {
  AccountId account;
  InstrumentId instrument;
};

// Deposit or withdrawal (by command type).
struct Transfer {
  Amount amount;
  AccountId account;
  AssetId asset;
};

struct SetInstrumentStatus {
  InstrumentId instrument;
  InstrumentStatus status = InstrumentStatus::kTrading;
  uint8_t reserved[3] = {};
};

// Creates the account if it does not exist, otherwise updates its settings.
struct ConfigureAccount {
  AccountId account;
  uint32_t max_open_orders = 0;  // 0 = engine default
  StpMode default_stp = StpMode::kCancelNewest;
  uint8_t margin_tier = 0;       // 0: cash only; 1..kMarginTiers: may trade MARGIN at that tier's rates
  uint8_t reserved[6] = {};
};

// The kill switch: disabling cancels every live order of the account and
// refuses new orders and amends until enabled again.
struct SetAccountEnabled {
  AccountId account;
  uint8_t enabled = 1;
  uint8_t reserved[3] = {};
};

// Session close: expires DAY orders. instrument 0 = every instrument.
struct ExpireDayOrders {
  InstrumentId instrument;
  uint32_t reserved = 0;
};

struct Heartbeat {
  uint64_t reserved = 0;
};

// A tick from outside the venue. `time` is the source's time (it orders
// the instrument's candles, not the command's timestamp), so a replayed
// file rebuilds the bars of the day it was recorded.
struct ExternalTrade {
  Price price;               // > 0, a multiple of the tick size
  Qty qty;                   // > 0, a multiple of the lot size
  Timestamp time = 0;        // ns since the epoch, > 0
  InstrumentId instrument;   // an external instrument
  Side aggressor_side = Side::kBuy;
  uint8_t reserved[3] = {};
};

// An instrument's margin terms. Rates are parts per million of position
// value; tier t uses index t-1, and an initial rate of 0 means that tier
// cannot trade the instrument on margin. 0 < maintenance <= initial <= 10^6.
// Replaces the previous terms; open positions are held to the new ones from
// the next check on.
struct SetMarginParams {
  InstrumentId instrument;
  InstrumentId mark_reference;  // kReference: an external instrument with the same base, quote and price scale
  uint32_t initial_ppm[kMarginTiers] = {};
  uint32_t maintenance_ppm[kMarginTiers] = {};
  MarkSource mark_source = MarkSource::kLast;
  uint8_t reserved[7] = {};
};

// An instrument's circuits (docs/engine.md, "Circuits"); 0 turns a control
// off. Static: no order is priced, and no trade happens, below `lower` or
// above `upper`. Breaker: a trade more than breaker_bps away from the last
// price window_s seconds earlier halts the instrument for cooloff_s instead.
struct SetCircuitLimits {
  Price lower;
  Price upper;
  InstrumentId instrument;
  uint32_t breaker_bps;  // 1..10,000 (0: no breaker)
  uint32_t window_s;     // 1..3,600 with a breaker
  uint32_t cooloff_s;    // 1..86,400 with a breaker
};

// Intraday square-off: cancels the open MARGIN orders and closes the
// MARGIN positions of every account in an instrument (0 = every instrument).
struct SquareOff {
  InstrumentId instrument;
  uint32_t reserved = 0;
};

// Dead-man's switch: every live order of the account is cancelled at the
// first command stamped at or after (this command's timestamp + timeout);
// each CancelAfter replaces the countdown, timeout 0 disarms it.
struct CancelAfter {
  AccountId account;
  uint32_t timeout_ms = 0;  // 0..86,400,000
};

// An account's limits in one instrument (0: no limit). max_position bounds
// its MARGIN position as if every open MARGIN order on the order's side
// filled. Replaces the previous limits for that (account, instrument).
struct SetAccountLimits {
  Qty max_order_qty;
  Amount max_order_notional;  // quote minor units, at the order's limit (or hold) price
  Qty max_position;
  AccountId account;
  InstrumentId instrument;
};

// Max daily loss (UTC days, the engine's clock) of an account's MARGIN
// trading in one collateral asset: realized PnL minus fees. Past it, MARGIN
// orders in that asset must reduce until the day ends. 0: no limit.
struct SetLossLimit {
  Amount max_daily_loss;
  AccountId account;
  AssetId asset;
};

struct CommandHeader {
  Seq seq = 0;                // assigned by the sequencer
  Timestamp timestamp = 0;    // assigned by the sequencer; the engine reads no clock
  uint64_t correlation = 0;   // opaque to the engine, echoed in events (gateway request id)
  uint16_t source = 0;        // opaque to the engine, echoed in events (gateway/session id)
  CommandType type = CommandType::kHeartbeat;
  uint8_t reserved[5] = {};
};

template <class T>
inline constexpr bool kPaddingFree = std::is_trivially_copyable_v<T> && std::has_unique_object_representations_v<T>;
static_assert(kPaddingFree<CommandHeader> && sizeof(CommandHeader) == 32);
static_assert(kPaddingFree<PlaceOrder> && sizeof(PlaceOrder) == 80);
static_assert(kPaddingFree<CancelOrder> && sizeof(CancelOrder) == 48);
static_assert(kPaddingFree<AmendOrder> && sizeof(AmendOrder) == 40);
static_assert(kPaddingFree<CancelAll> && sizeof(CancelAll) == 8);
static_assert(kPaddingFree<Transfer> && sizeof(Transfer) == 16);
static_assert(kPaddingFree<AssetSpec> && sizeof(AssetSpec) == 16);
static_assert(kPaddingFree<InstrumentSpec> && sizeof(InstrumentSpec) == 96);
static_assert(kPaddingFree<SetInstrumentStatus> && sizeof(SetInstrumentStatus) == 8);
static_assert(kPaddingFree<ConfigureAccount> && sizeof(ConfigureAccount) == 16);
static_assert(kPaddingFree<SetAccountEnabled> && sizeof(SetAccountEnabled) == 8);
static_assert(kPaddingFree<ExpireDayOrders> && sizeof(ExpireDayOrders) == 8);
static_assert(kPaddingFree<Heartbeat> && sizeof(Heartbeat) == 8);
static_assert(kPaddingFree<ExternalTrade> && sizeof(ExternalTrade) == 32);
static_assert(kPaddingFree<SetMarginParams> && sizeof(SetMarginParams) == 48);
static_assert(kPaddingFree<SquareOff> && sizeof(SquareOff) == 8);
static_assert(kPaddingFree<CancelAfter> && sizeof(CancelAfter) == 8);
static_assert(kPaddingFree<SetAccountLimits> && sizeof(SetAccountLimits) == 32);
static_assert(kPaddingFree<SetLossLimit> && sizeof(SetLossLimit) == 16);
static_assert(kPaddingFree<SetCircuitLimits> && sizeof(SetCircuitLimits) == 32);

// A command as passed between threads and to Engine::apply. Construct with
// the factory functions: they zero the unused bytes so that records are
// byte-for-byte deterministic.
struct Command {
  CommandHeader header;
  union Payload {
    PlaceOrder place;
    CancelOrder cancel;
    AmendOrder amend;
    CancelAll cancel_all;
    Transfer transfer;
    AssetSpec add_asset;
    InstrumentSpec add_instrument;
    SetInstrumentStatus set_instrument_status;
    ConfigureAccount configure_account;
    SetAccountEnabled set_account_enabled;
    ExpireDayOrders expire_day_orders;
    Heartbeat heartbeat;
    ExternalTrade external_trade;
    SetMarginParams set_margin_params;
    SquareOff square_off;
    CancelAfter cancel_after;
    SetAccountLimits set_account_limits;
    SetLossLimit set_loss_limit;
    SetCircuitLimits set_circuit_limits;
    Payload() { std::memset(static_cast<void*>(this), 0, sizeof(*this)); }
  } payload;

  CommandType type() const { return header.type; }

  static Command make(CommandType type) {
    Command c;
    c.header.type = type;
    return c;
  }
  static Command place_order(const PlaceOrder& p) { Command c = make(CommandType::kPlaceOrder); c.payload.place = p; return c; }
  static Command cancel_order(const CancelOrder& p) { Command c = make(CommandType::kCancelOrder); c.payload.cancel = p; return c; }
  static Command amend_order(const AmendOrder& p) { Command c = make(CommandType::kAmendOrder); c.payload.amend = p; return c; }
  static Command cancel_all(const CancelAll& p) { Command c = make(CommandType::kCancelAll); c.payload.cancel_all = p; return c; }
  static Command deposit(const Transfer& p) { Command c = make(CommandType::kDeposit); c.payload.transfer = p; return c; }
  static Command withdraw(const Transfer& p) { Command c = make(CommandType::kWithdraw); c.payload.transfer = p; return c; }
  static Command add_asset(const AssetSpec& p) { Command c = make(CommandType::kAddAsset); c.payload.add_asset = p; return c; }
  static Command add_instrument(const InstrumentSpec& p) { Command c = make(CommandType::kAddInstrument); c.payload.add_instrument = p; return c; }
  static Command set_instrument_status(const SetInstrumentStatus& p) { Command c = make(CommandType::kSetInstrumentStatus); c.payload.set_instrument_status = p; return c; }
  static Command configure_account(const ConfigureAccount& p) { Command c = make(CommandType::kConfigureAccount); c.payload.configure_account = p; return c; }
  static Command set_account_enabled(const SetAccountEnabled& p) { Command c = make(CommandType::kSetAccountEnabled); c.payload.set_account_enabled = p; return c; }
  static Command expire_day_orders(const ExpireDayOrders& p) { Command c = make(CommandType::kExpireDayOrders); c.payload.expire_day_orders = p; return c; }
  static Command heartbeat() { return make(CommandType::kHeartbeat); }
  static Command external_trade(const ExternalTrade& p) { Command c = make(CommandType::kExternalTrade); c.payload.external_trade = p; return c; }
  static Command set_margin_params(const SetMarginParams& p) { Command c = make(CommandType::kSetMarginParams); c.payload.set_margin_params = p; return c; }
  static Command square_off(const SquareOff& p) { Command c = make(CommandType::kSquareOff); c.payload.square_off = p; return c; }
  static Command cancel_after(const CancelAfter& p) { Command c = make(CommandType::kCancelAfter); c.payload.cancel_after = p; return c; }
  static Command set_account_limits(const SetAccountLimits& p) { Command c = make(CommandType::kSetAccountLimits); c.payload.set_account_limits = p; return c; }
  static Command set_loss_limit(const SetLossLimit& p) { Command c = make(CommandType::kSetLossLimit); c.payload.set_loss_limit = p; return c; }
  static Command set_circuit_limits(const SetCircuitLimits& p) { Command c = make(CommandType::kSetCircuitLimits); c.payload.set_circuit_limits = p; return c; }
};

// Size in bytes of the payload of a command type; 0 for an unknown type.
std::size_t command_payload_size(CommandType type);

// Journal codec. encode writes header + payload (at most kMaxEncodedCommand
// bytes) and returns the length; a command of unknown type is a bare header.
// decode validates the length against the type and returns false on any
// mismatch (a record from a corrupt or foreign file).
constexpr std::size_t kMaxEncodedCommand = sizeof(CommandHeader) + sizeof(InstrumentSpec);
std::size_t encode_command(const Command& c, unsigned char* out);
bool decode_command(const unsigned char* data, std::size_t size, Command* out);

}  // namespace bourse

// The matching engine with its ledger and pre-trade risk: a deterministic
// state machine over sequenced commands.
//
// Ownership and threads: one Engine is owned by one thread (the engine
// thread); no method is thread-safe. It reads no clock (time comes in the
// command header), does no I/O, and allocates nothing per command in steady
// state: orders, price levels and indexes live in pools sized by
// EngineConfig, grown only when a pool is exhausted.
//
// Errors: client mistakes are never exceptions or asserts; they are
// OrderRejected events with a stable RejectReason. The rules are in
// docs/engine.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bourse/engine/command.h"
#include "bourse/engine/event.h"

namespace bourse {

struct EngineConfig {
  uint32_t max_accounts = 1u << 16;       // account ids 1..max_accounts-1; 0 is the fee account
  uint32_t max_assets = 16;               // asset ids 1..max_assets-1
  uint32_t max_instruments = 256;         // instrument ids 1..max_instruments-1
  uint32_t order_capacity = 1u << 20;     // live orders (resting + pending stops); more are refused
  uint32_t default_max_open_orders = 1000;  // per account, when ConfigureAccount says 0
  uint32_t preallocated_orders = 1u << 16;  // pools and indexes sized for this many at start;
                                            // past it they grow by doubling (an allocation)
};

// The venue's fee account: receives every fee. It cannot trade.
constexpr AccountId kFeeAccount{0};

struct Balance {
  Amount available;
  Amount locked;
};

// A read-only view of a live order.
struct OrderView {
  OrderId id;
  AccountId account;
  InstrumentId instrument;
  Side side;
  OrderType type;
  TimeInForce tif;
  StpMode stp;
  bool post_only;
  bool pending_trigger;  // untriggered stop order, not on the book
  Price price;           // 0 for a (triggered or not) STOP_MARKET
  Price stop_price;
  Qty qty;               // total quantity
  Qty filled;
  Amount hold;           // still locked for this order
  Price hold_price;      // what buy holds and MARGIN reserves are computed at
  AssetId hold_asset;
  Timestamp expire_at;
  ClientOrderId client_order_id;
  Product product = Product::kCash;  // MARGIN orders hold nothing: `hold` is their reserve notional
  Qty leaves() const { return qty - filled; }
};

struct LevelView {
  Price price;
  Qty qty;
  uint32_t order_count;
};

struct InstrumentView {
  InstrumentSpec spec;            // spec.status is the current status
  Price last_price;               // 0 before the first trade
  Price band_low;                 // current band limits (inclusive)
  Price band_high;
  Amount notional_divisor;        // 10^(price_scale + base_scale - quote_scale)
  SetMarginParams margin;         // instrument 0 until SetMarginParams: marked at the last price, no margin
  SetCircuitLimits circuits;      // instrument 0 until SetCircuitLimits: none
  Timestamp resume_at;            // > 0: halted by the circuit breaker until then
};

struct AccountView {
  AccountId id;
  bool enabled;
  StpMode default_stp;
  uint32_t max_open_orders;
  uint32_t open_orders;
  uint8_t margin_tier;
  uint64_t margin_calls;  // bit per collateral asset id in a margin call
  Timestamp cancel_at;    // dead-man's switch deadline (0: not armed)
};

// A MARGIN position with the account's open MARGIN orders on the instrument.
struct PositionView {
  AccountId account;
  InstrumentId instrument;
  int64_t qty;          // signed
  Int128 cost;          // signed entry value of the open quantity
  Int128 realized;
  Int128 fees;
  Int128 buy_reserve;   // Σ reserve notional of open MARGIN buys
  Int128 sell_reserve;
};

// Cross margin of one account in one collateral asset (the quote asset of
// its MARGIN instruments): equity = available + Σ unrealized PnL at marks.
struct MarginView {
  Int128 equity = 0;
  Int128 initial = 0;       // used margin: positions and the worst case of open orders
  Int128 maintenance = 0;   // positions only
  Int128 free() const { return equity - initial; }
};

class Engine {
 public:
  explicit Engine(const EngineConfig& config = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Applies one sequenced command and returns its events. The span is valid
  // until the next call to apply() or restore().
  // REQUIRES: command.header.seq == last_seq() + 1 (the sequencer's job).
  std::span<const Event> apply(const Command& command);

  Seq last_seq() const;
  // Timestamp of the last applied command (part of the state: GTD expiry
  // depends on it, and the sequencer never stamps below it after recovery).
  Timestamp last_timestamp() const;
  const EngineConfig& config() const;

  // --- queries (engine thread only) ---------------------------------------
  const AssetSpec* asset(AssetId id) const;
  const InstrumentView* instrument(InstrumentId id) const;
  const AccountView* account(AccountId id) const;
  Balance balance(AccountId account, AssetId asset) const;
  bool find_order(OrderId id, OrderView* out) const;
  // Live orders of every instrument, ascending order id.
  void for_each_order(const std::function<void(const OrderView&)>& fn) const;
  // Best levels first; at most max_levels.
  std::vector<LevelView> depth(InstrumentId instrument, Side side, std::size_t max_levels) const;
  void for_each_asset(const std::function<void(const AssetSpec&)>& fn) const;
  void for_each_instrument(const std::function<void(const InstrumentView&)>& fn) const;
  void for_each_account(const std::function<void(const AccountView&)>& fn) const;
  std::size_t live_order_count() const;
  // The price positions in `instrument` are valued at now (its mark source).
  Price mark_price(InstrumentId instrument) const;
  // Every MARGIN position line (ascending account, then instrument).
  void for_each_position(const std::function<void(const PositionView&)>& fn) const;
  MarginView margin(AccountId account, AssetId collateral) const;
  // The margin pool's balance of an asset: the other side of every MARGIN
  // fill's spot leg. Σ balances + pool = supply.
  Amount margin_pool(AssetId asset) const;
  // Timestamp of the last SquareOff command (0: never): lets a scheduler
  // that restarts know whether today's square-off already ran.
  Timestamp last_square_off() const;
  // The account's limits (SetAccountLimits per instrument, SetLossLimit per
  // asset), ascending; reached_days[i]: the UTC day (ns / 86,400 s) on
  // which loss limit i was reached, -1 if it has not been.
  void account_limits(AccountId account, std::vector<SetAccountLimits>* limits, std::vector<SetLossLimit>* loss_limits,
                      std::vector<int64_t>* reached_days) const;

  // --- snapshots ----------------------------------------------------------
  // Canonical serialization of the whole state (assets, instruments, accounts,
  // balances, orders in priority order, counters). Equal states give equal
  // bytes, so state_hash() is a hash of these bytes.
  void serialize(std::vector<unsigned char>* out) const;
  // Replaces the state with a serialized one. Returns false (state reset to
  // empty) on any malformed input.
  bool restore(std::span<const unsigned char> data);
  uint64_t state_hash() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bourse

// AccountReadModel: each account's private state as clients read it — balances,
// the cost basis of holdings, MARGIN positions, orders (live and recently
// closed) and fills — rebuilt from durable engine events.
//
// Ownership: the EngineService dispatcher thread writes (on_durable_batch);
// request threads read copies under a shared lock. Because listeners run
// before the completions of the same batch, a client that receives the
// answer to its order sees that order here.
//
// Memory: all live orders, plus the newest kClosedPerAccount closed orders
// and kFillsPerAccount fills of each account. Older history belongs to the
// store's projection (order and fill history in SQLite).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "accounts/cost_basis.h"
#include "bourse/engine/engine.h"
#include "bourse/sequencer/engine_service.h"

namespace bourse::accounts {

enum class OrderStatus : uint8_t {
  kNew = 1,              // resting (or accepted and not yet traded)
  kPartiallyFilled = 2,
  kFilled = 3,
  kCancelled = 4,
  kExpired = 5,
  kPendingTrigger = 6,   // stop order waiting for its trigger
};
const char* order_status_name(OrderStatus s);
bool is_terminal(OrderStatus s);

struct OrderRecord {
  OrderId id{0};
  AccountId account{0};
  InstrumentId instrument{0};
  Side side = Side::kBuy;
  OrderType type = OrderType::kLimit;
  TimeInForce tif = TimeInForce::kGtc;
  bool post_only = false;
  Price price{0};
  Price stop_price{0};
  Qty qty{0};
  Qty filled{0};
  Amount notional_filled{0};  // Σ trade notionals, quote minor units (average price = this / filled)
  Amount fees{0};
  Timestamp expire_at = 0;
  Price hold_price{0};        // MARGIN: its reserve is N(hold_price, leaves)
  ClientOrderId client_order_id;
  OrderStatus status = OrderStatus::kNew;
  Product product = Product::kCash;
  uint8_t end_reason = 0;     // CancelReason or ExpireReason code when terminal
  Timestamp created = 0;
  Timestamp updated = 0;
};

struct FillRecord {
  TradeId trade_id{0};
  OrderId order_id{0};
  InstrumentId instrument{0};
  Side side = Side::kBuy;
  Price price{0};
  Qty qty{0};
  Amount notional{0};
  Amount fee{0};
  bool maker = false;
  Timestamp time = 0;
  uint64_t seq_no = 0;  // per-account, ascending: the pagination key
};

struct BalanceRecord {
  AssetId asset{0};
  Amount available{0};
  Amount locked{0};
};

struct AccountSummary {
  bool exists = false;
  bool enabled = true;
  uint32_t max_open_orders = 0;
  uint32_t open_orders = 0;
  StpMode default_stp = StpMode::kCancelNewest;
  uint8_t margin_tier = 0;
  Timestamp cancel_at = 0;  // dead-man's switch deadline (0: not armed)
  std::vector<SetAccountLimits> limits;   // per instrument, ascending
  std::vector<SetLossLimit> loss_limits;  // per asset, ascending
  std::vector<int64_t> loss_reached_day;  // parallel: UTC day it was reached (reduce-only that day), -1: not
};

// A MARGIN position as the engine reported it (PositionChanged).
struct PositionRecord {
  InstrumentId instrument{0};
  int64_t qty = 0;      // signed
  Int128 cost = 0;      // signed entry value of the open quantity
  Int128 realized = 0;
  Int128 fees = 0;
  Timestamp updated = 0;
};

// What an account holds, read together (one lock): the portfolio's inputs.
struct AccountHoldings {
  std::vector<BalanceRecord> balances;   // ascending asset
  std::vector<PositionRecord> positions; // ascending instrument
  std::vector<HoldingCost> costs;        // ascending asset
};

// Order fields that are not engine state (a restart loses them from the
// engine's view); the history store keeps them.
struct OrderDetails {
  OrderId id{0};
  AccountId account{0};
  Timestamp created = 0;
  Amount notional_filled{0};
  Amount fees{0};
};

struct OrderFilter {
  std::optional<InstrumentId> instrument;
  std::optional<bool> open;          // true: live orders only; false: closed only
  Timestamp created_from = 0;        // inclusive
  Timestamp created_to = INT64_MAX;  // exclusive
  OrderId before{UINT64_MAX};        // cursor: ids below this
  std::size_t limit = 100;
};

class AccountReadModel final : public EventListener {
 public:
  static constexpr std::size_t kClosedPerAccount = 1000;
  static constexpr std::size_t kFillsPerAccount = 1000;

  void load(const Engine& engine);  // before the service starts
  // After load(): fills in what the engine does not keep for live orders.
  void restore_details(const std::vector<OrderDetails>& details);
  void on_durable_batch(std::span<const Event> events) override;

  AccountSummary summary(AccountId account) const;
  std::vector<BalanceRecord> balances(AccountId account) const;
  // Ascending instrument id; flat positions included (they carry realized PnL).
  std::vector<PositionRecord> positions(AccountId account) const;
  // What the account paid for what it holds outright, and today's net
  // transfers (CostBasis), ascending asset.
  std::vector<HoldingCost> holding_costs(AccountId account) const;
  std::vector<HoldingCost> all_holding_costs() const;
  AccountHoldings holdings(AccountId account) const;
  // After load(): the cost basis the store kept (not engine state).
  void restore_holding_costs(const std::vector<HoldingCost>& rows);
  // For the projector's mirror: remember which holdings change, and hand
  // them over (final state; empty() means delete).
  void track_holding_changes();
  std::vector<HoldingCost> drain_holding_changes();
  // Every account the model knows, ascending.
  std::vector<AccountId> account_ids() const;
  // Collateral asset ids in a margin call (MarginStatusChanged).
  std::vector<uint32_t> margin_calls(AccountId account) const;
  // Only the account's own orders: another account's id is "not found".
  std::optional<OrderRecord> order(AccountId account, OrderId id) const;
  std::optional<OrderRecord> order_by_client_id(AccountId account, const ClientOrderId& id) const;
  // Newest first (descending id).
  std::vector<OrderRecord> orders(AccountId account, const OrderFilter& filter) const;
  // Newest first; fills with seq_no < before.
  std::vector<FillRecord> fills(AccountId account, std::optional<InstrumentId> instrument, uint64_t before,
                                std::size_t limit) const;

 private:
  struct Account {
    AccountSummary summary;
    std::map<uint32_t, BalanceRecord> balances;   // by asset
    std::map<uint32_t, PositionRecord> positions; // by instrument
    std::set<uint32_t> margin_calls;              // collateral assets in a margin call
    std::map<uint64_t, OrderRecord> live;         // by order id
    std::map<uint64_t, OrderRecord> closed;       // by order id
    std::deque<uint64_t> closing_order;           // ids in the order they closed (eviction)
    std::deque<FillRecord> fills;                 // newest at the back
    uint64_t next_fill_seq = 1;
  };
  void apply(const Event& e);
  void on_trade_leg(const Event& e, const TradeLeg& leg, Side side, bool maker);
  void close_order(Account& a, uint64_t id, OrderStatus status, uint8_t reason, Timestamp t);

  mutable std::shared_mutex mutex_;
  std::unordered_map<uint32_t, Account> accounts_;
  CostBasis cost_basis_;
};

}  // namespace bourse::accounts

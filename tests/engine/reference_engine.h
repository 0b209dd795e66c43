// A deliberately naive reference implementation of the engine rules in
// docs/engine.md, written from that page alone. It is slow on purpose: live
// orders sit in one vector and every question ("best ask?", "oldest order at
// that price?") is answered by a linear scan, and the BalanceChanged /
// BookLevelChanged events come from diffing full before/after snapshots. The
// differential test holds the real engine to it event for event.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "bourse/engine/command.h"
#include "bourse/engine/engine.h"
#include "bourse/engine/event.h"

namespace bourse::testing {

class ReferenceEngine {
 public:
  explicit ReferenceEngine(const EngineConfig& config);

  // Applies one command and returns all of its events.
  std::vector<Event> apply(const Command& command);

  Balance balance(AccountId account, AssetId asset) const;
  // All levels of one side, best first.
  std::vector<LevelView> depth(InstrumentId instrument, Side side) const;
  // Live orders (resting and pending stops), ascending id.
  std::vector<OrderView> orders() const;

  // Extra views for the differential driver, in the public API's structs.
  std::vector<AssetSpec> assets() const;            // ascending id
  std::vector<InstrumentView> instruments() const;  // ascending id
  std::vector<AccountView> accounts() const;        // configured accounts, ascending id (no fee account)

 private:
  struct Order {
    OrderView view;
    Price hold_price;      // P in H(P, leaves) for buys
    uint64_t arrival = 0;  // time priority within a price level
  };
  struct Instrument {
    InstrumentSpec spec;  // spec.status is the current status
    Price last_price;     // 0 before the first trade
    int64_t divisor = 1;  // D = 10^(price_scale + base_scale - quote_scale)
  };
  struct Account {
    bool enabled = true;
    StpMode default_stp = StpMode::kCancelNewest;
    uint32_t max_open_orders = 0;  // resolved (never 0)
  };
  using LevelKey = std::tuple<uint32_t, uint8_t, int64_t>;  // instrument, side, price
  using LevelMap = std::map<LevelKey, std::pair<int64_t, uint32_t>>;

  // --- arithmetic -----------------------------------------------------------
  static std::optional<int64_t> notional(const Instrument& inst, int64_t price, int64_t qty);
  static int64_t fee(int64_t notional, int32_t ppm);
  static std::optional<int64_t> buy_hold(const Instrument& inst, int64_t price, int64_t leaves);
  static int64_t reference_price(const Instrument& inst);
  static int64_t band_low(const Instrument& inst);
  static int64_t band_high(const Instrument& inst);
  static std::optional<int64_t> stop_market_hold_price(const Instrument& inst, int64_t stop_price);

  // --- state helpers --------------------------------------------------------
  Order* find_order(uint64_t id);
  // Open quantity resting at (instrument, side, price), without order exclude_id.
  __extension__ __int128 resting_qty(uint32_t instrument, Side side, int64_t price, uint64_t exclude_id) const;
  Balance& bal(uint32_t account, uint32_t asset);
  uint32_t live_orders_of(uint32_t account) const;
  std::optional<int64_t> best_price(uint32_t instrument, Side side) const;
  LevelMap levels() const;
  void remove_order(uint64_t id);

  // --- event helpers --------------------------------------------------------
  Event make_event(EventType type) const;
  void reject(RejectReason reason, const ClientOrderId& client_order_id, OrderId order_id, AccountId account,
              InstrumentId instrument);
  void cancel_order(uint64_t id, CancelReason reason);
  void expire_order(uint64_t id, ExpireReason reason);

  // --- commands -------------------------------------------------------------
  void expire_gtd();
  void dispatch(const Command& command);
  void place(const PlaceOrder& p);
  void cancel(const CancelOrder& c);
  void amend(const AmendOrder& a);
  void cancel_all(const CancelAll& c);
  void transfer(const Transfer& t, bool deposit);
  void add_asset(const AssetSpec& a);
  void add_instrument(const InstrumentSpec& s);
  void set_instrument_status(const SetInstrumentStatus& s);
  void configure_account(const ConfigureAccount& c);
  void set_account_enabled(const SetAccountEnabled& s);
  void expire_day_orders(const ExpireDayOrders& e);
  void external_trade(const ExternalTrade& t);

  // --- matching -------------------------------------------------------------
  // Matches order `id` as an aggressor with limit price `limit`; `market`
  // makes the remainder cancel instead of rest (MARKET, triggered STOP_MARKET).
  void aggress(uint64_t id, int64_t limit, bool market);
  void execute_trade(uint64_t aggressor_id, uint64_t passive_id, int64_t qty);
  void process_triggers();

  EngineConfig config_;
  std::map<uint32_t, AssetSpec> assets_;
  std::map<uint32_t, Instrument> instruments_;
  std::map<uint32_t, Account> accounts_;
  std::map<std::pair<uint32_t, uint32_t>, Balance> balances_;
  std::map<uint32_t, int64_t> supply_;
  std::vector<Order> orders_;  // live orders, ascending id
  uint64_t next_order_id_ = 1;
  uint64_t next_trade_id_ = 1;
  uint64_t next_arrival_ = 1;

  // Per-command context.
  CommandHeader cause_{};
  std::vector<Event>* out_ = nullptr;
  std::set<uint32_t> traded_;  // instruments that traded during this command
};

}  // namespace bourse::testing

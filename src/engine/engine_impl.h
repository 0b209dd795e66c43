// Private state of the Engine (pimpl), shared by engine.cpp (commands and
// matching) and snapshot.cpp (serialization). Engine thread only.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "bourse/engine/engine.h"
#include "ledger.h"
#include "open_hash_map.h"
#include "order_book.h"

namespace bourse::detail {

struct InstrumentState {
  InstrumentSpec spec;
  Price last_price;          // 0 before the first trade
  int64_t divisor = 1;       // D in docs/engine.md
  int32_t hold_fee_ppm = 0;  // max(maker, taker)
  Book book;
  // The band for `band_ref`, recomputed only when the reference price moves
  // (two 128-bit divisions saved on every order).
  mutable Price band_ref;
  mutable Price band_low;
  mutable Price band_high;
};

struct AccountState {
  bool exists = false;
  bool enabled = true;
  StpMode default_stp = StpMode::kCancelNewest;
  uint32_t max_open_orders = 0;
  uint32_t open_orders = 0;
  uint32_t head = kNil, tail = kNil;  // live orders, ascending id
};

struct IdHash {
  std::size_t operator()(uint64_t id) const { return static_cast<std::size_t>(mix64(id)); }
};

struct ClientKey {
  AccountId account;
  ClientOrderId id;
  bool operator==(const ClientKey&) const = default;
};
struct ClientKeyHash {
  std::size_t operator()(const ClientKey& k) const {
    uint64_t h = mix64(k.account.value);
    for (std::size_t i = 0; i < ClientOrderId::capacity(); i += 8) {
      uint64_t w;
      std::memcpy(&w, k.id.bytes.data() + i, 8);
      h = mix64(h ^ w);
    }
    return static_cast<std::size_t>(h);
  }
};

struct GtdEntry {
  Timestamp expire_at;
  uint64_t order_id;
};

// A price level changed by the current command: its value before the
// command, and where it is now (kNil once it has been removed).
struct LevelTouch {
  InstrumentId instrument;
  Side side;
  Price price;
  Qty before_qty;
  uint32_t before_count;
  uint32_t level;
};

}  // namespace bourse::detail

namespace bourse {

class Engine::Impl {
 public:
  explicit Impl(const EngineConfig& config);

  std::span<const Event> apply(const Command& c);

  // Queries.
  const EngineConfig& config() const { return cfg_; }
  Seq last_seq() const { return last_seq_; }
  Timestamp last_timestamp() const { return last_timestamp_; }
  const AssetSpec* asset(AssetId id) const;
  const InstrumentView* instrument(InstrumentId id) const;
  const AccountView* account(AccountId id) const;
  Balance balance(AccountId a, AssetId s) const;
  bool find_order(OrderId id, OrderView* out) const;
  void for_each_order(const std::function<void(const OrderView&)>& fn) const;
  std::vector<LevelView> depth(InstrumentId id, Side side, std::size_t max_levels) const;
  void for_each_asset(const std::function<void(const AssetSpec&)>& fn) const;
  void for_each_instrument(const std::function<void(const InstrumentView&)>& fn) const;
  void for_each_account(const std::function<void(const AccountView&)>& fn) const;
  std::size_t live_order_count() const { return order_index_.size(); }

  void serialize(std::vector<unsigned char>* out) const;
  bool restore(std::span<const unsigned char> data);

 private:
  using Order = detail::Order;
  using InstrumentState = detail::InstrumentState;
  using AccountState = detail::AccountState;

  void reset();

  // Commands.
  void place_order(const PlaceOrder& p);
  void cancel_order(const CancelOrder& c);
  void amend_order(const AmendOrder& a);
  void cancel_all(const CancelAll& c);
  void transfer(const Transfer& t, bool deposit);
  void add_asset(const AssetSpec& a);
  void add_instrument(const InstrumentSpec& s);
  // The instrument's state if `s` follows every rule of docs/engine.md
  // (base and quote must exist), else nullptr. Also used by restore().
  std::unique_ptr<InstrumentState> make_instrument(const InstrumentSpec& s) const;
  void set_instrument_status(const SetInstrumentStatus& s);
  void configure_account(const ConfigureAccount& c);
  void set_account_enabled(const SetAccountEnabled& s);
  void expire_day_orders(const ExpireDayOrders& e);
  void external_trade(const ExternalTrade& t);

  // Order lifecycle.
  void execute(uint32_t oi, Price limit);
  bool fok_fillable(const Order& o, Price limit) const;
  bool match(uint32_t oi, Price limit);
  void trade(uint32_t ai, uint32_t pi, uint32_t li);
  void rest(uint32_t oi);
  // Would `add` more open quantity at (side, price) still fit in int64?
  // `own` is quantity of the order itself already counted there.
  bool level_fits(InstrumentState& in, Side side, Price price, Qty add, Qty own) const;
  void unlink_from_level(uint32_t oi);
  void remove_live(uint32_t oi);  // off the book or the stop queue
  void finish(uint32_t oi);       // release hold, drop indexes, free slot
  void cancel(uint32_t oi, CancelReason reason);
  void expire(uint32_t oi, ExpireReason reason);
  void run_triggers();
  void expire_gtd(Timestamp now);
  void push_gtd(const Order& o);
  void compact_gtd_heap();
  void collect_instrument_orders(InstrumentId id, bool day_only);

  uint32_t alloc_order();
  uint32_t alloc_level();
  void free_level(uint32_t li);

  // Money.
  bool notional(const InstrumentState& in, Price p, Qty q, int64_t* out) const;
  bool buy_hold(const InstrumentState& in, Price hold_price, Qty q, int64_t* out) const;
  static int64_t fee(int64_t notional, int32_t ppm);
  Price reference_price(const InstrumentState& in) const {
    return in.last_price ? in.last_price : in.spec.reference_price;
  }
  void refresh_band(const InstrumentState& in) const;
  Price band_low(const InstrumentState& in) const {
    if (reference_price(in) != in.band_ref) refresh_band(in);
    return in.band_low;
  }
  Price band_high(const InstrumentState& in) const {
    if (reference_price(in) != in.band_ref) refresh_band(in);
    return in.band_high;
  }
  bool stop_market_hold_price(const InstrumentState& in, Price stop, Price* out) const;

  // Events.
  Event& emit(EventType type);
  void reject(RejectReason r, const ClientOrderId& cid, OrderId oid, AccountId acct, InstrumentId inst);
  void touch_level(InstrumentId inst, Side side, uint32_t li);
  void touch_new_level(InstrumentId inst, Side side, Price price, uint32_t li);
  void emit_balance_changes();
  void emit_level_changes();

  InstrumentState* instrument_state(InstrumentId id) {
    return id.value < instruments_.size() ? instruments_[id.value].get() : nullptr;
  }
  const InstrumentState* instrument_state(InstrumentId id) const {
    return id.value < instruments_.size() ? instruments_[id.value].get() : nullptr;
  }
  OrderView view_of(uint32_t oi) const;

  EngineConfig cfg_;
  Seq last_seq_ = 0;
  Timestamp last_timestamp_ = 0;
  uint64_t next_order_id_ = 1;
  uint64_t live_gtd_orders_ = 0;  // GTD orders alive (the heap may also hold dead entries)
  uint64_t next_trade_id_ = 1;
  std::vector<AssetSpec> assets_;  // index = id; code empty = absent
  std::vector<std::unique_ptr<InstrumentState>> instruments_;
  std::vector<AccountState> accounts_;
  detail::Ledger ledger_;
  std::vector<Order> orders_;
  std::vector<ClientOrderId> client_ids_;  // parallel to orders_: cold, kept off the hot cache lines
  uint32_t orders_used_ = 0;  // slots ever handed out (the rest of orders_ is preallocated)
  uint32_t free_order_ = detail::kNil;
  std::vector<detail::PriceLevel> levels_;
  uint32_t levels_used_ = 0;
  uint32_t free_level_ = detail::kNil;
  detail::OpenHashMap<uint64_t, uint32_t, detail::IdHash> order_index_;
  detail::OpenHashMap<detail::ClientKey, uint32_t, detail::ClientKeyHash> client_index_;
  std::vector<detail::GtdEntry> gtd_heap_;

  // Per-command scratch.
  std::vector<Event> events_;
  const Event blank_event_;  // all zero: copied (vector moves), cheaper than zeroing in place
  const CommandHeader* cause_ = nullptr;
  CommandType cause_type_ = CommandType::kHeartbeat;
  uint64_t epoch_ = 1;
  std::vector<detail::LevelTouch> level_touches_;
  std::vector<uint32_t> removed_touches_;  // indexes of touches whose level was removed
  InstrumentId traded_instrument_;
  std::vector<uint32_t> scratch_;

  // Query caches (views handed out by pointer).
  mutable InstrumentView instrument_view_;
  mutable AccountView account_view_;
};

}  // namespace bourse

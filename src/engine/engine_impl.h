// Private state of the Engine (pimpl), shared by engine.cpp (commands and
// matching) and snapshot.cpp (serialization). Engine thread only.
#pragma once

#include <memory>
#include <set>
#include <utility>
#include <span>
#include <vector>

#include "bourse/engine/engine.h"
#include "bourse/engine/position.h"
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
  SetMarginParams margin{};  // instrument 0: never set (marked at the last price, no margin trading)
  // Traded, book changed or terms changed since the last margin sweep: the
  // sweep re-checks only accounts with a line in a dirty instrument (or one
  // whose mark reference is dirty). Part of the state (snapshots keep it).
  bool mark_dirty = false;
  // The band for `band_ref`, recomputed only when the reference price moves
  // (two 128-bit divisions saved on every order).
  mutable Price band_ref;
  mutable Price band_low;
  mutable Price band_high;
  // Circuits (circuits.cpp). The band above is also clipped to them.
  SetCircuitLimits circuits{};         // instrument 0: never set
  std::vector<int64_t> breaker_prices; // window_s + 1 slots: the last price at the end of each second
  int64_t breaker_second = 0;          // the newest second written
  Timestamp resume_at = 0;             // > 0: halted by the breaker until then
  bool breaker_reopen = false;         // resumed: the next trade re-anchors the window
};

// An account's MARGIN state in one instrument: the position and the
// reserves of its open MARGIN orders. Lines are never removed (a flat
// position keeps its realized PnL).
struct MarginLine {
  InstrumentId instrument;
  position::Position pos;
  Int128 fees = 0;
  Int128 buy_reserve = 0, sell_reserve = 0;  // Σ o.hold of open MARGIN orders per side
  Int128 buy_open = 0, sell_open = 0;        // Σ leaves of those orders (bounds the position)
  // The line's state when the current command first touched it.
  uint64_t epoch = 0;
  position::Position before;
  Int128 before_fees = 0;
};

// Max daily loss in one collateral asset and today's MARGIN result there.
struct LossTracker {
  AssetId asset;
  Amount max_daily_loss;
  int64_t day = 0;         // UTC day of `today` (timestamp / 86,400 s)
  Int128 today = 0;        // realized PnL minus fees of MARGIN fills that day
  bool reached = false;    // reduce-only for the rest of `day`
};

struct AccountState {
  bool exists = false;
  bool enabled = true;
  StpMode default_stp = StpMode::kCancelNewest;
  uint8_t margin_tier = 0;
  uint64_t margin_calls = 0;          // bit per collateral asset id (< 64) in a margin call
  Timestamp cancel_at = 0;            // dead-man's switch deadline; 0: not armed
  bool margin_recheck = false;        // tier or collateral changed: the next sweep checks every asset
  uint32_t max_open_orders = 0;
  uint32_t open_orders = 0;
  uint32_t head = kNil, tail = kNil;  // live orders, ascending id
  std::vector<MarginLine> lines;      // in order of first use
  std::vector<SetAccountLimits> limits;  // per instrument, ascending; only instruments with a limit
  std::vector<LossTracker> loss;         // per collateral asset with a limit, ascending
};

struct LineTouch {
  uint32_t account;
  uint32_t line;  // index in the account's lines
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
  Price mark_price(InstrumentId id) const;
  void for_each_position(const std::function<void(const PositionView&)>& fn) const;
  MarginView margin(AccountId account, AssetId collateral) const;
  Amount margin_pool(AssetId asset) const { return ledger_.pool(asset); }
  Timestamp last_square_off() const { return last_square_off_; }
  void account_limits(AccountId account, std::vector<SetAccountLimits>* limits, std::vector<SetLossLimit>* loss_limits,
                      std::vector<int64_t>* reached_days) const;

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
  void set_margin_params(const SetMarginParams& m);
  // kNone if `m` may be `in`'s terms (also used by restore()).
  RejectReason margin_params_problem(const InstrumentState& in, const SetMarginParams& m) const;
  void square_off(const SquareOff& s);
  void cancel_after(const CancelAfter& c);
  void set_account_limits(const SetAccountLimits& l);
  void set_loss_limit(const SetLossLimit& l);
  // Sessions (auction.cpp): uncrosses a book collected in pre-open at one
  // price, once it trades again.
  void opening_auction(InstrumentState& in);
  bool uncross_once(InstrumentState& in, bool* traded);  // false: the book was not crossed
  // Circuits (circuits.cpp).
  void set_circuit_limits(const SetCircuitLimits& c);
  // kNone if `c` may be `in`'s circuits (also used by restore()).
  RejectReason circuit_problem(const InstrumentState& in, const SetCircuitLimits& c) const;
  bool outside_circuit(const InstrumentState& in, Price p) const {
    return (in.circuits.lower.value && p < in.circuits.lower) || (in.circuits.upper.value && p > in.circuits.upper);
  }
  // False (and the breaker tripped: the instrument halts) when a trade at
  // `price` now would move past the breaker.
  bool breaker_allows(InstrumentState& in, Price price);
  // |price − anchor| × 10,000 <= anchor × bps.
  static bool breaker_band_contains(int64_t anchor, Price price, uint32_t bps) {
    const Int128 move = price.value > anchor ? price.value - anchor : anchor - price.value;
    return move * 10'000 <= static_cast<Int128>(anchor) * bps;
  }
  // Whether a fill at `price` now is within the breaker (no trip).
  bool within_breaker(const InstrumentState& in, Price price) const;
  // The instrument's pending stops are checked at the end of the command.
  void note_stop_check(InstrumentId id) {
    if (traded_instrument_ != id) {
      if (traded_instrument_) also_traded_.push_back(traded_instrument_.value);
      traded_instrument_ = id;
    }
  }
  void record_breaker_price(InstrumentState& in);
  void resume_breaker_halts(Timestamp now);
  // kNone, or why the account's limits refuse an order of `qty` (total)
  // with `new_leaves` open on `side` at notional `notional` (old_leaves: an
  // amend's leaves before it).
  RejectReason check_account_limits(const AccountState& a, const InstrumentState& in, Side side, Product product,
                                    Qty qty, Qty new_leaves, Qty old_leaves, int64_t notional) const;
  bool daily_loss_blocks(const AccountState& a, AssetId asset) const;
  void record_margin_result(AccountId account, AssetId asset, Int128 result);
  void loss_limit_reached(AccountId account, detail::LossTracker& t);
  // At the end of a command (never inside matching): the open MARGIN orders
  // of accounts that reached their max daily loss in it are cancelled.
  void cancel_for_loss_limits();
  void fire_dead_mans_switches(Timestamp now);

  // Margin (margin.cpp).
  Price mark_of(const InstrumentState& in) const;
  detail::MarginLine* find_line(AccountState& a, InstrumentId id);
  const detail::MarginLine* find_line(const AccountState& a, InstrumentId id) const;
  detail::MarginLine& line_for(AccountId account, InstrumentId id);  // creates it
  void touch_line(AccountId account, detail::AccountState& a, detail::MarginLine& line);
  // The account's margin in `collateral`, as if `extra` more reserve (and
  // `extra_open` more open quantity) sat on `side` of `instrument`.
  MarginView margin_with(const AccountState& a, AccountId account, AssetId collateral, InstrumentId instrument,
                         Side side, Int128 extra) const;
  // Whether taking `amount` of `asset` out of available (a CASH hold or a
  // withdrawal) leaves the account's free margin in it non-negative.
  bool margin_allows_debit(const AccountState& a, AccountId account, AssetId asset, int64_t amount) const;
  // The price a MARGIN order's reserve is computed at: the limit price;
  // for MARKET the band limit it is protected by; for STOP_MARKET buys the
  // same as a CASH hold, sells their stop price.
  bool margin_hold_price(const InstrumentState& in, Side side, OrderType type, Price price, Price stop,
                         Price* out) const;
  RejectReason check_margin_order(const AccountState& a, AccountId account, const InstrumentState& in, Side side,
                                  Qty qty, Int128 old_reserve, Qty old_leaves, int64_t new_reserve) const;
  void add_reserve(const Order& o, int64_t reserve_delta, int64_t open_delta);
  void settle_margin_leg(Order& o, const InstrumentState& in, Price px, Qty f, int64_t n, int64_t fee_amount);
  void emit_position_changes();
  // Margin calls and liquidation (margin.cpp).
  bool is_dirty(const InstrumentState& in) const;
  void sweep_margin();  // on Heartbeat
  void check_margin_call(uint32_t account, AssetId asset);
  // Cancels the account's open MARGIN orders and closes its positions,
  // largest loss first, in instruments quoted in `asset` (0: any) and equal
  // to `only` (0: any); a margin call stops once maintenance is met.
  void close_margin(AccountId account, AssetId asset, InstrumentId only, LiquidationReason reason);
  void close_position(AccountId account, InstrumentId instrument, LiquidationReason reason, Int128 unrealized);
  void emit_margin_status(uint32_t account, AssetId asset, const MarginView& v, bool in_call);

  // Order lifecycle.
  void execute(uint32_t oi, Price limit);
  bool fok_fillable(const Order& o, Price limit) const;
  bool match(uint32_t oi, Price limit);
  // A fill of aggressor `ai` against passive `pi` (resting at level `li`) at
  // `px`: the passive's price, or the opening auction's.
  void trade(uint32_t ai, uint32_t pi, uint32_t li, Price px);
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
  void run_triggers_in(InstrumentState& in);
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
  InstrumentId traded_instrument_;      // the last instrument that traded in this command
  std::vector<uint32_t> also_traded_;   // others that traded before it (liquidation, square-off)
  std::vector<uint32_t> scratch_;
  std::vector<detail::LineTouch> line_touches_;
  std::vector<uint32_t> margin_accounts_;  // ascending ids of accounts with margin lines
  bool liquidating_ = false;               // place_order on the engine's behalf (a closing order)
  std::set<std::pair<Timestamp, uint32_t>> breaker_resumes_;  // instruments halted by their breaker (resume_at, id)
  std::set<std::pair<Timestamp, uint32_t>> cancel_deadlines_;  // armed dead-man's switches (deadline, account)
  Timestamp last_square_off_ = 0;          // timestamp of the last SquareOff of every instrument
  std::vector<std::pair<uint32_t, uint32_t>> loss_blocks_;  // this command: (account, asset) that reached its limit

  // Query caches (views handed out by pointer).
  mutable InstrumentView instrument_view_;
  mutable AccountView account_view_;
};

}  // namespace bourse

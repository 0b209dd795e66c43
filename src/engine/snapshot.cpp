// Canonical serialization of the engine state. The layout is documented in
// docs/snapshot-format.md; equal states give equal bytes, so the state hash is
// a hash of these bytes.
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "bourse/core/checked.h"

#include "engine_impl.h"

namespace bourse {

using detail::kNil;
using detail::OrderState;

namespace {

constexpr char kMagic[8] = {'B', 'R', 'S', 'S', 'N', 'A', 'P', '1'};
// 3 added margin (asset pools, instrument margin terms, account tiers and
// margin state, order products, position lines), the dead-man's switch and
// account limits. Version 1 snapshots still restore; 2 was a development
// layout of the same change, never released, and is refused (recovery then
// replays the journal). 4 added circuits (static limits, the breaker's window
// and a running halt); 3 still restores.
constexpr uint32_t kVersion = 4;

class Writer {
 public:
  explicit Writer(std::vector<unsigned char>* out) : out_(out) {}
  template <class T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const unsigned char*>(&v);
    out_->insert(out_->end(), p, p + sizeof(T));
  }

 private:
  std::vector<unsigned char>* out_;
};

class Reader {
 public:
  explicit Reader(std::span<const unsigned char> data) : data_(data) {}
  template <class T>
  bool get(T* v) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (data_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(static_cast<void*>(v), data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool done() const { return pos_ == data_.size(); }

 private:
  std::span<const unsigned char> data_;
  std::size_t pos_ = 0;
};

// Fixed-layout order record (padding-free so the bytes are canonical).
struct OrderRecord {
  ClientOrderId client_order_id;
  uint64_t id;
  int64_t price, stop_price, hold_price, qty, filled, hold, expire_at;
  uint32_t account, instrument;
  uint8_t side, type, tif, stp, post_only, pending;
  uint8_t product;  // version 2; 0 (CASH) in version 1
  uint8_t reserved;
};
static_assert(std::has_unique_object_representations_v<OrderRecord> && sizeof(OrderRecord) == 112);

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t max_accounts, max_assets, max_instruments, order_capacity, default_max_open_orders;
  uint64_t last_seq, next_order_id, next_trade_id;
  int64_t last_timestamp;
};
static_assert(std::has_unique_object_representations_v<Header>);

struct LineRecord {
  uint32_t account, instrument;
  int64_t qty;
  Wide cost, realized, fees;
};
static_assert(std::has_unique_object_representations_v<LineRecord> && sizeof(LineRecord) == 64);

struct LossRecord {
  uint32_t asset;
  uint8_t reached;
  uint8_t reserved[3];
  int64_t max_daily_loss;
  int64_t day;
  Wide today;
};
static_assert(std::has_unique_object_representations_v<LossRecord> && sizeof(LossRecord) == 40);

}  // namespace

void Engine::Impl::serialize(std::vector<unsigned char>* out) const {
  out->clear();
  Writer w(out);
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.version = kVersion;
  h.max_accounts = cfg_.max_accounts;
  h.max_assets = cfg_.max_assets;
  h.max_instruments = cfg_.max_instruments;
  h.order_capacity = cfg_.order_capacity;
  h.default_max_open_orders = cfg_.default_max_open_orders;
  h.last_seq = last_seq_;
  h.next_order_id = next_order_id_;
  h.next_trade_id = next_trade_id_;
  h.last_timestamp = last_timestamp_;
  w.put(h);

  uint32_t n = 0;
  for (const AssetSpec& a : assets_) n += a.code.empty() ? 0 : 1;
  w.put(n);
  for (const AssetSpec& a : assets_) {
    if (a.code.empty()) continue;
    w.put(a);
    w.put(ledger_.supply(a.id).value);
    w.put(ledger_.pool(a.id).value);
  }

  n = 0;
  for (const auto& in : instruments_) n += in ? 1 : 0;
  w.put(n);
  for (const auto& in : instruments_) {
    if (!in) continue;
    w.put(in->spec);
    w.put(in->last_price.value);
    w.put(in->margin);
    w.put(static_cast<uint8_t>(in->mark_dirty ? 1 : 0));
    w.put(in->circuits);
    w.put(in->resume_at);
    w.put(in->breaker_second);
    w.put(static_cast<uint8_t>(in->breaker_reopen ? 1 : 0));
    w.put(static_cast<uint32_t>(in->breaker_prices.size()));
    for (const int64_t p : in->breaker_prices) w.put(p);
  }

  n = 0;
  for (const AccountState& a : accounts_) n += a.exists ? 1 : 0;
  w.put(n - 1);  // the fee account always exists
  for (uint32_t i = 1; i < accounts_.size(); ++i) {
    const AccountState& a = accounts_[i];
    if (!a.exists) continue;
    w.put(i);
    w.put(static_cast<uint8_t>(a.enabled ? 1 : 0));
    w.put(static_cast<uint8_t>(a.default_stp));
    w.put(a.max_open_orders);
    w.put(a.margin_tier);
    w.put(a.margin_calls);
    w.put(a.cancel_at);
    w.put(static_cast<uint8_t>(a.margin_recheck ? 1 : 0));
    w.put(static_cast<uint32_t>(a.limits.size()));
    for (const SetAccountLimits& l : a.limits) w.put(l);
    w.put(static_cast<uint32_t>(a.loss.size()));
    for (const detail::LossTracker& t : a.loss) {
      w.put(LossRecord{t.asset.value, static_cast<uint8_t>(t.reached ? 1 : 0), {}, t.max_daily_loss.value, t.day,
                       Wide::of(t.today)});
    }
  }

  // Balances: every nonzero (account, asset), ascending.
  std::vector<unsigned char> balances;
  Writer bw(&balances);
  n = 0;
  for (uint32_t acct = 0; acct < accounts_.size(); ++acct) {
    if (!accounts_[acct].exists) continue;
    for (uint32_t asset = 1; asset < cfg_.max_assets; ++asset) {
      const Balance b = ledger_.get(AccountId{acct}, AssetId{asset});
      if (!b.available && !b.locked) continue;
      bw.put(acct);
      bw.put(asset);
      bw.put(b.available.value);
      bw.put(b.locked.value);
      ++n;
    }
  }
  w.put(n);
  out->insert(out->end(), balances.begin(), balances.end());

  // Orders ascending id.
  std::vector<uint32_t> live;
  order_index_.for_each([&](uint64_t, uint32_t oi) { live.push_back(oi); });
  std::sort(live.begin(), live.end(), [this](uint32_t x, uint32_t y) { return orders_[x].id < orders_[y].id; });
  w.put(static_cast<uint32_t>(live.size()));
  for (const uint32_t oi : live) {
    const Order& o = orders_[oi];
    OrderRecord r{};
    r.client_order_id = client_ids_[oi];
    r.id = o.id.value;
    r.price = o.price.value;
    r.stop_price = o.stop_price.value;
    r.hold_price = o.hold_price.value;
    r.qty = o.qty.value;
    r.filled = o.filled.value;
    r.hold = o.hold.value;
    r.expire_at = o.expire_at;
    r.account = o.account.value;
    r.instrument = o.instrument.value;
    r.side = static_cast<uint8_t>(o.side);
    r.type = static_cast<uint8_t>(o.type);
    r.tif = static_cast<uint8_t>(o.tif);
    r.stp = static_cast<uint8_t>(o.stp);
    r.post_only = o.post_only;
    r.pending = o.state == OrderState::kPendingTrigger ? 1 : 0;
    r.product = static_cast<uint8_t>(o.product);
    w.put(r);
  }

  // Every margin line, ascending (account, instrument) — the empty ones
  // too: which lines exist decides which accounts a sweep looks at.
  // Reserves are derived from the orders above.
  std::vector<LineRecord> lines;
  for (uint32_t acct = 1; acct < accounts_.size(); ++acct) {
    const std::size_t first = lines.size();
    for (const detail::MarginLine& l : accounts_[acct].lines) {
      lines.push_back({acct, l.instrument.value, l.pos.qty, Wide::of(l.pos.cost), Wide::of(l.pos.realized),
                       Wide::of(l.fees)});
    }
    std::sort(lines.begin() + static_cast<std::ptrdiff_t>(first), lines.end(),
              [](const LineRecord& x, const LineRecord& y) { return x.instrument < y.instrument; });
  }
  w.put(static_cast<uint32_t>(lines.size()));
  for (const LineRecord& l : lines) w.put(l);
  w.put(last_square_off_);

  // Book priority: per instrument, bids then asks, best level first, FIFO.
  for (const auto& in : instruments_) {
    if (!in) continue;
    for (const Side side : {Side::kBuy, Side::kSell}) {
      const detail::PriceLadder& ladder = in->book.ladder(side);
      w.put(static_cast<uint32_t>(ladder.size()));
      for (std::size_t r = 0; r < ladder.size(); ++r) {
        const detail::PriceLevel& l = levels_[ladder.at_rank(r).level];
        w.put(l.count);
        for (uint32_t oi = l.head; oi != kNil; oi = orders_[oi].next) w.put(orders_[oi].id.value);
      }
    }
  }
}

bool Engine::Impl::restore(std::span<const unsigned char> data) {
  reset();
  Reader r(data);
  auto fail = [this] {
    reset();
    return false;
  };
  Header h;
  if (!r.get(&h) || std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0 || (h.version != 1 && h.version != 3 && h.version != kVersion)) {
    return fail();
  }
  const bool v3 = h.version >= 3;
  const bool v4 = h.version >= 4;
  // Every setting that changes how commands resolve must match, or replaying
  // the journal on top would not reproduce what clients were told.
  if (h.max_accounts != cfg_.max_accounts || h.max_assets != cfg_.max_assets ||
      h.max_instruments != cfg_.max_instruments || h.order_capacity != cfg_.order_capacity ||
      h.default_max_open_orders != cfg_.default_max_open_orders || h.next_order_id == 0 || h.next_trade_id == 0) {
    return fail();
  }
  last_seq_ = h.last_seq;
  last_timestamp_ = h.last_timestamp;
  next_order_id_ = h.next_order_id;
  next_trade_id_ = h.next_trade_id;

  uint32_t n;
  if (!r.get(&n)) return fail();
  for (uint32_t i = 0; i < n; ++i) {
    AssetSpec a;
    int64_t supply;
    int64_t pool = 0;
    if (!r.get(&a) || !r.get(&supply) || (v3 && !r.get(&pool)) || a.id.value == 0 || a.id.value >= cfg_.max_assets || a.code.empty() ||
        a.scale < 0 || a.scale > 18 || supply < 0 || !assets_[a.id.value].code.empty()) {
      return fail();
    }
    assets_[a.id.value] = a;
    ledger_.set_supply(a.id, Amount{supply});
    ledger_.set_pool(a.id, Amount{pool});
  }

  if (!r.get(&n)) return fail();
  for (uint32_t i = 0; i < n; ++i) {
    InstrumentSpec s;
    int64_t last;
    SetMarginParams margin{};
    uint8_t dirty = 0;
    if (!r.get(&s) || !r.get(&last) || (v3 && (!r.get(&margin) || !r.get(&dirty))) || s.id.value == 0 ||
        s.id.value >= cfg_.max_instruments || dirty > 1) {
      return fail();
    }
    if (asset(s.base) == nullptr || asset(s.quote) == nullptr || instrument_state(s.id) != nullptr) return fail();
    auto state = make_instrument(s);
    if (!state || last < 0) return fail();
    state->last_price = Price{last};
    state->margin = margin;
    state->mark_dirty = dirty != 0;
    if (v4) {
      uint8_t reopen = 0;
      uint32_t slots = 0;
      if (!r.get(&state->circuits) || !r.get(&state->resume_at) || !r.get(&state->breaker_second) ||
          !r.get(&reopen) || !r.get(&slots) || reopen > 1 || state->resume_at < 0) {
        return fail();
      }
      state->breaker_reopen = reopen != 0;
      // Never set is all zeros; set follows SetCircuitLimits' rules, with a
      // window of window_s + 1 positive prices when there is a breaker.
      if (!state->circuits.instrument) {
        const SetCircuitLimits none{};
        if (std::memcmp(&none, &state->circuits, sizeof(none)) != 0 || slots != 0) return fail();
      } else if (state->circuits.instrument != s.id || state->spec.external ||
                 circuit_problem(*state, state->circuits) != RejectReason::kNone ||
                 slots != (state->circuits.breaker_bps ? state->circuits.window_s + 1 : 0)) {
        return fail();
      }
      state->breaker_prices.resize(slots);
      for (int64_t& p : state->breaker_prices) {
        if (!r.get(&p) || p <= 0) return fail();
      }
      // A running halt is the breaker's: the instrument is halted until then.
      if (state->resume_at) {
        if (state->spec.status != InstrumentStatus::kHalted) return fail();
        breaker_resumes_.insert({state->resume_at, s.id.value});
      }
    }
    instruments_[s.id.value] = std::move(state);
  }
  // Margin terms, once every instrument (a reference may have a higher id)
  // is back: never set is all zeros; set must follow SetMarginParams' rules.
  for (const auto& in : instruments_) {
    if (!in) continue;
    if (!in->margin.instrument) {
      const SetMarginParams none{};
      if (std::memcmp(&none, &in->margin, sizeof(none)) != 0) return fail();
    } else if (in->margin.instrument != in->spec.id || margin_params_problem(*in, in->margin) != RejectReason::kNone) {
      return fail();
    }
  }

  if (!r.get(&n)) return fail();
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t id, max_open;
    uint8_t enabled, stp;
    uint8_t tier = 0;
    uint64_t calls = 0;
    Timestamp cancel_at = 0;
    uint8_t recheck = 0;
    if (!r.get(&id) || !r.get(&enabled) || !r.get(&stp) || !r.get(&max_open) ||
        (v3 && (!r.get(&tier) || !r.get(&calls) || !r.get(&cancel_at) || !r.get(&recheck))) || cancel_at < 0 ||
        recheck > 1) {
      return fail();
    }
    if (id == 0 || id >= cfg_.max_accounts || stp < 1 || stp > 3 || enabled > 1 || tier > kMarginTiers ||
        accounts_[id].exists) {
      return fail();
    }
    AccountState& a = accounts_[id];
    a.exists = true;
    a.enabled = enabled != 0;
    a.default_stp = static_cast<StpMode>(stp);
    a.max_open_orders = max_open;
    a.margin_tier = tier;
    a.margin_calls = calls;
    a.cancel_at = cancel_at;
    a.margin_recheck = recheck != 0;
    if (v3) {
      uint32_t count;
      if (!r.get(&count) || count > cfg_.max_instruments) return fail();
      for (uint32_t k = 0; k < count; ++k) {
        SetAccountLimits l;
        if (!r.get(&l) || l.account.value != id || instrument_state(l.instrument) == nullptr ||
            l.max_order_qty < Qty{} || l.max_order_notional < Amount{} || l.max_position < Qty{} ||
            (!l.max_order_qty && !l.max_order_notional && !l.max_position) ||
            (!a.limits.empty() && !(a.limits.back().instrument < l.instrument))) {
          return fail();
        }
        a.limits.push_back(l);
      }
      if (!r.get(&count) || count > cfg_.max_assets) return fail();
      for (uint32_t k = 0; k < count; ++k) {
        LossRecord t;
        if (!r.get(&t) || asset(AssetId{t.asset}) == nullptr || t.max_daily_loss <= 0 || t.reached > 1 ||
            t.reserved[0] || t.reserved[1] || t.reserved[2] ||
            (t.reached == 0 && -t.today.get() > t.max_daily_loss) ||  // reached stays set for the day
            (!a.loss.empty() && !(a.loss.back().asset < AssetId{t.asset}))) {
          return fail();
        }
        a.loss.push_back({AssetId{t.asset}, Amount{t.max_daily_loss}, t.day, t.today.get(), t.reached != 0});
      }
    }
    if (cancel_at) cancel_deadlines_.insert({cancel_at, id});
  }

  if (!r.get(&n)) return fail();
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t acct, asset_id;
    int64_t available, locked;
    if (!r.get(&acct) || !r.get(&asset_id) || !r.get(&available) || !r.get(&locked)) return fail();
    // available below zero is a MARGIN account's debt to the pool.
    if (acct >= cfg_.max_accounts || !accounts_[acct].exists || asset(AssetId{asset_id}) == nullptr ||
        (!v3 && available < 0) || locked < 0) {
      return fail();
    }
    ledger_.set_raw(AccountId{acct}, AssetId{asset_id}, {Amount{available}, Amount{locked}});
  }

  if (!r.get(&n) || n > cfg_.order_capacity) return fail();
  std::map<std::pair<uint32_t, uint32_t>, Int128> holds;  // (account, asset) -> sum of order holds
  for (uint32_t i = 0; i < n; ++i) {
    OrderRecord rec;
    if (!r.get(&rec)) return fail();
    InstrumentState* in = instrument_state(InstrumentId{rec.instrument});
    if (in == nullptr || rec.account == 0 || rec.account >= cfg_.max_accounts || !accounts_[rec.account].exists ||
        rec.side < 1 || rec.side > 2 || rec.id == 0 || rec.id >= next_order_id_ || order_index_.find(rec.id)) {
      return fail();
    }
    // The meaning, not only the shape: a CRC-valid snapshot with impossible
    // orders must be refused here, not abort a later command.
    const bool limit_type = rec.type == static_cast<uint8_t>(OrderType::kLimit) ||
                            rec.type == static_cast<uint8_t>(OrderType::kStopLimit);
    const bool stop_type = rec.type == static_cast<uint8_t>(OrderType::kStopLimit) ||
                           rec.type == static_cast<uint8_t>(OrderType::kStopMarket);
    if (rec.type < 1 || rec.type > 4 || rec.tif < 1 || rec.tif > 5 || rec.stp < 1 || rec.stp > 3 ||
        rec.post_only > 1 || rec.pending > 1 || rec.product > 1 || rec.reserved != 0 ||
        (rec.pending ? !stop_type : !limit_type) || rec.qty <= 0 ||
        rec.filled < 0 || rec.filled >= rec.qty || rec.hold < 0 || rec.price < 0 || rec.stop_price < 0) {
      return fail();
    }
    // Each hold must be exactly what the rules give, or a later fill could
    // find it short (docs/engine.md, "Ledger and holds").
    const bool stop_market = rec.type == static_cast<uint8_t>(OrderType::kStopMarket);
    if (limit_type ? rec.price <= 0 : rec.price != 0) return fail();
    if (stop_type ? rec.stop_price <= 0 : rec.stop_price != 0) return fail();
    const Qty leaves{rec.qty - rec.filled};
    const bool margin = rec.product == static_cast<uint8_t>(Product::kMargin);
    if (margin && !in->margin.instrument) return fail();  // MARGIN orders need terms
    if (margin) {
      // A MARGIN order's hold is its reserve at its hold price.
      int64_t expected_reserve, full;
      if (rec.hold_price <= 0 || rec.hold_price % in->spec.tick_size.value != 0 ||
          !notional(*in, Price{rec.hold_price}, Qty{rec.qty}, &full) ||
          (limit_type && !notional(*in, Price{rec.price}, Qty{rec.qty}, &full)) ||
          (limit_type && rec.side == static_cast<uint8_t>(Side::kBuy) && rec.hold_price != rec.price) ||
          !notional(*in, Price{rec.hold_price}, leaves, &expected_reserve) || rec.hold != expected_reserve) {
        return fail();
      }
    } else if (rec.side == static_cast<uint8_t>(Side::kBuy)) {
      Price expected_hold_price{rec.price};
      if (stop_market && !stop_market_hold_price(*in, Price{rec.stop_price}, &expected_hold_price)) return fail();
      int64_t expected_hold;
      if (rec.hold_price != expected_hold_price.value || !buy_hold(*in, expected_hold_price, leaves, &expected_hold) ||
          rec.hold != expected_hold) {
        return fail();
      }
    } else if (rec.hold_price != 0 || rec.hold != leaves.value) {
      return fail();
    }
    if (!margin) holds[{rec.account, rec.side == 1 ? in->spec.quote.value : in->spec.base.value}] += rec.hold;
    const uint32_t oi = alloc_order();
    if (oi == kNil) return fail();
    Order& o = orders_[oi];
    o = Order{};
    o.id = OrderId{rec.id};
    o.price = Price{rec.price};
    o.stop_price = Price{rec.stop_price};
    o.hold_price = Price{rec.hold_price};
    o.qty = Qty{rec.qty};
    o.filled = Qty{rec.filled};
    o.hold = Amount{rec.hold};
    o.expire_at = rec.expire_at;
    client_ids_[oi] = rec.client_order_id;
    o.has_client_id = rec.client_order_id.empty() ? 0 : 1;
    o.account = AccountId{rec.account};
    o.instrument = InstrumentId{rec.instrument};
    o.side = static_cast<Side>(rec.side);
    o.type = static_cast<OrderType>(rec.type);
    o.tif = static_cast<TimeInForce>(rec.tif);
    o.stp = static_cast<StpMode>(rec.stp);
    o.post_only = rec.post_only;
    o.product = static_cast<Product>(rec.product);
    o.state = OrderState::kActive;
    if (margin) add_reserve(o, o.hold.value, leaves.value);
    order_index_.insert(rec.id, oi);
    if (o.has_client_id) client_index_.insert({o.account, rec.client_order_id}, oi);
    AccountState& a = accounts_[rec.account];
    o.acct_prev = a.tail;
    if (a.tail != kNil) orders_[a.tail].acct_next = oi; else a.head = oi;
    a.tail = oi;
    ++a.open_orders;
    if (o.tif == TimeInForce::kGtd) {
      gtd_heap_.push_back({o.expire_at, o.id.value});
      ++live_gtd_orders_;
    }
    if (rec.pending) {
      o.state = OrderState::kPendingTrigger;
      in->book.stops(o.side).insert({o.stop_price, o.id, oi});
    }
  }
  if (v3) {
    if (!r.get(&n)) return fail();
    for (uint32_t i = 0; i < n; ++i) {
      LineRecord rec;
      if (!r.get(&rec) || rec.account == 0 || rec.account >= cfg_.max_accounts || !accounts_[rec.account].exists ||
          instrument_state(InstrumentId{rec.instrument}) == nullptr ||
          !instrument_state(InstrumentId{rec.instrument})->margin.instrument) {
        return fail();
      }
      AccountState& a = accounts_[rec.account];
      const detail::MarginLine* existing = find_line(a, InstrumentId{rec.instrument});
      if (existing != nullptr && (existing->pos.qty != 0 || existing->pos.cost != 0 || existing->pos.realized != 0 ||
                                  existing->fees != 0)) {
        return fail();  // the same line twice
      }
      detail::MarginLine& l = line_for(AccountId{rec.account}, InstrumentId{rec.instrument});
      l.pos = {rec.qty, rec.cost.get(), rec.realized.get()};
      l.fees = rec.fees.get();
      // A flat position has no entry value left (a full close releases it all).
      if ((rec.qty == 0) != (l.pos.cost == 0) || (rec.qty != 0 && (rec.qty > 0) != (l.pos.cost > 0))) return fail();
      if (rec.qty == INT64_MIN) return fail();
    }
    // What settlement guarantees: the pool holds Σ position qty of each base
    // asset and −Σ cost of each quote asset; every position with all its
    // open orders filled fits in int64; only margin accounts owe.
    std::vector<Int128> pool(cfg_.max_assets, 0);
    for (uint32_t acct = 1; acct < accounts_.size(); ++acct) {
      for (const detail::MarginLine& l : accounts_[acct].lines) {
        const InstrumentState& in = *instrument_state(l.instrument);
        pool[in.spec.base.value] += l.pos.qty;
        pool[in.spec.quote.value] -= l.pos.cost;
        if (position::abs128(l.pos.qty) + l.buy_open + l.sell_open > INT64_MAX) return fail();
      }
    }
    for (uint32_t a = 1; a < cfg_.max_assets; ++a) {
      if (pool[a] != ledger_.pool(AssetId{a}).value) return fail();
    }
    for (uint32_t acct = 1; acct < accounts_.size(); ++acct) {
      const AccountState& a = accounts_[acct];
      uint64_t collateral = 0;  // quote assets of the account's lines
      for (const detail::MarginLine& l : a.lines) collateral |= uint64_t{1} << instrument_state(l.instrument)->spec.quote.value;
      if ((a.margin_calls & ~collateral) != 0) return fail();  // a call in an asset it has nothing margined in
      if (!a.exists || a.margin_tier != 0 || !a.lines.empty()) continue;
      for (uint32_t asset = 1; asset < cfg_.max_assets; ++asset) {
        if (ledger_.get(AccountId{acct}, AssetId{asset}).available < Amount{}) return fail();
      }
    }
    if (!r.get(&last_square_off_) || last_square_off_ < 0) return fail();
  } else {
    for (const AccountState& a : accounts_) {
      if (a.margin_calls || a.margin_recheck) return fail();
    }
  }
  std::make_heap(gtd_heap_.begin(), gtd_heap_.end(), [](const detail::GtdEntry& x, const detail::GtdEntry& y) {
    return x.expire_at != y.expire_at ? x.expire_at > y.expire_at : x.order_id > y.order_id;
  });

  for (auto& in : instruments_) {
    if (!in) continue;
    for (const Side side : {Side::kBuy, Side::kSell}) {
      uint32_t levels;
      if (!r.get(&levels)) return fail();
      // Written best first; inserting into the sorted ladder puts each in place.
      for (uint32_t l = 0; l < levels; ++l) {
        uint32_t count;
        if (!r.get(&count) || count == 0) return fail();
        for (uint32_t k = 0; k < count; ++k) {
          uint64_t id;
          if (!r.get(&id)) return fail();
          const uint32_t* oi = order_index_.find(id);
          if (oi == nullptr) return fail();
          Order& o = orders_[*oi];
          if (o.state != OrderState::kActive || o.instrument != in->spec.id || o.side != side) return fail();
          if (!level_fits(*in, side, o.price, o.leaves(), Qty{})) return fail();
          rest(*oi);
          level_touches_.clear();  // restore tracks no changes (and must stay linear)
          removed_touches_.clear();
        }
      }
    }
  }
  // Every order is now resting or pending, no trading book is crossed (one
  // that collected orders in pre-open stays crossed until it trades again);
  // anything else is a corrupt snapshot.
  bool consistent = r.done();
  for (const auto& in : instruments_) {
    if (in && in->spec.status == InstrumentStatus::kTrading && !in->book.bids.empty() && !in->book.asks.empty() &&
        in->book.bids.best().price >= in->book.asks.best().price) {
      consistent = false;
    }
  }
  order_index_.for_each([&](uint64_t, uint32_t oi) {
    if (orders_[oi].state == OrderState::kActive) consistent = false;
  });
  if (!consistent) return fail();
  // Ledger invariants: locked = the holds of live orders; supply = all balances.
  std::vector<Int128> total(cfg_.max_assets, 0);
  for (uint32_t a = 1; a < cfg_.max_assets; ++a) total[a] = ledger_.pool(AssetId{a}).value;
  for (uint32_t acct = 0; acct < accounts_.size() && consistent; ++acct) {
    if (!accounts_[acct].exists) continue;
    for (uint32_t a = 1; a < cfg_.max_assets; ++a) {
      const Balance b = ledger_.get(AccountId{acct}, AssetId{a});
      total[a] += b.available.value;
      total[a] += b.locked.value;
      const auto it = holds.find({acct, a});
      if ((it == holds.end() ? 0 : it->second) != b.locked.value) consistent = false;
    }
  }
  for (uint32_t a = 1; a < cfg_.max_assets && consistent; ++a) {
    if (total[a] != ledger_.supply(AssetId{a}).value) consistent = false;
  }
  if (!consistent) return fail();
  level_touches_.clear();
  return true;
}

uint64_t Engine::state_hash() const {
  std::vector<unsigned char> bytes;
  impl_->serialize(&bytes);
  return XXH3_64bits(bytes.data(), bytes.size());
}

}  // namespace bourse

#include "bourse/engine/engine.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "bourse/core/checked.h"
#include "engine_impl.h"

namespace bourse {

using detail::kNil;
using detail::OrderState;

namespace {

constexpr int64_t kPpm = 1'000'000;
constexpr int64_t kBps = 10'000;
constexpr int32_t kMaxFeePpm = 100'000;
constexpr uint32_t kMaxCancelAfterMs = 86'400'000;  // a day
constexpr std::size_t kEventReserve = 1u << 14;

[[noreturn]] void engine_panic(const char* what) {
  std::fprintf(stderr, "engine invariant violated: %s\n", what);
  std::abort();
}

int64_t pow10(int n) {
  int64_t r = 1;
  for (int i = 0; i < n; ++i) r *= 10;
  return r;
}

bool valid_side(Side s) { return s == Side::kBuy || s == Side::kSell; }
bool valid_type(OrderType t) { return static_cast<uint8_t>(t) >= 1 && static_cast<uint8_t>(t) <= 4; }
bool valid_tif(TimeInForce t) { return static_cast<uint8_t>(t) >= 1 && static_cast<uint8_t>(t) <= 5; }
bool valid_status(InstrumentStatus s) { return static_cast<uint8_t>(s) >= 1 && static_cast<uint8_t>(s) <= 5; }
bool resting_tif(TimeInForce t) { return t == TimeInForce::kGtc || t == TimeInForce::kDay || t == TimeInForce::kGtd; }
bool has_limit_price(OrderType t) { return t == OrderType::kLimit || t == OrderType::kStopLimit; }
bool is_stop(OrderType t) { return t == OrderType::kStopLimit || t == OrderType::kStopMarket; }

// Would a buy at `price` take liquidity from `best_ask` (or a sell from `best_bid`)?
bool crosses(Side side, Price price, Price best_opposite) {
  return side == Side::kBuy ? price >= best_opposite : price <= best_opposite;
}

// A command touches a handful of balances and levels: insertion sort beats
// std::sort's setup at that size and degrades gracefully on a long sweep.
template <class T, class Less>
void sort_small(std::vector<T>& v, Less less) {
  if (v.size() > 32) {
    std::sort(v.begin(), v.end(), less);
    return;
  }
  for (std::size_t i = 1; i < v.size(); ++i) {
    T x = v[i];
    std::size_t j = i;
    for (; j > 0 && less(x, v[j - 1]); --j) v[j] = v[j - 1];
    v[j] = x;
  }
}

}  // namespace

Engine::Impl::Impl(const EngineConfig& config)
    : cfg_(config),
      ledger_(config.max_accounts, config.max_assets),
      order_index_(std::min(config.order_capacity, config.preallocated_orders)),
      client_index_(std::min(config.order_capacity, config.preallocated_orders)) {
  reset();
  events_.reserve(kEventReserve);
  level_touches_.reserve(4096);
  removed_touches_.reserve(4096);
  scratch_.reserve(1024);
}

void Engine::Impl::reset() {
  last_seq_ = 0;
  last_timestamp_ = 0;
  live_gtd_orders_ = 0;
  removed_touches_.clear();
  next_order_id_ = 1;
  next_trade_id_ = 1;
  assets_.assign(cfg_.max_assets, AssetSpec{});
  instruments_.clear();
  instruments_.resize(cfg_.max_instruments);
  accounts_.assign(cfg_.max_accounts, AccountState{});
  accounts_[0].exists = true;  // the fee account
  accounts_[0].enabled = false;
  margin_accounts_.clear();
  cancel_deadlines_.clear();
  breaker_resumes_.clear();
  last_square_off_ = 0;
  liquidating_ = false;
  ledger_.clear();
  const uint32_t prealloc = std::min(cfg_.order_capacity, cfg_.preallocated_orders);
  // Constructed, not just reserved: the pages are touched now, not on the
  // engine thread's first use (a page fault is ~microseconds on a VM).
  orders_.assign(prealloc, Order{});
  client_ids_.assign(prealloc, ClientOrderId{});
  orders_used_ = 0;
  free_order_ = kNil;
  levels_.assign(prealloc / 4 + 1024, detail::PriceLevel{});
  levels_used_ = 0;
  free_level_ = kNil;
  order_index_.reset(prealloc);
  client_index_.reset(prealloc);
  gtd_heap_.reserve(1024);
  gtd_heap_.clear();
}

// ---------------------------------------------------------------------------
// Dispatch

std::span<const Event> Engine::Impl::apply(const Command& c) {
  events_.clear();
  cause_ = &c.header;
  cause_type_ = c.header.type;
  last_seq_ = c.header.seq;
  last_timestamp_ = c.header.timestamp;
  ledger_.begin_command();
  ++epoch_;
  level_touches_.clear();
  removed_touches_.clear();
  line_touches_.clear();
  traded_instrument_ = InstrumentId{};
  also_traded_.clear();
  loss_blocks_.clear();

  if (!gtd_heap_.empty() && gtd_heap_.front().expire_at <= c.header.timestamp) expire_gtd(c.header.timestamp);
  if (!cancel_deadlines_.empty() && cancel_deadlines_.begin()->first <= c.header.timestamp) {
    fire_dead_mans_switches(c.header.timestamp);
  }
  if (!breaker_resumes_.empty() && breaker_resumes_.begin()->first <= c.header.timestamp) {
    resume_breaker_halts(c.header.timestamp);
  }

  switch (c.header.type) {
    case CommandType::kPlaceOrder: place_order(c.payload.place); break;
    case CommandType::kCancelOrder: cancel_order(c.payload.cancel); break;
    case CommandType::kAmendOrder: amend_order(c.payload.amend); break;
    case CommandType::kCancelAll: cancel_all(c.payload.cancel_all); break;
    case CommandType::kDeposit: transfer(c.payload.transfer, true); break;
    case CommandType::kWithdraw: transfer(c.payload.transfer, false); break;
    case CommandType::kAddAsset: add_asset(c.payload.add_asset); break;
    case CommandType::kAddInstrument: add_instrument(c.payload.add_instrument); break;
    case CommandType::kSetInstrumentStatus: set_instrument_status(c.payload.set_instrument_status); break;
    case CommandType::kConfigureAccount: configure_account(c.payload.configure_account); break;
    case CommandType::kSetAccountEnabled: set_account_enabled(c.payload.set_account_enabled); break;
    case CommandType::kExpireDayOrders: expire_day_orders(c.payload.expire_day_orders); break;
    case CommandType::kHeartbeat: sweep_margin(); break;
    case CommandType::kExternalTrade: external_trade(c.payload.external_trade); break;
    case CommandType::kSetMarginParams: set_margin_params(c.payload.set_margin_params); break;
    case CommandType::kSquareOff: square_off(c.payload.square_off); break;
    case CommandType::kCancelAfter: cancel_after(c.payload.cancel_after); break;
    case CommandType::kSetAccountLimits: set_account_limits(c.payload.set_account_limits); break;
    case CommandType::kSetLossLimit: set_loss_limit(c.payload.set_loss_limit); break;
    case CommandType::kSetCircuitLimits: set_circuit_limits(c.payload.set_circuit_limits); break;
    default: reject(RejectReason::kInvalidCommand, ClientOrderId{}, OrderId{}, AccountId{}, InstrumentId{}); break;
  }

  run_triggers();
  if (!loss_blocks_.empty()) cancel_for_loss_limits();
  emit_balance_changes();
  if (!line_touches_.empty()) emit_position_changes();  // (inline test: most commands touch no position)
  emit_level_changes();
  return {events_.data(), events_.size()};
}

// ---------------------------------------------------------------------------
// Events

Event& Engine::Impl::emit(EventType type) {
  Event& e = events_.emplace_back(blank_event_);
  e.cause = *cause_;
  e.type = type;
  return e;
}

void Engine::Impl::reject(RejectReason r, const ClientOrderId& cid, OrderId oid, AccountId acct, InstrumentId inst) {
  Event& e = emit(EventType::kOrderRejected);
  e.rejected.client_order_id = cid;
  e.rejected.order_id = oid;
  e.rejected.account = acct;
  e.rejected.instrument = inst;
  e.rejected.reason = r;
  e.rejected.command = cause_type_;
}

void Engine::Impl::touch_level(InstrumentId inst, Side side, uint32_t li) {
  detail::PriceLevel& l = levels_[li];
  if (l.epoch == epoch_) return;
  l.epoch = epoch_;
  l.touch = static_cast<uint32_t>(level_touches_.size());
  level_touches_.push_back({inst, side, l.price, l.total, l.count, li});
}

void Engine::Impl::touch_new_level(InstrumentId inst, Side side, Price price, uint32_t li) {
  detail::PriceLevel& l = levels_[li];
  l.epoch = epoch_;
  // A level created in this command may have existed earlier in it (emptied
  // and removed): keep the first "before" value. Only removed levels can match.
  for (std::size_t k = 0; k < removed_touches_.size(); ++k) {
    detail::LevelTouch& t = level_touches_[removed_touches_[k]];
    if (t.instrument == inst && t.side == side && t.price == price) {
      t.level = li;
      l.touch = removed_touches_[k];
      removed_touches_[k] = removed_touches_.back();
      removed_touches_.pop_back();
      return;
    }
  }
  l.touch = static_cast<uint32_t>(level_touches_.size());
  level_touches_.push_back({inst, side, price, Qty{}, 0, li});
}

void Engine::Impl::emit_balance_changes() {
  auto& touched = ledger_.touched();
  if (touched.empty()) return;
  sort_small(touched, [](const detail::Ledger::Touched& a, const detail::Ledger::Touched& b) {
    return a.account != b.account ? a.account < b.account : a.asset < b.asset;
  });
  for (const auto& t : touched) {
    const Balance now = ledger_.get(t.account, t.asset);
    if (now.available == t.before.available && now.locked == t.before.locked) continue;
    Event& e = emit(EventType::kBalanceChanged);
    e.balance.account = t.account;
    e.balance.asset = t.asset;
    e.balance.available = now.available;
    e.balance.locked = now.locked;
  }
}

void Engine::Impl::emit_level_changes() {
  if (level_touches_.empty()) return;
  sort_small(level_touches_, [](const detail::LevelTouch& a, const detail::LevelTouch& b) {
    if (a.instrument != b.instrument) return a.instrument < b.instrument;
    if (a.side != b.side) return a.side < b.side;
    return a.price < b.price;
  });
  InstrumentId dirtied{};
  for (const detail::LevelTouch& t : level_touches_) {
    if (t.instrument != dirtied) {  // sorted by instrument: once per changed book
      instruments_[t.instrument.value]->mark_dirty = true;  // a MID mark may have moved; liquidity may have come
      dirtied = t.instrument;
    }
    const Qty qty = t.level == kNil ? Qty{} : levels_[t.level].total;
    const uint32_t count = t.level == kNil ? 0 : levels_[t.level].count;
    if (qty == t.before_qty && count == t.before_count) continue;
    Event& e = emit(EventType::kBookLevelChanged);
    e.book_level.instrument = t.instrument;
    e.book_level.side = t.side;
    e.book_level.price = t.price;
    e.book_level.qty = qty;
    e.book_level.order_count = count;
  }
}

// ---------------------------------------------------------------------------
// Money

bool Engine::Impl::notional(const InstrumentState& in, Price p, Qty q, int64_t* out) const {
  const auto n = mul_div_floor(p.value, q.value, in.divisor);
  if (!n) return false;
  *out = *n;
  return true;
}

int64_t Engine::Impl::fee(int64_t notional_amount, int32_t ppm) {
  // notional * ppm / 1e6 <= notional, so it always fits.
  return *mul_div_floor(notional_amount, ppm, kPpm);
}

bool Engine::Impl::buy_hold(const InstrumentState& in, Price hold_price, Qty q, int64_t* out) const {
  int64_t n;
  if (!notional(in, hold_price, q, &n)) return false;
  return checked_add(n, fee(n, in.hold_fee_ppm), out);
}

void Engine::Impl::refresh_band(const InstrumentState& in) const {
  const Price ref_price = reference_price(in);
  if (ref_price == in.band_ref) return;
  in.band_ref = ref_price;
  const Int128 ref = ref_price.value;
  const Int128 tick = in.spec.tick_size.value;
  const Int128 den = kBps * tick;
  Int128 low = (ref * (kBps - in.spec.band_bps) + den - 1) / den * tick;
  if (low < tick) low = tick;
  Int128 high = ref * (kBps + in.spec.band_bps) / den * tick;
  if (high > INT64_MAX) high = static_cast<Int128>(INT64_MAX) / tick * tick;
  // Static circuits clip the band: MARKET and stop-market orders never
  // execute past them either.
  if (in.circuits.lower.value && low < in.circuits.lower.value) low = in.circuits.lower.value;
  if (in.circuits.upper.value && high > in.circuits.upper.value) high = in.circuits.upper.value;
  in.band_low = Price{static_cast<int64_t>(low)};
  in.band_high = Price{static_cast<int64_t>(high)};
}

bool Engine::Impl::stop_market_hold_price(const InstrumentState& in, Price stop, Price* out) const {
  const Int128 tick = in.spec.tick_size.value;
  const Int128 p = static_cast<Int128>(stop.value) * (kBps + in.spec.band_bps) / (kBps * tick) * tick;
  if (p > INT64_MAX) return false;
  *out = Price{static_cast<int64_t>(p)};
  return true;
}

// ---------------------------------------------------------------------------
// Pools

uint32_t Engine::Impl::alloc_order() {
  if (free_order_ != kNil) {
    const uint32_t i = free_order_;
    free_order_ = orders_[i].next;
    return i;
  }
  if (orders_used_ == orders_.size()) {
    if (orders_.size() >= cfg_.order_capacity) return kNil;
    orders_.emplace_back();  // past the preallocation: amortized growth
    client_ids_.emplace_back();
  }
  return orders_used_++;
}

uint32_t Engine::Impl::alloc_level() {
  if (free_level_ != kNil) {
    const uint32_t i = free_level_;
    free_level_ = levels_[i].next_free;
    return i;
  }
  if (levels_used_ == levels_.size()) levels_.emplace_back();
  return levels_used_++;
}

void Engine::Impl::free_level(uint32_t li) {
  levels_[li] = detail::PriceLevel{};
  levels_[li].next_free = free_level_;
  free_level_ = li;
}

// ---------------------------------------------------------------------------
// Order lifecycle

void Engine::Impl::rest(uint32_t oi) {
  Order& o = orders_[oi];
  InstrumentState& in = *instrument_state(o.instrument);
  detail::PriceLadder& ladder = in.book.ladder(o.side);
  uint32_t li = ladder.find(o.price);
  if (li == kNil) {
    li = alloc_level();
    levels_[li].price = o.price;
    touch_new_level(o.instrument, o.side, o.price, li);
    ladder.insert(o.price, li);
  } else {
    touch_level(o.instrument, o.side, li);
  }
  detail::PriceLevel& l = levels_[li];
  o.prev = l.tail;
  o.next = kNil;
  if (l.tail != kNil) orders_[l.tail].next = oi; else l.head = oi;
  l.tail = oi;
  l.total += o.leaves();
  ++l.count;
  in.book.open(o.side) += o.leaves().value;
  o.level = li;
  o.state = OrderState::kResting;
}

bool Engine::Impl::level_fits(InstrumentState& in, Side side, Price price, Qty add, Qty own) const {
  if (in.book.open(side) + add.value <= INT64_MAX) return true;
  const uint32_t li = in.book.ladder(side).find(price);
  const Int128 there = li == kNil ? 0 : levels_[li].total.value - own.value;
  return there + add.value <= INT64_MAX;
}

void Engine::Impl::unlink_from_level(uint32_t oi) {
  Order& o = orders_[oi];
  const uint32_t li = o.level;
  touch_level(o.instrument, o.side, li);
  detail::PriceLevel& l = levels_[li];
  l.total -= o.leaves();
  --l.count;
  instrument_state(o.instrument)->book.open(o.side) -= o.leaves().value;
  if (o.prev != kNil) orders_[o.prev].next = o.next; else l.head = o.next;
  if (o.next != kNil) orders_[o.next].prev = o.prev; else l.tail = o.prev;
  o.prev = o.next = kNil;
  o.level = kNil;
  o.state = OrderState::kActive;
  if (l.count == 0) {
    level_touches_[l.touch].level = kNil;  // touched above, in this command
    removed_touches_.push_back(l.touch);
    instrument_state(o.instrument)->book.ladder(o.side).erase(l.price);
    free_level(li);
  }
}

void Engine::Impl::remove_live(uint32_t oi) {
  Order& o = orders_[oi];
  if (o.state == OrderState::kResting) {
    unlink_from_level(oi);
  } else if (o.state == OrderState::kPendingTrigger) {
    instrument_state(o.instrument)->book.stops(o.side).erase({o.stop_price, o.id, oi});
    o.state = OrderState::kActive;
  }
}

void Engine::Impl::finish(uint32_t oi) {
  Order& o = orders_[oi];
  const InstrumentState& in = *instrument_state(o.instrument);
  if (o.product == Product::kMargin) {
    add_reserve(o, -o.hold.value, -o.leaves().value);
  } else if (o.hold) {
    ledger_.unlock(o.account, o.side == Side::kBuy ? in.spec.quote : in.spec.base, o.hold);
  }
  o.hold = Amount{};
  order_index_.erase(o.id.value);
  if (o.has_client_id) client_index_.erase({o.account, client_ids_[oi]});
  AccountState& a = accounts_[o.account.value];
  if (o.acct_prev != kNil) orders_[o.acct_prev].acct_next = o.acct_next; else a.head = o.acct_next;
  if (o.acct_next != kNil) orders_[o.acct_next].acct_prev = o.acct_prev; else a.tail = o.acct_prev;
  --a.open_orders;
  if (o.tif == TimeInForce::kGtd) --live_gtd_orders_;
  o.state = OrderState::kFree;
  o.acct_prev = o.acct_next = kNil;
  o.next = free_order_;
  free_order_ = oi;
}

void Engine::Impl::cancel(uint32_t oi, CancelReason reason) {
  remove_live(oi);
  const Order& o = orders_[oi];
  Event& e = emit(EventType::kOrderCancelled);
  e.cancelled.order_id = o.id;
  e.cancelled.leaves = o.leaves();
  e.cancelled.filled = o.filled;
  e.cancelled.account = o.account;
  e.cancelled.instrument = o.instrument;
  e.cancelled.reason = reason;
  finish(oi);
}

void Engine::Impl::expire(uint32_t oi, ExpireReason reason) {
  remove_live(oi);
  const Order& o = orders_[oi];
  Event& e = emit(EventType::kOrderExpired);
  e.expired.order_id = o.id;
  e.expired.leaves = o.leaves();
  e.expired.filled = o.filled;
  e.expired.account = o.account;
  e.expired.instrument = o.instrument;
  e.expired.reason = reason;
  finish(oi);
}

void Engine::Impl::execute(uint32_t oi, Price limit) {
  if (orders_[oi].tif == TimeInForce::kFok && !fok_fillable(orders_[oi], limit)) {
    cancel(oi, CancelReason::kFillOrKill);
    return;
  }
  if (!match(oi, limit)) return;  // cancelled by self-trade prevention
  Order& o = orders_[oi];
  if (o.leaves() == Qty{}) {
    finish(oi);
  } else if (!has_limit_price(o.type) || !resting_tif(o.tif)) {
    cancel(oi, CancelReason::kUnfilledImmediate);
  } else if (!level_fits(*instrument_state(o.instrument), o.side, o.price, o.leaves(), Qty{})) {
    cancel(oi, CancelReason::kBookLevelFull);  // only a triggered stop can get here
  } else {
    rest(oi);
  }
}

bool Engine::Impl::fok_fillable(const Order& o, Price limit) const {
  const InstrumentState& in = *instrument_state(o.instrument);
  const detail::PriceLadder& opp = in.book.ladder(opposite(o.side));
  Qty sum{};
  const Qty need = o.leaves();
  Price reopen_anchor{};
  for (std::size_t rank = 0; rank < opp.size(); ++rank) {
    const detail::LevelRef& ref = opp.at_rank(rank);
    if (o.side == Side::kBuy ? ref.price > limit : ref.price < limit) break;
    // A level the breaker would refuse does not count: the FOK is killed
    // rather than filled in part before a halt. Right after a halt the first
    // fill sets the anchor, so the later levels are held to it.
    if (in.circuits.breaker_bps) {
      if (!in.breaker_reopen) {
        if (!within_breaker(in, ref.price)) break;
      } else if (reopen_anchor.value == 0) {
        reopen_anchor = ref.price;
      } else if (!breaker_band_contains(reopen_anchor.value, ref.price, in.circuits.breaker_bps)) {
        break;
      }
    }
    for (uint32_t pi = levels_[ref.level].head; pi != kNil; pi = orders_[pi].next) {
      const Order& p = orders_[pi];
      if (p.account == o.account) {
        if (o.stp == StpMode::kCancelOldest) continue;
        return false;
      }
      if (p.leaves() >= need - sum) return true;  // (never overflows, unlike sum + leaves)
      sum += p.leaves();
    }
  }
  return false;
}

bool Engine::Impl::match(uint32_t oi, Price limit) {
  const Side side = orders_[oi].side;
  InstrumentState& in = *instrument_state(orders_[oi].instrument);
  detail::PriceLadder& opp = in.book.ladder(opposite(side));
  while (orders_[oi].leaves() > Qty{} && !opp.empty()) {
    const detail::LevelRef best = opp.best();
    if (side == Side::kBuy ? best.price > limit : best.price < limit) break;
    const uint32_t pi = levels_[best.level].head;
    if (orders_[pi].account == orders_[oi].account) {
      switch (orders_[oi].stp) {
        case StpMode::kCancelOldest:
          cancel(pi, CancelReason::kSelfTrade);
          continue;
        case StpMode::kCancelBoth:
          cancel(pi, CancelReason::kSelfTrade);
          cancel(oi, CancelReason::kSelfTrade);
          return false;
        case StpMode::kCancelNewest:
        case StpMode::kAccountDefault:  // resolved at entry; never stored
          cancel(oi, CancelReason::kSelfTrade);
          return false;
      }
    }
    // The breaker halts the instrument rather than let this fill happen;
    // what the order filled before stays, the rest is cancelled (also for an
    // order that reaches a book the breaker halted earlier in the command).
    if (in.spec.status != InstrumentStatus::kTrading || (in.circuits.breaker_bps && !breaker_allows(in, best.price))) {
      cancel(oi, CancelReason::kCircuitBreaker);
      return false;
    }
    trade(oi, pi, best.level, best.price);
  }
  return true;
}

void Engine::Impl::trade(uint32_t ai, uint32_t pi, uint32_t li, Price px) {
  Order& a = orders_[ai];
  Order& p = orders_[pi];
  InstrumentState& in = *instrument_state(a.instrument);
  const Qty f = std::min(a.leaves(), p.leaves());
  int64_t n;
  // Fits: the buy side's notional at a price >= px was checked at entry.
  if (!notional(in, px, f, &n)) engine_panic("trade notional overflow");
  const int64_t fee_aggressor = fee(n, in.spec.taker_fee_ppm);
  const int64_t fee_passive = fee(n, in.spec.maker_fee_ppm);

  a.filled += f;
  p.filled += f;
  touch_level(p.instrument, p.side, li);
  levels_[li].total -= f;
  in.book.open(p.side) -= f.value;

  Order& buyer = a.side == Side::kBuy ? a : p;
  Order& seller = a.side == Side::kBuy ? p : a;
  const int64_t buyer_fee = a.side == Side::kBuy ? fee_aggressor : fee_passive;
  const int64_t seller_fee = a.side == Side::kBuy ? fee_passive : fee_aggressor;
  const AssetId base = in.spec.base;
  const AssetId quote = in.spec.quote;

  if (buyer.product == Product::kMargin) {
    settle_margin_leg(buyer, in, px, f, n, buyer_fee);
  } else {
    // Buyer: the hold shrinks to H(hold price, leaves); the cost is paid
    // from the difference and the rest returns to available.
    int64_t new_hold;
    if (!buy_hold(in, buyer.hold_price, buyer.leaves(), &new_hold)) engine_panic("hold overflow");
    const int64_t released = buyer.hold.value - new_hold;
    const int64_t cost = n + buyer_fee;
    if (released < cost) engine_panic("buy hold does not cover the fill");
    ledger_.spend_locked(buyer.account, quote, Amount{cost});
    ledger_.unlock(buyer.account, quote, Amount{released - cost});
    buyer.hold = Amount{new_hold};
    ledger_.credit(buyer.account, base, Amount{f.value});
  }
  if (seller.product == Product::kMargin) {
    settle_margin_leg(seller, in, px, f, n, seller_fee);
  } else {
    // Seller: delivers base from its hold, receives the notional less its fee.
    ledger_.spend_locked(seller.account, base, Amount{f.value});
    seller.hold -= Amount{f.value};
    ledger_.credit(seller.account, quote, Amount{n - seller_fee});
  }
  ledger_.credit(kFeeAccount, quote, Amount{fee_aggressor + fee_passive});

  Event& e = emit(EventType::kTrade);
  e.trade.trade_id = TradeId{next_trade_id_++};
  e.trade.price = px;
  e.trade.qty = f;
  e.trade.notional = Amount{n};
  e.trade.aggressor = {a.id, Amount{fee_aggressor}, a.leaves(), a.filled, a.account, 0};
  e.trade.passive = {p.id, Amount{fee_passive}, p.leaves(), p.filled, p.account, 0};
  e.trade.instrument = a.instrument;
  e.trade.aggressor_side = a.side;

  in.last_price = px;
  in.mark_dirty = true;
  if (in.circuits.breaker_bps) record_breaker_price(in);
  note_stop_check(a.instrument);
  if (p.leaves() == Qty{}) {
    unlink_from_level(pi);
    finish(pi);
  }
}

void Engine::Impl::run_triggers() {
  if (!traded_instrument_) return;
  if (also_traded_.empty()) return run_triggers_in(*instrument_state(traded_instrument_));
  // Several instruments traded (a liquidation or square-off): each one's
  // stops, ascending instrument id.
  also_traded_.push_back(traded_instrument_.value);
  std::sort(also_traded_.begin(), also_traded_.end());
  also_traded_.erase(std::unique(also_traded_.begin(), also_traded_.end()), also_traded_.end());
  const std::vector<uint32_t> instruments = also_traded_;
  for (const uint32_t id : instruments) run_triggers_in(*instruments_[id]);
}

void Engine::Impl::run_triggers_in(InstrumentState& in) {
  for (;;) {
    // Halted (the breaker tripped in this command, maybe on a stop just
    // triggered): the other stops wait for trading; resuming checks them.
    if (in.spec.status != InstrumentStatus::kTrading || in.last_price.value == 0) return;
    const Price last = in.last_price;
    const detail::StopRef* b = in.book.buy_stops.first_triggered(last);
    const detail::StopRef* s = in.book.sell_stops.first_triggered(last);
    if (b == nullptr && s == nullptr) return;
    const detail::StopRef r = (s == nullptr || (b != nullptr && b->id < s->id)) ? *b : *s;
    Order& o = orders_[r.order];
    in.book.stops(o.side).erase(r);
    o.state = OrderState::kActive;
    Event& e = emit(EventType::kOrderTriggered);
    e.triggered.order_id = o.id;
    e.triggered.last_price = last;
    e.triggered.account = o.account;
    e.triggered.instrument = o.instrument;
    Price limit = o.price;
    if (o.type == OrderType::kStopMarket) {
      limit = o.side == Side::kBuy ? std::min(o.hold_price, band_high(in)) : band_low(in);
    }
    execute(r.order, limit);
  }
}

namespace {
// Min-heap order on (expire_at, order id): expiries come out in the order the rules require.
bool gtd_later(const detail::GtdEntry& x, const detail::GtdEntry& y) {
  return x.expire_at != y.expire_at ? x.expire_at > y.expire_at : x.order_id > y.order_id;
}
}  // namespace

void Engine::Impl::push_gtd(const Order& o) {
  ++live_gtd_orders_;
  // Entries of orders that ended are deleted lazily; compact before they
  // can outnumber the live ones, so the heap stays bounded.
  if (gtd_heap_.size() >= 2 * live_gtd_orders_ + 1024) compact_gtd_heap();
  gtd_heap_.push_back({o.expire_at, o.id.value});
  std::push_heap(gtd_heap_.begin(), gtd_heap_.end(), gtd_later);
}

void Engine::Impl::compact_gtd_heap() {
  std::erase_if(gtd_heap_, [this](const detail::GtdEntry& g) { return order_index_.find(g.order_id) == nullptr; });
  std::make_heap(gtd_heap_.begin(), gtd_heap_.end(), gtd_later);
}

void Engine::Impl::expire_gtd(Timestamp now) {
  const auto later = gtd_later;
  while (!gtd_heap_.empty() && gtd_heap_.front().expire_at <= now) {
    std::pop_heap(gtd_heap_.begin(), gtd_heap_.end(), later);
    const detail::GtdEntry entry = gtd_heap_.back();
    gtd_heap_.pop_back();
    // Entries of orders that ended earlier are skipped (lazy deletion).
    if (const uint32_t* oi = order_index_.find(entry.order_id)) expire(*oi, ExpireReason::kGtd);
  }
}

// ---------------------------------------------------------------------------
// Commands

void Engine::Impl::place_order(const PlaceOrder& p) {
  auto refuse = [&](RejectReason r) { reject(r, p.client_order_id, OrderId{}, p.account, p.instrument); };
  if (p.account.value == 0 || p.account.value >= cfg_.max_accounts) return refuse(RejectReason::kInvalidAccount);
  AccountState& acct = accounts_[p.account.value];
  if (!acct.exists) return refuse(RejectReason::kUnknownAccount);
  // A closing order of a liquidation or square-off runs even for a disabled
  // account, past its open-order limit and below min_qty (a remainder).
  if (!acct.enabled && !liquidating_) return refuse(RejectReason::kAccountDisabled);
  InstrumentState* inp = instrument_state(p.instrument);
  if (inp == nullptr) return refuse(RejectReason::kUnknownInstrument);
  InstrumentState& in = *inp;
  if (in.spec.external) return refuse(RejectReason::kInstrumentExternal);
  if (in.spec.status == InstrumentStatus::kHalted) return refuse(RejectReason::kInstrumentHalted);
  if (in.spec.status == InstrumentStatus::kClosed) return refuse(RejectReason::kInstrumentClosed);
  if (in.spec.status == InstrumentStatus::kSessionClosed) return refuse(RejectReason::kSessionClosed);
  if (!valid_side(p.side) || !valid_type(p.type) || !valid_tif(p.tif) || static_cast<uint8_t>(p.stp) > 3 ||
      p.post_only > 1 || static_cast<uint8_t>(p.product) > 1) {
    return refuse(RejectReason::kInvalidOrder);
  }
  if (p.type == OrderType::kMarket && p.tif != TimeInForce::kIoc && p.tif != TimeInForce::kFok) {
    return refuse(RejectReason::kInvalidTimeInForce);
  }
  if (p.type == OrderType::kStopMarket && !resting_tif(p.tif)) return refuse(RejectReason::kInvalidTimeInForce);
  if (in.spec.status == InstrumentStatus::kPreOpen && (p.type == OrderType::kMarket || !resting_tif(p.tif))) {
    return refuse(RejectReason::kPreOpenOrderType);
  }
  if (p.post_only && !(p.type == OrderType::kLimit && resting_tif(p.tif))) {
    return refuse(RejectReason::kPostOnlyNotAllowed);
  }
  const bool limit_priced = has_limit_price(p.type);
  const bool stop = is_stop(p.type);
  if (limit_priced ? p.price <= Price{} : p.price != Price{}) {
    return refuse(limit_priced ? RejectReason::kInvalidPrice : RejectReason::kInvalidOrder);
  }
  if (stop ? p.stop_price <= Price{} : p.stop_price != Price{}) {
    return refuse(stop ? RejectReason::kInvalidPrice : RejectReason::kInvalidOrder);
  }
  if (p.tif == TimeInForce::kGtd ? p.expire_at <= cause_->timestamp : p.expire_at != 0) {
    return refuse(RejectReason::kInvalidExpireTime);
  }
  const InstrumentSpec& spec = in.spec;
  if (p.price.value % spec.tick_size.value != 0 || p.stop_price.value % spec.tick_size.value != 0) {
    return refuse(RejectReason::kInvalidTick);
  }
  if (p.qty < spec.min_qty && !(liquidating_ && p.qty > Qty{})) return refuse(RejectReason::kQtyBelowMin);
  if (p.qty > spec.max_qty) return refuse(RejectReason::kQtyAboveMax);
  if (p.qty.value % spec.lot_size.value != 0) return refuse(RejectReason::kInvalidLot);
  if (limit_priced && outside_circuit(in, p.price)) return refuse(RejectReason::kPriceOutsideCircuit);
  if (limit_priced && (p.price < band_low(in) || p.price > band_high(in))) {
    return refuse(RejectReason::kPriceOutOfBand);
  }
  if (stop) {
    const Price ref = reference_price(in);
    if (p.side == Side::kBuy ? p.stop_price <= ref : p.stop_price >= ref) {
      return refuse(RejectReason::kStopWouldTriggerImmediately);
    }
  }
  if (limit_priced) {
    int64_t n;
    if (!notional(in, p.price, p.qty, &n)) return refuse(RejectReason::kOverflow);
    if (!level_fits(in, p.side, p.price, p.qty, Qty{})) return refuse(RejectReason::kOverflow);
    if (n < spec.min_notional.value) return refuse(RejectReason::kNotionalBelowMin);
  }
  if (!p.client_order_id.empty() && client_index_.find({p.account, p.client_order_id}) != nullptr) {
    return refuse(RejectReason::kDuplicateClientOrderId);
  }
  if (acct.open_orders >= acct.max_open_orders && !liquidating_) return refuse(RejectReason::kTooManyOpenOrders);
  if (p.post_only) {
    const detail::PriceLadder& opp = in.book.ladder(opposite(p.side));
    if (!opp.empty() && crosses(p.side, p.price, opp.best().price)) return refuse(RejectReason::kPostOnlyWouldTake);
  }
  if (!acct.limits.empty()) {
    // Notional at the limit price; a MARKET order at the band's edge, a
    // STOP_MARKET sell at its stop, a STOP_MARKET buy at its hold price.
    Price px = limit_priced ? p.price : p.type == OrderType::kStopMarket ? p.stop_price : band_high(in);
    if (p.type == OrderType::kStopMarket && p.side == Side::kBuy && !stop_market_hold_price(in, p.stop_price, &px)) {
      return refuse(RejectReason::kOverflow);  // a stop buy can fill up to its hold price
    }
    int64_t n;
    if (!notional(in, px, p.qty, &n)) return refuse(RejectReason::kOverflow);
    const RejectReason r = check_account_limits(acct, in, p.side, p.product, p.qty, p.qty, Qty{}, n);
    if (r != RejectReason::kNone) return refuse(r);
  }
  Price hold_price{};
  int64_t hold;
  AssetId hold_asset;
  const bool margin = p.product == Product::kMargin;
  if (margin) {
    if (!margin_hold_price(in, p.side, p.type, p.price, p.stop_price, &hold_price) ||
        !notional(in, hold_price, p.qty, &hold)) {
      return refuse(RejectReason::kOverflow);
    }
    const RejectReason r =
        liquidating_ ? RejectReason::kNone : check_margin_order(acct, p.account, in, p.side, p.qty, 0, Qty{}, hold);
    if (r != RejectReason::kNone) return refuse(r);
  } else {
    if (p.side == Side::kBuy) {
      hold_asset = spec.quote;
      switch (p.type) {
        case OrderType::kMarket: hold_price = band_high(in); break;
        case OrderType::kStopMarket:
          if (!stop_market_hold_price(in, p.stop_price, &hold_price)) return refuse(RejectReason::kOverflow);
          break;
        default: hold_price = p.price; break;
      }
      if (!buy_hold(in, hold_price, p.qty, &hold)) return refuse(RejectReason::kOverflow);
    } else {
      hold_asset = spec.base;
      hold = p.qty.value;
    }
    if (ledger_.get(p.account, hold_asset).available.value < hold) return refuse(RejectReason::kInsufficientFunds);
    if (!margin_allows_debit(acct, p.account, hold_asset, hold)) return refuse(RejectReason::kInsufficientMargin);
  }
  const uint32_t oi = alloc_order();
  if (oi == kNil) return refuse(RejectReason::kCapacityExceeded);

  // Accepted.
  if (!margin) ledger_.lock(p.account, hold_asset, Amount{hold});
  Order& o = orders_[oi];
  o = Order{};
  o.id = OrderId{next_order_id_++};
  o.price = p.price;
  o.stop_price = p.stop_price;
  o.hold_price = hold_price;
  o.qty = p.qty;
  o.hold = Amount{hold};
  o.expire_at = p.expire_at;
  o.has_client_id = p.client_order_id.empty() ? 0 : 1;
  client_ids_[oi] = p.client_order_id;
  o.account = p.account;
  o.instrument = p.instrument;
  o.side = p.side;
  o.type = p.type;
  o.tif = p.tif;
  o.stp = p.stp == StpMode::kAccountDefault ? acct.default_stp : p.stp;
  o.post_only = p.post_only;
  o.product = p.product;
  o.state = OrderState::kActive;
  if (margin) add_reserve(o, hold, p.qty.value);
  order_index_.insert(o.id.value, oi);
  if (o.has_client_id) client_index_.insert({o.account, p.client_order_id}, oi);
  o.acct_prev = acct.tail;
  if (acct.tail != kNil) orders_[acct.tail].acct_next = oi; else acct.head = oi;
  acct.tail = oi;
  ++acct.open_orders;
  if (o.tif == TimeInForce::kGtd) push_gtd(o);

  Event& e = emit(EventType::kOrderAccepted);
  e.accepted.client_order_id = p.client_order_id;
  e.accepted.order_id = o.id;
  e.accepted.price = o.price;
  e.accepted.stop_price = o.stop_price;
  e.accepted.qty = o.qty;
  e.accepted.expire_at = o.expire_at;
  e.accepted.hold = o.hold;
  e.accepted.hold_price = o.hold_price;
  e.accepted.account = o.account;
  e.accepted.instrument = o.instrument;
  e.accepted.side = o.side;
  e.accepted.type = o.type;
  e.accepted.tif = o.tif;
  e.accepted.stp = o.stp;
  e.accepted.post_only = o.post_only;
  e.accepted.pending_trigger = stop ? 1 : 0;
  e.accepted.product = o.product;

  if (stop) {
    o.state = OrderState::kPendingTrigger;
    in.book.stops(o.side).insert({o.stop_price, o.id, oi});
    return;
  }
  if (in.spec.status == InstrumentStatus::kPreOpen) {  // collected for the opening auction
    rest(oi);
    return;
  }
  Price limit = o.price;
  if (o.type == OrderType::kMarket) limit = o.side == Side::kBuy ? hold_price : band_low(in);
  execute(oi, limit);
}

void Engine::Impl::cancel_order(const CancelOrder& c) {
  auto refuse = [&](RejectReason r) { reject(r, c.client_order_id, c.order_id, c.account, InstrumentId{}); };
  if (c.account.value == 0 || c.account.value >= cfg_.max_accounts) return refuse(RejectReason::kInvalidAccount);
  if (!accounts_[c.account.value].exists) return refuse(RejectReason::kUnknownAccount);
  const uint32_t* oi = nullptr;
  if (c.order_id) {
    oi = order_index_.find(c.order_id.value);
  } else if (!c.client_order_id.empty()) {
    oi = client_index_.find({c.account, c.client_order_id});
  }
  if (oi == nullptr || orders_[*oi].account != c.account) return refuse(RejectReason::kOrderNotFound);
  cancel(*oi, CancelReason::kUserRequested);
}

void Engine::Impl::amend_order(const AmendOrder& a) {
  const uint32_t* found = a.order_id ? order_index_.find(a.order_id.value) : nullptr;
  const bool owned = found != nullptr && orders_[*found].account == a.account;
  auto refuse = [&](RejectReason r) {
    reject(r, ClientOrderId{}, a.order_id, a.account, owned ? orders_[*found].instrument : InstrumentId{});
  };
  if (a.account.value == 0 || a.account.value >= cfg_.max_accounts) return refuse(RejectReason::kInvalidAccount);
  AccountState& acct = accounts_[a.account.value];
  if (!acct.exists) return refuse(RejectReason::kUnknownAccount);
  if (!acct.enabled) return refuse(RejectReason::kAccountDisabled);
  if (!owned) return refuse(RejectReason::kOrderNotFound);
  const uint32_t oi = *found;
  Order& o = orders_[oi];
  InstrumentState& in = *instrument_state(o.instrument);
  const InstrumentSpec& spec = in.spec;
  if (spec.status == InstrumentStatus::kHalted) return refuse(RejectReason::kInstrumentHalted);
  if (spec.status == InstrumentStatus::kClosed) return refuse(RejectReason::kInstrumentClosed);
  if (spec.status == InstrumentStatus::kSessionClosed) return refuse(RejectReason::kSessionClosed);
  if (a.new_price < Price{} || a.new_stop_price < Price{}) return refuse(RejectReason::kInvalidPrice);
  if (a.new_qty < Qty{}) return refuse(RejectReason::kQtyBelowMin);
  const bool pending = o.state == OrderState::kPendingTrigger;
  if (a.new_price && o.type == OrderType::kStopMarket) return refuse(RejectReason::kInvalidAmend);
  if (a.new_stop_price && !pending) return refuse(RejectReason::kInvalidAmend);
  const Price price = a.new_price ? a.new_price : o.price;
  const Price stop_price = a.new_stop_price ? a.new_stop_price : o.stop_price;
  const Qty qty = a.new_qty ? a.new_qty : o.qty;
  if (price == o.price && stop_price == o.stop_price && qty == o.qty) return refuse(RejectReason::kInvalidAmend);
  if (price.value % spec.tick_size.value != 0 || stop_price.value % spec.tick_size.value != 0) {
    return refuse(RejectReason::kInvalidTick);
  }
  if (qty <= o.filled) return refuse(RejectReason::kInvalidAmend);
  if (qty < spec.min_qty) return refuse(RejectReason::kQtyBelowMin);
  if (qty > spec.max_qty) return refuse(RejectReason::kQtyAboveMax);
  if (qty.value % spec.lot_size.value != 0) return refuse(RejectReason::kInvalidLot);
  const bool price_changed = price != o.price;
  const bool stop_changed = stop_price != o.stop_price;
  if (price_changed && outside_circuit(in, price)) return refuse(RejectReason::kPriceOutsideCircuit);
  if (price_changed && (price < band_low(in) || price > band_high(in))) return refuse(RejectReason::kPriceOutOfBand);
  if (stop_changed) {
    const Price ref = reference_price(in);
    if (o.side == Side::kBuy ? stop_price <= ref : stop_price >= ref) {
      return refuse(RejectReason::kStopWouldTriggerImmediately);
    }
  }
  if (has_limit_price(o.type)) {
    int64_t n;
    if (!notional(in, price, qty, &n)) return refuse(RejectReason::kOverflow);
    const Qty own = o.state == OrderState::kResting && o.price == price ? o.leaves() : Qty{};
    if (!level_fits(in, o.side, price, qty - o.filled, own)) return refuse(RejectReason::kOverflow);
    if (n < spec.min_notional.value) return refuse(RejectReason::kNotionalBelowMin);
  }
  if (o.post_only && o.state == OrderState::kResting && price_changed) {
    const detail::PriceLadder& opp = in.book.ladder(opposite(o.side));
    if (!opp.empty() && crosses(o.side, price, opp.best().price)) return refuse(RejectReason::kPostOnlyWouldTake);
  }
  const Qty leaves = qty - o.filled;
  if (!acct.limits.empty()) {
    // Priced as at entry; an amend that grows neither quantity nor notional
    // passes even if an admin lowered the limits since.
    auto limit_price = [&](Price limit, Price stop, Price* out) {
      *out = has_limit_price(o.type) ? limit : stop;
      return o.type != OrderType::kStopMarket || o.side != Side::kBuy || stop_market_hold_price(in, stop, out);
    };
    Price px, old_px;
    int64_t n, old_n;
    if (!limit_price(price, stop_price, &px) || !limit_price(o.price, o.stop_price, &old_px) ||
        !notional(in, px, qty, &n) || !notional(in, old_px, o.qty, &old_n)) {
      return refuse(RejectReason::kOverflow);
    }
    if (qty > o.qty || n > old_n) {
      const RejectReason r = check_account_limits(acct, in, o.side, o.product, qty, leaves, o.leaves(), n);
      if (r != RejectReason::kNone) return refuse(r);
    }
  }
  Price hold_price = o.hold_price;
  int64_t hold;
  AssetId hold_asset;
  const bool margin = o.product == Product::kMargin;
  if (margin) {
    if (!margin_hold_price(in, o.side, o.type, price, stop_price, &hold_price) ||
        !notional(in, hold_price, leaves, &hold)) {
      return refuse(RejectReason::kOverflow);
    }
    const RejectReason r = check_margin_order(acct, a.account, in, o.side, leaves, o.hold.value, o.leaves(), hold);
    if (r != RejectReason::kNone) return refuse(r);
  } else {
    if (o.side == Side::kBuy) {
      hold_asset = spec.quote;
      if (o.type == OrderType::kStopMarket) {
        if (!stop_market_hold_price(in, stop_price, &hold_price)) return refuse(RejectReason::kOverflow);
      } else {
        hold_price = price;
      }
      if (!buy_hold(in, hold_price, leaves, &hold)) return refuse(RejectReason::kOverflow);
    } else {
      hold_asset = spec.base;
      hold = leaves.value;
    }
    if (hold > o.hold.value) {
      if (ledger_.get(o.account, hold_asset).available.value < hold - o.hold.value) {
        return refuse(RejectReason::kInsufficientFunds);
      }
      if (!margin_allows_debit(acct, a.account, hold_asset, hold - o.hold.value)) {
        return refuse(RejectReason::kInsufficientMargin);
      }
    }
  }

  // Applied.
  if (margin) {
    add_reserve(o, hold - o.hold.value, leaves.value - o.leaves().value);
  } else if (hold > o.hold.value) {
    ledger_.lock(o.account, hold_asset, Amount{hold - o.hold.value});
  } else if (hold < o.hold.value) {
    ledger_.unlock(o.account, hold_asset, Amount{o.hold.value - hold});
  }
  o.hold = Amount{hold};
  o.hold_price = hold_price;
  const bool priority_kept = !price_changed && !stop_changed && qty < o.qty;
  const bool reenter = o.state == OrderState::kResting && !priority_kept;
  if (o.state == OrderState::kResting) {
    if (priority_kept) {
      touch_level(o.instrument, o.side, o.level);
      levels_[o.level].total -= o.qty - qty;
      in.book.open(o.side) -= (o.qty - qty).value;
    } else {
      unlink_from_level(oi);
    }
  } else if (pending) {
    in.book.stops(o.side).erase({o.stop_price, o.id, oi});
    in.book.stops(o.side).insert({stop_price, o.id, oi});
  }
  o.price = price;
  o.stop_price = stop_price;
  o.qty = qty;

  Event& e = emit(EventType::kOrderAmended);
  e.amended.order_id = o.id;
  e.amended.price = o.price;
  e.amended.stop_price = o.stop_price;
  e.amended.qty = o.qty;
  e.amended.leaves = o.leaves();
  e.amended.hold = o.hold;
  e.amended.hold_price = o.hold_price;
  e.amended.account = o.account;
  e.amended.instrument = o.instrument;
  e.amended.priority_kept = priority_kept ? 1 : 0;

  if (reenter && spec.status == InstrumentStatus::kPreOpen) {
    rest(oi);  // no matching before the opening auction
  } else if (reenter) {
    execute(oi, o.price);
  }
}

void Engine::Impl::cancel_all(const CancelAll& c) {
  auto refuse = [&](RejectReason r) { reject(r, ClientOrderId{}, OrderId{}, c.account, c.instrument); };
  if (c.account.value == 0 || c.account.value >= cfg_.max_accounts) return refuse(RejectReason::kInvalidAccount);
  AccountState& acct = accounts_[c.account.value];
  if (!acct.exists) return refuse(RejectReason::kUnknownAccount);
  if (c.instrument && instrument_state(c.instrument) == nullptr) return refuse(RejectReason::kUnknownInstrument);
  for (uint32_t oi = acct.head; oi != kNil;) {
    const uint32_t next = orders_[oi].acct_next;
    if (!c.instrument || orders_[oi].instrument == c.instrument) cancel(oi, CancelReason::kCancelAll);
    oi = next;
  }
}

void Engine::Impl::transfer(const Transfer& t, bool deposit) {
  auto refuse = [&](RejectReason r) { reject(r, ClientOrderId{}, OrderId{}, t.account, InstrumentId{}); };
  if (t.account.value >= cfg_.max_accounts) return refuse(RejectReason::kInvalidAccount);
  if (!accounts_[t.account.value].exists) return refuse(RejectReason::kUnknownAccount);
  if (t.asset.value == 0 || t.asset.value >= cfg_.max_assets || assets_[t.asset.value].code.empty()) {
    return refuse(RejectReason::kUnknownAsset);
  }
  if (t.amount <= Amount{}) return refuse(RejectReason::kInvalidAmount);
  if (deposit) {
    if (!ledger_.deposit(t.account, t.asset, t.amount)) return refuse(RejectReason::kOverflow);
  } else {
    if (ledger_.get(t.account, t.asset).available < t.amount) return refuse(RejectReason::kInsufficientFunds);
    if (!margin_allows_debit(accounts_[t.account.value], t.account, t.asset, t.amount.value)) {
      return refuse(RejectReason::kInsufficientMargin);
    }
    if (!ledger_.withdraw(t.account, t.asset, t.amount)) return refuse(RejectReason::kInsufficientFunds);
  }
  if (!accounts_[t.account.value].lines.empty()) accounts_[t.account.value].margin_recheck = true;  // equity moved
  Event& e = emit(EventType::kTransferCompleted);
  e.transfer.amount = t.amount;
  e.transfer.account = t.account;
  e.transfer.asset = t.asset;
  e.transfer.is_deposit = deposit ? 1 : 0;
}

void Engine::Impl::add_asset(const AssetSpec& a) {
  auto refuse = [&](RejectReason r) { reject(r, ClientOrderId{}, OrderId{}, AccountId{}, InstrumentId{}); };
  if (a.id.value == 0 || a.id.value >= cfg_.max_assets) return refuse(RejectReason::kCapacityExceeded);
  if (!assets_[a.id.value].code.empty()) return refuse(RejectReason::kDuplicateAsset);
  if (a.code.empty() || a.scale < 0 || a.scale > 18) return refuse(RejectReason::kInvalidCommand);
  assets_[a.id.value] = a;
  emit(EventType::kAssetAdded).asset_added = a;
}

void Engine::Impl::add_instrument(const InstrumentSpec& s) {
  auto refuse = [&](RejectReason r) { reject(r, ClientOrderId{}, OrderId{}, AccountId{}, s.id); };
  if (s.id.value == 0 || s.id.value >= cfg_.max_instruments) return refuse(RejectReason::kCapacityExceeded);
  if (instrument_state(s.id) != nullptr) return refuse(RejectReason::kDuplicateInstrument);
  for (const auto& other : instruments_) {
    if (other && other->spec.symbol == s.symbol) return refuse(RejectReason::kDuplicateInstrument);
  }
  if (asset(s.base) == nullptr || asset(s.quote) == nullptr) return refuse(RejectReason::kUnknownAsset);
  auto state = make_instrument(s);
  if (!state) return refuse(RejectReason::kInvalidInstrument);
  instruments_[s.id.value] = std::move(state);
  emit(EventType::kInstrumentAdded).instrument_added = s;
}

std::unique_ptr<detail::InstrumentState> Engine::Impl::make_instrument(const InstrumentSpec& s) const {
  const int exponent = s.price_scale + assets_[s.base.value].scale - assets_[s.quote.value].scale;
  bool ok = !s.symbol.empty() && s.base != s.quote && s.tick_size > Price{} && s.lot_size > Qty{} &&
            s.min_qty >= s.lot_size && s.min_qty.value % s.lot_size.value == 0 && s.max_qty >= s.min_qty &&
            s.min_notional >= Amount{} && s.price_scale >= 0 && s.price_scale <= 18 && exponent >= 0 &&
            exponent <= 18 && s.reference_price > Price{} && s.band_bps >= 1 && s.band_bps <= kBps &&
            s.maker_fee_ppm >= 0 && s.maker_fee_ppm <= kMaxFeePpm && s.taker_fee_ppm >= 0 &&
            s.taker_fee_ppm <= kMaxFeePpm && valid_status(s.status) && s.external <= 1;
  if (ok) ok = s.reference_price.value % s.tick_size.value == 0;
  if (ok) {
    const Int128 tick_lot = static_cast<Int128>(s.tick_size.value) * s.lot_size.value;
    ok = tick_lot % pow10(exponent) == 0;
  }
  if (!ok) return nullptr;
  auto state = std::make_unique<InstrumentState>();
  state->spec = s;
  state->divisor = pow10(exponent);
  state->hold_fee_ppm = std::max(s.maker_fee_ppm, s.taker_fee_ppm);
  return state;
}

// A trade on another market: market data only (no orders, no balances).
void Engine::Impl::external_trade(const ExternalTrade& t) {
  auto refuse = [&](RejectReason r) { reject(r, ClientOrderId{}, OrderId{}, AccountId{}, t.instrument); };
  InstrumentState* inp = instrument_state(t.instrument);
  if (inp == nullptr) return refuse(RejectReason::kUnknownInstrument);
  InstrumentState& in = *inp;
  if (!in.spec.external) return refuse(RejectReason::kNotExternal);
  if (!valid_side(t.aggressor_side) || t.time <= 0) return refuse(RejectReason::kInvalidExternalTrade);
  if (t.price <= Price{}) return refuse(RejectReason::kInvalidPrice);
  if (t.price.value % in.spec.tick_size.value != 0) return refuse(RejectReason::kInvalidTick);
  if (t.qty <= Qty{} || t.qty.value % in.spec.lot_size.value != 0) return refuse(RejectReason::kInvalidLot);
  int64_t n = 0;
  if (!notional(in, t.price, t.qty, &n)) return refuse(RejectReason::kOverflow);
  Event& e = emit(EventType::kExternalTradeApplied);
  e.external_trade.trade_id = TradeId{next_trade_id_++};
  e.external_trade.price = t.price;
  e.external_trade.qty = t.qty;
  e.external_trade.notional = Amount{n};
  e.external_trade.time = t.time;
  e.external_trade.instrument = t.instrument;
  e.external_trade.aggressor_side = t.aggressor_side;
  in.last_price = t.price;
  in.mark_dirty = true;
}

void Engine::Impl::collect_instrument_orders(InstrumentId id, bool day_only) {
  scratch_.clear();
  InstrumentState& in = *instrument_state(id);
  auto take = [&](uint32_t oi) {
    if (!day_only || orders_[oi].tif == TimeInForce::kDay) scratch_.push_back(oi);
  };
  for (const Side side : {Side::kBuy, Side::kSell}) {
    const detail::PriceLadder& ladder = in.book.ladder(side);
    for (std::size_t r = 0; r < ladder.size(); ++r) {
      for (uint32_t oi = levels_[ladder.at_rank(r).level].head; oi != kNil; oi = orders_[oi].next) take(oi);
    }
    in.book.stops(side).for_each([&](const detail::StopRef& s) { take(s.order); });
  }
  std::sort(scratch_.begin(), scratch_.end(), [this](uint32_t x, uint32_t y) { return orders_[x].id < orders_[y].id; });
}

void Engine::Impl::set_instrument_status(const SetInstrumentStatus& s) {
  auto refuse = [&](RejectReason r) { reject(r, ClientOrderId{}, OrderId{}, AccountId{}, s.instrument); };
  InstrumentState* in = instrument_state(s.instrument);
  if (in == nullptr) return refuse(RejectReason::kUnknownInstrument);
  if (!valid_status(s.status)) return refuse(RejectReason::kInvalidCommand);
  if (in->resume_at) {  // an operator's status replaces the breaker's halt
    breaker_resumes_.erase({in->resume_at, s.instrument.value});
    in->resume_at = 0;
    in->breaker_reopen = true;
  }
  const InstrumentStatus before = in->spec.status;
  in->spec.status = s.status;
  in->mark_dirty = true;  // a liquidation that waited for trading to resume is retried
  Event& e = emit(EventType::kInstrumentStatusChanged);
  e.instrument_status.instrument = s.instrument;
  e.instrument_status.status = s.status;
  if (before != InstrumentStatus::kTrading && s.status == InstrumentStatus::kTrading) {
    // A book collected in pre-open (maybe halted or closed since) is
    // uncrossed first; then stops crossed by fills before a breaker trip.
    opening_auction(*in);
    note_stop_check(s.instrument);
  }
  if (s.status == InstrumentStatus::kSessionClosed && before != InstrumentStatus::kSessionClosed) {
    // The session ends: its DAY orders with it, in the same command (no
    // order can slip in between).
    collect_instrument_orders(s.instrument, true);
    for (const uint32_t oi : scratch_) expire(oi, ExpireReason::kDay);
  }
  if (s.status == InstrumentStatus::kClosed) {
    collect_instrument_orders(s.instrument, false);
    for (const uint32_t oi : scratch_) cancel(oi, CancelReason::kInstrumentClosed);
  }
}

void Engine::Impl::configure_account(const ConfigureAccount& c) {
  auto refuse = [&](RejectReason r) { reject(r, ClientOrderId{}, OrderId{}, c.account, InstrumentId{}); };
  if (c.account.value == 0 || c.account.value >= cfg_.max_accounts) return refuse(RejectReason::kInvalidAccount);
  const auto stp = static_cast<uint8_t>(c.default_stp);
  if (stp < 1 || stp > 3 || c.margin_tier > kMarginTiers) return refuse(RejectReason::kInvalidCommand);
  AccountState& a = accounts_[c.account.value];
  if (!a.exists) {
    a = AccountState{};
    a.exists = true;
  }
  a.default_stp = c.default_stp;
  if (a.margin_tier != c.margin_tier && !a.lines.empty()) a.margin_recheck = true;  // its rates changed
  a.margin_tier = c.margin_tier;
  a.max_open_orders = c.max_open_orders ? c.max_open_orders : cfg_.default_max_open_orders;
  Event& e = emit(EventType::kAccountConfigured);
  e.account_configured.account = c.account;
  e.account_configured.max_open_orders = a.max_open_orders;
  e.account_configured.default_stp = a.default_stp;
  e.account_configured.margin_tier = a.margin_tier;
}

void Engine::Impl::set_account_enabled(const SetAccountEnabled& s) {
  auto refuse = [&](RejectReason r) { reject(r, ClientOrderId{}, OrderId{}, s.account, InstrumentId{}); };
  if (s.account.value == 0 || s.account.value >= cfg_.max_accounts) return refuse(RejectReason::kInvalidAccount);
  AccountState& a = accounts_[s.account.value];
  if (!a.exists) return refuse(RejectReason::kUnknownAccount);
  if (s.enabled > 1) return refuse(RejectReason::kInvalidCommand);
  a.enabled = s.enabled == 1;
  Event& e = emit(EventType::kAccountStatusChanged);
  e.account_status.account = s.account;
  e.account_status.enabled = s.enabled;
  if (!a.enabled) {
    for (uint32_t oi = a.head; oi != kNil;) {
      const uint32_t next = orders_[oi].acct_next;
      cancel(oi, CancelReason::kAccountDisabled);
      oi = next;
    }
  }
}

// Dead-man's switch (cancel-on-disconnect for REST clients).
void Engine::Impl::cancel_after(const CancelAfter& c) {
  auto refuse = [&](RejectReason r) { reject(r, ClientOrderId{}, OrderId{}, c.account, InstrumentId{}); };
  if (c.account.value == 0 || c.account.value >= cfg_.max_accounts) return refuse(RejectReason::kInvalidAccount);
  AccountState& a = accounts_[c.account.value];
  if (!a.exists) return refuse(RejectReason::kUnknownAccount);
  if (c.timeout_ms > kMaxCancelAfterMs) return refuse(RejectReason::kInvalidCommand);
  if (a.cancel_at) cancel_deadlines_.erase({a.cancel_at, c.account.value});
  a.cancel_at = c.timeout_ms ? cause_->timestamp + int64_t{c.timeout_ms} * 1'000'000 : 0;
  if (a.cancel_at) cancel_deadlines_.insert({a.cancel_at, c.account.value});
  Event& e = emit(EventType::kCancelAfterSet);
  e.cancel_after.cancel_at = a.cancel_at;
  e.cancel_after.account = c.account;
}

// Deadlines that passed, in (deadline, account) order: the event, then
// every live order of the account cancelled (ascending id).
void Engine::Impl::fire_dead_mans_switches(Timestamp now) {
  while (!cancel_deadlines_.empty() && cancel_deadlines_.begin()->first <= now) {
    const auto [deadline, account] = *cancel_deadlines_.begin();
    cancel_deadlines_.erase(cancel_deadlines_.begin());
    AccountState& a = accounts_[account];
    a.cancel_at = 0;
    Event& e = emit(EventType::kCancelAfterSet);
    e.cancel_after.cancel_at = deadline;
    e.cancel_after.account = AccountId{account};
    e.cancel_after.fired = 1;
    for (uint32_t oi = a.head; oi != kNil;) {
      const uint32_t next = orders_[oi].acct_next;
      cancel(oi, CancelReason::kDeadMansSwitch);
      oi = next;
    }
  }
}

void Engine::Impl::expire_day_orders(const ExpireDayOrders& x) {
  if (x.instrument && instrument_state(x.instrument) == nullptr) {
    return reject(RejectReason::kUnknownInstrument, ClientOrderId{}, OrderId{}, AccountId{}, x.instrument);
  }
  std::vector<uint32_t> all;  // session close: not on the per-order hot path
  for (std::size_t i = 1; i < instruments_.size(); ++i) {
    if (!instruments_[i] || (x.instrument && x.instrument.value != i)) continue;
    collect_instrument_orders(InstrumentId{static_cast<uint32_t>(i)}, true);
    all.insert(all.end(), scratch_.begin(), scratch_.end());
  }
  std::sort(all.begin(), all.end(), [this](uint32_t a, uint32_t b) { return orders_[a].id < orders_[b].id; });
  for (const uint32_t oi : all) expire(oi, ExpireReason::kDay);
}

// ---------------------------------------------------------------------------
// Queries

OrderView Engine::Impl::view_of(uint32_t oi) const {
  const Order& o = orders_[oi];
  const InstrumentState& in = *instrument_state(o.instrument);
  OrderView v;
  v.id = o.id;
  v.account = o.account;
  v.instrument = o.instrument;
  v.side = o.side;
  v.type = o.type;
  v.tif = o.tif;
  v.stp = o.stp;
  v.post_only = o.post_only != 0;
  v.pending_trigger = o.state == OrderState::kPendingTrigger;
  v.price = o.price;
  v.stop_price = o.stop_price;
  v.qty = o.qty;
  v.filled = o.filled;
  v.hold = o.hold;
  v.hold_price = o.hold_price;
  v.hold_asset = o.side == Side::kBuy || o.product == Product::kMargin ? in.spec.quote : in.spec.base;
  v.expire_at = o.expire_at;
  v.client_order_id = client_ids_[oi];
  v.product = o.product;
  return v;
}

const AssetSpec* Engine::Impl::asset(AssetId id) const {
  return id.value < assets_.size() && !assets_[id.value].code.empty() ? &assets_[id.value] : nullptr;
}

const InstrumentView* Engine::Impl::instrument(InstrumentId id) const {
  const InstrumentState* in = instrument_state(id);
  if (in == nullptr) return nullptr;
  instrument_view_ = {in->spec,   in->last_price, band_low(*in), band_high(*in), Amount{in->divisor},
                      in->margin, in->circuits,   in->resume_at};
  return &instrument_view_;
}

const AccountView* Engine::Impl::account(AccountId id) const {
  if (id.value >= accounts_.size() || !accounts_[id.value].exists) return nullptr;
  const AccountState& a = accounts_[id.value];
  account_view_ = {id,           a.enabled,        a.default_stp, a.max_open_orders, a.open_orders,
                   a.margin_tier, a.margin_calls, a.cancel_at};
  return &account_view_;
}

Balance Engine::Impl::balance(AccountId a, AssetId s) const {
  if (a.value >= cfg_.max_accounts || s.value >= cfg_.max_assets) return {};
  return ledger_.get(a, s);
}

bool Engine::Impl::find_order(OrderId id, OrderView* out) const {
  const uint32_t* oi = order_index_.find(id.value);
  if (oi == nullptr) return false;
  *out = view_of(*oi);
  return true;
}

void Engine::Impl::for_each_order(const std::function<void(const OrderView&)>& fn) const {
  std::vector<uint32_t> live;
  live.reserve(order_index_.size());
  order_index_.for_each([&](uint64_t, uint32_t oi) { live.push_back(oi); });
  std::sort(live.begin(), live.end(), [this](uint32_t x, uint32_t y) { return orders_[x].id < orders_[y].id; });
  for (const uint32_t oi : live) fn(view_of(oi));
}

std::vector<LevelView> Engine::Impl::depth(InstrumentId id, Side side, std::size_t max_levels) const {
  std::vector<LevelView> out;
  const InstrumentState* in = instrument_state(id);
  if (in == nullptr) return out;
  const detail::PriceLadder& ladder = in->book.ladder(side);
  for (std::size_t r = 0; r < ladder.size() && r < max_levels; ++r) {
    const detail::PriceLevel& l = levels_[ladder.at_rank(r).level];
    out.push_back({l.price, l.total, l.count});
  }
  return out;
}

void Engine::Impl::for_each_asset(const std::function<void(const AssetSpec&)>& fn) const {
  for (const AssetSpec& a : assets_)
    if (!a.code.empty()) fn(a);
}

void Engine::Impl::for_each_instrument(const std::function<void(const InstrumentView&)>& fn) const {
  for (const auto& in : instruments_)
    if (in) fn(*instrument(in->spec.id));
}

void Engine::Impl::for_each_account(const std::function<void(const AccountView&)>& fn) const {
  for (uint32_t i = 1; i < accounts_.size(); ++i)
    if (accounts_[i].exists) fn(*account(AccountId{i}));
}

// ---------------------------------------------------------------------------
// Engine forwards to Impl.

Engine::Engine(const EngineConfig& config) : impl_(std::make_unique<Impl>(config)) {}
Engine::~Engine() = default;
std::span<const Event> Engine::apply(const Command& command) { return impl_->apply(command); }
Seq Engine::last_seq() const { return impl_->last_seq(); }
Timestamp Engine::last_timestamp() const { return impl_->last_timestamp(); }
const EngineConfig& Engine::config() const { return impl_->config(); }
const AssetSpec* Engine::asset(AssetId id) const { return impl_->asset(id); }
const InstrumentView* Engine::instrument(InstrumentId id) const { return impl_->instrument(id); }
const AccountView* Engine::account(AccountId id) const { return impl_->account(id); }
Balance Engine::balance(AccountId a, AssetId s) const { return impl_->balance(a, s); }
bool Engine::find_order(OrderId id, OrderView* out) const { return impl_->find_order(id, out); }
void Engine::for_each_order(const std::function<void(const OrderView&)>& fn) const { impl_->for_each_order(fn); }
std::vector<LevelView> Engine::depth(InstrumentId i, Side s, std::size_t n) const { return impl_->depth(i, s, n); }
void Engine::for_each_asset(const std::function<void(const AssetSpec&)>& fn) const { impl_->for_each_asset(fn); }
void Engine::for_each_instrument(const std::function<void(const InstrumentView&)>& fn) const {
  impl_->for_each_instrument(fn);
}
void Engine::for_each_account(const std::function<void(const AccountView&)>& fn) const {
  impl_->for_each_account(fn);
}
std::size_t Engine::live_order_count() const { return impl_->live_order_count(); }
Price Engine::mark_price(InstrumentId id) const { return impl_->mark_price(id); }
void Engine::for_each_position(const std::function<void(const PositionView&)>& fn) const {
  impl_->for_each_position(fn);
}
MarginView Engine::margin(AccountId account, AssetId collateral) const { return impl_->margin(account, collateral); }
Amount Engine::margin_pool(AssetId asset) const { return impl_->margin_pool(asset); }
Timestamp Engine::last_square_off() const { return impl_->last_square_off(); }
void Engine::account_limits(AccountId account, std::vector<SetAccountLimits>* limits,
                            std::vector<SetLossLimit>* loss_limits, std::vector<int64_t>* reached_days) const {
  impl_->account_limits(account, limits, loss_limits, reached_days);
}
void Engine::serialize(std::vector<unsigned char>* out) const { impl_->serialize(out); }
bool Engine::restore(std::span<const unsigned char> data) { return impl_->restore(data); }

}  // namespace bourse

// MARGIN product: marks, cross-margin requirements, the pre-trade margin
// check and settlement of a MARGIN fill against the margin pool. The rules
// are in docs/engine.md, "Margin"; the arithmetic is bourse/engine/position.h.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "engine_impl.h"

namespace bourse {

using detail::MarginLine;

namespace {

[[noreturn]] void margin_panic(const char* what) {
  std::fprintf(stderr, "engine invariant violated: %s\n", what);
  std::abort();
}

bool fits_int64(Int128 v) { return v >= INT64_MIN && v <= INT64_MAX; }

// Bound on a line's |cost| + open reserves and on each margin pool balance,
// checked when an order adds risk: with it every realized PnL, pool and
// balance change of a MARGIN fill fits in int64 (docs/engine.md, "Margin").
constexpr Int128 kMarginBound = INT64_MAX / 4;

// A line's rates: its account's tier, or none (held to 100% by
// position::effective_rate) when the account is cash-only now.
uint32_t initial_ppm(const detail::InstrumentState& in, uint8_t tier) {
  return tier == 0 ? 0 : in.margin.initial_ppm[tier - 1];
}
uint32_t maintenance_ppm(const detail::InstrumentState& in, uint8_t tier) {
  return tier == 0 ? 0 : in.margin.maintenance_ppm[tier - 1];
}

}  // namespace

Price Engine::Impl::mark_of(const InstrumentState& in) const {
  switch (in.margin.mark_source) {
    case MarkSource::kMid: {
      const detail::PriceLadder& bids = in.book.ladder(Side::kBuy);
      const detail::PriceLadder& asks = in.book.ladder(Side::kSell);
      // Only a book that trades: a pre-open book can be moved for free (and crossed).
      if (in.spec.status == InstrumentStatus::kTrading && !bids.empty() && !asks.empty() &&
          bids.best().price < asks.best().price) {
        const int64_t b = bids.best().price.value;
        const int64_t a = asks.best().price.value;
        return Price{b / 2 + a / 2 + (b % 2 + a % 2) / 2};  // floor((b + a) / 2) without overflow
      }
      break;
    }
    case MarkSource::kReference: {
      const InstrumentState* ref = instrument_state(in.margin.mark_reference);
      if (ref != nullptr && ref->last_price) return ref->last_price;
      break;
    }
    case MarkSource::kLast: break;
  }
  return reference_price(in);
}

MarginLine* Engine::Impl::find_line(AccountState& a, InstrumentId id) {
  for (MarginLine& l : a.lines) {
    if (l.instrument == id) return &l;
  }
  return nullptr;
}

const MarginLine* Engine::Impl::find_line(const AccountState& a, InstrumentId id) const {
  for (const MarginLine& l : a.lines) {
    if (l.instrument == id) return &l;
  }
  return nullptr;
}

MarginLine& Engine::Impl::line_for(AccountId account, InstrumentId id) {
  AccountState& a = accounts_[account.value];
  if (MarginLine* l = find_line(a, id)) return *l;
  // First MARGIN order of this account in this instrument: the one
  // allocation of the margin path.
  if (a.lines.empty()) {
    margin_accounts_.insert(std::lower_bound(margin_accounts_.begin(), margin_accounts_.end(), account.value),
                            account.value);
  }
  a.lines.push_back(MarginLine{});
  a.lines.back().instrument = id;
  return a.lines.back();
}

void Engine::Impl::touch_line(AccountId account, AccountState& a, MarginLine& line) {
  if (line.epoch == epoch_) return;
  line.epoch = epoch_;
  line.before = line.pos;
  line.before_fees = line.fees;
  line_touches_.push_back({account.value, static_cast<uint32_t>(&line - a.lines.data())});
}

MarginView Engine::Impl::margin_with(const AccountState& a, AccountId account, AssetId collateral,
                                     InstrumentId instrument, Side side, Int128 extra) const {
  position::MarginTotals t;
  auto add = [&](const InstrumentState& in, const position::Position& pos, Int128 buys, Int128 sells) {
    position::add_line(t, pos, buys, sells, mark_of(in), in.divisor, initial_ppm(in, a.margin_tier),
                       maintenance_ppm(in, a.margin_tier), static_cast<uint32_t>(in.hold_fee_ppm));
  };
  bool seen = false;
  for (const MarginLine& l : a.lines) {
    const InstrumentState& in = *instrument_state(l.instrument);
    if (in.spec.quote != collateral) continue;
    Int128 buys = l.buy_reserve;
    Int128 sells = l.sell_reserve;
    if (l.instrument == instrument) {
      seen = true;
      (side == Side::kBuy ? buys : sells) += extra;
    }
    add(in, l.pos, buys, sells);
  }
  if (!seen && extra != 0) {
    const InstrumentState& in = *instrument_state(instrument);
    add(in, position::Position{}, side == Side::kBuy ? extra : 0, side == Side::kSell ? extra : 0);
  }
  MarginView v;
  v.equity = ledger_.get(account, collateral).available.value + t.unrealized;
  v.initial = t.initial;
  v.maintenance = t.maintenance;
  return v;
}

bool Engine::Impl::margin_allows_debit(const AccountState& a, AccountId account, AssetId asset, int64_t amount) const {
  if (a.lines.empty()) return true;
  const MarginView v = margin_with(a, account, asset, InstrumentId{}, Side::kBuy, 0);
  if (v.initial == 0) return true;  // nothing margined in this asset
  return v.free() - amount >= 0;
}

bool Engine::Impl::margin_hold_price(const InstrumentState& in, Side side, OrderType type, Price price, Price stop,
                                     Price* out) const {
  // A buy fills at or below this price; a short is valued at the mark once
  // open, so a sell reserves at least the mark (a sell fills at or above
  // its limit, and a low limit must not make a large short look small).
  const Price mark = mark_of(in);
  if (side == Side::kBuy) {
    switch (type) {
      case OrderType::kLimit:
      case OrderType::kStopLimit: *out = price; return true;
      case OrderType::kMarket: *out = band_high(in); return true;
      case OrderType::kStopMarket: return stop_market_hold_price(in, stop, out);
    }
    return false;
  }
  switch (type) {
    case OrderType::kLimit: *out = std::max(price, mark); return true;
    case OrderType::kStopLimit: *out = std::max(price, stop); return true;  // triggers when the market is at the stop
    case OrderType::kMarket: *out = std::max(mark, band_low(in)); return true;
    case OrderType::kStopMarket: *out = stop; return true;
  }
  return false;
}

RejectReason Engine::Impl::check_margin_order(const AccountState& a, AccountId account, const InstrumentState& in,
                                              Side side, Qty qty, Int128 old_reserve, Qty old_leaves,
                                              int64_t new_reserve) const {
  const MarginLine* l = find_line(a, in.spec.id);
  const Int128 position_qty = l == nullptr ? 0 : l->pos.qty;
  const Int128 same_side_open = l == nullptr ? 0 : (side == Side::kBuy ? l->buy_open : l->sell_open);
  // A reducing order (against the position, and with every order on its
  // side filled the position does not flip) or an amend down is always
  // allowed, whatever the tier, rates or free margin: it is how an account
  // under water, or one made cash-only, gets out.
  const bool against = side == Side::kBuy ? position_qty < 0 : position_qty > 0;
  const bool reducing = against && same_side_open - old_leaves.value + qty.value <= position::abs128(position_qty);
  const bool shrinking = old_leaves.value > 0 && qty <= old_leaves && new_reserve <= old_reserve;
  if (reducing || shrinking) return RejectReason::kNone;
  if (a.margin_tier == 0 || in.margin.initial_ppm[a.margin_tier - 1] == 0) return RejectReason::kMarginNotAllowed;
  if (!a.loss.empty() && daily_loss_blocks(a, in.spec.quote)) return RejectReason::kDailyLossLimit;
  // Bounds: the position if every open order filled fits in int64; the
  // line's cost and reserves and the pool stay within kMarginBound.
  const Int128 extra = new_reserve - old_reserve;
  Int128 reach = qty.value - old_leaves.value;
  Int128 exposure = extra;
  if (l != nullptr) {
    reach += position::abs128(l->pos.qty) + l->buy_open + l->sell_open;
    exposure += position::abs128(l->pos.cost) + l->buy_reserve + l->sell_reserve;
  }
  if (reach > INT64_MAX || exposure > kMarginBound ||
      position::abs128(ledger_.pool(in.spec.quote).value) + new_reserve > kMarginBound ||
      position::abs128(ledger_.pool(in.spec.base).value) + qty.value > kMarginBound) {
    return RejectReason::kOverflow;
  }
  if (margin_with(a, account, in.spec.quote, in.spec.id, side, extra).free() < 0) {
    return RejectReason::kInsufficientMargin;
  }
  return RejectReason::kNone;
}

void Engine::Impl::add_reserve(const Order& o, int64_t reserve_delta, int64_t open_delta) {
  if (reserve_delta == 0 && open_delta == 0) return;
  MarginLine& l = line_for(o.account, o.instrument);
  if (o.side == Side::kBuy) {
    l.buy_reserve += reserve_delta;
    l.buy_open += open_delta;
  } else {
    l.sell_reserve += reserve_delta;
    l.sell_open += open_delta;
  }
}

// A MARGIN order filled `f` at `px` (notional n, fee charged to it): the
// pool takes the spot leg, the position moves, realized PnL and the fee
// settle in the account's quote balance.
void Engine::Impl::settle_margin_leg(Order& o, const InstrumentState& in, Price px, Qty f, int64_t n,
                                     int64_t fee_amount) {
  AccountState& a = accounts_[o.account.value];
  MarginLine* l = find_line(a, o.instrument);
  if (l == nullptr) margin_panic("MARGIN fill without a margin line");
  touch_line(o.account, a, *l);
  int64_t new_reserve;
  if (!notional(in, o.hold_price, o.leaves(), &new_reserve)) margin_panic("margin reserve overflow");
  if (o.side == Side::kBuy) {
    l->buy_reserve -= o.hold.value - new_reserve;
    l->buy_open -= f.value;
    ledger_.adjust_pool(in.spec.base, f.value);
    ledger_.adjust_pool(in.spec.quote, -n);
  } else {
    l->sell_reserve -= o.hold.value - new_reserve;
    l->sell_open -= f.value;
    ledger_.adjust_pool(in.spec.base, -f.value);
    ledger_.adjust_pool(in.spec.quote, n);
  }
  o.hold = Amount{new_reserve};
  const Int128 realized = position::apply_fill(l->pos, o.side, f.value, px, in.divisor);
  if (!fits_int64(realized)) margin_panic("realized PnL of one fill overflows int64");
  l->fees += fee_amount;
  ledger_.adjust_pool(in.spec.quote, -static_cast<int64_t>(realized));
  ledger_.adjust_available(o.account, in.spec.quote, static_cast<int64_t>(realized) - fee_amount);
  if (!a.loss.empty()) record_margin_result(o.account, in.spec.quote, realized - fee_amount);
}

void Engine::Impl::emit_position_changes() {
  if (line_touches_.empty()) return;
  std::sort(line_touches_.begin(), line_touches_.end(), [this](const detail::LineTouch& x, const detail::LineTouch& y) {
    if (x.account != y.account) return x.account < y.account;
    return accounts_[x.account].lines[x.line].instrument < accounts_[y.account].lines[y.line].instrument;
  });
  for (const detail::LineTouch& t : line_touches_) {
    const MarginLine& l = accounts_[t.account].lines[t.line];
    if (l.pos.qty == l.before.qty && l.pos.cost == l.before.cost && l.pos.realized == l.before.realized &&
        l.fees == l.before_fees) {
      continue;
    }
    Event& e = emit(EventType::kPositionChanged);
    e.position.qty = Qty{l.pos.qty};
    e.position.cost = Wide::of(l.pos.cost);
    e.position.realized = Wide::of(l.pos.realized);
    e.position.fees = Wide::of(l.fees);
    e.position.account = AccountId{t.account};
    e.position.instrument = l.instrument;
  }
}

RejectReason Engine::Impl::margin_params_problem(const InstrumentState& in, const SetMarginParams& m) const {
  if (in.spec.external) return RejectReason::kInstrumentExternal;
  // Margin calls are tracked per collateral asset in a 64-bit mask.
  if (in.spec.quote.value >= 64) return RejectReason::kInvalidMarginParams;
  const auto source = static_cast<uint8_t>(m.mark_source);
  if (source < 1 || source > 3) return RejectReason::kInvalidMarginParams;
  if (m.mark_source == MarkSource::kReference) {
    const InstrumentState* ref = instrument_state(m.mark_reference);
    if (ref == nullptr || ref == &in || !ref->spec.external || ref->spec.base != in.spec.base ||
        ref->spec.quote != in.spec.quote || ref->spec.price_scale != in.spec.price_scale) {
      return RejectReason::kInvalidMarginParams;
    }
  } else if (m.mark_reference) {
    return RejectReason::kInvalidMarginParams;
  }
  for (int t = 0; t < kMarginTiers; ++t) {
    const uint32_t im = m.initial_ppm[t];
    const uint32_t mm = m.maintenance_ppm[t];
    const bool ok = im == 0 ? mm == 0 : (mm >= 1 && mm <= im && im <= position::kPpm);
    if (!ok) return RejectReason::kInvalidMarginParams;
  }
  return RejectReason::kNone;
}

void Engine::Impl::set_margin_params(const SetMarginParams& m) {
  InstrumentState* in = instrument_state(m.instrument);
  const RejectReason r = in == nullptr ? RejectReason::kUnknownInstrument : margin_params_problem(*in, m);
  if (r != RejectReason::kNone) return reject(r, ClientOrderId{}, OrderId{}, AccountId{}, m.instrument);
  in->margin = m;
  in->mark_dirty = true;
  std::fill(std::begin(in->margin.reserved), std::end(in->margin.reserved), uint8_t{0});
  emit(EventType::kMarginParamsSet).margin_params = in->margin;
}

// ---------------------------------------------------------------------------
// Margin calls and liquidation

bool Engine::Impl::is_dirty(const InstrumentState& in) const {
  if (in.mark_dirty) return true;
  if (in.margin.mark_source != MarkSource::kReference) return false;
  const InstrumentState* ref = instrument_state(in.margin.mark_reference);
  return ref != nullptr && ref->mark_dirty;
}

// Every account with a line in an instrument whose mark (or terms, book or
// trades) changed since the last sweep is checked in each collateral asset
// those lines are quoted in, ascending account then asset: deterministic,
// and an idle market costs one pass over the list.
void Engine::Impl::sweep_margin() {
  std::vector<uint32_t> assets;
  for (std::size_t i = 0; i < margin_accounts_.size(); ++i) {
    const uint32_t id = margin_accounts_[i];
    assets.clear();
    const bool recheck = accounts_[id].margin_recheck;
    accounts_[id].margin_recheck = false;
    for (const MarginLine& l : accounts_[id].lines) {
      const InstrumentState& in = *instrument_state(l.instrument);
      if (recheck || is_dirty(in)) assets.push_back(in.spec.quote.value);
    }
    std::sort(assets.begin(), assets.end());
    assets.erase(std::unique(assets.begin(), assets.end()), assets.end());
    for (const uint32_t asset : assets) check_margin_call(id, AssetId{asset});
  }
  for (auto& in : instruments_) {
    if (in) in->mark_dirty = false;
  }
}

void Engine::Impl::emit_margin_status(uint32_t account, AssetId asset, const MarginView& v, bool in_call) {
  Event& e = emit(EventType::kMarginStatusChanged);
  e.margin_status.equity = Wide::of(v.equity);
  e.margin_status.maintenance = Wide::of(v.maintenance);
  e.margin_status.initial = Wide::of(v.initial);
  e.margin_status.account = AccountId{account};
  e.margin_status.asset = asset;
  e.margin_status.in_call = in_call ? 1 : 0;
}

void Engine::Impl::check_margin_call(uint32_t account, AssetId asset) {
  AccountState& a = accounts_[account];
  const uint64_t bit = uint64_t{1} << asset.value;
  MarginView v = margin_with(a, AccountId{account}, asset, InstrumentId{}, Side::kBuy, 0);
  if (v.maintenance > 0 && v.equity < v.maintenance) {
    if (!(a.margin_calls & bit)) {
      a.margin_calls |= bit;
      emit_margin_status(account, asset, v, true);
    }
    close_margin(AccountId{account}, asset, InstrumentId{}, LiquidationReason::kMarginCall);
    v = margin_with(a, AccountId{account}, asset, InstrumentId{}, Side::kBuy, 0);
    if (v.maintenance > 0 && v.equity < v.maintenance) return;  // no liquidity yet: the next sweep retries
  }
  if (a.margin_calls & bit) {
    a.margin_calls &= ~bit;
    emit_margin_status(account, asset, v, false);
  }
}

void Engine::Impl::close_margin(AccountId account, AssetId asset, InstrumentId only, LiquidationReason reason) {
  AccountState& a = accounts_[account.value];
  auto in_scope = [&](InstrumentId id) {
    return (!only || id == only) && (!asset || instrument_state(id)->spec.quote == asset);
  };
  const CancelReason why = reason == LiquidationReason::kMarginCall ? CancelReason::kMarginCall : CancelReason::kSquareOff;
  for (uint32_t oi = a.head; oi != detail::kNil;) {
    const uint32_t next = orders_[oi].acct_next;
    if (orders_[oi].product == Product::kMargin && in_scope(orders_[oi].instrument)) cancel(oi, why);
    oi = next;
  }
  struct Open {
    Int128 unrealized;
    InstrumentId instrument;
  };
  std::vector<Open> open;  // the rare path: allocating here is fine
  for (const MarginLine& l : a.lines) {
    if (l.pos.qty == 0 || !in_scope(l.instrument)) continue;
    const InstrumentState& in = *instrument_state(l.instrument);
    open.push_back({position::unrealized(l.pos, mark_of(in), in.divisor), l.instrument});
  }
  std::sort(open.begin(), open.end(), [](const Open& x, const Open& y) {
    return x.unrealized != y.unrealized ? x.unrealized < y.unrealized : x.instrument < y.instrument;
  });
  for (const Open& o : open) {
    if (reason == LiquidationReason::kMarginCall) {
      const MarginView v = margin_with(a, account, asset, InstrumentId{}, Side::kBuy, 0);
      if (v.equity >= v.maintenance) break;  // restored: keep the rest
    }
    close_position(account, o.instrument, reason, o.unrealized);
  }
}

// MARKET IOC orders for the whole position, max_qty at a time, until it is
// flat or the book has nothing more within the band. Nothing at all (no
// event) while the instrument is not trading or nothing on the other side
// is within the band: the sweep after the book or status changes retries.
void Engine::Impl::close_position(AccountId account, InstrumentId instrument, LiquidationReason reason,
                                  Int128 unrealized) {
  AccountState& a = accounts_[account.value];
  InstrumentState& in = *instrument_state(instrument);
  const MarginLine* l = find_line(a, instrument);
  if (in.spec.status != InstrumentStatus::kTrading) return;
  const detail::PriceLadder& other = in.book.ladder(l->pos.qty > 0 ? Side::kBuy : Side::kSell);
  if (other.empty() || (l->pos.qty > 0 ? other.best().price < band_low(in) : other.best().price > band_high(in))) return;
  Event& e = emit(EventType::kLiquidation);
  e.liquidation.qty = Qty{l->pos.qty};
  e.liquidation.unrealized = Wide::of(unrealized);
  e.liquidation.account = account;
  e.liquidation.instrument = instrument;
  e.liquidation.reason = reason;
  const int64_t chunk = in.spec.max_qty.value - in.spec.max_qty.value % in.spec.lot_size.value;
  liquidating_ = true;
  // Every round fills at least a lot or stops: bounded by the position and the book.
  while (l->pos.qty != 0) {
    const int64_t before = l->pos.qty;
    PlaceOrder p{};
    p.account = account;
    p.instrument = instrument;
    p.side = before > 0 ? Side::kSell : Side::kBuy;
    p.type = OrderType::kMarket;
    p.tif = TimeInForce::kIoc;
    p.stp = StpMode::kCancelOldest;  // the account's own resting orders give way
    p.product = Product::kMargin;
    p.qty = Qty{std::min(before > 0 ? before : -before, chunk)};
    place_order(p);
    l = find_line(a, instrument);
    if (l->pos.qty == before) break;  // nothing to trade against
    if (in.spec.status != InstrumentStatus::kTrading) break;  // the breaker tripped: retried once it trades
  }
  liquidating_ = false;
}

void Engine::Impl::square_off(const SquareOff& s) {
  if (s.instrument && instrument_state(s.instrument) == nullptr) {
    return reject(RejectReason::kUnknownInstrument, ClientOrderId{}, OrderId{}, AccountId{}, s.instrument);
  }
  if (!s.instrument) last_square_off_ = cause_->timestamp;  // what the daily scheduler looks for
  for (std::size_t i = 0; i < margin_accounts_.size(); ++i) {
    close_margin(AccountId{margin_accounts_[i]}, AssetId{}, s.instrument, LiquidationReason::kSquareOff);
  }
}

// ---------------------------------------------------------------------------
// Queries

Price Engine::Impl::mark_price(InstrumentId id) const {
  const InstrumentState* in = instrument_state(id);
  return in == nullptr ? Price{} : mark_of(*in);
}

void Engine::Impl::for_each_position(const std::function<void(const PositionView&)>& fn) const {
  std::vector<const MarginLine*> lines;
  for (uint32_t acct = 1; acct < accounts_.size(); ++acct) {
    const AccountState& a = accounts_[acct];
    if (a.lines.empty()) continue;
    lines.clear();
    for (const MarginLine& l : a.lines) lines.push_back(&l);
    std::sort(lines.begin(), lines.end(), [](const MarginLine* x, const MarginLine* y) {
      return x->instrument < y->instrument;
    });
    for (const MarginLine* l : lines) {
      fn(PositionView{AccountId{acct}, l->instrument, l->pos.qty, l->pos.cost, l->pos.realized, l->fees,
                      l->buy_reserve, l->sell_reserve});
    }
  }
}

MarginView Engine::Impl::margin(AccountId account, AssetId collateral) const {
  if (account.value == 0 || account.value >= accounts_.size() || !accounts_[account.value].exists) return {};
  return margin_with(accounts_[account.value], account, collateral, InstrumentId{}, Side::kBuy, 0);
}

}  // namespace bourse

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

// The rates a line is held to. A position whose tier lost its rate (terms
// changed, or the account was made cash-only) is held to 100%.
uint32_t initial_rate(const detail::InstrumentState& in, uint8_t tier) {
  const uint32_t r = in.margin.initial_ppm[std::max<int>(tier, 1) - 1];
  return r ? r : static_cast<uint32_t>(position::kPpm);
}
uint32_t maintenance_rate(const detail::InstrumentState& in, uint8_t tier) {
  const uint32_t r = in.margin.maintenance_ppm[std::max<int>(tier, 1) - 1];
  return r ? r : static_cast<uint32_t>(position::kPpm);
}

}  // namespace

Price Engine::Impl::mark_of(const InstrumentState& in) const {
  switch (in.margin.mark_source) {
    case MarkSource::kMid: {
      const detail::PriceLadder& bids = in.book.ladder(Side::kBuy);
      const detail::PriceLadder& asks = in.book.ladder(Side::kSell);
      if (!bids.empty() && !asks.empty()) {
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
  MarginView v;
  v.equity = ledger_.get(account, collateral).available.value;
  auto add = [&](const InstrumentState& in, const position::Position& pos, Int128 buys, Int128 sells) {
    const Int128 value = position::value(pos.qty, mark_of(in), in.divisor);
    v.equity += value - pos.cost;
    v.initial += position::initial_requirement(value, buys, sells, initial_rate(in, a.margin_tier),
                                               static_cast<uint32_t>(in.hold_fee_ppm));
    v.maintenance += position::maintenance_requirement(value, maintenance_rate(in, a.margin_tier));
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
  switch (type) {
    case OrderType::kLimit:
    case OrderType::kStopLimit: *out = price; return true;
    case OrderType::kMarket: *out = side == Side::kBuy ? band_high(in) : band_low(in); return true;
    case OrderType::kStopMarket:
      if (side == Side::kSell) {
        *out = stop;
        return true;
      }
      return stop_market_hold_price(in, stop, out);
  }
  return false;
}

RejectReason Engine::Impl::check_margin_order(const AccountState& a, AccountId account, const InstrumentState& in,
                                              Side side, Qty qty, Int128 old_reserve, Qty old_leaves,
                                              int64_t new_reserve) const {
  if (a.margin_tier == 0 || in.margin.initial_ppm[a.margin_tier - 1] == 0) return RejectReason::kMarginNotAllowed;
  // Bound the position: even if every open order filled, it fits in int64.
  const MarginLine* l = find_line(a, in.spec.id);
  Int128 reach = qty.value - old_leaves.value;
  if (l != nullptr) reach += position::abs128(l->pos.qty) + l->buy_open + l->sell_open;
  if (reach > INT64_MAX) return RejectReason::kOverflow;
  // An order that does not push its own side's exposure (position plus
  // that side's open orders) further from zero — one that reduces a
  // position, or an amend down — is always allowed: it is how an account
  // under water gets out. Anything else must leave free margin >= 0.
  const Int128 extra = new_reserve - old_reserve;
  const Int128 value = l == nullptr ? 0 : position::value(l->pos.qty, mark_of(in), in.divisor);
  const Int128 reserve = l == nullptr ? 0 : (side == Side::kBuy ? l->buy_reserve : l->sell_reserve);
  auto exposure = [&](Int128 r) { return position::abs128(side == Side::kBuy ? value + r : value - r); };
  if (exposure(reserve + extra) <= exposure(reserve)) return RejectReason::kNone;
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

void Engine::Impl::set_margin_params(const SetMarginParams& m) {
  auto refuse = [&](RejectReason r) { reject(r, ClientOrderId{}, OrderId{}, AccountId{}, m.instrument); };
  InstrumentState* in = instrument_state(m.instrument);
  if (in == nullptr) return refuse(RejectReason::kUnknownInstrument);
  if (in->spec.external) return refuse(RejectReason::kInstrumentExternal);
  const auto source = static_cast<uint8_t>(m.mark_source);
  if (source < 1 || source > 3) return refuse(RejectReason::kInvalidMarginParams);
  if (m.mark_source == MarkSource::kReference) {
    const InstrumentState* ref = instrument_state(m.mark_reference);
    if (ref == nullptr || ref == in || !ref->spec.external || ref->spec.base != in->spec.base ||
        ref->spec.quote != in->spec.quote || ref->spec.price_scale != in->spec.price_scale) {
      return refuse(RejectReason::kInvalidMarginParams);
    }
  } else if (m.mark_reference) {
    return refuse(RejectReason::kInvalidMarginParams);
  }
  for (int t = 0; t < kMarginTiers; ++t) {
    const uint32_t im = m.initial_ppm[t];
    const uint32_t mm = m.maintenance_ppm[t];
    const bool ok = im == 0 ? mm == 0 : (mm >= 1 && mm <= im && im <= position::kPpm);
    if (!ok) return refuse(RejectReason::kInvalidMarginParams);
  }
  in->margin = m;
  std::fill(std::begin(in->margin.reserved), std::end(in->margin.reserved), uint8_t{0});
  emit(EventType::kMarginParamsSet).margin_params = in->margin;
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

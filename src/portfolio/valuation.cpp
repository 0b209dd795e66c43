#include "portfolio/valuation.h"

#include <algorithm>

#include "bourse/engine/position.h"

namespace bourse::portfolio {
namespace {

std::optional<Int128> mul(Int128 a, Int128 b) {
  Int128 out;
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

}  // namespace

PriceBook::PriceBook(const marketdata::MarketView& market) {
  for (const AssetSpec& a : market.assets()) assets_[a.id.value] = a;
  instruments_ = market.instruments();
  std::sort(instruments_.begin(), instruments_.end(),
            [](const auto& a, const auto& b) { return a.spec.id < b.spec.id; });
  marks_.reserve(instruments_.size());
  for (const auto& i : instruments_) marks_.push_back(market.mark_price(i.spec.id));
  // One instrument per (base, quote): venue instruments before external
  // references, then the lowest id; only those with a price.
  for (int external = 0; external <= 1; ++external) {
    for (std::size_t k = 0; k < instruments_.size(); ++k) {
      const auto& s = instruments_[k].spec;
      if (s.external != external || marks_[k].value <= 0 || notional_divisor(instruments_[k]) <= 0) continue;
      pairs_.try_emplace({s.base.value, s.quote.value}, k);
    }
  }
}

const marketdata::InstrumentInfo* PriceBook::instrument(InstrumentId id) const {
  auto it = std::lower_bound(instruments_.begin(), instruments_.end(), id,
                             [](const auto& i, InstrumentId v) { return i.spec.id < v; });
  return it != instruments_.end() && it->spec.id == id ? &*it : nullptr;
}

const marketdata::InstrumentInfo* PriceBook::pair(AssetId base, AssetId quote) const {
  auto it = pairs_.find({base.value, quote.value});
  return it == pairs_.end() ? nullptr : &instruments_[it->second];
}

Price PriceBook::mark(InstrumentId id) const {
  const auto* i = instrument(id);
  return i ? marks_[static_cast<std::size_t>(i - instruments_.data())] : Price{0};
}

const AssetSpec* PriceBook::asset(AssetId id) const {
  auto it = assets_.find(id.value);
  return it == assets_.end() ? nullptr : &it->second;
}

// The instrument between two assets, either way round: a venue instrument
// before an external one, then the lower id.
std::optional<PriceBook::Leg> PriceBook::leg(AssetId from, AssetId to) const {
  std::optional<Leg> best;
  auto consider = [&](std::size_t k, bool base_to_quote) {
    auto rank = [&](std::size_t i) { return std::pair{instruments_[i].spec.external, instruments_[i].spec.id.value}; };
    if (!best || rank(k) < rank(best->instrument)) best = Leg{k, base_to_quote};
  };
  if (auto it = pairs_.find({from.value, to.value}); it != pairs_.end()) consider(it->second, true);
  if (auto it = pairs_.find({to.value, from.value}); it != pairs_.end()) consider(it->second, false);
  return best;
}

// base → quote: N(mark, amount) = floor(amount × p / D); quote → base:
// floor(amount × D / p).
std::optional<Int128> PriceBook::through(const Leg& leg, Int128 amount) const {
  const Int128 p = marks_[leg.instrument].value;
  const Int128 d = notional_divisor(instruments_[leg.instrument]);
  auto product = mul(amount, leg.base_to_quote ? p : d);
  if (!product) return std::nullopt;
  return position::floor_div(*product, leg.base_to_quote ? d : p);
}

std::optional<Int128> PriceBook::convert(AssetId from, Int128 amount, AssetId to) const {
  if (from == to || amount == 0) return amount;
  if (auto direct = leg(from, to)) return through(*direct, amount);
  for (const auto& [id, spec] : assets_) {
    const AssetId via{id};
    if (via == from || via == to) continue;
    auto first = leg(from, via);
    auto second = leg(via, to);
    if (!first || !second) continue;
    auto mid = through(*first, amount);
    return mid ? through(*second, *mid) : std::nullopt;
  }
  return std::nullopt;
}

Valuation value_account(const accounts::AccountHoldings& in, const PriceBook& prices, AssetId currency,
                        int64_t today) {
  Valuation v;
  v.currency = currency;
  std::size_t c = 0;  // costs are ascending by asset, like balances
  auto add_holding = [&](AssetId asset, int64_t available, int64_t locked, const accounts::HoldingCost* cost) {
    HoldingValue h;
    h.asset = asset;
    h.available = available;
    h.locked = locked;
    h.total = static_cast<Int128>(available) + locked;
    if (cost) {
      if (cost->flow_day == today) h.net_flow_today = cost->net_flow;
      for (const accounts::CostLine& line : cost->lines) {
        CostLineValue lv{line, Price{0}, std::nullopt};
        if (const auto* ins = prices.pair(asset, line.quote)) {
          const int64_t d = notional_divisor(*ins);
          if (line.qty > 0) {
            auto scaled = mul(line.cost, d);
            if (scaled) lv.average_price = Price{static_cast<int64_t>(std::clamp<Int128>(*scaled / line.qty, 0, INT64_MAX))};
          }
          lv.unrealized = position::value(line.qty, prices.mark(ins->spec.id), d) - line.cost;
        }
        h.cost.push_back(lv);
      }
    }
    if (h.total != 0) {
      h.value = prices.convert(asset, h.total, currency);
      if (h.value) v.holdings_value += *h.value;
      else v.complete = false;
    }
    if (h.net_flow_today != 0) {
      if (auto f = prices.convert(asset, h.net_flow_today, currency)) v.net_flow_value += *f;
      else v.complete = false;
    }
    if (h.total != 0 || !h.cost.empty() || h.net_flow_today != 0) v.holdings.push_back(std::move(h));
  };
  for (const accounts::BalanceRecord& b : in.balances) {
    while (c < in.costs.size() && in.costs[c].asset < b.asset) {
      add_holding(in.costs[c].asset, 0, 0, &in.costs[c]);  // sold out, but realized PnL or a flow to show
      ++c;
    }
    const accounts::HoldingCost* cost = c < in.costs.size() && in.costs[c].asset == b.asset ? &in.costs[c++] : nullptr;
    add_holding(b.asset, b.available.value, b.locked.value, cost);
  }
  for (; c < in.costs.size(); ++c) add_holding(in.costs[c].asset, 0, 0, &in.costs[c]);

  for (const accounts::PositionRecord& p : in.positions) {
    PositionValue pv;
    pv.position = p;
    if (const auto* ins = prices.instrument(p.instrument)) {
      pv.quote = ins->spec.quote;
      pv.mark = prices.mark(p.instrument);
      position::Position pos{p.qty, p.cost, p.realized};
      pv.unrealized = position::unrealized(pos, pv.mark, notional_divisor(*ins));
      pv.value = prices.convert(pv.quote, pv.unrealized, currency);
    }
    if (pv.value) v.unrealized_value += *pv.value;
    else if (p.qty != 0) v.complete = false;
    v.positions.push_back(pv);
  }
  return v;
}

}  // namespace bourse::portfolio

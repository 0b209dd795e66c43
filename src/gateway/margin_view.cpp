#include "gateway/margin_view.h"

#include <algorithm>
#include <map>

#include "bourse/engine/position.h"

namespace bourse::gateway {

namespace {

struct Line {
  position::Position pos;
  Int128 buys = 0, sells = 0;
};

}  // namespace

// The engine bounded the exponent to 0..18.
std::vector<CollateralMargin> compute_margin(const accounts::AccountReadModel& accounts,
                                             const marketdata::MarketView& market, AccountId account,
                                             std::span<const HypotheticalReserve> extra) {
  std::map<uint32_t, Line> lines;  // by instrument
  for (const accounts::PositionRecord& p : accounts.positions(account)) {
    lines[p.instrument.value].pos = {p.qty, p.cost, p.realized};
  }
  accounts::OrderFilter open;
  open.open = true;
  open.limit = SIZE_MAX;
  for (const accounts::OrderRecord& o : accounts.orders(account, open)) {
    if (o.product != Product::kMargin) continue;
    const auto info = market.instrument(o.instrument);
    if (!info) continue;
    const Int128 reserve = static_cast<Int128>(o.hold_price.value) * (o.qty.value - o.filled.value) / notional_divisor(*info);
    Line& l = lines[o.instrument.value];
    (o.side == Side::kBuy ? l.buys : l.sells) += reserve;
  }
  for (const HypotheticalReserve& h : extra) {
    Line& l = lines[h.instrument.value];
    (h.side == Side::kBuy ? l.buys : l.sells) += h.reserve;
  }

  const accounts::AccountSummary summary = accounts.summary(account);
  const uint8_t tier = summary.margin_tier;  // 0: cash only, every line held to 100%
  std::map<uint32_t, position::MarginTotals> totals;  // by collateral asset
  for (const auto& [instrument, l] : lines) {
    const auto info = market.instrument(InstrumentId{instrument});
    if (!info) continue;
    const auto fee_ppm = static_cast<uint32_t>(std::max(info->spec.maker_fee_ppm, info->spec.taker_fee_ppm));
    position::add_line(totals[info->spec.quote.value], l.pos, l.buys, l.sells, market.mark_price(InstrumentId{instrument}),
                       notional_divisor(*info), tier ? info->margin.initial_ppm[tier - 1] : 0,
                       tier ? info->margin.maintenance_ppm[tier - 1] : 0, fee_ppm);
  }

  const std::vector<uint32_t> calls = accounts.margin_calls(account);
  std::map<uint32_t, Int128> available;
  for (const accounts::BalanceRecord& b : accounts.balances(account)) available[b.asset.value] = b.available.value;
  std::vector<CollateralMargin> out;
  for (const auto& [asset, t] : totals) {
    CollateralMargin m;
    m.asset = AssetId{asset};
    m.available = available[asset];
    m.unrealized = t.unrealized;
    m.initial = t.initial;
    m.maintenance = t.maintenance;
    m.in_call = std::find(calls.begin(), calls.end(), asset) != calls.end();
    out.push_back(m);
  }
  return out;
}

}  // namespace bourse::gateway

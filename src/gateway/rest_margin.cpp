// Margin endpoints: the caller's cross margin per collateral asset
// (GET /v1/margin) and the pre-trade calculator (POST /v1/margins/orders),
// which prices hypothetical orders — their hold or margin and their
// charges — without placing them. Both rebuild the engine's arithmetic
// from the read models (gateway/margin_view.h).
#include <algorithm>
#include <map>

#include "bourse/core/decimal.h"
#include "bourse/engine/position.h"
#include "gateway/json_body.h"
#include "gateway/json_writer.h"
#include "gateway/margin_view.h"
#include "gateway/render.h"
#include "gateway/rest_api.h"

namespace bourse::gateway {
namespace {

constexpr std::size_t kMaxCalculatorOrders = 50;

// The engine's band around the reference price (docs/engine.md, "Price band").
Price band_high(const marketdata::InstrumentInfo& i) {
  const Int128 ref = (i.last_price.value ? i.last_price : i.spec.reference_price).value;
  const Int128 tick = i.spec.tick_size.value;
  Int128 high = ref * (10'000 + i.spec.band_bps) / (10'000 * tick) * tick;
  if (i.circuits.upper.value && high > i.circuits.upper.value) high = i.circuits.upper.value;  // clipped, as the engine's
  return Price{static_cast<int64_t>(std::min<Int128>(high, INT64_MAX / 2))};
}
Price band_low(const marketdata::InstrumentInfo& i) {
  const Int128 ref = (i.last_price.value ? i.last_price : i.spec.reference_price).value;
  const Int128 tick = i.spec.tick_size.value;
  const Int128 den = 10'000 * tick;
  Int128 low = (ref * (10'000 - i.spec.band_bps) + den - 1) / den * tick;
  if (i.circuits.lower.value && low < i.circuits.lower.value) low = i.circuits.lower.value;
  return Price{static_cast<int64_t>(std::max<Int128>(low, tick))};
}

// The price the engine would hold (CASH buys) or reserve (MARGIN) this
// order at (docs/engine.md); CASH sells are priced like buys, for the fee.
Price hold_price_of(const marketdata::InstrumentInfo& i, Side side, OrderType type, Price price, Price stop,
                    Product product, Price mark) {
  if (side == Side::kSell && product == Product::kMargin) {
    switch (type) {
      case OrderType::kLimit: return std::max(price, mark);
      case OrderType::kStopLimit: return std::max(price, stop);
      case OrderType::kMarket: return std::max(mark, band_low(i));
      case OrderType::kStopMarket: return stop;
    }
  }
  switch (type) {
    case OrderType::kLimit:
    case OrderType::kStopLimit: return price;
    case OrderType::kMarket: return band_high(i);
    case OrderType::kStopMarket: {
      const Int128 tick = i.spec.tick_size.value;
      const Int128 p = static_cast<Int128>(stop.value) * (10'000 + i.spec.band_bps) / (10'000 * tick) * tick;
      return Price{static_cast<int64_t>(std::min<Int128>(p, INT64_MAX / 2))};
    }
  }
  return price;
}

void write_margin(JsonWriter& w, const AssetSpec& asset, const CollateralMargin& m) {
  w.field("currency", asset.code.view());
  w.field("available", format_wide_decimal(m.available, asset.scale));
  w.field("unrealized_pnl", format_wide_decimal(m.unrealized, asset.scale));
  w.field("equity", format_wide_decimal(m.equity(), asset.scale));
  w.field("initial_margin", format_wide_decimal(m.initial, asset.scale));
  w.field("maintenance_margin", format_wide_decimal(m.maintenance, asset.scale));
  w.field("free_margin", format_wide_decimal(m.free(), asset.scale));
  w.field("in_call", m.in_call);
}

}  // namespace

void RestApi::get_margin(const std::shared_ptr<Call>& call) {
  const AccountId account{call->principal.user_id};
  std::string out;
  JsonWriter w(&out);
  w.begin_object().field("tier", services_.accounts->summary(account).margin_tier).key("margin").begin_array();
  for (const CollateralMargin& m : compute_margin(*services_.accounts, market_, account)) {
    const auto asset = market_.asset(m.asset);
    if (!asset) continue;
    w.begin_object();
    write_margin(w, *asset, m);
    w.end_object();
  }
  w.end_array().end_object();
  call->json(200, std::move(out));
}

void RestApi::post_margin_orders(const std::shared_ptr<Call>& call) {
  JsonBody body(call->request.header("content-type"), call->request.body, {"orders"});
  std::vector<JsonBody> items;
  body.object_list("orders", kMaxCalculatorOrders,
                   {"symbol", "side", "type", "qty", "price", "stop_price", "product"}, &items);
  if (!body.ok()) return call->fail(body.problem());

  struct Priced {
    marketdata::InstrumentInfo info;
    Side side = Side::kBuy;
    Product product = Product::kCash;
    Int128 notional = 0;  // at the hold price
    Int128 fee = 0;       // at the taker rate: the most it can cost
    int64_t qty = 0;
  };
  std::vector<Priced> priced;
  std::vector<HypotheticalReserve> reserves;
  for (std::size_t n = 0; n < items.size(); ++n) {
    JsonBody& o = items[n];
    const std::string where = "orders[" + std::to_string(n) + "]: ";
    std::string symbol, side, type = "LIMIT", product = "CASH";
    o.string("symbol", &symbol, true);
    o.string("side", &side, true);
    o.string("type", &type);
    o.string("product", &product);
    if (!o.ok()) return call->fail(o.problem());
    const auto info = market_.instrument(symbol);
    if (!info) return call->fail(422, "UNKNOWN_SYMBOL", where + "no instrument named '" + symbol + "'");
    Priced p{*info};
    if (side == "BUY") p.side = Side::kBuy;
    else if (side == "SELL") p.side = Side::kSell;
    else return call->fail(422, "INVALID_SIDE", where + "side: BUY or SELL");
    OrderType t;
    if (type == "LIMIT") t = OrderType::kLimit;
    else if (type == "MARKET") t = OrderType::kMarket;
    else if (type == "STOP_LIMIT") t = OrderType::kStopLimit;
    else if (type == "STOP_MARKET") t = OrderType::kStopMarket;
    else return call->fail(422, "INVALID_ORDER_TYPE", where + "type: LIMIT, MARKET, STOP_LIMIT or STOP_MARKET");
    if (product == "CASH") p.product = Product::kCash;
    else if (product == "MARGIN") p.product = Product::kMargin;
    else return call->fail(422, "INVALID_PRODUCT", where + "product: CASH or MARGIN");
    int64_t qty = 0, price = 0, stop = 0;
    const bool needs_price = t == OrderType::kLimit || t == OrderType::kStopLimit;
    const bool needs_stop = t == OrderType::kStopLimit || t == OrderType::kStopMarket;
    decimal_field(o, "qty", info->base.scale, true, &qty);
    if (decimal_field(o, "price", info->spec.price_scale, needs_price, &price) && !needs_price) {
      o.fail(422, "INVALID_ORDER", "price is not allowed on " + type + " orders");
    }
    if (decimal_field(o, "stop_price", info->spec.price_scale, needs_stop, &stop) && !needs_stop) {
      o.fail(422, "INVALID_ORDER", "stop_price is only for stop orders");
    }
    if (!o.ok()) {
      Problem problem = o.problem();
      problem.detail = where + problem.detail;
      return call->fail(problem);
    }
    const Price hp = hold_price_of(*info, p.side, t, Price{price}, Price{stop}, p.product,
                                   market_.mark_price(info->spec.id));
    p.notional = static_cast<Int128>(hp.value) * qty / notional_divisor(*info);
    p.fee = position::ppm_floor(p.notional, static_cast<uint32_t>(std::max(info->spec.taker_fee_ppm, 0)));
    p.qty = qty;
    if (p.product == Product::kMargin) reserves.push_back({info->spec.id, p.side, p.notional});
    priced.push_back(p);
  }

  const AccountId account{call->principal.user_id};
  const std::vector<CollateralMargin> before = compute_margin(*services_.accounts, market_, account);
  // What the engine's "reducing" rule sees: each position, and the open
  // MARGIN quantity per (instrument, side) including the list so far.
  std::map<uint32_t, int64_t> position_qty;
  for (const accounts::PositionRecord& p : services_.accounts->positions(account)) position_qty[p.instrument.value] = p.qty;
  std::map<std::pair<uint32_t, int>, Int128> open_qty;
  accounts::OrderFilter live;
  live.open = true;
  live.limit = SIZE_MAX;
  for (const accounts::OrderRecord& o : services_.accounts->orders(account, live)) {
    if (o.product == Product::kMargin) open_qty[{o.instrument.value, static_cast<int>(o.side)}] += o.qty.value - o.filled.value;
  }
  // CASH buys lock quote: the engine counts those holds against free margin.
  std::map<uint32_t, Int128> cash_holds;
  std::string out;
  JsonWriter w(&out);
  w.begin_object().key("orders").begin_array();
  // Each MARGIN order's margin is what it adds on top of the orders before
  // it in the list (so the per-order figures sum to the total).
  std::vector<HypotheticalReserve> so_far;
  auto initial_in = [](const std::vector<CollateralMargin>& v, AssetId asset) {
    for (const CollateralMargin& m : v) {
      if (m.asset == asset) return m.initial;
    }
    return Int128{0};
  };
  for (const Priced& p : priced) {
    const auto& i = p.info;
    w.begin_object().field("symbol", i.spec.symbol.view()).field("side", p.side == Side::kBuy ? "BUY" : "SELL");
    w.field("product", product_name(p.product));
    w.field("notional", format_wide_decimal(p.notional, i.quote.scale));
    if (p.product == Product::kMargin) {
      // A MARGIN order locks nothing; it adds to the initial margin. One
      // that reduces the position is accepted whatever the margin.
      const int64_t pos = position_qty[i.spec.id.value];
      Int128& same_side = open_qty[{i.spec.id.value, static_cast<int>(p.side)}];
      same_side += p.qty;
      const bool reducing = (p.side == Side::kBuy ? pos < 0 : pos > 0) && same_side <= position::abs128(pos);
      const Int128 prior = initial_in(compute_margin(*services_.accounts, market_, account, so_far), i.spec.quote);
      so_far.push_back({i.spec.id, p.side, p.notional});
      const Int128 with = initial_in(compute_margin(*services_.accounts, market_, account, so_far), i.spec.quote);
      w.field("initial_margin", format_wide_decimal(with - prior, i.quote.scale));
      w.field("reducing", reducing);
      w.field("hold", format_wide_decimal(0, i.quote.scale));
      w.field("hold_asset", i.quote.code.view());
    } else if (p.side == Side::kBuy) {
      // A CASH buy locks its notional plus the fee at the higher rate.
      const auto hold_fee = static_cast<uint32_t>(std::max(i.spec.maker_fee_ppm, i.spec.taker_fee_ppm));
      const Int128 hold = p.notional + position::ppm_floor(p.notional, hold_fee);
      cash_holds[i.spec.quote.value] += hold;
      w.field("initial_margin", format_wide_decimal(0, i.quote.scale));
      w.field("hold", format_wide_decimal(hold, i.quote.scale));
      w.field("hold_asset", i.quote.code.view());
    } else {
      // A CASH sell locks its quantity of the base asset.
      w.field("initial_margin", format_wide_decimal(0, i.quote.scale));
      w.field("hold", format_decimal(p.qty, i.base.scale));
      w.field("hold_asset", i.base.code.view());
    }
    w.key("charges").begin_object();
    w.field("fees", format_wide_decimal(p.fee, i.quote.scale));
    w.field("currency", i.quote.code.view());
    w.end_object();
    w.end_object();
  }
  w.end_array().key("margin").begin_array();
  std::vector<CollateralMargin> after = compute_margin(*services_.accounts, market_, account, reserves);
  for (CollateralMargin& m : after) {
    m.available -= cash_holds[m.asset.value];
    const auto asset = market_.asset(m.asset);
    if (!asset) continue;
    w.begin_object();
    w.field("currency", asset->code.view());
    w.field("equity", format_wide_decimal(m.equity(), asset->scale));
    w.field("initial_margin_before", format_wide_decimal(initial_in(before, m.asset), asset->scale));
    w.field("initial_margin_after", format_wide_decimal(m.initial, asset->scale));
    w.field("free_margin_after", format_wide_decimal(m.free(), asset->scale));
    w.field("sufficient", m.free() >= 0);
    w.end_object();
  }
  w.end_array().end_object();
  call->json(200, std::move(out));
}

}  // namespace bourse::gateway

#include "gateway/render.h"

#include <algorithm>
#include <array>

#include "bourse/core/checked.h"
#include "bourse/core/crc32c.h"
#include "bourse/core/decimal.h"
#include "bourse/engine/event.h"
#include "bourse/engine/position.h"

#include "accounts/account_read_model.h"

namespace bourse::gateway {

std::string price_text(const marketdata::InstrumentInfo& i, Price p) { return format_decimal(p.value, i.spec.price_scale); }
std::string qty_text(const marketdata::InstrumentInfo& i, Qty q) { return format_decimal(q.value, i.base.scale); }
std::string quote_text(const marketdata::InstrumentInfo& i, Amount a) { return format_decimal(a.value, i.quote.scale); }

const char* instrument_status_name(InstrumentStatus s) {
  switch (s) {
    case InstrumentStatus::kTrading: return "TRADING";
    case InstrumentStatus::kHalted: return "HALTED";
    case InstrumentStatus::kClosed: return "CLOSED";
    case InstrumentStatus::kPreOpen: return "PRE_OPEN";
    case InstrumentStatus::kSessionClosed: return "SESSION_CLOSED";
  }
  return "UNKNOWN";
}

int64_t to_millis(Timestamp ns) { return static_cast<int64_t>(ns / 1'000'000); }

void render_instrument(JsonWriter& w, const marketdata::InstrumentInfo& i) {
  const InstrumentSpec& s = i.spec;
  w.begin_object();
  w.field("symbol", s.symbol.view());
  w.field("base", i.base.code.view());
  w.field("quote", i.quote.code.view());
  w.field("status", instrument_status_name(s.status));
  w.field("external", s.external != 0);  // traded elsewhere: market data only (ticks from a feed)
  w.field("tick_size", price_text(i, s.tick_size));
  w.field("lot_size", qty_text(i, s.lot_size));
  w.field("min_qty", qty_text(i, s.min_qty));
  w.field("max_qty", qty_text(i, s.max_qty));
  w.field("min_notional", quote_text(i, s.min_notional));
  w.field("price_decimals", s.price_scale);
  w.field("qty_decimals", i.base.scale);
  w.field("quote_decimals", i.quote.scale);
  w.field("price_band_bps", s.band_bps);
  w.field("maker_fee_ppm", s.maker_fee_ppm);
  w.field("taker_fee_ppm", s.taker_fee_ppm);
  w.key("last_price");
  if (i.last_price.value != 0) w.value(price_text(i, i.last_price)); else w.null();
  // Margin terms: how positions are marked and, per account tier, the
  // initial and maintenance rates (ppm of position value; absent tiers
  // cannot trade it on margin).
  const SetMarginParams& m = i.margin;
  w.key("margin").begin_object();
  w.field("mark_source", static_cast<uint8_t>(m.mark_source) == 0 ? "LAST" : mark_source_name(m.mark_source));
  w.key("tiers").begin_array();
  for (int t = 0; t < kMarginTiers; ++t) {
    if (m.initial_ppm[t] == 0) continue;
    w.begin_object().field("tier", t + 1).field("initial_ppm", m.initial_ppm[t]);
    w.field("maintenance_ppm", m.maintenance_ppm[t]).end_object();
  }
  w.end_array().end_object();
  // Circuits: static limits (null: none) and the breaker (docs/engine.md).
  const SetCircuitLimits& c = i.circuits;
  w.key("circuits").begin_object().key("lower");
  if (c.lower.value) w.value(price_text(i, c.lower)); else w.null();
  w.key("upper");
  if (c.upper.value) w.value(price_text(i, c.upper)); else w.null();
  w.field("breaker_bps", c.breaker_bps).field("window_s", c.window_s).field("cooloff_s", c.cooloff_s).end_object();
  w.key("halted_until");
  if (i.halted_until) w.value(to_millis(i.halted_until)); else w.null();
  w.end_object();
}

void render_levels(JsonWriter& w, const marketdata::InstrumentInfo& i, const std::vector<marketdata::BookLevel>& levels) {
  w.begin_array();
  for (const auto& l : levels) {
    w.begin_array();
    w.value(price_text(i, l.price));
    w.value(qty_text(i, l.qty));
    w.value(l.orders);
    w.end_array();
  }
  w.end_array();
}


uint32_t book_checksum(const marketdata::InstrumentInfo& i, const marketdata::BookSnapshot& book) {
  std::string text;
  auto side = [&](const std::vector<marketdata::BookLevel>& levels) {
    for (std::size_t k = 0; k < levels.size() && k < kChecksumLevels; ++k) {
      if (k > 0) text += ',';
      text += price_text(i, levels[k].price);
      text += ':';
      text += qty_text(i, levels[k].qty);
    }
  };
  side(book.bids);
  text += '|';
  side(book.asks);
  return crc32c(text.data(), text.size());
}

void render_book(JsonWriter& w, const marketdata::InstrumentInfo& i, const marketdata::BookSnapshot& book) {
  w.begin_object();
  w.field("symbol", i.spec.symbol.view());
  w.field("sequence", book.sequence);
  w.key("bids");
  render_levels(w, i, book.bids);
  w.key("asks");
  render_levels(w, i, book.asks);
  w.end_object();
}

void render_trade(JsonWriter& w, const marketdata::InstrumentInfo& i, const marketdata::TradeRecord& t) {
  w.begin_object();
  w.field("id", t.id.value);
  w.field("price", price_text(i, t.price));
  w.field("qty", qty_text(i, t.qty));
  w.field("quote_qty", quote_text(i, t.notional));
  w.field("side", t.aggressor_side == Side::kBuy ? "BUY" : "SELL");
  w.field("time", to_millis(t.time));
  w.end_object();
}

void render_ticker(JsonWriter& w, const marketdata::InstrumentInfo& i, const marketdata::TickerStats& t) {
  auto price_or_null = [&](std::string_view name, Price p) {
    w.key(name);
    if (p.value != 0) w.value(price_text(i, p)); else w.null();
  };
  w.begin_object();
  w.field("symbol", i.spec.symbol.view());
  price_or_null("last", t.last);
  price_or_null("open", t.open);
  price_or_null("high", t.high);
  price_or_null("low", t.low);
  // Change over the window, exact: last - open, and in percent with two
  // decimals (truncated toward zero).
  if (t.trades > 0 && t.open.value > 0) {
    int64_t diff = 0;
    checked_sub(t.last.value, t.open.value, &diff);  // both are positive prices: no overflow
    const auto magnitude = mul_div_floor(diff < 0 ? -diff : diff, 10'000, t.open.value);
    const int64_t bps = magnitude ? (diff < 0 ? -*magnitude : *magnitude) : 0;
    w.field("change", format_decimal(diff, i.spec.price_scale));
    w.field("change_pct", format_decimal(bps, 2));
  } else {
    w.key("change").null();
    w.key("change_pct").null();
  }
  w.field("volume", qty_text(i, t.volume));
  w.field("quote_volume", quote_text(i, t.quote_volume));
  w.field("trades", t.trades);
  w.key("bid");
  if (t.best_bid) w.value(price_text(i, t.best_bid->price)); else w.null();
  w.key("bid_qty");
  if (t.best_bid) w.value(qty_text(i, t.best_bid->qty)); else w.null();
  w.key("ask");
  if (t.best_ask) w.value(price_text(i, t.best_ask->price)); else w.null();
  w.key("ask_qty");
  if (t.best_ask) w.value(qty_text(i, t.best_ask->qty)); else w.null();
  w.end_object();
}

namespace {

const char* tif_text(TimeInForce t) {
  switch (t) {
    case TimeInForce::kGtc: return "GTC";
    case TimeInForce::kIoc: return "IOC";
    case TimeInForce::kFok: return "FOK";
    case TimeInForce::kDay: return "DAY";
    case TimeInForce::kGtd: return "GTD";
  }
  return "?";
}

const char* type_text(OrderType t) {
  switch (t) {
    case OrderType::kLimit: return "LIMIT";
    case OrderType::kMarket: return "MARKET";
    case OrderType::kStopLimit: return "STOP_LIMIT";
    case OrderType::kStopMarket: return "STOP_MARKET";
  }
  return "?";
}

std::optional<int64_t> pow10(int exponent) {
  if (exponent < 0 || exponent > 18) return std::nullopt;
  int64_t v = 1;
  for (int i = 0; i < exponent; ++i) v *= 10;
  return v;
}

}  // namespace

void render_candle(JsonWriter& w, const marketdata::InstrumentInfo& i, marketdata::Interval interval,
                   const marketdata::Candle& c, bool closed) {
  const int scale = i.spec.price_scale;
  w.begin_object();
  w.field("open_time", to_millis(c.open_time_ns));
  w.field("close_time", to_millis(c.open_time_ns + marketdata::interval_ns(interval)));
  w.field("open", price_text(i, Price{c.open}));
  w.field("high", price_text(i, Price{c.high}));
  w.field("low", price_text(i, Price{c.low}));
  w.field("close", price_text(i, Price{c.close}));
  w.field("volume", qty_text(i, Qty{c.volume}));
  w.key("vwap");
  if (c.volume > 0 && c.volume != INT64_MAX) {  // INT64_MAX: the volume saturated, no true VWAP
    w.value(marketdata::format_fixed(marketdata::div_fixed(c.notional, c.volume), scale));
  } else {
    w.null();
  }
  w.field("trades", static_cast<uint64_t>(c.ticks));
  w.field("closed", closed);
  w.end_object();
}

namespace {

constexpr std::array<std::string_view, 6> kIndicatorNames = {"sma", "ema", "rsi", "macd", "bollinger", "vwap"};

}  // namespace

bool indicator_name_known(std::string_view name) {
  return std::find(kIndicatorNames.begin(), kIndicatorNames.end(), name) != kIndicatorNames.end();
}

void render_indicators(JsonWriter& w, const marketdata::InstrumentInfo& i, const marketdata::IndicatorValues& v,
                       std::string_view only) {
  const int scale = i.spec.price_scale;
  auto fixed = [&](std::string_view key, const std::optional<marketdata::Fixed>& value, int value_scale) {
    w.key(key);
    if (value) w.value(marketdata::format_fixed(*value, value_scale)); else w.null();
  };
  auto wanted = [&](std::string_view name) { return only.empty() || only == name; };
  if (wanted("sma")) fixed("sma_20", v.sma, scale);
  if (wanted("ema")) fixed("ema_20", v.ema, scale);
  if (wanted("rsi")) fixed("rsi_14", v.rsi, 0);
  if (wanted("macd")) {
    w.key("macd_12_26_9");
    if (v.macd) {
      w.begin_object();
      fixed("macd", v.macd->macd, scale);
      fixed("signal", v.macd->signal, scale);
      fixed("histogram", v.macd->histogram, scale);
      w.end_object();
    } else {
      w.null();
    }
  }
  if (wanted("bollinger")) {
    w.key("bollinger_20_2");
    if (v.bollinger) {
      w.begin_object();
      fixed("middle", v.bollinger->middle, scale);
      fixed("upper", v.bollinger->upper, scale);
      fixed("lower", v.bollinger->lower, scale);
      fixed("sigma", v.bollinger->sigma, scale);
      w.end_object();
    } else {
      w.null();
    }
  }
  if (wanted("vwap")) fixed("vwap", v.vwap, scale);
}

void render_order(JsonWriter& w, const marketdata::InstrumentInfo& i, const accounts::OrderRecord& o) {
  w.begin_object();
  w.field("id", o.id.value);
  w.key("client_order_id");
  if (o.client_order_id.empty()) w.null(); else w.value(o.client_order_id.view());
  w.field("symbol", i.spec.symbol.view());
  w.field("side", o.side == Side::kBuy ? "BUY" : "SELL");
  w.field("type", type_text(o.type));
  w.field("time_in_force", tif_text(o.tif));
  w.field("post_only", o.post_only);
  w.key("price");
  if (o.price.value) w.value(price_text(i, o.price)); else w.null();
  w.key("stop_price");
  if (o.stop_price.value) w.value(price_text(i, o.stop_price)); else w.null();
  w.field("qty", qty_text(i, o.qty));
  w.field("filled_qty", qty_text(i, o.filled));
  w.field("remaining_qty", qty_text(i, Qty{accounts::is_terminal(o.status) ? 0 : o.qty.value - o.filled.value}));
  w.field("filled_quote", quote_text(i, o.notional_filled));
  // Average price, floored to the price scale: notional × D / filled.
  w.key("avg_price");
  const auto d = pow10(i.spec.price_scale + i.base.scale - i.quote.scale);
  const auto avg = (d && o.filled.value > 0) ? mul_div_floor(o.notional_filled.value, *d, o.filled.value) : std::nullopt;
  if (avg && o.notional_filled.value > 0) w.value(price_text(i, Price{*avg})); else w.null();
  w.field("fees", quote_text(i, o.fees));
  w.field("status", accounts::order_status_name(o.status));
  w.field("product", product_name(o.product));
  w.key("reason");
  if (o.status == accounts::OrderStatus::kCancelled) {
    w.value(cancel_reason_name(static_cast<CancelReason>(o.end_reason)));
  } else if (o.status == accounts::OrderStatus::kExpired) {
    w.value(o.end_reason == static_cast<uint8_t>(ExpireReason::kDay) ? "DAY" : "GTD");
  } else {
    w.null();
  }
  w.key("expire_time");
  if (o.expire_at) w.value(to_millis(o.expire_at)); else w.null();
  w.field("created", to_millis(o.created));
  w.field("updated", to_millis(o.updated));
  w.end_object();
}

void render_position(JsonWriter& w, const marketdata::InstrumentInfo& i, const accounts::PositionRecord& p, Price mark) {
  const int64_t d = *pow10(i.spec.price_scale + i.base.scale - i.quote.scale);  // the engine checked it fits
  const Int128 value = position::value(p.qty, mark, d);
  w.begin_object();
  w.field("symbol", i.spec.symbol.view());
  w.field("product", "MARGIN");
  w.field("side", p.qty > 0 ? "LONG" : p.qty < 0 ? "SHORT" : "FLAT");
  w.field("qty", format_decimal(p.qty, i.base.scale));
  // Average entry price, floored to the price scale: |cost| × D / |qty|.
  w.key("avg_entry_price");
  if (p.qty != 0) {
    const Int128 avg = position::abs128(p.cost) / position::abs128(p.qty) * d +
                       position::abs128(p.cost) % position::abs128(p.qty) * d / position::abs128(p.qty);
    w.value(format_wide_decimal(avg, i.spec.price_scale));
  } else {
    w.null();
  }
  w.field("cost", format_wide_decimal(p.cost, i.quote.scale));
  w.field("mark_price", price_text(i, mark));
  w.field("market_value", format_wide_decimal(value, i.quote.scale));
  w.field("unrealized_pnl", format_wide_decimal(value - p.cost, i.quote.scale));
  w.field("realized_pnl", format_wide_decimal(p.realized, i.quote.scale));
  w.field("fees", format_wide_decimal(p.fees, i.quote.scale));
  w.field("currency", i.quote.code.view());
  w.field("updated", to_millis(p.updated));
  w.end_object();
}

void render_fill(JsonWriter& w, const marketdata::InstrumentInfo& i, const accounts::FillRecord& f) {
  w.begin_object();
  w.field("id", f.seq_no);
  w.field("trade_id", f.trade_id.value);
  w.field("order_id", f.order_id.value);
  w.field("symbol", i.spec.symbol.view());
  w.field("side", f.side == Side::kBuy ? "BUY" : "SELL");
  w.field("price", price_text(i, f.price));
  w.field("qty", qty_text(i, f.qty));
  w.field("quote_qty", quote_text(i, f.notional));
  w.field("fee", quote_text(i, f.fee));
  w.field("fee_asset", i.quote.code.view());
  w.field("liquidity", f.maker ? "MAKER" : "TAKER");
  w.field("time", to_millis(f.time));
  w.end_object();
}

accounts::OrderRecord order_record_of(const store::OrderHistoryRow& r) {
  accounts::OrderRecord o;
  o.id = OrderId{r.order_id};
  o.account = AccountId{r.account};
  o.instrument = InstrumentId{r.instrument};
  o.side = static_cast<Side>(r.side);
  o.type = static_cast<OrderType>(r.type);
  o.tif = static_cast<TimeInForce>(r.tif);
  o.post_only = r.post_only;
  o.product = static_cast<Product>(r.product);
  o.price = Price{r.price};
  o.stop_price = Price{r.stop_price};
  o.qty = Qty{r.qty};
  o.filled = Qty{r.filled};
  o.notional_filled = Amount{r.notional_filled};
  o.fees = Amount{r.fees};
  o.expire_at = r.expire_at;
  o.client_order_id = ClientOrderId::from(r.client_order_id);
  o.status = static_cast<accounts::OrderStatus>(r.status);
  o.end_reason = r.end_reason;
  o.created = r.created;
  o.updated = r.updated;
  return o;
}


void render_reconcile(JsonWriter& w, const portfolio::ReconcileReport& r) {
  w.begin_object().field("ok", r.ok()).field("journal_seq", r.journal_seq).field("store_seq", r.store_seq);
  w.field("positions_compared", r.positions).field("balances_compared", r.balances);
  w.field("holdings_compared", r.holdings).field("difference_count", r.difference_count);
  w.key("differences").begin_array();
  for (const std::string& d : r.differences) w.value(d);
  w.end_array().end_object();
}

}  // namespace bourse::gateway

#include "alerts/alert_render.h"

#include "bourse/core/decimal.h"

namespace bourse::alerts {
namespace {

constexpr int kPercentScale = 2;   // basis points as a percent
constexpr int kMultipleScale = 4;  // volume multiples in ten-thousandths

int64_t millis(Timestamp ns) { return ns / 1'000'000; }

bool is_rsi(AlertKind kind, Indicator indicator) {
  return (kind == AlertKind::kIndicatorAbove || kind == AlertKind::kIndicatorBelow) && indicator == Indicator::kRsi;
}

std::string indicator_text(int64_t value, Indicator indicator, const marketdata::InstrumentInfo* info) {
  const int price_scale = indicator == Indicator::kRsi || !info ? 0 : info->spec.price_scale;
  return marketdata::format_fixed(value, price_scale);
}

std::string threshold_text(const store::AlertRow& r, const marketdata::InstrumentInfo* info) {
  const auto kind = static_cast<AlertKind>(r.kind);
  const auto indicator = static_cast<Indicator>(r.indicator);
  if (kind == AlertKind::kIndicatorAbove || kind == AlertKind::kIndicatorBelow) {
    return indicator_text(r.threshold, indicator, info);
  }
  return format_decimal(r.threshold, threshold_scale(kind, indicator, info));
}

void interval_fields(gateway::JsonWriter& w, const store::AlertRow& r) {
  w.field("interval", marketdata::interval_name(static_cast<marketdata::Interval>(r.interval)));
}

}  // namespace

int threshold_scale(AlertKind kind, Indicator indicator, const marketdata::InstrumentInfo* info) {
  switch (kind) {
    case AlertKind::kPriceAbove:
    case AlertKind::kPriceBelow: return info ? info->spec.price_scale : 0;
    case AlertKind::kChangeUp:
    case AlertKind::kChangeDown: return kPercentScale;
    case AlertKind::kVolumeSpike: return kMultipleScale;
    case AlertKind::kIndicatorAbove:
    case AlertKind::kIndicatorBelow:
      return marketdata::kFixedDigits + (is_rsi(kind, indicator) || !info ? 0 : info->spec.price_scale);
    default: return 0;
  }
}

bool threshold_may_be_negative(AlertKind kind, Indicator indicator) {
  return (kind == AlertKind::kIndicatorAbove || kind == AlertKind::kIndicatorBelow) &&
         (indicator == Indicator::kMacd || indicator == Indicator::kMacdSignal ||
          indicator == Indicator::kMacdHistogram);
}

const char* alert_status_name(uint8_t status) {
  switch (status) {
    case 0: return "active";
    case 1: return "triggered";
    case 2: return "expired";
    default: return "unknown";
  }
}

void render_alert(gateway::JsonWriter& w, const store::AlertRow& r, const marketdata::InstrumentInfo* info) {
  const auto kind = static_cast<AlertKind>(r.kind);
  w.begin_object();
  w.field("alert_id", std::to_string(r.id));
  w.field("type", alert_kind_name(kind));
  w.key("symbol");
  if (info) w.value(info->spec.symbol.view()); else w.null();
  switch (kind) {
    case AlertKind::kChangeUp:
    case AlertKind::kChangeDown: w.field("window_minutes", static_cast<int64_t>(r.window_minutes)); break;
    case AlertKind::kVolumeSpike:
      interval_fields(w, r);
      w.field("lookback", static_cast<int64_t>(r.lookback));
      break;
    case AlertKind::kIndicatorAbove:
    case AlertKind::kIndicatorBelow:
      interval_fields(w, r);
      w.field("indicator", indicator_name(static_cast<Indicator>(r.indicator)));
      break;
    default: break;
  }
  if (kind != AlertKind::kOrderFilled && kind != AlertKind::kMarginCall) w.field("threshold", threshold_text(r, info));
  w.field("recurring", r.recurring);
  w.field("cooldown_s", r.cooldown_ns / 1'000'000'000);
  w.key("expire_time");
  if (r.expire_at) w.value(millis(r.expire_at)); else w.null();
  w.field("status", alert_status_name(r.status));
  w.field("fired_count", r.fired_count);
  w.key("last_fired");
  if (r.last_fired) w.value(millis(r.last_fired)); else w.null();
  w.key("webhook_url");
  if (r.webhook_url.empty()) w.null(); else w.value(r.webhook_url);
  w.field("note", r.note);
  w.field("created", millis(r.created));
  w.field("updated", millis(r.updated));
  w.end_object();
}

std::string render_firing(const Firing& f, const store::AlertRow& r, uint64_t firing_id, uint64_t seq,
                          const marketdata::MarketView& market) {
  const auto info = f.instrument.value ? market.instrument(f.instrument) : std::nullopt;
  const marketdata::InstrumentInfo* i = info ? &*info : nullptr;
  std::string out;
  gateway::JsonWriter w(&out);
  w.begin_object();
  w.field("alert_id", std::to_string(f.alert_id));
  w.field("firing_id", std::to_string(firing_id));
  w.field("type", alert_kind_name(f.kind));
  w.key("symbol");
  if (i) w.value(i->spec.symbol.view()); else w.null();
  auto price = [i](int64_t p) { return i ? format_decimal(p, i->spec.price_scale) : std::to_string(p); };
  auto qty = [i](int64_t q) { return i ? format_decimal(q, i->base.scale) : std::to_string(q); };
  switch (f.kind) {
    case AlertKind::kPriceAbove:
    case AlertKind::kPriceBelow:
      w.field("threshold", threshold_text(r, i)).field("price", price(f.value));
      break;
    case AlertKind::kChangeUp:
    case AlertKind::kChangeDown:
      w.field("window_minutes", static_cast<int64_t>(r.window_minutes));
      w.field("threshold", threshold_text(r, i)).field("change_percent", format_decimal(f.value, kPercentScale));
      w.field("reference_price", price(f.reference));
      w.field("price", price(f.price));
      break;
    case AlertKind::kVolumeSpike:
      interval_fields(w, r);
      w.field("lookback", static_cast<int64_t>(r.lookback));
      w.field("threshold", threshold_text(r, i)).field("multiple", format_decimal(f.value, kMultipleScale));
      w.field("volume", qty(f.reference));
      break;
    case AlertKind::kIndicatorAbove:
    case AlertKind::kIndicatorBelow:
      interval_fields(w, r);
      w.field("indicator", indicator_name(static_cast<Indicator>(r.indicator)));
      w.field("threshold", threshold_text(r, i));
      w.field("value", indicator_text(f.value, static_cast<Indicator>(r.indicator), i));
      w.field("close", price(f.reference));
      break;
    case AlertKind::kOrderFilled:
      w.field("order_id", std::to_string(f.order_id)).field("trade_id", std::to_string(f.trade_id));
      w.field("side", f.side == Side::kBuy ? "buy" : "sell");
      w.field("price", price(f.value)).field("qty", qty(f.reference));
      break;
    case AlertKind::kMarginCall: {
      const auto asset = market.asset(f.asset);
      const int scale = asset ? asset->scale : 0;
      w.key("currency");
      if (asset) w.value(asset->code.view()); else w.null();
      w.field("equity", format_wide_decimal(f.equity, scale));
      w.field("maintenance_margin", format_wide_decimal(f.maintenance, scale));
      break;
    }
  }
  w.field("note", r.note);
  w.field("last", f.last);
  w.field("time", millis(f.time));
  w.field("seq", seq);
  w.end_object();
  return out;
}

}  // namespace bourse::alerts

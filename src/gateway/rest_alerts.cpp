// Alert endpoints (docs/alerts.md): the caller's rules (POST/GET/PATCH/DELETE
// /v1/alerts), their firings (GET /v1/history/alerts) and the webhook
// delivery log of one rule (GET /v1/alerts/{id}/deliveries). Every rule is
// the caller's own: another account's id is answered like a missing one.
// Rule changes and reads go through AlertService on a worker (they touch
// the store).
#include <charconv>

#include "alerts/alert_render.h"
#include "alerts/webhook_client.h"
#include "bourse/core/decimal.h"
#include "gateway/json_body.h"
#include "gateway/json_writer.h"
#include "gateway/render.h"
#include "gateway/rest_api.h"

namespace bourse::gateway {
namespace {

constexpr std::size_t kMaxNoteBytes = 256;
constexpr int64_t kMaxCooldownS = 30LL * 86'400;
constexpr int64_t kNanosPerMilli = 1'000'000;
constexpr int64_t kRsiUnit = 100'000'000;  // indicator values carry 8 more decimals

bool parse_alert_id(const std::string& text, uint64_t* id) {
  const auto r = std::from_chars(text.data(), text.data() + text.size(), *id);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() && *id > 0;
}

void fail_alert_error(const std::shared_ptr<Call>& call, alerts::AlertError e) {
  switch (e) {
    case alerts::AlertError::kNotFound: return call->fail(404, "ALERT_NOT_FOUND", "no such alert for this account");
    case alerts::AlertError::kLimit:
      return call->fail(409, "ALERT_LIMIT", "this account has as many active alerts as it may; delete some first");
    case alerts::AlertError::kInvalid: return call->fail(422, "INVALID_ALERT", "the rule is not well-formed");
    default: return call->fail(503, "UNAVAILABLE", "the alert store could not be written; retry");
  }
}

// Query parameters whose percent-encoding is broken are refused, not ignored.
bool well_formed(const std::shared_ptr<Call>& call, std::initializer_list<const char*> names) {
  std::string ignored;
  for (const char* name : names) {
    if (call->request.query_param(name, &ignored) == QueryParam::kMalformed) {
      call->fail(400, "INVALID_PARAMETER", std::string("bad percent-encoding in '") + name + "'");
      return false;
    }
  }
  return true;
}

// ?cursor= (a list's next_cursor) into *before, or a 400 sent.
bool cursor_param(const std::shared_ptr<Call>& call, uint64_t* before) {
  std::string text;
  if (call->request.query_param("cursor", &text) == QueryParam::kFound &&
      !parse_history_cursor(text, false, before, nullptr)) {
    call->fail(400, "INVALID_CURSOR", "cursor: pass back next_cursor as given");
    return false;
  }
  return true;
}

bool level_triggered(alerts::AlertKind k) {
  return k == alerts::AlertKind::kChangeUp || k == alerts::AlertKind::kChangeDown ||
         k == alerts::AlertKind::kVolumeSpike || k == alerts::AlertKind::kIndicatorAbove ||
         k == alerts::AlertKind::kIndicatorBelow;
}

std::string alert_json(const store::AlertRow& row, const marketdata::MarketView& market, const std::string* secret) {
  const auto info = row.instrument ? market.instrument(InstrumentId{row.instrument}) : std::nullopt;
  std::string out;
  JsonWriter w(&out);
  alerts::render_alert(w, row, info ? &*info : nullptr);
  if (secret && !secret->empty()) {
    // Shown once: the receiver verifies Bourse-Signature with it.
    out.pop_back();
    out += ",\"webhook_secret\":";
    append_json_string(&out, *secret);
    out += '}';
  }
  return out;
}

}  // namespace

// Without an alert service (tools and tests that build a RestApi alone) the
// routes exist and answer 404.
#define BOURSE_BIND(fn)                                                                              \
  [this](const std::shared_ptr<Call>& c) {                                                           \
    if (!services_.alerts) return c->fail(404, "NOT_FOUND", "alerts are not available here");       \
    fn(c);                                                                                           \
  }

void RestApi::add_alert_routes() {
  private_route("POST", "/v1/alerts", auth::kScopeRead, BOURSE_BIND(post_alert), 5);
  private_route("GET", "/v1/alerts", auth::kScopeRead, BOURSE_BIND(get_alerts), 5);
  private_route("GET", "/v1/alerts/{id}", auth::kScopeRead, BOURSE_BIND(get_alert), 2);
  private_route("PATCH", "/v1/alerts/{id}", auth::kScopeRead, BOURSE_BIND(patch_alert), 5);
  private_route("DELETE", "/v1/alerts/{id}", auth::kScopeRead, BOURSE_BIND(delete_alert), 5);
  private_route("GET", "/v1/alerts/{id}/deliveries", auth::kScopeRead, BOURSE_BIND(get_alert_deliveries), 5);
  private_route("GET", "/v1/history/alerts", auth::kScopeRead, BOURSE_BIND(get_alert_history), 5);
}

bool RestApi::read_alert_body(const std::shared_ptr<Call>& call, bool create, store::AlertRow* row) {
  // PATCH cannot change what a rule is (type, symbol): that is a new rule.
  const std::string* content_type = call->request.header("content-type");
  JsonBody body = create ? JsonBody(content_type, call->request.body,
                                    {"type", "symbol", "threshold", "window_minutes", "interval", "lookback",
                                     "indicator", "recurring", "cooldown_s", "expire_time", "webhook_url", "note"})
                         : JsonBody(content_type, call->request.body,
                                    {"threshold", "window_minutes", "interval", "lookback", "indicator", "recurring",
                                     "cooldown_s", "expire_time", "webhook_url", "note"});
  auto fail = [&](std::string code, std::string detail) {
    call->fail(422, std::move(code), std::move(detail));
    return false;
  };
  if (create) {
    std::string type;
    body.string("type", &type, true);
    if (!body.ok()) return call->fail(body.problem()), false;
    const auto kind = alerts::parse_alert_kind(type);
    if (!kind) {
      return fail("INVALID_ALERT_TYPE", "type: price_above, price_below, change_up, change_down, volume_spike, "
                                        "indicator_above, indicator_below, order_filled or margin_call");
    }
    row->kind = static_cast<uint8_t>(*kind);
    row->lookback = 20;
    row->interval = static_cast<uint8_t>(marketdata::Interval::k1m);
    std::string symbol;
    const bool has_symbol = body.string("symbol", &symbol);
    if (!body.ok()) return call->fail(body.problem()), false;
    if (*kind == alerts::AlertKind::kMarginCall && has_symbol) {
      return fail("INVALID_ALERT", "margin_call alerts watch the whole account: no symbol");
    }
    if (alerts::is_market_kind(*kind) && !has_symbol) return fail("INVALID_ALERT", "symbol is required");
    if (has_symbol) {
      const auto info = symbol.size() <= 32 ? market_.instrument(symbol) : std::nullopt;
      if (!info) return fail("UNKNOWN_SYMBOL", "no instrument named '" + symbol.substr(0, 32) + "'");
      row->instrument = info->spec.id.value;
    }
  }
  const auto kind = static_cast<alerts::AlertKind>(row->kind);
  // Parameters before the threshold: the indicator decides its scale.
  int64_t n = 0;
  if (body.integer("window_minutes", &n)) {
    if (kind != alerts::AlertKind::kChangeUp && kind != alerts::AlertKind::kChangeDown) {
      return fail("INVALID_ALERT", "window_minutes is for change_up and change_down");
    }
    if (n < 1 || n > alerts::kMaxChangeWindowMinutes) return fail("INVALID_ALERT", "window_minutes: 1 to 1440");
    row->window_minutes = static_cast<uint32_t>(n);
  }
  std::string text;
  if (body.string("interval", &text)) {
    const auto interval = marketdata::parse_interval(text);
    if (kind != alerts::AlertKind::kVolumeSpike && kind != alerts::AlertKind::kIndicatorAbove &&
        kind != alerts::AlertKind::kIndicatorBelow) {
      return fail("INVALID_ALERT", "interval is for volume_spike and indicator alerts");
    }
    if (!interval) return fail("INVALID_ALERT", "interval: 1s, 1m, 5m, 15m, 1h or 1d");
    row->interval = static_cast<uint8_t>(*interval);
  }
  if (body.integer("lookback", &n)) {
    if (kind != alerts::AlertKind::kVolumeSpike) return fail("INVALID_ALERT", "lookback is for volume_spike");
    if (n < 1 || n > alerts::kMaxVolumeLookback) return fail("INVALID_ALERT", "lookback: 1 to 500 bars");
    row->lookback = static_cast<uint32_t>(n);
  }
  const uint8_t indicator_before = row->indicator;
  if (body.string("indicator", &text)) {
    const auto indicator = alerts::parse_indicator(text);
    if (kind != alerts::AlertKind::kIndicatorAbove && kind != alerts::AlertKind::kIndicatorBelow) {
      return fail("INVALID_ALERT", "indicator is for indicator_above and indicator_below");
    }
    if (!indicator) {
      return fail("INVALID_ALERT", "indicator: rsi, sma, ema, macd, macd_signal, macd_histogram, bollinger_upper, "
                                   "bollinger_lower or vwap");
    }
    row->indicator = static_cast<uint8_t>(*indicator);
  }
  if (!body.ok()) return call->fail(body.problem()), false;
  const auto indicator = static_cast<alerts::Indicator>(row->indicator);
  const auto info = row->instrument ? market_.instrument(InstrumentId{row->instrument}) : std::nullopt;
  const bool takes_threshold = alerts::is_market_kind(kind);
  if (!takes_threshold) {
    if (body.string("threshold", &text)) return fail("INVALID_ALERT", "order_filled and margin_call alerts take no threshold");
  } else {
    const int scale = alerts::threshold_scale(kind, indicator, info ? &*info : nullptr);
    const bool negative_ok = alerts::threshold_may_be_negative(kind, indicator);
    int64_t threshold = 0;
    const bool has_threshold = decimal_field(body, "threshold", scale, create, &threshold, !negative_ok);
    if (!body.ok()) return call->fail(body.problem()), false;
    // The threshold's units follow the indicator: a new one needs a new threshold.
    if (!create && !has_threshold && row->indicator != indicator_before) {
      return fail("INVALID_ALERT", "a new indicator needs a new threshold");
    }
    if (has_threshold) row->threshold = threshold;
    if (indicator == alerts::Indicator::kRsi &&
        (kind == alerts::AlertKind::kIndicatorAbove || kind == alerts::AlertKind::kIndicatorBelow) &&
        (row->threshold < 0 || row->threshold > 100 * kRsiUnit)) {
      return fail("INVALID_ALERT", "an RSI threshold is 0 to 100");
    }
  }
  if (!body.ok()) return call->fail(body.problem()), false;
  if (create && (kind == alerts::AlertKind::kChangeUp || kind == alerts::AlertKind::kChangeDown) &&
      row->window_minutes == 0) {
    return fail("INVALID_ALERT", "window_minutes is required");
  }
  if (create && (kind == alerts::AlertKind::kIndicatorAbove || kind == alerts::AlertKind::kIndicatorBelow) &&
      row->indicator == 0) {
    return fail("INVALID_ALERT", "indicator is required");
  }
  bool recurring = row->recurring;
  if (body.boolean("recurring", &recurring)) row->recurring = recurring;
  if (body.integer("cooldown_s", &n)) {
    if (n < 0 || n > kMaxCooldownS) return fail("INVALID_COOLDOWN", "cooldown_s: 0 to 2592000 (30 days)");
    row->cooldown_ns = n * 1'000'000'000;
  }
  if (body.integer("expire_time", &n)) {
    if (n != 0 && n <= clock_.now() / kNanosPerMilli) return fail("INVALID_EXPIRY", "expire_time is in the past");
    if (n > INT64_MAX / kNanosPerMilli) return fail("INVALID_EXPIRY", "expire_time: milliseconds since the epoch");
    row->expire_at = n * kNanosPerMilli;
  }
  if (body.string("webhook_url", &text)) {
    std::string error;
    if (!text.empty() && !alerts::parse_webhook_url(text, &error)) return fail("INVALID_WEBHOOK_URL", error);
    row->webhook_url = text;
  }
  if (body.string("note", &text)) {
    if (text.size() > kMaxNoteBytes) return fail("INVALID_ALERT", "note: at most 256 bytes");
    row->note = text;
  }
  if (!body.ok()) return call->fail(body.problem()), false;
  if (row->expire_at != 0 && row->expire_at <= clock_.now()) {
    return fail("INVALID_EXPIRY", "the rule has expired: give a later expire_time, or 0");
  }
  // A condition that holds would fire on every trade without a pause.
  if (row->recurring && level_triggered(kind) && row->cooldown_ns < 1'000'000'000) {
    return fail("INVALID_COOLDOWN", "recurring change, volume and indicator alerts need cooldown_s >= 1");
  }
  return true;
}

void RestApi::post_alert(const std::shared_ptr<Call>& call) {
  store::AlertRow row;
  row.account = call->principal.user_id;
  if (!read_alert_body(call, true, &row)) return;
  offload(call, [this, call, row]() mutable {
    std::string secret;
    const auto e = services_.alerts->create(&row, &secret);
    if (e != alerts::AlertError::kOk) return fail_alert_error(call, e);
    call->json(201, alert_json(row, market_, &secret));
  });
}

void RestApi::get_alerts(const std::shared_ptr<Call>& call) {
  std::string text;
  int status = -1;
  if (!well_formed(call, {"status", "cursor"})) return;
  if (call->request.query_param("status", &text) == QueryParam::kFound) {
    for (int s = 0; s <= 2; ++s) {
      if (text == alerts::alert_status_name(static_cast<uint8_t>(s))) status = s;
    }
    if (status < 0) return call->fail(400, "INVALID_PARAMETER", "status: active, triggered or expired");
  }
  uint64_t before = UINT64_MAX;
  if (!cursor_param(call, &before)) return;
  const auto limit = int_param(call, "limit", 100, 1, 500);
  if (!limit) return;
  offload(call, [this, call, status, before, limit = static_cast<std::size_t>(*limit)] {
    const auto rows = services_.store->alerts_of(call->principal.user_id, status, before, limit);
    std::string out;
    JsonWriter w(&out);
    w.begin_object().key("alerts").begin_array();
    for (const store::AlertRow& r : rows) w.raw(alert_json(r, market_, nullptr));
    w.end_array().key("next_cursor");
    if (rows.size() == limit) w.value(history_cursor(rows.back().id)); else w.null();
    w.end_object();
    call->json(200, std::move(out));
  });
}

void RestApi::get_alert(const std::shared_ptr<Call>& call) {
  uint64_t id = 0;
  if (!parse_alert_id(call->params[0], &id)) return fail_alert_error(call, alerts::AlertError::kNotFound);
  offload(call, [this, call, id] {
    const auto row = services_.alerts->get(call->principal.user_id, id);
    if (!row) return fail_alert_error(call, alerts::AlertError::kNotFound);
    call->json(200, alert_json(*row, market_, nullptr));
  });
}

void RestApi::patch_alert(const std::shared_ptr<Call>& call) {
  uint64_t id = 0;
  if (!parse_alert_id(call->params[0], &id)) return fail_alert_error(call, alerts::AlertError::kNotFound);
  offload(call, [this, call, id] {
    auto row = services_.alerts->get(call->principal.user_id, id);
    if (!row) return fail_alert_error(call, alerts::AlertError::kNotFound);
    if (!read_alert_body(call, false, &*row)) return;
    std::string secret;
    const auto e = services_.alerts->update(&*row, &secret);
    if (e != alerts::AlertError::kOk) return fail_alert_error(call, e);
    call->json(200, alert_json(*row, market_, &secret));
  });
}

void RestApi::delete_alert(const std::shared_ptr<Call>& call) {
  uint64_t id = 0;
  if (!parse_alert_id(call->params[0], &id)) return fail_alert_error(call, alerts::AlertError::kNotFound);
  offload(call, [this, call, id] {
    const auto e = services_.alerts->remove(call->principal.user_id, id);
    if (e != alerts::AlertError::kOk) return fail_alert_error(call, e);
    std::string out;
    JsonWriter w(&out);
    w.begin_object().field("alert_id", std::to_string(id)).field("deleted", true).end_object();
    call->json(200, std::move(out));
  });
}

void RestApi::get_alert_history(const std::shared_ptr<Call>& call) {
  std::string text;
  uint64_t alert_id = 0;
  if (!well_formed(call, {"alert_id", "cursor"})) return;
  if (call->request.query_param("alert_id", &text) == QueryParam::kFound && !parse_alert_id(text, &alert_id)) {
    return call->fail(400, "INVALID_PARAMETER", "alert_id: an alert's id");
  }
  uint64_t before = UINT64_MAX;
  if (!cursor_param(call, &before)) return;
  const auto limit = int_param(call, "limit", 100, 1, 500);
  if (!limit) return;
  offload(call, [this, call, alert_id, before, limit = static_cast<std::size_t>(*limit)] {
    const auto rows = services_.store->alert_firings(call->principal.user_id, alert_id, before, limit);
    std::string out;
    JsonWriter w(&out);
    w.begin_object().key("firings").begin_array();
    for (const store::AlertFiringRow& f : rows) w.raw(f.data);
    w.end_array().key("next_cursor");
    if (rows.size() == limit) w.value(history_cursor(rows.back().id)); else w.null();
    w.end_object();
    call->json(200, std::move(out));
  });
}

void RestApi::get_alert_deliveries(const std::shared_ptr<Call>& call) {
  uint64_t id = 0;
  if (!parse_alert_id(call->params[0], &id)) return fail_alert_error(call, alerts::AlertError::kNotFound);
  if (!well_formed(call, {"cursor"})) return;
  std::string text;
  uint64_t before = UINT64_MAX;
  if (!cursor_param(call, &before)) return;
  const auto limit = int_param(call, "limit", 50, 1, 200);
  if (!limit) return;
  offload(call, [this, call, id, before, limit = static_cast<std::size_t>(*limit)] {
    // The log outlives the rule: deliveries are the account's own either way.
    const auto rows = services_.store->deliveries_of(call->principal.user_id, id, before, limit);
    if (rows.empty() && before == UINT64_MAX && !services_.alerts->get(call->principal.user_id, id)) {
      return fail_alert_error(call, alerts::AlertError::kNotFound);
    }
    static constexpr const char* kStatus[] = {"pending", "delivered", "failed"};
    std::string out;
    JsonWriter w(&out);
    w.begin_object().key("deliveries").begin_array();
    for (const auto& [d, attempts] : rows) {
      w.begin_object().field("delivery_id", std::to_string(d.id)).field("firing_id", std::to_string(d.firing_id));
      w.field("url", d.url).field("status", d.status <= 2 ? kStatus[d.status] : "unknown");
      w.field("attempts", static_cast<int64_t>(d.attempts));
      w.key("next_attempt");
      if (d.status == 0) w.value(to_millis(d.next_attempt)); else w.null();
      w.field("created", to_millis(d.created)).field("updated", to_millis(d.updated));
      w.key("log").begin_array();
      for (const store::WebhookAttemptRow& a : attempts) {
        w.begin_object().field("attempt", static_cast<int64_t>(a.attempt)).field("time", to_millis(a.time));
        w.key("http_status");
        if (a.status) w.value(static_cast<int64_t>(a.status)); else w.null();
        w.key("error");
        if (a.error.empty()) w.null(); else w.value(a.error);
        w.field("duration_us", a.duration_us).end_object();
      }
      w.end_array().end_object();
    }
    w.end_array().key("next_cursor");
    if (rows.size() == limit) w.value(history_cursor(rows.back().first.id)); else w.null();
    w.end_object();
    call->json(200, std::move(out));
  });
}

}  // namespace bourse::gateway

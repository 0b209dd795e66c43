#include "gateway/rest_api.h"

#include <xxhash.h>

#include <charconv>
#include <ctime>
#include <random>

#include "gateway/json_writer.h"
#include "gateway/render.h"
#include "projector/history_projector.h"

namespace bourse::gateway {

extern const unsigned char kEmbedded_openapi_json[];
extern const std::size_t kEmbedded_openapi_json_size;
extern const unsigned char kEmbedded_api_html[];
extern const std::size_t kEmbedded_api_html_size;

std::string_view openapi_document() {
  return {reinterpret_cast<const char*>(kEmbedded_openapi_json), kEmbedded_openapi_json_size};
}
std::string_view docs_page() { return {reinterpret_cast<const char*>(kEmbedded_api_html), kEmbedded_api_html_size}; }

namespace {

constexpr std::size_t kDefaultDepth = 50;
constexpr std::size_t kMaxDepth = 1000;

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string hex64(uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = kHex[v & 0xf];
  return s;
}

std::string iso8601(Timestamp ns) {
  const time_t secs = static_cast<time_t>(ns / 1'000'000'000);
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>((ns / 1'000'000) % 1000));
  return buf;
}

// Does If-None-Match (a list of entity tags or "*") match `etag`?
bool etag_matches(const std::string& if_none_match, const std::string& etag) {
  std::string_view rest = if_none_match;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::string_view tag = rest.substr(0, comma);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);  // weak comparison (RFC 9110 13.1.2)
    if (tag == "*" || tag == etag) return true;
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  return false;
}

}  // namespace

std::string request_id_for(const HttpRequest& request) {
  if (const std::string* id = request.header("x-request-id"); id && valid_request_id(*id)) return *id;
  thread_local std::mt19937_64 rng(std::random_device{}());
  return hex64(rng());
}

// --- Call ------------------------------------------------------------------

void Call::reply(HttpResponse&& response) {
  if (idempotency && !idempotency_key.empty()) {
    // A retry with the same key gets this response again, except when the
    // server could not decide (503): then the retry must really run.
    if (response.status == 503) {
      idempotency->abandon(principal.user_id, idempotency_key);
    } else {
      idempotency->finish(principal.user_id, idempotency_key,
                          IdempotencyCache::Stored{response.status, response.body, response.content_type});
    }
    idempotency_key.clear();
  }
  response.headers.emplace_back("X-Request-Id", request.request_id);
  if (rate.limit > 0) {
    response.headers.emplace_back("RateLimit-Limit", std::to_string(rate.limit));
    response.headers.emplace_back("RateLimit-Remaining", std::to_string(rate.remaining));
    response.headers.emplace_back("RateLimit-Reset", std::to_string(rate.reset_seconds));
  }
  if (metrics) metrics->record(metrics_id, response.status, monotonic_ns() - request.received_ns);
  Responder r = std::move(respond);
  respond = nullptr;
  if (r) r(std::move(response));
}

void Call::fail(int status, std::string code, std::string detail) {
  reply(problem_response(Problem{status, std::move(code), std::move(detail)}, request.request_id));
}

void Call::json(int status, std::string body, bool cacheable) {
  send(status, std::move(body), "application/json", cacheable);
}

void Call::send(int status, std::string body, std::string content_type, bool cacheable) {
  HttpResponse r;
  r.status = status;
  r.content_type = std::move(content_type);
  if (cacheable) {
    const std::string etag = "\"" + hex64(XXH3_64bits(body.data(), body.size())) + "\"";
    r.headers.emplace_back("ETag", etag);
    r.headers.emplace_back("Cache-Control", "no-cache");  // cache, but revalidate every time
    if (const std::string* inm = request.header("if-none-match"); inm && etag_matches(*inm, etag)) {
      r.status = 304;
      r.content_type.clear();
      return reply(std::move(r));
    }
  }
  r.body = std::move(body);
  reply(std::move(r));
}

// --- RestApi ---------------------------------------------------------------

RestApi::RestApi(EngineService& engine, marketdata::MarketView& market, Clock& clock, Metrics& metrics,
                 PrivateServices services, RateLimits limits)
    : engine_(engine),
      market_(market),
      clock_(clock),
      metrics_(metrics),
      services_(services),
      ip_limiter_(limits.per_ip),
      user_limiter_(limits.per_user),
      order_limiter_(limits.orders_per_account) {
  add_public_routes();
  add_private_routes();
  add_oauth_routes();
  add_history_routes();
  add_portfolio_routes();
  add_alert_routes();
}

void RestApi::route(std::string method, std::string pattern, Handler handler, int64_t weight) {
  const std::size_t id = metrics_.add_route(method, pattern);
  if (route_weights_.size() <= id) route_weights_.resize(id + 1, 1);
  route_weights_[id] = weight;
  router_.add(std::move(method), std::move(pattern), id, std::move(handler));
}

bool RestApi::take_tokens(const std::shared_ptr<Call>& call, auth::RateLimiter& limiter, const std::string& key,
                          int64_t weight, const char* what) {
  if (!limiter.enabled()) return true;
  const auth::RateDecision d = limiter.take(key, weight, monotonic_ns());
  call->rate = d;
  if (d.allowed) return true;
  HttpResponse r = problem_response(
      Problem{429, "RATE_LIMITED", std::string("too many requests (") + what + "); retry after " +
                                       std::to_string(d.retry_after_seconds) + " s"},
      call->request.request_id);
  r.headers.emplace_back("Retry-After", std::to_string(d.retry_after_seconds));
  call->reply(std::move(r));
  return false;
}

#define BOURSE_BIND(fn) [this](const std::shared_ptr<Call>& c) { fn(c); }

void RestApi::add_public_routes() {
  route("GET", "/v1/time", BOURSE_BIND(get_time));
  route("GET", "/v1/instruments", BOURSE_BIND(get_instruments));
  route("GET", "/v1/instruments/{symbol}", BOURSE_BIND(get_instrument));
  route("GET", "/v1/book/{symbol}", BOURSE_BIND(get_book), 2);
  route("GET", "/v1/trades/{symbol}", BOURSE_BIND(get_trades));
  route("GET", "/v1/ticker", BOURSE_BIND(get_tickers), 2);
  route("GET", "/v1/ticker/{symbol}", BOURSE_BIND(get_ticker));
  route("GET", "/v1/candles/{symbol}", BOURSE_BIND(get_candles), 2);
  route("GET", "/v1/indicators/{symbol}", BOURSE_BIND(get_indicators));
  route("GET", "/healthz", BOURSE_BIND(get_healthz));
  route("GET", "/readyz", BOURSE_BIND(get_readyz));
  route("GET", "/metrics", BOURSE_BIND(get_metrics));
  route("GET", "/v1/openapi.json", BOURSE_BIND(get_openapi));
  route("GET", "/docs", BOURSE_BIND(get_docs));
}

void RestApi::handle(HttpRequest&& request, Responder respond) {
  auto call = std::make_shared<Call>();
  call->request = std::move(request);
  call->request.request_id = request_id_for(call->request);
  call->respond = std::move(respond);
  call->metrics = &metrics_;
  RouteMatch m = router_.match(call->request.method, call->request.path);
  // Per address first, for every request (404s included).
  if (m.route) call->weight = route_weights_[m.route->metrics_id];
  if (!take_tokens(call, ip_limiter_, call->request.remote_ip, call->weight, "per address")) return;
  if (!m.route) {
    if (m.allow.empty()) return call->fail(404, "NOT_FOUND", "no such resource: " + std::string(call->request.path));
    HttpResponse r = problem_response(
        Problem{405, "METHOD_NOT_ALLOWED", call->request.method + " is not allowed here"}, call->request.request_id);
    r.headers.emplace_back("Allow", m.allow);
    return call->reply(std::move(r));
  }
  call->metrics_id = m.route->metrics_id;
  call->params = std::move(m.params);
  m.route->handler(call);
}

void RestApi::execute_as(const auth::Principal& principal, std::string method, std::string target, std::string body,
                         std::string remote_ip, Responder respond) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  const std::size_t q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string::npos) r.query = r.target.substr(q + 1);
  r.headers.emplace_back("content-type", "application/json");
  r.body = std::move(body);
  r.remote_ip = std::move(remote_ip);
  r.received_ns = monotonic_ns();
  auto call = std::make_shared<Call>();
  call->request = std::move(r);
  call->request.request_id = request_id_for(call->request);
  call->respond = std::move(respond);
  call->metrics = &metrics_;
  call->principal = principal;
  call->preauthenticated = true;
  RouteMatch m = router_.match(call->request.method, call->request.path);
  if (!m.route) return call->fail(404, "NOT_FOUND", "no such operation");
  call->metrics_id = m.route->metrics_id;
  call->weight = route_weights_[m.route->metrics_id];
  call->params = std::move(m.params);
  m.route->handler(call);
}

HttpResponse RestApi::transport_error(int status, std::string_view code, std::string_view detail) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  const std::string id = hex64(rng());
  HttpResponse r = problem_response(Problem{status, std::string(code), std::string(detail)}, id);
  r.headers.emplace_back("X-Request-Id", id);
  metrics_.record(Metrics::kNoRoute, status, 0);
  return r;
}

std::optional<marketdata::InstrumentInfo> RestApi::instrument_param(const std::shared_ptr<Call>& call,
                                                                     std::size_t index) {
  auto info = market_.instrument(call->params.at(index));
  if (!info) call->fail(404, "UNKNOWN_SYMBOL", "no instrument named '" + call->params.at(index) + "'");
  return info;
}

std::optional<int64_t> RestApi::int_param(const std::shared_ptr<Call>& call, std::string_view name, int64_t fallback,
                                          int64_t min, int64_t max) {
  std::string text;
  switch (call->request.query_param(name, &text)) {
    case QueryParam::kAbsent:
      return fallback;
    case QueryParam::kMalformed:
      call->fail(400, "INVALID_PARAMETER", "bad percent-encoding in '" + std::string(name) + "'");
      return std::nullopt;
    case QueryParam::kFound:
      break;
  }
  int64_t v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v < min || v > max) {
    call->fail(400, "INVALID_PARAMETER",
               "'" + std::string(name) + "' must be an integer from " + std::to_string(min) + " to " +
                   std::to_string(max));
    return std::nullopt;
  }
  return v;
}

void RestApi::get_time(const std::shared_ptr<Call>& call) {
  const Timestamp now = clock_.now();
  std::string body;
  JsonWriter w(&body);
  w.begin_object().field("time", to_millis(now)).field("iso", iso8601(now)).end_object();
  call->json(200, std::move(body));
}

void RestApi::get_instruments(const std::shared_ptr<Call>& call) {
  std::string body;
  JsonWriter w(&body);
  w.begin_object().key("instruments").begin_array();
  for (const auto& i : market_.instruments()) render_instrument(w, i);
  w.end_array().end_object();
  call->json(200, std::move(body), true);
}

void RestApi::get_instrument(const std::shared_ptr<Call>& call) {
  const auto info = instrument_param(call, 0);
  if (!info) return;
  std::string body;
  JsonWriter w(&body);
  render_instrument(w, *info);
  call->json(200, std::move(body), true);
}

void RestApi::get_book(const std::shared_ptr<Call>& call) {
  const auto info = instrument_param(call, 0);
  if (!info) return;
  const auto depth = int_param(call, "depth", kDefaultDepth, 1, kMaxDepth);
  if (!depth) return;
  marketdata::BookSnapshot book;
  market_.book(info->spec.id, static_cast<std::size_t>(*depth), &book);
  std::string body;
  JsonWriter w(&body);
  render_book(w, *info, book);
  call->json(200, std::move(body), true);
}

// Newest first. The newest trades come from memory (MarketView keeps 1,000
// per instrument); a page that reaches past them continues from the history
// store (every trade since the venue started, minus retention), on the
// worker pool. next_cursor pages back through all of it.
void RestApi::get_trades(const std::shared_ptr<Call>& call) {
  const auto info = instrument_param(call, 0);
  if (!info) return;
  const auto limit = int_param(call, "limit", 100, 1, static_cast<int64_t>(marketdata::MarketView::kRecentTrades));
  if (!limit) return;
  const auto start = int_param(call, "start", 0, 0, INT64_MAX / 1'000'000);
  if (!start) return;
  const auto end = int_param(call, "end", INT64_MAX / 1'000'000, 0, INT64_MAX / 1'000'000);
  if (!end) return;
  const int64_t from_ns = *start * 1'000'000;
  const int64_t to_ns = *end >= INT64_MAX / 1'000'000 ? INT64_MAX : *end * 1'000'000;
  uint64_t before = UINT64_MAX;
  std::string text;
  if (call->request.query_param("cursor", &text) == QueryParam::kFound) {
    const auto parsed = text.size() < 2 || text[0] != 't'
                            ? std::from_chars_result{text.data(), std::errc::invalid_argument}
                            : std::from_chars(text.data() + 1, text.data() + text.size(), before, 16);
    if (parsed.ec != std::errc() || parsed.ptr != text.data() + text.size()) {
      return call->fail(400, "INVALID_CURSOR", "cursor: pass back next_cursor as given");
    }
  }
  const auto wanted = static_cast<std::size_t>(*limit);
  const auto recent = market_.trades(info->spec.id, marketdata::MarketView::kRecentTrades);  // newest first
  std::vector<marketdata::TradeRecord> page;
  bool reached_start = false;
  for (const auto& t : recent) {
    if (t.id.value >= before || t.time >= to_ns) continue;
    if (t.time < from_ns) {
      reached_start = true;
      break;
    }
    page.push_back(t);
    if (page.size() == wanted) break;
  }
  // `resume_below`: more trades may exist below this id (a full page, or the
  // store not yet caught up with memory); 0: this was the last page.
  auto respond = [call, info](const std::vector<marketdata::TradeRecord>& trades, uint64_t resume_below) {
    std::string body;
    JsonWriter w(&body);
    w.begin_object().field("symbol", info->spec.symbol.view()).key("trades").begin_array();
    for (const auto& t : trades) render_trade(w, *info, t);
    w.end_array().key("next_cursor");
    if (resume_below != 0) {
      char hex[20];
      const auto r = std::to_chars(hex, hex + sizeof(hex), resume_below, 16);
      w.value("t" + std::string(hex, r.ptr));
    } else {
      w.null();
    }
    w.end_object();
    call->json(200, std::move(body), true);
  };
  if (page.size() == wanted) return respond(page, page.back().id.value);
  if (reached_start || !services_.store) return respond(page, 0);
  // Older than what memory holds: the store. A store read costs more of the
  // caller's rate budget than a memory read.
  if (!take_tokens(call, ip_limiter_, call->request.remote_ip, 4, "per address")) return;
  const uint64_t store_before = recent.empty() ? before : std::min(before, recent.back().id.value);
  // Memory holds every trade newer than its oldest; the store, written in
  // order a few milliseconds behind, holds everything older once it has
  // that oldest trade itself.
  const uint64_t memory_oldest = recent.size() < marketdata::MarketView::kRecentTrades ? 0 : recent.back().id.value;
  offload(call, [this, page = std::move(page), respond, info, store_before, from_ns, to_ns, wanted,
                 memory_oldest]() mutable {
    if (memory_oldest != 0 && services_.store->newest_trade_id(info->spec.id.value) < memory_oldest) {
      // Not yet: stop at the seam rather than skip trades; the cursor
      // brings the client back to the same place.
      return respond(page, store_before);
    }
    for (const store::TradeHistoryRow& r :
         services_.store->trade_history(info->spec.id.value, store_before, from_ns, to_ns, wanted - page.size())) {
      page.push_back(marketdata::TradeRecord{TradeId{r.trade_id}, Price{r.price}, Qty{r.qty}, Amount{r.notional},
                                             static_cast<Side>(r.aggressor_side), r.time});
    }
    respond(page, page.size() == wanted ? page.back().id.value : 0);
  });
}

void RestApi::get_tickers(const std::shared_ptr<Call>& call) {
  const Timestamp now = clock_.now();
  std::string body;
  JsonWriter w(&body);
  w.begin_object().key("tickers").begin_array();
  for (const auto& i : market_.instruments()) {
    if (const auto t = market_.ticker(i.spec.id, now)) render_ticker(w, i, *t);
  }
  w.end_array().end_object();
  call->json(200, std::move(body), true);
}

void RestApi::get_ticker(const std::shared_ptr<Call>& call) {
  const auto info = instrument_param(call, 0);
  if (!info) return;
  const auto t = market_.ticker(info->spec.id, clock_.now());
  std::string body;
  JsonWriter w(&body);
  render_ticker(w, *info, *t);
  call->json(200, std::move(body), true);
}

std::optional<marketdata::Interval> RestApi::interval_param(const std::shared_ptr<Call>& call) {
  std::string text = "1m";
  if (call->request.query_param("interval", &text) == QueryParam::kMalformed) {
    call->fail(400, "INVALID_PARAMETER", "bad percent-encoding in 'interval'");
    return std::nullopt;
  }
  const auto interval = marketdata::parse_interval(text);
  if (!interval) call->fail(400, "INVALID_PARAMETER", "'interval' must be one of 1s, 1m, 5m, 15m, 1h, 1d");
  return interval;
}

void RestApi::get_candles(const std::shared_ptr<Call>& call) {
  const auto info = instrument_param(call, 0);
  if (!info) return;
  const auto interval = interval_param(call);
  if (!interval) return;
  constexpr int64_t kMaxMs = INT64_MAX / 1'000'000;
  const auto start = int_param(call, "start", 0, 0, kMaxMs);
  if (!start) return;
  const auto end = int_param(call, "end", kMaxMs, 0, kMaxMs);
  if (!end) return;
  const auto limit = int_param(call, "limit", 500, 1, 1'000);
  if (!limit) return;
  // One more than asked: whether an older page exists.
  const std::size_t wanted = static_cast<std::size_t>(*limit);
  auto rows = market_.candles(info->spec.id, *interval, *start * 1'000'000, *end * 1'000'000, wanted + 1);
  // resume_at: the store is behind memory's oldest bar; stop there rather
  // than skip bars, and send the client back to the same place.
  auto respond = [call, info, interval, wanted](marketdata::MarketView::CandleRows&& page,
                                                std::optional<int64_t> resume_at = std::nullopt) {
    const bool more = page.candles.size() > wanted;
    if (more) page.candles.erase(page.candles.begin());
    std::string body;
    JsonWriter w(&body);
    w.begin_object().field("symbol", info->spec.symbol.view()).field("interval", marketdata::interval_name(*interval));
    w.key("candles").begin_array();
    for (std::size_t k = 0; k < page.candles.size(); ++k) {
      render_candle(w, *info, *interval, page.candles[k], !(page.last_open && k + 1 == page.candles.size()));
    }
    w.end_array();
    // The next page (older candles): end = the oldest open time returned.
    w.key("next_end");
    if (more) {
      w.value(to_millis(page.candles.front().open_time_ns));
    } else if (resume_at) {
      w.value(to_millis(*resume_at));
    } else {
      w.null();
    }
    w.end_object();
    call->json(200, std::move(body), true);
  };
  const int64_t start_ns = *start * 1'000'000;
  const int64_t seam_ns = std::min(*end * 1'000'000, rows.oldest_in_memory_ns);
  if (rows.candles.size() > wanted || !rows.older_in_store || start_ns >= seam_ns || !services_.store) {
    return respond(std::move(rows));
  }
  // Older than memory holds: the history store (closed bars only; long
  // written by the time memory lets them go). A store read costs more of
  // the caller's rate budget than a memory read.
  if (!take_tokens(call, ip_limiter_, call->request.remote_ip, 4, "per address")) return;
  offload(call, [this, rows = std::move(rows), respond, info, interval, start_ns, seam_ns, wanted]() mutable {
    const auto code = static_cast<uint8_t>(*interval);
    const int64_t oldest = rows.oldest_in_memory_ns;
    if (services_.store->candle_history(info->spec.id.value, code, oldest, oldest + 1, 1).empty()) {
      return respond(std::move(rows), oldest);  // the projector has not written memory's oldest bar yet
    }
    const auto stored =
        services_.store->candle_history(info->spec.id.value, code, start_ns, seam_ns, wanted + 1 - rows.candles.size());
    std::vector<marketdata::Candle> merged;
    merged.reserve(stored.size() + rows.candles.size());
    for (const store::CandleHistoryRow& r : stored) merged.push_back(projector::candle_of(r));
    merged.insert(merged.end(), rows.candles.begin(), rows.candles.end());
    rows.candles = std::move(merged);
    respond(std::move(rows));
  });
}

void RestApi::get_indicators(const std::shared_ptr<Call>& call) {
  const auto info = instrument_param(call, 0);
  if (!info) return;
  const auto interval = interval_param(call);
  if (!interval) return;
  std::string name;
  if (call->request.query_param("name", &name) == QueryParam::kMalformed) {
    return call->fail(400, "INVALID_PARAMETER", "bad percent-encoding in 'name'");
  }
  if (!name.empty() && !indicator_name_known(name)) {
    return call->fail(400, "INVALID_PARAMETER", "'name' must be one of sma, ema, rsi, macd, bollinger, vwap");
  }
  const auto snapshot = market_.indicators(info->spec.id, *interval);
  std::string body;
  JsonWriter w(&body);
  w.begin_object().field("symbol", info->spec.symbol.view()).field("interval", marketdata::interval_name(*interval));
  w.key("as_of");
  if (snapshot && snapshot->as_of_ns) w.value(to_millis(*snapshot->as_of_ns)); else w.null();
  render_indicators(w, *info, snapshot ? snapshot->values : marketdata::IndicatorValues{}, name);
  w.end_object();
  call->json(200, std::move(body), true);
}

void RestApi::get_healthz(const std::shared_ptr<Call>& call) {
  call->json(200, R"({"status":"ok"})");
}

void RestApi::get_readyz(const std::shared_ptr<Call>& call) {
  if (draining_.load()) return call->fail(503, "SHUTTING_DOWN", "the server is draining");
  if (!engine_.running() || engine_.journal_failed()) {
    return call->fail(503, "UNAVAILABLE", "the engine cannot accept commands");
  }
  std::string body;
  JsonWriter w(&body);
  w.begin_object().field("status", "ready").field("durable_seq", engine_.durable_seq()).end_object();
  call->json(200, std::move(body));
}

void RestApi::get_openapi(const std::shared_ptr<Call>& call) {
  call->json(200, std::string(openapi_document()), true);
}

void RestApi::get_docs(const std::shared_ptr<Call>& call) {
  call->send(200, std::string(docs_page()), "text/html; charset=utf-8", true);
}

void RestApi::get_metrics(const std::shared_ptr<Call>& call) {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = metrics_.render();
  call->reply(std::move(r));
}

}  // namespace bourse::gateway

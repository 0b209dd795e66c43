// RestApi: REST v1 over the engine service and the read models. Owns the
// route table; HttpServer hands it every request.
//
// Threads: handle() runs on an I/O thread. Reads answer from the read models
// at once; commands go to the EngineService and the reply is sent from the
// dispatcher thread's completion (through the connection's strand). Every
// response carries X-Request-Id and is counted in Metrics by route.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "accounts/account_read_model.h"
#include "alerts/alert_service.h"
#include "auth/auth_service.h"
#include "auth/oauth.h"
#include "auth/rate_limiter.h"
#include "bourse/core/clock.h"
#include "bourse/sequencer/engine_service.h"
#include "gateway/http_types.h"
#include "gateway/idempotency.h"
#include "gateway/metrics.h"
#include "gateway/problem.h"
#include "gateway/router.h"
#include "gateway/worker_pool.h"
#include "marketdata/market_view.h"

namespace bourse::gateway {

// One request in flight: its parsed form, its route and how to answer.
struct Call {
  HttpRequest request;
  std::vector<std::string> params;  // path parameters, in pattern order
  std::size_t metrics_id = Metrics::kNoRoute;
  Responder respond;
  Metrics* metrics = nullptr;
  auth::Principal principal;         // set once authenticated
  auth::RateDecision rate;           // the most specific bucket that applied (headers)
  int64_t weight = 1;                // the route's cost in rate-limit tokens
  std::string idempotency_key;       // set while an Idempotency-Key request runs
  uint64_t idempotency_tag = 0;      // its journal identity (IdempotencyCache::tag_of), 0 without a key
  uint16_t idempotency_fingerprint = 0;
  bool preauthenticated = false;     // WebSocket order entry: principal set by the session's login
  IdempotencyCache* idempotency = nullptr;

  // Sends the response (exactly once): adds X-Request-Id and records metrics.
  void reply(HttpResponse&& response);
  void fail(int status, std::string code, std::string detail);
  void fail(const Problem& problem) { fail(problem.status, problem.code, problem.detail); }
  // A JSON body. Cacheable responses carry a strong ETag (hash of the body)
  // and become 304 when If-None-Match matches.
  void json(int status, std::string body, bool cacheable = false);
  void send(int status, std::string body, std::string content_type, bool cacheable);
};

// What the private endpoints need besides the engine and market data.
struct PrivateServices {
  accounts::AccountReadModel* accounts = nullptr;
  auth::AuthService* auth = nullptr;
  store::Store* store = nullptr;
  auth::OAuthService* oauth = nullptr;  // null: no OAuth endpoints, no bearer tokens
  std::string portfolio_currency = "USD";  // what GET /v1/portfolio and /v1/holdings value in by default
  std::string data_dir;                    // for POST /v1/admin/reconcile (empty: not offered)
  alerts::AlertService* alerts = nullptr;  // null: no /v1/alerts
};

// Token buckets (docs/api.md, "Rate limits"). per_second 0 disables one.
struct RateLimits {
  auth::RateLimit per_ip{2'000, 4'000};
  auth::RateLimit per_user{1'000, 2'000};
  auth::RateLimit orders_per_account{500, 1'000};  // POST/PATCH/DELETE on /v1/orders
};

class RestApi {
 public:
  RestApi(EngineService& engine, marketdata::MarketView& market, Clock& clock, Metrics& metrics,
          PrivateServices services, RateLimits limits = {});

  // The HttpServer's request handler.
  void handle(HttpRequest&& request, Responder respond);
  // WebSocket order entry: runs a REST route as `principal` (already
  // authenticated by the session), with the same checks, limits and answers.
  void execute_as(const auth::Principal& principal, std::string method, std::string target, std::string body,
                  std::string remote_ip, Responder respond);
  // The response for requests the transport refuses (413, 431, 400).
  HttpResponse transport_error(int status, std::string_view code, std::string_view detail);

  // At start: outcomes of keyed commands from before the restart (the store's
  // idempotency rows), so their retries are answered, not executed again.
  void load_idempotency(std::vector<store::IdempotencyRow> rows) { idempotency_.load_durable(std::move(rows)); }

  // Shutdown: /readyz turns 503 so load balancers stop sending traffic.
  void set_draining() { draining_.store(true); }
  const Router& router() const { return router_; }

 private:
  void route(std::string method, std::string pattern, Handler handler, int64_t weight = 1);
  // Takes `weight` tokens from `limiter` for `key`; sends 429 and returns
  // false when refused. Records the decision for the RateLimit headers.
  bool take_tokens(const std::shared_ptr<Call>& call, auth::RateLimiter& limiter, const std::string& key,
                   int64_t weight, const char* what);
  // A route that requires authentication with `scope` (admin routes also
  // require the admin role).
  void private_route(std::string method, std::string pattern, uint32_t scope, Handler handler, int64_t weight = 1,
                     bool order_entry = false);
  void add_public_routes();
  void add_private_routes();
  void add_oauth_routes();
  void add_history_routes();
  void add_portfolio_routes();
  void add_alert_routes();
  void authenticate(const std::shared_ptr<Call>& call, uint32_t scope, bool order_entry, const Handler& handler);
  void finish_authentication(const std::shared_ptr<Call>& call, uint32_t scope, bool order_entry,
                             const Handler& handler, const auth::AuthOutcome& outcome);
  // Submits a command; `done` runs on the dispatcher thread once durable.
  // False (and a 503 sent) when the engine queue is full.
  bool submit(const std::shared_ptr<Call>& call, const Command& command,
              std::function<void(const CommandOutcome&)> done);
  // Runs slow work (argon2, SQLite writes) off the I/O threads; 503 when busy.
  void offload(const std::shared_ptr<Call>& call, std::function<void()> work);

  // Users and keys.
  void post_users(const std::shared_ptr<Call>& call);
  void post_api_keys(const std::shared_ptr<Call>& call);
  void get_api_keys(const std::shared_ptr<Call>& call);
  void delete_api_key(const std::shared_ptr<Call>& call);
  // Account.
  void get_account(const std::shared_ptr<Call>& call);
  void get_balances(const std::shared_ptr<Call>& call);
  void get_positions(const std::shared_ptr<Call>& call);
  void post_cancel_after(const std::shared_ptr<Call>& call);
  // Portfolio (rest_portfolio.cpp; the value history in rest_history.cpp).
  void get_holdings(const std::shared_ptr<Call>& call);
  void get_portfolio(const std::shared_ptr<Call>& call);
  void get_portfolio_history(const std::shared_ptr<Call>& call);
  // ?currency= (default: services_.portfolio_currency), or a 4xx sent.
  std::optional<AssetSpec> currency_param(const std::shared_ptr<Call>& call);
  void post_reconcile(const std::shared_ptr<Call>& call);
  // Alerts (rest_alerts.cpp).
  void post_alert(const std::shared_ptr<Call>& call);
  void get_alerts(const std::shared_ptr<Call>& call);
  void get_alert(const std::shared_ptr<Call>& call);
  void patch_alert(const std::shared_ptr<Call>& call);
  void delete_alert(const std::shared_ptr<Call>& call);
  void get_alert_history(const std::shared_ptr<Call>& call);
  void get_alert_deliveries(const std::shared_ptr<Call>& call);
  // Reads a rule's definition from a POST (create) or PATCH body into *row,
  // or sends a 4xx; on PATCH absent members keep row's values.
  bool read_alert_body(const std::shared_ptr<Call>& call, bool create, store::AlertRow* row);
  // Margin (rest_margin.cpp).
  void get_margin(const std::shared_ptr<Call>& call);
  void post_margin_orders(const std::shared_ptr<Call>& call);
  // Trading.
  void post_order(const std::shared_ptr<Call>& call);
  void get_orders(const std::shared_ptr<Call>& call);
  void get_order(const std::shared_ptr<Call>& call);
  void get_order_by_client_id(const std::shared_ptr<Call>& call);
  void patch_order(const std::shared_ptr<Call>& call);
  void delete_order(const std::shared_ptr<Call>& call);
  void delete_orders(const std::shared_ptr<Call>& call);
  void get_fills(const std::shared_ptr<Call>& call);
  void reply_order(const std::shared_ptr<Call>& call, const CommandOutcome& outcome, OrderId id, int status);
  // A retry of a keyed request from before the restart: its recorded outcome
  // (the order as it is now, the rejection, or the admin verdict).
  void replay_durable(const std::shared_ptr<Call>& call, const store::IdempotencyRow& row);
  // Admin.
  void post_transfer(const std::shared_ptr<Call>& call, bool deposit);
  void post_instrument_status(const std::shared_ptr<Call>& call);
  void post_account_status(const std::shared_ptr<Call>& call);
  void post_instrument_margin(const std::shared_ptr<Call>& call);
  void post_instrument_circuits(const std::shared_ptr<Call>& call);
  void post_account_margin(const std::shared_ptr<Call>& call);
  void post_account_limits(const std::shared_ptr<Call>& call);
  void post_loss_limit(const std::shared_ptr<Call>& call);
  void post_asset(const std::shared_ptr<Call>& call);
  void post_instrument(const std::shared_ptr<Call>& call);
  // Replies to an admin command with the engine's verdict.
  void reply_admin(const std::shared_ptr<Call>& call, const CommandOutcome& outcome, int status);

  // History from the store (rest_history.cpp).
  // Account, symbol, start, end and limit from the query, or a 4xx sent.
  bool history_query(const std::shared_ptr<Call>& call, bool with_symbol, store::HistoryQuery* query);
  void get_history_orders(const std::shared_ptr<Call>& call);
  void get_history_fills(const std::shared_ptr<Call>& call);
  void get_history_ledger(const std::shared_ptr<Call>& call);

  // OAuth (rest_oauth.cpp).
  // A form body into *form, or an RFC 6749 error sent (415, 400).
  bool read_form(const std::shared_ptr<Call>& call, auth::OAuthParams* form);
  void post_oauth_token(const std::shared_ptr<Call>& call);
  void post_oauth_revoke(const std::shared_ptr<Call>& call);
  void get_oauth_authorize(const std::shared_ptr<Call>& call);
  void post_oauth_authorize(const std::shared_ptr<Call>& call);
  void post_oauth_client(const std::shared_ptr<Call>& call);
  void get_oauth_clients(const std::shared_ptr<Call>& call);

  void get_time(const std::shared_ptr<Call>& call);
  void get_instruments(const std::shared_ptr<Call>& call);
  void get_instrument(const std::shared_ptr<Call>& call);
  void get_book(const std::shared_ptr<Call>& call);
  void get_trades(const std::shared_ptr<Call>& call);
  void get_tickers(const std::shared_ptr<Call>& call);
  void get_ticker(const std::shared_ptr<Call>& call);
  void get_candles(const std::shared_ptr<Call>& call);
  void get_indicators(const std::shared_ptr<Call>& call);
  void get_healthz(const std::shared_ptr<Call>& call);
  void get_readyz(const std::shared_ptr<Call>& call);
  void get_metrics(const std::shared_ptr<Call>& call);
  void get_openapi(const std::shared_ptr<Call>& call);
  void get_docs(const std::shared_ptr<Call>& call);

  // The instrument named by path parameter `index`, or a 404 sent.
  std::optional<marketdata::InstrumentInfo> instrument_param(const std::shared_ptr<Call>& call, std::size_t index);
  // An integer query parameter in [min, max] (default when absent), or a 400 sent.
  // ?interval= (default 1m), or a 400 sent.
  std::optional<marketdata::Interval> interval_param(const std::shared_ptr<Call>& call);
  std::optional<int64_t> int_param(const std::shared_ptr<Call>& call, std::string_view name, int64_t fallback,
                                   int64_t min, int64_t max);

  EngineService& engine_;
  marketdata::MarketView& market_;
  Clock& clock_;
  Metrics& metrics_;
  PrivateServices services_;
  std::atomic<bool> reconciling_{false};
  auth::RateLimiter ip_limiter_;
  auth::RateLimiter user_limiter_;
  auth::RateLimiter order_limiter_;
  std::vector<int64_t> route_weights_;  // by metrics id
  IdempotencyCache idempotency_;
  WorkerPool workers_{2, 1024};
  Router router_;
  std::atomic<bool> draining_{false};
};

// The OpenAPI 3.1 document (docs/openapi.json) and the docs page, embedded
// at build time.
std::string_view openapi_document();
std::string_view docs_page();

// Paging cursors of history lists: "h" + hex key, or "h" + hex + "." + hex
// for two-part keys. Clients pass back next_cursor as given.
std::string history_cursor(uint64_t a, std::optional<uint64_t> b = std::nullopt);
bool parse_history_cursor(const std::string& text, bool two_part, uint64_t* a, uint64_t* b);

// Request ids: the client's X-Request-Id when it is 1..64 of [A-Za-z0-9._-],
// else 16 random hex digits.
std::string request_id_for(const HttpRequest& request);

}  // namespace bourse::gateway

#include "serve.h"

#include <pthread.h>
#include <signal.h>

#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

#include "accounts/account_read_model.h"
#include "alerts/alert_service.h"
#include "auth/auth_service.h"
#include "auth/crypto.h"
#include "auth/jwt.h"
#include "auth/oauth.h"
#include "bourse/core/log.h"
#include "demo_market.h"
#include "md_workers.h"
#include "gateway/http_server.h"
#include "gateway/md_source.h"
#include "ingest/tick_sources.h"
#include "gateway/rest_api.h"
#include "gateway/ws_hub.h"
#include "gateway/ws_channels.h"
#include "gateway/ws_publisher.h"
#include "marketdata/market_view.h"
#include "app/sessions.h"
#include "portfolio/value_recorder.h"
#include "projector/history_projector.h"

namespace bourse::app {
namespace {

// Sends a Heartbeat every second so GTD orders expire on time even when
// nobody trades (the engine reads no clock) and the engine's margin sweep
// runs, lets quiet WebSocket channels tell their subscribers they are
// alive, and submits the daily square-off of MARGIN positions at
// `square_off_minute` (UTC; -1: never) once per day: `last_square_off` (the
// engine's, from the journal) tells whether today's already ran, so a
// restart across the minute still squares off.
class Heartbeat {
 public:
  Heartbeat(EngineService& service, gateway::WsHub& hub, Clock& clock, int square_off_minute,
            Timestamp last_square_off)
      : service_(service) {
    thread_ = std::thread([this, &hub, &clock, square_off_minute, last_square_off] {
      constexpr int64_t kMinute = 60'000'000'000;
      auto day_and_minute = [&](int64_t ns) {
        const int64_t minutes = ns / kMinute;
        return std::pair{minutes / 1440, static_cast<int>(minutes % 1440)};
      };
      // The day whose square-off time the last SquareOff was at or after.
      const auto [last_day, last_minute] = day_and_minute(last_square_off);
      // Never squared off (a new venue, or the setting just turned on): from
      // the next crossing, not at once.
      const auto [start_day, start_minute] = day_and_minute(clock.now());
      int64_t squared_off_day = last_square_off == 0 ? (start_minute >= square_off_minute ? start_day : start_day - 1)
                                : last_minute >= square_off_minute ? last_day : last_day - 1;
      std::unique_lock lock(mutex_);
      while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
        service_.submit(Command::heartbeat(), nullptr);
        hub.heartbeat(clock.now());
        const auto [day, minute] = day_and_minute(clock.now());
        if (square_off_minute >= 0 && minute >= square_off_minute && day > squared_off_day) {
          service_.submit(Command::square_off({InstrumentId{}, 0}), nullptr);
          log_line(LogLevel::kInfo, "serve", "square-off of every MARGIN position submitted");
          squared_off_day = day;
        }
      }
    });
  }
  ~Heartbeat() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  EngineService& service_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

struct DemoUser {
  const char* name;
  const char* role;
  uint32_t scopes;
};
constexpr DemoUser kDemoUsers[] = {
    {"admin", "admin", auth::kAllScopes},
    {"alice", "trader", auth::kScopeRead | auth::kScopeTrade | auth::kScopeTransfer},
    {"bob", "trader", auth::kScopeRead | auth::kScopeTrade | auth::kScopeTransfer},
};

// Creates the demo users (once per data directory): an engine account each,
// an API key each, and funds for the traders. Returns false on a failure.
bool create_demo_users(EngineService& service, store::Store& store, auth::AuthService& auth, Clock& clock) {
  for (const DemoUser& d : kDemoUsers) {
    store::UserRecord user;
    user.username = d.name;
    const std::string password = auth::random_hex(12);
    user.password_hash = auth::hash_password(password);
    user.role = d.role;
    user.created_ms = clock.now() / 1'000'000;
    if (store.create_user(&user) != store::StoreError::kOk) return false;
    bool durable = false;
    ConfigureAccount ca{};
    ca.account = AccountId{user.id};
    ca.default_stp = StpMode::kCancelNewest;
    service.execute(Command::configure_account(ca), &durable);
    if (!durable) return false;
    if (std::string_view(d.role) == "trader") {
      // USD, BTC, ETH, INR, RELIANCE, TCS (demo_market_commands order).
      const int64_t funds[] = {1'000'000'000'000, 1'000'000'000, 10'000'000'000, 1'000'000'000, 1'000, 1'000};
      for (uint32_t asset = 1; asset <= 6; ++asset) {
        service.execute(Command::deposit({Amount{funds[asset - 1]}, AccountId{user.id}, AssetId{asset}}), &durable);
        if (!durable) return false;
      }
    }
    if (!auth.create_key(user.id, d.scopes, "demo", "")) return false;
    std::printf("  created demo user %-5s password %s\n", d.name, password.c_str());
  }
  return true;
}

void print_demo_keys(store::Store& store, auth::AuthService& auth) {
  for (const DemoUser& d : kDemoUsers) {
    const auto user = store.user_by_name(d.name);
    if (!user) continue;
    for (const store::ApiKeyRecord& k : store.api_keys_of(user->id)) {
      if (k.revoked || k.label != "demo") continue;
      const auto secret = auth.secret_of(k.key_id);
      if (!secret) continue;
      std::printf("  demo %-5s (%s) BOURSE_API_KEY=%s BOURSE_API_SECRET=%s\n", d.name, auth::scopes_text(k.scopes).c_str(),
                  k.key_id.c_str(), secret->c_str());
    }
  }
}

constexpr const char* kDemoClientId = "bourse-demo";
constexpr const char* kDemoRedirect = "http://127.0.0.1:8765/callback";

// A public OAuth application for trying the authorization-code flow by hand
// (docs/authentication.md walks through it with curl).
void create_demo_client(store::Store& store, Clock& clock) {
  store::OAuthClientRecord c;
  c.client_id = kDemoClientId;
  c.name = "Bourse demo app";
  c.redirect_uris = std::string(kDemoRedirect) + " http://localhost:8765/callback";
  c.scopes = auth::kScopeRead | auth::kScopeTrade;
  c.created_ms = clock.now() / 1'000'000;
  store.put_oauth_client(c);
}

// http(s)://host:port, as clients reach this server.
std::string base_url(const ServeConfig& config, const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(config.tls_cert_file.empty() ? "http://" : "https://") + (v6 ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

bool oauth_config_of(const ServeConfig& config, const std::string& host, uint16_t port, auth::OAuthConfig* out,
                     std::string* error) {
  out->issuer = config.oauth_issuer.empty() ? base_url(config, host, port) : config.oauth_issuer;
  out->audience = config.oauth_audience;
  out->access_token_ttl_s = config.oauth_access_ttl_s;
  out->refresh_token_ttl_s = config.oauth_refresh_ttl_s;
  for (const ExternalIssuerConfig& e : config.oauth_issuers) {
    auth::ExternalIssuer x;
    x.issuer = e.issuer;
    x.audience = e.audience;
    x.username_claim = e.username_claim;
    if (!auth::parse_scope_list(e.scopes, &x.scopes)) {
      *error = "oauth.issuers " + e.issuer + ": scopes must be read, trade, transfer";
      return false;
    }
    std::ifstream in(e.jwks_file, std::ios::binary);
    const std::string jwks((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      *error = e.jwks_file + ": cannot read";
      return false;
    }
    if (!auth::parse_jwks(jwks, &x.keys, error) || x.keys.empty()) {
      *error = e.jwks_file + ": " + (x.keys.empty() && error->empty() ? "no usable signing key" : *error);
      return false;
    }
    out->external.push_back(std::move(x));
  }
  return true;
}

}  // namespace

int run_serve(const ServeConfig& config) {
  std::string host, error;
  uint16_t port = 0;
  if (!validate_config(config, &host, &port, &error)) {
    std::fprintf(stderr, "bourse serve: %s\n", error.c_str());
    return 2;
  }
  // Signals are taken by sigwait in this thread only; block them before any
  // other thread exists so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  EngineServiceOptions eo;
  eo.exchange.data_dir = config.data_dir;
  eo.exchange.fsync = config.durability == "fsync";
  eo.exchange.snapshot_every = config.snapshot_every;
  eo.inbound_capacity = config.engine_queue;
  auto service = EngineService::open(eo, &error);
  if (!service) {
    std::fprintf(stderr, "bourse serve: %s\n", error.c_str());
    return 1;
  }
  const bool fresh = service->engine().instrument(InstrumentId{1}) == nullptr && service->engine().last_seq() == 0;

  std::string master_key;
  if (!auth::AuthService::load_master_key(config.data_dir + "/master.key", &master_key, &error)) {
    std::fprintf(stderr, "bourse serve: %s\n", error.c_str());
    return 1;
  }
  auto store = store::open_sqlite_store(config.data_dir + "/store.sqlite", &error);
  if (!store) {
    std::fprintf(stderr, "bourse serve: %s\n", error.c_str());
    return 1;
  }
  SystemClock clock;
  auth::AuthService auth(*store, master_key, clock);
  auth.load();
  auto signing_key = auth::SigningKey::load_or_create(config.data_dir + "/oauth_signing.key", master_key, &error);
  if (!signing_key) {
    std::fprintf(stderr, "bourse serve: %s\n", error.c_str());
    return 1;
  }
  auth::OAuthConfig oauth_config;
  if (!oauth_config_of(config, host, port, &oauth_config, &error)) {
    std::fprintf(stderr, "bourse serve: %s\n", error.c_str());
    return 1;
  }

  // History first: after a crash it replays the journal to fill what the
  // store missed; then the read model gets the live-order details only the
  // history keeps (creation time, fill notional, fees).
  projector::HistoryProjector history(*store);
  {
    store::MarketRetention retention;
    constexpr int64_t kDayNs = 86'400'000'000'000;
    retention.trades_ns = config.trades_retention_days * kDayNs;
    for (std::size_t k = 0; k < retention.candles_ns.size(); ++k) {
      retention.candles_ns[k] = config.candle_retention_days[k] * kDayNs;
    }
    history.set_market_retention(retention);
  }
  if (!history.catch_up(config.data_dir, service->engine(), &error)) {
    std::fprintf(stderr, "bourse serve: %s\n", error.c_str());
    return 1;
  }
  marketdata::MarketView market;
  market.load(service->engine());
  const Timestamp last_square_off = service->engine().last_square_off();
  // Candles, indicators, recent trades and the 24-hour tickers continue
  // from the store (history caught up above).
  projector::restore_market(*store, market, 1'000);
  accounts::AccountReadModel accounts;
  accounts.load(service->engine());
  accounts.restore_details(projector::live_order_details(*store));
  accounts.restore_holding_costs(projector::stored_holding_costs(*store, nullptr));
  // Listener order matters: the publisher renders from the read models, so
  // they see each batch first.
  gateway::WsHub::Limits hub_limits;
  hub_limits.history_messages = config.ws_history_messages;
  hub_limits.history_bytes = config.ws_history_bytes;
  hub_limits.heartbeat_ns = int64_t{config.ws_heartbeat_ms} * 1'000'000;
  // Channel sequences start at the engine's seq: they never go backwards
  // across restarts, so a `since` from before one is never mistaken for now.
  gateway::WsHub hub(hub_limits, service->engine().last_seq());
  gateway::WsPublisher publisher(hub, market, accounts, clock);
  // Market-data workers' links: subscribers of the hub (started below).
  gateway::MdSource md_source(hub, market, clock, config.md_link_buffer_bytes);
  service->add_listener(&market);
  service->add_listener(&accounts);
  service->add_listener(&publisher);
  service->add_listener(&md_source);  // after the publisher: a new instrument's directory entry
  // Alerts: caught up to the journal (firing what a crash made it miss)
  // before any new event; each firing goes to the account's `alerts` channel.
  alerts::AlertServiceOptions alert_options;
  alert_options.max_alerts_per_account = static_cast<std::size_t>(config.alerts_max_per_account);
  alert_options.webhook_allow_private = config.webhook_allow_private;
  alert_options.webhook_timeout_ms = config.webhook_timeout_ms;
  alert_options.webhook_max_attempts = static_cast<uint32_t>(config.webhook_max_attempts);
  alert_options.webhook_retry_base_ns = config.webhook_retry_base_ms * 1'000'000;
  alert_options.webhook_retry_max_ns = config.webhook_retry_max_ms * 1'000'000;
  alert_options.webhook_senders = static_cast<uint32_t>(config.webhook_senders);
  alert_options.webhook_max_pending_per_account = static_cast<std::size_t>(config.webhook_max_pending_per_account);
  alerts::AlertService alert_service(*store, market, clock, master_key, alert_options,
                                     [&hub, &clock](const store::AlertFiringRow& f) {
                                       const std::string channel = gateway::private_channel("alerts", AccountId{f.account});
                                       if (!hub.wants(channel)) return;
                                       std::string out;
                                       gateway::JsonWriter w(&out);
                                       const uint64_t seq = hub.next_seq(channel);
                                       gateway::begin_channel_message(w, "alerts", "alert", seq, clock.now());
                                       w.key("data").raw(f.data);
                                       w.end_object();
                                       hub.publish(channel, seq, 0, std::make_shared<const std::string>(std::move(out)),
                                                   clock.now());
                                     },
                                     [&service] { return service->durable_seq(); });
  if (!alert_service.start(config.data_dir, service->engine(), &error)) {
    std::fprintf(stderr, "bourse serve: %s\n", error.c_str());
    return 1;
  }
  service->add_listener(&alert_service);  // copies what its rules need for its own thread
  service->add_listener(&history);  // last: it only copies the batch for its own thread
  history.start();
  service->start();

  if (fresh) {
    for (const Command& c : demo_market_commands()) {
      bool durable = false;
      service->execute(c, &durable);
      if (!durable) {
        std::fprintf(stderr, "bourse serve: could not create the demo market (journal failure)\n");
        return 1;
      }
    }
  }

  if (!store->user_by_name("admin") && !create_demo_users(*service, *store, auth, clock)) {
    std::fprintf(stderr, "bourse serve: could not create the demo users\n");
    return 1;
  }

  // External users get an engine account like any sign-up (same id).
  auth::OAuthService oauth(std::move(oauth_config), *store, auth, *signing_key, clock, [&service](uint32_t user_id) {
    ConfigureAccount ca{};
    ca.account = AccountId{user_id};
    ca.default_stp = StpMode::kCancelNewest;
    service->execute(Command::configure_account(ca));
  });
  oauth.load();
  auth.set_bearer_verifier(&oauth);
  if (!store->oauth_client(kDemoClientId)) create_demo_client(*store, clock);

  gateway::Metrics metrics;
  gateway::RateLimits limits;
  limits.per_ip = {config.ip_per_second, config.ip_burst};
  limits.per_user = {config.user_per_second, config.user_burst};
  limits.orders_per_account = {config.orders_per_second, config.orders_burst};
  gateway::RestApi api(*service, market, clock, metrics, gateway::PrivateServices{&accounts, &auth, store.get(), &oauth, config.portfolio_currency,
                                                config.data_dir, &alert_service},
                       limits);
  // Keyed requests from before this start (history caught up above), so
  // their retries are answered rather than executed a second time.
  api.load_idempotency(store->recent_idempotency(clock.now() / 1'000'000 - store::kIdempotencyTtlMs,
                                                 gateway::IdempotencyCache::kMaxEntries));
  gateway::WsContext ws;
  ws.hub = &hub;
  ws.api = &api;
  ws.auth = &auth;
  ws.market = &market;
  ws.engine = service.get();
  ws.clock = &clock;
  ws.options.conflate_after_messages = config.ws_conflate_after_messages;
  ws.options.send_buffer_bytes = config.ws_send_buffer_bytes;
  ws.options.max_message_bytes = config.ws_max_message_bytes;
  ws.options.max_subscriptions = config.ws_max_subscriptions;
  ws.options.max_queued_messages = config.ws_max_queued_messages;
  ws.options.idle_timeout_ms = config.ws_idle_timeout_ms;
  ws.options.max_connections = config.ws_max_connections;
  gateway::HttpServerOptions ho;
  ho.websocket = &ws;
  ho.host = host;
  ho.port = port;
  ho.io_threads = config.io_threads > 0 ? config.io_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ho.max_body_bytes = config.max_body_bytes;
  ho.max_header_bytes = config.max_header_bytes;
  ho.request_timeout_ms = config.request_timeout_ms;
  ho.idle_timeout_ms = config.idle_timeout_ms;
  ho.max_connections = config.max_connections;
  ho.tls_cert_file = config.tls_cert_file;
  ho.tls_key_file = config.tls_key_file;
  gateway::HttpServer server(
      ho, [&api](gateway::HttpRequest&& r, gateway::Responder respond) { api.handle(std::move(r), std::move(respond)); },
      [&api](int status, std::string_view code, std::string_view detail) {
        return api.transport_error(status, code, detail);
      });
  metrics.add_gauge("bourse_http_connections", "Open HTTP connections.",
                    [&server] { return static_cast<double>(server.open_connections()); });
  metrics.add_gauge("bourse_ws_connections", "Open WebSocket connections.",
                    [&ws] { return static_cast<double>(ws.connections.load()); });
  metrics.add_gauge("bourse_engine_queue_depth", "Commands waiting for the engine thread.",
                    [&service] { return static_cast<double>(service->queue_depth()); });
  metrics.add_gauge("bourse_engine_durable_seq", "Highest journal sequence number on disk.",
                    [&service] { return static_cast<double>(service->durable_seq()); });
  // History lags the journal by design; a stalled projector must be visible.
  metrics.add_gauge("bourse_history_projected_seq", "Journal seq the order/fill/ledger history is complete to.",
                    [&history] { return static_cast<double>(history.projected_seq()); });
  metrics.add_gauge("bourse_alerts_evaluated_seq", "Journal seq alert evaluation is complete to.",
                    [&alert_service] { return static_cast<double>(alert_service.evaluated_seq()); });
  metrics.add_gauge("bourse_alerts_fired", "Alerts fired since start.",
                    [&alert_service] { return static_cast<double>(alert_service.fired()); });
  metrics.add_gauge("bourse_webhook_deliveries_pending", "Webhook deliveries waiting for a (re)try.",
                    [&alert_service] { return static_cast<double>(alert_service.deliveries_pending()); });
  metrics.add_gauge("bourse_history_stalled", "1 when history projection stopped (it catches up at the next start).",
                    [&history] { return history.stalled() ? 1.0 : 0.0; });
  if (!server.listen(&error)) {
    std::fprintf(stderr, "bourse serve: %s\n", error.c_str());
    service->stop();
    return 1;
  }
  // With port 0 the real port is known only now; nothing has been served yet.
  if (config.oauth_issuer.empty()) oauth.set_issuer(base_url(config, host, server.port()));
  server.start();
  std::unique_ptr<MdWorkerPool> md_workers;
  std::string md_host;
  if (config.md_workers > 0) {
    uint16_t md_port = 0;
    split_host_port(config.md_listen, &md_host, &md_port);
    md_workers = std::make_unique<MdWorkerPool>(md_source, worker_settings_of(config, md_host, md_port),
                                                config.md_workers);
    if (!md_workers->start(&error)) {
      std::fprintf(stderr, "bourse serve: %s\n", error.c_str());
      md_workers.reset();
      server.shutdown(0);
      service->stop();
      return 1;
    }
    metrics.add_gauge("bourse_md_workers", "Market-data worker processes listening, with a live link.",
                      [&md_source] { return static_cast<double>(md_source.links()); });
    metrics.add_gauge("bourse_md_link_buffered_bytes", "Bytes waiting to be written to the market-data workers.",
                      [&md_source] { return static_cast<double>(md_source.buffered_bytes()); });
    metrics.add_gauge("bourse_md_worker_restarts", "Market-data workers restarted since start.",
                      [&md_workers] { return static_cast<double>(md_workers->restarts()); });
  }

  // External ticks: after the server listens, so a replay's trades reach
  // clients that connected at start.
  ingest::TickIngest tick_ingest(*service, market, clock);
  ingest::LineFeed line_feed(tick_ingest);
  std::unique_ptr<ingest::FileReplay> replay;
  if (!line_feed.start(config.ingest_tcp, config.ingest_udp, &error)) {
    std::fprintf(stderr, "bourse serve: %s\n", error.c_str());
    return 1;
  }
  metrics.add_gauge("bourse_ingest_ticks_accepted", "External ticks submitted to the engine.",
                    [&tick_ingest] { return static_cast<double>(tick_ingest.counters().accepted.load()); });
  metrics.add_gauge("bourse_ingest_ticks_refused", "External ticks refused before the engine (malformed, late, unknown).",
                    [&tick_ingest] { return static_cast<double>(tick_ingest.counters().refused.load()); });
  metrics.add_gauge("bourse_ingest_ticks_applied", "External ticks applied and durable.",
                    [&tick_ingest] { return static_cast<double>(tick_ingest.counters().applied.load()); });
  metrics.add_gauge("bourse_ingest_ticks_rejected", "External ticks the engine refused (tick or lot size).",
                    [&tick_ingest] { return static_cast<double>(tick_ingest.counters().engine_rejected.load()); });

  const std::string url = base_url(config, host, server.port());
  std::printf("bourse serve: listening on %s (data %s, %s durability, %d I/O threads)\n", url.c_str(),
              config.data_dir.c_str(), config.durability.c_str(), ho.io_threads);
  std::printf("  %s market at seq %llu; instruments:", fresh ? "new demo" : "recovered",
              static_cast<unsigned long long>(service->durable_seq()));
  std::vector<InstrumentSpec> specs;
  std::vector<Price> mids;
  for (const auto& i : market.instruments()) {
    std::printf(" %s", std::string(i.spec.symbol.view()).c_str());
    if (i.spec.external) continue;  // prices from a feed: the simulator trades only the venue's own
    specs.push_back(i.spec);
    mids.push_back(i.last_price.value ? i.last_price : i.spec.reference_price);
  }
  std::printf("\n");
  if (md_workers) {
    std::string pids;
    for (pid_t p : md_workers->pids()) pids += (pids.empty() ? "" : ",") + std::to_string(p);
    const std::string md_url = base_url(config, md_host, md_workers->port());
    std::printf("  market data: %d workers on %s/v1/ws (public channels; pids %s)\n", config.md_workers,
                (md_url.starts_with("https") ? "wss" + md_url.substr(5) : "ws" + md_url.substr(4)).c_str(), pids.c_str());
  }
  if (line_feed.tcp_port()) std::printf("  tick feed: tcp %s:%u\n", config.ingest_tcp.substr(0, config.ingest_tcp.rfind(':')).c_str(), line_feed.tcp_port());
  if (line_feed.udp_port()) std::printf("  tick feed: udp %s:%u\n", config.ingest_udp.substr(0, config.ingest_udp.rfind(':')).c_str(), line_feed.udp_port());
  if (!config.ingest_file.empty()) {
    replay = std::make_unique<ingest::FileReplay>(tick_ingest, config.ingest_file, config.ingest_speed);
    if (!replay->start(&error)) {
      std::fprintf(stderr, "bourse serve: %s\n", error.c_str());
      return 1;
    }
    std::printf("  replaying %s (speed %g)\n", config.ingest_file.c_str(), config.ingest_speed);
  }
  print_demo_keys(*store, auth);
  std::printf("  demo OAuth client %s (public, PKCE): redirect %s\n", kDemoClientId, kDemoRedirect);
  std::printf("  try: curl %s%s/v1/ticker   (signing: docs/authentication.md; CLI: bourse order --help)\n",
              ho.tls_cert_file.empty() ? "" : "--cacert CA.pem ", url.c_str());
  std::fflush(stdout);

  std::unique_ptr<Heartbeat> heartbeat = std::make_unique<Heartbeat>(
      *service, hub, clock, config.square_off_utc.empty() ? -1 : square_off_minute(config.square_off_utc),
      last_square_off);
  portfolio::ValueRecorder value_recorder(
      *store, accounts, market, clock,
      portfolio::ValueRecorder::Options{config.portfolio_currency, config.portfolio_interval_s * 1'000'000'000,
                                        int64_t{config.portfolio_retention_days} * 86'400'000'000'000});
  value_recorder.start();
  SessionScheduler sessions(*service, market, clock, config.sessions);
  sessions.start();
  for (const SessionSchedule& s : config.sessions) {
    std::string symbols;
    for (const std::string& sym : s.symbols) symbols += (symbols.empty() ? "" : ",") + sym;
    std::printf("  sessions: %s %02d:%02d-%02d:%02d (UTC%+d min)\n", symbols.c_str(), s.open_minute / 60,
                s.open_minute % 60, s.close_minute / 60, s.close_minute % 60, s.utc_offset_minutes);
  }
  std::unique_ptr<MarketSimulator> simulator;
  if (config.simulate && !specs.empty()) {
    simulator = std::make_unique<MarketSimulator>(*service, specs, mids, config.simulate_rate);
    simulator->start();
    std::printf("  simulated market maker on (%d orders/s)\n", config.simulate_rate);
    std::fflush(stdout);
  }

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  log_line(LogLevel::kInfo, "serve", "signal %d: draining", signal_number);

  // Graceful: not ready, stop accepting, finish in-flight requests, stop the
  // command sources, then the engine (final snapshot).
  api.set_draining();
  if (simulator) simulator->stop();
  if (replay) replay->stop();
  line_feed.stop();
  heartbeat.reset();
  value_recorder.stop();
  sessions.stop();
  server.shutdown(config.drain_ms);
  md_workers.reset();  // their clients get 1001 "going away" (after the server: /metrics reads the pool)
  service->stop();
  alert_service.stop(service->engine().last_seq());
  history.stop(service->engine().last_seq());
  log_line(LogLevel::kInfo, "serve", "stopped at seq %llu", static_cast<unsigned long long>(service->durable_seq()));
  return 0;
}

}  // namespace bourse::app

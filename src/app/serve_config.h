// Configuration of `bourse serve`: defaults, then the TOML file (--config),
// then BOURSE_* environment variables, then command-line flags; each later
// source overrides the earlier. `bourse serve --help` lists the flags; the
// file format is in docs/configuration.md.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "app/session_calendar.h"

namespace bourse::app {

// A trusted external OIDC issuer ([[oauth.issuers]]): its JWTs are accepted
// as bearer tokens and its subjects become local users.
struct ExternalIssuerConfig {
  std::string issuer;                 // exact "iss"
  std::string audience = "bourse";    // required "aud"
  std::string jwks_file;              // its JWK Set, read at start
  std::vector<std::string> scopes = {"read", "trade"};  // the most its tokens grant (never admin)
  std::string username_claim = "preferred_username";
};

struct ServeConfig {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one (printed)
  std::string data_dir = "./data";
  int io_threads = 0;                     // 0: one per core
  std::string durability = "fsync";       // fsync | async (journal written, not fdatasync'ed)
  bool simulate = false;                  // run the simulated market maker
  int simulate_rate = 50;                 // simulated orders per second
  uint64_t snapshot_every = 100'000;      // commands between snapshots
  // Limits on every input.
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t max_header_bytes = 8 * 1024;
  int request_timeout_ms = 10'000;
  int idle_timeout_ms = 60'000;
  int max_connections = 10'000;
  int drain_ms = 10'000;                  // graceful shutdown: wait this long for in-flight requests
  // TLS ([tls]): both set, the port speaks HTTPS and WSS only.
  std::string tls_cert_file;              // PEM chain, leaf first
  std::string tls_key_file;               // PEM private key
  std::size_t engine_queue = 1u << 14;    // commands waiting for the engine before 503
  // WebSocket sessions (docs/websocket.md).
  std::size_t ws_max_message_bytes = 16 * 1024;
  std::size_t ws_max_subscriptions = 100;
  std::size_t ws_max_queued_messages = 4096;
  int ws_idle_timeout_ms = 30'000;
  int ws_max_connections = 10'000;
  std::size_t ws_conflate_after_messages = 256;
  std::size_t ws_history_messages = 1000;
  std::size_t ws_history_bytes = 512 * 1024;
  int ws_heartbeat_ms = 5'000;
  int ws_send_buffer_bytes = 0;
  // Market-data workers ([marketdata]): processes that serve public
  // channels on their own port (SO_REUSEPORT), fed by this process; each
  // holds up to websocket.max_connections. 0: none (/v1/ws on the API port
  // serves everything, as it always does).
  int md_workers = 0;
  std::string md_listen = "127.0.0.1:8081";  // port 0 picks a free one (printed)
  std::size_t md_link_buffer_bytes = 256u << 20;  // a worker this far behind is restarted
  // External ticks ([ingest], docs/market-data.md): each source optional.
  std::string ingest_file;        // CSV or NDJSON, replayed once at start
  double ingest_speed = 0;        // 0: as fast as the engine takes them; 1: as recorded; N: N times faster
  std::string ingest_tcp;         // IP:PORT of a TCP line feed
  std::string ingest_udp;         // IP:PORT of a UDP line feed
  // [margin]: "HH:MM" UTC at which every MARGIN position is squared off each
  // day (a SquareOff command); empty: never.
  std::string square_off_utc;
  // [portfolio] (docs/portfolio.md): the reporting currency of the value
  // history (an asset code; GET /v1/portfolio defaults to it), how often
  // every account's value is recorded (divides a day, so midnight is a
  // point) and how long those points are kept (0: forever).
  std::string portfolio_currency = "USD";
  int64_t portfolio_interval_s = 900;
  int portfolio_retention_days = 400;
  // [alerts] (docs/alerts.md): active rules per account; webhooks: whether
  // they may reach loopback and private addresses (off: only public ones),
  // the timeout of one attempt, and the retries (base · 2^(n−1), capped).
  int alerts_max_per_account = 200;
  bool webhook_allow_private = false;
  int webhook_timeout_ms = 5'000;
  int webhook_max_attempts = 12;
  int64_t webhook_retry_base_ms = 1'000;
  int64_t webhook_retry_max_ms = 300'000;
  int webhook_senders = 4;                       // sender threads; an account is served by one at a time
  int webhook_max_pending_per_account = 100;     // beyond: a new delivery fails at once
  // [[sessions]]: trading calendars per market (docs/configuration.md);
  // none: every instrument trades around the clock.
  std::vector<SessionSchedule> sessions;
  // Market history kept by the projector, in days (0: forever); candles per
  // interval 1s, 1m, 5m, 15m, 1h, 1d.
  int trades_retention_days = 90;
  std::array<int, 6> candle_retention_days{7, 90, 0, 0, 0, 0};
  // Token buckets: requests per second and burst; per_second 0 disables.
  int64_t ip_per_second = 2'000, ip_burst = 4'000;
  int64_t user_per_second = 1'000, user_burst = 2'000;
  int64_t orders_per_second = 500, orders_burst = 1'000;  // order entry per account
  // OAuth 2.0 ([oauth]; docs/authentication.md).
  std::string oauth_issuer;           // "iss" and metadata base URL; empty: http://<listen address>
  std::string oauth_audience = "bourse";
  int64_t oauth_access_ttl_s = 900;
  int64_t oauth_refresh_ttl_s = 30 * 86'400;
  std::vector<ExternalIssuerConfig> oauth_issuers;
};

// Reads the TOML file into *config. False with *error on a missing file,
// bad syntax, an unknown key or a value of the wrong type.
bool load_config_file(const std::string& path, ServeConfig* config, std::string* error);
// Applies BOURSE_LISTEN, BOURSE_DATA_DIR, BOURSE_IO_THREADS, BOURSE_DURABILITY,
// BOURSE_SIMULATE, BOURSE_TLS_CERT, BOURSE_TLS_KEY. False with *error on a malformed value.
bool apply_environment(ServeConfig* config, std::string* error);
// Checks ranges and splits listen into host and port.
bool validate_config(const ServeConfig& config, std::string* host, uint16_t* port, std::string* error);
// Minutes after midnight of an "HH:MM" (24-hour) time, or -1.
int square_off_minute(const std::string& hh_mm);
// "HOST:PORT" or "[v6]:PORT".
bool split_host_port(const std::string& listen, std::string* host, uint16_t* port);

}  // namespace bourse::app

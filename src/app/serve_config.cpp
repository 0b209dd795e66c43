#include "serve_config.h"

#include <arpa/inet.h>

#include <algorithm>

#include <charconv>
#include <cstdlib>
#include <limits>
#include <set>

#include <toml++/toml.h>

namespace bourse::app {
namespace {

template <class T>
bool parse_int(std::string_view text, T* out) {
  T v{};
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return false;
  *out = v;
  return true;
}

bool parse_bool(std::string_view text, bool* out) {
  if (text == "1" || text == "true" || text == "yes") return *out = true, true;
  if (text == "0" || text == "false" || text == "no") return *out = false, true;
  return false;
}

}  // namespace

bool read_sessions(const toml::array* list, const std::string& path, std::vector<SessionSchedule>* out,
                   std::string* error);

bool load_config_file(const std::string& path, ServeConfig* c, std::string* error) {
  // Start-up code: toml++ reports syntax errors as exceptions.
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    *error = path + ": " + std::string(e.description());
    return false;
  }
  // Every key must be known: a typo must not silently keep a default.
  static const std::set<std::string> kServer = {"listen", "io_threads", "max_connections", "max_body_bytes",
                                                "max_header_bytes", "request_timeout_ms", "idle_timeout_ms",
                                                "drain_ms"};
  static const std::set<std::string> kEngine = {"data_dir", "durability", "snapshot_every", "queue"};
  static const std::set<std::string> kSimulator = {"enabled", "orders_per_second"};
  static const std::set<std::string> kWebsocket = {"max_message_bytes", "max_subscriptions", "max_queued_messages",
                                                   "idle_timeout_ms", "max_connections", "conflate_after_messages",
                                                   "history_messages", "history_bytes", "heartbeat_ms",
                                                   "send_buffer_bytes"};
  static const std::set<std::string> kOauth = {"issuer", "audience", "access_token_ttl_s", "refresh_token_ttl_s",
                                               "issuers"};
  static const std::set<std::string> kTls = {"cert_file", "key_file"};
  static const std::set<std::string> kMarketData = {"workers", "listen", "link_buffer_bytes"};
  static const std::set<std::string> kIngest = {"file", "speed", "tcp_listen", "udp_listen"};
  static const std::set<std::string> kMargin = {"square_off_utc"};
  static const std::set<std::string> kPortfolio = {"currency", "history_interval_s", "history_retention_days"};
  static const std::set<std::string> kAlerts = {"max_per_account", "webhook_allow_private", "webhook_timeout_ms",
                                                "webhook_max_attempts", "webhook_retry_base_ms", "webhook_retry_max_ms",
                                                "webhook_senders", "webhook_max_pending_per_account"};
  static const std::set<std::string> kHistory = {"trades_retention_days", "candles_1s_retention_days",
                                                 "candles_1m_retention_days", "candles_5m_retention_days",
                                                 "candles_15m_retention_days", "candles_1h_retention_days",
                                                 "candles_1d_retention_days"};
  static const std::set<std::string> kIssuer = {"issuer", "audience", "jwks_file", "scopes", "username_claim"};
  static const std::set<std::string> kLimits = {"ip_per_second", "ip_burst", "user_per_second", "user_burst",
                                                "orders_per_second", "orders_burst"};
  for (const auto& [key, node] : root) {
    const std::string k(key.str());
    if (k == "sessions") continue;  // an array of tables, read below
    const std::set<std::string>* allowed = k == "server" ? &kServer : k == "engine" ? &kEngine
                                         : k == "simulator" ? &kSimulator : k == "limits" ? &kLimits
                                         : k == "websocket" ? &kWebsocket : k == "oauth" ? &kOauth
                                         : k == "tls" ? &kTls : k == "history" ? &kHistory
                                         : k == "marketdata" ? &kMarketData : k == "ingest" ? &kIngest
                                         : k == "margin" ? &kMargin : k == "portfolio" ? &kPortfolio
                                         : k == "alerts" ? &kAlerts : nullptr;
    if (!allowed || !node.is_table()) {
      *error = path + ": unknown section [" + k + "]";
      return false;
    }
    for (const auto& [sub, value] : *node.as_table()) {
      if (!allowed->count(std::string(sub.str()))) {
        *error = path + ": unknown key " + k + "." + std::string(sub.str());
        return false;
      }
    }
  }
  bool ok = true;
  auto get_string = [&](const char* section, const char* key, std::string* out) {
    const auto node = root[section][key];
    if (!node) return;
    if (auto v = node.value<std::string>()) *out = *v; else ok = false, *error = path + ": " + section + "." + key + " must be a string";
  };
  auto get_int = [&](const char* section, const char* key, auto* out) {
    const auto node = root[section][key];
    if (!node) return;
    using T = std::remove_pointer_t<decltype(out)>;
    // Within the target's range: a huge value must not wrap into a small or negative one.
    if (auto v = node.value<int64_t>(); v && *v >= 0 && static_cast<uint64_t>(*v) <= std::numeric_limits<T>::max()) {
      *out = static_cast<T>(*v);
    } else {
      ok = false, *error = path + ": " + section + "." + key + " must be a non-negative integer in range";
    }
  };
  auto get_bool = [&](const char* section, const char* key, bool* out) {
    const auto node = root[section][key];
    if (!node) return;
    if (auto v = node.value<bool>()) *out = *v; else ok = false, *error = path + ": " + section + "." + key + " must be true or false";
  };
  get_string("server", "listen", &c->listen);
  get_int("server", "io_threads", &c->io_threads);
  get_int("server", "max_connections", &c->max_connections);
  get_int("server", "max_body_bytes", &c->max_body_bytes);
  get_int("server", "max_header_bytes", &c->max_header_bytes);
  get_int("server", "request_timeout_ms", &c->request_timeout_ms);
  get_int("server", "idle_timeout_ms", &c->idle_timeout_ms);
  get_int("server", "drain_ms", &c->drain_ms);
  get_string("tls", "cert_file", &c->tls_cert_file);
  get_string("tls", "key_file", &c->tls_key_file);
  get_string("engine", "data_dir", &c->data_dir);
  get_string("engine", "durability", &c->durability);
  get_int("engine", "snapshot_every", &c->snapshot_every);
  get_int("engine", "queue", &c->engine_queue);
  get_bool("simulator", "enabled", &c->simulate);
  get_int("websocket", "max_message_bytes", &c->ws_max_message_bytes);
  get_int("websocket", "max_subscriptions", &c->ws_max_subscriptions);
  get_int("websocket", "max_queued_messages", &c->ws_max_queued_messages);
  get_int("websocket", "idle_timeout_ms", &c->ws_idle_timeout_ms);
  get_int("websocket", "max_connections", &c->ws_max_connections);
  get_int("websocket", "conflate_after_messages", &c->ws_conflate_after_messages);
  get_int("websocket", "history_messages", &c->ws_history_messages);
  get_int("websocket", "history_bytes", &c->ws_history_bytes);
  get_int("websocket", "heartbeat_ms", &c->ws_heartbeat_ms);
  get_int("websocket", "send_buffer_bytes", &c->ws_send_buffer_bytes);
  get_int("marketdata", "workers", &c->md_workers);
  get_string("marketdata", "listen", &c->md_listen);
  get_int("marketdata", "link_buffer_bytes", &c->md_link_buffer_bytes);
  get_string("margin", "square_off_utc", &c->square_off_utc);
  get_string("portfolio", "currency", &c->portfolio_currency);
  get_int("alerts", "max_per_account", &c->alerts_max_per_account);
  get_bool("alerts", "webhook_allow_private", &c->webhook_allow_private);
  get_int("alerts", "webhook_timeout_ms", &c->webhook_timeout_ms);
  get_int("alerts", "webhook_max_attempts", &c->webhook_max_attempts);
  get_int("alerts", "webhook_retry_base_ms", &c->webhook_retry_base_ms);
  get_int("alerts", "webhook_retry_max_ms", &c->webhook_retry_max_ms);
  get_int("alerts", "webhook_senders", &c->webhook_senders);
  get_int("alerts", "webhook_max_pending_per_account", &c->webhook_max_pending_per_account);
  get_int("portfolio", "history_interval_s", &c->portfolio_interval_s);
  get_int("portfolio", "history_retention_days", &c->portfolio_retention_days);
  get_string("ingest", "file", &c->ingest_file);
  get_string("ingest", "tcp_listen", &c->ingest_tcp);
  get_string("ingest", "udp_listen", &c->ingest_udp);
  if (const auto node = root["ingest"]["speed"]) {
    if (const auto v = node.value<double>()) {
      c->ingest_speed = *v;
    } else {
      ok = false;
      *error = path + ": ingest.speed must be a number";
    }
  }
  get_int("history", "trades_retention_days", &c->trades_retention_days);
  {
    static const char* const kCandleKeys[6] = {"candles_1s_retention_days",  "candles_1m_retention_days",
                                               "candles_5m_retention_days",  "candles_15m_retention_days",
                                               "candles_1h_retention_days",  "candles_1d_retention_days"};
    for (std::size_t k = 0; k < 6; ++k) get_int("history", kCandleKeys[k], &c->candle_retention_days[k]);
  }
  get_int("limits", "ip_per_second", &c->ip_per_second);
  get_int("limits", "ip_burst", &c->ip_burst);
  get_int("limits", "user_per_second", &c->user_per_second);
  get_int("limits", "user_burst", &c->user_burst);
  get_int("limits", "orders_per_second", &c->orders_per_second);
  get_int("limits", "orders_burst", &c->orders_burst);
  get_int("simulator", "orders_per_second", &c->simulate_rate);
  get_string("oauth", "issuer", &c->oauth_issuer);
  get_string("oauth", "audience", &c->oauth_audience);
  get_int("oauth", "access_token_ttl_s", &c->oauth_access_ttl_s);
  get_int("oauth", "refresh_token_ttl_s", &c->oauth_refresh_ttl_s);
  if (const auto node = root["oauth"]["issuers"]; node) {
    const toml::array* list = node.as_array();
    if (!list) {
      *error = path + ": oauth.issuers must be an array of tables ([[oauth.issuers]])";
      return false;
    }
    for (const toml::node& item : *list) {
      const toml::table* t = item.as_table();
      if (!t) {
        *error = path + ": oauth.issuers must be an array of tables ([[oauth.issuers]])";
        return false;
      }
      ExternalIssuerConfig e;
      for (const auto& [key, value] : *t) {
        const std::string name(key.str());
        if (!kIssuer.count(name)) {
          *error = path + ": unknown key oauth.issuers." + name;
          return false;
        }
        if (name == "scopes") {
          const toml::array* scopes = value.as_array();
          e.scopes.clear();
          for (std::size_t i = 0; scopes && i < scopes->size(); ++i) {
            if (auto v = (*scopes)[i].value<std::string>()) e.scopes.push_back(*v); else scopes = nullptr;
          }
          if (!scopes) {
            *error = path + ": oauth.issuers.scopes must be an array of strings";
            return false;
          }
          continue;
        }
        auto v = value.value<std::string>();
        if (!v) {
          *error = path + ": oauth.issuers." + name + " must be a string";
          return false;
        }
        (name == "issuer" ? e.issuer : name == "audience" ? e.audience : name == "jwks_file" ? e.jwks_file
                                                                          : e.username_claim) = *v;
      }
      if (e.issuer.empty() || e.jwks_file.empty()) {
        *error = path + ": every [[oauth.issuers]] needs issuer and jwks_file";
        return false;
      }
      c->oauth_issuers.push_back(std::move(e));
    }
  }
  if (const auto node = root["sessions"]; node && ok) {
    if (!read_sessions(node.as_array(), path, &c->sessions, error)) return false;
  }
  return ok;
}

// [[sessions]]: symbols, utc_offset_minutes, pre_open (optional), open,
// close, days (default MON..FRI), holidays ("YYYY-MM-DD", local).
bool read_sessions(const toml::array* list, const std::string& path, std::vector<SessionSchedule>* out,
                   std::string* error) {
  static const std::set<std::string> kKeys = {"symbols", "utc_offset_minutes", "pre_open", "open",
                                              "close", "days", "holidays"};
  auto fail = [&](const std::string& what) {
    *error = path + ": " + what;
    return false;
  };
  if (!list) return fail("sessions must be an array of tables ([[sessions]])");
  auto strings = [](const toml::node* n, std::vector<std::string>* v) {
    const toml::array* a = n ? n->as_array() : nullptr;
    if (!a) return false;
    for (const toml::node& item : *a) {
      auto s = item.value<std::string>();
      if (!s) return false;
      v->push_back(*s);
    }
    return true;
  };
  for (const toml::node& item : *list) {
    const toml::table* t = item.as_table();
    if (!t) return fail("sessions must be an array of tables ([[sessions]])");
    for (const auto& [key, value] : *t) {
      if (!kKeys.count(std::string(key.str()))) return fail("unknown key sessions." + std::string(key.str()));
    }
    SessionSchedule s;
    if (!strings(t->get("symbols"), &s.symbols) || s.symbols.empty()) {
      return fail("sessions.symbols must be a non-empty array of strings");
    }
    if (const toml::node* n = t->get("utc_offset_minutes")) {
      auto v = n->value<int64_t>();
      if (!v || *v < -720 || *v > 840) return fail("sessions.utc_offset_minutes must be -720..840");
      s.utc_offset_minutes = static_cast<int>(*v);
    }
    auto minute = [&](const char* name, int* dst, bool required) {
      const toml::node* n = t->get(name);
      if (!n) return !required;
      auto v = n->value<std::string>();
      *dst = v ? square_off_minute(*v) : -1;
      return *dst >= 0;
    };
    if (!minute("open", &s.open_minute, true) || !minute("close", &s.close_minute, true) ||
        !minute("pre_open", &s.pre_open_minute, false)) {
      return fail("sessions.open and close (and pre_open) are \"HH:MM\" local times");
    }
    if (s.open_minute >= s.close_minute || (s.pre_open_minute >= 0 && s.pre_open_minute >= s.open_minute)) {
      return fail("sessions: pre_open < open < close, within one local day");
    }
    std::vector<std::string> days = {"MON", "TUE", "WED", "THU", "FRI"};
    if (const toml::node* n = t->get("days"); n && (days.clear(), !strings(n, &days))) {
      return fail("sessions.days must be an array of MON..SUN");
    }
    if (days.empty()) return fail("sessions.days: at least one day (a market that never opens needs no calendar)");
    for (const std::string& d : days) {
      const int i = weekday_index(d);
      if (i < 0) return fail("sessions.days: unknown day \"" + d + "\" (MON..SUN)");
      s.days[static_cast<std::size_t>(i)] = true;
    }
    std::vector<std::string> holidays;
    if (const toml::node* n = t->get("holidays"); n && !strings(n, &holidays)) {
      return fail("sessions.holidays must be an array of \"YYYY-MM-DD\"");
    }
    for (const std::string& h : holidays) {
      int64_t day = 0;
      if (!parse_date(h, &day)) return fail("sessions.holidays: \"" + h + "\" is not a YYYY-MM-DD date");
      s.holidays.insert(day);
    }
    for (const SessionSchedule& other : *out) {
      for (const std::string& sym : s.symbols) {
        if (std::find(other.symbols.begin(), other.symbols.end(), sym) != other.symbols.end()) {
          return fail("sessions: " + sym + " is in two calendars");
        }
      }
    }
    out->push_back(std::move(s));
  }
  return true;
}

bool apply_environment(ServeConfig* c, std::string* error) {
  auto env = [](const char* name) -> const char* { return std::getenv(name); };
  if (const char* v = env("BOURSE_LISTEN")) c->listen = v;
  if (const char* v = env("BOURSE_DATA_DIR")) c->data_dir = v;
  if (const char* v = env("BOURSE_DURABILITY")) c->durability = v;
  if (const char* v = env("BOURSE_TLS_CERT")) c->tls_cert_file = v;
  if (const char* v = env("BOURSE_TLS_KEY")) c->tls_key_file = v;
  if (const char* v = env("BOURSE_IO_THREADS"); v && !parse_int(v, &c->io_threads)) {
    *error = "BOURSE_IO_THREADS must be an integer";
    return false;
  }
  if (const char* v = env("BOURSE_MD_LISTEN")) c->md_listen = v;
  if (const char* v = env("BOURSE_MD_WORKERS"); v && !parse_int(v, &c->md_workers)) {
    *error = "BOURSE_MD_WORKERS must be an integer";
    return false;
  }
  if (const char* v = env("BOURSE_WS_MAX_CONNECTIONS"); v && !parse_int(v, &c->ws_max_connections)) {
    *error = "BOURSE_WS_MAX_CONNECTIONS must be an integer";
    return false;
  }
  if (const char* v = env("BOURSE_SIMULATE"); v && !parse_bool(v, &c->simulate)) {
    *error = "BOURSE_SIMULATE must be true or false";
    return false;
  }
  return true;
}

bool split_host_port(const std::string& listen, std::string* host, uint16_t* port) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || !parse_int(std::string_view(listen).substr(colon + 1), port)) {
    return false;
  }
  *host = listen.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  return true;
}

int square_off_minute(const std::string& t) {
  if (t.size() != 5 || t[2] != ':') return -1;
  for (const int i : {0, 1, 3, 4}) {
    if (t[i] < '0' || t[i] > '9') return -1;
  }
  const int h = (t[0] - '0') * 10 + (t[1] - '0');
  const int m = (t[3] - '0') * 10 + (t[4] - '0');
  return h < 24 && m < 60 ? h * 60 + m : -1;
}

bool validate_config(const ServeConfig& c, std::string* host, uint16_t* port, std::string* error) {
  if (!split_host_port(c.listen, host, port)) {
    *error = "listen must be HOST:PORT (got '" + c.listen + "')";
    return false;
  }
  if (c.durability != "fsync" && c.durability != "async") {
    *error = "durability must be fsync or async";
    return false;
  }
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    *error = "tls: set both cert_file and key_file (or neither)";
    return false;
  }
  if (c.io_threads < 0 || c.io_threads > 256) {
    *error = "io_threads must be 0..256";
    return false;
  }
  if (c.max_body_bytes < 1024 || c.max_body_bytes > (64u << 20)) {
    *error = "max_body_bytes must be 1 KiB..64 MiB";
    return false;
  }
  if (c.max_header_bytes < 1024 || c.max_header_bytes > (1u << 20)) {
    *error = "max_header_bytes must be 1 KiB..1 MiB";
    return false;
  }
  if (c.engine_queue < 2 || (c.engine_queue & (c.engine_queue - 1)) != 0) {
    *error = "engine queue must be a power of two";
    return false;
  }
  if (c.oauth_access_ttl_s < 60 || c.oauth_access_ttl_s > 86'400 || c.oauth_refresh_ttl_s < 60 ||
      c.oauth_refresh_ttl_s > 365 * 86'400) {
    *error = "oauth: access_token_ttl_s 60..86400, refresh_token_ttl_s 60..31536000";
    return false;
  }
  for (const auto& [rate, burst] : {std::pair{c.ip_per_second, c.ip_burst}, std::pair{c.user_per_second, c.user_burst},
                                    std::pair{c.orders_per_second, c.orders_burst}}) {
    if (rate < 0 || rate > 1'000'000 || burst > 1'000'000 || (rate > 0 && burst < 1)) {
      *error = "limits: per_second 0..1000000 (0 = off), burst 1..1000000";
      return false;
    }
  }
  if (c.ws_max_message_bytes < 256 || c.ws_max_message_bytes > (1u << 20) || c.ws_max_subscriptions < 1 ||
      c.ws_max_queued_messages < 1 || c.ws_idle_timeout_ms < 1'000 || c.ws_conflate_after_messages < 1 ||
      c.ws_history_messages < 1 || c.ws_history_messages > 1'000'000 || c.ws_history_bytes < 1024 ||
      c.ws_history_bytes > (1u << 30) || c.ws_heartbeat_ms < 1'000 ||
      c.ws_send_buffer_bytes < 0 || c.ws_send_buffer_bytes > (64 << 20)) {
    *error = "websocket: max_message_bytes 256..1048576, max_subscriptions >= 1, max_queued_messages >= 1, "
             "idle_timeout_ms >= 1000, conflate_after_messages >= 1, history_messages 1..1000000, "
             "history_bytes 1024..1073741824, heartbeat_ms >= 1000, send_buffer_bytes 0..67108864";
    return false;
  }
  for (int days : c.candle_retention_days) {
    if (days > 100'000) {
      *error = "history: retention days 0..100000 (0: keep forever)";
      return false;
    }
  }
  if (c.trades_retention_days > 100'000) {
    *error = "history: retention days 0..100000 (0: keep forever)";
    return false;
  }
  if (c.ws_max_connections < 1 || c.ws_max_connections > 1'000'000) {
    *error = "websocket: max_connections 1..1000000";
    return false;
  }
  if (c.md_workers < 0 || c.md_workers > 64 || c.md_link_buffer_bytes < (64u << 20) ||
      c.md_link_buffer_bytes > (16ull << 30)) {
    // At least one link frame's bound: one large snapshot must never break a link by itself.
    *error = "marketdata: workers 0..64, link_buffer_bytes 64 MiB..16 GiB";
    return false;
  }
  if (c.md_workers > 0) {
    std::string md_host;
    uint16_t md_port = 0;
    in6_addr address{};
    if (!split_host_port(c.md_listen, &md_host, &md_port) ||
        (inet_pton(AF_INET, md_host.c_str(), &address) != 1 && inet_pton(AF_INET6, md_host.c_str(), &address) != 1)) {
      *error = "marketdata.listen must be IP:PORT (got '" + c.md_listen + "')";
      return false;
    }
  }
  if (!(c.ingest_speed == 0 || (c.ingest_speed >= 0.001 && c.ingest_speed <= 1'000'000))) {
    *error = "ingest: speed 0 (as fast as possible) or 0.001..1000000";
    return false;
  }
  if (!c.square_off_utc.empty() && square_off_minute(c.square_off_utc) < 0) {
    *error = "margin: square_off_utc is \"HH:MM\" (24-hour, UTC)";
    return false;
  }
  // The grid must hit every midnight: the day's opening value is a point on it.
  if (c.portfolio_interval_s < 1 || c.portfolio_interval_s > 86'400 || 86'400 % c.portfolio_interval_s != 0) {
    *error = "portfolio: history_interval_s is 1..86400 and divides 86400";
    return false;
  }
  if (c.portfolio_retention_days < 0 || c.portfolio_retention_days > 100'000) {
    *error = "portfolio: history_retention_days is 0 (forever) to 100000";
    return false;
  }
  if (c.portfolio_currency.empty() || c.portfolio_currency.size() > 12) {
    *error = "portfolio: currency is an asset code";
    return false;
  }
  if (c.alerts_max_per_account < 1 || c.alerts_max_per_account > 100'000) {
    *error = "alerts: max_per_account is 1..100000";
    return false;
  }
  if (c.webhook_timeout_ms < 100 || c.webhook_timeout_ms > 60'000 || c.webhook_max_attempts < 1 ||
      c.webhook_max_attempts > 100 || c.webhook_retry_base_ms < 10 || c.webhook_retry_max_ms < c.webhook_retry_base_ms ||
      c.webhook_retry_max_ms > 86'400'000) {
    *error = "alerts: webhook_timeout_ms 100..60000, webhook_max_attempts 1..100, "
             "10 <= webhook_retry_base_ms <= webhook_retry_max_ms <= 86400000";
    return false;
  }
  if (c.webhook_senders < 1 || c.webhook_senders > 64 || c.webhook_max_pending_per_account < 1 ||
      c.webhook_max_pending_per_account > 10'000) {
    *error = "alerts: webhook_senders 1..64, webhook_max_pending_per_account 1..10000";
    return false;
  }
  if (c.simulate_rate < 1 || c.simulate_rate > 100'000) {
    *error = "simulator rate must be 1..100000";
    return false;
  }
  return true;
}

}  // namespace bourse::app

// The embedded store: one SQLite connection in WAL mode behind a mutex.
// Statements are prepared per call (user and key management is rare);
// projections with higher rates will keep prepared statements.
#include <sqlite3.h>

#include <mutex>

#include "store/store.h"

#include <algorithm>

#include "bourse/core/checked.h"

namespace bourse::store {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS users (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  username      TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('trader', 'admin')),
  created_ms    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
  key_id        TEXT PRIMARY KEY,
  user_id       INTEGER NOT NULL REFERENCES users(id),
  sealed_secret BLOB NOT NULL,
  scopes        INTEGER NOT NULL,
  label         TEXT NOT NULL,
  ip_allowlist  TEXT NOT NULL,
  created_ms    INTEGER NOT NULL,
  revoked       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS api_keys_user ON api_keys(user_id);
CREATE TABLE IF NOT EXISTS oauth_clients (
  client_id     TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  secret_hash   TEXT NOT NULL,
  redirect_uris TEXT NOT NULL,
  scopes        INTEGER NOT NULL,
  created_ms    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  family     TEXT NOT NULL,
  client_id  TEXT NOT NULL,
  user_id    INTEGER NOT NULL REFERENCES users(id),
  scopes     INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  used       INTEGER NOT NULL DEFAULT 0,
  revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS oauth_refresh_family ON oauth_refresh_tokens(family);
CREATE TABLE IF NOT EXISTS oauth_revoked_jti (
  jti        TEXT PRIMARY KEY,
  expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS order_history (
  order_id INTEGER PRIMARY KEY, account INTEGER NOT NULL, instrument INTEGER NOT NULL, client_order_id TEXT NOT NULL,
  side INTEGER NOT NULL, type INTEGER NOT NULL, tif INTEGER NOT NULL, status INTEGER NOT NULL,
  end_reason INTEGER NOT NULL, post_only INTEGER NOT NULL, price INTEGER NOT NULL, stop_price INTEGER NOT NULL,
  qty INTEGER NOT NULL, filled INTEGER NOT NULL, notional_filled INTEGER NOT NULL, fees INTEGER NOT NULL,
  expire_at INTEGER NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL, seq INTEGER NOT NULL,
  product INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS order_history_account ON order_history(account, order_id);
CREATE TABLE IF NOT EXISTS fill_history (
  trade_id INTEGER NOT NULL, account INTEGER NOT NULL, order_id INTEGER NOT NULL, instrument INTEGER NOT NULL,
  side INTEGER NOT NULL, maker INTEGER NOT NULL, price INTEGER NOT NULL, qty INTEGER NOT NULL,
  notional INTEGER NOT NULL, fee INTEGER NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (account, trade_id, order_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger_history (
  seq INTEGER NOT NULL, account INTEGER NOT NULL, asset INTEGER NOT NULL, available INTEGER NOT NULL,
  locked INTEGER NOT NULL, change INTEGER NOT NULL, cause INTEGER NOT NULL, time INTEGER NOT NULL,
  PRIMARY KEY (account, seq, asset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency (
  tag INTEGER PRIMARY KEY, fingerprint INTEGER NOT NULL, seq INTEGER NOT NULL, command INTEGER NOT NULL,
  order_id INTEGER NOT NULL, reject_reason INTEGER NOT NULL, created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency(created_ms);
CREATE TABLE IF NOT EXISTS trade_history (
  trade_id INTEGER PRIMARY KEY, instrument INTEGER NOT NULL, price INTEGER NOT NULL, qty INTEGER NOT NULL,
  notional INTEGER NOT NULL, aggressor_side INTEGER NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS trade_history_instrument ON trade_history(instrument, trade_id);
CREATE INDEX IF NOT EXISTS trade_history_instrument_time ON trade_history(instrument, time);
CREATE INDEX IF NOT EXISTS trade_history_time ON trade_history(time);
CREATE TABLE IF NOT EXISTS candle_history (
  instrument INTEGER NOT NULL, interval INTEGER NOT NULL, open_time INTEGER NOT NULL,
  open INTEGER NOT NULL, high INTEGER NOT NULL, low INTEGER NOT NULL, close INTEGER NOT NULL,
  volume INTEGER NOT NULL, notional_hi INTEGER NOT NULL, notional_lo INTEGER NOT NULL,
  quote_volume INTEGER NOT NULL, trades INTEGER NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (instrument, interval, open_time)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS candle_history_age ON candle_history(interval, open_time);
CREATE TABLE IF NOT EXISTS holding_cost (
  account INTEGER NOT NULL, asset INTEGER NOT NULL, lines TEXT NOT NULL, flow_day INTEGER NOT NULL,
  net_flow INTEGER NOT NULL,
  PRIMARY KEY (account, asset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS portfolio_value (
  account INTEGER NOT NULL, time INTEGER NOT NULL, currency INTEGER NOT NULL, value TEXT NOT NULL,
  complete INTEGER NOT NULL,
  PRIMARY KEY (account, time)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS portfolio_value_time ON portfolio_value(time);
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY, account INTEGER NOT NULL, kind INTEGER NOT NULL, instrument INTEGER NOT NULL,
  threshold INTEGER NOT NULL, window_minutes INTEGER NOT NULL, interval INTEGER NOT NULL, lookback INTEGER NOT NULL,
  indicator INTEGER NOT NULL, recurring INTEGER NOT NULL, cooldown_ns INTEGER NOT NULL, expire_at INTEGER NOT NULL,
  last_fired INTEGER NOT NULL, fired_count INTEGER NOT NULL, status INTEGER NOT NULL, webhook_url TEXT NOT NULL,
  sealed_secret BLOB NOT NULL, note TEXT NOT NULL, armed_seq INTEGER NOT NULL, created INTEGER NOT NULL,
  updated INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_account ON alerts(account, id);
CREATE TABLE IF NOT EXISTS alert_firings (
  id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL, account INTEGER NOT NULL, time INTEGER NOT NULL,
  seq INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_firings_account ON alert_firings(account, id);
CREATE INDEX IF NOT EXISTS alert_firings_alert ON alert_firings(alert_id, id);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  id INTEGER PRIMARY KEY, firing_id INTEGER NOT NULL, alert_id INTEGER NOT NULL, account INTEGER NOT NULL,
  url TEXT NOT NULL, status INTEGER NOT NULL, attempts INTEGER NOT NULL, next_attempt INTEGER NOT NULL,
  last_status INTEGER NOT NULL, last_error TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_pending ON webhook_deliveries(status, next_attempt);
CREATE INDEX IF NOT EXISTS webhook_alert ON webhook_deliveries(alert_id, id);
CREATE INDEX IF NOT EXISTS webhook_account ON webhook_deliveries(account, status);
CREATE TABLE IF NOT EXISTS webhook_attempts (
  delivery_id INTEGER NOT NULL, attempt INTEGER NOT NULL, time INTEGER NOT NULL, status INTEGER NOT NULL,
  error TEXT NOT NULL, duration_us INTEGER NOT NULL,
  PRIMARY KEY (delivery_id, attempt)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS external_identities (
  issuer  TEXT NOT NULL,
  subject TEXT NOT NULL,
  user_id INTEGER NOT NULL REFERENCES users(id),
  PRIMARY KEY (issuer, subject)
);
)sql";

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  bool ok() const { return stmt_ != nullptr; }
  void bind(int i, std::string_view s) { sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT); }
  void bind_blob(int i, std::string_view s) { sqlite3_bind_blob(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT); }
  void bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  int step() { return sqlite3_step(stmt_); }
  // For reuse within a transaction: clears the previous bindings' result.
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string text(int col) const {
    const auto* p = sqlite3_column_blob(stmt_, col);
    return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

UserRecord read_user(const Statement& s) {
  return UserRecord{static_cast<uint32_t>(s.integer(0)), s.text(1), s.text(2), s.text(3), s.integer(4)};
}

ApiKeyRecord read_key(const Statement& s) {
  ApiKeyRecord k;
  k.key_id = s.text(0);
  k.user_id = static_cast<uint32_t>(s.integer(1));
  k.sealed_secret = s.text(2);
  k.scopes = static_cast<uint32_t>(s.integer(3));
  k.label = s.text(4);
  k.ip_allowlist = s.text(5);
  k.created_ms = s.integer(6);
  k.revoked = s.integer(7) != 0;
  return k;
}

constexpr const char* kKeyColumns = "key_id, user_id, sealed_secret, scopes, label, ip_allowlist, created_ms, revoked";

class SqliteStore final : public Store {
 public:
  SqliteStore(sqlite3* db, sqlite3* history_db) : db_(db), history_db_(history_db) {}
  ~SqliteStore() override {
    insert_holding_.reset();  // statements before their connection
    insert_order_.reset();
    insert_fill_.reset();
    insert_ledger_.reset();
    insert_idempotency_.reset();
    insert_trade_.reset();
    merge_candle_.reset();
    select_candle_.reset();
    sqlite3_close(history_db_);
    sqlite3_close(db_);
  }

  StoreError create_user(UserRecord* user) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "INSERT INTO users (username, password_hash, role, created_ms) VALUES (?, ?, ?, ?)");
    s.bind(1, user->username);
    s.bind(2, user->password_hash);
    s.bind(3, user->role);
    s.bind(4, user->created_ms);
    const int rc = s.step();
    if (rc == SQLITE_CONSTRAINT) return StoreError::kExists;
    if (rc != SQLITE_DONE) return StoreError::kIo;
    user->id = static_cast<uint32_t>(sqlite3_last_insert_rowid(db_));
    return StoreError::kOk;
  }

  std::optional<UserRecord> user_by_name(std::string_view username) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT id, username, password_hash, role, created_ms FROM users WHERE username = ?");
    s.bind(1, username);
    if (s.step() != SQLITE_ROW) return std::nullopt;
    return read_user(s);
  }

  std::optional<UserRecord> user_by_id(uint32_t id) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT id, username, password_hash, role, created_ms FROM users WHERE id = ?");
    s.bind(1, static_cast<int64_t>(id));
    if (s.step() != SQLITE_ROW) return std::nullopt;
    return read_user(s);
  }

  StoreError put_api_key(const ApiKeyRecord& k) override {
    std::lock_guard lock(mutex_);
    Statement s(db_,
                "INSERT INTO api_keys (key_id, user_id, sealed_secret, scopes, label, ip_allowlist, created_ms, revoked) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, k.key_id);
    s.bind(2, static_cast<int64_t>(k.user_id));
    s.bind_blob(3, k.sealed_secret);
    s.bind(4, static_cast<int64_t>(k.scopes));
    s.bind(5, k.label);
    s.bind(6, k.ip_allowlist);
    s.bind(7, k.created_ms);
    s.bind(8, static_cast<int64_t>(k.revoked ? 1 : 0));
    const int rc = s.step();
    if (rc == SQLITE_CONSTRAINT) return StoreError::kExists;
    return rc == SQLITE_DONE ? StoreError::kOk : StoreError::kIo;
  }

  std::vector<ApiKeyRecord> api_keys_of(uint32_t user_id) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, (std::string("SELECT ") + kKeyColumns + " FROM api_keys WHERE user_id = ? ORDER BY created_ms, key_id").c_str());
    s.bind(1, static_cast<int64_t>(user_id));
    std::vector<ApiKeyRecord> out;
    while (s.step() == SQLITE_ROW) out.push_back(read_key(s));
    return out;
  }

  std::vector<ApiKeyRecord> all_api_keys() override {
    std::lock_guard lock(mutex_);
    Statement s(db_, (std::string("SELECT ") + kKeyColumns + " FROM api_keys").c_str());
    std::vector<ApiKeyRecord> out;
    while (s.step() == SQLITE_ROW) out.push_back(read_key(s));
    return out;
  }

  StoreError revoke_api_key(uint32_t user_id, std::string_view key_id) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "UPDATE api_keys SET revoked = 1 WHERE key_id = ? AND user_id = ? AND revoked = 0");
    s.bind(1, key_id);
    s.bind(2, static_cast<int64_t>(user_id));
    if (s.step() != SQLITE_DONE) return StoreError::kIo;
    return sqlite3_changes(db_) == 1 ? StoreError::kOk : StoreError::kNotFound;
  }

  StoreError put_oauth_client(const OAuthClientRecord& c) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "INSERT INTO oauth_clients (client_id, name, secret_hash, redirect_uris, scopes, created_ms) "
                     "VALUES (?, ?, ?, ?, ?, ?)");
    s.bind(1, c.client_id);
    s.bind(2, c.name);
    s.bind(3, c.secret_hash);
    s.bind(4, c.redirect_uris);
    s.bind(5, static_cast<int64_t>(c.scopes));
    s.bind(6, c.created_ms);
    const int rc = s.step();
    if (rc == SQLITE_CONSTRAINT) return StoreError::kExists;
    return rc == SQLITE_DONE ? StoreError::kOk : StoreError::kIo;
  }

  std::optional<OAuthClientRecord> oauth_client(std::string_view client_id) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT client_id, name, secret_hash, redirect_uris, scopes, created_ms FROM oauth_clients "
                     "WHERE client_id = ?");
    s.bind(1, client_id);
    if (s.step() != SQLITE_ROW) return std::nullopt;
    return read_client(s);
  }

  std::vector<OAuthClientRecord> oauth_clients() override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT client_id, name, secret_hash, redirect_uris, scopes, created_ms FROM oauth_clients "
                     "ORDER BY created_ms, client_id");
    std::vector<OAuthClientRecord> out;
    while (s.step() == SQLITE_ROW) out.push_back(read_client(s));
    return out;
  }

  StoreError put_refresh_token(const RefreshTokenRecord& t) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "INSERT INTO oauth_refresh_tokens (token_hash, family, client_id, user_id, scopes, expires_ms, used, "
                     "revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, t.token_hash);
    s.bind(2, t.family);
    s.bind(3, t.client_id);
    s.bind(4, static_cast<int64_t>(t.user_id));
    s.bind(5, static_cast<int64_t>(t.scopes));
    s.bind(6, t.expires_ms);
    s.bind(7, static_cast<int64_t>(t.used ? 1 : 0));
    s.bind(8, static_cast<int64_t>(t.revoked ? 1 : 0));
    const int rc = s.step();
    if (rc == SQLITE_CONSTRAINT) return StoreError::kExists;
    return rc == SQLITE_DONE ? StoreError::kOk : StoreError::kIo;
  }

  std::optional<RefreshTokenRecord> refresh_token(std::string_view token_hash) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT token_hash, family, client_id, user_id, scopes, expires_ms, used, revoked "
                     "FROM oauth_refresh_tokens WHERE token_hash = ?");
    s.bind(1, token_hash);
    if (s.step() != SQLITE_ROW) return std::nullopt;
    RefreshTokenRecord t;
    t.token_hash = s.text(0);
    t.family = s.text(1);
    t.client_id = s.text(2);
    t.user_id = static_cast<uint32_t>(s.integer(3));
    t.scopes = static_cast<uint32_t>(s.integer(4));
    t.expires_ms = s.integer(5);
    t.used = s.integer(6) != 0;
    t.revoked = s.integer(7) != 0;
    return t;
  }

  StoreError mark_refresh_token_used(std::string_view token_hash) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "UPDATE oauth_refresh_tokens SET used = 1 WHERE token_hash = ? AND used = 0 AND revoked = 0");
    s.bind(1, token_hash);
    if (s.step() != SQLITE_DONE) return StoreError::kIo;
    return sqlite3_changes(db_) == 1 ? StoreError::kOk : StoreError::kNotFound;
  }

  void revoke_refresh_family(std::string_view family) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "UPDATE oauth_refresh_tokens SET revoked = 1 WHERE family = ?");
    s.bind(1, family);
    s.step();
  }

  void put_revoked_jti(std::string_view jti, int64_t expires_ms) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "INSERT OR IGNORE INTO oauth_revoked_jti (jti, expires_ms) VALUES (?, ?)");
    s.bind(1, jti);
    s.bind(2, expires_ms);
    s.step();
  }

  std::vector<std::pair<std::string, int64_t>> revoked_jtis(int64_t now_ms) override {
    std::lock_guard lock(mutex_);
    Statement purge(db_, "DELETE FROM oauth_revoked_jti WHERE expires_ms < ?");
    purge.bind(1, now_ms);
    purge.step();
    Statement s(db_, "SELECT jti, expires_ms FROM oauth_revoked_jti");
    std::vector<std::pair<std::string, int64_t>> out;
    while (s.step() == SQLITE_ROW) out.emplace_back(s.text(0), s.integer(1));
    return out;
  }

  std::optional<uint32_t> external_identity(std::string_view issuer, std::string_view subject) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT user_id FROM external_identities WHERE issuer = ? AND subject = ?");
    s.bind(1, issuer);
    s.bind(2, subject);
    if (s.step() != SQLITE_ROW) return std::nullopt;
    return static_cast<uint32_t>(s.integer(0));
  }

  StoreError put_external_identity(std::string_view issuer, std::string_view subject, uint32_t user_id) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "INSERT INTO external_identities (issuer, subject, user_id) VALUES (?, ?, ?)");
    s.bind(1, issuer);
    s.bind(2, subject);
    s.bind(3, static_cast<int64_t>(user_id));
    const int rc = s.step();
    if (rc == SQLITE_CONSTRAINT) return StoreError::kExists;
    return rc == SQLITE_DONE ? StoreError::kOk : StoreError::kIo;
  }

  // --- history ---------------------------------------------------------------

  StoreError apply_history(const HistoryBatch& b) override {
    std::lock_guard lock(history_mutex_);
    if (!exec("BEGIN IMMEDIATE")) return StoreError::kIo;
    bool ok = true;
    {
      Statement& order = cached(insert_order_, "INSERT OR REPLACE INTO order_history VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
      for (const OrderHistoryRow& o : b.orders) {
        order.reset();
        int i = 1;
        for (int64_t v : {static_cast<int64_t>(o.order_id), static_cast<int64_t>(o.account),
                          static_cast<int64_t>(o.instrument)}) {
          order.bind(i++, v);
        }
        order.bind(i++, o.client_order_id);
        for (int64_t v : {int64_t{o.side}, int64_t{o.type}, int64_t{o.tif}, int64_t{o.status}, int64_t{o.end_reason},
                          int64_t{o.post_only}, o.price, o.stop_price, o.qty, o.filled, o.notional_filled, o.fees,
                          o.expire_at, o.created, o.updated, static_cast<int64_t>(o.seq), int64_t{o.product}}) {
          order.bind(i++, v);
        }
        ok &= order.step() == SQLITE_DONE;
      }
      Statement& fill = cached(insert_fill_, "INSERT OR REPLACE INTO fill_history VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
      for (const FillHistoryRow& f : b.fills) {
        fill.reset();
        int i = 1;
        for (int64_t v : {static_cast<int64_t>(f.trade_id), static_cast<int64_t>(f.account),
                          static_cast<int64_t>(f.order_id), static_cast<int64_t>(f.instrument), int64_t{f.side},
                          int64_t{f.maker}, f.price, f.qty, f.notional, f.fee, f.time, static_cast<int64_t>(f.seq)}) {
          fill.bind(i++, v);
        }
        ok &= fill.step() == SQLITE_DONE;
      }
      Statement& ledger = cached(insert_ledger_, "INSERT OR REPLACE INTO ledger_history VALUES (?,?,?,?,?,?,?,?)");
      for (const LedgerHistoryRow& l : b.ledger) {
        ledger.reset();
        int i = 1;
        for (int64_t v : {static_cast<int64_t>(l.seq), static_cast<int64_t>(l.account), static_cast<int64_t>(l.asset),
                          l.available, l.locked, l.change, int64_t{l.cause}, l.time}) {
          ledger.bind(i++, v);
        }
        ok &= ledger.step() == SQLITE_DONE;
      }
      // Prune first, so that a key reused after its lifetime gets its new row.
      if (b.prune_idempotency_before_ms > 0) {
        Statement prune(history_db_, "DELETE FROM idempotency WHERE created_ms < ?");
        prune.bind(1, b.prune_idempotency_before_ms);
        ok &= prune.step() == SQLITE_DONE;
      }
      // The newest command with a tag wins (a key may run again after a 503
      // or past its lifetime); the same command's later events fill in its
      // order id or rejection.
      Statement& idem = cached(insert_idempotency_,
                               "INSERT INTO idempotency VALUES (?,?,?,?,?,?,?) ON CONFLICT(tag) DO UPDATE SET "
                               "order_id = CASE WHEN seq = excluded.seq THEN max(order_id, excluded.order_id) "
                               "ELSE excluded.order_id END, "
                               "reject_reason = CASE WHEN seq = excluded.seq THEN max(reject_reason, "
                               "excluded.reject_reason) ELSE excluded.reject_reason END, "
                               "fingerprint = excluded.fingerprint, command = excluded.command, "
                               "created_ms = excluded.created_ms, seq = excluded.seq "
                               "WHERE excluded.seq >= seq");
      for (const IdempotencyRow& r : b.idempotency) {
        idem.reset();
        int i = 1;
        for (int64_t v : {static_cast<int64_t>(r.tag), int64_t{r.fingerprint}, static_cast<int64_t>(r.seq),
                          int64_t{r.command}, static_cast<int64_t>(r.order_id), int64_t{r.reject_reason},
                          r.created_ms}) {
          idem.bind(i++, v);
        }
        ok &= idem.step() == SQLITE_DONE;
      }
      Statement& trade = cached(insert_trade_, "INSERT OR REPLACE INTO trade_history VALUES (?,?,?,?,?,?,?,?)");
      for (const TradeHistoryRow& t : b.trades) {
        trade.reset();
        int i = 1;
        for (int64_t v : {static_cast<int64_t>(t.trade_id), static_cast<int64_t>(t.instrument), t.price, t.qty,
                          t.notional, int64_t{t.aggressor_side}, t.time, static_cast<int64_t>(t.seq)}) {
          trade.bind(i++, v);
        }
        ok &= trade.step() == SQLITE_DONE;
      }
      // Candle deltas merge into the stored bar. The notional is an Int128
      // in two halves: the sum is done here with the carry, in C++, because
      // SQLite integers are 64-bit.
      Statement& candle = cached(merge_candle_,
                                 "INSERT INTO candle_history VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
                                 "ON CONFLICT(instrument, interval, open_time) DO UPDATE SET "
                                 "high = max(high, excluded.high), low = min(low, excluded.low), close = excluded.close, "
                                 "volume = excluded.volume, notional_hi = excluded.notional_hi, "
                                 "notional_lo = excluded.notional_lo, quote_volume = excluded.quote_volume, "
                                 "trades = excluded.trades, seq = excluded.seq "
                                 "WHERE excluded.seq > seq");
      for (const CandleHistoryRow& delta : b.candles) {
        CandleHistoryRow merged = delta;
        if (auto stored = candle_row(delta.instrument, delta.interval, delta.open_time)) {
          if (stored->seq >= delta.seq) continue;  // already applied
          merged.open = stored->open;
          merged.volume = stored->volume > INT64_MAX - delta.volume ? INT64_MAX : stored->volume + delta.volume;
          set_candle_notional(&merged, candle_notional(*stored) + candle_notional(delta));
          merged.quote_volume = stored->quote_volume > INT64_MAX - delta.quote_volume
                                    ? INT64_MAX
                                    : stored->quote_volume + delta.quote_volume;
          merged.trades = stored->trades + delta.trades;
        }
        candle.reset();
        int i = 1;
        for (int64_t v : {static_cast<int64_t>(merged.instrument), int64_t{merged.interval}, merged.open_time, merged.open,
                          merged.high, merged.low, merged.close, merged.volume, merged.notional_hi, merged.notional_lo,
                          merged.quote_volume, merged.trades, static_cast<int64_t>(merged.seq)}) {
          candle.bind(i++, v);
        }
        ok &= candle.step() == SQLITE_DONE;
      }
      if (b.prune_trades_before_ns > 0) {
        Statement prune(history_db_, "DELETE FROM trade_history WHERE time < ?");
        prune.bind(1, b.prune_trades_before_ns);
        ok &= prune.step() == SQLITE_DONE;
      }
      for (std::size_t k = 0; k < b.prune_candles_before_ns.size(); ++k) {
        if (b.prune_candles_before_ns[k] <= 0) continue;
        Statement prune(history_db_, "DELETE FROM candle_history WHERE interval = ? AND open_time < ?");
        prune.bind(1, static_cast<int64_t>(k));
        prune.bind(2, b.prune_candles_before_ns[k]);
        ok &= prune.step() == SQLITE_DONE;
      }
      for (const HoldingCostRow& h : b.holdings) {
        if (h.remove) {
          Statement del(history_db_, "DELETE FROM holding_cost WHERE account = ? AND asset = ?");
          del.bind(1, static_cast<int64_t>(h.account));
          del.bind(2, static_cast<int64_t>(h.asset));
          ok &= del.step() == SQLITE_DONE;
          continue;
        }
        Statement& put = cached(insert_holding_, "INSERT OR REPLACE INTO holding_cost VALUES (?,?,?,?,?)");
        put.reset();
        put.bind(1, static_cast<int64_t>(h.account));
        put.bind(2, static_cast<int64_t>(h.asset));
        put.bind(3, h.lines);
        put.bind(4, h.flow_day);
        put.bind(5, h.net_flow);
        ok &= put.step() == SQLITE_DONE;
      }
      // The seq only moves forward: a batch never says history is less complete.
      if (b.last_seq > read_history_seq()) ok &= write_history_seq(b.last_seq);
    }
    if (!ok) {
      exec("ROLLBACK");
      return StoreError::kIo;
    }
    return exec("COMMIT") ? StoreError::kOk : StoreError::kIo;
  }

  uint64_t history_seq() override {
    std::lock_guard lock(history_mutex_);
    return read_history_seq();
  }

  StoreError set_history_seq(uint64_t seq) override {
    std::lock_guard lock(history_mutex_);
    return write_history_seq(seq) ? StoreError::kOk : StoreError::kIo;
  }

  StoreError clear_history() override {
    std::lock_guard lock(history_mutex_);
    return exec("BEGIN IMMEDIATE; DELETE FROM order_history; DELETE FROM fill_history; DELETE FROM ledger_history; "
                "DELETE FROM idempotency; DELETE FROM trade_history; DELETE FROM candle_history; DELETE FROM holding_cost; "
                "DELETE FROM meta WHERE key = 'history_seq'; COMMIT")
               ? StoreError::kOk
               : StoreError::kIo;
  }

  std::vector<TradeHistoryRow> trade_history(uint32_t instrument, uint64_t before_id, int64_t from, int64_t to,
                                             std::size_t limit) override {
    std::lock_guard lock(history_mutex_);
    // Trade ids and times rise together: the time bounds become id bounds
    // (two index probes), so the scan below reads at most `limit` rows
    // whatever the window.
    int64_t lo = 0, hi = clamp(before_id);
    if (from > INT64_MIN) {
      Statement first(history_db_, "SELECT min(trade_id) FROM trade_history WHERE instrument = ? AND time >= ?");
      first.bind(1, static_cast<int64_t>(instrument));
      first.bind(2, from);
      if (first.step() != SQLITE_ROW || first.is_null(0)) return {};
      lo = first.integer(0);
    }
    if (to < INT64_MAX) {
      Statement last(history_db_, "SELECT max(trade_id) FROM trade_history WHERE instrument = ? AND time < ?");
      last.bind(1, static_cast<int64_t>(instrument));
      last.bind(2, to);
      if (last.step() != SQLITE_ROW || last.is_null(0)) return {};
      hi = std::min(hi, last.integer(0) + 1);
    }
    Statement s(history_db_, "SELECT * FROM trade_history WHERE instrument = ? AND trade_id >= ? AND trade_id < ? "
                             "ORDER BY trade_id DESC LIMIT ?");
    s.bind(1, static_cast<int64_t>(instrument));
    s.bind(2, lo);
    s.bind(3, hi);
    s.bind(4, static_cast<int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    std::vector<TradeHistoryRow> out;
    while (s.step() == SQLITE_ROW) {
      TradeHistoryRow t;
      t.trade_id = static_cast<uint64_t>(s.integer(0));
      t.instrument = static_cast<uint32_t>(s.integer(1));
      t.price = s.integer(2);
      t.qty = s.integer(3);
      t.notional = s.integer(4);
      t.aggressor_side = static_cast<uint8_t>(s.integer(5));
      t.time = s.integer(6);
      t.seq = static_cast<uint64_t>(s.integer(7));
      out.push_back(t);
    }
    return out;
  }

  uint64_t newest_trade_id(uint32_t instrument) override {
    std::lock_guard lock(history_mutex_);
    Statement s(history_db_, "SELECT max(trade_id) FROM trade_history WHERE instrument = ?");
    s.bind(1, static_cast<int64_t>(instrument));
    if (s.step() != SQLITE_ROW || s.is_null(0)) return 0;
    return static_cast<uint64_t>(s.integer(0));
  }

  std::vector<CandleHistoryRow> candle_history(uint32_t instrument, uint8_t interval, int64_t from, int64_t to,
                                               std::size_t limit) override {
    std::lock_guard lock(history_mutex_);
    Statement s(history_db_, "SELECT * FROM candle_history WHERE instrument = ? AND interval = ? AND open_time >= ? AND "
                             "open_time < ? ORDER BY open_time DESC LIMIT ?");
    s.bind(1, static_cast<int64_t>(instrument));
    s.bind(2, int64_t{interval});
    s.bind(3, from);
    s.bind(4, to);
    s.bind(5, static_cast<int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    std::vector<CandleHistoryRow> out;
    while (s.step() == SQLITE_ROW) out.push_back(read_candle(s));
    std::reverse(out.begin(), out.end());
    return out;
  }

  std::vector<HoldingCostRow> holding_costs(uint64_t* seq) override {
    std::lock_guard lock(history_mutex_);
    if (!exec("BEGIN")) return {};
    std::vector<HoldingCostRow> out;
    {
      Statement s(history_db_, "SELECT account, asset, lines, flow_day, net_flow FROM holding_cost ORDER BY account, asset");
      while (s.step() == SQLITE_ROW) {
        out.push_back(HoldingCostRow{static_cast<uint32_t>(s.integer(0)), static_cast<uint32_t>(s.integer(1)), s.text(2),
                                     s.integer(3), s.integer(4), false});
      }
      *seq = read_history_seq();
    }
    exec("COMMIT");
    return out;
  }

  StoreError put_portfolio_values(const std::vector<PortfolioValueRow>& rows, int64_t prune_before_ns) override {
    std::lock_guard lock(history_mutex_);
    if (!exec("BEGIN IMMEDIATE")) return StoreError::kIo;
    bool ok = true;
    {
      Statement put(history_db_, "INSERT OR REPLACE INTO portfolio_value VALUES (?,?,?,?,?)");
      for (const PortfolioValueRow& r : rows) {
        put.reset();
        put.bind(1, static_cast<int64_t>(r.account));
        put.bind(2, r.time);
        put.bind(3, static_cast<int64_t>(r.currency));
        put.bind(4, r.value);
        put.bind(5, int64_t{r.complete});
        ok &= put.step() == SQLITE_DONE;
      }
      if (prune_before_ns > 0) {
        Statement prune(history_db_, "DELETE FROM portfolio_value WHERE time < ?");
        prune.bind(1, prune_before_ns);
        ok &= prune.step() == SQLITE_DONE;
      }
    }
    if (!ok) {
      exec("ROLLBACK");
      return StoreError::kIo;
    }
    return exec("COMMIT") ? StoreError::kOk : StoreError::kIo;
  }

  std::vector<PortfolioValueRow> portfolio_values(uint32_t account, int64_t from, int64_t to, int64_t before,
                                                  std::size_t limit) override {
    std::lock_guard lock(history_mutex_);
    Statement s(history_db_, "SELECT account, time, currency, value, complete FROM portfolio_value WHERE account = ? "
                             "AND time >= ? AND time < ? AND time < ? ORDER BY time DESC LIMIT ?");
    s.bind(1, static_cast<int64_t>(account));
    s.bind(2, from);
    s.bind(3, to);
    s.bind(4, before);
    s.bind(5, static_cast<int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    std::vector<PortfolioValueRow> out;
    while (s.step() == SQLITE_ROW) out.push_back(read_portfolio_value(s));
    return out;
  }

  std::optional<PortfolioValueRow> portfolio_value_at_or_before(uint32_t account, int64_t at) override {
    std::lock_guard lock(history_mutex_);
    Statement s(history_db_, "SELECT account, time, currency, value, complete FROM portfolio_value WHERE account = ? "
                             "AND time <= ? ORDER BY time DESC LIMIT 1");
    s.bind(1, static_cast<int64_t>(account));
    s.bind(2, at);
    if (s.step() != SQLITE_ROW) return std::nullopt;
    return read_portfolio_value(s);
  }

  // --- alerts: the credentials connection (db_, mutex_) ---------------------

  bool exec_main(const char* sql) { return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK; }

  static constexpr const char* kAlertColumns =
      "id, account, kind, instrument, threshold, window_minutes, interval, lookback, indicator, recurring, cooldown_ns, "
      "expire_at, last_fired, fired_count, status, webhook_url, sealed_secret, note, armed_seq, created, updated";

  static AlertRow read_alert(const Statement& s) {
    AlertRow a;
    a.id = static_cast<uint64_t>(s.integer(0));
    a.account = static_cast<uint32_t>(s.integer(1));
    a.kind = static_cast<uint8_t>(s.integer(2));
    a.instrument = static_cast<uint32_t>(s.integer(3));
    a.threshold = s.integer(4);
    a.window_minutes = static_cast<uint32_t>(s.integer(5));
    a.interval = static_cast<uint8_t>(s.integer(6));
    a.lookback = static_cast<uint32_t>(s.integer(7));
    a.indicator = static_cast<uint8_t>(s.integer(8));
    a.recurring = s.integer(9) != 0;
    a.cooldown_ns = s.integer(10);
    a.expire_at = s.integer(11);
    a.last_fired = s.integer(12);
    a.fired_count = static_cast<uint64_t>(s.integer(13));
    a.status = static_cast<uint8_t>(s.integer(14));
    a.webhook_url = s.text(15);
    a.sealed_secret = s.text(16);
    a.note = s.text(17);
    a.armed_seq = static_cast<uint64_t>(s.integer(18));
    a.created = s.integer(19);
    a.updated = s.integer(20);
    return a;
  }

  bool write_alert(const AlertRow& a) {
    Statement s(db_, (std::string("INSERT OR REPLACE INTO alerts (") + kAlertColumns +
                      ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)").c_str());
    const int64_t v[] = {static_cast<int64_t>(a.id), a.account, a.kind, a.instrument, a.threshold, a.window_minutes,
                         a.interval, a.lookback, a.indicator, a.recurring, a.cooldown_ns, a.expire_at, a.last_fired,
                         static_cast<int64_t>(a.fired_count), a.status};
    for (int i = 0; i < 15; ++i) s.bind(i + 1, v[i]);
    s.bind(16, a.webhook_url);
    s.bind_blob(17, a.sealed_secret);
    s.bind(18, a.note);
    s.bind(19, static_cast<int64_t>(a.armed_seq));
    s.bind(20, a.created);
    s.bind(21, a.updated);
    return s.step() == SQLITE_DONE;
  }

  static constexpr const char* kDeliveryColumns =
      "id, firing_id, alert_id, account, url, status, attempts, next_attempt, last_status, last_error, created, updated";

  static WebhookDeliveryRow read_delivery(const Statement& s) {
    WebhookDeliveryRow d;
    d.id = static_cast<uint64_t>(s.integer(0));
    d.firing_id = static_cast<uint64_t>(s.integer(1));
    d.alert_id = static_cast<uint64_t>(s.integer(2));
    d.account = static_cast<uint32_t>(s.integer(3));
    d.url = s.text(4);
    d.status = static_cast<uint8_t>(s.integer(5));
    d.attempts = static_cast<uint32_t>(s.integer(6));
    d.next_attempt = s.integer(7);
    d.last_status = static_cast<int32_t>(s.integer(8));
    d.last_error = s.text(9);
    d.created = s.integer(10);
    d.updated = s.integer(11);
    return d;
  }

  bool write_delivery(const WebhookDeliveryRow& d) {
    Statement s(db_, (std::string("INSERT OR REPLACE INTO webhook_deliveries (") + kDeliveryColumns +
                      ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?)").c_str());
    s.bind(1, static_cast<int64_t>(d.id));
    s.bind(2, static_cast<int64_t>(d.firing_id));
    s.bind(3, static_cast<int64_t>(d.alert_id));
    s.bind(4, static_cast<int64_t>(d.account));
    s.bind(5, d.url);
    s.bind(6, static_cast<int64_t>(d.status));
    s.bind(7, static_cast<int64_t>(d.attempts));
    s.bind(8, d.next_attempt);
    s.bind(9, static_cast<int64_t>(d.last_status));
    s.bind(10, d.last_error);
    s.bind(11, d.created);
    s.bind(12, d.updated);
    return s.step() == SQLITE_DONE;
  }

  // Runs `body` in one transaction on the credentials connection.
  template <typename Body>
  StoreError main_transaction(Body&& body) {
    if (!exec_main("BEGIN IMMEDIATE")) return StoreError::kIo;
    if (!body() || !exec_main("COMMIT")) {
      // A failed COMMIT can leave the transaction open: later writes would
      // join it and never be made durable.
      if (sqlite3_get_autocommit(db_) == 0) exec_main("ROLLBACK");
      return StoreError::kIo;
    }
    return StoreError::kOk;
  }

  uint64_t alerts_seq() override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT value FROM meta WHERE key = 'alerts_seq'");
    return s.step() == SQLITE_ROW ? static_cast<uint64_t>(s.integer(0)) : 0;
  }

  StoreError commit_alerts(const AlertCommit& c) override {
    std::lock_guard lock(mutex_);
    return main_transaction([&] {
      bool ok = true;
      Statement firing(db_, "INSERT INTO alert_firings (id, alert_id, account, time, seq, data) VALUES (?,?,?,?,?,?)");
      for (const AlertFiringRow& f : c.firings) {
        firing.reset();
        firing.bind(1, static_cast<int64_t>(f.id));
        firing.bind(2, static_cast<int64_t>(f.alert_id));
        firing.bind(3, static_cast<int64_t>(f.account));
        firing.bind(4, f.time);
        firing.bind(5, static_cast<int64_t>(f.seq));
        firing.bind(6, f.data);
        ok &= firing.step() == SQLITE_DONE;
      }
      // Only what firing and expiry change: a rule deleted or PATCHed
      // meanwhile keeps its definition (or stays deleted).
      Statement state(db_, "UPDATE alerts SET last_fired = ?, fired_count = ?, status = ?, updated = ? WHERE id = ?");
      for (const AlertRow& a : c.alerts) {
        state.reset();
        state.bind(1, a.last_fired);
        state.bind(2, static_cast<int64_t>(a.fired_count));
        state.bind(3, static_cast<int64_t>(a.status));
        state.bind(4, a.updated);
        state.bind(5, static_cast<int64_t>(a.id));
        ok &= state.step() == SQLITE_DONE;
      }
      for (const WebhookDeliveryRow& d : c.deliveries) ok &= write_delivery(d);
      Statement seq(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES ('alerts_seq', ?)");
      seq.bind(1, static_cast<int64_t>(c.seq));
      ok &= seq.step() == SQLITE_DONE;
      return ok;
    });
  }

  StoreError put_alert(const AlertRow& a) override {
    std::lock_guard lock(mutex_);
    return write_alert(a) ? StoreError::kOk : StoreError::kIo;
  }

  StoreError delete_alert(uint32_t account, uint64_t id) override {
    std::lock_guard lock(mutex_);
    bool found = false;
    const StoreError e = main_transaction([&] {
      Statement del(db_, "DELETE FROM alerts WHERE id = ? AND account = ?");
      del.bind(1, static_cast<int64_t>(id));
      del.bind(2, static_cast<int64_t>(account));
      if (del.step() != SQLITE_DONE) return false;
      found = sqlite3_changes(db_) == 1;
      if (!found) return true;  // not this account's: nothing of it is touched
      Statement high(db_, "INSERT INTO meta (key, value) VALUES ('alert_id_high', ?) "
                          "ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)");
      high.bind(1, static_cast<int64_t>(id));
      if (high.step() != SQLITE_DONE) return false;
      // Its pending webhooks cannot be signed any more: they end here.
      Statement end(db_, "UPDATE webhook_deliveries SET status = 2, last_error = 'alert deleted' WHERE alert_id = ? "
                         "AND status = 0");
      end.bind(1, static_cast<int64_t>(id));
      return end.step() == SQLITE_DONE;
    });
    if (e != StoreError::kOk) return e;
    return found ? StoreError::kOk : StoreError::kNotFound;
  }

  std::optional<AlertRow> alert(uint64_t id) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, (std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE id = ?").c_str());
    s.bind(1, static_cast<int64_t>(id));
    if (s.step() != SQLITE_ROW) return std::nullopt;
    return read_alert(s);
  }

  std::vector<AlertRow> alerts_of(uint32_t account, int status, uint64_t before, std::size_t limit) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, (std::string("SELECT ") + kAlertColumns +
                      " FROM alerts WHERE account = ? AND id < ? AND (? < 0 OR status = ?) ORDER BY id DESC LIMIT ?")
                         .c_str());
    s.bind(1, static_cast<int64_t>(account));
    s.bind(2, clamp(before));
    s.bind(3, int64_t{status});
    s.bind(4, int64_t{status});
    s.bind(5, static_cast<int64_t>(limit));
    std::vector<AlertRow> out;
    while (s.step() == SQLITE_ROW) out.push_back(read_alert(s));
    return out;
  }

  std::vector<AlertRow> active_alerts() override {
    std::lock_guard lock(mutex_);
    Statement s(db_, (std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE status = 0 ORDER BY id").c_str());
    std::vector<AlertRow> out;
    while (s.step() == SQLITE_ROW) out.push_back(read_alert(s));
    return out;
  }

  std::size_t active_alert_count(uint32_t account) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT COUNT(*) FROM alerts WHERE account = ? AND status = 0");
    s.bind(1, static_cast<int64_t>(account));
    return s.step() == SQLITE_ROW ? static_cast<std::size_t>(s.integer(0)) : 0;
  }

  void alert_id_highs(uint64_t* alert, uint64_t* firing, uint64_t* delivery) override {
    std::lock_guard lock(mutex_);
    // Ids are remembered in meta too, so a deleted newest rule's id is not reused.
    auto high = [this](const char* sql) {
      Statement s(db_, sql);
      return s.step() == SQLITE_ROW ? static_cast<uint64_t>(s.integer(0)) : 0;
    };
    *alert = std::max(high("SELECT COALESCE(MAX(id), 0) FROM alerts"),
                      high("SELECT COALESCE(MAX(value), 0) FROM meta WHERE key = 'alert_id_high'"));
    *firing = high("SELECT COALESCE(MAX(id), 0) FROM alert_firings");
    *delivery = high("SELECT COALESCE(MAX(id), 0) FROM webhook_deliveries");
  }

  std::vector<AlertFiringRow> alert_firings(uint32_t account, uint64_t alert_id, uint64_t before,
                                            std::size_t limit) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT id, alert_id, account, time, seq, data FROM alert_firings WHERE account = ? AND id < ? "
                     "AND (? = 0 OR alert_id = ?) ORDER BY id DESC LIMIT ?");
    s.bind(1, static_cast<int64_t>(account));
    s.bind(2, clamp(before));
    s.bind(3, static_cast<int64_t>(alert_id));
    s.bind(4, static_cast<int64_t>(alert_id));
    s.bind(5, static_cast<int64_t>(limit));
    std::vector<AlertFiringRow> out;
    while (s.step() == SQLITE_ROW) {
      out.push_back(AlertFiringRow{static_cast<uint64_t>(s.integer(0)), static_cast<uint64_t>(s.integer(1)),
                                   static_cast<uint32_t>(s.integer(2)), s.integer(3),
                                   static_cast<uint64_t>(s.integer(4)), s.text(5)});
    }
    return out;
  }

  std::optional<AlertFiringRow> alert_firing(uint64_t id) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT id, alert_id, account, time, seq, data FROM alert_firings WHERE id = ?");
    s.bind(1, static_cast<int64_t>(id));
    if (s.step() != SQLITE_ROW) return std::nullopt;
    return AlertFiringRow{static_cast<uint64_t>(s.integer(0)), static_cast<uint64_t>(s.integer(1)),
                          static_cast<uint32_t>(s.integer(2)), s.integer(3), static_cast<uint64_t>(s.integer(4)),
                          s.text(5)};
  }

  std::size_t pending_delivery_count() override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 0");
    return s.step() == SQLITE_ROW ? static_cast<std::size_t>(s.integer(0)) : 0;
  }

  std::optional<WebhookDeliveryRow> next_delivery(const std::vector<uint32_t>& skip) override {
    std::lock_guard lock(mutex_);
    std::string sql = std::string("SELECT ") + kDeliveryColumns + " FROM webhook_deliveries WHERE status = 0";
    if (!skip.empty()) {
      sql += " AND account NOT IN (?";
      for (std::size_t k = 1; k < skip.size(); ++k) sql += ",?";
      sql += ")";
    }
    sql += " ORDER BY next_attempt, id LIMIT 1";
    Statement s(db_, sql.c_str());
    for (std::size_t k = 0; k < skip.size(); ++k) s.bind(static_cast<int>(k + 1), static_cast<int64_t>(skip[k]));
    if (s.step() != SQLITE_ROW) return std::nullopt;
    return read_delivery(s);
  }

  std::size_t pending_delivery_count_of(uint32_t account) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, "SELECT COUNT(*) FROM webhook_deliveries WHERE account = ? AND status = 0");
    s.bind(1, static_cast<int64_t>(account));
    return s.step() == SQLITE_ROW ? static_cast<std::size_t>(s.integer(0)) : 0;
  }

  StoreError record_delivery_attempt(const WebhookDeliveryRow& d, const WebhookAttemptRow& a) override {
    std::lock_guard lock(mutex_);
    return main_transaction([&] {
      // A delivery ended meanwhile (its rule deleted) stays ended.
      Statement state(db_, "SELECT status FROM webhook_deliveries WHERE id = ?");
      state.bind(1, static_cast<int64_t>(d.id));
      if (state.step() != SQLITE_ROW) return true;
      if (state.integer(0) == 0 && !write_delivery(d)) return false;
      Statement s(db_, "INSERT OR REPLACE INTO webhook_attempts VALUES (?,?,?,?,?,?)");
      s.bind(1, static_cast<int64_t>(a.delivery_id));
      s.bind(2, static_cast<int64_t>(a.attempt));
      s.bind(3, a.time);
      s.bind(4, static_cast<int64_t>(a.status));
      s.bind(5, a.error);
      s.bind(6, a.duration_us);
      return s.step() == SQLITE_DONE;
    });
  }

  std::vector<std::pair<WebhookDeliveryRow, std::vector<WebhookAttemptRow>>> deliveries_of(
      uint32_t account, uint64_t alert_id, uint64_t before, std::size_t limit) override {
    std::lock_guard lock(mutex_);
    Statement s(db_, (std::string("SELECT ") + kDeliveryColumns +
                      " FROM webhook_deliveries WHERE account = ? AND alert_id = ? AND id < ? ORDER BY id DESC LIMIT ?")
                         .c_str());
    s.bind(1, static_cast<int64_t>(account));
    s.bind(2, static_cast<int64_t>(alert_id));
    s.bind(3, clamp(before));
    s.bind(4, static_cast<int64_t>(limit));
    std::vector<std::pair<WebhookDeliveryRow, std::vector<WebhookAttemptRow>>> out;
    while (s.step() == SQLITE_ROW) out.push_back({read_delivery(s), {}});
    Statement a(db_, "SELECT delivery_id, attempt, time, status, error, duration_us FROM webhook_attempts "
                     "WHERE delivery_id = ? ORDER BY attempt");
    for (auto& [d, attempts] : out) {
      a.reset();
      a.bind(1, static_cast<int64_t>(d.id));
      while (a.step() == SQLITE_ROW) {
        attempts.push_back(WebhookAttemptRow{static_cast<uint64_t>(a.integer(0)), static_cast<uint32_t>(a.integer(1)),
                                             a.integer(2), static_cast<int32_t>(a.integer(3)), a.text(4),
                                             a.integer(5)});
      }
    }
    return out;
  }

  static PortfolioValueRow read_portfolio_value(Statement& s) {
    return PortfolioValueRow{static_cast<uint32_t>(s.integer(0)), s.integer(1), static_cast<uint32_t>(s.integer(2)),
                             s.text(3), s.integer(4) != 0};
  }

  std::vector<OrderHistoryRow> order_history(const HistoryQuery& q) override {
    std::lock_guard lock(history_mutex_);
    Statement s(history_db_, q.instrument
                         ? "SELECT * FROM order_history WHERE account = ? AND order_id < ? AND created >= ? AND "
                           "created < ? AND instrument = ? ORDER BY order_id DESC LIMIT ?"
                         : "SELECT * FROM order_history WHERE account = ? AND order_id < ? AND created >= ? AND "
                           "created < ? AND ?5 IS NULL ORDER BY order_id DESC LIMIT ?");
    bind_query(s, q, clamp(q.before));
    std::vector<OrderHistoryRow> out;
    while (s.step() == SQLITE_ROW) out.push_back(read_order(s));
    return out;
  }

  std::optional<OrderHistoryRow> order_history_row(uint32_t account, uint64_t order_id) override {
    std::lock_guard lock(history_mutex_);
    Statement s(history_db_, "SELECT * FROM order_history WHERE order_id = ? AND account = ?");
    s.bind(1, static_cast<int64_t>(order_id));
    s.bind(2, static_cast<int64_t>(account));
    if (s.step() != SQLITE_ROW) return std::nullopt;
    return read_order(s);
  }

  std::vector<IdempotencyRow> recent_idempotency(int64_t since_ms, std::size_t limit) override {
    std::lock_guard lock(history_mutex_);
    Statement s(history_db_, "SELECT * FROM idempotency WHERE created_ms >= ? ORDER BY created_ms DESC, tag DESC LIMIT ?");
    s.bind(1, since_ms);
    s.bind(2, static_cast<int64_t>(limit));
    std::vector<IdempotencyRow> out;
    while (s.step() == SQLITE_ROW) {
      out.push_back(IdempotencyRow{static_cast<uint64_t>(s.integer(0)), static_cast<uint16_t>(s.integer(1)),
                                   static_cast<uint64_t>(s.integer(2)), static_cast<uint8_t>(s.integer(3)),
                                   static_cast<uint64_t>(s.integer(4)), static_cast<uint16_t>(s.integer(5)),
                                   s.integer(6)});
    }
    return out;
  }

  std::vector<OrderHistoryRow> live_order_history() override {
    std::lock_guard lock(history_mutex_);
    Statement s(history_db_, "SELECT * FROM order_history WHERE status IN (1, 2, 6)");
    std::vector<OrderHistoryRow> out;
    while (s.step() == SQLITE_ROW) out.push_back(read_order(s));
    return out;
  }

  std::vector<FillHistoryRow> fill_history(const HistoryQuery& q) override {
    std::lock_guard lock(history_mutex_);
    Statement s(history_db_, q.instrument
                         ? "SELECT * FROM fill_history WHERE account = ? AND (trade_id, order_id) < (?, ?) AND "
                           "time >= ? AND time < ? AND instrument = ? ORDER BY trade_id DESC, order_id DESC LIMIT ?"
                         : "SELECT * FROM fill_history WHERE account = ? AND (trade_id, order_id) < (?, ?) AND "
                           "time >= ? AND time < ? AND ?6 IS NULL ORDER BY trade_id DESC, order_id DESC LIMIT ?");
    bind_query2(s, q);
    std::vector<FillHistoryRow> out;
    while (s.step() == SQLITE_ROW) {
      FillHistoryRow f;
      f.trade_id = static_cast<uint64_t>(s.integer(0));
      f.account = static_cast<uint32_t>(s.integer(1));
      f.order_id = static_cast<uint64_t>(s.integer(2));
      f.instrument = static_cast<uint32_t>(s.integer(3));
      f.side = static_cast<uint8_t>(s.integer(4));
      f.maker = s.integer(5) != 0;
      f.price = s.integer(6);
      f.qty = s.integer(7);
      f.notional = s.integer(8);
      f.fee = s.integer(9);
      f.time = s.integer(10);
      f.seq = static_cast<uint64_t>(s.integer(11));
      out.push_back(f);
    }
    return out;
  }

  std::vector<LedgerHistoryRow> ledger_history(const HistoryQuery& q) override {
    std::lock_guard lock(history_mutex_);
    // instrument does not apply to the ledger; (seq, asset) is the key.
    Statement s(history_db_, "SELECT * FROM ledger_history WHERE account = ? AND (seq, asset) < (?, ?) AND time >= ? AND "
                     "time < ? AND ?6 IS NULL ORDER BY seq DESC, asset DESC LIMIT ?");
    HistoryQuery unfiltered = q;
    unfiltered.instrument.reset();
    bind_query2(s, unfiltered);
    std::vector<LedgerHistoryRow> out;
    while (s.step() == SQLITE_ROW) {
      LedgerHistoryRow l;
      l.seq = static_cast<uint64_t>(s.integer(0));
      l.account = static_cast<uint32_t>(s.integer(1));
      l.asset = static_cast<uint32_t>(s.integer(2));
      l.available = s.integer(3);
      l.locked = s.integer(4);
      l.change = s.integer(5);
      l.cause = static_cast<uint8_t>(s.integer(6));
      l.time = s.integer(7);
      out.push_back(l);
    }
    return out;
  }

 private:
  // SQLite integers are signed: cursors at or above 2^63 mean "no bound".
  static int64_t clamp(uint64_t v) { return v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v); }

  // account, before, from, to, [instrument], limit
  static void bind_query(Statement& s, const HistoryQuery& q, int64_t before) {
    s.bind(1, static_cast<int64_t>(q.account));
    s.bind(2, before);
    s.bind(3, q.from);
    s.bind(4, q.to);
    if (q.instrument) s.bind(5, static_cast<int64_t>(*q.instrument));
    s.bind(6, static_cast<int64_t>(q.limit));
  }
  // account, before, before_secondary, from, to, [instrument], limit
  static void bind_query2(Statement& s, const HistoryQuery& q) {
    s.bind(1, static_cast<int64_t>(q.account));
    s.bind(2, clamp(q.before));
    s.bind(3, clamp(q.before_secondary));
    s.bind(4, q.from);
    s.bind(5, q.to);
    if (q.instrument) s.bind(6, static_cast<int64_t>(*q.instrument));
    s.bind(7, static_cast<int64_t>(q.limit));
  }

  // History inserts run every few milliseconds: prepared once, reset per use.
  static CandleHistoryRow read_candle(Statement& s) {
    CandleHistoryRow c;
    c.instrument = static_cast<uint32_t>(s.integer(0));
    c.interval = static_cast<uint8_t>(s.integer(1));
    c.open_time = s.integer(2);
    c.open = s.integer(3);
    c.high = s.integer(4);
    c.low = s.integer(5);
    c.close = s.integer(6);
    c.volume = s.integer(7);
    c.notional_hi = s.integer(8);
    c.notional_lo = s.integer(9);
    c.quote_volume = s.integer(10);
    c.trades = s.integer(11);
    c.seq = static_cast<uint64_t>(s.integer(12));
    return c;
  }
  // history_mutex_ held.
  std::optional<CandleHistoryRow> candle_row(uint32_t instrument, uint8_t interval, int64_t open_time) {
    Statement& s = cached(select_candle_, "SELECT * FROM candle_history WHERE instrument = ? AND interval = ? AND open_time = ?");
    s.reset();
    s.bind(1, static_cast<int64_t>(instrument));
    s.bind(2, int64_t{interval});
    s.bind(3, open_time);
    std::optional<CandleHistoryRow> row;
    if (s.step() == SQLITE_ROW) row = read_candle(s);
    s.reset();  // no statement left mid-read inside the write transaction
    return row;
  }
  Statement& cached(std::unique_ptr<Statement>& slot, const char* sql) {
    if (!slot) slot = std::make_unique<Statement>(history_db_, sql);
    return *slot;
  }

  bool exec(const char* sql) { return sqlite3_exec(history_db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK; }
  uint64_t read_history_seq() {
    Statement s(history_db_, "SELECT value FROM meta WHERE key = 'history_seq'");
    return s.step() == SQLITE_ROW ? static_cast<uint64_t>(s.integer(0)) : 0;
  }

  bool write_history_seq(uint64_t seq) {
    Statement s(history_db_, "INSERT OR REPLACE INTO meta (key, value) VALUES ('history_seq', ?)");
    s.bind(1, static_cast<int64_t>(seq));
    return s.step() == SQLITE_DONE;
  }

  static OrderHistoryRow read_order(const Statement& s) {
    OrderHistoryRow o;
    o.order_id = static_cast<uint64_t>(s.integer(0));
    o.account = static_cast<uint32_t>(s.integer(1));
    o.instrument = static_cast<uint32_t>(s.integer(2));
    o.client_order_id = s.text(3);
    o.side = static_cast<uint8_t>(s.integer(4));
    o.type = static_cast<uint8_t>(s.integer(5));
    o.tif = static_cast<uint8_t>(s.integer(6));
    o.status = static_cast<uint8_t>(s.integer(7));
    o.end_reason = static_cast<uint8_t>(s.integer(8));
    o.post_only = s.integer(9) != 0;
    o.price = s.integer(10);
    o.stop_price = s.integer(11);
    o.qty = s.integer(12);
    o.filled = s.integer(13);
    o.notional_filled = s.integer(14);
    o.fees = s.integer(15);
    o.expire_at = s.integer(16);
    o.created = s.integer(17);
    o.updated = s.integer(18);
    o.product = static_cast<uint8_t>(s.integer(20));
    o.seq = static_cast<uint64_t>(s.integer(19));
    return o;
  }

  static OAuthClientRecord read_client(const Statement& s) {
    return OAuthClientRecord{s.text(0), s.text(1), s.text(2), s.text(3), static_cast<uint32_t>(s.integer(4)), s.integer(5)};
  }

  std::mutex mutex_;  // credentials: db_, synchronous=FULL
  sqlite3* db_;
  // History is derived (rebuildable from the journal) and written in bulk:
  // its own connection, lock and synchronous=NORMAL (WAL commits without an
  // fsync each; a crash may roll back its newest transactions, history_seq
  // included, and the next start catches up). Same file, same WAL.
  std::mutex history_mutex_;
  sqlite3* history_db_;
  std::unique_ptr<Statement> insert_holding_, insert_order_, insert_fill_, insert_ledger_, insert_idempotency_, insert_trade_, merge_candle_,
      select_candle_;
};

}  // namespace

namespace {

sqlite3* open_connection(const std::string& path, const char* setup, std::string* error) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    *error = path + ": " + (db ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_close(db);
    return nullptr;
  }
  sqlite3_busy_timeout(db, 5000);
  char* message = nullptr;
  if (sqlite3_exec(db, setup, nullptr, nullptr, &message) != SQLITE_OK) {
    *error = path + ": " + (message ? message : "schema failed");
    sqlite3_free(message);
    sqlite3_close(db);
    return nullptr;
  }
  return db;
}

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string& path, std::string* error) {
  // Credentials must survive a crash: synchronous=FULL for them.
  const std::string setup = std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;") + kSchema;
  sqlite3* db = open_connection(path, setup.c_str(), error);
  if (!db) return nullptr;
  // Stores from before margin lack order_history.product (appended, so
  // SELECT * keeps its column order); every older order was CASH.
  bool has_product = false;
  sqlite3_stmt* info = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('order_history') WHERE name = 'product'", -1, &info,
                         nullptr) == SQLITE_OK) {
    has_product = sqlite3_step(info) == SQLITE_ROW;
  }
  sqlite3_finalize(info);
  if (!has_product &&
      sqlite3_exec(db, "ALTER TABLE order_history ADD COLUMN product INTEGER NOT NULL DEFAULT 0", nullptr, nullptr,
                   nullptr) != SQLITE_OK) {
    if (error) *error = std::string("cannot add order_history.product: ") + sqlite3_errmsg(db);
    sqlite3_close(db);
    return nullptr;
  }
  sqlite3* history = open_connection(path, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", error);
  if (!history) {
    sqlite3_close(db);
    return nullptr;
  }
  return std::make_unique<SqliteStore>(db, history);
}

}  // namespace bourse::store

// The embedded store: one SQLite connection in WAL mode behind a mutex.
// Statements are prepared per call (user and key management is rare);
// projections with higher rates will keep prepared statements.
#include <sqlite3.h>

#include <mutex>

#include "store/store.h"

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
  int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
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
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  ~SqliteStore() override { sqlite3_close(db_); }

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

 private:
  static OAuthClientRecord read_client(const Statement& s) {
    return OAuthClientRecord{s.text(0), s.text(1), s.text(2), s.text(3), static_cast<uint32_t>(s.integer(4)), s.integer(5)};
  }

  std::mutex mutex_;
  sqlite3* db_;
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string& path, std::string* error) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    *error = path + ": " + (db ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_close(db);
    return nullptr;
  }
  char* message = nullptr;
  // Credentials must survive a crash: synchronous=FULL for this small table set.
  const std::string setup = std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;") + kSchema;
  if (sqlite3_exec(db, setup.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    *error = path + ": " + (message ? message : "schema failed");
    sqlite3_free(message);
    sqlite3_close(db);
    return nullptr;
  }
  sqlite3_busy_timeout(db, 5000);
  return std::make_unique<SqliteStore>(db);
}

}  // namespace bourse::store

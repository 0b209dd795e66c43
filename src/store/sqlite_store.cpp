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

 private:
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

// Store: the persistence port of the server. Users and credentials live here
// (they are not engine state); order/fill history projections follow. The
// embedded implementation is SQLite (sqlite_store); a PostgreSQL adapter
// will implement the same interface.
//
// Threads: every method may be called from any thread; implementations
// serialize internally. Never called on the engine or dispatcher thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bourse::store {

struct UserRecord {
  uint32_t id = 0;            // also the user's engine account id
  std::string username;
  std::string password_hash;  // argon2id PHC string; never the password
  std::string role;           // "trader" or "admin"
  int64_t created_ms = 0;
};

struct ApiKeyRecord {
  std::string key_id;         // public identifier, sent with every request
  uint32_t user_id = 0;
  std::string sealed_secret;  // AES-256-GCM under the server's master key
  uint32_t scopes = 0;        // auth::Scope bits
  std::string label;
  std::string ip_allowlist;   // comma-separated addresses; empty = any
  int64_t created_ms = 0;
  bool revoked = false;
};

enum class StoreError { kOk, kExists, kNotFound, kIo };

class Store {
 public:
  virtual ~Store() = default;
  // Assigns user->id (ascending from 1). kExists when the name is taken.
  virtual StoreError create_user(UserRecord* user) = 0;
  virtual std::optional<UserRecord> user_by_name(std::string_view username) = 0;
  virtual std::optional<UserRecord> user_by_id(uint32_t id) = 0;
  virtual StoreError put_api_key(const ApiKeyRecord& key) = 0;
  virtual std::vector<ApiKeyRecord> api_keys_of(uint32_t user_id) = 0;
  virtual std::vector<ApiKeyRecord> all_api_keys() = 0;
  // kNotFound unless the key exists, belongs to user_id and was not revoked.
  virtual StoreError revoke_api_key(uint32_t user_id, std::string_view key_id) = 0;
};

// Opens (creating if needed) DATA_DIR/store.sqlite in WAL mode. nullptr and
// *error on failure.
std::unique_ptr<Store> open_sqlite_store(const std::string& path, std::string* error);

}  // namespace bourse::store

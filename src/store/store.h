// Store: the persistence port of the server. Users and credentials (API keys,
// OAuth clients, refresh tokens, external identities) live here: they are not
// engine state. Order/fill history projections follow. The
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

// A registered OAuth application (authorization_code clients).
struct OAuthClientRecord {
  std::string client_id;
  std::string name;
  std::string secret_hash;    // SHA-256 hex of the client secret; empty = public client (PKCE only)
  std::string redirect_uris;  // space-separated, matched exactly
  uint32_t scopes = 0;        // the most a token for this client may carry
  int64_t created_ms = 0;
};

// A refresh token, stored only as its hash. Tokens rotate: each use issues a
// new one in the same family and marks the old one used; presenting a used
// token revokes the family (RFC 9700 §4.14.2).
struct RefreshTokenRecord {
  std::string token_hash;  // SHA-256 hex
  std::string family;
  std::string client_id;
  uint32_t user_id = 0;
  uint32_t scopes = 0;
  int64_t expires_ms = 0;
  bool used = false;
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

  // OAuth.
  virtual StoreError put_oauth_client(const OAuthClientRecord& client) = 0;
  virtual std::optional<OAuthClientRecord> oauth_client(std::string_view client_id) = 0;
  virtual std::vector<OAuthClientRecord> oauth_clients() = 0;
  virtual StoreError put_refresh_token(const RefreshTokenRecord& token) = 0;
  virtual std::optional<RefreshTokenRecord> refresh_token(std::string_view token_hash) = 0;
  // Marks one token used; kNotFound when it was already used or revoked
  // (so two concurrent refreshes cannot both succeed).
  virtual StoreError mark_refresh_token_used(std::string_view token_hash) = 0;
  virtual void revoke_refresh_family(std::string_view family) = 0;
  // Revoked access tokens (by jti) until they would have expired anyway.
  virtual void put_revoked_jti(std::string_view jti, int64_t expires_ms) = 0;
  virtual std::vector<std::pair<std::string, int64_t>> revoked_jtis(int64_t now_ms) = 0;
  // External identities (issuer, subject) mapped to local users.
  virtual std::optional<uint32_t> external_identity(std::string_view issuer, std::string_view subject) = 0;
  virtual StoreError put_external_identity(std::string_view issuer, std::string_view subject, uint32_t user_id) = 0;
};

// Opens (creating if needed) DATA_DIR/store.sqlite in WAL mode. nullptr and
// *error on failure.
std::unique_ptr<Store> open_sqlite_store(const std::string& path, std::string* error);

}  // namespace bourse::store

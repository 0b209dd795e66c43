// AuthService: who is calling. Verifies API-key request signatures
// (docs/authentication.md), HTTP Basic passwords (argon2id), scopes and IP
// allowlists; creates and revokes API keys.
//
// Threads: any I/O thread. The key cache (key id → user, scopes, secret) is
// guarded by a shared_mutex, the replay cache by its own mutex. Secrets are
// kept in memory in clear (HMAC needs them) and on disk only sealed with
// the master key (DATA_DIR/master.key, mode 0600). Nothing here logs a
// secret, a signature or a password.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bourse/core/clock.h"
#include "store/store.h"

namespace bourse::auth {

enum Scope : uint32_t { kScopeRead = 1, kScopeTrade = 2, kScopeTransfer = 4, kScopeAdmin = 8 };
constexpr uint32_t kAllScopes = kScopeRead | kScopeTrade | kScopeTransfer | kScopeAdmin;

std::string scopes_text(uint32_t scopes);  // "read,trade"
// Parses a list of scope names; false on an unknown name.
bool parse_scope_list(const std::vector<std::string>& names, uint32_t* scopes);

struct Principal {
  uint32_t user_id = 0;  // = engine account id
  std::string username;
  std::string role;      // "trader" | "admin"
  uint32_t scopes = 0;
  std::string key_id;    // empty for password authentication
};

struct AuthOutcome {
  bool ok = false;
  int status = 401;      // 401 or 403 when !ok
  std::string code;      // UNAUTHENTICATED, INVALID_SIGNATURE, TIMESTAMP_OUT_OF_WINDOW, REPLAYED_REQUEST, IP_NOT_ALLOWED
  std::string detail;
  Principal principal;
};

// What a signature covers, taken from the HTTP request.
struct SignedRequest {
  std::string_view method;
  std::string_view target;  // path and query exactly as sent
  std::string_view body;
  const std::string* key_id = nullptr;     // BOURSE-API-KEY
  const std::string* timestamp = nullptr;  // BOURSE-TIMESTAMP, ms since epoch
  const std::string* signature = nullptr;  // BOURSE-SIGNATURE, hex HMAC-SHA256
  const std::string* window = nullptr;     // BOURSE-WINDOW, ms (optional)
  const std::string* authorization = nullptr;  // Authorization: Basic ...
  std::string_view remote_ip;
};

// The string a client signs: "<timestamp>\n<METHOD>\n<target>\n<body>".
std::string signing_payload(std::string_view timestamp, std::string_view method, std::string_view target,
                            std::string_view body);

struct NewApiKey {
  std::string key_id;
  std::string secret;  // shown to the user once
  store::ApiKeyRecord record;
};

class AuthService {
 public:
  static constexpr int64_t kDefaultWindowMs = 5'000;
  static constexpr int64_t kMaxWindowMs = 60'000;

  AuthService(store::Store& store, std::string master_key, Clock& clock);

  // Loads every live key into the cache (start-up).
  void load();
  // Signed request (BOURSE-API-KEY present) or HTTP Basic password.
  AuthOutcome authenticate(const SignedRequest& request);

  std::optional<NewApiKey> create_key(uint32_t user_id, uint32_t scopes, std::string label, std::string ip_allowlist);
  // The secret of a live key (demo banner only).
  std::optional<std::string> secret_of(const std::string& key_id) const;
  bool revoke(uint32_t user_id, const std::string& key_id);
  // Password check with the same cost whether or not the user exists.
  std::optional<store::UserRecord> check_password(std::string_view username, std::string_view password);

  // Reads DATA_DIR/master.key, creating 32 random bytes (mode 0600) if absent.
  static bool load_master_key(const std::string& path, std::string* key, std::string* error);

 private:
  struct CachedKey {
    store::ApiKeyRecord record;
    std::string secret;
    store::UserRecord user;
  };
  AuthOutcome verify_signature(const SignedRequest& r);
  AuthOutcome verify_basic(const SignedRequest& r);
  bool remember_signature(const std::string& signature, int64_t expires_ms);

  store::Store& store_;
  std::string master_key_;
  Clock& clock_;
  std::string dummy_hash_;
  mutable std::shared_mutex keys_mutex_;
  std::unordered_map<std::string, CachedKey> keys_;
  std::mutex replay_mutex_;
  std::unordered_map<std::string, int64_t> seen_signatures_;  // signature → expiry (ms)
  uint64_t inserts_since_purge_ = 0;
};

}  // namespace bourse::auth

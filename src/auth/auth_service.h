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
#include <queue>
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
// User names: 3..32 characters of a-z, 0-9, '_', '.', '-'.
bool valid_username(std::string_view name);
// Parses a list of scope names; false on an unknown name.
bool parse_scope_list(const std::vector<std::string>& names, uint32_t* scopes);

// How the caller proved who it is. A password session may mint keys with any
// non-admin scope; keys and tokens can never grant beyond their own scopes.
enum class CredentialKind { kPassword, kApiKey, kToken };

struct Principal {
  uint32_t user_id = 0;  // = engine account id
  std::string username;
  std::string role;      // "trader" | "admin"
  uint32_t scopes = 0;
  std::string key_id;    // the API key (also for tokens minted from one), else empty
  CredentialKind kind = CredentialKind::kPassword;
};

struct AuthOutcome {
  bool ok = false;
  int status = 401;      // 401, 403 or 429 (SIGN_IN_LOCKED) when !ok
  std::string code;      // UNAUTHENTICATED, INVALID_SIGNATURE, TIMESTAMP_OUT_OF_WINDOW, REPLAYED_REQUEST, IP_NOT_ALLOWED,
                         // SIGN_IN_LOCKED
  std::string detail;
  int64_t retry_after_s = 0;  // SIGN_IN_LOCKED: Retry-After
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

// Verifies "Authorization: Bearer <token>" (the OAuth service implements it).
class BearerVerifier {
 public:
  virtual ~BearerVerifier() = default;
  virtual AuthOutcome verify_bearer(std::string_view token) = 0;
  // True when verifying may block (first sight of an external identity
  // creates a local user): callers then verify off the I/O threads.
  virtual bool may_block(std::string_view token) = 0;
};

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
  // Signed request (BOURSE-API-KEY present), Bearer token or HTTP Basic password.
  AuthOutcome authenticate(const SignedRequest& request);
  // True when authenticate() may take milliseconds (argon2, a store write):
  // the caller should run it on a worker thread.
  bool is_slow(const SignedRequest& request);
  void set_bearer_verifier(BearerVerifier* verifier) { bearer_ = verifier; }

  // OAuth client_credentials: an API key id and its secret as client_id and
  // client_secret (constant-time compare, IP allowlist applies).
  AuthOutcome authenticate_key_secret(std::string_view key_id, std::string_view secret, std::string_view remote_ip);
  // The key exists and is not revoked (tokens minted from a key die with it).
  bool key_live(const std::string& key_id) const;

  std::optional<NewApiKey> create_key(uint32_t user_id, uint32_t scopes, std::string label, std::string ip_allowlist);
  // The secret of a live key (demo banner only).
  std::optional<std::string> secret_of(const std::string& key_id) const;
  bool revoke(uint32_t user_id, const std::string& key_id);
  // Password check with the same cost whether or not the user exists.
  // Sign-in throttle, per user name (known or not): after kFreeFailures
  // wrong passwords within kFailureWindowMs, further attempts are refused
  // without a check for 30 s, doubling per failure up to kMaxLockMs. API
  // keys and tokens are unaffected, so a locked user's bots keep trading.
  struct PasswordCheck {
    std::optional<store::UserRecord> user;
    int64_t locked_ms = 0;  // > 0: refused unchecked; retry after this long
    explicit operator bool() const { return user.has_value(); }
  };
  static constexpr int kFreeFailures = 5;
  static constexpr int64_t kFailureWindowMs = 15 * 60 * 1000;
  static constexpr int64_t kFirstLockMs = 30'000;
  static constexpr int64_t kMaxLockMs = 15 * 60 * 1000;
  static constexpr std::size_t kMaxThrottledNames = 100'000;
  PasswordCheck check_password(std::string_view username, std::string_view password);

  // Reads DATA_DIR/master.key, creating 32 random bytes (mode 0600) if absent.
  static bool load_master_key(const std::string& path, std::string* key, std::string* error);

 private:
  struct CachedKey {
    store::ApiKeyRecord record;
    std::string secret;
    store::UserRecord user;
  };
  static AuthOutcome allow_key(const CachedKey& key);
  AuthOutcome verify_signature(const SignedRequest& r);
  AuthOutcome verify_basic(const SignedRequest& r);
  bool remember_signature(const std::string& signature, int64_t expires_ms);

  store::Store& store_;
  BearerVerifier* bearer_ = nullptr;
  std::string master_key_;
  Clock& clock_;
  std::string dummy_hash_;
  mutable std::shared_mutex keys_mutex_;
  std::unordered_map<std::string, CachedKey> keys_;
  std::mutex replay_mutex_;
  std::unordered_map<std::string, int64_t> seen_signatures_;  // signature → expiry (ms)
  // The same entries by expiry, soonest first: each insert drops the expired
  // ones in O(log n) instead of scanning the whole cache.
  std::priority_queue<std::pair<int64_t, std::string>, std::vector<std::pair<int64_t, std::string>>, std::greater<>>
      signature_expiry_;
  struct SignInFailures {
    int count = 0;
    int in_flight = 0;  // checks running now
    int64_t last_ms = 0;
    int64_t locked_until_ms = 0;
  };
  std::mutex sign_in_mutex_;
  std::unordered_map<std::string, SignInFailures> sign_in_failures_;  // by user name
};

}  // namespace bourse::auth

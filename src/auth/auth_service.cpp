#include "auth/auth_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <fstream>

#include "auth/crypto.h"
#include "bourse/core/file_io.h"

namespace bourse::auth {
namespace {

constexpr const char* kScopeNames[] = {"read", "trade", "transfer", "admin"};
constexpr std::size_t kMaxSeenSignatures = 1'000'000;  // replay cache bound

bool parse_i64(std::string_view s, int64_t* out) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool ip_allowed(const std::string& allowlist, std::string_view ip) {
  if (allowlist.empty()) return true;
  std::string_view rest = allowlist;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    if (rest.substr(0, comma) == ip) return true;
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  return false;
}

AuthOutcome allow(Principal principal) {
  AuthOutcome ok;
  ok.ok = true;
  ok.status = 200;
  ok.principal = std::move(principal);
  return ok;
}

AuthOutcome deny(int status, std::string code, std::string detail) {
  AuthOutcome o;
  o.status = status;
  o.code = std::move(code);
  o.detail = std::move(detail);
  return o;
}

}  // namespace

bool valid_username(std::string_view u) {
  if (u.size() < 3 || u.size() > 32) return false;
  for (char c : u) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) return false;
  }
  return true;
}

std::string scopes_text(uint32_t scopes) {
  std::string out;
  for (int i = 0; i < 4; ++i) {
    if (!(scopes & (1u << i))) continue;
    if (!out.empty()) out += ',';
    out += kScopeNames[i];
  }
  return out;
}

bool parse_scope_list(const std::vector<std::string>& names, uint32_t* scopes) {
  *scopes = 0;
  for (const std::string& n : names) {
    bool found = false;
    for (int i = 0; i < 4; ++i) {
      if (n == kScopeNames[i]) {
        *scopes |= 1u << i;
        found = true;
      }
    }
    if (!found) return false;
  }
  return true;
}

std::string signing_payload(std::string_view timestamp, std::string_view method, std::string_view target,
                            std::string_view body) {
  std::string s;
  s.reserve(timestamp.size() + method.size() + target.size() + body.size() + 3);
  s.append(timestamp).push_back('\n');
  s.append(method).push_back('\n');
  s.append(target).push_back('\n');
  s.append(body);
  return s;
}

AuthService::AuthService(store::Store& store, std::string master_key, Clock& clock)
    : store_(store), master_key_(std::move(master_key)), clock_(clock), dummy_hash_(hash_password(random_hex(16))) {}

bool AuthService::load_master_key(const std::string& path, std::string* key, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (data.size() != 32) {
      *error = path + ": must hold exactly 32 bytes";
      return false;
    }
    *key = std::move(data);
    return true;
  }
  const std::string hex = random_hex(32);
  std::string raw;
  for (std::size_t i = 0; i < 64; i += 2) raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0 || !write_all(fd, raw.data(), raw.size()) || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    *error = path + ": cannot create the master key";
    return false;
  }
  ::close(fd);
  *key = std::move(raw);
  return true;
}

void AuthService::load() {
  std::unique_lock lock(keys_mutex_);
  keys_.clear();
  for (store::ApiKeyRecord& k : store_.all_api_keys()) {
    if (k.revoked) continue;
    auto secret = open_sealed(master_key_, k.sealed_secret);
    auto user = store_.user_by_id(k.user_id);
    if (!secret || !user) continue;  // sealed with another master key: unusable
    keys_[k.key_id] = CachedKey{k, std::move(*secret), std::move(*user)};
  }
}

AuthOutcome AuthService::authenticate(const SignedRequest& r) {
  if (r.key_id) return verify_signature(r);
  if (r.authorization && r.authorization->starts_with("Bearer ")) {
    if (!bearer_) return deny(401, "UNAUTHENTICATED", "bearer tokens are not accepted by this server");
    return bearer_->verify_bearer(std::string_view(*r.authorization).substr(7));
  }
  if (r.authorization) return verify_basic(r);
  return deny(401, "UNAUTHENTICATED", "sign the request with an API key or send a bearer token (docs/authentication.md)");
}

bool AuthService::is_slow(const SignedRequest& r) {
  if (r.key_id || !r.authorization) return false;
  if (r.authorization->starts_with("Bearer ")) return bearer_ && bearer_->may_block(std::string_view(*r.authorization).substr(7));
  return true;  // Basic: argon2id
}

AuthOutcome AuthService::authenticate_key_secret(std::string_view key_id, std::string_view secret,
                                                 std::string_view remote_ip) {
  CachedKey key;
  {
    std::shared_lock lock(keys_mutex_);
    auto it = keys_.find(std::string(key_id));
    if (it == keys_.end()) return deny(401, "UNAUTHENTICATED", "unknown client or wrong secret");
    key = it->second;
  }
  if (!constant_time_equal(key.secret, secret)) return deny(401, "UNAUTHENTICATED", "unknown client or wrong secret");
  if (!ip_allowed(key.record.ip_allowlist, remote_ip)) {
    return deny(403, "IP_NOT_ALLOWED", "this API key may not be used from this address");
  }
  return allow_key(key);
}

AuthOutcome AuthService::allow_key(const CachedKey& key) {
  return allow(Principal{key.user.id, key.user.username, key.user.role, key.record.scopes, key.record.key_id,
                         CredentialKind::kApiKey});
}

bool AuthService::key_live(const std::string& key_id) const {
  std::shared_lock lock(keys_mutex_);
  return keys_.contains(key_id);
}

AuthOutcome AuthService::verify_signature(const SignedRequest& r) {
  if (!r.timestamp || !r.signature) {
    return deny(401, "UNAUTHENTICATED", "BOURSE-TIMESTAMP and BOURSE-SIGNATURE are required with BOURSE-API-KEY");
  }
  int64_t ts = 0, window = kDefaultWindowMs;
  if (!parse_i64(*r.timestamp, &ts)) return deny(401, "UNAUTHENTICATED", "BOURSE-TIMESTAMP must be integer milliseconds");
  if (r.window && (!parse_i64(*r.window, &window) || window < 1 || window > kMaxWindowMs)) {
    return deny(401, "UNAUTHENTICATED", "BOURSE-WINDOW must be 1..60000 milliseconds");
  }
  const int64_t now = clock_.now() / 1'000'000;
  if (ts < now - window || ts > now + window) {
    return deny(401, "TIMESTAMP_OUT_OF_WINDOW", "BOURSE-TIMESTAMP is more than BOURSE-WINDOW ms from server time (GET /v1/time)");
  }
  CachedKey key;
  {
    std::shared_lock lock(keys_mutex_);
    auto it = keys_.find(*r.key_id);
    if (it == keys_.end()) return deny(401, "UNAUTHENTICATED", "unknown or revoked API key");
    key = it->second;
  }
  const std::string expected = hmac_sha256_hex(key.secret, signing_payload(*r.timestamp, r.method, r.target, r.body));
  if (!is_hex64(*r.signature) || !constant_time_equal(expected, *r.signature)) {
    return deny(401, "INVALID_SIGNATURE", "the signature does not match the request (docs/authentication.md)");
  }
  if (!ip_allowed(key.record.ip_allowlist, r.remote_ip)) {
    return deny(403, "IP_NOT_ALLOWED", "this API key may not be used from this address");
  }
  // Checked last, so a forged request cannot fill the replay cache.
  if (!remember_signature(*r.signature, ts + window)) {
    return deny(401, "REPLAYED_REQUEST", "this exact signed request was already received");
  }
  return allow_key(key);
}

AuthOutcome AuthService::verify_basic(const SignedRequest& r) {
  std::string_view a = *r.authorization;
  if (!a.starts_with("Basic ")) return deny(401, "UNAUTHENTICATED", "only Basic or a signed request is accepted here");
  const auto decoded = base64_decode(a.substr(6));
  const std::size_t colon = decoded ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos) return deny(401, "UNAUTHENTICATED", "malformed Basic credentials");
  const auto check = check_password(std::string_view(*decoded).substr(0, colon), std::string_view(*decoded).substr(colon + 1));
  if (check.locked_ms > 0) {
    AuthOutcome o = deny(429, "SIGN_IN_LOCKED",
                         "too many wrong passwords for this user; retry in " +
                             std::to_string((check.locked_ms + 999) / 1000) + " s (API keys and tokens still work)");
    o.retry_after_s = (check.locked_ms + 999) / 1000;
    return o;
  }
  const auto& user = check.user;
  if (!user) return deny(401, "UNAUTHENTICATED", "wrong username or password");
  // A password session may manage keys and read; it does not trade (use a key or a token).
  return allow(Principal{user->id, user->username, user->role, kScopeRead, "", CredentialKind::kPassword});
}

bool AuthService::remember_signature(const std::string& signature, int64_t expires_ms) {
  std::lock_guard lock(replay_mutex_);
  const int64_t now = clock_.now() / 1'000'000;
  while (!signature_expiry_.empty() && signature_expiry_.top().first < now) {
    const auto& [expiry, old] = signature_expiry_.top();
    if (auto it = seen_signatures_.find(old); it != seen_signatures_.end() && it->second == expiry) {
      seen_signatures_.erase(it);
    }
    signature_expiry_.pop();
  }
  if (seen_signatures_.size() >= kMaxSeenSignatures) return false;  // refuse rather than forget
  if (!seen_signatures_.emplace(signature, expires_ms).second) return false;
  signature_expiry_.emplace(expires_ms, signature);
  return true;
}

std::optional<NewApiKey> AuthService::create_key(uint32_t user_id, uint32_t scopes, std::string label,
                                                 std::string ip_allowlist) {
  auto user = store_.user_by_id(user_id);
  if (!user) return std::nullopt;
  NewApiKey k;
  k.key_id = "bk_" + random_hex(12);
  k.secret = random_hex(32);
  k.record.key_id = k.key_id;
  k.record.user_id = user_id;
  k.record.sealed_secret = seal(master_key_, k.secret);
  k.record.scopes = scopes;
  k.record.label = std::move(label);
  k.record.ip_allowlist = std::move(ip_allowlist);
  k.record.created_ms = clock_.now() / 1'000'000;
  if (store_.put_api_key(k.record) != store::StoreError::kOk) return std::nullopt;
  std::unique_lock lock(keys_mutex_);
  keys_[k.key_id] = CachedKey{k.record, k.secret, *user};
  return k;
}

std::optional<std::string> AuthService::secret_of(const std::string& key_id) const {
  std::shared_lock lock(keys_mutex_);
  auto it = keys_.find(key_id);
  if (it == keys_.end()) return std::nullopt;
  return it->second.secret;
}

bool AuthService::revoke(uint32_t user_id, const std::string& key_id) {
  if (store_.revoke_api_key(user_id, key_id) != store::StoreError::kOk) return false;
  std::unique_lock lock(keys_mutex_);
  keys_.erase(key_id);
  return true;
}

AuthService::PasswordCheck AuthService::check_password(std::string_view username, std::string_view password) {
  const std::string name(username.substr(0, 256));
  {
    // Reserve the attempt before the (slow) check, so that concurrent
    // guesses cannot all pass before the first failure is counted: for one
    // name, failures + checks running stays within kFreeFailures (one check
    // at a time once the limit is reached).
    std::lock_guard lock(sign_in_mutex_);
    const int64_t now = clock_.now() / 1'000'000;
    if (sign_in_failures_.size() >= kMaxThrottledNames) {
      std::erase_if(sign_in_failures_, [&](const auto& kv) {
        return kv.second.in_flight == 0 && kv.second.locked_until_ms <= now &&
               kv.second.last_ms < now - kFailureWindowMs;
      });
    }
    auto it = sign_in_failures_.find(name);
    if (it == sign_in_failures_.end()) {
      // Full of live entries: refuse briefly rather than check untracked.
      if (sign_in_failures_.size() >= kMaxThrottledNames) return PasswordCheck{std::nullopt, 1'000};
      it = sign_in_failures_.emplace(name, SignInFailures{}).first;
    }
    SignInFailures& f = it->second;
    if (f.locked_until_ms > now) return PasswordCheck{std::nullopt, f.locked_until_ms - now};
    if (f.last_ms < now - kFailureWindowMs) f.count = 0;
    if (f.in_flight > 0 && f.count + f.in_flight >= kFreeFailures) return PasswordCheck{std::nullopt, 1'000};
    ++f.in_flight;
  }
  auto user = store_.user_by_name(username);
  // Same argon2 cost for unknown users: no timing oracle for user names.
  const bool ok = verify_password(user ? user->password_hash : dummy_hash_, password);
  std::lock_guard lock(sign_in_mutex_);
  const int64_t now = clock_.now() / 1'000'000;
  SignInFailures& f = sign_in_failures_[name];  // reserved above, so present
  --f.in_flight;
  if (user && ok) {
    if (f.in_flight == 0) sign_in_failures_.erase(name);
    else f = SignInFailures{0, f.in_flight, 0, 0};
    return PasswordCheck{std::move(user), 0};
  }
  f.count += 1;
  f.last_ms = now;
  if (f.count >= kFreeFailures) {
    const int doublings = std::min(f.count - kFreeFailures, 10);
    f.locked_until_ms = now + std::min(kMaxLockMs, kFirstLockMs << doublings);
  }
  return PasswordCheck{};
}

}  // namespace bourse::auth

#include "auth/oauth.h"

#include "auth/crypto.h"
#include "bourse/core/url_encoding.h"

namespace bourse::auth {
namespace {

constexpr const char* kScopeNames[] = {"read", "trade", "transfer", "admin"};
constexpr std::size_t kMaxCodes = 100'000;
constexpr std::size_t kMaxVerified = 100'000;

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

OAuthReply oauth_error(int status, std::string_view error, std::string_view description) {
  return OAuthReply{status, "{\"error\":" + json_string(error) + ",\"error_description\":" + json_string(description) + "}"};
}

const std::string* param(const OAuthParams& p, std::string_view name) {
  auto it = p.find(name);
  return it == p.end() ? nullptr : &it->second;
}

std::string param_or_empty(const OAuthParams& p, std::string_view name) {
  const std::string* v = param(p, name);
  return v ? *v : std::string();
}

// RFC 7636 §4.1: 43..128 characters of [A-Z a-z 0-9 - . _ ~].
bool valid_pkce_text(std::string_view v) {
  if (v.size() < 43 || v.size() > 128) return false;
  for (char c : v) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_' || c == '~';
    if (!ok) return false;
  }
  return true;
}

bool contains_word(std::string_view list, std::string_view word) {
  while (!list.empty()) {
    const std::size_t space = list.find(' ');
    if (list.substr(0, space) == word) return true;
    list = space == std::string_view::npos ? std::string_view{} : list.substr(space + 1);
  }
  return false;
}

// Client credentials from "Authorization: Basic base64(urlencode(id):urlencode(secret))".
bool parse_basic_client(const std::string& header, std::string* id, std::string* secret) {
  if (!header.starts_with("Basic ")) return false;
  auto decoded = base64_decode(std::string_view(header).substr(6));
  if (!decoded) return false;
  const std::size_t colon = decoded->find(':');
  if (colon == std::string::npos) return false;
  return percent_decode(std::string_view(*decoded).substr(0, colon), id) &&
         percent_decode(std::string_view(*decoded).substr(colon + 1), secret);
}

}  // namespace

bool parse_scope_string(std::string_view text, bool lenient, uint32_t* scopes) {
  *scopes = 0;
  while (!text.empty()) {
    const std::size_t space = text.find(' ');
    const std::string_view word = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
    if (word.empty()) continue;
    bool found = false;
    for (int i = 0; i < 4; ++i) {
      if (word == kScopeNames[i]) {
        *scopes |= 1u << i;
        found = true;
      }
    }
    if (!found && !lenient) return false;
  }
  return true;
}

std::string scope_string(uint32_t scopes) {
  std::string out;
  for (int i = 0; i < 4; ++i) {
    if (!(scopes & (1u << i))) continue;
    if (!out.empty()) out += ' ';
    out += kScopeNames[i];
  }
  return out;
}

std::string pkce_s256(std::string_view verifier) { return base64url(sha256_bytes(verifier)); }

OAuthService::OAuthService(OAuthConfig config, store::Store& store, AuthService& auth, const SigningKey& key,
                           Clock& clock, AccountOpener opener)
    : config_(std::move(config)), store_(store), auth_(auth), key_(key), clock_(clock), opener_(std::move(opener)) {
  local_keys_.push_back(key_.verification_key());
}

void OAuthService::load() {
  std::lock_guard lock(revoked_mutex_);
  for (auto& [jti, expires] : store_.revoked_jtis(now_ms())) revoked_jti_[jti] = expires;
}

// --- token endpoint ------------------------------------------------------------

OAuthReply OAuthService::token(const OAuthParams& form, const std::string* authorization, std::string_view remote_ip) {
  const std::string grant = param_or_empty(form, "grant_type");
  if (grant == "client_credentials") return grant_client_credentials(form, authorization, remote_ip);
  if (grant == "authorization_code") return grant_authorization_code(form, authorization);
  if (grant == "refresh_token") return grant_refresh_token(form, authorization);
  if (grant.empty()) return oauth_error(400, "invalid_request", "grant_type is required");
  return oauth_error(400, "unsupported_grant_type",
                     "grant_type: client_credentials, authorization_code or refresh_token");
}

OAuthReply OAuthService::grant_client_credentials(const OAuthParams& form, const std::string* authorization,
                                                  std::string_view remote_ip) {
  std::string id = param_or_empty(form, "client_id"), secret = param_or_empty(form, "client_secret");
  bool via_basic = false;
  if (authorization) {
    if (!id.empty() || !secret.empty()) {
      return oauth_error(400, "invalid_request", "authenticate the client with Basic or with form fields, not both");
    }
    if (!parse_basic_client(*authorization, &id, &secret)) {
      OAuthReply r = oauth_error(401, "invalid_client", "malformed Basic client credentials");
      r.basic_challenge = true;
      return r;
    }
    via_basic = true;
  }
  if (id.empty() || secret.empty()) {
    return oauth_error(401, "invalid_client", "client_credentials needs an API key id and secret as client credentials");
  }
  const AuthOutcome who = auth_.authenticate_key_secret(id, secret, remote_ip);
  if (!who.ok) {
    OAuthReply r = oauth_error(401, "invalid_client", who.detail);
    r.basic_challenge = via_basic;
    return r;
  }
  uint32_t scopes = who.principal.scopes;
  if (const std::string* requested = param(form, "scope")) {
    uint32_t asked = 0;
    if (!parse_scope_string(*requested, false, &asked) || asked == 0) {
      return oauth_error(400, "invalid_scope", "scope: space-separated read, trade, transfer, admin");
    }
    if ((asked & ~scopes) != 0) return oauth_error(400, "invalid_scope", "the key does not hold: " + scope_string(asked & ~scopes));
    scopes = asked;
  }
  return issue_tokens(who.principal, id, scopes, "");
}

std::optional<OAuthService::Client> OAuthService::registered_client(const OAuthParams& form,
                                                                     const std::string* authorization,
                                                                     OAuthReply* error) {
  std::string id = param_or_empty(form, "client_id"), secret = param_or_empty(form, "client_secret");
  bool via_basic = false;
  if (authorization) {
    std::string basic_id;
    if (!secret.empty() || !parse_basic_client(*authorization, &basic_id, &secret)) {
      *error = oauth_error(401, "invalid_client", "malformed client credentials");
      error->basic_challenge = true;
      return std::nullopt;
    }
    if (!id.empty() && id != basic_id) {
      *error = oauth_error(400, "invalid_request", "client_id differs from the authenticated client");
      return std::nullopt;
    }
    id = basic_id;
    via_basic = true;
  }
  if (id.empty()) {
    *error = oauth_error(400, "invalid_request", "client_id is required");
    return std::nullopt;
  }
  auto client = store_.oauth_client(id);
  if (!client) {
    *error = oauth_error(401, "invalid_client", "unknown client");
    error->basic_challenge = via_basic;
    return std::nullopt;
  }
  if (!client->secret_hash.empty()) {  // confidential: the secret is required
    if (secret.empty() || !constant_time_equal(sha256_hex(secret), client->secret_hash)) {
      *error = oauth_error(401, "invalid_client", "client authentication failed");
      error->basic_challenge = via_basic;
      return std::nullopt;
    }
  } else if (!secret.empty()) {
    *error = oauth_error(401, "invalid_client", "a public client has no secret");
    return std::nullopt;
  }
  return Client{std::move(*client), via_basic};
}

OAuthReply OAuthService::grant_authorization_code(const OAuthParams& form, const std::string* authorization) {
  OAuthReply error;
  auto client = registered_client(form, authorization, &error);
  if (!client) return error;
  const std::string code = param_or_empty(form, "code");
  const std::string verifier = param_or_empty(form, "code_verifier");
  const std::string redirect_uri = param_or_empty(form, "redirect_uri");
  if (code.empty() || redirect_uri.empty() || verifier.empty()) {
    return oauth_error(400, "invalid_request", "code, redirect_uri and code_verifier are required");
  }
  Code c;
  {
    std::lock_guard lock(codes_mutex_);
    auto it = codes_.find(sha256_hex(code));
    if (it == codes_.end()) return oauth_error(400, "invalid_grant", "unknown or expired authorization code");
    if (it->second.used) {
      // A second use means the code leaked: revoke what the first produced (§4.1.2).
      store_.revoke_refresh_family(it->second.family);
      codes_.erase(it);
      return oauth_error(400, "invalid_grant", "this authorization code was already used");
    }
    c = it->second;
    if (c.client_id != client->record.client_id || c.redirect_uri != redirect_uri) {
      return oauth_error(400, "invalid_grant", "the code was issued to another client or redirect_uri");
    }
    if (now_ms() > c.expires_ms) {
      codes_.erase(it);
      return oauth_error(400, "invalid_grant", "unknown or expired authorization code");
    }
    if (!valid_pkce_text(verifier) || !constant_time_equal(pkce_s256(verifier), c.code_challenge)) {
      return oauth_error(400, "invalid_grant", "code_verifier does not match the code_challenge");
    }
    it->second.used = true;
    it->second.family = random_hex(16);
    c.family = it->second.family;
  }
  auto user = store_.user_by_id(c.user_id);
  if (!user) return oauth_error(400, "invalid_grant", "the user no longer exists");
  Principal who{user->id, user->username, user->role, c.scopes, "", CredentialKind::kToken};
  return issue_tokens(who, c.client_id, c.scopes, c.family);
}

OAuthReply OAuthService::grant_refresh_token(const OAuthParams& form, const std::string* authorization) {
  OAuthReply error;
  auto client = registered_client(form, authorization, &error);
  if (!client) return error;
  const std::string presented = param_or_empty(form, "refresh_token");
  if (presented.empty()) return oauth_error(400, "invalid_request", "refresh_token is required");
  auto record = store_.refresh_token(sha256_hex(presented));
  if (!record || record->client_id != client->record.client_id) {
    return oauth_error(400, "invalid_grant", "unknown refresh token");
  }
  if (record->revoked) return oauth_error(400, "invalid_grant", "this refresh token was revoked");
  if (now_ms() > record->expires_ms) return oauth_error(400, "invalid_grant", "the refresh token expired");
  uint32_t scopes = record->scopes;
  if (const std::string* requested = param(form, "scope")) {
    uint32_t asked = 0;
    if (!parse_scope_string(*requested, false, &asked) || asked == 0 || (asked & ~scopes) != 0) {
      return oauth_error(400, "invalid_scope", "a refresh may only narrow the granted scopes");
    }
    scopes = asked;
  }
  if (record->used || store_.mark_refresh_token_used(record->token_hash) != store::StoreError::kOk) {
    // Reuse of a rotated token: someone else holds the family. End it.
    store_.revoke_refresh_family(record->family);
    return oauth_error(400, "invalid_grant", "this refresh token was already used; its session is revoked");
  }
  auto user = store_.user_by_id(record->user_id);
  if (!user) return oauth_error(400, "invalid_grant", "the user no longer exists");
  Principal who{user->id, user->username, user->role, scopes, "", CredentialKind::kToken};
  return issue_tokens(who, record->client_id, scopes, record->family);
}

OAuthReply OAuthService::issue_tokens(const Principal& who, const std::string& client_id, uint32_t scopes,
                                      const std::string& family) {
  const int64_t now_s = now_ms() / 1000;
  std::string claims = "{\"iss\":" + json_string(config_.issuer) + ",\"sub\":\"" + std::to_string(who.user_id) +
                       "\",\"aud\":" + json_string(config_.audience) + ",\"iat\":" + std::to_string(now_s) +
                       ",\"exp\":" + std::to_string(now_s + config_.access_token_ttl_s) + ",\"jti\":\"" +
                       random_hex(16) + "\",\"scope\":\"" + scope_string(scopes) + "\",\"client_id\":" +
                       json_string(client_id);
  if (who.kind == CredentialKind::kApiKey) claims += ",\"bourse_key\":" + json_string(who.key_id);
  claims += "}";
  std::string body = "{\"access_token\":\"" + key_.sign_jwt(claims) + "\",\"token_type\":\"Bearer\",\"expires_in\":" +
                     std::to_string(config_.access_token_ttl_s) + ",\"scope\":\"" + scope_string(scopes) + "\"";
  if (!family.empty()) {
    store::RefreshTokenRecord r;
    const std::string refresh = "brt_" + random_hex(32);
    r.token_hash = sha256_hex(refresh);
    r.family = family;
    r.client_id = client_id;
    r.user_id = who.user_id;
    r.scopes = scopes;
    r.expires_ms = now_ms() + config_.refresh_token_ttl_s * 1000;
    if (store_.put_refresh_token(r) != store::StoreError::kOk) {
      return oauth_error(503, "temporarily_unavailable", "the refresh token could not be stored; retry");
    }
    body += ",\"refresh_token\":\"" + refresh + "\"";
  }
  body += "}";
  return OAuthReply{200, std::move(body)};
}

// --- revocation ----------------------------------------------------------------

OAuthReply OAuthService::revoke(const OAuthParams& form, const std::string* authorization) {
  const std::string token = param_or_empty(form, "token");
  if (token.empty()) return oauth_error(400, "invalid_request", "token is required");
  if (token.starts_with("brt_")) {
    // A refresh token: only its own client may revoke it (RFC 7009 §2.1).
    OAuthReply error;
    auto client = registered_client(form, authorization, &error);
    if (!client) return error;
    auto record = store_.refresh_token(sha256_hex(token));
    if (record && record->client_id == client->record.client_id) store_.revoke_refresh_family(record->family);
    return OAuthReply{200, "{}"};
  }
  // An access token: possession is the proof (it is a bearer token). A
  // token that does not verify is ignored, as the RFC asks.
  JwtClaims claims;
  if (verify_jwt(token, local_keys_, &claims) == JwtError::kOk && claims.iss == config_.issuer && !claims.jti.empty()) {
    const int64_t expires = claims.exp * 1000;
    store_.put_revoked_jti(claims.jti, expires);
    {
      std::lock_guard lock(revoked_mutex_);
      revoked_jti_[claims.jti] = expires;
    }
    std::unique_lock lock(cache_mutex_);
    verified_.erase(token);
  }
  return OAuthReply{200, "{}"};
}

// --- authorization endpoint ----------------------------------------------------

std::optional<AuthorizeError> OAuthService::check_authorize(const OAuthParams& q, AuthorizeRequest* request) {
  const std::string client_id = param_or_empty(q, "client_id");
  auto client = client_id.empty() ? std::nullopt : store_.oauth_client(client_id);
  if (!client) return AuthorizeError{false, "invalid_request", "unknown client_id"};
  const std::string redirect_uri = param_or_empty(q, "redirect_uri");
  if (redirect_uri.empty() || !contains_word(client->redirect_uris, redirect_uri)) {
    return AuthorizeError{false, "invalid_request", "redirect_uri is not registered for this client"};
  }
  AuthorizeRequest r;
  r.client = *client;
  r.redirect_uri = redirect_uri;
  r.state = param_or_empty(q, "state");
  if (r.state.size() > 512) return AuthorizeError{false, "invalid_request", "state: at most 512 characters"};
  if (param_or_empty(q, "response_type") != "code") {
    return AuthorizeError{true, "unsupported_response_type", "response_type must be code"};
  }
  r.code_challenge = param_or_empty(q, "code_challenge");
  if (!valid_pkce_text(r.code_challenge) || param_or_empty(q, "code_challenge_method") != "S256") {
    return AuthorizeError{true, "invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256"};
  }
  r.scopes = client->scopes;
  if (const std::string* scope = param(q, "scope")) {
    if (!parse_scope_string(*scope, false, &r.scopes) || r.scopes == 0 || (r.scopes & ~client->scopes) != 0) {
      return AuthorizeError{true, "invalid_scope", "scope: a subset of " + scope_string(client->scopes)};
    }
  }
  *request = std::move(r);
  return std::nullopt;
}

std::string OAuthService::issue_code(const AuthorizeRequest& request, uint32_t user_id) {
  const std::string code = random_hex(32);
  Code c;
  c.client_id = request.client.client_id;
  c.redirect_uri = request.redirect_uri;
  c.code_challenge = request.code_challenge;
  c.user_id = user_id;
  c.scopes = request.scopes;
  c.expires_ms = now_ms() + config_.code_ttl_s * 1000;
  std::lock_guard lock(codes_mutex_);
  if (codes_.size() >= kMaxCodes) {
    const int64_t now = now_ms();
    std::erase_if(codes_, [&](const auto& kv) { return kv.second.expires_ms + 600'000 < now; });
  }
  codes_[sha256_hex(code)] = std::move(c);
  return code;
}

std::optional<NewOAuthClient> OAuthService::register_client(std::string name, std::vector<std::string> redirect_uris,
                                                            uint32_t scopes, bool confidential) {
  NewOAuthClient c;
  c.record.client_id = "bc_" + random_hex(12);
  c.record.name = std::move(name);
  for (const std::string& uri : redirect_uris) {
    if (!c.record.redirect_uris.empty()) c.record.redirect_uris += ' ';
    c.record.redirect_uris += uri;
  }
  c.record.scopes = scopes;
  c.record.created_ms = now_ms();
  if (confidential) {
    c.secret = random_hex(32);
    c.record.secret_hash = sha256_hex(c.secret);
  }
  if (store_.put_oauth_client(c.record) != store::StoreError::kOk) return std::nullopt;
  return c;
}

std::string OAuthService::jwks() const { return "{\"keys\":[" + key_.public_jwk() + "]}"; }

std::string OAuthService::metadata() const {
  const std::string& base = config_.issuer;
  return "{\"issuer\":" + json_string(base) + ",\"authorization_endpoint\":" + json_string(base + "/v1/oauth/authorize") +
         ",\"token_endpoint\":" + json_string(base + "/v1/oauth/token") +
         ",\"revocation_endpoint\":" + json_string(base + "/v1/oauth/revoke") +
         ",\"jwks_uri\":" + json_string(base + "/.well-known/jwks.json") +
         ",\"scopes_supported\":[\"read\",\"trade\",\"transfer\",\"admin\"],\"response_types_supported\":[\"code\"],"
         "\"grant_types_supported\":[\"authorization_code\",\"client_credentials\",\"refresh_token\"],"
         "\"token_endpoint_auth_methods_supported\":[\"client_secret_basic\",\"client_secret_post\",\"none\"],"
         "\"code_challenge_methods_supported\":[\"S256\"],"
         "\"token_endpoint_auth_signing_alg_values_supported\":[\"EdDSA\"]}";
}

// --- bearer verification ---------------------------------------------------------

bool OAuthService::jti_revoked(const std::string& jti) {
  std::lock_guard lock(revoked_mutex_);
  return revoked_jti_.contains(jti);
}

void OAuthService::remember(std::string_view token, const Verified& v) {
  std::unique_lock lock(cache_mutex_);
  if (verified_.size() >= kMaxVerified) {
    const int64_t now = now_ms();
    std::erase_if(verified_, [&](const auto& kv) { return kv.second.expires_ms <= now; });
    if (verified_.size() >= kMaxVerified) verified_.clear();
  }
  verified_.emplace(std::string(token), v);
}

bool OAuthService::may_block(std::string_view token) {
  {
    std::shared_lock lock(cache_mutex_);
    if (verified_.contains(std::string(token))) return false;
  }
  auto iss = unverified_issuer(token);
  return iss && *iss != config_.issuer;
}

AuthOutcome OAuthService::verify_bearer(std::string_view token) {
  auto deny = [](std::string code, std::string detail) {
    AuthOutcome o;
    o.status = 401;
    o.code = std::move(code);
    o.detail = std::move(detail);
    return o;
  };
  const int64_t now = now_ms();
  {
    std::shared_lock lock(cache_mutex_);
    auto it = verified_.find(std::string(token));
    if (it != verified_.end()) {
      const Verified v = it->second;
      lock.unlock();
      if (now >= v.expires_ms) return deny("TOKEN_EXPIRED", "the access token expired; get a new one");
      if (!v.jti.empty() && jti_revoked(v.jti)) return deny("INVALID_TOKEN", "the access token was revoked");
      if (!v.principal.key_id.empty() && !auth_.key_live(v.principal.key_id)) {
        return deny("INVALID_TOKEN", "the API key this token came from was revoked");
      }
      AuthOutcome ok;
      ok.ok = true;
      ok.status = 200;
      ok.principal = v.principal;
      return ok;
    }
  }
  auto iss = unverified_issuer(token);
  if (!iss) return deny("INVALID_TOKEN", "the bearer token is not a well-formed JWT");
  if (*iss == config_.issuer) {
    JwtClaims claims;
    const JwtError e = verify_jwt(token, local_keys_, &claims);
    if (e != JwtError::kOk) return deny("INVALID_TOKEN", jwt_error_text(e));
    return verify_local(token, claims);
  }
  for (const ExternalIssuer& ext : config_.external) {
    if (ext.issuer != *iss) continue;
    JwtClaims claims;
    const JwtError e = verify_jwt(token, ext.keys, &claims);
    if (e != JwtError::kOk) return deny("INVALID_TOKEN", jwt_error_text(e));
    AuthOutcome o = verify_external(ext, claims);
    if (o.ok) {
      const int64_t exp_ms = (claims.exp + config_.external_leeway_s) * 1000;
      remember(token, Verified{o.principal, exp_ms, claims.jti.empty() ? std::string() : ext.issuer + "#" + claims.jti});
    }
    return o;
  }
  return deny("INVALID_TOKEN", "the token's issuer is not trusted here");
}

AuthOutcome OAuthService::verify_local(std::string_view token, const JwtClaims& c) {
  AuthOutcome o;
  o.status = 401;
  o.code = "INVALID_TOKEN";
  const int64_t now_s = now_ms() / 1000;
  bool audience_ok = false;
  for (const std::string& a : c.aud) audience_ok |= a == config_.audience;
  if (!audience_ok) return o.detail = "the token is not for this audience", o;
  if (c.exp <= now_s) {
    o.code = "TOKEN_EXPIRED";
    o.detail = "the access token expired; get a new one";
    return o;
  }
  if (c.nbf > now_s) return o.detail = "the token is not valid yet", o;
  if (!c.jti.empty() && jti_revoked(c.jti)) return o.detail = "the access token was revoked", o;
  if (!c.key_id.empty() && !auth_.key_live(c.key_id)) return o.detail = "the API key this token came from was revoked", o;
  uint32_t user_id = 0;
  try {
    user_id = static_cast<uint32_t>(std::stoul(c.sub));
  } catch (const std::exception&) {
    return o.detail = "malformed subject", o;
  }
  auto user = store_.user_by_id(user_id);
  if (!user) return o.detail = "unknown subject", o;
  uint32_t scopes = 0;
  parse_scope_string(c.scope, true, &scopes);
  o.ok = true;
  o.status = 200;
  o.code.clear();
  o.principal = Principal{user->id, user->username, user->role, scopes, c.key_id, CredentialKind::kToken};
  remember(token, Verified{o.principal, c.exp * 1000, c.jti});
  return o;
}

AuthOutcome OAuthService::verify_external(const ExternalIssuer& ext, const JwtClaims& c) {
  AuthOutcome o;
  o.status = 401;
  o.code = "INVALID_TOKEN";
  const int64_t now_s = now_ms() / 1000;
  bool audience_ok = false;
  for (const std::string& a : c.aud) audience_ok |= a == ext.audience;
  if (!audience_ok) return o.detail = "the token is not for this audience", o;
  if (c.exp + config_.external_leeway_s <= now_s) {
    o.code = "TOKEN_EXPIRED";
    o.detail = "the token expired";
    return o;
  }
  if (c.nbf > now_s + config_.external_leeway_s) return o.detail = "the token is not valid yet", o;
  if (c.sub.empty() || c.sub.size() > 255) return o.detail = "the token has no usable subject", o;
  if (!c.jti.empty() && jti_revoked(ext.issuer + "#" + c.jti)) return o.detail = "the token was revoked", o;
  auto user_id = store_.external_identity(ext.issuer, c.sub);
  if (!user_id) user_id = provision_external_user(ext, c);
  if (!user_id) {
    o.status = 503;
    o.code = "UNAVAILABLE";
    o.detail = "the account for this identity could not be created; retry";
    return o;
  }
  auto user = store_.user_by_id(*user_id);
  if (!user) return o.detail = "unknown subject", o;
  uint32_t scopes = ext.scopes;
  if (!c.scope.empty()) {
    uint32_t granted = 0;
    parse_scope_string(c.scope, true, &granted);
    scopes &= granted;
  }
  // External identities never hold admin on this venue.
  scopes &= ~kScopeAdmin;
  o.ok = true;
  o.status = 200;
  o.code.clear();
  o.principal = Principal{user->id, user->username, "trader", scopes, "", CredentialKind::kToken};
  return o;
}

std::optional<uint32_t> OAuthService::provision_external_user(const ExternalIssuer& ext, const JwtClaims& c) {
  std::lock_guard lock(provision_mutex_);
  if (auto existing = store_.external_identity(ext.issuer, c.sub)) return existing;  // raced with another request
  store::UserRecord user;
  user.role = "trader";
  user.created_ms = now_ms();
  user.password_hash = "!external";  // not a PHC string: no password ever verifies; the user signs in at its issuer
  const std::string wanted = c.string_claim(ext.username_claim);
  user.username = valid_username(wanted) ? wanted : "";
  store::StoreError e = store::StoreError::kExists;
  if (!user.username.empty()) e = store_.create_user(&user);
  if (e == store::StoreError::kExists) {
    user.username = "sso-" + sha256_hex(ext.issuer + "\n" + c.sub).substr(0, 16);
    e = store_.create_user(&user);
  }
  if (e != store::StoreError::kOk) return std::nullopt;
  if (store_.put_external_identity(ext.issuer, c.sub, user.id) != store::StoreError::kOk) return std::nullopt;
  if (opener_) opener_(user.id);
  return user.id;
}

}  // namespace bourse::auth

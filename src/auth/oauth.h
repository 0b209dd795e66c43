// OAuthService: OAuth 2.0 (RFC 6749) on top of AuthService. Issues signed
// JWT access tokens (Ed25519) and rotating refresh tokens; verifies bearer
// tokens from this server or from trusted external OIDC issuers.
//
// Grants (docs/authentication.md, "OAuth 2.0"):
// * client_credentials: an API key id and secret are the client id and
//   secret; the token carries at most the key's scopes and dies with the key.
// * authorization_code with PKCE (S256, required for every client): for
//   registered applications; the user signs in on the server's own page.
// * refresh_token: one use each, rotated; reusing a spent refresh token
//   revokes its whole family.
// Revocation (RFC 7009) covers refresh tokens and access tokens (by jti).
//
// Threads: any. Authorization codes and the verified-token cache live in
// memory under mutexes (codes are lost on restart: the client starts the
// flow again); refresh tokens, clients, revoked jtis and external identities
// live in the store.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "auth/auth_service.h"
#include "auth/jwt.h"
#include "bourse/core/clock.h"
#include "store/store.h"

namespace bourse::auth {

// A trusted identity provider for single sign-on: its tokens are accepted as
// bearer tokens and its subjects map to local users (created on first sight).
struct ExternalIssuer {
  std::string issuer;      // the exact "iss"
  std::string audience;    // a required "aud" value
  uint32_t scopes = kScopeRead | kScopeTrade;  // the most its tokens grant
  std::string username_claim = "preferred_username";  // the new local user's name, when valid and free
  std::vector<std::shared_ptr<const VerificationKey>> keys;  // from its JWKS file
};

struct OAuthConfig {
  std::string issuer = "http://127.0.0.1:8080";  // "iss" of our tokens and the metadata's base URL
  std::string audience = "bourse";
  int64_t access_token_ttl_s = 900;
  int64_t refresh_token_ttl_s = 30 * 86'400;
  int64_t code_ttl_s = 60;
  int64_t external_leeway_s = 60;  // clock skew allowed for external tokens
  std::vector<ExternalIssuer> external;
};

// Form fields of a token, revocation or authorization request.
using OAuthParams = std::map<std::string, std::string, std::less<>>;

// An RFC 6749 §5 response: 200 with the token JSON, or an error object.
struct OAuthReply {
  int status = 200;
  std::string body;
  bool basic_challenge = false;  // 401 invalid_client: answer with WWW-Authenticate: Basic
};

// The validated parameters of an authorization request (§4.1.1 + PKCE).
struct AuthorizeRequest {
  store::OAuthClientRecord client;
  std::string redirect_uri;
  std::string state;
  std::string code_challenge;
  uint32_t scopes = 0;
};

// Why an authorization request cannot proceed. `redirect` false: the client
// or redirect URI is unknown, so the error is shown, never redirected.
struct AuthorizeError {
  bool redirect = false;
  std::string error;        // RFC 6749 §4.1.2.1 code
  std::string description;
};

struct NewOAuthClient {
  store::OAuthClientRecord record;
  std::string secret;  // empty for public clients; shown once
};

class OAuthService final : public BearerVerifier {
 public:
  // Opens the local account of a newly provisioned external user (engine
  // command); may be empty in tests.
  using AccountOpener = std::function<void(uint32_t user_id)>;

  OAuthService(OAuthConfig config, store::Store& store, AuthService& auth, const SigningKey& key, Clock& clock,
               AccountOpener opener = {});

  // Loads revoked access-token ids from the store (start-up).
  void load();

  // POST /v1/oauth/token. `authorization` is the Authorization header, if any.
  OAuthReply token(const OAuthParams& form, const std::string* authorization, std::string_view remote_ip);
  // POST /v1/oauth/revoke (RFC 7009): 200 whether or not the token was valid.
  OAuthReply revoke(const OAuthParams& form, const std::string* authorization);

  // GET /v1/oauth/authorize: validates the query. On success *request is set.
  std::optional<AuthorizeError> check_authorize(const OAuthParams& query, AuthorizeRequest* request);
  // After the user signed in and consented: a one-time code (RFC 6749 §4.1.2).
  std::string issue_code(const AuthorizeRequest& request, uint32_t user_id);

  // Registers an application for authorization_code.
  std::optional<NewOAuthClient> register_client(std::string name, std::vector<std::string> redirect_uris,
                                                uint32_t scopes, bool confidential);

  std::string jwks() const;      // /.well-known/jwks.json
  std::string metadata() const;  // /.well-known/oauth-authorization-server (RFC 8414)
  const OAuthConfig& config() const { return config_; }
  // Start-up only, before any request: the issuer once the port is known.
  void set_issuer(std::string issuer) { config_.issuer = std::move(issuer); }

  // BearerVerifier.
  AuthOutcome verify_bearer(std::string_view token) override;
  bool may_block(std::string_view token) override;

 private:
  struct Code {
    std::string client_id;
    std::string redirect_uri;
    std::string code_challenge;
    uint32_t user_id = 0;
    uint32_t scopes = 0;
    int64_t expires_ms = 0;
    std::string family;  // the refresh family it was exchanged for, once used
    bool used = false;
  };
  struct Verified {
    Principal principal;
    int64_t expires_ms = 0;
    std::string jti;
  };
  struct Client {
    store::OAuthClientRecord record;
    bool via_basic = false;
  };

  int64_t now_ms() const { return clock_.now() / 1'000'000; }
  // Client authentication (§2.3.1): HTTP Basic or form fields, not both.
  std::optional<Client> registered_client(const OAuthParams& form, const std::string* authorization,
                                          OAuthReply* error);
  OAuthReply grant_client_credentials(const OAuthParams& form, const std::string* authorization,
                                      std::string_view remote_ip);
  OAuthReply grant_authorization_code(const OAuthParams& form, const std::string* authorization);
  OAuthReply grant_refresh_token(const OAuthParams& form, const std::string* authorization);
  // The token response; a refresh token in `family` when non-empty.
  OAuthReply issue_tokens(const Principal& who, const std::string& client_id, uint32_t scopes,
                          const std::string& family);
  AuthOutcome verify_local(std::string_view token, const JwtClaims& claims);
  AuthOutcome verify_external(const ExternalIssuer& issuer, const JwtClaims& claims);
  std::optional<uint32_t> provision_external_user(const ExternalIssuer& issuer, const JwtClaims& claims);
  bool jti_revoked(const std::string& jti);
  void remember(std::string_view token, const Verified& v);

  OAuthConfig config_;
  store::Store& store_;
  AuthService& auth_;
  const SigningKey& key_;
  Clock& clock_;
  AccountOpener opener_;
  std::vector<std::shared_ptr<const VerificationKey>> local_keys_;

  std::mutex codes_mutex_;
  std::unordered_map<std::string, Code> codes_;  // sha256(code) → code

  std::mutex revoked_mutex_;
  std::unordered_map<std::string, int64_t> revoked_jti_;  // jti → expiry (ms)

  std::shared_mutex cache_mutex_;
  std::unordered_map<std::string, Verified> verified_;  // token → principal, until expiry
  std::mutex provision_mutex_;                           // one external user creation at a time
};

// Scope names separated by spaces ("read trade"); unknown names are ignored
// when `lenient` (external tokens carry openid, profile, ...), else fail.
bool parse_scope_string(std::string_view text, bool lenient, uint32_t* scopes);
std::string scope_string(uint32_t scopes);  // "read trade"

// PKCE S256: base64url(SHA-256(verifier)) (RFC 7636 §4.2).
std::string pkce_s256(std::string_view verifier);

}  // namespace bourse::auth

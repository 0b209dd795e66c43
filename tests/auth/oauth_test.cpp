// OAuthService with a real SQLite store and a manual clock: every grant, its
// failure modes, rotation and reuse detection, revocation, expiry, tokens
// dying with their API key, and external issuers mapped to local users.
#include "auth/oauth.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <filesystem>

#include "auth/crypto.h"

namespace bourse::auth {
namespace {

constexpr int64_t kNowMs = 1795334303298;
constexpr const char* kVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr const char* kRedirect = "https://app.example/cb";

std::string json_field(const std::string& body, const char* name) {
  simdjson::dom::parser p;
  std::string_view v;
  if (p.parse(body)[name].get(v) != simdjson::SUCCESS) return {};
  return std::string(v);
}

std::string basic(const std::string& id, const std::string& secret) { return "Basic " + base64(id + ":" + secret); }

class OAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bourse-oauth-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::string error;
    store_ = store::open_sqlite_store(dir_ + "/store.sqlite", &error);
    ASSERT_TRUE(store_) << error;
    ASSERT_TRUE(AuthService::load_master_key(dir_ + "/master.key", &master_, &error)) << error;
    clock_.set(kNowMs * 1'000'000);
    auth_ = std::make_unique<AuthService>(*store_, master_, clock_);
    key_ = SigningKey::load_or_create(dir_ + "/oauth_signing.key", master_, &error);
    ASSERT_TRUE(key_) << error;
    sso_key_ = SigningKey::from_seed(std::string(32, '\x42'));
    OAuthConfig config;
    config.issuer = "http://bourse.test";
    ExternalIssuer sso;
    sso.issuer = "https://sso.broker.example";
    sso.audience = "bourse-prod";
    sso.scopes = kScopeRead | kScopeTrade | kScopeAdmin;  // admin is stripped anyway
    ASSERT_TRUE(parse_jwks("{\"keys\":[" + sso_key_->public_jwk() + "]}", &sso.keys, &error));
    config.external.push_back(std::move(sso));
    oauth_ = std::make_unique<OAuthService>(config, *store_, *auth_, *key_, clock_,
                                            [this](uint32_t id) { opened_.push_back(id); });
    auth_->set_bearer_verifier(oauth_.get());
    store::UserRecord u{0, "alice", hash_password("a long passphrase"), "trader", kNowMs};
    ASSERT_EQ(store_->create_user(&u), store::StoreError::kOk);
    alice_ = u.id;
    auto c = oauth_->register_client("Trading app", {kRedirect}, kScopeRead | kScopeTrade, false);
    ASSERT_TRUE(c);
    public_client_ = c->record.client_id;
    auto conf = oauth_->register_client("Back office", {kRedirect}, kScopeRead, true);
    ASSERT_TRUE(conf);
    confidential_client_ = conf->record.client_id;
    confidential_secret_ = conf->secret;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  AuthOutcome bearer(const std::string& token) {
    const std::string header = "Bearer " + token;
    SignedRequest r;
    r.authorization = &header;
    return auth_->authenticate(r);
  }

  // The authorization step: a code for alice.
  std::string code_for(const std::string& client, const std::string& scope = "read trade") {
    OAuthParams q{{"response_type", "code"}, {"client_id", client},           {"redirect_uri", kRedirect},
                  {"scope", scope},          {"code_challenge", pkce_s256(kVerifier)}, {"code_challenge_method", "S256"},
                  {"state", "xyz"}};
    AuthorizeRequest r;
    EXPECT_FALSE(oauth_->check_authorize(q, &r));
    return oauth_->issue_code(r, alice_);
  }

  OAuthReply exchange(const std::string& code, const std::string& client = "", const std::string& verifier = kVerifier) {
    return oauth_->token({{"grant_type", "authorization_code"},
                          {"code", code},
                          {"redirect_uri", kRedirect},
                          {"client_id", client.empty() ? public_client_ : client},
                          {"code_verifier", verifier}},
                         nullptr, "127.0.0.1");
  }

  std::string dir_, master_;
  ManualClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<AuthService> auth_;
  std::unique_ptr<SigningKey> key_, sso_key_;
  std::unique_ptr<OAuthService> oauth_;
  std::vector<uint32_t> opened_;
  uint32_t alice_ = 0;
  std::string public_client_, confidential_client_, confidential_secret_;
};

TEST_F(OAuthTest, ClientCredentialsWithAnApiKey) {
  auto k = auth_->create_key(alice_, kScopeRead | kScopeTrade, "bot", "");
  ASSERT_TRUE(k);
  // Basic and form credentials both work; scopes default to the key's.
  OAuthReply r = oauth_->token({{"grant_type", "client_credentials"}}, nullptr, "127.0.0.1");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(json_field(r.body, "error"), "invalid_client");
  const std::string auth_header = basic(k->key_id, k->secret);
  r = oauth_->token({{"grant_type", "client_credentials"}}, &auth_header, "127.0.0.1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json_field(r.body, "token_type"), "Bearer");
  EXPECT_EQ(json_field(r.body, "scope"), "read trade");
  EXPECT_EQ(json_field(r.body, "refresh_token"), "");  // none for client_credentials
  AuthOutcome who = bearer(json_field(r.body, "access_token"));
  ASSERT_TRUE(who.ok) << who.detail;
  EXPECT_EQ(who.principal.user_id, alice_);
  EXPECT_EQ(who.principal.scopes, kScopeRead | kScopeTrade);
  EXPECT_EQ(who.principal.kind, CredentialKind::kToken);
  // Narrowing works; widening does not.
  r = oauth_->token({{"grant_type", "client_credentials"}, {"client_id", k->key_id}, {"client_secret", k->secret},
                     {"scope", "read"}},
                    nullptr, "127.0.0.1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(bearer(json_field(r.body, "access_token")).principal.scopes, kScopeRead);
  r = oauth_->token({{"grant_type", "client_credentials"}, {"scope", "admin"}}, &auth_header, "127.0.0.1");
  EXPECT_EQ(json_field(r.body, "error"), "invalid_scope");
  // Wrong secret, both methods at once, unknown grant.
  const std::string wrong = basic(k->key_id, std::string(64, '0'));
  EXPECT_EQ(oauth_->token({{"grant_type", "client_credentials"}}, &wrong, "127.0.0.1").status, 401);
  EXPECT_EQ(json_field(oauth_->token({{"grant_type", "client_credentials"}, {"client_id", k->key_id}}, &auth_header,
                                     "127.0.0.1").body, "error"), "invalid_request");
  EXPECT_EQ(json_field(oauth_->token({{"grant_type", "password"}}, nullptr, "").body, "error"), "unsupported_grant_type");
  // Revoking the key kills its tokens at once, cached or not.
  const std::string token = json_field(oauth_->token({{"grant_type", "client_credentials"}}, &auth_header, "").body,
                                       "access_token");
  ASSERT_TRUE(bearer(token).ok);
  ASSERT_TRUE(auth_->revoke(alice_, k->key_id));
  EXPECT_FALSE(bearer(token).ok);
  EXPECT_EQ(oauth_->token({{"grant_type", "client_credentials"}}, &auth_header, "").status, 401);
}

TEST_F(OAuthTest, AuthorizationCodeWithPkce) {
  // PKCE is required, S256 only; unknown clients and redirect URIs are not redirected to.
  AuthorizeRequest r;
  OAuthParams q{{"response_type", "code"}, {"client_id", public_client_}, {"redirect_uri", kRedirect}};
  auto e = oauth_->check_authorize(q, &r);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->redirect);
  q["code_challenge"] = pkce_s256(kVerifier);
  q["code_challenge_method"] = "plain";
  EXPECT_TRUE(oauth_->check_authorize(q, &r));
  q["code_challenge_method"] = "S256";
  EXPECT_FALSE(oauth_->check_authorize(q, &r));
  EXPECT_EQ(r.scopes, kScopeRead | kScopeTrade);  // the client's scopes by default
  q["redirect_uri"] = "https://evil.example/cb";
  e = oauth_->check_authorize(q, &r);
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->redirect);
  q["redirect_uri"] = kRedirect;
  q["client_id"] = "bc_unknown";
  EXPECT_FALSE(oauth_->check_authorize(q, &r)->redirect);
  q["client_id"] = public_client_;
  q["scope"] = "read admin";
  EXPECT_EQ(oauth_->check_authorize(q, &r)->error, "invalid_scope");

  // A wrong verifier fails without spending the code; the right one works once.
  const std::string code = code_for(public_client_);
  EXPECT_EQ(json_field(exchange(code, "", std::string(43, 'a')).body, "error"), "invalid_grant");
  EXPECT_EQ(json_field(exchange(code, confidential_client_).body, "error"), "invalid_client");  // needs its secret
  OAuthReply ok = exchange(code);
  ASSERT_EQ(ok.status, 200) << ok.body;
  const std::string access = json_field(ok.body, "access_token");
  const std::string refresh = json_field(ok.body, "refresh_token");
  ASSERT_TRUE(refresh.starts_with("brt_"));
  AuthOutcome who = bearer(access);
  ASSERT_TRUE(who.ok);
  EXPECT_EQ(who.principal.username, "alice");
  // Reusing the code fails and revokes what it produced.
  EXPECT_EQ(json_field(exchange(code).body, "error"), "invalid_grant");
  EXPECT_EQ(json_field(oauth_->token({{"grant_type", "refresh_token"}, {"client_id", public_client_},
                                      {"refresh_token", refresh}}, nullptr, "").body, "error"),
            "invalid_grant");
  // Codes expire after a minute.
  const std::string late = code_for(public_client_);
  clock_.advance(61'000'000'000LL);
  EXPECT_EQ(json_field(exchange(late).body, "error"), "invalid_grant");
}

TEST_F(OAuthTest, RefreshTokensRotateAndReuseRevokesTheFamily) {
  OAuthReply first = exchange(code_for(public_client_));
  ASSERT_EQ(first.status, 200);
  const std::string r1 = json_field(first.body, "refresh_token");
  auto refresh = [&](const std::string& token, const std::string& scope = "") {
    OAuthParams f{{"grant_type", "refresh_token"}, {"client_id", public_client_}, {"refresh_token", token}};
    if (!scope.empty()) f["scope"] = scope;
    return oauth_->token(f, nullptr, "");
  };
  OAuthReply second = refresh(r1, "read");  // may narrow
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(json_field(second.body, "scope"), "read");
  const std::string r2 = json_field(second.body, "refresh_token");
  EXPECT_NE(r1, r2);
  EXPECT_EQ(json_field(refresh(r2, "read trade").body, "error"), "invalid_scope");  // may not widen again
  // r1 was spent: presenting it again ends the whole family, r2 included.
  EXPECT_EQ(json_field(refresh(r1).body, "error"), "invalid_grant");
  EXPECT_EQ(json_field(refresh(r2).body, "error"), "invalid_grant");
  // Another client cannot use a refresh token it was not issued.
  const std::string r3 = json_field(exchange(code_for(public_client_)).body, "refresh_token");
  OAuthParams other{{"grant_type", "refresh_token"}, {"client_id", confidential_client_},
                    {"client_secret", confidential_secret_}, {"refresh_token", r3}};
  EXPECT_EQ(json_field(oauth_->token(other, nullptr, "").body, "error"), "invalid_grant");
  // Expiry.
  clock_.advance(31LL * 86'400 * 1'000'000'000);
  EXPECT_EQ(json_field(refresh(r3).body, "error"), "invalid_grant");
}

TEST_F(OAuthTest, ConfidentialClientsAuthenticate) {
  const std::string code = code_for(confidential_client_, "read");
  const std::string good = basic(confidential_client_, confidential_secret_);
  const std::string bad = basic(confidential_client_, "x" + confidential_secret_.substr(1));
  OAuthParams f{{"grant_type", "authorization_code"}, {"code", code}, {"redirect_uri", kRedirect},
                {"code_verifier", kVerifier}};
  OAuthReply r = oauth_->token(f, &bad, "");
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(r.basic_challenge);
  r = oauth_->token(f, &good, "");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(bearer(json_field(r.body, "access_token")).principal.scopes, kScopeRead);
}

TEST_F(OAuthTest, RevocationAndExpiry) {
  OAuthReply t = exchange(code_for(public_client_));
  const std::string access = json_field(t.body, "access_token");
  const std::string refresh = json_field(t.body, "refresh_token");
  ASSERT_TRUE(bearer(access).ok);
  // Access tokens: revoked by jti, also after a restart (the store keeps it).
  EXPECT_EQ(oauth_->revoke({{"token", access}}, nullptr).status, 200);
  EXPECT_EQ(bearer(access).code, "INVALID_TOKEN");
  OAuthService restarted(oauth_->config(), *store_, *auth_, *key_, clock_);
  restarted.load();
  EXPECT_FALSE(restarted.verify_bearer(access).ok);
  // Unknown tokens revoke "successfully" (RFC 7009 §2.2).
  EXPECT_EQ(oauth_->revoke({{"token", "garbage"}}, nullptr).status, 200);
  // Refresh tokens: only by their own client.
  EXPECT_EQ(oauth_->revoke({{"token", refresh}, {"client_id", public_client_}}, nullptr).status, 200);
  EXPECT_EQ(json_field(oauth_->token({{"grant_type", "refresh_token"}, {"client_id", public_client_},
                                      {"refresh_token", refresh}}, nullptr, "").body, "error"),
            "invalid_grant");
  // Expiry after access_token_ttl_s, from the cache too.
  const std::string fresh = json_field(exchange(code_for(public_client_)).body, "access_token");
  ASSERT_TRUE(bearer(fresh).ok);
  clock_.advance(901'000'000'000LL);
  EXPECT_EQ(bearer(fresh).code, "TOKEN_EXPIRED");
  // A token from another server (same issuer name, other key) never verifies.
  auto forger = SigningKey::from_seed(std::string(32, '\x01'));
  const int64_t now_s = clock_.now() / 1'000'000'000;
  EXPECT_EQ(bearer(forger->sign_jwt(R"({"iss":"http://bourse.test","sub":")" + std::to_string(alice_) +
                                    R"(","aud":"bourse","exp":)" + std::to_string(now_s + 100) + "}")).code,
            "INVALID_TOKEN");
}

TEST_F(OAuthTest, ExternalIssuerMapsToALocalUser) {
  const int64_t now_s = clock_.now() / 1'000'000'000;
  auto token = [&](const std::string& sub, const std::string& aud, int64_t exp, const std::string& extra = "") {
    return sso_key_->sign_jwt(R"({"iss":"https://sso.broker.example","sub":")" + sub + R"(","aud":")" + aud +
                              R"(","exp":)" + std::to_string(exp) + extra + "}");
  };
  const std::string t = token("emp-001", "bourse-prod", now_s + 300,
                              R"(,"preferred_username":"carol","scope":"openid read trade admin")");
  EXPECT_TRUE(oauth_->may_block(t));  // first sight creates a user: off the I/O threads
  AuthOutcome who = bearer(t);
  ASSERT_TRUE(who.ok) << who.detail;
  EXPECT_FALSE(oauth_->may_block(t));  // cached now
  EXPECT_EQ(who.principal.username, "carol");
  EXPECT_EQ(who.principal.role, "trader");
  EXPECT_EQ(who.principal.scopes, kScopeRead | kScopeTrade);  // never admin
  ASSERT_EQ(opened_.size(), 1u);
  EXPECT_EQ(opened_[0], who.principal.user_id);
  // The same subject again is the same user, with no new account; the user
  // cannot sign in with a password.
  const std::string again = token("emp-001", "bourse-prod", now_s + 400, R"(,"scope":"read")");
  AuthOutcome second = bearer(again);
  ASSERT_TRUE(second.ok);
  EXPECT_EQ(second.principal.user_id, who.principal.user_id);
  EXPECT_EQ(second.principal.scopes, kScopeRead);
  EXPECT_EQ(opened_.size(), 1u);
  EXPECT_FALSE(auth_->check_password("carol", "!external"));
  // A taken username falls back to a derived one.
  AuthOutcome clash = bearer(token("emp-002", "bourse-prod", now_s + 300, R"(,"preferred_username":"alice")"));
  ASSERT_TRUE(clash.ok);
  EXPECT_TRUE(clash.principal.username.starts_with("sso-"));
  EXPECT_NE(clash.principal.user_id, alice_);
  // Wrong audience, expired beyond the leeway, unknown issuer, our issuer's name with their key.
  EXPECT_FALSE(bearer(token("emp-001", "other", now_s + 300)).ok);
  EXPECT_EQ(bearer(token("emp-001", "bourse-prod", now_s - 61)).code, "TOKEN_EXPIRED");
  EXPECT_TRUE(bearer(token("emp-001", "bourse-prod", now_s - 30)).ok);  // within the 60 s leeway
  EXPECT_FALSE(bearer(sso_key_->sign_jwt(R"({"iss":"https://elsewhere","sub":"x","aud":"bourse-prod","exp":)" +
                                         std::to_string(now_s + 300) + "}")).ok);
  EXPECT_FALSE(bearer(sso_key_->sign_jwt(R"({"iss":"http://bourse.test","sub":"1","aud":"bourse","exp":)" +
                                         std::to_string(now_s + 300) + "}")).ok);
}

TEST_F(OAuthTest, MetadataAndJwksDescribeTheServer) {
  simdjson::dom::parser p;
  simdjson::dom::element m = p.parse(oauth_->metadata());
  EXPECT_EQ(std::string_view(m["issuer"]), "http://bourse.test");
  EXPECT_EQ(std::string_view(m["token_endpoint"]), "http://bourse.test/v1/oauth/token");
  std::vector<std::shared_ptr<const VerificationKey>> keys;
  std::string error;
  ASSERT_TRUE(parse_jwks(oauth_->jwks(), &keys, &error));
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0]->kid(), key_->kid());
  // The signing key survives a restart (sealed under the master key) and
  // cannot be opened with another.
  auto reopened = SigningKey::load_or_create(dir_ + "/oauth_signing.key", master_, &error);
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->kid(), key_->kid());
  EXPECT_FALSE(SigningKey::load_or_create(dir_ + "/oauth_signing.key", std::string(32, 'k'), &error));
}

TEST(ScopeStrings, ParseAndPrint) {
  uint32_t s = 0;
  EXPECT_TRUE(parse_scope_string("read  trade", false, &s));
  EXPECT_EQ(s, kScopeRead | kScopeTrade);
  EXPECT_EQ(scope_string(s), "read trade");
  EXPECT_FALSE(parse_scope_string("read openid", false, &s));
  EXPECT_TRUE(parse_scope_string("read openid", true, &s));
  EXPECT_EQ(s, kScopeRead);
}

}  // namespace
}  // namespace bourse::auth

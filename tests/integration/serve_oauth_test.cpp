// OAuth 2.0 end to end against the real binary: client_credentials with a
// demo API key, the authorization-code flow through the sign-in page with
// PKCE, refresh rotation, revocation, bearer tokens on REST and WebSocket,
// JWKS, and an external issuer configured from a JWKS file.
#include <gtest/gtest.h>

#include <fstream>
#include <chrono>

#include "auth/crypto.h"
#include "auth/jwt.h"
#include "auth/oauth.h"
#include "bourse/core/url_encoding.h"
#include "integration/json_view.h"
#include "integration/server_process.h"

namespace bourse::testing {
namespace {

constexpr const char* kVerifier = "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag";
constexpr const char* kRedirect = "http://127.0.0.1:8765/callback";
const std::map<std::string, std::string> kForm = {{"Content-Type", "application/x-www-form-urlencoded"}};

// "created demo user alice password <hex>" from the first start.
std::string demo_password(const std::string& output, const std::string& user) {
  const std::string marker = "created demo user " + user;
  const std::size_t at = output.find(marker);
  if (at == std::string::npos) return {};
  const std::size_t p = output.find("password ", at) + 9;
  return output.substr(p, output.find('\n', p) - p);
}

std::string query_value(const std::string& location, const std::string& name) {
  const std::size_t q = location.find('?');
  FormFields fields;
  std::string bad;
  if (q == std::string::npos || parse_form(location.substr(q + 1), &fields, &bad) != FormError::kOk) return {};
  auto it = fields.find(name);
  return it == fields.end() ? std::string() : it->second;
}

std::string form(std::initializer_list<std::pair<std::string, std::string>> fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += percent_encode(k) + "=" + percent_encode(v);
  }
  return out;
}

class ServeOAuth : public ::testing::Test {
 protected:
  void start(const std::string& toml = "") {
    ServerOptions o;
    o.data_dir = dir_.path() + "/data";
    o.config_toml = toml;
    server_ = std::make_unique<ServerProcess>(o);
    ASSERT_TRUE(server_->started()) << server_->output();
    keys_ = demo_keys(server_->output());
    http_ = std::make_unique<HttpClient>(server_->port());
  }

  HttpResult with_token(const std::string& method, const std::string& target, const std::string& token,
                        const std::string& body = "") {
    std::map<std::string, std::string> h{{"Authorization", "Bearer " + token}};
    if (!body.empty()) h["Content-Type"] = "application/json";
    return http_->request(method, target, body, h);
  }

  // Signs in on the authorization page as `user` and returns the redirect.
  HttpResult authorize(const std::string& user, const std::string& password, const std::string& scope,
                       const std::string& decision = "allow") {
    return http_->request("POST", "/v1/oauth/authorize",
                          form({{"response_type", "code"}, {"client_id", "bourse-demo"}, {"redirect_uri", kRedirect},
                                {"scope", scope}, {"state", "st&te=1"}, {"code_challenge", auth::pkce_s256(kVerifier)},
                                {"code_challenge_method", "S256"}, {"username", user}, {"password", password},
                                {"decision", decision}}),
                          kForm);
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::map<std::string, ApiKey> keys_;
  std::unique_ptr<HttpClient> http_;
};

TEST_F(ServeOAuth, ClientCredentialsTokensAuthorizeRestAndWebSocket) {
  start();
  const ApiKey alice = keys_["alice"];
  HttpResult r = http_->request("POST", "/v1/oauth/token",
                                form({{"grant_type", "client_credentials"}, {"client_id", alice.key_id},
                                      {"client_secret", alice.secret}, {"scope", "read"}}),
                                kForm);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("cache-control"), "no-store");
  const std::string read_token = Json(r.body).s("/access_token");
  EXPECT_EQ(Json(r.body).s("/scope"), "read");

  // The token reads; with only "read" it cannot trade.
  r = with_token("GET", "/v1/balances", read_token);
  EXPECT_EQ(r.status, 200) << r.body;
  r = with_token("POST", "/v1/orders", read_token, R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.001"})");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Json(r.body).s("/code"), "FORBIDDEN");
  // Nor mint a key beyond its scopes.
  r = with_token("POST", "/v1/api-keys", read_token, R"({"scopes":["read","trade"]})");
  EXPECT_EQ(r.status, 403) << r.body;

  // A full-scope token trades.
  r = http_->request("POST", "/v1/oauth/token", form({{"grant_type", "client_credentials"}}),
                     {{"Content-Type", "application/x-www-form-urlencoded"},
                      {"Authorization", "Basic " + auth::base64(alice.key_id + ":" + alice.secret)}});
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string trade_token = Json(r.body).s("/access_token");
  r = with_token("POST", "/v1/orders", trade_token, R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.001"})");
  EXPECT_EQ(r.status, 201) << r.body;

  // Token on the WebSocket: as a login message, and on the upgrade request.
  WsClient ws(server_->port());
  ws.send(R"({"op":"login","id":"l1","args":{"token":")" + trade_token + "\"}}");
  Json login(ws.receive_until("\"l1\""));
  EXPECT_EQ(login.s("/result/username"), "alice");
  WsClient upgraded(server_->port(), {{"Authorization", "Bearer " + read_token}});
  upgraded.send(R"({"op":"subscribe","id":"s1","args":{"channels":["orders"]}})");
  EXPECT_NE(upgraded.receive_until("\"s1\"").find("\"s1\""), std::string::npos);
  WsClient bad(server_->port(), {{"Authorization", "Bearer not.a.token"}});
  bad.receive(2000);
  EXPECT_EQ(bad.close_code(), 1008);

  // Revocation: the token stops working at once.
  r = http_->request("POST", "/v1/oauth/revoke", form({{"token", trade_token}}), kForm);
  EXPECT_EQ(r.status, 200);
  r = with_token("GET", "/v1/balances", trade_token);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Json(r.body).s("/code"), "INVALID_TOKEN");
  // Garbage tokens are 401 with a stable code; the server keeps serving.
  EXPECT_EQ(Json(with_token("GET", "/v1/balances", "x.y.z").body).s("/code"), "INVALID_TOKEN");
  EXPECT_EQ(with_token("GET", "/v1/balances", read_token).status, 200);
  // Form errors follow RFC 6749.
  r = http_->request("POST", "/v1/oauth/token", R"({"grant_type":"client_credentials"})",
                     {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 415);
  r = http_->request("POST", "/v1/oauth/token", "grant_type=a&grant_type=b", kForm);
  EXPECT_EQ(Json(r.body).s("/error"), "invalid_request");
}

TEST_F(ServeOAuth, AuthorizationCodeFlowThroughTheSignInPage) {
  start();
  const std::string password = demo_password(server_->output(), "alice");
  ASSERT_FALSE(password.empty()) << server_->output();
  // The page: HTML, not frameable, shows the app and the scopes.
  const std::string query = "/v1/oauth/authorize?" +
                            form({{"response_type", "code"}, {"client_id", "bourse-demo"}, {"redirect_uri", kRedirect},
                                  {"scope", "read trade"}, {"state", "abc"},
                                  {"code_challenge", auth::pkce_s256(kVerifier)}, {"code_challenge_method", "S256"}});
  HttpResult page = http_->get(query);
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.header("content-type").find("text/html"), std::string::npos);
  EXPECT_EQ(page.header("x-frame-options"), "DENY");
  EXPECT_NE(page.body.find("Bourse demo app"), std::string::npos);
  EXPECT_NE(page.body.find("<li>trade</li>"), std::string::npos);
  // An unregistered redirect URI is an error page, never a redirect.
  HttpResult evil = http_->get("/v1/oauth/authorize?response_type=code&client_id=bourse-demo&redirect_uri="
                               "https%3A%2F%2Fevil.example%2F&code_challenge=" + auth::pkce_s256(kVerifier) +
                               "&code_challenge_method=S256");
  EXPECT_EQ(evil.status, 400);
  EXPECT_TRUE(evil.header("location").empty());

  // Wrong password: the page again, 401, no code.
  HttpResult wrong = authorize("alice", "not-the-password", "read trade");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_TRUE(wrong.header("location").empty());
  // Deny: back to the app with access_denied and the state.
  HttpResult denied = authorize("alice", password, "read trade", "deny");
  EXPECT_EQ(denied.status, 303);
  EXPECT_EQ(query_value(denied.header("location"), "error"), "access_denied");
  EXPECT_EQ(query_value(denied.header("location"), "state"), "st&te=1");

  HttpResult ok = authorize("alice", password, "read trade");
  ASSERT_EQ(ok.status, 303) << ok.body;
  const std::string location = ok.header("location");
  ASSERT_TRUE(location.starts_with(kRedirect)) << location;
  EXPECT_EQ(query_value(location, "state"), "st&te=1");
  const std::string code = query_value(location, "code");
  ASSERT_FALSE(code.empty());

  // Exchange with the wrong verifier fails; with the right one, tokens.
  auto exchange = [&](const std::string& verifier) {
    return http_->request("POST", "/v1/oauth/token",
                          form({{"grant_type", "authorization_code"}, {"code", code}, {"redirect_uri", kRedirect},
                                {"client_id", "bourse-demo"}, {"code_verifier", verifier}}),
                          kForm);
  };
  EXPECT_EQ(Json(exchange(std::string(50, 'x')).body).s("/error"), "invalid_grant");
  HttpResult tokens = exchange(kVerifier);
  ASSERT_EQ(tokens.status, 200) << tokens.body;
  const std::string access = Json(tokens.body).s("/access_token");
  const std::string refresh = Json(tokens.body).s("/refresh_token");
  HttpResult account = with_token("GET", "/v1/account", access);
  ASSERT_EQ(account.status, 200) << account.body;
  EXPECT_EQ(Json(account.body).s("/username"), "alice");
  EXPECT_EQ(with_token("POST", "/v1/orders", access, R"({"symbol":"ETH-USD","side":"BUY","price":"3000.00","qty":"0.10"})")
                .status,
            201);

  // The token's kid is in the JWKS, and its issuer is the server's address.
  HttpResult jwks = http_->get("/.well-known/jwks.json");
  ASSERT_EQ(jwks.status, 200);
  std::vector<std::shared_ptr<const auth::VerificationKey>> keys;
  std::string error;
  ASSERT_TRUE(auth::parse_jwks(jwks.body, &keys, &error)) << error;
  auth::JwtClaims claims;
  ASSERT_EQ(auth::verify_jwt(access, keys, &claims), auth::JwtError::kOk);
  EXPECT_EQ(claims.iss, "http://127.0.0.1:" + std::to_string(server_->port()));
  EXPECT_EQ(claims.client_id, "bourse-demo");
  HttpResult meta = http_->get("/.well-known/oauth-authorization-server");
  EXPECT_EQ(Json(meta.body).s("/issuer"), claims.iss);

  // Refresh rotates; the old refresh token then revokes the family.
  auto refresh_with = [&](const std::string& token) {
    return http_->request("POST", "/v1/oauth/token",
                          form({{"grant_type", "refresh_token"}, {"refresh_token", token}, {"client_id", "bourse-demo"}}),
                          kForm);
  };
  HttpResult rotated = refresh_with(refresh);
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const std::string refresh2 = Json(rotated.body).s("/refresh_token");
  EXPECT_EQ(with_token("GET", "/v1/balances", Json(rotated.body).s("/access_token")).status, 200);
  EXPECT_EQ(Json(refresh_with(refresh).body).s("/error"), "invalid_grant");
  EXPECT_EQ(Json(refresh_with(refresh2).body).s("/error"), "invalid_grant");
  // The code was single-use.
  EXPECT_EQ(Json(exchange(kVerifier).body).s("/error"), "invalid_grant");
}

TEST_F(ServeOAuth, ExternalIssuerFromConfigSignsInBrokerUsers) {
  auto sso = auth::SigningKey::from_seed(std::string(32, '\x33'));
  const std::string jwks_path = dir_.path() + "/sso-jwks.json";
  std::ofstream(jwks_path) << "{\"keys\":[" << sso->public_jwk() << "]}";
  start("[[oauth.issuers]]\nissuer = \"https://sso.broker.example\"\naudience = \"bourse\"\njwks_file = \"" + jwks_path +
        "\"\nscopes = [\"read\", \"trade\"]\n");
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string token = sso->sign_jwt(R"({"iss":"https://sso.broker.example","sub":"E-1001","aud":"bourse",)"
                                          R"("preferred_username":"dave","exp":)" + std::to_string(now_s + 300) + "}");
  HttpResult r = with_token("GET", "/v1/account", token);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r.body).s("/username"), "dave");
  const int64_t dave = Json(r.body).i("/user_id");
  // Same identity, same user; wrong audience refused.
  EXPECT_EQ(Json(with_token("GET", "/v1/account", token).body).i("/user_id"), dave);
  const std::string other = sso->sign_jwt(R"({"iss":"https://sso.broker.example","sub":"E-1001","aud":"elsewhere",)"
                                          R"("exp":)" + std::to_string(now_s + 300) + "}");
  EXPECT_EQ(with_token("GET", "/v1/account", other).status, 401);
  // The user persists across a restart (the mapping is in the store).
  ASSERT_EQ(server_->stop(), 0);
  start("[[oauth.issuers]]\nissuer = \"https://sso.broker.example\"\naudience = \"bourse\"\njwks_file = \"" + jwks_path +
        "\"\n");
  EXPECT_EQ(Json(with_token("GET", "/v1/account", token).body).i("/user_id"), dave);
}

TEST(ServeOAuthConfig, BadIssuerConfigRefusesToStart) {
  TempDir dir;
  std::string out;
  std::ofstream(dir.path() + "/bad.toml") << "[[oauth.issuers]]\nissuer = \"x\"\njwks_file = \"/nonexistent\"\n";
  EXPECT_NE(run_bourse({"serve", "--config", dir.path() + "/bad.toml", "--data-dir", dir.path() + "/d", "--listen",
                        "127.0.0.1:0"},
                       &out),
            0);
  EXPECT_NE(out.find("/nonexistent"), std::string::npos) << out;
}

}  // namespace
}  // namespace bourse::testing

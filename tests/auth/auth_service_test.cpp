// Request signing (docs/authentication.md vectors), windows, replays, IP
// allowlists, revocation, passwords; with a real SQLite store.
#include "auth/auth_service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "auth/crypto.h"

namespace bourse::auth {
namespace {

constexpr int64_t kNowMs = 1795334303298;

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bourse-auth-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::string error;
    store_ = store::open_sqlite_store(dir_ + "/store.sqlite", &error);
    ASSERT_TRUE(store_) << error;
    ASSERT_TRUE(AuthService::load_master_key(dir_ + "/master.key", &master_, &error)) << error;
    clock_.set(kNowMs * 1'000'000);
    auth_ = std::make_unique<AuthService>(*store_, master_, clock_);
    store::UserRecord u{0, "alice", hash_password("a long passphrase"), "trader", kNowMs};
    ASSERT_EQ(store_->create_user(&u), store::StoreError::kOk);
    user_ = u.id;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  AuthOutcome signed_call(const std::string& key, const std::string& secret, const std::string& method,
                          const std::string& target, const std::string& body, int64_t ts_ms,
                          const std::string* window = nullptr, std::string ip = "127.0.0.1") {
    ts_ = std::to_string(ts_ms);
    sig_ = hmac_sha256_hex(secret, signing_payload(ts_, method, target, body));
    key_ = key;
    SignedRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.key_id = &key_;
    r.timestamp = &ts_;
    r.signature = &sig_;
    r.window = window;
    r.remote_ip = ip_ = ip;
    return auth_->authenticate(r);
  }

  std::string dir_, master_, ts_, sig_, key_, ip_;
  ManualClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<AuthService> auth_;
  uint32_t user_ = 0;
};

TEST(SigningPayload, DocumentedVectors) {
  const std::string secret = "3f1c9a0b5e7d2c4f8a6b1e0d9c7f5a3b2e4d6c8a0f1b3d5e7c9a2b4d6f8e0a1c";
  EXPECT_EQ(hmac_sha256_hex(secret, signing_payload("1795334303298", "GET", "/v1/balances", "")),
            "a2129841691d928df32a33dd564167ef64d5c69e59d27e4266c232c04e17c0ae");
  EXPECT_EQ(hmac_sha256_hex(secret, signing_payload("1795334303298", "POST", "/v1/orders",
                                                    R"({"symbol":"BTC-USD","side":"BUY","type":"LIMIT","price":"64000.00","qty":"0.01"})")),
            "16731fdacff0ad2c8465259c287464cf1ef077ec486388b99826f285de44cfec");
  EXPECT_EQ(hmac_sha256_hex(secret, signing_payload("1795334303298", "DELETE", "/v1/orders?symbol=BTC-USD", "")),
            "ce0316bddc77d91a9ef404ded45046edc55bdc583f8f921e6b1350b48f18d32f");
}

TEST_F(AuthTest, ValidSignatureAuthenticatesWithTheKeysScopes) {
  auto key = auth_->create_key(user_, kScopeRead | kScopeTrade, "bot", "");
  ASSERT_TRUE(key);
  const auto o = signed_call(key->key_id, key->secret, "GET", "/v1/balances", "", kNowMs);
  ASSERT_TRUE(o.ok) << o.code;
  EXPECT_EQ(o.principal.user_id, user_);
  EXPECT_EQ(o.principal.scopes, kScopeRead | kScopeTrade);
  EXPECT_EQ(o.principal.username, "alice");
  // The secret is stored sealed, not in clear.
  const auto stored = store_->api_keys_of(user_);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].sealed_secret.find(key->secret), std::string::npos);
}

TEST_F(AuthTest, TamperedOrWrongSignaturesFail) {
  auto key = auth_->create_key(user_, kScopeRead, "", "");
  auto o = signed_call(key->key_id, "wrong-secret", "GET", "/v1/balances", "", kNowMs);
  EXPECT_EQ(o.code, "INVALID_SIGNATURE");
  EXPECT_EQ(o.status, 401);
  // Sign one body, send another.
  ts_ = std::to_string(kNowMs);
  sig_ = hmac_sha256_hex(key->secret, signing_payload(ts_, "POST", "/v1/orders", "{\"qty\":\"1\"}"));
  key_ = key->key_id;
  SignedRequest r;
  r.method = "POST";
  r.target = "/v1/orders";
  r.body = "{\"qty\":\"100\"}";
  r.key_id = &key_;
  r.timestamp = &ts_;
  r.signature = &sig_;
  EXPECT_EQ(auth_->authenticate(r).code, "INVALID_SIGNATURE");
  o = signed_call("bk_unknown", key->secret, "GET", "/v1/balances", "", kNowMs);
  EXPECT_EQ(o.code, "UNAUTHENTICATED");
  SignedRequest none;
  EXPECT_EQ(auth_->authenticate(none).code, "UNAUTHENTICATED");
}

TEST_F(AuthTest, TimestampWindow) {
  auto key = auth_->create_key(user_, kScopeRead, "", "");
  EXPECT_EQ(signed_call(key->key_id, key->secret, "GET", "/v1/a", "", kNowMs - 5'001).code, "TIMESTAMP_OUT_OF_WINDOW");
  EXPECT_EQ(signed_call(key->key_id, key->secret, "GET", "/v1/a", "", kNowMs + 5'001).code, "TIMESTAMP_OUT_OF_WINDOW");
  EXPECT_TRUE(signed_call(key->key_id, key->secret, "GET", "/v1/b", "", kNowMs - 5'000).ok);
  const std::string wide = "60000", too_wide = "60001";
  EXPECT_TRUE(signed_call(key->key_id, key->secret, "GET", "/v1/c", "", kNowMs - 59'000, &wide).ok);
  EXPECT_EQ(signed_call(key->key_id, key->secret, "GET", "/v1/d", "", kNowMs, &too_wide).code, "UNAUTHENTICATED");
}

TEST_F(AuthTest, ReplayedRequestsAreRefused) {
  auto key = auth_->create_key(user_, kScopeRead, "", "");
  EXPECT_TRUE(signed_call(key->key_id, key->secret, "GET", "/v1/balances", "", kNowMs).ok);
  EXPECT_EQ(signed_call(key->key_id, key->secret, "GET", "/v1/balances", "", kNowMs).code, "REPLAYED_REQUEST");
  EXPECT_TRUE(signed_call(key->key_id, key->secret, "GET", "/v1/balances", "", kNowMs + 1).ok);
}

TEST_F(AuthTest, IpAllowlistAndRevocation) {
  auto key = auth_->create_key(user_, kScopeRead, "", "10.0.0.1,127.0.0.1");
  EXPECT_TRUE(signed_call(key->key_id, key->secret, "GET", "/v1/x", "", kNowMs, nullptr, "127.0.0.1").ok);
  auto o = signed_call(key->key_id, key->secret, "GET", "/v1/y", "", kNowMs, nullptr, "127.0.0.2");
  EXPECT_EQ(o.code, "IP_NOT_ALLOWED");
  EXPECT_EQ(o.status, 403);
  EXPECT_FALSE(auth_->revoke(user_ + 1, key->key_id));  // not theirs
  EXPECT_TRUE(auth_->revoke(user_, key->key_id));
  EXPECT_EQ(signed_call(key->key_id, key->secret, "GET", "/v1/z", "", kNowMs).code, "UNAUTHENTICATED");
}

TEST_F(AuthTest, KeysSurviveARestartSealedUnderTheMasterKey) {
  auto key = auth_->create_key(user_, kScopeTrade, "", "");
  AuthService again(*store_, master_, clock_);
  again.load();
  EXPECT_EQ(again.secret_of(key->key_id).value(), key->secret);
  AuthService other_master(*store_, std::string(32, 'z'), clock_);
  other_master.load();  // cannot unseal: the key is unusable, not exposed
  EXPECT_FALSE(other_master.secret_of(key->key_id));
}

TEST_F(AuthTest, PasswordsAndBasic) {
  EXPECT_TRUE(auth_->check_password("alice", "a long passphrase"));
  EXPECT_FALSE(auth_->check_password("alice", "a long passphrasf"));
  EXPECT_FALSE(auth_->check_password("nobody", "a long passphrase"));
  const std::string basic = "Basic YWxpY2U6YSBsb25nIHBhc3NwaHJhc2U=";  // alice:a long passphrase
  SignedRequest r;
  r.authorization = &basic;
  const auto o = auth_->authenticate(r);
  ASSERT_TRUE(o.ok);
  EXPECT_EQ(o.principal.scopes, kScopeRead);  // a password session does not trade
  const std::string wrong = "Basic YWxpY2U6d3Jvbmc=";
  r.authorization = &wrong;
  EXPECT_EQ(auth_->authenticate(r).code, "UNAUTHENTICATED");
}

TEST_F(AuthTest, WrongPasswordsLockSignInForThatNameOnly) {
  auto key = auth_->create_key(user_, kScopeRead, "", "");
  for (int i = 0; i < AuthService::kFreeFailures; ++i) {
    const auto c = auth_->check_password("alice", "guess " + std::to_string(i));
    EXPECT_FALSE(c);
    EXPECT_EQ(c.locked_ms, 0);  // failures are answered "wrong", the lock applies to the next attempt
  }
  // Locked: even the right password is refused, unchecked, for 30 s.
  auto c = auth_->check_password("alice", "a long passphrase");
  EXPECT_FALSE(c);
  EXPECT_EQ(c.locked_ms, AuthService::kFirstLockMs);
  const std::string basic = "Basic YWxpY2U6YSBsb25nIHBhc3NwaHJhc2U=";  // alice:a long passphrase
  SignedRequest r;
  r.authorization = &basic;
  const auto o = auth_->authenticate(r);
  EXPECT_EQ(o.status, 429);
  EXPECT_EQ(o.code, "SIGN_IN_LOCKED");
  EXPECT_EQ(o.retry_after_s, 30);
  // API keys are unaffected; so are other names (unknown ones lock the same way).
  EXPECT_TRUE(signed_call(key->key_id, key->secret, "GET", "/v1/balances", "", kNowMs).ok);
  EXPECT_EQ(auth_->check_password("nobody", "x").locked_ms, 0);
  // After the lock, one more wrong password locks twice as long; the right one clears it.
  clock_.advance(AuthService::kFirstLockMs * 1'000'000);
  EXPECT_FALSE(auth_->check_password("alice", "still guessing"));
  EXPECT_EQ(auth_->check_password("alice", "a long passphrase").locked_ms, 2 * AuthService::kFirstLockMs);
  clock_.advance(2 * AuthService::kFirstLockMs * 1'000'000);
  EXPECT_TRUE(auth_->check_password("alice", "a long passphrase"));
  EXPECT_FALSE(auth_->check_password("alice", "one typo"));  // counting starts again
  EXPECT_TRUE(auth_->check_password("alice", "a long passphrase"));
  // The lock never exceeds kMaxLockMs.
  for (int i = 0; i < 40; ++i) {
    clock_.advance(AuthService::kMaxLockMs * 1'000'000);
    auth_->check_password("alice", "guess");
  }
  EXPECT_EQ(auth_->check_password("alice", "a long passphrase").locked_ms, AuthService::kMaxLockMs);
}

TEST(Scopes, ParseAndPrint) {
  uint32_t s = 0;
  EXPECT_TRUE(parse_scope_list({"read", "admin"}, &s));
  EXPECT_EQ(s, kScopeRead | kScopeAdmin);
  EXPECT_EQ(scopes_text(s), "read,admin");
  EXPECT_FALSE(parse_scope_list({"read", "root"}, &s));
}

}  // namespace
}  // namespace bourse::auth

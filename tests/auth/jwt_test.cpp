// JWS/JWT: the RFC 8037 Ed25519 example, our own tokens, ES256 and RS256
// tokens from external keys (signed here with OpenSSL), and every way a
// token must fail: tampering, alg "none", HS256, algorithm/key mismatch,
// unknown kid, malformed base64url.
#include "auth/jwt.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include "auth/crypto.h"
#include "auth/oauth.h"

namespace bourse::auth {
namespace {

using Keys = std::vector<std::shared_ptr<const VerificationKey>>;

// RFC 8037 Appendix A.1 / A.4.
constexpr const char* kRfcSeedB64 = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
constexpr const char* kRfcX = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
constexpr const char* kRfcJws =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

Keys keys_of(const std::string& jwks) {
  Keys keys;
  std::string error;
  EXPECT_TRUE(parse_jwks(jwks, &keys, &error)) << error;
  return keys;
}

std::string b64(const std::string& s) { return base64url(s); }

// Signs header.payload with an OpenSSL key: EdDSA, ES256 (DER → r||s) or RS256.
std::string sign_with(EVP_PKEY* key, const std::string& alg, const std::string& header_json,
                      const std::string& claims_json) {
  const std::string input = b64(header_json) + "." + b64(claims_json);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestSignInit(ctx, nullptr, alg == "EdDSA" ? nullptr : EVP_sha256(), nullptr, key);
  std::size_t len = 0;
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  if (alg == "ES256") {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* der = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    unsigned char raw[64] = {};
    BN_bn2binpad(ECDSA_SIG_get0_r(der), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(der), raw + 32, 32);
    ECDSA_SIG_free(der);
    sig.assign(reinterpret_cast<char*>(raw), 64);
  }
  return input + "." + b64(sig);
}

std::string bn_param(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(key, name, &bn);
  std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

std::string padded(std::string s, std::size_t n) { return std::string(n - s.size(), '\0') + s; }

constexpr const char* kClaims = R"({"iss":"https://sso.example","sub":"u-17","aud":["x","bourse"],"exp":2000000000,"iat":1700000000,"scope":"read trade"})";

TEST(Jwt, Rfc8037Ed25519Example) {
  const auto seed = base64url_decode(kRfcSeedB64);
  ASSERT_TRUE(seed);
  auto key = SigningKey::from_seed(*seed);
  ASSERT_TRUE(key);
  // The public key derived from the RFC's private key is the RFC's x.
  EXPECT_NE(key->public_jwk().find(std::string("\"x\":\"") + kRfcX + "\""), std::string::npos);
  // The RFC's signature verifies under the RFC's public key...
  const std::string jws = kRfcJws;
  const std::size_t dot = jws.rfind('.');
  const auto sig = base64url_decode(jws.substr(dot + 1));
  ASSERT_TRUE(sig);
  EXPECT_TRUE(key->verification_key()->verify(jws.substr(0, dot), *sig));
  // ... and one flipped bit does not.
  std::string flipped = *sig;
  flipped[0] ^= 1;
  EXPECT_FALSE(key->verification_key()->verify(jws.substr(0, dot), flipped));
  // Its payload is not a claims set, so as a JWT it verifies and then fails to parse.
  JwtClaims claims;
  EXPECT_EQ(verify_jwt(jws, keys_of(std::string(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":")") + kRfcX + "\"}]}"), &claims),
            JwtError::kMalformed);
}

TEST(Jwt, OwnTokensRoundTripAndTamperingFails) {
  auto key = SigningKey::from_seed(std::string(32, '\x07'));
  ASSERT_TRUE(key);
  const Keys keys = keys_of("{\"keys\":[" + key->public_jwk() + "]}");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0]->kid(), key->kid());
  const std::string token = key->sign_jwt(kClaims);
  JwtClaims c;
  ASSERT_EQ(verify_jwt(token, keys, &c), JwtError::kOk);
  EXPECT_EQ(c.iss, "https://sso.example");
  EXPECT_EQ(c.sub, "u-17");
  EXPECT_EQ(c.aud, (std::vector<std::string>{"x", "bourse"}));
  EXPECT_EQ(c.exp, 2000000000);
  EXPECT_EQ(c.scope, "read trade");
  EXPECT_EQ(unverified_issuer(token), "https://sso.example");

  // Any changed byte of header, payload or signature fails.
  for (std::size_t i = 0; i < token.size(); i += 7) {
    if (token[i] == '.') continue;
    std::string bad = token;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    EXPECT_NE(verify_jwt(bad, keys, &c), JwtError::kOk) << i;
  }
  // Another key with the same kid does not verify it.
  auto other = SigningKey::from_seed(std::string(32, '\x08'));
  std::string other_jwk = other->public_jwk();
  other_jwk.replace(other_jwk.find(other->kid()), other->kid().size(), key->kid());
  EXPECT_EQ(verify_jwt(token, keys_of("{\"keys\":[" + other_jwk + "]}"), &c), JwtError::kBadSignature);
  // A kid nobody knows.
  const std::string payload = token.substr(token.find('.') + 1);
  EXPECT_EQ(verify_jwt(b64(R"({"alg":"EdDSA","kid":"nope"})") + "." + payload, keys, &c), JwtError::kUnknownKey);
}

TEST(Jwt, RefusesNoneSymmetricAndMismatchedAlgorithms) {
  auto key = SigningKey::from_seed(std::string(32, '\x09'));
  const Keys keys = keys_of("{\"keys\":[" + key->public_jwk() + "]}");
  const std::string token = key->sign_jwt(kClaims);
  const std::string body = token.substr(token.find('.'));  // ".payload.signature"
  JwtClaims c;
  EXPECT_EQ(verify_jwt(b64(R"({"alg":"none"})") + body, keys, &c), JwtError::kUnsupportedAlg);
  EXPECT_EQ(verify_jwt(b64(R"({"alg":"none"})") + "." + b64(kClaims) + ".", keys, &c), JwtError::kUnsupportedAlg);
  EXPECT_EQ(verify_jwt(b64(R"({"alg":"HS256","kid":")" + key->kid() + "\"}") + body, keys, &c),
            JwtError::kUnsupportedAlg);
  // ES256 named in the header, Ed25519 key behind the kid: refused before any math.
  EXPECT_EQ(verify_jwt(b64(R"({"alg":"ES256","kid":")" + key->kid() + "\"}") + body, keys, &c),
            JwtError::kUnsupportedAlg);
  // Critical extensions are not understood.
  EXPECT_EQ(verify_jwt(b64(R"({"alg":"EdDSA","crit":["exp"]})") + body, keys, &c), JwtError::kUnsupportedAlg);
  // Structure.
  EXPECT_EQ(verify_jwt("a.b", keys, &c), JwtError::kMalformed);
  EXPECT_EQ(verify_jwt("a.b.c.d", keys, &c), JwtError::kMalformed);
  EXPECT_EQ(verify_jwt(token + "=", keys, &c), JwtError::kMalformed);
  EXPECT_EQ(verify_jwt(std::string(kMaxTokenBytes + 1, 'a'), keys, &c), JwtError::kMalformed);
  // No exp: refused even with a good signature.
  EXPECT_EQ(verify_jwt(key->sign_jwt(R"({"sub":"1"})"), keys, &c), JwtError::kMalformed);
}

TEST(Jwt, VerifiesEs256AndRs256FromJwks) {
  // ES256 (P-256).
  EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_TRUE(ec);
  const std::string ec_jwk = R"({"kty":"EC","crv":"P-256","kid":"ec1","use":"sig","x":")" +
                             b64(padded(bn_param(ec, OSSL_PKEY_PARAM_EC_PUB_X), 32)) + R"(","y":")" +
                             b64(padded(bn_param(ec, OSSL_PKEY_PARAM_EC_PUB_Y), 32)) + "\"}";
  // RS256 (2048-bit).
  EVP_PKEY* rsa = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  ASSERT_TRUE(rsa);
  const std::string rsa_jwk = R"({"kty":"RSA","kid":"rsa1","alg":"RS256","n":")" + b64(bn_param(rsa, OSSL_PKEY_PARAM_RSA_N)) +
                              R"(","e":")" + b64(bn_param(rsa, OSSL_PKEY_PARAM_RSA_E)) + "\"}";
  // A key for encryption and an unknown type are skipped, not errors.
  const Keys keys = keys_of("{\"keys\":[" + ec_jwk + "," + rsa_jwk +
                            R"(,{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"},{"kty":"oct","k":"c2VjcmV0"}]})");
  ASSERT_EQ(keys.size(), 2u);
  JwtClaims c;
  const std::string es = sign_with(ec, "ES256", R"({"alg":"ES256","kid":"ec1"})", kClaims);
  EXPECT_EQ(verify_jwt(es, keys, &c), JwtError::kOk);
  EXPECT_EQ(c.sub, "u-17");
  const std::string rs = sign_with(rsa, "RS256", R"({"alg":"RS256","kid":"rsa1","typ":"JWT"})", kClaims);
  EXPECT_EQ(verify_jwt(rs, keys, &c), JwtError::kOk);
  // Swapping kids makes each header name the other algorithm's key.
  EXPECT_EQ(verify_jwt(sign_with(ec, "ES256", R"({"alg":"ES256","kid":"rsa1"})", kClaims), keys, &c),
            JwtError::kUnsupportedAlg);
  // A signature by another key of the right type fails.
  EVP_PKEY* ec2 = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  EXPECT_EQ(verify_jwt(sign_with(ec2, "ES256", R"({"alg":"ES256","kid":"ec1"})", kClaims), keys, &c),
            JwtError::kBadSignature);
  EVP_PKEY_free(ec);
  EVP_PKEY_free(ec2);
  EVP_PKEY_free(rsa);
  // Short RSA moduli are refused at load time.
  EVP_PKEY* small = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024));
  const Keys none = keys_of(R"({"keys":[{"kty":"RSA","n":")" + b64(bn_param(small, OSSL_PKEY_PARAM_RSA_N)) +
                            R"(","e":"AQAB"}]})");
  EXPECT_TRUE(none.empty());
  EVP_PKEY_free(small);
  std::string error;
  Keys out;
  EXPECT_FALSE(parse_jwks("[]", &out, &error));
  EXPECT_FALSE(parse_jwks(R"({"keys":[1]})", &out, &error));
}

TEST(Base64url, StrictDecoding) {
  EXPECT_EQ(base64url_decode(""), "");
  EXPECT_EQ(base64url_decode("Zg"), "f");
  EXPECT_EQ(base64url_decode("Zm8"), "fo");
  EXPECT_EQ(base64url_decode("Zm9v"), "foo");
  EXPECT_EQ(base64url_decode("-_8"), "\xfb\xff");
  EXPECT_FALSE(base64url_decode("Zg=="));  // no padding in JWS
  EXPECT_FALSE(base64url_decode("Zh"));    // non-zero unused bits
  EXPECT_FALSE(base64url_decode("Z"));     // 6 bits cannot end a byte
  EXPECT_FALSE(base64url_decode("Zm+v"));  // standard alphabet
  for (int n = 0; n < 40; ++n) {
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>(i * 37 + n));
    EXPECT_EQ(base64url_decode(base64url(s)), s);
  }
  EXPECT_EQ(base64_decode("Zm9vOmJhcg=="), "foo:bar");
  EXPECT_EQ(base64("foo:ba"), "Zm9vOmJh");
  EXPECT_EQ(base64("foo:b"), "Zm9vOmI=");
  const std::string bytes("\xff\xfe\x00x", 4);
  EXPECT_EQ(base64_decode(base64(bytes)), bytes);
}

TEST(Pkce, Rfc7636AppendixB) {
  EXPECT_EQ(pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

}  // namespace
}  // namespace bourse::auth

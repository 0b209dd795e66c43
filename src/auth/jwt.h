// JSON Web Tokens (RFC 7519) signed with JWS (RFC 7515): the server signs
// its access tokens with Ed25519 (EdDSA, RFC 8037) and verifies tokens from
// its own key or a trusted external issuer's JWKS (EdDSA, ES256, RS256).
//
// Only asymmetric algorithms are accepted, and a key is used only with the
// algorithm its type implies, so "alg":"none" and HS256-with-a-public-key
// confusions cannot verify. Threads: keys are immutable once built; any
// thread may sign or verify concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

typedef struct evp_pkey_st EVP_PKEY;

namespace bourse::auth {

// A public key from a JWK, with the one algorithm it verifies.
class VerificationKey {
 public:
  enum class Algorithm { kEdDSA, kES256, kRS256 };
  VerificationKey(EVP_PKEY* key, Algorithm alg, std::string kid);
  ~VerificationKey();
  VerificationKey(const VerificationKey&) = delete;
  VerificationKey& operator=(const VerificationKey&) = delete;

  Algorithm algorithm() const { return alg_; }
  const std::string& kid() const { return kid_; }
  bool verify(std::string_view signing_input, std::string_view signature) const;

 private:
  EVP_PKEY* key_;
  Algorithm alg_;
  std::string kid_;
};

const char* algorithm_name(VerificationKey::Algorithm alg);  // "EdDSA", "ES256", "RS256"

// Parses a JWK Set ({"keys":[...]}). Keys of unsupported types or with
// "use" other than "sig" are skipped; a malformed document is an error.
bool parse_jwks(std::string_view json, std::vector<std::shared_ptr<const VerificationKey>>* keys, std::string* error);

// The server's Ed25519 signing key.
class SigningKey {
 public:
  ~SigningKey();
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;

  // From 32 raw private-key bytes.
  static std::unique_ptr<SigningKey> from_seed(std::string_view seed);
  // Reads DATA_DIR/oauth_signing.key (the seed sealed under the master key),
  // creating it (mode 0600) if absent. nullptr and *error on failure.
  static std::unique_ptr<SigningKey> load_or_create(const std::string& path, std::string_view master_key,
                                                    std::string* error);

  const std::string& kid() const { return kid_; }
  // The public JWK (kty OKP, crv Ed25519, x, kid, use sig, alg EdDSA).
  const std::string& public_jwk() const { return jwk_; }
  std::shared_ptr<const VerificationKey> verification_key() const { return public_; }
  // A compact JWS over `claims_json` with header {"alg":"EdDSA","typ":"JWT","kid":...}.
  std::string sign_jwt(std::string_view claims_json) const;

 private:
  SigningKey(EVP_PKEY* key, std::string kid, std::string jwk, std::shared_ptr<const VerificationKey> pub);
  EVP_PKEY* key_;
  std::string kid_;
  std::string jwk_;
  std::shared_ptr<const VerificationKey> public_;
};

// The claims the server uses, read from a verified token.
struct JwtClaims {
  std::string iss;
  std::string sub;
  std::vector<std::string> aud;  // "aud" as a string or an array
  int64_t exp = 0;               // seconds since the epoch; required
  int64_t nbf = 0;               // 0 when absent
  int64_t iat = 0;
  std::string jti;
  std::string scope;             // space-separated ("scope", or "scp" as a string or array)
  std::string client_id;
  std::string key_id;            // "bourse_key": the API key a client_credentials token came from
  std::string raw_payload;       // the decoded payload JSON, for issuer-specific claims

  // A top-level string claim of the payload ("" when absent or not a string).
  std::string string_claim(std::string_view name) const;
};

enum class JwtError {
  kOk,
  kMalformed,         // not three base64url parts, bad JSON, missing exp
  kUnsupportedAlg,    // alg not EdDSA/ES256/RS256, or not the key's algorithm
  kUnknownKey,        // no key with this kid (or no kid and several keys)
  kBadSignature,
};

constexpr std::size_t kMaxTokenBytes = 8192;

// Decodes the payload without verifying anything: only to find the issuer
// whose keys must then verify it.
std::optional<std::string> unverified_issuer(std::string_view token);

// Verifies the signature with the key named by the header's kid (or the only
// key when there is no kid) and parses the claims. Time, issuer and audience
// are the caller's to check.
JwtError verify_jwt(std::string_view token, const std::vector<std::shared_ptr<const VerificationKey>>& keys,
                    JwtClaims* claims);

const char* jwt_error_text(JwtError e);

}  // namespace bourse::auth

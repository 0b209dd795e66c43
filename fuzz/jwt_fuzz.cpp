// Bearer tokens and JWK Sets come from the network and from config files:
// verify_jwt, unverified_issuer and parse_jwks must never crash, and no
// change to a validly signed token may still verify (a forgery).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "auth/crypto.h"
#include "auth/jwt.h"

namespace {

using namespace bourse::auth;

struct Fixture {
  std::unique_ptr<SigningKey> key = SigningKey::from_seed(std::string(32, '\x5a'));
  std::vector<std::shared_ptr<const VerificationKey>> keys{key->verification_key()};
  std::string token = key->sign_jwt(R"({"iss":"https://x","sub":"1","aud":"bourse","exp":2000000000,"scope":"read"})");
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture f;
  const std::string input(reinterpret_cast<const char*>(data), size);
  JwtClaims claims;
  // The raw bytes as a token and as a JWK Set.
  verify_jwt(input, f.keys, &claims);
  unverified_issuer(input);
  std::vector<std::shared_ptr<const VerificationKey>> parsed;
  std::string error;
  parse_jwks(input, &parsed, &error);
  // The bytes as header and payload JSON of a token (reaches the JSON code).
  const std::size_t half = size / 2;
  const std::string framed = base64url(input.substr(0, half)) + "." + base64url(input.substr(half)) + "." +
                             f.token.substr(f.token.rfind('.') + 1);
  verify_jwt(framed, f.keys, &claims);
  unverified_issuer(framed);
  // Mutations of a valid token: any change must fail verification.
  if (size >= 2) {
    std::string mutated = f.token;
    for (std::size_t i = 0; i + 1 < size; i += 2) {
      mutated[(static_cast<std::size_t>(data[i]) * 131 + i) % mutated.size()] = static_cast<char>(data[i + 1]);
    }
    if (mutated != f.token && verify_jwt(mutated, f.keys, &claims) == JwtError::kOk) std::abort();
  }
  return 0;
}

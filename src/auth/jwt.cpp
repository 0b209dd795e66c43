#include "auth/jwt.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <unistd.h>

#include <simdjson.h>

#include <fstream>

#include "auth/crypto.h"
#include "bourse/core/file_io.h"

namespace bourse::auth {
namespace {

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;
using Bignum = std::unique_ptr<BIGNUM, decltype(&BN_free)>;

// JWS ES256 signatures are r || s (32 bytes each); OpenSSL wants DER.
std::optional<std::string> es256_to_der(std::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  if (!sig) return std::nullopt;
  BIGNUM* r = BN_bin2bn(bytes(raw), 32, nullptr);
  BIGNUM* s = BN_bin2bn(bytes(raw) + 32, 32, nullptr);
  if (!r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

EVP_PKEY* pkey_from_params(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY* key = nullptr;
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr), EVP_PKEY_CTX_free);
  if (params && ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1) {
    EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params);
  }
  OSSL_PARAM_free(params);
  return key;
}

EVP_PKEY* ec_p256_key(const std::string& x, const std::string& y) {
  if (x.size() != 32 || y.size() != 32) return nullptr;
  std::string point = "\x04" + x + y;  // uncompressed SEC1 point
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (!bld) return nullptr;
  EVP_PKEY* key = nullptr;
  if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1) {
    key = pkey_from_params("EC", bld);
  }
  OSSL_PARAM_BLD_free(bld);
  return key;
}

EVP_PKEY* rsa_key(const std::string& n, const std::string& e) {
  if (n.size() < 256 || n.size() > 1024 || e.empty() || e.size() > 8) return nullptr;  // 2048..8192-bit moduli
  Bignum bn_n(BN_bin2bn(bytes(n), static_cast<int>(n.size()), nullptr), BN_free);
  Bignum bn_e(BN_bin2bn(bytes(e), static_cast<int>(e.size()), nullptr), BN_free);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (!bld || !bn_n || !bn_e) {
    OSSL_PARAM_BLD_free(bld);
    return nullptr;
  }
  EVP_PKEY* key = nullptr;
  if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n.get()) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e.get()) == 1) {
    key = pkey_from_params("RSA", bld);
  }
  OSSL_PARAM_BLD_free(bld);
  return key;
}

std::string_view field(simdjson::dom::object o, std::string_view name) {
  std::string_view v;
  if (o[name].get(v) != simdjson::SUCCESS) return {};
  return v;
}

std::optional<std::string> b64_field(simdjson::dom::object o, std::string_view name) {
  const std::string_view v = field(o, name);
  if (v.empty()) return std::nullopt;
  return base64url_decode(v);
}

// One JWK to a verification key; nullptr when unsupported or malformed.
std::shared_ptr<const VerificationKey> key_from_jwk(simdjson::dom::object jwk) {
  const std::string_view kty = field(jwk, "kty");
  const std::string_view use = field(jwk, "use");
  if (!use.empty() && use != "sig") return nullptr;
  const std::string kid(field(jwk, "kid"));
  const std::string_view alg = field(jwk, "alg");
  if (kty == "OKP" && field(jwk, "crv") == "Ed25519" && (alg.empty() || alg == "EdDSA")) {
    const auto x = b64_field(jwk, "x");
    if (!x || x->size() != 32) return nullptr;
    EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes(*x), x->size());
    return key ? std::make_shared<VerificationKey>(key, VerificationKey::Algorithm::kEdDSA, kid) : nullptr;
  }
  if (kty == "EC" && field(jwk, "crv") == "P-256" && (alg.empty() || alg == "ES256")) {
    const auto x = b64_field(jwk, "x");
    const auto y = b64_field(jwk, "y");
    EVP_PKEY* key = x && y ? ec_p256_key(*x, *y) : nullptr;
    return key ? std::make_shared<VerificationKey>(key, VerificationKey::Algorithm::kES256, kid) : nullptr;
  }
  if (kty == "RSA" && (alg.empty() || alg == "RS256")) {
    const auto n = b64_field(jwk, "n");
    const auto e = b64_field(jwk, "e");
    EVP_PKEY* key = n && e ? rsa_key(*n, *e) : nullptr;
    return key ? std::make_shared<VerificationKey>(key, VerificationKey::Algorithm::kRS256, kid) : nullptr;
  }
  return nullptr;
}

bool read_int(simdjson::dom::object o, std::string_view name, int64_t* out) {
  auto v = o[name];
  if (v.error()) return true;  // absent
  int64_t i = 0;
  double d = 0;
  if (v.get(i) == simdjson::SUCCESS) {
    *out = i;
    return true;
  }
  if (v.get(d) == simdjson::SUCCESS && d >= 0 && d < 1e15) {  // NumericDate may be fractional
    *out = static_cast<int64_t>(d);
    return true;
  }
  return false;
}

// "scope" as a space-separated string, or "scp" as a string or an array.
std::string read_scope(simdjson::dom::object o) {
  std::string_view s;
  if (o["scope"].get(s) == simdjson::SUCCESS) return std::string(s);
  if (o["scp"].get(s) == simdjson::SUCCESS) return std::string(s);
  simdjson::dom::array a;
  std::string out;
  if (o["scp"].get(a) == simdjson::SUCCESS) {
    for (auto item : a) {
      std::string_view v;
      if (item.get(v) != simdjson::SUCCESS) continue;
      if (!out.empty()) out += ' ';
      out += v;
    }
  }
  return out;
}

}  // namespace

// --- VerificationKey ---------------------------------------------------------

VerificationKey::VerificationKey(EVP_PKEY* key, Algorithm alg, std::string kid)
    : key_(key), alg_(alg), kid_(std::move(kid)) {}

VerificationKey::~VerificationKey() { EVP_PKEY_free(key_); }

bool VerificationKey::verify(std::string_view signing_input, std::string_view signature) const {
  std::string der;
  if (alg_ == Algorithm::kES256) {
    auto d = es256_to_der(signature);
    if (!d) return false;
    der = std::move(*d);
    signature = der;
  }
  MdCtx ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const EVP_MD* md = alg_ == Algorithm::kEdDSA ? nullptr : EVP_sha256();
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key_) != 1) return false;
  return EVP_DigestVerify(ctx.get(), bytes(signature), signature.size(), bytes(signing_input), signing_input.size()) == 1;
}

const char* algorithm_name(VerificationKey::Algorithm alg) {
  switch (alg) {
    case VerificationKey::Algorithm::kEdDSA: return "EdDSA";
    case VerificationKey::Algorithm::kES256: return "ES256";
    case VerificationKey::Algorithm::kRS256: return "RS256";
  }
  return "?";
}

bool parse_jwks(std::string_view json, std::vector<std::shared_ptr<const VerificationKey>>* keys, std::string* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array list;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS ||
      doc["keys"].get(list) != simdjson::SUCCESS) {
    *error = "not a JWK Set: expected {\"keys\": [...]}";
    return false;
  }
  for (auto item : list) {
    simdjson::dom::object jwk;
    if (item.get(jwk) != simdjson::SUCCESS) {
      *error = "a JWK Set entry is not an object";
      return false;
    }
    if (auto key = key_from_jwk(jwk)) keys->push_back(std::move(key));
  }
  return true;
}

// --- SigningKey --------------------------------------------------------------

SigningKey::SigningKey(EVP_PKEY* key, std::string kid, std::string jwk, std::shared_ptr<const VerificationKey> pub)
    : key_(key), kid_(std::move(kid)), jwk_(std::move(jwk)), public_(std::move(pub)) {}

SigningKey::~SigningKey() { EVP_PKEY_free(key_); }

std::unique_ptr<SigningKey> SigningKey::from_seed(std::string_view seed) {
  if (seed.size() != 32) return nullptr;
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, bytes(seed), seed.size());
  if (!key) return nullptr;
  unsigned char pub[32];
  std::size_t pub_len = sizeof(pub);
  if (EVP_PKEY_get_raw_public_key(key, pub, &pub_len) != 1 || pub_len != 32) {
    EVP_PKEY_free(key);
    return nullptr;
  }
  const std::string raw_pub(reinterpret_cast<char*>(pub), pub_len);
  // kid: RFC 7638-style thumbprint of the public key, shortened.
  const std::string x = base64url(raw_pub);
  const std::string kid = sha256_hex(R"({"crv":"Ed25519","kty":"OKP","x":")" + x + R"("})").substr(0, 16);
  std::string jwk = R"({"kty":"OKP","crv":"Ed25519","x":")" + x + R"(","kid":")" + kid +
                    R"(","use":"sig","alg":"EdDSA"})";
  EVP_PKEY* verify_key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, pub, pub_len);
  auto pub_key = std::make_shared<VerificationKey>(verify_key, VerificationKey::Algorithm::kEdDSA, kid);
  return std::unique_ptr<SigningKey>(new SigningKey(key, kid, std::move(jwk), std::move(pub_key)));
}

std::unique_ptr<SigningKey> SigningKey::load_or_create(const std::string& path, std::string_view master_key,
                                                       std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::string sealed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto seed = open_sealed(master_key, sealed);
    if (!seed || seed->size() != 32) {
      *error = path + ": cannot be opened with this data directory's master key";
      return nullptr;
    }
    return from_seed(*seed);
  }
  std::string seed(32, '\0');
  const std::string hex = random_hex(32);
  for (std::size_t i = 0; i < 32; ++i) seed[i] = static_cast<char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  const std::string sealed = seal(master_key, seed);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0 || !write_all(fd, sealed.data(), sealed.size()) || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    *error = path + ": cannot create the token signing key";
    return nullptr;
  }
  ::close(fd);
  return from_seed(seed);
}

std::string SigningKey::sign_jwt(std::string_view claims_json) const {
  std::string input = base64url(R"({"alg":"EdDSA","typ":"JWT","kid":")" + kid_ + R"("})");
  input += '.';
  input += base64url(claims_json);
  unsigned char sig[64];
  std::size_t sig_len = sizeof(sig);
  MdCtx ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &sig_len, bytes(input), input.size()) != 1) {
    throw std::runtime_error("Ed25519 signing failed");
  }
  input += '.';
  input += base64url(std::string_view(reinterpret_cast<char*>(sig), sig_len));
  return input;
}

// --- verification ------------------------------------------------------------

std::string JwtClaims::string_claim(std::string_view name) const {
  simdjson::dom::parser parser;
  simdjson::dom::object o;
  std::string_view v;
  if (parser.parse(raw_payload).get(o) != simdjson::SUCCESS || o[name].get(v) != simdjson::SUCCESS) return {};
  return std::string(v);
}

namespace {

struct Parts {
  std::string_view header, payload, signature, signing_input;
};

std::optional<Parts> split(std::string_view token) {
  if (token.size() > kMaxTokenBytes) return std::nullopt;
  const std::size_t a = token.find('.');
  const std::size_t b = a == std::string_view::npos ? a : token.find('.', a + 1);
  if (b == std::string_view::npos || token.find('.', b + 1) != std::string_view::npos) return std::nullopt;
  return Parts{token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1), token.substr(0, b)};
}

}  // namespace

std::optional<std::string> unverified_issuer(std::string_view token) {
  auto parts = split(token);
  if (!parts) return std::nullopt;
  auto payload = base64url_decode(parts->payload);
  if (!payload) return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::object o;
  std::string_view iss;
  if (parser.parse(*payload).get(o) != simdjson::SUCCESS || o["iss"].get(iss) != simdjson::SUCCESS) return std::nullopt;
  return std::string(iss);
}

JwtError verify_jwt(std::string_view token, const std::vector<std::shared_ptr<const VerificationKey>>& keys,
                    JwtClaims* claims) {
  auto parts = split(token);
  if (!parts) return JwtError::kMalformed;
  auto header = base64url_decode(parts->header);
  auto payload = base64url_decode(parts->payload);
  auto signature = base64url_decode(parts->signature);
  if (!header || !payload || !signature) return JwtError::kMalformed;

  simdjson::dom::parser parser;
  simdjson::dom::object h;
  if (parser.parse(*header).get(h) != simdjson::SUCCESS) return JwtError::kMalformed;
  const std::string alg(field(h, "alg"));
  const std::string kid(field(h, "kid"));
  if (alg != "EdDSA" && alg != "ES256" && alg != "RS256") return JwtError::kUnsupportedAlg;
  if (!h["crit"].error()) return JwtError::kUnsupportedAlg;  // no extensions understood (RFC 7515 §4.1.11)

  const VerificationKey* key = nullptr;
  for (const auto& k : keys) {
    if (kid.empty() ? keys.size() == 1 : k->kid() == kid) key = k.get();
  }
  if (!key) return JwtError::kUnknownKey;
  if (alg != algorithm_name(key->algorithm())) return JwtError::kUnsupportedAlg;
  if (!key->verify(parts->signing_input, *signature)) return JwtError::kBadSignature;

  simdjson::dom::object p;
  if (parser.parse(*payload).get(p) != simdjson::SUCCESS) return JwtError::kMalformed;
  JwtClaims c;
  c.iss = field(p, "iss");
  c.sub = field(p, "sub");
  c.jti = field(p, "jti");
  c.client_id = field(p, "client_id");
  c.key_id = field(p, "bourse_key");
  c.scope = read_scope(p);
  std::string_view aud;
  simdjson::dom::array auds;
  if (p["aud"].get(aud) == simdjson::SUCCESS) {
    c.aud.emplace_back(aud);
  } else if (p["aud"].get(auds) == simdjson::SUCCESS) {
    for (auto item : auds) {
      if (item.get(aud) == simdjson::SUCCESS) c.aud.emplace_back(aud);
    }
  }
  if (p["exp"].error() || !read_int(p, "exp", &c.exp) || !read_int(p, "nbf", &c.nbf) || !read_int(p, "iat", &c.iat)) {
    return JwtError::kMalformed;
  }
  c.raw_payload = std::move(*payload);
  *claims = std::move(c);
  return JwtError::kOk;
}

const char* jwt_error_text(JwtError e) {
  switch (e) {
    case JwtError::kOk: return "ok";
    case JwtError::kMalformed: return "the token is not a well-formed JWT";
    case JwtError::kUnsupportedAlg: return "the token's algorithm is not accepted for its key";
    case JwtError::kUnknownKey: return "the token was not signed by a known key";
    case JwtError::kBadSignature: return "the token's signature does not verify";
  }
  return "?";
}

}  // namespace bourse::auth

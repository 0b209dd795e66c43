#include "auth/crypto.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <memory>
#include <stdexcept>

namespace bourse::auth {
namespace {

std::string to_hex(const unsigned char* data, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 0xf];
  }
  return out;
}

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

void random_bytes(unsigned char* out, std::size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
}

constexpr std::size_t kNonce = 12;
constexpr std::size_t kTag = 16;

}  // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), bytes(message), message.size(), mac, &len);
  return to_hex(mac, len);
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(bytes(data), data.size(), digest);
  return to_hex(digest, sizeof(digest));
}

std::string sha256_bytes(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(bytes(data), data.size(), digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof(digest));
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_hex(std::size_t n) {
  std::string buf(n, '\0');
  random_bytes(reinterpret_cast<unsigned char*>(buf.data()), n);
  return to_hex(bytes(buf), n);
}

namespace {

std::string encode64(std::string_view data, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : data) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(alphabet[(buffer >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(alphabet[(buffer << (6 - bits)) & 0x3f]);
  while (pad && out.size() % 4 != 0) out.push_back('=');
  return out;
}

}  // namespace

std::string base64url(std::string_view data) {
  return encode64(data, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", false);
}

std::string base64(std::string_view data) {
  return encode64(data, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", true);
}

namespace {

// Shared decoder: `alphabet_value` maps a character to 0..63 or -1.
template <typename Value>
std::optional<std::string> decode64(std::string_view text, Value alphabet_value, bool allow_padding) {
  if (allow_padding) {
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  }
  if (text.size() % 4 == 1) return std::nullopt;  // 6 bits cannot end a byte
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int v = alphabet_value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  if (bits > 0 && (buffer & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical tail
  return out;
}

int alpha_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  return -1;
}

}  // namespace

std::optional<std::string> base64url_decode(std::string_view text) {
  return decode64(text, [](char c) { return c == '-' ? 62 : c == '_' ? 63 : alpha_value(c); }, false);
}

std::optional<std::string> base64_decode(std::string_view text) {
  return decode64(text, [](char c) { return c == '+' ? 62 : c == '/' ? 63 : alpha_value(c); }, true);
}

std::string seal(std::string_view key, std::string_view plaintext) {
  if (key.size() != 32) throw std::invalid_argument("seal: key must be 32 bytes");
  std::string out(kNonce + plaintext.size() + kTag, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  random_bytes(o, kNonce);
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key), o);
  EVP_EncryptUpdate(ctx.get(), o + kNonce, &len, bytes(plaintext), static_cast<int>(plaintext.size()));
  EVP_EncryptFinal_ex(ctx.get(), o + kNonce + len, &len);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, o + kNonce + plaintext.size());
  return out;
}

std::optional<std::string> open_sealed(std::string_view key, std::string_view sealed) {
  if (key.size() != 32 || sealed.size() < kNonce + kTag) return std::nullopt;
  const std::size_t n = sealed.size() - kNonce - kTag;
  std::string out(n, '\0');
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  const unsigned char* s = bytes(sealed);
  EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key), s);
  EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, s + kNonce, static_cast<int>(n));
  std::string tag(sealed.substr(kNonce + n));
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data());
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) != 1) {
    return std::nullopt;
  }
  return out;
}

std::string hash_password(std::string_view password) {
  constexpr uint32_t kTime = 2, kMemoryKib = 19 * 1024, kLanes = 1;
  unsigned char salt[16];
  random_bytes(salt, sizeof(salt));
  char encoded[160];
  const int rc = argon2id_hash_encoded(kTime, kMemoryKib, kLanes, password.data(), password.size(), salt, sizeof(salt),
                                       32, encoded, sizeof(encoded));
  if (rc != ARGON2_OK) throw std::runtime_error(std::string("argon2id: ") + argon2_error_message(rc));
  return encoded;
}

bool verify_password(const std::string& encoded, std::string_view password) {
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

}  // namespace bourse::auth

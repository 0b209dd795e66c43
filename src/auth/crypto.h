// Cryptographic primitives of the auth domain, over OpenSSL 3 and libargon2.
// Nothing here logs or keeps a secret; callers own the buffers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bourse::auth {

// HMAC-SHA256 of `message` under `key`, as 64 lower-case hex digits.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);
// SHA-256, lower-case hex.
std::string sha256_hex(std::string_view data);
// SHA-256, the 32 raw bytes.
std::string sha256_bytes(std::string_view data);
// Equal length and bytes, in time independent of where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);
// `bytes` random bytes from the OS CSPRNG, as hex (2 × bytes digits).
std::string random_hex(std::size_t bytes);
// URL-safe base64 without padding (tokens, PKCE).
std::string base64url(std::string_view data);
// Standard base64 with '=' padding (HTTP Basic).
std::string base64(std::string_view data);
// Strict inverse of base64url (no padding, no other characters; the unused
// low bits of the last character must be zero). nullopt when malformed.
std::optional<std::string> base64url_decode(std::string_view text);
// Standard base64 (RFC 4648 §4, '=' padding optional), for HTTP Basic.
std::optional<std::string> base64_decode(std::string_view text);

// AES-256-GCM with a random 96-bit nonce: nonce || ciphertext || tag.
// key must be 32 bytes. open() returns nullopt if the data was altered.
std::string seal(std::string_view key, std::string_view plaintext);
std::optional<std::string> open_sealed(std::string_view key, std::string_view sealed);

// argon2id (t=2, m=19 MiB, p=1: the OWASP minimum) in the PHC string
// format with a random 16-byte salt. verify is constant time in the hash.
std::string hash_password(std::string_view password);
bool verify_password(const std::string& encoded, std::string_view password);

}  // namespace bourse::auth

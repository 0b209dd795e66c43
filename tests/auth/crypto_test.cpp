#include "auth/crypto.h"

#include <gtest/gtest.h>

namespace bourse::auth {
namespace {

TEST(Crypto, HmacSha256MatchesRfc4231) {
  // RFC 4231 test case 2.
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(Crypto, SealedSecretsOpenOnlyUnaltered) {
  const std::string key(32, 'k');
  const std::string sealed = seal(key, "top secret");
  EXPECT_EQ(open_sealed(key, sealed).value(), "top secret");
  EXPECT_NE(seal(key, "top secret"), sealed);  // random nonce
  std::string tampered = sealed;
  tampered[14] ^= 1;
  EXPECT_FALSE(open_sealed(key, tampered));
  EXPECT_FALSE(open_sealed(std::string(32, 'x'), sealed));
  EXPECT_FALSE(open_sealed(key, sealed.substr(0, 10)));
}

TEST(Crypto, Argon2idPasswords) {
  const std::string h = hash_password("correct horse battery");
  EXPECT_EQ(h.rfind("$argon2id$", 0), 0u);
  EXPECT_EQ(h.find("correct"), std::string::npos);
  EXPECT_TRUE(verify_password(h, "correct horse battery"));
  EXPECT_FALSE(verify_password(h, "correct horse batterz"));
  EXPECT_NE(hash_password("correct horse battery"), h);  // random salt
  EXPECT_FALSE(verify_password("not a hash", "x"));
}

TEST(Crypto, RandomHexAndBase64url) {
  EXPECT_EQ(random_hex(16).size(), 32u);
  EXPECT_NE(random_hex(16), random_hex(16));
  EXPECT_EQ(base64url("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url("hello"), "aGVsbG8");
}

}  // namespace
}  // namespace bourse::auth

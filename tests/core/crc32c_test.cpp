#include "bourse/core/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace bourse {
namespace {

// RFC 3720 B.4 test vectors.
TEST(Crc32c, Rfc3720Vectors) {
  std::vector<unsigned char> buf(32, 0);
  EXPECT_EQ(crc32c(buf.data(), buf.size()), 0x8a9136aau);
  std::fill(buf.begin(), buf.end(), 0xff);
  EXPECT_EQ(crc32c(buf.data(), buf.size()), 0x62a8ab43u);
  for (int i = 0; i < 32; ++i) buf[static_cast<std::size_t>(i)] = static_cast<unsigned char>(i);
  EXPECT_EQ(crc32c(buf.data(), buf.size()), 0x46dd794eu);
  for (int i = 0; i < 32; ++i) buf[static_cast<std::size_t>(i)] = static_cast<unsigned char>(31 - i);
  EXPECT_EQ(crc32c(buf.data(), buf.size()), 0x113fdb5cu);
  const std::string s = "123456789";
  EXPECT_EQ(crc32c(s.data(), s.size()), 0xe3069283u);
}

TEST(Crc32c, HardwareMatchesPortableAndExtendIsIncremental) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 2000; ++i) {
    std::vector<unsigned char> data(rng() % 300);
    for (auto& b : data) b = static_cast<unsigned char>(rng());
    const uint32_t whole = crc32c(data.data(), data.size());
    ASSERT_EQ(whole, crc32c_extend_portable(0, data.data(), data.size()));
    const std::size_t cut = data.empty() ? 0 : rng() % data.size();
    ASSERT_EQ(whole, crc32c_extend(crc32c(data.data(), cut), data.data() + cut, data.size() - cut));
  }
}

}  // namespace
}  // namespace bourse

#include "bourse/core/checked.h"

#include <gtest/gtest.h>

#include <random>

namespace bourse {
namespace {

TEST(Checked, AddSubMulReportOverflow) {
  int64_t r;
  EXPECT_TRUE(checked_add(INT64_MAX - 1, 1, &r));
  EXPECT_EQ(r, INT64_MAX);
  EXPECT_FALSE(checked_add(INT64_MAX, 1, &r));
  EXPECT_FALSE(checked_sub(INT64_MIN, 1, &r));
  EXPECT_FALSE(checked_mul(int64_t{1} << 32, int64_t{1} << 31, &r));
  EXPECT_TRUE(checked_mul(int64_t{1} << 31, int64_t{1} << 31, &r));
}

TEST(Checked, MulDivFloorIsExactIn128Bits) {
  EXPECT_EQ(*mul_div_floor(7, 3, 2), 10);
  // a*b overflows int64 but the quotient fits.
  EXPECT_EQ(*mul_div_floor(INT64_MAX, 4, 8), INT64_MAX / 2);
  EXPECT_EQ(*mul_div_floor(int64_t{3'000'000'000}, int64_t{5'000'000'000}, 1'000'000), int64_t{15'000'000'000'000});
  EXPECT_FALSE(mul_div_floor(INT64_MAX, 3, 2).has_value());
  std::mt19937_64 rng(5);
  for (int i = 0; i < 100'000; ++i) {
    const auto a = static_cast<int64_t>(rng() >> 1);
    const auto b = static_cast<int64_t>(rng() >> (1 + rng() % 40));
    const auto d = static_cast<int64_t>(1 + (rng() >> (1 + rng() % 62)));
    const Int128 exact = static_cast<Int128>(a) * b / d;
    const auto got = mul_div_floor(a, b, d);
    if (exact > INT64_MAX) {
      ASSERT_FALSE(got.has_value());
    } else {
      ASSERT_TRUE(got.has_value());
      ASSERT_EQ(*got, static_cast<int64_t>(exact));
    }
  }
}

}  // namespace
}  // namespace bourse

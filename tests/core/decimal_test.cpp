#include "bourse/core/decimal.h"

#include <gtest/gtest.h>

#include <random>

namespace bourse {
namespace {

TEST(Decimal, ParsesExactly) {
  EXPECT_EQ(parse_decimal("123.45", 2).value, 12345);
  EXPECT_EQ(parse_decimal("123.4", 2).value, 12340);
  EXPECT_EQ(parse_decimal("123", 2).value, 12300);
  EXPECT_EQ(parse_decimal(".5", 2).value, 50);
  EXPECT_EQ(parse_decimal("5.", 2).value, 500);
  EXPECT_EQ(parse_decimal("0.00000001", 8).value, 1);
  EXPECT_EQ(parse_decimal("1.2300", 2).value, 123);  // trailing zeros beyond the scale are fine
  EXPECT_EQ(parse_decimal("+7", 0).value, 7);
  EXPECT_EQ(parse_decimal("-0.01", 2, true).value, -1);
  EXPECT_EQ(parse_decimal("9223372036854775807", 0).value, INT64_MAX);
  EXPECT_EQ(parse_decimal("-9223372036854775808", 0, true).value, INT64_MIN);
  EXPECT_EQ(parse_decimal("92233720368.54775807", 8).value, INT64_MAX);
}

TEST(Decimal, RejectsWithStableCodes) {
  EXPECT_EQ(parse_decimal("", 2).error, DecimalError::kEmpty);
  EXPECT_EQ(parse_decimal("1.234", 2).error, DecimalError::kTooManyDecimals);
  EXPECT_EQ(parse_decimal("1e5", 2).error, DecimalError::kInvalidCharacter);
  EXPECT_EQ(parse_decimal("1,000", 2).error, DecimalError::kInvalidCharacter);
  EXPECT_EQ(parse_decimal(" 1", 2).error, DecimalError::kInvalidCharacter);
  EXPECT_EQ(parse_decimal("1.2.3", 2).error, DecimalError::kInvalidCharacter);
  EXPECT_EQ(parse_decimal(".", 2).error, DecimalError::kInvalidCharacter);
  EXPECT_EQ(parse_decimal("-", 2, true).error, DecimalError::kInvalidCharacter);
  EXPECT_EQ(parse_decimal("-1", 2).error, DecimalError::kNegativeNotAllowed);
  EXPECT_EQ(parse_decimal("9223372036854775808", 0).error, DecimalError::kOverflow);
  EXPECT_EQ(parse_decimal("92233720368.54775808", 8).error, DecimalError::kOverflow);
  EXPECT_EQ(parse_decimal("100000000000", 8).error, DecimalError::kOverflow);
  EXPECT_EQ(parse_decimal(std::string(41, '1'), 0).error, DecimalError::kTooLong);
  EXPECT_STREQ(decimal_error_name(DecimalError::kTooManyDecimals), "TOO_MANY_DECIMALS");
}

TEST(Decimal, Formats) {
  EXPECT_EQ(format_decimal(12345, 2), "123.45");
  EXPECT_EQ(format_decimal(5, 2), "0.05");
  EXPECT_EQ(format_decimal(-5, 2), "-0.05");
  EXPECT_EQ(format_decimal(0, 0), "0");
  EXPECT_EQ(format_decimal(0, 3), "0.000");
  EXPECT_EQ(format_decimal(7, 0), "7");
  EXPECT_EQ(format_decimal(INT64_MIN, 0), "-9223372036854775808");
  EXPECT_EQ(format_decimal(INT64_MAX, 18), "9.223372036854775807");
}

TEST(Decimal, RoundTripsRandomValues) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 100'000; ++i) {
    const auto v = static_cast<int64_t>(rng());
    const int scale = static_cast<int>(rng() % 19);
    const std::string s = format_decimal(v, scale);
    const DecimalResult r = parse_decimal(s, scale, true);
    ASSERT_TRUE(r.ok()) << s;
    ASSERT_EQ(r.value, v) << s;
  }
}

}  // namespace
}  // namespace bourse

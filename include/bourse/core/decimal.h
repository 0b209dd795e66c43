// Exact decimal codec for the API edge: "123.4500" <-> int64 minor units.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "bourse/core/checked.h"

namespace bourse {

// Stable codes; do not renumber.
enum class DecimalError : uint8_t {
  kOk = 0,
  kEmpty = 1,
  kInvalidCharacter = 2,
  kTooManyDecimals = 3,  // more fractional digits than the scale allows (nonzero ones)
  kOverflow = 4,
  kNegativeNotAllowed = 5,
  kTooLong = 6,
};

struct DecimalResult {
  DecimalError error = DecimalError::kOk;
  int64_t value = 0;
  bool ok() const { return error == DecimalError::kOk; }
};

// Maximum accepted input length; longer strings are rejected (kTooLong).
constexpr std::size_t kMaxDecimalLength = 40;
// Highest supported scale (10^18 still fits in int64).
constexpr int kMaxDecimalScale = 18;

// Parses a plain decimal ("12", "12.5", "-0.001", ".5"); no exponent, no
// spaces, no thousands separators. Trailing fractional zeros beyond `scale`
// are accepted ("1.2300" at scale 2); nonzero digits beyond it are an error,
// never rounded.
// REQUIRES: 0 <= scale <= kMaxDecimalScale.
DecimalResult parse_decimal(std::string_view text, int scale, bool allow_negative = false);

// Formats `value` at `scale` with exactly `scale` fractional digits.
std::string format_decimal(int64_t value, int scale);
// The same for a 128-bit value (positions, valuations, margin sums).
std::string format_wide_decimal(Int128 value, int scale);
// A plain decimal integer ("-123"), as format_wide_decimal(v, 0) writes it,
// of at most 39 digits and |v| <= 2^126. False on anything else.
bool parse_wide_integer(std::string_view text, Int128* out);

const char* decimal_error_name(DecimalError e);

}  // namespace bourse

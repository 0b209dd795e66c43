#include "bourse/core/decimal.h"

namespace bourse {

DecimalResult parse_decimal(std::string_view text, int scale, bool allow_negative) {
  if (text.empty()) return {DecimalError::kEmpty, 0};
  if (text.size() > kMaxDecimalLength) return {DecimalError::kTooLong, 0};
  bool negative = false;
  std::size_t i = 0;
  if (text[0] == '-' || text[0] == '+') {
    negative = text[0] == '-';
    i = 1;
    if (negative && !allow_negative) return {DecimalError::kNegativeNotAllowed, 0};
  }
  // Accumulate as a negative number so that INT64_MIN is representable.
  int64_t acc = 0;
  int fraction_digits = 0;
  bool seen_point = false;
  bool seen_digit = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.') {
      if (seen_point) return {DecimalError::kInvalidCharacter, 0};
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9') return {DecimalError::kInvalidCharacter, 0};
    seen_digit = true;
    const int digit = c - '0';
    if (seen_point) {
      if (fraction_digits == scale) {
        if (digit != 0) return {DecimalError::kTooManyDecimals, 0};
        continue;
      }
      ++fraction_digits;
    }
    if (__builtin_mul_overflow(acc, 10, &acc) || __builtin_sub_overflow(acc, digit, &acc)) {
      return {DecimalError::kOverflow, 0};
    }
  }
  if (!seen_digit) return {DecimalError::kInvalidCharacter, 0};
  for (; fraction_digits < scale; ++fraction_digits) {
    if (__builtin_mul_overflow(acc, 10, &acc)) return {DecimalError::kOverflow, 0};
  }
  if (!negative) {
    if (acc == INT64_MIN) return {DecimalError::kOverflow, 0};
    acc = -acc;
  }
  return {DecimalError::kOk, acc};
}

std::string format_decimal(int64_t value, int scale) {
  const bool negative = value < 0;
  // Work in unsigned so that INT64_MIN formats correctly.
  uint64_t magnitude = negative ? uint64_t{0} - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  char buf[48];
  int pos = sizeof(buf);
  int digits = 0;
  do {
    buf[--pos] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
    ++digits;
    if (digits == scale) buf[--pos] = '.';
  } while (magnitude != 0 || digits < scale);
  if (buf[pos] == '.') buf[--pos] = '0';
  if (negative) buf[--pos] = '-';
  return std::string(buf + pos, sizeof(buf) - static_cast<std::size_t>(pos));
}

const char* decimal_error_name(DecimalError e) {
  switch (e) {
    case DecimalError::kOk: return "OK";
    case DecimalError::kEmpty: return "EMPTY";
    case DecimalError::kInvalidCharacter: return "INVALID_CHARACTER";
    case DecimalError::kTooManyDecimals: return "TOO_MANY_DECIMALS";
    case DecimalError::kOverflow: return "OVERFLOW";
    case DecimalError::kNegativeNotAllowed: return "NEGATIVE_NOT_ALLOWED";
    case DecimalError::kTooLong: return "TOO_LONG";
  }
  return "UNKNOWN";
}

std::string format_wide_decimal(Int128 v, int scale) {
  if (v >= INT64_MIN && v <= INT64_MAX) return format_decimal(static_cast<int64_t>(v), scale);
  const bool negative = v < 0;
  std::string digits;
  for (; v != 0; v /= 10) {
    const auto d = static_cast<int>(v % 10);
    digits.insert(digits.begin(), static_cast<char>('0' + (d < 0 ? -d : d)));
  }
  if (scale > 0) digits.insert(digits.end() - scale, '.');  // |v| > INT64_MAX has more than 18 digits
  return negative ? "-" + digits : digits;
}

bool parse_wide_integer(std::string_view s, Int128* out) {
  const bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty() || s.size() > 39) return false;
  constexpr UInt128 kLimit = static_cast<UInt128>(1) << 126;
  UInt128 u = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const auto digit = static_cast<unsigned>(c - '0');
    if (u > (kLimit - digit) / 10) return false;  // checked before it could wrap
    u = u * 10 + digit;
  }
  *out = negative ? -static_cast<Int128>(u) : static_cast<Int128>(u);
  return true;
}

}  // namespace bourse

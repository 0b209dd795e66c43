// Overflow-checked integer arithmetic. Every product of a price and a
// quantity goes through here: results that do not fit are reported, never
// wrapped.
#pragma once

#include <cstdint>
#include <optional>

namespace bourse {

// 128-bit intermediate for products of two int64 (__extension__ keeps -Wpedantic quiet).
__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

inline bool checked_add(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }
inline bool checked_sub(int64_t a, int64_t b, int64_t* out) { return !__builtin_sub_overflow(a, b, out); }
inline bool checked_mul(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }
// Statistics (volumes) that may saturate instead of failing.
inline int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  return b > 0 ? INT64_MAX : INT64_MIN;
}

// floor(a * b / d) for a, b >= 0 and d > 0, computed in 128 bits.
// Returns nullopt when the result does not fit in int64.
inline std::optional<int64_t> mul_div_floor(int64_t a, int64_t b, int64_t d) {
  int64_t p;
  if (!__builtin_mul_overflow(a, b, &p)) return p / d;  // fast path: no 128-bit division
  const Int128 wide = static_cast<Int128>(a) * b / d;
  if (wide > INT64_MAX) return std::nullopt;
  return static_cast<int64_t>(wide);
}

}  // namespace bourse

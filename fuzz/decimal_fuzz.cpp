// parse_decimal must never crash, and whatever it accepts must format back to
// a string that parses to the same value.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bourse/core/decimal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int scale = data[0] % 19;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const bourse::DecimalResult r = bourse::parse_decimal(text, scale, true);
  if (r.ok()) {
    const std::string again = bourse::format_decimal(r.value, scale);
    const bourse::DecimalResult back = bourse::parse_decimal(again, scale, true);
    if (!back.ok() || back.value != r.value) std::abort();
  }
  return 0;
}

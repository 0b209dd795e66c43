// Percent-encoding and form bodies (OAuth requests, query strings): parsing
// never crashes, encoding round-trips exactly, and a parsed form re-encoded
// parses to the same fields.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "bourse/core/url_encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string decoded;
  if (!bourse::percent_decode(bourse::percent_encode(input), &decoded) || decoded != input) std::abort();
  bourse::percent_decode(input, &decoded);
  bourse::FormFields fields;
  std::string bad;
  if (bourse::parse_form(input, &fields, &bad) == bourse::FormError::kOk) {
    std::string again;
    for (const auto& [k, v] : fields) {
      if (!again.empty()) again += '&';
      again += bourse::percent_encode(k) + "=" + bourse::percent_encode(v);
    }
    bourse::FormFields back;
    if (bourse::parse_form(again, &back, &bad) != bourse::FormError::kOk || back != fields) std::abort();
  }
  return 0;
}

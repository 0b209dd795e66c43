// Reading JSON replies in end-to-end tests by JSON pointer. A missing member
// or a body that is not JSON reads as "<none>" / -1, so assertions fail with
// a readable value instead of crashing.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>

namespace bourse::testing {

struct Json {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  bool ok = false;
  explicit Json(const std::string& text) { ok = !text.empty() && !parser.parse(text).get(root); }
  std::string s(const char* pointer) {
    std::string_view v;
    if (!ok || root.at_pointer(pointer).get_string().get(v)) return "<none>";
    return std::string(v);
  }
  int64_t i(const char* pointer) {
    int64_t v = -1;
    if (!ok || root.at_pointer(pointer).get_int64().get(v)) return -1;
    return v;
  }
  std::size_t size(const char* pointer) {
    simdjson::dom::array a;
    if (!ok || root.at_pointer(pointer).get_array().get(a)) return 0;
    return a.size();
  }
  // 1 / 0 for true / false, -1 when missing or not a boolean.
  int b(const char* pointer) {
    bool v = false;
    if (!ok || root.at_pointer(pointer).get_bool().get(v)) return -1;
    return v ? 1 : 0;
  }
  bool is_null(const char* pointer) {
    simdjson::dom::element e;
    return ok && !root.at_pointer(pointer).get(e) && e.is_null();
  }
};

}  // namespace bourse::testing

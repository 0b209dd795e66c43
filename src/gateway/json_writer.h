// JsonWriter: appends compact JSON to a std::string. Commas are inserted
// automatically; the caller pairs begin/end calls. Numbers that are money
// or quantities are written as decimal strings by the caller (exact), so the
// writer only knows integers, booleans, strings and raw fragments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bourse::gateway {

void append_json_string(std::string* out, std::string_view text);

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& begin_object() { open('{'); return *this; }
  JsonWriter& end_object() { close('}'); return *this; }
  JsonWriter& begin_array() { open('['); return *this; }
  JsonWriter& end_array() { close(']'); return *this; }
  // Inside an object: the next value's name.
  JsonWriter& key(std::string_view name);

  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(int64_t v);
  JsonWriter& value(uint64_t v);
  JsonWriter& value(int v) { return value(static_cast<int64_t>(v)); }
  JsonWriter& value(uint32_t v) { return value(static_cast<uint64_t>(v)); }
  JsonWriter& value(bool v);
  JsonWriter& null();
  // Pre-serialized JSON (a cached fragment).
  JsonWriter& raw(std::string_view json);

  template <class T>
  JsonWriter& field(std::string_view name, const T& v) {
    key(name);
    return value(v);
  }

 private:
  void separate();
  void open(char c);
  void close(char c);

  std::string* out_;
  bool need_comma_ = false;
  bool after_key_ = false;
};

}  // namespace bourse::gateway

// JsonBody: strict reading of a JSON request body. The body must be a JSON
// object sent as application/json; every member must be one the endpoint
// knows (an unknown one is 400 UNKNOWN_FIELD, so typos never pass silently);
// each getter checks the type. The first problem found is kept and the
// handler answers it.
#pragma once

#include <simdjson.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/problem.h"

namespace bourse::gateway {

class JsonBody {
 public:
  // Parses `body` (content_type: the request's Content-Type header, or null).
  JsonBody(const std::string* content_type, const std::string& body, std::initializer_list<std::string_view> fields);

  bool ok() const { return !problem_; }
  const Problem& problem() const { return *problem_; }

  // Absent members leave *out unchanged and return false; a member of the
  // wrong type records a problem.
  bool string(std::string_view name, std::string* out, bool required = false);
  bool boolean(std::string_view name, bool* out);
  bool integer(std::string_view name, int64_t* out, bool required = false);
  bool string_list(std::string_view name, std::vector<std::string>* out);
  // An array of 1..max objects, each read strictly like a body with
  // `fields`; their problems are theirs (check each one's ok()). Valid
  // while this body is.
  bool object_list(std::string_view name, std::size_t max, std::initializer_list<std::string_view> fields,
                   std::vector<JsonBody>* out);
  void fail(int status, std::string code, std::string detail);

 private:
  JsonBody(simdjson::dom::object object, std::initializer_list<std::string_view> fields);
  void check_fields(std::initializer_list<std::string_view> fields);

  std::optional<simdjson::dom::element> member(std::string_view name, bool required);

  std::optional<Problem> problem_;
  simdjson::dom::object object_;
};

// A decimal string member at `scale` (> 0 when `positive`); records a
// problem on a bad value.
bool decimal_field(JsonBody& body, std::string_view name, int scale, bool required, int64_t* out,
                   bool positive = true);

}  // namespace bourse::gateway

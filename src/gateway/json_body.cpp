#include "gateway/json_body.h"

#include "bourse/core/decimal.h"

namespace bourse::gateway {
namespace {

bool is_json_content_type(const std::string* ct) {
  if (!ct) return false;
  std::string_view v = *ct;
  const std::size_t semi = v.find(';');
  v = v.substr(0, semi);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  std::string lower(v);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "application/json";
}

}  // namespace

JsonBody::JsonBody(const std::string* content_type, const std::string& body,
                   std::initializer_list<std::string_view> fields) {
  if (!is_json_content_type(content_type)) {
    fail(415, "UNSUPPORTED_MEDIA_TYPE", "the body must be sent as Content-Type: application/json");
    return;
  }
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body).get(root) != simdjson::SUCCESS) {
    fail(400, "MALFORMED_JSON", "the body is not valid JSON");
    return;
  }
  if (root.get_object().get(object_) != simdjson::SUCCESS) {
    fail(400, "MALFORMED_JSON", "the body must be a JSON object");
    return;
  }
  check_fields(fields);
}

JsonBody::JsonBody(simdjson::dom::object object, std::initializer_list<std::string_view> fields) : object_(object) {
  check_fields(fields);
}

void JsonBody::check_fields(std::initializer_list<std::string_view> fields) {
  for (auto field : object_) {
    bool known = false;
    for (std::string_view f : fields) known = known || field.key == f;
    if (!known) {
      fail(400, "UNKNOWN_FIELD", "unknown field '" + std::string(field.key) + "'");
      return;
    }
  }
}

void JsonBody::fail(int status, std::string code, std::string detail) {
  if (!problem_) problem_ = Problem{status, std::move(code), std::move(detail)};
}

std::optional<simdjson::dom::element> JsonBody::member(std::string_view name, bool required) {
  if (problem_) return std::nullopt;
  simdjson::dom::element e;
  if (object_[name].get(e) != simdjson::SUCCESS || e.is_null()) {
    if (required) fail(400, "MISSING_FIELD", "'" + std::string(name) + "' is required");
    return std::nullopt;
  }
  return e;
}

bool JsonBody::string(std::string_view name, std::string* out, bool required) {
  auto e = member(name, required);
  if (!e) return false;
  std::string_view v;
  if (e->get_string().get(v) != simdjson::SUCCESS) {
    fail(400, "INVALID_FIELD", "'" + std::string(name) + "' must be a string");
    return false;
  }
  *out = std::string(v);
  return true;
}

bool JsonBody::boolean(std::string_view name, bool* out) {
  auto e = member(name, false);
  if (!e) return false;
  if (e->get_bool().get(*out) != simdjson::SUCCESS) {
    fail(400, "INVALID_FIELD", "'" + std::string(name) + "' must be true or false");
    return false;
  }
  return true;
}

bool JsonBody::integer(std::string_view name, int64_t* out, bool required) {
  auto e = member(name, required);
  if (!e) return false;
  if (e->get_int64().get(*out) != simdjson::SUCCESS) {
    fail(400, "INVALID_FIELD", "'" + std::string(name) + "' must be an integer");
    return false;
  }
  return true;
}

bool decimal_field(JsonBody& body, std::string_view name, int scale, bool required, int64_t* out, bool positive) {
  std::string text;
  if (!body.string(name, &text, required)) return false;
  const DecimalResult r = parse_decimal(text, scale);
  if (!r.ok()) {
    body.fail(400, "INVALID_DECIMAL",
              "'" + std::string(name) + "' is not a decimal with at most " + std::to_string(scale) +
                  " decimal places: " + decimal_error_name(r.error));
    return false;
  }
  if (positive && r.value <= 0) {
    body.fail(400, "INVALID_DECIMAL", "'" + std::string(name) + "' must be greater than zero");
    return false;
  }
  *out = r.value;
  return true;
}

bool JsonBody::object_list(std::string_view name, std::size_t max, std::initializer_list<std::string_view> fields,
                           std::vector<JsonBody>* out) {
  auto e = member(name, true);
  if (!e) return false;
  simdjson::dom::array a;
  if (e->get_array().get(a) != simdjson::SUCCESS || a.size() == 0 || a.size() > max) {
    fail(400, "INVALID_FIELD", "'" + std::string(name) + "' must be an array of 1 to " + std::to_string(max) + " objects");
    return false;
  }
  out->clear();
  for (auto item : a) {
    simdjson::dom::object o;
    if (item.get_object().get(o) != simdjson::SUCCESS) {
      fail(400, "INVALID_FIELD", "'" + std::string(name) + "' must be an array of objects");
      return false;
    }
    out->push_back(JsonBody(o, fields));
  }
  return true;
}

bool JsonBody::string_list(std::string_view name, std::vector<std::string>* out) {
  auto e = member(name, false);
  if (!e) return false;
  simdjson::dom::array a;
  if (e->get_array().get(a) != simdjson::SUCCESS || a.size() > 64) {
    fail(400, "INVALID_FIELD", "'" + std::string(name) + "' must be an array of at most 64 strings");
    return false;
  }
  out->clear();
  for (auto item : a) {
    std::string_view v;
    if (item.get_string().get(v) != simdjson::SUCCESS) {
      fail(400, "INVALID_FIELD", "'" + std::string(name) + "' must be an array of strings");
      return false;
    }
    out->emplace_back(v);
  }
  return true;
}

}  // namespace bourse::gateway

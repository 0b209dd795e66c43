// The gateway's own view of an HTTP exchange, independent of Boost.Beast:
// handlers and tests use these; only http_server.cpp converts.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bourse/core/url_encoding.h"

namespace bourse::gateway {

enum class QueryParam { kAbsent, kFound, kMalformed };

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;        // "GET", "POST", ...
  std::string target;        // path and query as sent
  std::string path;          // target up to '?'
  std::string query;         // after '?', still percent-encoded
  HeaderList headers;        // names lower-cased
  std::string body;
  std::string remote_ip;
  std::string request_id;    // X-Request-Id: the client's if well-formed, else generated
  int64_t received_ns = 0;   // monotonic

  // First header with this lower-case name, or nullptr.
  const std::string* header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return &v;
    }
    return nullptr;
  }
  // Query parameter by name (first occurrence), percent-decoded.
  QueryParam query_param(std::string_view name, std::string* value) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  HeaderList headers;
  std::string body;
};

// Called exactly once per request, from any thread.
using Responder = std::function<void(HttpResponse&&)>;

using bourse::percent_decode;

}  // namespace bourse::gateway

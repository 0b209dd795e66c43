// Router: method + path pattern ("/v1/orders/{id}") to a handler. Patterns
// are matched segment by segment; a path that matches with another method
// is 405 with Allow, no match is 404. The route table is also the list the
// OpenAPI test compares with docs/openapi.json.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/http_types.h"

namespace bourse::gateway {

struct Call;
using Handler = std::function<void(const std::shared_ptr<Call>& call)>;

struct Route {
  std::string method;
  std::string pattern;
  std::vector<std::string> segments;  // "{name}" for a parameter
  std::size_t metrics_id = 0;
  Handler handler;
};

struct RouteMatch {
  const Route* route = nullptr;
  std::vector<std::string> params;   // values of "{...}" segments, in order (percent-decoded)
  std::string allow;                 // for 405: methods that would match
};

class Router {
 public:
  void add(std::string method, std::string pattern, std::size_t metrics_id, Handler handler);
  // route == nullptr: allow empty → 404, else 405.
  RouteMatch match(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace bourse::gateway

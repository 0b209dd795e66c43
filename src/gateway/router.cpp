#include "gateway/router.h"

namespace bourse::gateway {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const std::size_t j = path.find('/', i);
    out.push_back(path.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j;
  }
  return out;
}

}  // namespace

void Router::add(std::string method, std::string pattern, std::size_t metrics_id, Handler handler) {
  Route r;
  r.method = std::move(method);
  r.pattern = std::move(pattern);
  for (std::string_view s : split_path(r.pattern)) r.segments.emplace_back(s);
  r.metrics_id = metrics_id;
  r.handler = std::move(handler);
  routes_.push_back(std::move(r));
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
  RouteMatch result;
  const std::vector<std::string_view> parts = split_path(path);
  // A trailing slash is a different resource: "/v1/time/" is 404.
  if (path.size() > 1 && path.back() == '/') return result;
  for (const Route& r : routes_) {
    if (r.segments.size() != parts.size()) continue;
    std::vector<std::string> params;
    bool ok = true;
    for (std::size_t i = 0; i < parts.size() && ok; ++i) {
      const std::string& seg = r.segments[i];
      if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
        std::string decoded;
        if (parts[i].empty() || !percent_decode(parts[i], &decoded)) ok = false;
        params.push_back(std::move(decoded));
      } else if (seg != parts[i]) {
        ok = false;
      }
    }
    if (!ok) continue;
    if (r.method == method) {
      result.route = &r;
      result.params = std::move(params);
      result.allow.clear();
      return result;
    }
    if (!result.allow.empty()) result.allow += ", ";
    result.allow += r.method;
  }
  return result;
}

}  // namespace bourse::gateway

#include "gateway/metrics.h"

#include <cstdio>

namespace bourse::gateway {

Metrics::Metrics() { add_route("", "unmatched"); }

std::size_t Metrics::add_route(std::string method, std::string pattern) {
  auto stats = std::make_unique<RouteStats>();
  stats->method = std::move(method);
  stats->pattern = std::move(pattern);
  routes_.push_back(std::move(stats));
  return routes_.size() - 1;
}

void Metrics::record(std::size_t route, int status, int64_t duration_ns) {
  if (route >= routes_.size()) route = kNoRoute;
  RouteStats& r = *routes_[route];
  if (status >= 100 && status < 600) r.by_status[static_cast<std::size_t>(status - 100)].fetch_add(1, std::memory_order_relaxed);
  const double seconds = static_cast<double>(duration_ns) / 1e9;
  std::size_t b = 0;
  while (b < kBucketsSeconds.size() && seconds > kBucketsSeconds[b]) ++b;
  r.buckets[b].fetch_add(1, std::memory_order_relaxed);
  r.count.fetch_add(1, std::memory_order_relaxed);
  r.sum_ns.fetch_add(static_cast<uint64_t>(duration_ns > 0 ? duration_ns : 0), std::memory_order_relaxed);
}

void Metrics::add_gauge(std::string name, std::string help, std::function<double()> read) {
  gauges_.push_back({std::move(name), std::move(help), std::move(read)});
}

std::string Metrics::render() const {
  std::string out;
  char line[512];
  out += "# HELP bourse_http_requests_total HTTP requests by route, method and status.\n";
  out += "# TYPE bourse_http_requests_total counter\n";
  for (const auto& r : routes_) {
    for (std::size_t s = 0; s < r->by_status.size(); ++s) {
      const uint64_t n = r->by_status[s].load(std::memory_order_relaxed);
      if (n == 0) continue;
      std::snprintf(line, sizeof(line), "bourse_http_requests_total{route=\"%s\",method=\"%s\",status=\"%zu\"} %llu\n",
                    r->pattern.c_str(), r->method.c_str(), s + 100, static_cast<unsigned long long>(n));
      out += line;
    }
  }
  out += "# HELP bourse_http_request_duration_seconds Time from a complete request to its response, by route.\n";
  out += "# TYPE bourse_http_request_duration_seconds histogram\n";
  for (const auto& r : routes_) {
    const uint64_t count = r->count.load(std::memory_order_relaxed);
    if (count == 0) continue;
    uint64_t cumulative = 0;
    for (std::size_t b = 0; b <= kBucketsSeconds.size(); ++b) {
      cumulative += r->buckets[b].load(std::memory_order_relaxed);
      if (b < kBucketsSeconds.size()) {
        std::snprintf(line, sizeof(line),
                      "bourse_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"%g\"} %llu\n",
                      r->pattern.c_str(), r->method.c_str(), kBucketsSeconds[b],
                      static_cast<unsigned long long>(cumulative));
      } else {
        std::snprintf(line, sizeof(line),
                      "bourse_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\",le=\"+Inf\"} %llu\n",
                      r->pattern.c_str(), r->method.c_str(), static_cast<unsigned long long>(cumulative));
      }
      out += line;
    }
    std::snprintf(line, sizeof(line), "bourse_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"} %.9f\n",
                  r->pattern.c_str(), r->method.c_str(), static_cast<double>(r->sum_ns.load()) / 1e9);
    out += line;
    std::snprintf(line, sizeof(line), "bourse_http_request_duration_seconds_count{route=\"%s\",method=\"%s\"} %llu\n",
                  r->pattern.c_str(), r->method.c_str(), static_cast<unsigned long long>(count));
    out += line;
  }
  for (const Gauge& g : gauges_) {
    std::snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", g.name.c_str(), g.help.c_str(),
                  g.name.c_str(), g.name.c_str(), g.read());
    out += line;
  }
  return out;
}

}  // namespace bourse::gateway

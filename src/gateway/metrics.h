// Metrics: Prometheus counters and histograms for the gateway, lock-free on
// the request path (fixed arrays of atomics indexed by route and status).
// Routes are registered once at start-up; render() writes the text
// exposition format for GET /metrics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bourse::gateway {

class Metrics {
 public:
  static constexpr std::array<double, 14> kBucketsSeconds = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                             0.01,    0.025,  0.05,    0.1,    0.25,   1.0,    5.0};

  // Start-up only. Returns the route's index for record().
  std::size_t add_route(std::string method, std::string pattern);
  // Any thread. route may be kNoRoute (404s and transport errors).
  void record(std::size_t route, int status, int64_t duration_ns);
  static constexpr std::size_t kNoRoute = 0;

  // Gauges supplied by their owners at render time.
  void add_gauge(std::string name, std::string help, std::function<double()> read);

  std::string render() const;

  Metrics();

 private:
  struct RouteStats {
    std::string method;
    std::string pattern;
    std::array<std::atomic<uint64_t>, 500> by_status{};  // index status - 100
    std::array<std::atomic<uint64_t>, kBucketsSeconds.size() + 1> buckets{};
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> sum_ns{0};
  };
  struct Gauge {
    std::string name, help;
    std::function<double()> read;
  };
  std::vector<std::unique_ptr<RouteStats>> routes_;
  std::vector<Gauge> gauges_;
};

}  // namespace bourse::gateway

// A fixed-size latency histogram in microseconds: exact to 1 µs below 2 ms,
// then 10 µs to 20 ms, 100 µs to 200 ms, 1 ms to 20 s (values above land in
// the last bucket). Merging is adding; quantiles return the bucket's upper
// edge, so they never flatter. Header-only: the fan-out load generator and
// the raw TCP floor program share it.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace bourse::app {

class LatencyHistogram {
 public:
  static constexpr std::size_t kBuckets = 2000 + 1800 + 1800 + 19800;

  void add(int64_t us) {
    if (us < 0) us = 0;
    ++counts_[index(us)];
    ++total_;
  }
  void merge(const LatencyHistogram& o) {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
  }
  uint64_t total() const { return total_; }
  // q in [0, 1]; 0 when empty. Milliseconds.
  double quantile_ms(double q) const {
    if (total_ == 0) return 0;
    const uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return static_cast<double>(upper_us(i)) / 1000.0;
    }
    return static_cast<double>(upper_us(kBuckets - 1)) / 1000.0;
  }
  const uint64_t* data() const { return counts_.data(); }
  uint64_t* data() { return counts_.data(); }
  void recount() {
    total_ = 0;
    for (uint64_t c : counts_) total_ += c;
  }

 private:
  static std::size_t index(int64_t us) {
    if (us < 2'000) return static_cast<std::size_t>(us);
    if (us < 20'000) return 2'000 + static_cast<std::size_t>((us - 2'000) / 10);
    if (us < 200'000) return 3'800 + static_cast<std::size_t>((us - 20'000) / 100);
    if (us < 20'000'000) return 5'600 + static_cast<std::size_t>((us - 200'000) / 1'000);
    return kBuckets - 1;
  }
  static int64_t upper_us(std::size_t i) {
    if (i < 2'000) return static_cast<int64_t>(i) + 1;
    if (i < 3'800) return 2'000 + static_cast<int64_t>(i - 2'000 + 1) * 10;
    if (i < 5'600) return 20'000 + static_cast<int64_t>(i - 3'800 + 1) * 100;
    return 200'000 + static_cast<int64_t>(i - 5'600 + 1) * 1'000;
  }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
};

}  // namespace bourse::app

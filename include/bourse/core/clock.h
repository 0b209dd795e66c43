// Time source for the sequencer (the engine itself reads no clock). Tests use
// ManualClock to make timestamps deterministic.
#pragma once

#include <time.h>

#include "bourse/core/types.h"

namespace bourse {

class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds since the Unix epoch.
  virtual Timestamp now() = 0;
};

class SystemClock final : public Clock {
 public:
  Timestamp now() override {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<Timestamp>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start = 1'700'000'000'000'000'000) : now_(start) {}
  Timestamp now() override { return now_; }
  void set(Timestamp t) { now_ = t; }
  void advance(Timestamp d) { now_ += d; }

 private:
  Timestamp now_;
};

// Monotonic nanoseconds for measuring durations (benchmarks, latencies).
inline int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace bourse

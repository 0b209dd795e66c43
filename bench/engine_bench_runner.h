// The engine benchmark behind `bourse bench engine` and bench/engine_bench:
// throughput (back to back), latency at an offered rate (open loop: each
// command is due at t0 + i/rate and its latency counts from when it was due,
// so queueing behind a slow command is included), the journaled pipeline with
// command-to-durable latency, heap allocations per command, and bytes of
// memory per resting order. Reports figures; never asserts on them.
#pragma once

#include <cstdint>
#include <string>

#include "bench/engine_workload.h"

namespace bourse::bench {

enum class JournalMode { kNone, kAsync, kFsync };

struct RunOptions {
  WorkloadConfig workload;
  uint64_t offered_rate = 1'000'000;  // commands/s for the latency pass; 0 skips it
  JournalMode journal = JournalMode::kNone;
  std::string journal_dir;            // required unless journal == kNone
  uint64_t memory_orders = 0;         // > 0: measure bytes per resting order with this many
  uint64_t (*allocation_count)() = nullptr;  // global operator new counter, if linked
};

struct Percentiles {
  int64_t p50 = 0, p99 = 0, p999 = 0, p9999 = 0, max = 0;
};

struct RunResult {
  std::string scenario;
  uint64_t commands = 0;
  double seconds = 0;               // throughput pass (or journaled pass)
  double throughput_per_s = 0;
  uint64_t offered_rate = 0;
  Percentiles latency_ns;           // at the offered rate (open loop)
  Percentiles service_ns;           // the apply() call alone, same pass
  Percentiles floor_ns;             // the same open loop doing nothing: this machine's jitter
  double achieved_rate = 0;
  int64_t allocations = -1;         // -1: no counter linked
  double allocations_per_command = -1;
  uint64_t trades = 0;
  uint64_t resting_orders_end = 0;
  uint64_t levels_end = 0;
  // Journaled pass.
  std::string journal;
  Percentiles durable_ns;           // submit -> durable
  uint64_t journal_batches = 0;
  // Memory.
  uint64_t memory_orders = 0;
  double bytes_per_resting_order = 0;
  std::size_t sizeof_order = 0;

  std::string to_json() const;
  std::string to_text() const;
};

RunResult run_engine_bench(const RunOptions& options);

}  // namespace bourse::bench

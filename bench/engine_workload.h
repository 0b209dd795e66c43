// Synthetic command streams for the engine benchmark. A stream is generated
// ahead of time against a shadow engine (so cancels and amends name live
// orders), then replayed on a fresh engine by the runner: generation costs
// nothing in the measured phase, and the replay is deterministic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bourse/engine/engine.h"

namespace bourse::bench {

enum class Mix {
  // Like exchange-core's published benchmark: mostly moves (price amends),
  // some reductions, new GTC orders, cancels and aggressive IOC orders.
  kExchangeCore,
  // Adds only, at 5 levels around the touch on a random side; some cross.
  kPlaceOnly,
};

struct WorkloadConfig {
  Mix mix = Mix::kExchangeCore;
  uint32_t symbols = 1;
  uint32_t accounts = 10'000;
  uint32_t levels_per_side = 500;  // ~1,000 price levels per book
  uint32_t orders_per_level = 10;  // resting orders placed in the setup
  uint64_t commands = 2'000'000;
  uint64_t seed = 42;
};

struct Workload {
  EngineConfig engine_config;
  std::vector<Command> setup;     // assets, instruments, accounts, deposits, book pre-fill
  std::vector<Command> commands;  // the measured stream
};

// Commands carry seq and timestamp already (seq continues after setup).
Workload make_workload(const WorkloadConfig& config);

const char* mix_name(Mix m);

}  // namespace bourse::bench

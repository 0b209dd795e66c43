// Soak: millions of differential commands over many seeds and configurations.
//   differential_soak [commands = 10,000,000] [first seed = 1000]
// Progress goes to stderr; exit status 0 when every command matched.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/differential_driver.h"

namespace {

constexpr uint64_t kCommandsPerSeed = 250'000;

// Rotates through the configurations the unit test uses.
bourse::testing::RandomCommandConfig config_for(uint64_t i) {
  bourse::testing::RandomCommandConfig config;
  switch (i % 4) {
    case 1:
      config.target_live_orders = 600;
      config.price_spread_ticks = 3;
      break;
    case 2:
      config.instruments = 1;
      config.accounts = 6;
      break;
    case 3:
      config.accounts = 3;
      break;
    default:
      break;
  }
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t total = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10'000'000;
  const uint64_t first_seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1000;
  if (total == 0) {
    std::fprintf(stderr, "usage: %s [commands] [first seed]\n", argv[0]);
    return 2;
  }
  const auto start = std::chrono::steady_clock::now();
  uint64_t done = 0;
  uint64_t trades = 0;
  for (uint64_t i = 0; done < total; ++i) {
    const uint64_t seed = first_seed + i;
    const uint64_t n = std::min(kCommandsPerSeed, total - done);
    const bourse::testing::DifferentialResult r = bourse::testing::run_differential(seed, n, config_for(i));
    if (!r.ok) {
      std::fprintf(stderr, "%s\n", r.failure.c_str());
      std::fprintf(stderr, "FAILED after %llu commands\n", static_cast<unsigned long long>(done + r.commands));
      return 1;
    }
    done += n;
    const auto it = r.event_counts.find(bourse::EventType::kTrade);
    trades += it == r.event_counts.end() ? 0 : it->second;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "seed %llu ok: %llu / %llu commands, %llu trades, %.0f s, %.0f commands/s\n",
                 static_cast<unsigned long long>(seed), static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total), static_cast<unsigned long long>(trades), secs,
                 secs > 0 ? static_cast<double>(done) / secs : 0.0);
  }
  std::fprintf(stderr, "PASSED: %llu commands\n", static_cast<unsigned long long>(done));
  return 0;
}

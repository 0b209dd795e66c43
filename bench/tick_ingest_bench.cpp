// Ticks into candles at all six intervals and the standard indicator set
// (marketdata::CandleBook), on one thread. Ticks are generated up front
// (a random walk per instrument, 1–10 ms apart, interleaved across
// instruments the way a consolidated feed arrives), so only ingestion is
// timed. Prints one JSON object. Usage:
//   build/release/bench/tick_ingest_bench [TICKS=20000000] [INSTRUMENTS=100]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "marketdata/indicators.h"

int main(int argc, char** argv) {
  using namespace bourse::marketdata;
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20'000'000;
  const uint32_t instruments = argc > 2 ? static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10)) : 100;
  if (n == 0 || instruments == 0) return 2;
  struct Input {
    uint32_t instrument;
    Tick tick;
  };
  std::vector<Input> input;
  input.reserve(n);
  std::mt19937_64 rng(42);
  std::vector<int64_t> price(instruments, 1'000'000);
  int64_t t = 1'790'000'000'000'000'000;
  for (std::size_t i = 0; i < n; ++i) {
    // A consolidated feed: runs of a few ticks per instrument.
    const uint32_t id = static_cast<uint32_t>((i / 4) % instruments);
    t += static_cast<int64_t>(1 + rng() % 10) * 1'000'000 / instruments;
    int64_t& p = price[id];
    p = std::max<int64_t>(1, p + static_cast<int64_t>(rng() % 201) - 100);
    input.push_back(Input{id, Tick{t, p, static_cast<int64_t>(1 + rng() % 1'000)}});
  }
  CandleBook book;
  const auto start = std::chrono::steady_clock::now();
  for (const Input& in : input) book.add(in.instrument, in.tick);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& s = book.stats();
  std::printf("{\"ticks\":%zu,\"instruments\":%u,\"seconds\":%.3f,\"ticks_per_s\":%.0f,\"candles_closed\":%llu,"
              "\"late\":%llu,\"market_seconds\":%.0f}\n",
              n, instruments, seconds, static_cast<double>(n) / seconds,
              static_cast<unsigned long long>(s.candles_closed), static_cast<unsigned long long>(s.late),
              static_cast<double>(t - 1'790'000'000'000'000'000) / 1e9);
  return 0;
}

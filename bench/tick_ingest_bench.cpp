// Ticks into candles at all six intervals and the standard indicator set
// (marketdata::CandleBook), on one thread. Ticks are generated up front
// (a random walk per instrument, 1–10 ms apart, interleaved across
// instruments the way a consolidated feed arrives), so only ingestion is
// timed. Prints one JSON object. Usage:
//   build/release/bench/tick_ingest_bench [TICKS=20000000] [INSTRUMENTS=100] [csv|ndjson]
// With csv or ndjson the ticks are text lines, as a feed or a file sends
// them, and the timed loop also parses each (ingest/tick_line: the format,
// the time, the exact price and quantity decimals) and looks the symbol up.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <string>
#include <string_view>
#include <unordered_map>

#include "bourse/core/decimal.h"
#include "ingest/tick_line.h"
#include "marketdata/indicators.h"

int main(int argc, char** argv) {
  using namespace bourse::marketdata;
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20'000'000;
  const uint32_t instruments = argc > 2 ? static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10)) : 100;
  const std::string mode = argc > 3 ? argv[3] : "ticks";
  if (n == 0 || instruments == 0 || (mode != "ticks" && mode != "csv" && mode != "ndjson")) return 2;
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
  std::string text;  // every line, '\n'-terminated, when the input is text
  std::unordered_map<std::string, uint32_t> symbols;
  if (mode != "ticks") {
    auto decimal = [](int64_t v, int scale) { return bourse::format_decimal(v, scale); };
    for (uint32_t id = 0; id < instruments; ++id) symbols.emplace("SYM" + std::to_string(id) + "-USD", id);
    for (const Input& in : input) {
      const std::string symbol = "SYM" + std::to_string(in.instrument) + "-USD";
      if (mode == "csv") {
        text += symbol + "," + std::to_string(in.tick.time_ns) + "," + decimal(in.tick.price, 2) + "," +
                std::to_string(in.tick.qty) + ",buy\n";
      } else {
        text += R"({"symbol":")" + symbol + R"(","time":)" + std::to_string(in.tick.time_ns) + R"(,"price":")" +
                decimal(in.tick.price, 2) + R"(","qty":")" + std::to_string(in.tick.qty) + "\"}\n";
      }
    }
  }
  uint64_t refused = 0;
  const auto start = std::chrono::steady_clock::now();
  if (mode == "ticks") {
    for (const Input& in : input) book.add(in.instrument, in.tick);
  } else {
    std::string_view rest(text);
    while (!rest.empty()) {
      const std::size_t nl = rest.find('\n');
      const std::string_view line = rest.substr(0, nl);
      rest.remove_prefix(nl + 1);
      bourse::ingest::TickLine parsed;
      if (bourse::ingest::parse_tick_line(line, &parsed) != bourse::ingest::TickError::kOk) {
        ++refused;
        continue;
      }
      const auto it = symbols.find(std::string(parsed.symbol));
      const auto p = bourse::parse_decimal(parsed.price, 2);
      const auto q = bourse::parse_decimal(parsed.qty, 0);
      if (it == symbols.end() || !p.ok() || !q.ok()) {
        ++refused;
        continue;
      }
      book.add(it->second, Tick{parsed.time_ns, p.value, q.value});
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& s = book.stats();
  std::printf("{\"input\":\"%s\",\"refused\":%llu,\"ticks\":%zu,\"instruments\":%u,\"seconds\":%.3f,\"ticks_per_s\":%.0f,\"candles_closed\":%llu,"
              "\"late\":%llu,\"market_seconds\":%.0f}\n",
              mode.c_str(), static_cast<unsigned long long>(refused), n, instruments, seconds, static_cast<double>(n) / seconds,
              static_cast<unsigned long long>(s.candles_closed), static_cast<unsigned long long>(s.late),
              static_cast<double>(t - 1'790'000'000'000'000'000) / 1e9);
  return 0;
}

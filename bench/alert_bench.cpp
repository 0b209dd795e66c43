// Alert evaluation cost per tick (alerts::AlertBook), one thread. Loads
// ALERTS rules (default 1,000,000) on INSTRUMENTS instruments (default 1:
// every rule in one index, the deepest case). Thresholds are uniform within
// ±10% of 65,000.00 on a 0.01 grid (1.3 million price levels, as BTC-USD
// has); half "crosses above", half "crosses below".
// Modes:
//   oneshot (default): one-shot rules; each one that fires is replaced by a
//     new one elsewhere (outside the timed call), so 1,000,000 stay active.
//   recurring: every rule recurring with a 60 s cool-down (rules re-arm in
//     bursts: the tail shows them).
// Then TICKS ticks, a random walk of -3..+3 cents a tick, each timed alone
// with steady_clock; the clock's own cost is measured in the same run and
// reported beside it. Prints one JSON object.
//   build/release/bench/alert_bench [ALERTS=1000000] [INSTRUMENTS=1] [TICKS=2000000] [oneshot|recurring]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "alerts/alert_book.h"

int main(int argc, char** argv) {
  using namespace bourse;
  using Steady = std::chrono::steady_clock;
  const uint64_t alerts = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  const uint32_t instruments = argc > 2 ? static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10)) : 1;
  const uint64_t ticks = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 2'000'000;
  const std::string mode = argc > 4 ? argv[4] : "oneshot";
  if (alerts == 0 || instruments == 0 || ticks == 0 || (mode != "oneshot" && mode != "recurring")) return 2;
  const bool recurring = mode == "recurring";
  constexpr int64_t kStart = 6'500'000;  // 65,000.00 at 2 decimals
  constexpr int64_t kSpread = 650'000;   // ±10%
  std::mt19937_64 rng(11);
  alerts::AlertBook book;
  uint64_t next_id = 1;
  auto add_rule = [&](uint32_t instrument) {
    alerts::AlertRule r;
    r.id = next_id++;
    r.account = AccountId{static_cast<uint32_t>(1 + r.id % 10'000)};
    r.instrument = InstrumentId{instrument};
    r.condition = r.id % 2 ? alerts::AlertCondition::kCrossesAbove : alerts::AlertCondition::kCrossesBelow;
    r.threshold = Price{kStart - kSpread + static_cast<int64_t>(rng() % (2 * kSpread + 1))};
    r.recurring = recurring;
    r.cooldown_ns = recurring ? 60'000'000'000 : 0;
    book.add(r);
  };
  const auto load_start = Steady::now();
  for (uint64_t k = 0; k < alerts; ++k) add_rule(1 + static_cast<uint32_t>(k % instruments));
  const double load_s = std::chrono::duration<double>(Steady::now() - load_start).count();

  std::vector<int64_t> price(instruments + 1, kStart);
  std::vector<double> cost(ticks), floor_ns(ticks);
  std::vector<alerts::AlertFired> fired;
  uint64_t fired_total = 0;
  Timestamp now = 1'790'000'000'000'000'000;
  for (uint64_t i = 0; i < ticks; ++i) {
    const uint32_t inst = 1 + static_cast<uint32_t>(i % instruments);
    const int64_t from = price[inst];
    const int64_t to = std::clamp<int64_t>(from + static_cast<int64_t>(rng() % 7) - 3, kStart - kSpread, kStart + kSpread);
    now += 1'000'000;  // a tick a millisecond
    fired.clear();
    const auto t0 = Steady::now();
    book.on_price(InstrumentId{inst}, Price{from}, Price{to}, now, &fired);
    const auto t1 = Steady::now();
    cost[i] = std::chrono::duration<double, std::nano>(t1 - t0).count();
    fired_total += fired.size();
    price[inst] = to;
    if (!recurring) {
      for (std::size_t k = 0; k < fired.size(); ++k) add_rule(inst);  // keep the book full (not timed)
    }
    const auto f0 = Steady::now();
    const auto f1 = Steady::now();
    floor_ns[i] = std::chrono::duration<double, std::nano>(f1 - f0).count();
  }
  auto pct = [](std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
  };
  std::printf(
      "{\"mode\":\"%s\",\"alerts\":%llu,\"active_at_end\":%zu,\"instruments\":%u,\"ticks\":%llu,\"load_s\":%.2f,\"fired\":%llu,"
      "\"tick_ns_p50\":%.0f,\"tick_ns_p99\":%.0f,\"tick_ns_p999\":%.0f,\"clock_floor_ns_p50\":%.0f}\n",
      mode.c_str(), static_cast<unsigned long long>(alerts), book.size(), instruments, static_cast<unsigned long long>(ticks), load_s,
      static_cast<unsigned long long>(fired_total), pct(cost, 0.5), pct(cost, 0.99), pct(cost, 0.999),
      pct(floor_ns, 0.5));
  return 0;
}

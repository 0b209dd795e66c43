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
//   mixed: the whole AlertEngine (what the alert service calls per trade):
//     70% crossings, 10% percent change (windows 5, 15, 60, 240, 1440 min),
//     10% volume spikes (1m and 5m, 20 bars), 10% RSI levels (1m and 5m);
//     one-shots, each fired one replaced. A trade also updates the minute
//     prices and the candles and indicators at six intervals.
// Then TICKS ticks, a random walk of -3..+3 cents a tick, each timed alone
// with steady_clock; the clock's own cost is measured in the same run and
// reported beside it. Prints one JSON object.
//   build/release/bench/alert_bench [ALERTS=1000000] [INSTRUMENTS=1] [TICKS=2000000] [oneshot|recurring|mixed]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "alerts/alert_book.h"
#include "alerts/alert_engine.h"

namespace {

double pct(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

// The AlertEngine with every rule kind (mode "mixed").
int run_mixed(uint64_t alerts, uint64_t ticks) {
  using namespace bourse;
  using Steady = std::chrono::steady_clock;
  constexpr int64_t kStart = 6'500'000;
  constexpr int64_t kSpread = 650'000;
  std::mt19937_64 rng(11);
  alerts::AlertEngine engine;
  uint64_t next_id = 1;
  auto add_rule = [&] {
    alerts::AlertSpec s;
    s.id = next_id++;
    s.account = AccountId{static_cast<uint32_t>(1 + s.id % 10'000)};
    s.instrument = InstrumentId{1};
    const uint64_t roll = rng() % 10;
    const auto interval = rng() % 2 ? marketdata::Interval::k1m : marketdata::Interval::k5m;
    if (roll < 7) {
      s.kind = s.id % 2 ? alerts::AlertKind::kPriceAbove : alerts::AlertKind::kPriceBelow;
      s.threshold = kStart - kSpread + static_cast<int64_t>(rng() % (2 * kSpread + 1));
    } else if (roll == 7) {
      static constexpr uint32_t kWindows[] = {5, 15, 60, 240, 1'440};
      s.kind = s.id % 2 ? alerts::AlertKind::kChangeUp : alerts::AlertKind::kChangeDown;
      s.window_minutes = kWindows[rng() % 5];
      s.threshold = 1 + static_cast<int64_t>(rng() % 1'000);  // 0.01%..10%
    } else if (roll == 8) {
      s.kind = alerts::AlertKind::kVolumeSpike;
      s.interval = interval;
      s.lookback = 20;
      s.threshold = 15'000 + static_cast<int64_t>(rng() % 85'000);  // 1.5×..10×
    } else {
      s.kind = s.id % 2 ? alerts::AlertKind::kIndicatorAbove : alerts::AlertKind::kIndicatorBelow;
      s.interval = interval;
      s.indicator = alerts::Indicator::kRsi;
      s.threshold = (s.kind == alerts::AlertKind::kIndicatorAbove ? 60 : 10) * 100'000'000LL +
                    static_cast<int64_t>(rng() % 30) * 100'000'000LL;
    }
    engine.add(s);
  };
  const auto load_start = Steady::now();
  for (uint64_t k = 0; k < alerts; ++k) add_rule();
  const double load_s = std::chrono::duration<double>(Steady::now() - load_start).count();
  std::vector<double> cost(ticks), floor_ns(ticks);
  std::vector<alerts::Firing> fired;
  uint64_t fired_total = 0;
  int64_t price = kStart;
  Timestamp now = 1'790'000'000'000'000'000;
  for (uint64_t i = 0; i < ticks; ++i) {
    price = std::clamp<int64_t>(price + static_cast<int64_t>(rng() % 7) - 3, kStart - kSpread, kStart + kSpread);
    now += 1'000'000;
    const int64_t qty = 1 + static_cast<int64_t>(rng() % (rng() % 100 == 0 ? 5'000 : 100));
    fired.clear();
    const auto t0 = Steady::now();
    engine.on_trade(InstrumentId{1}, Price{price}, Qty{qty}, now, &fired);
    const auto t1 = Steady::now();
    cost[i] = std::chrono::duration<double, std::nano>(t1 - t0).count();
    fired_total += fired.size();
    for (std::size_t k = 0; k < fired.size(); ++k) add_rule();
    const auto f0 = Steady::now();
    const auto f1 = Steady::now();
    floor_ns[i] = std::chrono::duration<double, std::nano>(f1 - f0).count();
  }
  std::printf(
      "{\"mode\":\"mixed\",\"alerts\":%llu,\"active_at_end\":%zu,\"instruments\":1,\"ticks\":%llu,\"load_s\":%.2f,"
      "\"fired\":%llu,\"tick_ns_p50\":%.0f,\"tick_ns_p99\":%.0f,\"tick_ns_p999\":%.0f,\"clock_floor_ns_p50\":%.0f}\n",
      static_cast<unsigned long long>(alerts), engine.size(), static_cast<unsigned long long>(ticks), load_s,
      static_cast<unsigned long long>(fired_total), pct(cost, 0.5), pct(cost, 0.99), pct(cost, 0.999),
      pct(floor_ns, 0.5));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bourse;
  using Steady = std::chrono::steady_clock;
  const uint64_t alerts = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  const uint32_t instruments = argc > 2 ? static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10)) : 1;
  const uint64_t ticks = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 2'000'000;
  const std::string mode = argc > 4 ? argv[4] : "oneshot";
  if (mode == "mixed" && alerts > 0 && ticks > 0) return run_mixed(alerts, ticks);
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
  std::printf(
      "{\"mode\":\"%s\",\"alerts\":%llu,\"active_at_end\":%zu,\"instruments\":%u,\"ticks\":%llu,\"load_s\":%.2f,\"fired\":%llu,"
      "\"tick_ns_p50\":%.0f,\"tick_ns_p99\":%.0f,\"tick_ns_p999\":%.0f,\"clock_floor_ns_p50\":%.0f}\n",
      mode.c_str(), static_cast<unsigned long long>(alerts), book.size(), instruments, static_cast<unsigned long long>(ticks), load_s,
      static_cast<unsigned long long>(fired_total), pct(cost, 0.5), pct(cost, 0.99), pct(cost, 0.999),
      pct(floor_ns, 0.5));
  return 0;
}

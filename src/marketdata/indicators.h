// Incremental technical indicators over closed candles, in exact
// fixed-point arithmetic so that every process, replay and test computes
// the same digits.
//
// Values are `Fixed`: the instrument's raw price units × 10^8 (RSI: percent
// × 10^8). Each division rounds half away from zero (div_round); square
// roots floor. The definitions (docs/market-data.md):
//   SMA(n)    = Σ close / n over the last n closes
//   EMA(n)    seeded with the SMA of the first n inputs, then
//             ema += (2 · (x − ema)) / (n + 1)
//   RSI(n)    Wilder: the first averages are the means of the first n gains
//             and losses, then avg = (avg · (n − 1) + current) / n;
//             RSI = 100 · gain / (gain + loss), 50 when both are 0
//   MACD(f,s,g) = EMA(f) − EMA(s) of closes; signal = EMA(g) of MACD;
//             histogram = MACD − signal
//   Bollinger(n,k): mid = SMA(n); σ = √round(Σ(n·xᵢ − Σx)² / n³) (the
//             population deviation), bands mid ± k·σ (k in tenths)
//   VWAP      anchored at 00:00 UTC: Σ price·qty / Σ qty of the day's candles
// A value is absent until enough candles closed. Bollinger needs |close| <
// 10^13 raw units (so its sums fit 128 bits); beyond, it reports nothing.
//
// Threads: none; the owner serializes calls.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bourse/core/checked.h"
#include "marketdata/candles.h"

namespace bourse::marketdata {

using Fixed = Int128;
inline constexpr int kFixedDigits = 8;
inline constexpr Int128 kFixedOne = 100'000'000;

// n / d rounded to nearest, ties away from zero; d > 0.
Int128 div_round(Int128 n, Int128 d);
// floor(√a · 10^8) for 0 ≤ a < 2^126.
Int128 sqrt_fixed(Int128 a);
// n / d as Fixed (× 10^8, rounded), without forming n · 10^8: exact for any
// n whose quotient fits; 0 < d < 10^30.
Fixed div_fixed(Int128 n, Int128 d);
// "123.45678901" for raw price units with `price_scale` decimals.
std::string format_fixed(Fixed value, int price_scale);

class Sma {
 public:
  explicit Sma(int period);
  std::optional<Fixed> add(int64_t close);
  std::optional<Fixed> value() const { return value_; }

 private:
  int period_;
  std::vector<int64_t> window_;  // ring
  std::size_t next_ = 0, count_ = 0;
  Int128 sum_ = 0;
  std::optional<Fixed> value_;
};

// Over Fixed inputs (so MACD's signal line reuses it).
class Ema {
 public:
  explicit Ema(int period);
  std::optional<Fixed> add(Fixed x);
  std::optional<Fixed> value() const { return value_; }

 private:
  int period_;
  int seen_ = 0;
  Int128 seed_sum_ = 0;
  std::optional<Fixed> value_;
};

class Rsi {
 public:
  explicit Rsi(int period);
  std::optional<Fixed> add(int64_t close);
  std::optional<Fixed> value() const { return value_; }

 private:
  int period_;
  std::optional<int64_t> previous_;
  int changes_ = 0;
  Int128 gain_ = 0, loss_ = 0;  // sums while seeding, then Wilder averages (Fixed)
  std::optional<Fixed> value_;
};

struct MacdValue {
  Fixed macd = 0;
  std::optional<Fixed> signal, histogram;
};

class Macd {
 public:
  Macd(int fast, int slow, int signal);
  std::optional<MacdValue> add(int64_t close);
  std::optional<MacdValue> value() const { return value_; }

 private:
  Ema fast_, slow_, signal_;
  std::optional<MacdValue> value_;
};

struct BollingerValue {
  Fixed middle = 0, upper = 0, lower = 0, sigma = 0;
};

class Bollinger {
 public:
  static constexpr int64_t kMaxInput = 10'000'000'000'000;  // 10^13 raw units
  Bollinger(int period, int k_tenths);
  std::optional<BollingerValue> add(int64_t close);
  std::optional<BollingerValue> value() const { return value_; }

 private:
  int period_, k_tenths_;
  std::vector<int64_t> window_;
  std::size_t next_ = 0, count_ = 0;
  std::optional<BollingerValue> value_;
};

class SessionVwap {
 public:
  std::optional<Fixed> add(const Candle& candle);
  std::optional<Fixed> value() const { return value_; }

 private:
  int64_t day_ = INT64_MIN;
  bool saturated_ = false;
  Int128 notional_ = 0;
  Int128 volume_ = 0;
  std::optional<Fixed> value_;
};

// The standard set kept for every (instrument, interval): SMA(20), EMA(20),
// RSI(14), MACD(12, 26, 9), Bollinger(20, 2.0), session VWAP.
struct IndicatorValues {
  std::optional<Fixed> sma, ema, rsi, vwap;
  std::optional<MacdValue> macd;
  std::optional<BollingerValue> bollinger;
};

class IndicatorSet {
 public:
  IndicatorSet();
  // A candle closed.
  void add(const Candle& candle);
  IndicatorValues values() const;

 private:
  Sma sma_;
  Ema ema_;
  Rsi rsi_;
  Macd macd_;
  Bollinger bollinger_;
  SessionVwap vwap_;
};

// Every instrument's candles at every interval and their indicators: what
// ticks (venue trades, external feeds) are ingested into.
class CandleBook {
 public:
  struct Stats {
    uint64_t ticks = 0;
    uint64_t late = 0;            // dropped: older than the open bar (per interval)
    uint64_t candles_closed = 0;
  };

  explicit CandleBook(std::size_t keep_closed = 1'000) : keep_closed_(keep_closed) {}
  void add(uint32_t instrument, const Tick& tick);
  // Seeds one series from stored bars (oldest first; the newest is the open
  // bar; the series keeps the newest keep_closed) and recomputes its
  // indicators over all the closed ones, in order.
  void restore(uint32_t instrument, Interval interval, const std::vector<Candle>& bars);
  const CandleSeries* series(uint32_t instrument, Interval interval) const;
  std::optional<IndicatorValues> indicators(uint32_t instrument, Interval interval) const;
  const Stats& stats() const { return stats_; }

 private:
  struct Instrument {
    std::vector<CandleSeries> series;     // by Interval
    std::vector<IndicatorSet> indicators; // by Interval
  };
  Instrument& slot(uint32_t instrument);

  std::size_t keep_closed_;
  std::unordered_map<uint32_t, std::unique_ptr<Instrument>> instruments_;
  uint32_t last_id_ = UINT32_MAX;          // one-entry cache: feeds repeat instruments
  Instrument* last_ = nullptr;
  Stats stats_;
};

}  // namespace bourse::marketdata

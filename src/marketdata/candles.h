// Candles: OHLCV bars per interval (1s, 1m, 5m, 15m, 1h, 1d), built
// incrementally from ticks (trades on the venue or ticks ingested from
// outside). Integers only: prices and quantities in the instrument's raw
// units (price × 10^price_scale, qty × 10^base scale), so a candle is exact.
//
// A bar covers [open_time, open_time + interval) with open_time a multiple of
// the interval since the epoch (UTC). Bars without ticks are not produced
// (a quiet minute has no candle). Ticks must arrive in time order per
// series; a tick older than the open bar is late: it is counted and dropped
// (a closed candle never changes, so what a client saw stays true).
//
// Threads: none; the owner serializes calls.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <vector>

#include "bourse/core/checked.h"

namespace bourse::marketdata {

enum class Interval : uint8_t { k1s, k1m, k5m, k15m, k1h, k1d };
inline constexpr std::array<Interval, 6> kIntervals = {Interval::k1s,  Interval::k1m, Interval::k5m,
                                                       Interval::k15m, Interval::k1h, Interval::k1d};

int64_t interval_ns(Interval interval);
std::string_view interval_name(Interval interval);  // "1s", "1m", "5m", "15m", "1h", "1d"
std::optional<Interval> parse_interval(std::string_view name);

struct Tick {
  int64_t time_ns = 0;  // since the epoch
  int64_t price = 0;    // raw price units, > 0
  int64_t qty = 0;      // raw base units, >= 0 (0: a price-only reference tick)
};

struct Candle {
  int64_t open_time_ns = 0;
  int64_t open = 0, high = 0, low = 0, close = 0;
  int64_t volume = 0;     // Σ qty, saturating
  Int128 notional = 0;    // Σ price × qty (raw units; VWAP = notional / volume)
  uint32_t ticks = 0;
  bool operator==(const Candle&) const = default;
};

class CandleSeries {
 public:
  enum class Result { kUpdated, kClosedPrevious, kLate };

  // Keeps the newest `keep_closed` closed candles in memory.
  explicit CandleSeries(Interval interval, std::size_t keep_closed = 1'000);

  // Adds a tick. kClosedPrevious: the tick opened a new bar and *closed is
  // the bar it closed (also appended to closed()).
  Result add(const Tick& tick, Candle* closed);

  // Starts over from stored bars (oldest first, e.g. after a restart): the
  // newest becomes the open bar, the others closed (the newest keep_closed).
  void restore(const std::vector<Candle>& bars);

  Interval interval() const { return interval_; }
  const std::optional<Candle>& current() const { return current_; }
  const std::deque<Candle>& closed() const { return closed_; }  // oldest first
  std::size_t keep_closed() const { return keep_closed_; }
  uint64_t late_ticks() const { return late_; }

 private:
  Interval interval_;
  int64_t width_ns_;
  std::size_t keep_closed_;
  std::optional<Candle> current_;
  std::deque<Candle> closed_;
  uint64_t late_ = 0;
};

}  // namespace bourse::marketdata

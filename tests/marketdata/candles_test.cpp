// Candles against a naive reference: random ticks (with gaps, bursts in one
// bar and late ticks) grouped by floor(time / interval) from scratch must
// give the same bars, in order, as the incremental series, for every
// interval.
#include "marketdata/candles.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "marketdata/indicators.h"

namespace bourse::marketdata {
namespace {

std::vector<Tick> random_ticks(uint64_t seed, std::size_t n) {
  std::mt19937_64 rng(seed);
  std::vector<Tick> ticks;
  int64_t t = 1'790'000'000'000'000'000;  // 2026
  int64_t price = 6'500'000;
  for (std::size_t i = 0; i < n; ++i) {
    const uint64_t r = rng() % 100;
    // Mostly small steps; sometimes a quiet stretch; sometimes a late tick.
    if (r < 3) t += static_cast<int64_t>(rng() % 4'000) * 1'000'000'000;  // up to ~1 h of silence
    else if (r < 6) t -= static_cast<int64_t>(rng() % 120) * 1'000'000'000;  // up to 2 min late
    else t += static_cast<int64_t>(rng() % 700) * 1'000'000;
    price = std::max<int64_t>(1, price + static_cast<int64_t>(rng() % 2001) - 1000);
    ticks.push_back(Tick{t, price, static_cast<int64_t>(rng() % 50'000)});
  }
  return ticks;
}

TEST(Candles, IncrementalEqualsGroupingFromScratch) {
  const auto ticks = random_ticks(11, 60'000);
  for (Interval interval : kIntervals) {
    CandleSeries series(interval, 1'000'000);
    std::size_t closed_events = 0;
    for (const Tick& t : ticks) {
      Candle closed;
      if (series.add(t, &closed) == CandleSeries::Result::kClosedPrevious) {
        ++closed_events;
        EXPECT_EQ(closed, series.closed().back());
      }
    }
    // Reference: a tick older than the newest bar seen so far is late.
    const int64_t w = interval_ns(interval);
    std::map<int64_t, Candle> bars;
    int64_t newest = INT64_MIN;
    uint64_t late = 0;
    for (const Tick& t : ticks) {
      const int64_t open = t.time_ns / w * w;  // times are positive
      if (open < newest) {
        ++late;
        continue;
      }
      newest = open;
      auto [it, fresh] = bars.try_emplace(open);
      Candle& c = it->second;
      if (fresh) c = Candle{open, t.price, t.price, t.price, t.price, 0, 0, 0};
      c.high = std::max(c.high, t.price);
      c.low = std::min(c.low, t.price);
      c.close = t.price;
      c.volume += t.qty;
      c.notional += static_cast<Int128>(t.price) * t.qty;
      ++c.ticks;
    }
    ASSERT_FALSE(bars.empty());
    std::vector<Candle> want;
    for (const auto& [open, c] : bars) want.push_back(c);
    const Candle last = want.back();
    want.pop_back();
    EXPECT_EQ(std::vector<Candle>(series.closed().begin(), series.closed().end()), want) << interval_name(interval);
    EXPECT_EQ(series.current(), last);
    EXPECT_EQ(series.late_ticks(), late);
    EXPECT_EQ(closed_events, want.size());
    if (interval == Interval::k1s) {
      EXPECT_GT(late, 100u);  // the workload really has late ticks
    }
  }
}

TEST(Candles, KeepsABoundedHistoryAndAlignsToTheEpoch) {
  CandleSeries s(Interval::k1m, 3);
  for (int m = 0; m < 10; ++m) s.add(Tick{int64_t{m} * 60'000'000'000 + 59'999'999'999, 100 + m, 1}, nullptr);
  ASSERT_EQ(s.closed().size(), 3u);
  EXPECT_EQ(s.closed().front().open_time_ns, 6 * 60'000'000'000);
  EXPECT_EQ(s.current()->open_time_ns, 9 * 60'000'000'000);
  // Before 1970 bars still start on a multiple of the interval.
  CandleSeries old(Interval::k1s);
  old.add(Tick{-1, 5, 1}, nullptr);
  EXPECT_EQ(old.current()->open_time_ns, -1'000'000'000);
}

TEST(Candles, IntervalNames) {
  for (Interval i : kIntervals) EXPECT_EQ(parse_interval(interval_name(i)), i);
  EXPECT_FALSE(parse_interval("2m"));
  EXPECT_EQ(interval_ns(Interval::k1d), 86'400'000'000'000);
}

TEST(CandleBook, FeedsEveryIntervalAndIndicatorsPerInstrument) {
  CandleBook book(1'000'000);
  const auto ticks = random_ticks(5, 20'000);
  for (std::size_t i = 0; i < ticks.size(); ++i) book.add(i % 2 == 0 ? 1 : 2, ticks[i]);
  EXPECT_EQ(book.stats().ticks, ticks.size());
  ASSERT_NE(book.series(1, Interval::k1s), nullptr);
  EXPECT_EQ(book.series(3, Interval::k1s), nullptr);
  EXPECT_FALSE(book.indicators(3, Interval::k1m));
  const auto v = book.indicators(1, Interval::k1s);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->sma && v->ema && v->rsi && v->macd && v->bollinger && v->vwap);
  // Closed candles across intervals add up to what the series hold.
  uint64_t closed = 0;
  for (uint32_t id : {1u, 2u}) {
    for (Interval i : kIntervals) closed += book.series(id, i)->closed().size();
  }
  EXPECT_EQ(book.stats().candles_closed, closed);
}

}  // namespace
}  // namespace bourse::marketdata

// Indicators: the incremental versions against references that recompute
// each value from the whole series with the documented definitions (a
// different code path: windows re-summed, EMAs and Wilder averages re-run
// from the first close, the variance through n·Σx² − (Σx)²), digit for digit;
// and against textbook floating-point formulas within rounding.
#include "marketdata/indicators.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace bourse::marketdata {
namespace {

std::vector<int64_t> random_closes(uint64_t seed, std::size_t n, int64_t start = 6'500'000, int64_t step = 5'000) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> out;
  int64_t p = start;
  for (std::size_t i = 0; i < n; ++i) {
    p = std::max<int64_t>(1, p + static_cast<int64_t>(rng() % static_cast<uint64_t>(2 * step + 1)) - step);
    if (rng() % 50 == 0) out.push_back(out.empty() ? p : out.back());  // flat closes too
    else out.push_back(p);
  }
  return out;
}

Fixed ref_sma(const std::vector<int64_t>& x, std::size_t end, int n) {
  Int128 sum = 0;
  for (std::size_t i = end + 1 - static_cast<std::size_t>(n); i <= end; ++i) sum += x[i];
  return div_round(sum * kFixedOne, n);
}

// EMA of `in` from the first value, as defined (seeded with the SMA).
std::vector<std::optional<Fixed>> ref_ema(const std::vector<Fixed>& in, int n) {
  std::vector<std::optional<Fixed>> out(in.size());
  Int128 seed = 0;
  std::optional<Fixed> e;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (static_cast<int>(i) < n) {
      seed += in[i];
      if (static_cast<int>(i) == n - 1) e = div_round(seed, n);
    } else {
      e = *e + div_round(2 * (in[i] - *e), n + 1);
    }
    out[i] = e;
  }
  return out;
}

std::optional<Fixed> ref_rsi(const std::vector<int64_t>& x, std::size_t end, int n) {
  if (end < static_cast<std::size_t>(n)) return std::nullopt;
  Int128 g = 0, l = 0;
  for (std::size_t i = 1; i <= end; ++i) {
    const Int128 d = static_cast<Int128>(x[i]) - x[i - 1];
    const Int128 gain = d > 0 ? d * kFixedOne : 0, loss = d < 0 ? -d * kFixedOne : 0;
    if (i <= static_cast<std::size_t>(n)) {
      g += gain;
      l += loss;
      if (i == static_cast<std::size_t>(n)) g = div_round(g, n), l = div_round(l, n);
    } else {
      g = div_round(g * (n - 1) + gain, n);
      l = div_round(l * (n - 1) + loss, n);
    }
  }
  return g + l == 0 ? 50 * kFixedOne : div_round(100 * kFixedOne * g, g + l);
}

TEST(Fixed, RoundingSquareRootsAndFormatting) {
  EXPECT_EQ(div_round(5, 2), 3);
  EXPECT_EQ(div_round(-5, 2), -3);
  EXPECT_EQ(div_round(7, 3), 2);
  EXPECT_EQ(div_round(8, 3), 3);
  EXPECT_EQ(div_round(-8, 3), -3);
  EXPECT_EQ(div_round(1, 3), 0);
  EXPECT_EQ(sqrt_fixed(2), 141'421'356);  // √2 = 1.41421356237…
  EXPECT_EQ(sqrt_fixed(4), 200'000'000);
  EXPECT_EQ(sqrt_fixed(0), 0);
  EXPECT_EQ(sqrt_fixed(99), 994'987'437);  // √99 = 9.94987437106…
  // Near the top of the range: (√a · 10^8) floored, checked by squaring.
  const Int128 a = (static_cast<Int128>(1) << 125) + 12'345;
  const Int128 s = sqrt_fixed(a);
  __extension__ typedef unsigned __int128 U;
  // s² ≤ a·10^16 < (s+1)², compared as (s/10^8)² with a, on 256-bit-free terms:
  const U whole = static_cast<U>(s / kFixedOne), frac = static_cast<U>(s % kFixedOne);
  EXPECT_LE(whole * whole, static_cast<U>(a));
  EXPECT_GT((whole + 1) * (whole + 1), static_cast<U>(a));
  EXPECT_LT(frac, static_cast<U>(kFixedOne));
  EXPECT_EQ(format_fixed(12'345'678'901, 2), "1.2345678901");
  EXPECT_EQ(format_fixed(-5, 0), "-0.00000005");
  EXPECT_EQ(format_fixed(650'000'000'000'000, 2), "65000.0000000000");
}

TEST(Indicators, SmaEmaRsiMacdEqualTheReferencesDigitForDigit) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    const auto x = random_closes(seed, 3'000);
    Sma sma(20);
    Ema ema(20);
    Rsi rsi(14);
    Macd macd(12, 26, 9);
    std::vector<Fixed> fixed;
    for (int64_t v : x) fixed.push_back(static_cast<Int128>(v) * kFixedOne);
    const auto ema_ref = ref_ema(fixed, 20);
    const auto fast = ref_ema(fixed, 12), slow = ref_ema(fixed, 26);
    std::vector<Fixed> macd_line;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const auto s = sma.add(x[i]);
      if (i >= 19) {
        ASSERT_TRUE(s);
        ASSERT_EQ(*s, ref_sma(x, i, 20)) << i;
      } else {
        ASSERT_FALSE(s);
      }
      ASSERT_EQ(ema.add(fixed[i]), ema_ref[i]) << i;
      ASSERT_EQ(rsi.add(x[i]), ref_rsi(x, i, 14)) << i;
      const auto m = macd.add(x[i]);
      if (slow[i]) {
        macd_line.push_back(*fast[i] - *slow[i]);
        ASSERT_TRUE(m);
        ASSERT_EQ(m->macd, macd_line.back());
        const auto signal = ref_ema(macd_line, 9).back();
        ASSERT_EQ(m->signal, signal) << i;
        if (signal) {
          ASSERT_EQ(m->histogram, m->macd - *signal);
        }
      } else {
        ASSERT_FALSE(m);
      }
    }
  }
}

TEST(Indicators, BollingerEqualsTheReferenceAndTheTextbook) {
  const auto x = random_closes(9, 2'000);
  Bollinger bb(20, 20);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const auto v = bb.add(x[i]);
    if (i < 19) {
      ASSERT_FALSE(v);
      continue;
    }
    ASSERT_TRUE(v);
    Int128 sum = 0, sq = 0;
    double mean = 0, var = 0;
    for (std::size_t k = i - 19; k <= i; ++k) {
      sum += x[k];
      sq += static_cast<Int128>(x[k]) * x[k];
      mean += static_cast<double>(x[k]) / 20;
    }
    for (std::size_t k = i - 19; k <= i; ++k) var += (static_cast<double>(x[k]) - mean) * (static_cast<double>(x[k]) - mean) / 20;
    // Σ(n·xᵢ − S)² = n·(n·Σx² − S²).
    const Fixed sigma = sqrt_fixed(div_round(20 * (20 * sq - sum * sum), 8'000));
    ASSERT_EQ(v->sigma, sigma) << i;
    ASSERT_EQ(v->middle, div_round(sum * kFixedOne, 20));
    ASSERT_EQ(v->upper - v->middle, div_round(sigma * 20, 10));
    ASSERT_EQ(v->middle - v->lower, div_round(sigma * 20, 10));
    // Textbook σ in doubles: within the 1/2-unit variance rounding.
    ASSERT_NEAR(static_cast<double>(v->sigma) / 1e8, std::sqrt(var), 1e-3 + 1e-9 * std::sqrt(var)) << i;
  }
}

TEST(Indicators, AgreeWithFloatingPointTextbookFormulas) {
  const auto x = random_closes(4, 1'000);
  Ema ema(20);
  Rsi rsi(14);
  double e = 0, g = 0, l = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const auto v = ema.add(static_cast<Int128>(x[i]) * kFixedOne);
    const auto r = rsi.add(x[i]);
    const double xi = static_cast<double>(x[i]);
    if (i < 20) e += xi / 20;
    else e += 2.0 * (xi - e) / 21.0;
    if (i >= 19) {
      ASSERT_NEAR(static_cast<double>(*v) / 1e8, e, 1e-6 * e) << i;
    }
    if (i >= 1) {
      const double d = xi - static_cast<double>(x[i - 1]);
      const double gain = d > 0 ? d : 0, loss = d < 0 ? -d : 0;
      if (i <= 14) {
        g += gain / 14;
        l += loss / 14;
      } else {
        g = (g * 13 + gain) / 14;
        l = (l * 13 + loss) / 14;
      }
      if (i >= 14) {
        ASSERT_NEAR(static_cast<double>(*r) / 1e8, g + l == 0 ? 50 : 100 * g / (g + l), 1e-6) << i;
      }
    }
  }
}

TEST(Indicators, EdgeCases) {
  Rsi flat(14), up(14), down(14);
  for (int i = 0; i < 30; ++i) {
    flat.add(100);
    up.add(100 + i);
    down.add(100 - i);
  }
  EXPECT_EQ(*flat.value(), 50 * kFixedOne);
  EXPECT_EQ(*up.value(), 100 * kFixedOne);
  EXPECT_EQ(*down.value(), 0);
  // Extreme closes: 128-bit sums do not overflow.
  Sma sma(3);
  for (int i = 0; i < 3; ++i) sma.add(INT64_MAX);
  EXPECT_EQ(*sma.value(), static_cast<Int128>(INT64_MAX) * kFixedOne);
  // Bollinger refuses inputs beyond its documented range rather than overflow.
  Bollinger bb(3, 20);
  for (int i = 0; i < 3; ++i) bb.add(Bollinger::kMaxInput - 1);
  EXPECT_TRUE(bb.value());
  EXPECT_EQ(bb.value()->sigma, 0);
  bb.add(Bollinger::kMaxInput);
  EXPECT_FALSE(bb.value());
  // Session VWAP restarts at 00:00 UTC.
  SessionVwap vwap;
  const int64_t day = 86'400'000'000'000;
  vwap.add(Candle{day + 1, 100, 100, 100, 100, 2, 200, 1});
  vwap.add(Candle{day + 2, 103, 103, 103, 103, 1, 103, 1});
  EXPECT_EQ(*vwap.value(), div_round(static_cast<Int128>(303) * kFixedOne, 3));
  vwap.add(Candle{2 * day, 50, 50, 50, 50, 4, 200, 1});
  EXPECT_EQ(*vwap.value(), 50 * kFixedOne);
  vwap.add(Candle{3 * day, 60, 60, 60, 60, 0, 0, 1});  // a new day with price-only ticks: no VWAP yet
  EXPECT_FALSE(vwap.value());
  vwap.add(Candle{4 * day, 70, 70, 70, 70, INT64_MAX, 70 * static_cast<Int128>(INT64_MAX), 1});
  EXPECT_FALSE(vwap.value());  // saturated volume: absent rather than wrong
  // Large notionals (wei-scale quantities) do not overflow: n / d without n · 10^8.
  // 2^110 · 10^8 would not fit 128 bits; (2^110 + 2^29) / 2^30 = 2^80 + 0.5 does.
  const Int128 n = (static_cast<Int128>(1) << 110) + (1 << 29);
  EXPECT_EQ(div_fixed(n, 1 << 30), (static_cast<Int128>(1) << 80) * kFixedOne + 50'000'000);
  EXPECT_EQ(div_fixed(-7, 2), -350'000'000);
}

}  // namespace
}  // namespace bourse::marketdata

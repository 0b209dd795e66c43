#include "marketdata/indicators.h"

#include <cmath>

namespace bourse::marketdata {

namespace {

constexpr int64_t kNsPerDay = 86'400'000'000'000;

__extension__ typedef unsigned __int128 UInt128;

// floor(√a) for 0 ≤ a < 2^126.
uint64_t isqrt(Int128 a) {
  if (a <= 0) return 0;
  const auto ua = static_cast<UInt128>(a);
  auto r = static_cast<uint64_t>(std::sqrt(static_cast<long double>(a)));
  while (static_cast<UInt128>(r) * r > ua) --r;
  while (static_cast<UInt128>(r + 1) * (r + 1) <= ua) ++r;
  return r;
}

int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

Int128 div_round(Int128 n, Int128 d) {
  Int128 q = n / d;
  const Int128 r = n % d;
  const Int128 twice = (r < 0 ? -r : r) * 2;
  if (twice >= d) q += n < 0 ? -1 : 1;
  return q;
}

Fixed div_fixed(Int128 n, Int128 d) {
  const Int128 q = n / d, r = n % d;  // |r| < d < 10^30, so r · 10^8 fits
  return q * kFixedOne + div_round(r * kFixedOne, d);
}

Int128 sqrt_fixed(Int128 a) {
  if (a <= 0) return 0;
  const uint64_t r0 = isqrt(a);
  // The largest f < 10^8 with (r0·10^8 + f)² ≤ a·10^16, i.e.
  // 2·r0·f·10^8 + f² ≤ (a − r0²)·10^16; every term fits 128 bits.
  const Int128 rest = (a - static_cast<Int128>(r0) * r0) * kFixedOne * kFixedOne;
  int64_t lo = 0, hi = 99'999'999;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    const Int128 lhs = 2 * static_cast<Int128>(r0) * mid * kFixedOne + static_cast<Int128>(mid) * mid;
    if (lhs <= rest) lo = mid; else hi = mid - 1;
  }
  return static_cast<Int128>(r0) * kFixedOne + lo;
}

std::string format_fixed(Fixed value, int price_scale) {
  const bool negative = value < 0;
  auto magnitude = static_cast<UInt128>(negative ? -value : value);
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(magnitude % 10)));
    magnitude /= 10;
  } while (magnitude != 0);
  const std::size_t decimals = static_cast<std::size_t>(price_scale + kFixedDigits);
  if (digits.size() <= decimals) digits.insert(0, decimals + 1 - digits.size(), '0');
  digits.insert(digits.size() - decimals, 1, '.');
  return negative ? "-" + digits : digits;
}

// --- SMA ----------------------------------------------------------------------

Sma::Sma(int period) : period_(period), window_(static_cast<std::size_t>(period)) {}

std::optional<Fixed> Sma::add(int64_t close) {
  if (count_ == window_.size()) sum_ -= window_[next_];
  else ++count_;
  window_[next_] = close;
  sum_ += close;
  next_ = (next_ + 1) % window_.size();
  if (count_ == window_.size()) value_ = div_round(sum_ * kFixedOne, period_);
  return value_;
}

// --- EMA ----------------------------------------------------------------------

Ema::Ema(int period) : period_(period) {}

std::optional<Fixed> Ema::add(Fixed x) {
  if (seen_ < period_) {
    seed_sum_ += x;
    if (++seen_ == period_) value_ = div_round(seed_sum_, period_);
    return value_;
  }
  value_ = *value_ + div_round(2 * (x - *value_), period_ + 1);
  return value_;
}

// --- RSI ----------------------------------------------------------------------

Rsi::Rsi(int period) : period_(period) {}

std::optional<Fixed> Rsi::add(int64_t close) {
  if (!previous_) {
    previous_ = close;
    return value_;
  }
  const Int128 change = static_cast<Int128>(close) - *previous_;
  previous_ = close;
  const Int128 gain = change > 0 ? change * kFixedOne : 0;
  const Int128 loss = change < 0 ? -change * kFixedOne : 0;
  if (changes_ < period_) {
    gain_ += gain;
    loss_ += loss;
    if (++changes_ < period_) return value_;
    gain_ = div_round(gain_, period_);
    loss_ = div_round(loss_, period_);
  } else {
    gain_ = div_round(gain_ * (period_ - 1) + gain, period_);
    loss_ = div_round(loss_ * (period_ - 1) + loss, period_);
  }
  value_ = gain_ + loss_ == 0 ? 50 * kFixedOne : div_round(100 * kFixedOne * gain_, gain_ + loss_);
  return value_;
}

// --- MACD ---------------------------------------------------------------------

Macd::Macd(int fast, int slow, int signal) : fast_(fast), slow_(slow), signal_(signal) {}

std::optional<MacdValue> Macd::add(int64_t close) {
  const Fixed x = static_cast<Int128>(close) * kFixedOne;
  const auto fast = fast_.add(x);
  const auto slow = slow_.add(x);
  if (!fast || !slow) return value_;
  MacdValue v;
  v.macd = *fast - *slow;
  v.signal = signal_.add(v.macd);
  if (v.signal) v.histogram = v.macd - *v.signal;
  value_ = v;
  return value_;
}

// --- Bollinger ----------------------------------------------------------------

Bollinger::Bollinger(int period, int k_tenths)
    : period_(period), k_tenths_(k_tenths), window_(static_cast<std::size_t>(period)) {}

std::optional<BollingerValue> Bollinger::add(int64_t close) {
  window_[next_] = close;
  next_ = (next_ + 1) % window_.size();
  if (count_ < window_.size()) ++count_;
  if (count_ < window_.size()) return value_;
  Int128 sum = 0;
  for (int64_t x : window_) {
    if (x >= kMaxInput || x <= -kMaxInput) {
      value_.reset();
      return value_;
    }
    sum += x;
  }
  // Σ(n·xᵢ − Σx)² / n³ is the population variance; n·xᵢ − Σx is exact.
  Int128 squares = 0;
  for (int64_t x : window_) {
    const Int128 d = static_cast<Int128>(period_) * x - sum;
    squares += d * d;
  }
  const Int128 n = period_;
  BollingerValue v;
  v.middle = div_round(sum * kFixedOne, n);
  v.sigma = sqrt_fixed(div_round(squares, n * n * n));
  const Int128 width = div_round(v.sigma * k_tenths_, 10);
  v.upper = v.middle + width;
  v.lower = v.middle - width;
  value_ = v;
  return value_;
}

// --- session VWAP -------------------------------------------------------------

std::optional<Fixed> SessionVwap::add(const Candle& candle) {
  const int64_t day = floor_div(candle.open_time_ns, kNsPerDay);
  if (day != day_) {
    day_ = day;
    notional_ = 0;
    volume_ = 0;
    saturated_ = false;
    value_.reset();
  }
  // A candle whose volume saturated (INT64_MAX) has no true volume: the
  // day's VWAP stays absent rather than wrong.
  saturated_ = saturated_ || candle.volume == INT64_MAX;
  notional_ += candle.notional;
  volume_ += candle.volume;
  if (saturated_) value_.reset();
  else if (volume_ > 0) value_ = div_fixed(notional_, volume_);
  return value_;
}

// --- the standard set ---------------------------------------------------------

IndicatorSet::IndicatorSet() : sma_(20), ema_(20), rsi_(14), macd_(12, 26, 9), bollinger_(20, 20) {}

void IndicatorSet::add(const Candle& candle) {
  sma_.add(candle.close);
  ema_.add(static_cast<Int128>(candle.close) * kFixedOne);
  rsi_.add(candle.close);
  macd_.add(candle.close);
  bollinger_.add(candle.close);
  vwap_.add(candle);
}

IndicatorValues IndicatorSet::values() const {
  return IndicatorValues{sma_.value(), ema_.value(), rsi_.value(), vwap_.value(), macd_.value(), bollinger_.value()};
}

// --- CandleBook ---------------------------------------------------------------

CandleBook::Instrument& CandleBook::slot(uint32_t instrument) {
  auto& slot = instruments_[instrument];
  if (!slot) {
    slot = std::make_unique<Instrument>();
    for (Interval i : kIntervals) {
      slot->series.emplace_back(i, keep_closed_);
      slot->indicators.emplace_back();
    }
  }
  return *slot;
}

void CandleBook::restore(uint32_t instrument, Interval interval, const std::vector<Candle>& bars) {
  Instrument& in = slot(instrument);
  const auto i = static_cast<std::size_t>(interval);
  in.series[i].restore(bars);
  in.indicators[i] = IndicatorSet();
  for (std::size_t k = 0; k + 1 < bars.size(); ++k) in.indicators[i].add(bars[k]);
}

void CandleBook::add(uint32_t instrument, const Tick& tick) {
  if (instrument != last_id_ || !last_) {
    last_id_ = instrument;
    last_ = &slot(instrument);
  }
  ++stats_.ticks;
  Candle closed;
  for (std::size_t i = 0; i < kIntervals.size(); ++i) {
    switch (last_->series[i].add(tick, &closed)) {
      case CandleSeries::Result::kClosedPrevious:
        last_->indicators[i].add(closed);
        ++stats_.candles_closed;
        break;
      case CandleSeries::Result::kLate:
        ++stats_.late;
        break;
      case CandleSeries::Result::kUpdated:
        break;
    }
  }
}

const CandleSeries* CandleBook::series(uint32_t instrument, Interval interval) const {
  const auto it = instruments_.find(instrument);
  return it == instruments_.end() ? nullptr : &it->second->series[static_cast<std::size_t>(interval)];
}

std::optional<IndicatorValues> CandleBook::indicators(uint32_t instrument, Interval interval) const {
  const auto it = instruments_.find(instrument);
  if (it == instruments_.end()) return std::nullopt;
  return it->second->indicators[static_cast<std::size_t>(interval)].values();
}

}  // namespace bourse::marketdata

#include "marketdata/candles.h"

namespace bourse::marketdata {

namespace {

constexpr int64_t kSecondNs = 1'000'000'000;

// Floor division: bars before 1970 (negative times) still align.
int64_t floor_to(int64_t t, int64_t width) {
  const int64_t q = t / width;
  return (t % width < 0 ? q - 1 : q) * width;
}

}  // namespace

int64_t interval_ns(Interval interval) {
  switch (interval) {
    case Interval::k1s: return kSecondNs;
    case Interval::k1m: return 60 * kSecondNs;
    case Interval::k5m: return 300 * kSecondNs;
    case Interval::k15m: return 900 * kSecondNs;
    case Interval::k1h: return 3'600 * kSecondNs;
    case Interval::k1d: return 86'400 * kSecondNs;
  }
  return kSecondNs;
}

std::string_view interval_name(Interval interval) {
  switch (interval) {
    case Interval::k1s: return "1s";
    case Interval::k1m: return "1m";
    case Interval::k5m: return "5m";
    case Interval::k15m: return "15m";
    case Interval::k1h: return "1h";
    case Interval::k1d: return "1d";
  }
  return "?";
}

std::optional<Interval> parse_interval(std::string_view name) {
  for (Interval i : kIntervals) {
    if (interval_name(i) == name) return i;
  }
  return std::nullopt;
}

CandleSeries::CandleSeries(Interval interval, std::size_t keep_closed)
    : interval_(interval), width_ns_(interval_ns(interval)), keep_closed_(keep_closed) {}

void CandleSeries::restore(const std::vector<Candle>& bars) {
  closed_.clear();
  current_.reset();
  if (bars.empty()) return;
  const std::size_t first = bars.size() - 1 > keep_closed_ ? bars.size() - 1 - keep_closed_ : 0;
  for (std::size_t i = first; i + 1 < bars.size(); ++i) closed_.push_back(bars[i]);
  current_ = bars.back();
}

CandleSeries::Result CandleSeries::add(const Tick& tick, Candle* closed) {
  const int64_t open_time = floor_to(tick.time_ns, width_ns_);
  Result result = Result::kUpdated;
  if (current_) {
    if (open_time < current_->open_time_ns) {
      ++late_;
      return Result::kLate;
    }
    if (open_time > current_->open_time_ns) {
      if (closed) *closed = *current_;
      closed_.push_back(*current_);
      if (closed_.size() > keep_closed_) closed_.pop_front();
      current_.reset();
      result = Result::kClosedPrevious;
    }
  }
  if (!current_) {
    current_ = Candle{open_time, tick.price, tick.price, tick.price, tick.price, 0, 0, 0};
  }
  Candle& c = *current_;
  if (tick.price > c.high) c.high = tick.price;
  if (tick.price < c.low) c.low = tick.price;
  c.close = tick.price;
  c.volume = sat_add(c.volume, tick.qty);
  c.notional += static_cast<Int128>(tick.price) * tick.qty;
  ++c.ticks;
  return result;
}

}  // namespace bourse::marketdata

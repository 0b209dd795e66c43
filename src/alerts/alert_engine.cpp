#include "alerts/alert_engine.h"

#include <algorithm>
#include <limits>
#include <string_view>

namespace bourse::alerts {
namespace {

constexpr int64_t kMinuteNs = 60'000'000'000;
constexpr Int128 kBp = 10'000;

struct KindName {
  AlertKind kind;
  const char* name;
};
constexpr KindName kKinds[] = {
    {AlertKind::kPriceAbove, "price_above"},         {AlertKind::kPriceBelow, "price_below"},
    {AlertKind::kChangeUp, "change_up"},             {AlertKind::kChangeDown, "change_down"},
    {AlertKind::kVolumeSpike, "volume_spike"},       {AlertKind::kIndicatorAbove, "indicator_above"},
    {AlertKind::kIndicatorBelow, "indicator_below"}, {AlertKind::kOrderFilled, "order_filled"},
    {AlertKind::kMarginCall, "margin_call"},
};
struct IndicatorName {
  Indicator indicator;
  const char* name;
};
constexpr IndicatorName kIndicators[] = {
    {Indicator::kRsi, "rsi"},       {Indicator::kSma, "sma"},
    {Indicator::kEma, "ema"},       {Indicator::kMacd, "macd"},
    {Indicator::kMacdSignal, "macd_signal"}, {Indicator::kMacdHistogram, "macd_histogram"},
    {Indicator::kBollingerUpper, "bollinger_upper"}, {Indicator::kBollingerLower, "bollinger_lower"},
    {Indicator::kVwap, "vwap"},
};

int64_t saturate(Int128 v) {
  if (v > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (v < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

std::optional<marketdata::Fixed> pick(const marketdata::IndicatorValues& v, Indicator i) {
  switch (i) {
    case Indicator::kRsi: return v.rsi;
    case Indicator::kSma: return v.sma;
    case Indicator::kEma: return v.ema;
    case Indicator::kVwap: return v.vwap;
    case Indicator::kMacd: return v.macd ? std::optional(v.macd->macd) : std::nullopt;
    case Indicator::kMacdSignal: return v.macd ? v.macd->signal : std::nullopt;
    case Indicator::kMacdHistogram: return v.macd ? v.macd->histogram : std::nullopt;
    case Indicator::kBollingerUpper: return v.bollinger ? std::optional(v.bollinger->upper) : std::nullopt;
    case Indicator::kBollingerLower: return v.bollinger ? std::optional(v.bollinger->lower) : std::nullopt;
  }
  return std::nullopt;
}

int64_t newest_closed_open(const marketdata::CandleSeries* s) {
  return s && !s->closed().empty() ? s->closed().back().open_time_ns : -1;
}

}  // namespace

bool is_market_kind(AlertKind k) { return k != AlertKind::kOrderFilled && k != AlertKind::kMarginCall; }

const char* alert_kind_name(AlertKind k) {
  for (const KindName& n : kKinds) {
    if (n.kind == k) return n.name;
  }
  return "unknown";
}

std::optional<AlertKind> parse_alert_kind(std::string_view name) {
  for (const KindName& n : kKinds) {
    if (name == n.name) return n.kind;
  }
  return std::nullopt;
}

const char* indicator_name(Indicator i) {
  for (const IndicatorName& n : kIndicators) {
    if (n.indicator == i) return n.name;
  }
  return "unknown";
}

std::optional<Indicator> parse_indicator(std::string_view name) {
  for (const IndicatorName& n : kIndicators) {
    if (name == n.name) return n.indicator;
  }
  return std::nullopt;
}

// A level rule's watch: what it watches (8 bits), its parameters (24 bits)
// and the instrument (32 bits). Both indicator kinds share one watch: they
// sit on its two sides.
uint64_t AlertEngine::watch_of(const AlertSpec& s) {
  uint64_t metric = static_cast<uint64_t>(s.kind), param = 0;
  switch (s.kind) {
    case AlertKind::kChangeUp:
    case AlertKind::kChangeDown: param = s.window_minutes; break;
    case AlertKind::kVolumeSpike: param = static_cast<uint64_t>(s.interval) | uint64_t{s.lookback} << 3; break;
    case AlertKind::kIndicatorAbove:
    case AlertKind::kIndicatorBelow:
      metric = static_cast<uint64_t>(AlertKind::kIndicatorAbove);
      param = static_cast<uint64_t>(s.interval) | uint64_t{static_cast<uint8_t>(s.indicator)} << 3;
      break;
    default: return 0;  // crossings are indexed by instrument
  }
  return metric << 56 | (param & 0xFFFFFF) << 32 | s.instrument.value;
}

AlertRule AlertEngine::rule_of(const AlertSpec& s) const {
  AlertRule r;
  r.id = s.id;
  r.account = s.account;
  r.instrument = s.instrument;
  r.threshold = Price{s.threshold};
  r.watch = watch_of(s);
  r.recurring = s.recurring;
  r.cooldown_ns = s.cooldown_ns;
  r.expire_at = s.expire_at;
  r.last_fired = s.last_fired;
  switch (s.kind) {
    case AlertKind::kPriceAbove: r.condition = AlertCondition::kCrossesAbove; break;
    case AlertKind::kPriceBelow: r.condition = AlertCondition::kCrossesBelow; break;
    case AlertKind::kIndicatorBelow: r.condition = AlertCondition::kAtOrBelow; break;
    default: r.condition = AlertCondition::kAtOrAbove; break;
  }
  return r;
}

// Which metrics an instrument must compute on each trade: only those some
// rule watches.
void AlertEngine::track(const AlertSpec& s, int delta) {
  Market& m = markets_[s.instrument.value];
  auto bump = [delta](auto& groups, const auto& key) {
    if ((groups[key] += delta) <= 0) groups.erase(key);
  };
  switch (s.kind) {
    case AlertKind::kChangeUp:
    case AlertKind::kChangeDown: bump(m.change_windows, s.window_minutes); break;
    case AlertKind::kVolumeSpike: bump(m.volume_groups, std::pair{static_cast<uint8_t>(s.interval), s.lookback}); break;
    case AlertKind::kIndicatorAbove:
    case AlertKind::kIndicatorBelow:
      bump(m.indicator_groups, std::pair{static_cast<uint8_t>(s.interval), static_cast<uint8_t>(s.indicator)});
      break;
    default: break;
  }
}

bool AlertEngine::add(const AlertSpec& spec) {
  if (spec.id == 0 || specs_.count(spec.id) || spec.cooldown_ns < 0) return false;
  switch (spec.kind) {
    case AlertKind::kPriceAbove:
    case AlertKind::kPriceBelow:
      if (spec.instrument.value == 0 || spec.threshold <= 0) return false;
      break;
    case AlertKind::kChangeUp:
    case AlertKind::kChangeDown:
      if (spec.instrument.value == 0 || spec.threshold <= 0 || spec.window_minutes == 0 ||
          spec.window_minutes > kMaxChangeWindowMinutes) {
        return false;
      }
      break;
    case AlertKind::kVolumeSpike:
      if (spec.instrument.value == 0 || spec.threshold <= 0 || spec.lookback == 0 || spec.lookback > kMaxVolumeLookback) {
        return false;
      }
      break;
    case AlertKind::kIndicatorAbove:
    case AlertKind::kIndicatorBelow:
      if (spec.instrument.value == 0 || std::string_view(indicator_name(spec.indicator)) == "unknown") return false;
      break;
    case AlertKind::kOrderFilled: break;
    case AlertKind::kMarginCall:
      if (spec.instrument.value != 0) return false;
      break;
    default: return false;
  }
  if (is_market_kind(spec.kind)) {
    if (!book_.add(rule_of(spec))) return false;
    track(spec, +1);
  } else {
    account_rules_[spec.account.value].push_back(spec.id);
  }
  specs_.emplace(spec.id, spec);
  if (spec.expire_at) expiries_.emplace(spec.expire_at, spec.id);
  return true;
}

bool AlertEngine::remove(uint64_t id) {
  auto it = specs_.find(id);
  if (it == specs_.end()) return false;
  const AlertSpec& s = it->second;
  if (is_market_kind(s.kind)) {
    book_.remove(id);  // false when the book dropped it (met after its expiry)
    track(s, -1);
  } else {
    auto& ids = account_rules_[s.account.value];
    ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
    if (ids.empty()) account_rules_.erase(s.account.value);
  }
  if (s.expire_at) erase_entry(expiries_, s.expire_at, id);
  specs_.erase(it);
  return true;
}

const AlertSpec* AlertEngine::find(uint64_t id) const {
  auto it = specs_.find(id);
  return it == specs_.end() ? nullptr : &it->second;
}

Price AlertEngine::last_price(InstrumentId instrument) const {
  auto it = markets_.find(instrument.value);
  return it == markets_.end() ? Price{0} : it->second.last;
}

void AlertEngine::collect(const std::vector<AlertFired>& raw, std::vector<Firing>* fired, int64_t reference) {
  for (const AlertFired& f : raw) {
    auto it = specs_.find(f.alert_id);
    if (it == specs_.end()) continue;
    Firing x;
    x.alert_id = f.alert_id;
    x.account = f.account;
    x.kind = it->second.kind;
    x.instrument = f.instrument;
    x.value = f.price.value;
    x.reference = reference;
    x.price = last_price(f.instrument).value;
    x.time = f.time;
    x.last = f.last;
    fired->push_back(x);
    if (f.last) {
      remove(f.alert_id);  // the book already let it go
    } else {
      it->second.last_fired = f.time;
    }
  }
}

int64_t AlertEngine::close_at_or_before(const Market& m, int64_t minute) {
  auto it = std::upper_bound(m.minutes.begin(), m.minutes.end(), minute,
                             [](int64_t x, const std::pair<int64_t, int64_t>& e) { return x < e.first; });
  return it == m.minutes.begin() ? 0 : std::prev(it)->second;
}

void AlertEngine::on_trade(InstrumentId instrument, Price price, Qty qty, Timestamp time, std::vector<Firing>* fired) {
  Market& m = markets_[instrument.value];
  const Price from = m.last;
  m.last = price;
  const int64_t minute = time / kMinuteNs;
  if (m.minutes.empty() || minute > m.minutes.back().first) {
    m.minutes.emplace_back(minute, price.value);
  } else if (minute == m.minutes.back().first) {
    m.minutes.back().second = price.value;
  }
  // Keep one minute at or before the longest window's start.
  while (m.minutes.size() >= 2 && m.minutes[1].first <= minute - static_cast<int64_t>(kMaxChangeWindowMinutes)) {
    m.minutes.pop_front();
  }
  std::vector<int64_t> closed_before;
  for (const auto& [key, n] : m.indicator_groups) {
    closed_before.push_back(newest_closed_open(candles_.series(instrument.value, static_cast<marketdata::Interval>(key.first))));
  }
  candles_.add(instrument.value, marketdata::Tick{time, price.value, qty.value});

  scratch_.clear();
  book_.on_price(instrument, from, price, time, &scratch_);
  collect(scratch_, fired, 0);
  if (!m.change_windows.empty()) evaluate_changes(instrument, m, time, fired);
  if (!m.volume_groups.empty()) evaluate_volume(instrument, m, time, fired);
  if (!m.indicator_groups.empty()) evaluate_indicators(instrument, m, closed_before, time, fired);
}

void AlertEngine::evaluate_changes(InstrumentId instrument, Market& m, Timestamp time, std::vector<Firing>* fired) {
  const int64_t minute = time / kMinuteNs;
  std::vector<uint32_t> windows;
  for (const auto& [w, n] : m.change_windows) windows.push_back(w);  // firing one-shots edits the map
  for (const uint32_t w : windows) {
    const int64_t ref = close_at_or_before(m, minute - w);
    if (ref <= 0) continue;
    // floor(|Δ| · 10^4 / ref) >= threshold exactly when |Δ| · 10^4 >= threshold · ref.
    const Int128 delta = Int128{m.last.value} - ref;
    AlertSpec probe;
    probe.instrument = instrument;
    probe.window_minutes = w;
    probe.kind = delta > 0 ? AlertKind::kChangeUp : AlertKind::kChangeDown;
    if (delta == 0) continue;
    const int64_t bp = saturate((delta > 0 ? delta : -delta) * kBp / ref);
    scratch_.clear();
    book_.on_level(watch_of(probe), bp, time, &scratch_);
    collect(scratch_, fired, ref);
  }
}

void AlertEngine::evaluate_volume(InstrumentId instrument, Market& m, Timestamp time, std::vector<Firing>* fired) {
  std::vector<std::pair<uint8_t, uint32_t>> groups;
  for (const auto& [g, n] : m.volume_groups) groups.push_back(g);
  for (const auto& [code, lookback] : groups) {
    const auto interval = static_cast<marketdata::Interval>(code);
    const marketdata::CandleSeries* s = candles_.series(instrument.value, interval);
    if (!s || !s->current()) continue;
    const int64_t width = marketdata::interval_ns(interval);
    const marketdata::Candle& bar = *s->current();
    if (bar.open_time_ns != time / width * width) continue;  // a late tick: its bar is gone
    // The mean per bar over the lookback interval before this bar; bars
    // without trades count as zero.
    const int64_t from = bar.open_time_ns - static_cast<int64_t>(lookback) * width;
    // Not before the history covers the whole lookback: a young market's
    // first bars are not spikes.
    if (s->closed().empty() || s->closed().front().open_time_ns > from) continue;
    Int128 sum = 0;
    for (auto it = s->closed().rbegin(); it != s->closed().rend() && it->open_time_ns >= from; ++it) sum += it->volume;
    if (sum <= 0) continue;
    const int64_t ratio_bp = saturate(Int128{bar.volume} * kBp * lookback / sum);
    AlertSpec probe;
    probe.kind = AlertKind::kVolumeSpike;
    probe.instrument = instrument;
    probe.interval = interval;
    probe.lookback = lookback;
    scratch_.clear();
    book_.on_level(watch_of(probe), ratio_bp, time, &scratch_);
    collect(scratch_, fired, bar.volume);
  }
}

void AlertEngine::evaluate_indicators(InstrumentId instrument, Market& m, const std::vector<int64_t>& closed_before,
                                      Timestamp time, std::vector<Firing>* fired) {
  std::vector<std::pair<uint8_t, uint8_t>> groups;
  for (const auto& [g, n] : m.indicator_groups) groups.push_back(g);
  for (std::size_t k = 0; k < groups.size(); ++k) {
    const auto interval = static_cast<marketdata::Interval>(groups[k].first);
    const marketdata::CandleSeries* s = candles_.series(instrument.value, interval);
    if (newest_closed_open(s) == closed_before[k]) continue;  // evaluated when a bar closes
    const auto values = candles_.indicators(instrument.value, interval);
    const auto v = values ? pick(*values, static_cast<Indicator>(groups[k].second)) : std::nullopt;
    if (!v) continue;
    AlertSpec probe;
    probe.kind = AlertKind::kIndicatorAbove;
    probe.instrument = instrument;
    probe.interval = interval;
    probe.indicator = static_cast<Indicator>(groups[k].second);
    scratch_.clear();
    book_.on_level(watch_of(probe), saturate(*v), time, &scratch_);
    collect(scratch_, fired, s->closed().back().close);
  }
}

bool AlertEngine::ready(AlertSpec& s, Timestamp time) {
  if (s.expire_at && s.expire_at <= time) return false;  // the sweep drops it
  return !(s.recurring && s.last_fired && s.cooldown_ns > 0 && time < s.last_fired + s.cooldown_ns);
}

void AlertEngine::on_fill(AccountId account, InstrumentId instrument, OrderId order, TradeId trade, Side side,
                          Price price, Qty qty, Timestamp time, std::vector<Firing>* fired) {
  auto it = account_rules_.find(account.value);
  if (it == account_rules_.end()) return;
  const std::vector<uint64_t> ids = it->second;  // one-shots leave the list as they fire
  for (const uint64_t id : ids) {
    AlertSpec& s = specs_.at(id);
    if (s.kind != AlertKind::kOrderFilled || (s.instrument.value && s.instrument != instrument) || !ready(s, time)) {
      continue;
    }
    Firing x;
    x.alert_id = id;
    x.account = account;
    x.kind = s.kind;
    x.instrument = instrument;
    x.value = price.value;
    x.reference = qty.value;
    x.order_id = order.value;
    x.trade_id = trade.value;
    x.side = side;
    x.time = time;
    x.last = !s.recurring;
    fired->push_back(x);
    if (x.last) remove(id); else s.last_fired = time;
  }
}

void AlertEngine::on_margin_call(AccountId account, AssetId asset, Int128 equity, Int128 maintenance, Timestamp time,
                                 std::vector<Firing>* fired) {
  auto it = account_rules_.find(account.value);
  if (it == account_rules_.end()) return;
  const std::vector<uint64_t> ids = it->second;
  for (const uint64_t id : ids) {
    AlertSpec& s = specs_.at(id);
    if (s.kind != AlertKind::kMarginCall || !ready(s, time)) continue;
    Firing x;
    x.alert_id = id;
    x.account = account;
    x.kind = s.kind;
    x.equity = equity;
    x.maintenance = maintenance;
    x.asset = asset;
    x.time = time;
    x.last = !s.recurring;
    fired->push_back(x);
    if (x.last) remove(id); else s.last_fired = time;
  }
}

std::vector<uint64_t> AlertEngine::expire(Timestamp now) {
  std::vector<uint64_t> gone;
  while (!expiries_.empty() && expiries_.begin()->first <= now) {
    const uint64_t id = expiries_.begin()->second;
    gone.push_back(id);
    remove(id);  // erases the expiry entry too
  }
  return gone;
}

void AlertEngine::restore_price(InstrumentId instrument, Price last,
                                const std::vector<std::pair<int64_t, int64_t>>& minute_closes) {
  Market& m = markets_[instrument.value];
  m.last = last;
  m.minutes.assign(minute_closes.begin(), minute_closes.end());
}

void AlertEngine::restore_candles(InstrumentId instrument, marketdata::Interval interval,
                                  const std::vector<marketdata::Candle>& bars) {
  candles_.restore(instrument.value, interval, bars);
}

}  // namespace bourse::alerts

#include "marketdata/market_view.h"

#include <algorithm>
#include <mutex>

#include "bourse/core/checked.h"

namespace bourse::marketdata {
namespace {

constexpr int64_t kMinuteNs = 60'000'000'000;

template <class Levels>
void copy_levels(const Levels& levels, std::size_t depth, std::vector<BookLevel>* out) {
  out->clear();
  for (const auto& [price, level] : levels) {
    if (depth != 0 && out->size() >= depth) break;
    out->push_back(level);
  }
}

}  // namespace

void MarketView::load(const Engine& engine) {
  std::unique_lock lock(mutex_);
  engine.for_each_asset([&](const AssetSpec& a) { assets_[a.id.value] = a; });
  engine.for_each_instrument([&](const InstrumentView& v) {
    Market& m = markets_[v.spec.id.value];
    m.info.spec = v.spec;
    m.info.base = assets_[v.spec.base.value];
    m.info.quote = assets_[v.spec.quote.value];
    m.info.last_price = v.last_price;
    m.info.margin = v.margin;
    m.info.circuits = v.circuits;
    m.info.halted_until = v.resume_at;
    m.info.version = engine.last_seq();
    by_symbol_[std::string(v.spec.symbol.view())] = v.spec.id.value;
    for (const LevelView& l : engine.depth(v.spec.id, Side::kBuy, SIZE_MAX)) {
      m.bids[l.price.value] = BookLevel{l.price, l.qty, l.order_count};
    }
    for (const LevelView& l : engine.depth(v.spec.id, Side::kSell, SIZE_MAX)) {
      m.asks[l.price.value] = BookLevel{l.price, l.qty, l.order_count};
    }
    m.book_sequence = engine.last_seq();
  });
  version_ = engine.last_seq();
}

void MarketView::restore_candles(InstrumentId id, Interval interval, const std::vector<Candle>& bars) {
  std::unique_lock lock(mutex_);
  candles_.restore(id.value, interval, bars);
}

void MarketView::restore_trades(InstrumentId id, const std::vector<TradeRecord>& oldest_first) {
  std::unique_lock lock(mutex_);
  Market* m = find(id);
  if (!m) return;
  for (const TradeRecord& t : oldest_first) {
    m->recent.push_back(t);
    if (m->recent.size() > kRecentTrades) m->recent.pop_front();
  }
  ++m->trades_applied;  // the cached 24-hour window is stale
}

void MarketView::restore_minutes(InstrumentId id, const std::vector<MinuteBar>& bars) {
  std::unique_lock lock(mutex_);
  Market* m = find(id);
  if (!m) return;
  for (const MinuteBar& bar : bars) {
    if (bar.minute < 0) continue;
    MinuteBucket& b = m->minutes[static_cast<std::size_t>(bar.minute % 1440)];
    if (b.minute > bar.minute) continue;  // a newer minute holds the slot
    b = MinuteBucket{bar.minute, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.quote_volume, bar.trades};
  }
  ++m->trades_applied;
}

MarketView::Market* MarketView::find(InstrumentId id) {
  auto it = markets_.find(id.value);
  return it == markets_.end() ? nullptr : &it->second;
}

const MarketView::Market* MarketView::find(InstrumentId id) const {
  auto it = markets_.find(id.value);
  return it == markets_.end() ? nullptr : &it->second;
}

void MarketView::on_durable_batch(std::span<const Event> events) {
  std::unique_lock lock(mutex_);
  ++batch_;
  for (const Event& e : events) apply(e);
  if (!events.empty()) version_ = std::max(version_, events.back().cause.seq);
}

void MarketView::add_trade(Market& m, const Event& e) {
  const Trade& t = e.trade;
  add_trade(m, TradeRecord{t.trade_id, t.price, t.qty, t.notional, t.aggressor_side, e.cause.timestamp});
}

// Venue trades at the engine's time; external ones at their source's time.
void MarketView::add_trade(Market& m, const TradeRecord& r) {
  const auto& t = r;
  m.recent.push_back(r);
  if (m.recent.size() > kRecentTrades) m.recent.pop_front();
  m.info.last_price = t.price;
  ++m.trades_applied;
  candles_.add(m.info.spec.id.value, Tick{r.time, t.price.value, t.qty.value});

  const int64_t minute = r.time / kMinuteNs;
  MinuteBucket& b = m.minutes[static_cast<std::size_t>(minute % 1440)];
  if (b.minute > minute) return;  // a late tick (a feed's, out of order) never overwrites a newer minute
  if (b.minute != minute) {
    b = MinuteBucket{};
    b.minute = minute;
    b.open = b.high = b.low = t.price;
  }
  b.high = std::max(b.high, t.price);
  b.low = std::min(b.low, t.price);
  b.close = t.price;
  // Saturating: a 24-hour volume past INT64_MAX is not a real market.
  b.volume = Qty{sat_add(b.volume.value, t.qty.value)};
  b.quote_volume = Amount{sat_add(b.quote_volume.value, t.notional.value)};
  ++b.trades;
}

void MarketView::apply(const Event& e) {
  switch (e.type) {
    case EventType::kAssetAdded:
      assets_[e.asset_added.id.value] = e.asset_added;
      break;
    case EventType::kInstrumentAdded: {
      const InstrumentSpec& spec = e.instrument_added;
      Market& m = markets_[spec.id.value];
      m.info.spec = spec;
      m.info.base = assets_[spec.base.value];
      m.info.quote = assets_[spec.quote.value];
      m.info.version = e.cause.seq;
      by_symbol_[std::string(spec.symbol.view())] = spec.id.value;
      break;
    }
    case EventType::kMarginParamsSet:
      if (Market* m = find(e.margin_params.instrument)) {
        m->info.margin = e.margin_params;
        m->info.version = e.cause.seq;
      }
      break;
    case EventType::kInstrumentStatusChanged:
      if (Market* m = find(e.instrument_status.instrument)) {
        m->info.spec.status = e.instrument_status.status;
        // A breaker halt is followed by its own status event; any other
        // status change ends it.
        // Any other status ends a breaker halt, and so does an operator's
        // HALTED (but not the HALTED of a trip inside that same command).
        if (e.instrument_status.status != InstrumentStatus::kHalted ||
            (e.cause.type == CommandType::kSetInstrumentStatus && m->breaker_seq != e.cause.seq)) {
          m->info.halted_until = 0;
        }
        m->info.version = e.cause.seq;
      }
      break;
    case EventType::kCircuitLimitsSet:
      if (Market* m = find(e.circuit_limits.instrument)) {
        m->info.circuits = e.circuit_limits;
        m->info.version = e.cause.seq;
      }
      break;
    case EventType::kCircuitBreakerTripped:
      if (Market* m = find(e.breaker.instrument)) {
        m->info.halted_until = e.breaker.resume_at;
        m->breaker_seq = e.cause.seq;
        m->info.version = e.cause.seq;
      }
      break;
    case EventType::kTrade:
      if (Market* m = find(e.trade.instrument)) {
        add_trade(*m, e);
        m->info.version = e.cause.seq;
      }
      break;
    case EventType::kExternalTradeApplied: {
      const ExternalTradeApplied& t = e.external_trade;
      if (Market* m = find(t.instrument)) {
        add_trade(*m, TradeRecord{t.trade_id, t.price, t.qty, t.notional, t.aggressor_side, t.time});
        m->info.version = e.cause.seq;
      }
      break;
    }
    case EventType::kBookLevelChanged: {
      const BookLevelChanged& l = e.book_level;
      Market* m = find(l.instrument);
      if (!m) break;
      const BookLevel level{l.price, l.qty, l.order_count};
      if (l.side == Side::kBuy) {
        if (l.qty.value == 0) m->bids.erase(l.price.value); else m->bids[l.price.value] = level;
      } else {
        if (l.qty.value == 0) m->asks.erase(l.price.value); else m->asks[l.price.value] = level;
      }
      if (m->book_batch != batch_) {  // one step per batch: the WebSocket diff covers the batch
        m->book_batch = batch_;
        ++m->book_sequence;
      }
      m->info.version = e.cause.seq;
      break;
    }
    default:
      break;
  }
}

std::vector<InstrumentInfo> MarketView::instruments() const {
  std::shared_lock lock(mutex_);
  std::vector<InstrumentInfo> out;
  out.reserve(markets_.size());
  for (const auto& [id, m] : markets_) out.push_back(m.info);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.spec.id < b.spec.id; });
  return out;
}

std::optional<InstrumentInfo> MarketView::instrument(std::string_view symbol) const {
  std::shared_lock lock(mutex_);
  auto it = by_symbol_.find(std::string(symbol));
  if (it == by_symbol_.end()) return std::nullopt;
  return markets_.at(it->second).info;
}

std::optional<InstrumentInfo> MarketView::instrument(InstrumentId id) const {
  std::shared_lock lock(mutex_);
  const Market* m = find(id);
  if (!m) return std::nullopt;
  return m->info;
}

Price MarketView::mark_price(InstrumentId id) const {
  std::shared_lock lock(mutex_);
  const Market* m = find(id);
  if (!m) return Price{};
  const Price fallback = m->info.last_price ? m->info.last_price : m->info.spec.reference_price;
  switch (m->info.margin.mark_source) {
    case MarkSource::kMid:
      if (m->info.spec.status == InstrumentStatus::kTrading && !m->bids.empty() && !m->asks.empty() &&
          m->bids.begin()->first < m->asks.begin()->first) {  // the engine's rule (margin.cpp mark_of)
        const int64_t b = m->bids.begin()->first;
        const int64_t a = m->asks.begin()->first;
        return Price{b / 2 + a / 2 + (b % 2 + a % 2) / 2};
      }
      break;
    case MarkSource::kReference:
      if (const Market* ref = find(m->info.margin.mark_reference); ref && ref->info.last_price) {
        return ref->info.last_price;
      }
      break;
    case MarkSource::kLast: break;
  }
  return fallback;
}

std::vector<AssetSpec> MarketView::assets() const {
  std::shared_lock lock(mutex_);
  std::vector<AssetSpec> out;
  for (const auto& [id, a] : assets_) out.push_back(a);
  return out;
}

std::optional<AssetSpec> MarketView::asset(AssetId id) const {
  std::shared_lock lock(mutex_);
  auto it = assets_.find(id.value);
  if (it == assets_.end()) return std::nullopt;
  return it->second;
}

std::optional<AssetSpec> MarketView::asset(std::string_view code) const {
  std::shared_lock lock(mutex_);
  for (const auto& [id, a] : assets_) {
    if (a.code.view() == code) return a;
  }
  return std::nullopt;
}

bool MarketView::book(InstrumentId id, std::size_t depth, BookSnapshot* out) const {
  std::shared_lock lock(mutex_);
  const Market* m = find(id);
  if (!m) return false;
  out->sequence = m->book_sequence;
  copy_levels(m->bids, depth, &out->bids);
  copy_levels(m->asks, depth, &out->asks);
  return true;
}

uint64_t MarketView::book_sequence(InstrumentId id) const {
  std::shared_lock lock(mutex_);
  const Market* m = find(id);
  return m ? m->book_sequence : 0;
}

std::vector<TradeRecord> MarketView::trades(InstrumentId id, std::size_t limit) const {
  std::shared_lock lock(mutex_);
  std::vector<TradeRecord> out;
  const Market* m = find(id);
  if (!m) return out;
  for (auto it = m->recent.rbegin(); it != m->recent.rend() && out.size() < limit; ++it) out.push_back(*it);
  return out;
}

std::optional<TickerStats> MarketView::ticker(InstrumentId id, Timestamp now) const {
  std::shared_lock lock(mutex_);
  const Market* m = find(id);
  if (!m) return std::nullopt;
  const int64_t now_minute = now / kMinuteNs;
  TickerStats t;
  {
    std::lock_guard window_lock(m->window_mutex);
    Market::Window& w = m->window;
    if (w.minute != now_minute || w.trades_applied != m->trades_applied) {
      w = Market::Window{now_minute, m->trades_applied, TickerStats{}};
      // Oldest to newest, so the first bucket with trades gives the open.
      for (int64_t minute = now_minute - 1439; minute <= now_minute; ++minute) {
        if (minute < 0) continue;
        const MinuteBucket& b = m->minutes[static_cast<std::size_t>(minute % 1440)];
        if (b.minute != minute || b.trades == 0) continue;
        TickerStats& s = w.stats;
        if (s.trades == 0) {
          s.open = b.open;
          s.high = b.high;
          s.low = b.low;
        }
        s.high = std::max(s.high, b.high);
        s.low = std::min(s.low, b.low);
        s.volume = Qty{sat_add(s.volume.value, b.volume.value)};
        s.quote_volume = Amount{sat_add(s.quote_volume.value, b.quote_volume.value)};
        s.trades += b.trades;
      }
    }
    t = w.stats;
  }
  t.last = m->info.last_price;
  t.version = m->info.version;
  if (!m->bids.empty()) t.best_bid = m->bids.begin()->second;
  if (!m->asks.empty()) t.best_ask = m->asks.begin()->second;
  return t;
}

MarketView::CandleRows MarketView::candles(InstrumentId id, Interval interval, int64_t from_ns, int64_t to_ns,
                                           std::size_t limit) const {
  std::shared_lock lock(mutex_);
  CandleRows out;
  const CandleSeries* s = candles_.series(id.value, interval);
  if (!s || limit == 0) return out;
  auto in_range = [&](const Candle& c) { return c.open_time_ns >= from_ns && c.open_time_ns < to_ns; };
  const bool open_included = s->current() && in_range(*s->current());
  // Newest first from the back, then reversed: the newest `limit` in range.
  if (open_included) out.candles.push_back(*s->current());
  for (auto it = s->closed().rbegin(); it != s->closed().rend() && out.candles.size() < limit; ++it) {
    if (it->open_time_ns < from_ns) break;
    if (in_range(*it)) out.candles.push_back(*it);
  }
  std::reverse(out.candles.begin(), out.candles.end());
  out.last_open = open_included;
  if (!s->closed().empty() && s->closed().size() >= s->keep_closed()) {
    out.older_in_store = true;
    out.oldest_in_memory_ns = s->closed().front().open_time_ns;
  }
  return out;
}

std::optional<MarketView::IndicatorSnapshot> MarketView::indicators(InstrumentId id, Interval interval) const {
  std::shared_lock lock(mutex_);
  const auto values = candles_.indicators(id.value, interval);
  if (!values) {
    if (!find(id)) return std::nullopt;
    return IndicatorSnapshot{};  // a known instrument without trades yet
  }
  IndicatorSnapshot out{*values, std::nullopt};
  const CandleSeries* s = candles_.series(id.value, interval);
  if (s && !s->closed().empty()) out.as_of_ns = s->closed().back().open_time_ns;
  return out;
}

Seq MarketView::version() const {
  std::shared_lock lock(mutex_);
  return version_;
}

}  // namespace bourse::marketdata

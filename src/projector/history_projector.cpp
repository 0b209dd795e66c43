#include "projector/history_projector.h"

#include <chrono>
#include <tuple>

#include "bourse/core/checked.h"
#include "bourse/core/log.h"
#include "marketdata/candles.h"
#include "bourse/sequencer/exchange.h"

namespace bourse::projector {
namespace {

constexpr std::size_t kRowsPerTransaction = 20'000;  // catch-up and rebuild
constexpr std::size_t kEventsPerWrite = 20'000;       // live: write at once past this many events
constexpr auto kGatherTime = std::chrono::milliseconds(10);

store::OrderHistoryRow row_of(const accounts::OrderRecord& r, uint64_t seq) {
  store::OrderHistoryRow o;
  o.order_id = r.id.value;
  o.account = r.account.value;
  o.instrument = r.instrument.value;
  o.client_order_id = std::string(r.client_order_id.view());
  o.side = static_cast<uint8_t>(r.side);
  o.type = static_cast<uint8_t>(r.type);
  o.tif = static_cast<uint8_t>(r.tif);
  o.status = static_cast<uint8_t>(r.status);
  o.end_reason = r.end_reason;
  o.post_only = r.post_only;
  o.product = static_cast<uint8_t>(r.product);
  o.price = r.price.value;
  o.stop_price = r.stop_price.value;
  o.qty = r.qty.value;
  o.filled = r.filled.value;
  o.notional_filled = r.notional_filled.value;
  o.fees = r.fees.value;
  o.expire_at = r.expire_at;
  o.created = r.created;
  o.updated = r.updated;
  o.seq = seq;
  return o;
}

store::FillHistoryRow fill_of(const Event& e, const TradeLeg& leg, Side side, bool maker) {
  store::FillHistoryRow f;
  f.trade_id = e.trade.trade_id.value;
  f.account = leg.account.value;
  f.order_id = leg.order_id.value;
  f.instrument = e.trade.instrument.value;
  f.side = static_cast<uint8_t>(side);
  f.maker = maker;
  f.price = e.trade.price.value;
  f.qty = e.trade.qty.value;
  f.notional = e.trade.notional.value;
  f.fee = leg.fee.value;
  f.time = e.cause.timestamp;
  f.seq = e.cause.seq;
  return f;
}

std::size_t rows(const store::HistoryBatch& b) {
  return b.orders.size() + b.fills.size() + b.ledger.size() + b.idempotency.size() + b.trades.size() + b.candles.size() +
         b.holdings.size();
}

}  // namespace

marketdata::Candle candle_of(const store::CandleHistoryRow& row) {
  marketdata::Candle c;
  c.open_time_ns = row.open_time;
  c.open = row.open;
  c.high = row.high;
  c.low = row.low;
  c.close = row.close;
  c.volume = row.volume;
  c.notional = store::candle_notional(row);
  c.ticks = static_cast<uint32_t>(std::min<int64_t>(row.trades, UINT32_MAX));
  return c;
}

void restore_market(store::Store& store, marketdata::MarketView& market, std::size_t keep) {
  for (const marketdata::InstrumentInfo& info : market.instruments()) {
    const uint32_t id = info.spec.id.value;
    for (marketdata::Interval interval : marketdata::kIntervals) {
      const auto code = static_cast<uint8_t>(interval);
      auto rows = store.candle_history(id, code, INT64_MIN, INT64_MAX, keep + 1);
      if (rows.empty()) continue;
      // The session VWAP covers the whole UTC day: bars of the day older than
      // the newest `keep` feed the indicators too (at most 86,400 1s bars).
      constexpr int64_t kDayNs = 86'400'000'000'000;
      const int64_t day_start = rows.back().open_time / kDayNs * kDayNs;
      if (rows.front().open_time > day_start) {
        auto older = store.candle_history(id, code, day_start, rows.front().open_time, 86'400);
        rows.insert(rows.begin(), older.begin(), older.end());
      }
      std::vector<marketdata::Candle> bars;
      bars.reserve(rows.size());
      for (const auto& r : rows) bars.push_back(candle_of(r));
      market.restore_candles(info.spec.id, interval, bars);
    }
    // The ticker's window: the newest 1,440 one-minute bars (older ones fall
    // outside it on their own).
    std::vector<marketdata::MarketView::MinuteBar> minutes;
    for (const auto& r : store.candle_history(id, static_cast<uint8_t>(marketdata::Interval::k1m), INT64_MIN, INT64_MAX,
                                              1'440)) {
      minutes.push_back({r.open_time / 60'000'000'000, Price{r.open}, Price{r.high}, Price{r.low}, Price{r.close},
                         Qty{r.volume}, Amount{r.quote_volume}, static_cast<uint64_t>(r.trades)});
    }
    market.restore_minutes(info.spec.id, minutes);
    auto trades = store.trade_history(id, UINT64_MAX, INT64_MIN, INT64_MAX, marketdata::MarketView::kRecentTrades);
    std::vector<marketdata::TradeRecord> oldest_first;
    for (auto it = trades.rbegin(); it != trades.rend(); ++it) {
      oldest_first.push_back({TradeId{it->trade_id}, Price{it->price}, Qty{it->qty}, Amount{it->notional},
                              static_cast<Side>(it->aggressor_side), it->time});
    }
    market.restore_trades(info.spec.id, oldest_first);
  }
}

std::vector<accounts::OrderDetails> live_order_details(store::Store& store) {
  std::vector<accounts::OrderDetails> out;
  for (const store::OrderHistoryRow& r : store.live_order_history()) {
    out.push_back(accounts::OrderDetails{OrderId{r.order_id}, AccountId{r.account}, r.created,
                                         Amount{r.notional_filled}, Amount{r.fees}});
  }
  return out;
}

store::HoldingCostRow holding_row_of(const accounts::HoldingCost& h) {
  return store::HoldingCostRow{h.account.value, h.asset.value, accounts::encode_cost_lines(h.lines), h.flow_day,
                               h.net_flow, h.empty()};
}

bool holding_of(const store::HoldingCostRow& row, accounts::HoldingCost* out) {
  out->account = AccountId{row.account};
  out->asset = AssetId{row.asset};
  out->flow_day = row.flow_day;
  out->net_flow = row.net_flow;
  return accounts::decode_cost_lines(row.lines, &out->lines);
}

std::vector<accounts::HoldingCost> stored_holding_costs(store::Store& store, uint64_t* history_seq) {
  uint64_t seq = 0;
  std::vector<accounts::HoldingCost> out;
  for (const store::HoldingCostRow& row : store.holding_costs(&seq)) {
    accounts::HoldingCost h;
    if (holding_of(row, &h)) {
      out.push_back(std::move(h));
    } else {
      log_line(LogLevel::kError, "projector", "unreadable cost basis of account %u asset %u: skipped", row.account,
               row.asset);
    }
  }
  if (history_seq) *history_seq = seq;
  return out;
}

HistoryProjector::HistoryProjector(store::Store& store, std::size_t max_pending)
    : store_(store), max_pending_(max_pending) {
  mirror_.track_holding_changes();
}

HistoryProjector::~HistoryProjector() {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
}

void HistoryProjector::order_row(AccountId account, OrderId id, uint64_t seq, store::HistoryBatch* batch) {
  auto r = mirror_.order(account, id);
  if (!r) return;
  // One row per order per transaction: its latest state (a place and its
  // cancel in the same batch write once).
  const auto [it, added] = batch_orders_.try_emplace(id.value, batch->orders.size());
  if (added) {
    batch->orders.push_back(row_of(*r, seq));
  } else {
    batch->orders[it->second] = row_of(*r, seq);
  }
}

void HistoryProjector::project(std::span<const Event> events, uint64_t min_seq, store::HistoryBatch* batch) {
  for (const Event& e : events) {
    const uint64_t seq = e.cause.seq;
    const bool emit = seq >= min_seq;
    // A ledger row needs the balance before the change.
    int64_t before_total = 0;
    if (emit && e.type == EventType::kBalanceChanged) {
      for (const accounts::BalanceRecord& b : mirror_.balances(e.balance.account)) {
        if (b.asset == e.balance.asset) before_total = b.available.value + b.locked.value;
      }
    }
    mirror_.on_durable_batch(std::span<const Event>(&e, 1));
    if (emit) batch->last_seq = std::max(batch->last_seq, seq);
    if (!emit) continue;
    latest_time_ms_ = std::max(latest_time_ms_, e.cause.timestamp / 1'000'000);
    // seq 0: refused without being journaled (a journal failure): no outcome.
    if (e.cause.correlation != 0 && seq != 0) idempotency_row(e, batch);
    switch (e.type) {
      case EventType::kOrderAccepted:
        order_row(e.accepted.account, e.accepted.order_id, seq, batch);
        break;
      case EventType::kExternalTradeApplied: {
        const ExternalTradeApplied& t = e.external_trade;
        market_rows(store::TradeHistoryRow{t.trade_id.value, t.instrument.value, t.price.value, t.qty.value,
                                           t.notional.value, static_cast<uint8_t>(t.aggressor_side), t.time, seq},
                    batch);
        break;
      }
      case EventType::kTrade: {
        const Trade& t = e.trade;
        market_rows(store::TradeHistoryRow{t.trade_id.value, t.instrument.value, t.price.value, t.qty.value,
                                           t.notional.value, static_cast<uint8_t>(t.aggressor_side),
                                           e.cause.timestamp, seq},
                    batch);
        const Side passive = e.trade.aggressor_side == Side::kBuy ? Side::kSell : Side::kBuy;
        batch->fills.push_back(fill_of(e, e.trade.aggressor, e.trade.aggressor_side, false));
        batch->fills.push_back(fill_of(e, e.trade.passive, passive, true));
        order_row(e.trade.aggressor.account, e.trade.aggressor.order_id, seq, batch);
        order_row(e.trade.passive.account, e.trade.passive.order_id, seq, batch);
        break;
      }
      case EventType::kOrderCancelled:
        order_row(e.cancelled.account, e.cancelled.order_id, seq, batch);
        break;
      case EventType::kOrderExpired:
        order_row(e.expired.account, e.expired.order_id, seq, batch);
        break;
      case EventType::kOrderAmended:
        order_row(e.amended.account, e.amended.order_id, seq, batch);
        break;
      case EventType::kOrderTriggered:
        order_row(e.triggered.account, e.triggered.order_id, seq, batch);
        break;
      case EventType::kBalanceChanged: {
        const BalanceChanged& b = e.balance;
        store::LedgerHistoryRow l;
        l.seq = seq;
        l.account = b.account.value;
        l.asset = b.asset.value;
        l.available = b.available.value;
        l.locked = b.locked.value;
        l.change = b.available.value + b.locked.value - before_total;
        l.cause = static_cast<uint8_t>(e.cause.type);
        l.time = e.cause.timestamp;
        batch->ledger.push_back(l);
        break;
      }
      default:
        break;
    }
  }
  // Only with rows of their own seq: during a catch-up the changes before
  // min_seq wait (in the mirror) for the first emitted event, so no batch
  // without a seq carries holdings. One row per holding per transaction.
  if (batch->last_seq == 0) return;
  for (const accounts::HoldingCost& h : mirror_.drain_holding_changes()) {
    const auto [it, added] = batch_holdings_.try_emplace({h.account.value, h.asset.value}, batch->holdings.size());
    if (added) {
      batch->holdings.push_back(holding_row_of(h));
    } else {
      batch->holdings[it->second] = holding_row_of(h);
    }
  }
}

// A trade (venue or external): its public row, and its share of the bar it
// falls in at every interval (one delta per bar per batch; the store merges
// deltas).
void HistoryProjector::market_rows(const store::TradeHistoryRow& row, store::HistoryBatch* batch) {
  batch->trades.push_back(row);
  for (marketdata::Interval interval : marketdata::kIntervals) {
    const int64_t width = marketdata::interval_ns(interval);
    const int64_t open_time = row.time / width * width - (row.time % width < 0 ? width : 0);
    const auto key = std::make_tuple(row.instrument, static_cast<uint8_t>(interval), open_time);
    auto [it, inserted] = batch_candles_.try_emplace(key, batch->candles.size());
    if (inserted) {
      store::CandleHistoryRow c;
      c.instrument = row.instrument;
      c.interval = static_cast<uint8_t>(interval);
      c.open_time = open_time;
      c.open = c.high = c.low = row.price;
      batch->candles.push_back(c);
    }
    store::CandleHistoryRow& c = batch->candles[it->second];
    c.high = std::max(c.high, row.price);
    c.low = std::min(c.low, row.price);
    c.close = row.price;
    c.volume = c.volume > INT64_MAX - row.qty ? INT64_MAX : c.volume + row.qty;  // saturating, as in memory
    store::set_candle_notional(&c, store::candle_notional(c) + static_cast<Int128>(row.price) * row.qty);
    c.quote_volume = c.quote_volume > INT64_MAX - row.notional ? INT64_MAX : c.quote_volume + row.notional;
    ++c.trades;
    c.seq = row.seq;
  }
}

// A command sent with an Idempotency-Key: one row per command, completed by
// its accept or reject event (a command's events may span two batches; the
// store merges by tag and seq).
void HistoryProjector::idempotency_row(const Event& e, store::HistoryBatch* batch) {
  auto& rows = batch->idempotency;
  if (rows.empty() || rows.back().seq != e.cause.seq) {
    store::IdempotencyRow r;
    r.tag = e.cause.correlation;
    r.fingerprint = e.cause.source;
    r.seq = e.cause.seq;
    r.command = static_cast<uint8_t>(e.cause.type);
    r.created_ms = e.cause.timestamp / 1'000'000;
    rows.push_back(r);
  }
  store::IdempotencyRow& r = rows.back();
  if (e.type == EventType::kOrderAccepted && r.order_id == 0) r.order_id = e.accepted.order_id.value;
  if (e.type == EventType::kOrderRejected && r.reject_reason == 0) {
    r.reject_reason = static_cast<uint16_t>(e.rejected.reason);
  }
}

bool HistoryProjector::write(store::HistoryBatch& batch) {
  if (batch.last_seq == 0 && rows(batch) == 0) {
    batch_orders_.clear();
    batch_candles_.clear();
    batch_holdings_.clear();
    return true;
  }
  // Keys older than their lifetime, and market history past its retention,
  // go once a minute of venue time.
  if (latest_time_ms_ - last_prune_ms_ >= 60'000) {
    batch.prune_idempotency_before_ms = latest_time_ms_ - store::kIdempotencyTtlMs;
    const int64_t now_ns = latest_time_ms_ * 1'000'000;
    if (retention_.trades_ns > 0) batch.prune_trades_before_ns = now_ns - retention_.trades_ns;
    for (std::size_t k = 0; k < retention_.candles_ns.size(); ++k) {
      if (retention_.candles_ns[k] > 0) batch.prune_candles_before_ns[k] = now_ns - retention_.candles_ns[k];
    }
    last_prune_ms_ = latest_time_ms_;
  }
  const bool ok = store_.apply_history(batch) == store::StoreError::kOk;
  batch_orders_.clear();
  batch_candles_.clear();
  batch_holdings_.clear();
  if (ok) {
    std::lock_guard lock(mutex_);
    projected_seq_ = std::max(projected_seq_, batch.last_seq);
  }
  batch = store::HistoryBatch{};
  return ok;
}

bool HistoryProjector::catch_up(const std::string& data_dir, const Engine& engine, std::string* error) {
  const uint64_t done = store_.history_seq();
  if (done >= engine.last_seq()) {
    // Clean start: the history is complete; the mirror needs only what is
    // live, plus the details of live orders that only the history keeps.
    mirror_.load(engine);
    mirror_.restore_details(live_order_details(store_));
    mirror_.restore_holding_costs(stored_holding_costs(store_, nullptr));
    std::lock_guard lock(mutex_);
    projected_seq_ = done;
    return true;
  }
  log_line(LogLevel::kInfo, "projector", "history at seq %llu, journal at %llu: replaying the journal",
           static_cast<unsigned long long>(done), static_cast<unsigned long long>(engine.last_seq()));
  uint64_t records = 0;
  if (!replay_into_store(data_dir, engine.config(), done + 1, &records, error)) {
    *error = "history catch-up: " + *error;
    return false;
  }
  return true;
}

bool HistoryProjector::replay_into_store(const std::string& data_dir, const EngineConfig& config, uint64_t min_seq,
                                         uint64_t* records, std::string* error) {
  Engine shadow(config);
  store::HistoryBatch batch;
  bool ok = true;
  const ReplayResult r = replay_data_dir(data_dir, true, &shadow, [&](std::span<const Event> events) {
    project(events, min_seq, &batch);
    if (rows(batch) >= kRowsPerTransaction) ok &= write(batch);
  });
  if (!r.ok) {
    *error = r.error;
    batch_orders_.clear();  // indexes into the abandoned batch
    batch_candles_.clear();
    batch_holdings_.clear();
    return false;
  }
  batch.last_seq = std::max(batch.last_seq, shadow.last_seq());
  ok &= write(batch);
  if (!ok) *error = "the store refused a write";
  *records = r.report.replayed;
  return ok;
}

bool HistoryProjector::rebuild(const std::string& data_dir, const EngineConfig& config, uint64_t* records,
                               std::string* error) {
  if (store_.clear_history() != store::StoreError::kOk) {
    *error = "cannot clear the history tables";
    return false;
  }
  return replay_into_store(data_dir, config, 0, records, error);
}

void HistoryProjector::start() { thread_ = std::thread([this] { run(); }); }

void HistoryProjector::stop(uint64_t last_seq) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  if (!stalled_ && last_seq > projected_seq_) {
    if (store_.set_history_seq(last_seq) == store::StoreError::kOk) projected_seq_ = last_seq;
  }
}

void HistoryProjector::on_durable_batch(std::span<const Event> events) {
  if (events.empty()) return;
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (stalled_) return;
    if (pending_.size() + events.size() > max_pending_) {
      stalled_ = true;
      pending_.clear();
      log_line(LogLevel::kError, "projector",
               "history projection fell %zu events behind; it stops here and catches up from the journal at the "
               "next start",
               max_pending_);
      return;
    }
    // Wake the projector only when work appears or a batch is full: not a
    // futex wake per dispatcher batch.
    wake = pending_.empty() || (pending_.size() < kEventsPerWrite && pending_.size() + events.size() >= kEventsPerWrite);
    pending_.insert(pending_.end(), events.begin(), events.end());
  }
  if (wake) wake_.notify_one();
}

void HistoryProjector::run() {
  std::vector<Event> work;
  store::HistoryBatch batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      // Gather for a few milliseconds: one transaction for many dispatcher
      // batches costs far less than one each.
      wake_.wait_for(lock, kGatherTime, [&] { return stopping_ || pending_.size() >= kEventsPerWrite; });
      if (pending_.empty() && stopping_) return;
      work.swap(pending_);
    }
    project(work, 0, &batch);
    work.clear();
    if (!write(batch)) {
      std::lock_guard lock(mutex_);
      stalled_ = true;
      pending_.clear();
      log_line(LogLevel::kError, "projector", "the store refused history; projection stops until the next start");
      return;
    }
  }
}

uint64_t HistoryProjector::projected_seq() const {
  std::lock_guard lock(mutex_);
  return projected_seq_;
}

bool HistoryProjector::stalled() const {
  std::lock_guard lock(mutex_);
  return stalled_;
}

}  // namespace bourse::projector

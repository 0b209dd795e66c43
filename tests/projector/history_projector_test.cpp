// The history projector against the engine and its events: under random
// commands every trade leg becomes a fill row, every order's last state an
// order row that agrees with the engine, and the ledger's changes add up to
// every balance. A projection that stopped half-way ("crash") and caught up
// from the journal equals a rebuild from scratch, row for row.
#include "projector/history_projector.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <tuple>

#include "bourse/sequencer/exchange.h"
#include "engine/random_commands.h"
#include "marketdata/candles.h"

namespace bourse {
namespace {

struct History {
  std::vector<store::OrderHistoryRow> orders;
  std::vector<store::FillHistoryRow> fills;
  std::vector<store::LedgerHistoryRow> ledger;
  std::vector<store::IdempotencyRow> idempotency;
  std::vector<store::TradeHistoryRow> trades;
  std::vector<store::CandleHistoryRow> candles;
  bool operator==(const History&) const = default;
};

History dump(store::Store& s, const Engine& engine) {
  History h;
  engine.for_each_account([&](const AccountView& a) {
    store::HistoryQuery q;
    q.account = a.id.value;
    q.limit = 1'000'000;
    for (auto& r : s.order_history(q)) h.orders.push_back(r);
    for (auto& r : s.fill_history(q)) h.fills.push_back(r);
    for (auto& r : s.ledger_history(q)) h.ledger.push_back(r);
  });
  h.idempotency = s.recent_idempotency(0, 1'000'000);
  engine.for_each_instrument([&](const InstrumentView& v) {
    for (auto& r : s.trade_history(v.spec.id.value, UINT64_MAX, INT64_MIN, INT64_MAX, 1'000'000)) h.trades.push_back(r);
    for (marketdata::Interval i : marketdata::kIntervals) {
      for (auto& r : s.candle_history(v.spec.id.value, static_cast<uint8_t>(i), INT64_MIN, INT64_MAX, 1'000'000)) {
        h.candles.push_back(r);
      }
    }
  });
  return h;
}

class ProjectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bourse-projector-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    ExchangeOptions eo;
    eo.data_dir = dir_ + "/data";
    eo.engine = config_.engine;
    eo.fsync = false;
    eo.snapshot_every = 3'000;  // snapshots do not matter to history: catch-up replays from seq 1
    std::string error;
    exchange_ = Exchange::open(eo, &error);
    ASSERT_TRUE(exchange_) << error;
    store_ = store::open_sqlite_store(dir_ + "/store.sqlite", &error);
    ASSERT_TRUE(store_) << error;
  }
  void TearDown() override {
    exchange_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs setup + n random commands; hands the events of commands
  // [0, project_until) to the projector.
  void run(uint64_t n, projector::HistoryProjector& p, uint64_t project_until = UINT64_MAX) {
    testing::RandomCommandGenerator gen(7, config_);
    uint64_t i = 0;
    auto submit = [&](const Command& c) {
      const auto events = exchange_->submit_at(c, c.header.timestamp);
      gen.observe(events);
      all_.insert(all_.end(), events.begin(), events.end());
      if (i++ < project_until) p.on_durable_batch(events);
    };
    for (Command c : gen.setup()) {
      c.header.correlation = 0;
      submit(c);
    }
    for (uint64_t k = 0; k < n; ++k) {
      // Every third command as the gateway sends a request with an
      // Idempotency-Key; the others without (the generator stamps a
      // correlation on every command).
      Command c = gen.next();
      c.header.correlation = k % 3 == 0 ? 0x8000'0000'0000'0000ull | k : 0;
      c.header.source = k % 3 == 0 ? static_cast<uint16_t>(k * 7) : 0;
      submit(c);
    }
    ASSERT_TRUE(exchange_->wait_durable(exchange_->last_seq()));
  }

  testing::RandomCommandConfig config_;
  std::string dir_;
  std::unique_ptr<Exchange> exchange_;
  std::unique_ptr<store::Store> store_;
  std::vector<Event> all_;
};

TEST_F(ProjectorTest, RowsAgreeWithTheEngineAndTheEvents) {
  projector::HistoryProjector p(*store_);
  std::string error;
  ASSERT_TRUE(p.catch_up(dir_ + "/data", exchange_->engine(), &error)) << error;
  p.start();
  run(8'000, p);
  p.stop(exchange_->last_seq());
  EXPECT_EQ(store_->history_seq(), exchange_->last_seq());
  EXPECT_FALSE(p.stalled());
  const Engine& engine = exchange_->engine();
  const History h = dump(*store_, engine);

  // The cost basis of holdings: what the store kept equals a read model fed
  // every event from the start.
  {
    accounts::AccountReadModel from_events;
    from_events.on_durable_batch(all_);
    uint64_t seq = 0;
    const auto stored = projector::stored_holding_costs(*store_, &seq);
    EXPECT_EQ(seq, exchange_->last_seq());
    EXPECT_EQ(stored, from_events.all_holding_costs());
    std::size_t with_cost = 0;
    for (const auto& c : stored) with_cost += !c.lines.empty();
    EXPECT_GT(with_cost, 10u);
  }

  // Fills: exactly the trade legs.
  std::set<std::tuple<uint64_t, uint32_t, uint64_t>> want_fills;
  std::set<uint64_t> accepted;
  for (const Event& e : all_) {
    if (e.type == EventType::kTrade) {
      want_fills.emplace(e.trade.trade_id.value, e.trade.aggressor.account.value, e.trade.aggressor.order_id.value);
      want_fills.emplace(e.trade.trade_id.value, e.trade.passive.account.value, e.trade.passive.order_id.value);
    }
    if (e.type == EventType::kOrderAccepted) accepted.insert(e.accepted.order_id.value);
  }
  ASSERT_GT(want_fills.size(), 100u);
  std::set<std::tuple<uint64_t, uint32_t, uint64_t>> got_fills;
  for (const auto& f : h.fills) got_fills.emplace(f.trade_id, f.account, f.order_id);
  EXPECT_EQ(got_fills, want_fills);
  EXPECT_EQ(h.fills.size(), want_fills.size());

  // Public trades: exactly the trade events. Candles: what a from-scratch
  // CandleSeries makes of the same trades, bar for bar, at every interval.
  std::map<uint32_t, std::vector<marketdata::Tick>> ticks;
  std::size_t trade_events = 0;
  for (const Event& e : all_) {
    if (e.type == EventType::kTrade) {
      ++trade_events;
      ticks[e.trade.instrument.value].push_back({e.cause.timestamp, e.trade.price.value, e.trade.qty.value});
    } else if (e.type == EventType::kExternalTradeApplied) {  // at the source's time
      ++trade_events;
      const ExternalTradeApplied& t = e.external_trade;
      ticks[t.instrument.value].push_back({t.time, t.price.value, t.qty.value});
    }
  }
  EXPECT_EQ(h.trades.size(), trade_events);
  std::map<std::tuple<uint32_t, uint8_t, int64_t>, marketdata::Candle> want_bars, got_bars;
  for (const auto& [instrument, list] : ticks) {
    for (marketdata::Interval i : marketdata::kIntervals) {
      marketdata::CandleSeries series(i, 1'000'000);
      marketdata::Candle closed;
      for (const auto& t : list) series.add(t, &closed);
      for (const auto& c : series.closed()) want_bars[{instrument, static_cast<uint8_t>(i), c.open_time_ns}] = c;
      if (series.current()) {
        want_bars[{instrument, static_cast<uint8_t>(i), series.current()->open_time_ns}] = *series.current();
      }
    }
  }
  for (const auto& r : h.candles) got_bars[{r.instrument, r.interval, r.open_time}] = projector::candle_of(r);
  EXPECT_GT(want_bars.size(), 10u);
  EXPECT_TRUE(got_bars == want_bars);

  // Orders: one row per accepted order; live ones agree with the engine,
  // the others are closed.
  std::map<uint64_t, store::OrderHistoryRow> rows;
  for (const auto& o : h.orders) rows[o.order_id] = o;
  EXPECT_EQ(rows.size(), accepted.size());
  std::set<uint64_t> live;
  engine.for_each_order([&](const OrderView& o) {
    live.insert(o.id.value);
    const auto it = rows.find(o.id.value);
    ASSERT_NE(it, rows.end()) << o.id.value;
    EXPECT_EQ(it->second.filled, o.filled.value);
    EXPECT_EQ(it->second.qty, o.qty.value);
    EXPECT_EQ(it->second.price, o.price.value);
    EXPECT_EQ(it->second.account, o.account.value);
    EXPECT_FALSE(accounts::is_terminal(static_cast<accounts::OrderStatus>(it->second.status)));
  });
  for (const auto& [id, row] : rows) {
    if (!live.contains(id)) {
      EXPECT_TRUE(accounts::is_terminal(static_cast<accounts::OrderStatus>(row.status))) << id;
    }
  }

  // Ledger: per account and asset, the changes add up to the balance and the
  // newest row is the engine's balance.
  std::map<std::pair<uint32_t, uint32_t>, int64_t> sum;
  std::map<std::pair<uint32_t, uint32_t>, store::LedgerHistoryRow> newest;
  for (const auto& l : h.ledger) {
    sum[{l.account, l.asset}] += l.change;
    auto& n = newest[{l.account, l.asset}];
    if (l.seq >= n.seq) n = l;
  }
  ASSERT_FALSE(newest.empty());
  for (const auto& [key, row] : newest) {
    const Balance b = engine.balance(AccountId{key.first}, AssetId{key.second});
    EXPECT_EQ(row.available, b.available.value);
    EXPECT_EQ(row.locked, b.locked.value);
    EXPECT_EQ(sum[key], b.available.value + b.locked.value) << key.first << "/" << key.second;
  }

  // Idempotency: one row per keyed command that had events, with its order
  // or its rejection.
  std::map<uint64_t, store::IdempotencyRow> want_keyed;
  for (const Event& e : all_) {
    if (e.cause.correlation == 0) continue;
    auto& r = want_keyed[e.cause.correlation];
    r.tag = e.cause.correlation;
    r.fingerprint = e.cause.source;
    r.seq = e.cause.seq;
    r.command = static_cast<uint8_t>(e.cause.type);
    r.created_ms = e.cause.timestamp / 1'000'000;
    if (e.type == EventType::kOrderAccepted) r.order_id = e.accepted.order_id.value;
    if (e.type == EventType::kOrderRejected) r.reject_reason = static_cast<uint16_t>(e.rejected.reason);
  }
  ASSERT_GT(want_keyed.size(), 1'000u);
  std::size_t accepted_keyed = 0, rejected_keyed = 0;
  for (const auto& r : h.idempotency) {
    ASSERT_TRUE(want_keyed.contains(r.tag)) << "a row for an unkeyed command: " << r.tag;
    EXPECT_EQ(r, want_keyed[r.tag]) << r.tag;
    accepted_keyed += r.order_id != 0;
    rejected_keyed += r.reject_reason != 0;
  }
  EXPECT_EQ(h.idempotency.size(), want_keyed.size());
  EXPECT_GT(accepted_keyed, 100u);
  EXPECT_GT(rejected_keyed, 10u);

  // Pagination walks every fill of an account exactly once.
  const uint32_t account = h.fills.front().account;
  store::HistoryQuery q;
  q.account = account;
  q.limit = 7;
  std::size_t walked = 0;
  for (;;) {
    const auto page = store_->fill_history(q);
    walked += page.size();
    if (page.size() < q.limit) break;
    q.before = page.back().trade_id;
    q.before_secondary = page.back().order_id;
  }
  std::size_t expected = 0;
  for (const auto& f : h.fills) expected += f.account == account;
  EXPECT_EQ(walked, expected);
}

TEST_F(ProjectorTest, CatchUpAfterACrashEqualsARebuildFromScratch) {
  {
    projector::HistoryProjector p(*store_);
    std::string error;
    ASSERT_TRUE(p.catch_up(dir_ + "/data", exchange_->engine(), &error)) << error;
    p.start();
    run(6'000, p, 2'500);  // the projector "crashes" after 2,500 commands' events
    p.stop(0);             // no clean-shutdown mark
  }
  const uint64_t projected = store_->history_seq();
  ASSERT_GT(projected, 0u);
  ASSERT_LT(projected, exchange_->last_seq());
  exchange_->close();
  const Engine& engine = exchange_->engine();

  projector::HistoryProjector again(*store_);
  std::string error;
  ASSERT_TRUE(again.catch_up(dir_ + "/data", engine, &error)) << error;
  EXPECT_EQ(store_->history_seq(), exchange_->last_seq());
  const History caught_up = dump(*store_, engine);
  const auto caught_up_costs = projector::stored_holding_costs(*store_, nullptr);

  projector::HistoryProjector fresh(*store_);
  uint64_t records = 0;
  ASSERT_TRUE(fresh.rebuild(dir_ + "/data", config_.engine, &records, &error)) << error;
  EXPECT_EQ(records, exchange_->last_seq());
  const History rebuilt = dump(*store_, engine);
  EXPECT_GT(rebuilt.fills.size(), 100u);
  EXPECT_TRUE(caught_up == rebuilt);
  EXPECT_EQ(caught_up.orders.size(), rebuilt.orders.size());
  EXPECT_EQ(caught_up.fills.size(), rebuilt.fills.size());
  EXPECT_EQ(caught_up.ledger.size(), rebuilt.ledger.size());
  EXPECT_GT(rebuilt.idempotency.size(), 1'000u);
  EXPECT_EQ(caught_up.idempotency.size(), rebuilt.idempotency.size());
  // Candles are merged deltas: a crash and catch-up must not count a trade twice.
  EXPECT_GT(rebuilt.candles.size(), 10u);
  EXPECT_EQ(caught_up.trades.size(), rebuilt.trades.size());
  EXPECT_EQ(caught_up.candles, rebuilt.candles);
  EXPECT_EQ(caught_up_costs, projector::stored_holding_costs(*store_, nullptr));
  EXPECT_FALSE(caught_up_costs.empty());
}

TEST_F(ProjectorTest, ACleanStartLoadsLiveOrderDetailsFromTheHistory) {
  {
    projector::HistoryProjector p(*store_);
    std::string error;
    ASSERT_TRUE(p.catch_up(dir_ + "/data", exchange_->engine(), &error)) << error;
    p.start();
    run(3'000, p);
    p.stop(exchange_->last_seq());
  }
  // What the engine cannot say about its live orders, the history can.
  accounts::AccountReadModel model;
  model.load(exchange_->engine());
  model.restore_details(projector::live_order_details(*store_));
  std::size_t checked = 0;
  exchange_->engine().for_each_order([&](const OrderView& o) {
    const auto r = model.order(o.account, o.id);
    ASSERT_TRUE(r);
    EXPECT_GT(r->created, 0);
    if (o.filled.value > 0) {
      EXPECT_GT(r->notional_filled.value, 0);
    }
    ++checked;
  });
  EXPECT_GT(checked, 10u);
  // The cost basis is not engine state either: it comes back from the store
  // and equals what the events said.
  model.restore_holding_costs(projector::stored_holding_costs(*store_, nullptr));
  accounts::AccountReadModel from_events;
  from_events.on_durable_batch(all_);
  EXPECT_EQ(model.all_holding_costs(), from_events.all_holding_costs());
  EXPECT_FALSE(from_events.all_holding_costs().empty());
  // And the projector takes the clean path: no replay needed.
  projector::HistoryProjector next(*store_);
  std::string error;
  ASSERT_TRUE(next.catch_up(dir_ + "/data", exchange_->engine(), &error)) << error;
  EXPECT_EQ(next.projected_seq(), exchange_->last_seq());
}

}  // namespace
}  // namespace bourse

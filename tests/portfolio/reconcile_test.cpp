// Reconciliation against a real data directory: random CASH and MARGIN
// trading with transfers through the Exchange (journal on disk), the
// history projected into a real SQLite store by a live projector (fed batch
// by batch, as the server does; or cut off by a "crash" and caught up from
// the journal at the next start), then `reconcile` must find no difference,
// and must find one when the store's cost basis is tampered with.
#include "portfolio/reconcile.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <random>

#include "bourse/sequencer/exchange.h"
#include "projector/history_projector.h"

namespace bourse::portfolio {
namespace {

constexpr AssetId kUsd{1}, kXyz{2};
constexpr InstrumentId kXyzUsd{1};
constexpr uint32_t kAccounts = 4;

class ReconcileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bourse-reconcile-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    ExchangeOptions eo;
    eo.data_dir = dir_ + "/data";
    eo.engine = config_;
    eo.fsync = false;
    eo.snapshot_every = 500;  // snapshots exist, but reconciliation replays from seq 1
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
  // Returns the number of trades.
  std::size_t submit(const Command& c) {
    now_ += 1'000'000;
    const auto events = exchange_->submit_at(c, now_);
    if (live_ && submitted_++ < project_until_) live_->on_durable_batch(events);
    std::size_t trades = 0;
    for (const Event& e : events) trades += e.type == EventType::kTrade;
    return trades;
  }
  // Two assets, one instrument tradable on margin, four tier-1 accounts;
  // then `n` random orders (half MARGIN), cancels, deposits and withdrawals.
  // A live projector writes the history as they happen; with `crash_after`
  // it sees only that many commands, and a new one catches up at "restart".
  void trade(int n, uint64_t crash_after = UINT64_MAX) {
    std::string error;
    live_ = std::make_unique<projector::HistoryProjector>(*store_);
    ASSERT_TRUE(live_->catch_up(dir_ + "/data", exchange_->engine(), &error)) << error;
    live_->start();
    project_until_ = crash_after;
    submit(Command::add_asset({AssetCode::from("USD"), kUsd, 2}));
    submit(Command::add_asset({AssetCode::from("XYZ"), kXyz, 0}));
    InstrumentSpec s;
    s.symbol = Symbol::from("XYZ-USD");
    s.id = kXyzUsd;
    s.base = kXyz;
    s.quote = kUsd;
    s.price_scale = 2;
    s.tick_size = Price{1};
    s.lot_size = s.min_qty = Qty{1};
    s.max_qty = Qty{1'000};
    s.reference_price = Price{10'000};
    s.band_bps = 1'000;
    s.maker_fee_ppm = 1'000;
    s.taker_fee_ppm = 2'000;
    submit(Command::add_instrument(s));
    SetMarginParams m{};
    m.instrument = kXyzUsd;
    m.initial_ppm[0] = 200'000;
    m.maintenance_ppm[0] = 100'000;
    submit(Command::set_margin_params(m));
    for (uint32_t a = 1; a <= kAccounts; ++a) {
      submit(Command::configure_account({AccountId{a}, 0, StpMode::kCancelNewest, 1}));
      submit(Command::deposit({Amount{10'000'000}, AccountId{a}, kUsd}));
      submit(Command::deposit({Amount{500}, AccountId{a}, kXyz}));
    }
    std::mt19937_64 rng(5);
    auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
    for (int i = 0; i < n; ++i) {
      const AccountId account{static_cast<uint32_t>(pick(1, kAccounts))};
      const int64_t r = pick(0, 99);
      if (r < 3) {
        submit(Command::deposit({Amount{pick(1, 50)}, account, pick(0, 1) ? kXyz : kUsd}));
      } else if (r < 6) {
        submit(Command::withdraw({Amount{pick(1, 50)}, account, pick(0, 1) ? kXyz : kUsd}));
      } else if (r < 12) {
        submit(Command::cancel_all({account, kXyzUsd}));
      } else {
        PlaceOrder p{};
        p.account = account;
        p.instrument = kXyzUsd;
        p.side = pick(0, 1) ? Side::kBuy : Side::kSell;
        p.type = r < 20 ? OrderType::kMarket : OrderType::kLimit;
        p.tif = r < 20 ? TimeInForce::kIoc : TimeInForce::kGtc;
        if (p.type == OrderType::kLimit) p.price = Price{pick(9'900, 10'100)};
        p.qty = Qty{pick(1, 8)};
        p.product = pick(0, 1) ? Product::kMargin : Product::kCash;
        submit(Command::place_order(p));
      }
    }
    ASSERT_TRUE(exchange_->wait_durable(exchange_->last_seq()));
    const bool crashed = crash_after != UINT64_MAX;
    live_->stop(crashed ? 0 : exchange_->last_seq());  // a crash leaves no clean-shutdown mark
    live_.reset();
    if (crashed) {
      ASSERT_LT(store_->history_seq(), exchange_->last_seq());
      projector::HistoryProjector restarted(*store_);
      ASSERT_TRUE(restarted.catch_up(dir_ + "/data", exchange_->engine(), &error)) << error;
    }
    ASSERT_EQ(store_->history_seq(), exchange_->last_seq());
  }

  EngineConfig config_{.max_accounts = 64, .max_assets = 8, .max_instruments = 8, .order_capacity = 1u << 14,
                       .default_max_open_orders = 64};
  std::string dir_;
  std::unique_ptr<Exchange> exchange_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<projector::HistoryProjector> live_;
  uint64_t project_until_ = UINT64_MAX;
  uint64_t submitted_ = 0;
  Timestamp now_ = 1'700'000'000'000'000'000;
};

TEST_F(ReconcileTest, TheJournalAndTheDerivedStateAgree) {
  trade(3'000);
  ReconcileReport report;
  std::string error;
  ASSERT_TRUE(reconcile(dir_ + "/data", config_, store_.get(), &report, &error)) << error;
  for (const std::string& d : report.differences) ADD_FAILURE() << d;
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.journal_seq, exchange_->last_seq());
  EXPECT_EQ(report.store_seq, exchange_->last_seq());
  EXPECT_GE(report.positions, 2u);  // MARGIN lines exist
  EXPECT_GE(report.balances, 2u * kAccounts);
  EXPECT_GE(report.holdings, 2u * kAccounts);  // cost basis and transfers of both assets
  // The engine has positions with realized PnL: the check compared real figures.
  bool realized = false;
  exchange_->engine().for_each_position([&](const PositionView& p) { realized |= p.realized != 0; });
  EXPECT_TRUE(realized);
}

TEST_F(ReconcileTest, AfterACrashTheCatchUpAgreesToo) {
  trade(4'000, 1'500);
  ReconcileReport report;
  std::string error;
  ASSERT_TRUE(reconcile(dir_ + "/data", config_, store_.get(), &report, &error)) << error;
  for (const std::string& d : report.differences) ADD_FAILURE() << d;
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.store_seq, exchange_->last_seq());
  EXPECT_GE(report.holdings, 2u * kAccounts);
}

TEST_F(ReconcileTest, ATamperedCostBasisIsReportedWithItsAccount) {
  trade(1'000);
  uint64_t seq = 0;
  auto rows = store_->holding_costs(&seq);
  ASSERT_FALSE(rows.empty());
  // Move one unit of cost in the first row that has a line.
  store::HistoryBatch batch;
  batch.last_seq = seq;
  for (const store::HoldingCostRow& row : rows) {
    accounts::HoldingCost h;
    ASSERT_TRUE(projector::holding_of(row, &h));
    if (h.lines.empty()) continue;
    h.lines[0].cost += 1;
    batch.holdings.push_back(projector::holding_row_of(h));
    break;
  }
  ASSERT_EQ(batch.holdings.size(), 1u);
  ASSERT_EQ(store_->apply_history(batch), store::StoreError::kOk);
  ReconcileReport report;
  std::string error;
  ASSERT_TRUE(reconcile(dir_ + "/data", config_, store_.get(), &report, &error)) << error;
  EXPECT_EQ(report.difference_count, 1u);
  ASSERT_EQ(report.differences.size(), 1u);
  EXPECT_NE(report.differences[0].find("holding account " + std::to_string(batch.holdings[0].account)),
            std::string::npos)
      << report.differences[0];
}

TEST_F(ReconcileTest, AStoreBehindTheJournalIsComparedAtItsOwnSeq) {
  trade(800);
  const uint64_t full = store_->history_seq();
  // More trading that the store has not seen: the comparison happens at the
  // store's seq, so the lag itself is not a difference.
  std::size_t trades = 0;
  for (int i = 0; i < 50; ++i) {
    PlaceOrder p{};
    p.account = AccountId{static_cast<uint32_t>(1 + i % 2)};
    p.instrument = kXyzUsd;
    p.side = i % 2 ? Side::kBuy : Side::kSell;
    p.price = Price{10'000};
    p.qty = Qty{1};
    trades += submit(Command::place_order(p));
  }
  ASSERT_GE(trades, 10u);  // the cost basis moved after the store's seq
  ASSERT_TRUE(exchange_->wait_durable(exchange_->last_seq()));
  ReconcileReport report;
  std::string error;
  ASSERT_TRUE(reconcile(dir_ + "/data", config_, store_.get(), &report, &error)) << error;
  for (const std::string& d : report.differences) ADD_FAILURE() << d;
  EXPECT_EQ(report.store_seq, full);
  EXPECT_GT(report.journal_seq, full);
}

}  // namespace
}  // namespace bourse::portfolio

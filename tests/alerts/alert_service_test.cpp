// AlertService against a real engine service, journal and SQLite store: a
// rule fires once live; the service then misses trades (as in a crash
// between the journal and its own commit), and the next start replays the
// journal and fires exactly the rules those trades crossed, once; a start
// after that fires nothing. Rule changes persist and count against the
// per-account limit.
#include "alerts/alert_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "bourse/core/clock.h"

namespace bourse::alerts {
namespace {

constexpr AccountId kAlice{1}, kBob{2};

// Lets a test cut the alert service off from the dispatcher, as a crash
// would, while the engine keeps going.
struct Forward final : EventListener {
  std::mutex mutex;  // so a target is never called after it was cut off
  EventListener* target = nullptr;
  void set(EventListener* t) {
    std::lock_guard lock(mutex);
    target = t;
  }
  void on_durable_batch(std::span<const Event> events) override {
    std::lock_guard lock(mutex);
    if (target) target->on_durable_batch(events);
  }
};

class AlertServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bourse-alerts-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::string error;
    store_ = store::open_sqlite_store(dir_ + "/store.sqlite", &error);
    ASSERT_TRUE(store_) << error;
    open_engine(true);
  }
  void TearDown() override {
    if (service_) service_->stop();
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open_engine(bool fresh) {
    EngineServiceOptions o;
    o.exchange.data_dir = dir_;
    o.exchange.fsync = false;
    o.exchange.engine = EngineConfig{.max_accounts = 16, .max_assets = 4, .max_instruments = 4,
                                     .order_capacity = 1024, .default_max_open_orders = 100};
    std::string error;
    service_ = EngineService::open(o, &error);
    ASSERT_TRUE(service_) << error;
    market_ = std::make_unique<marketdata::MarketView>();
    market_->load(service_->engine());
    forward_ = std::make_unique<Forward>();
    service_->add_listener(market_.get());
    service_->add_listener(forward_.get());
    service_->start();
    if (!fresh) return;
    run(Command::add_asset({AssetCode::from("USD"), AssetId{1}, 2}));
    run(Command::add_asset({AssetCode::from("XYZ"), AssetId{2}, 0}));
    InstrumentSpec s;
    s.symbol = Symbol::from("XYZ-USD");
    s.id = InstrumentId{1};
    s.base = AssetId{2};
    s.quote = AssetId{1};
    s.price_scale = 2;
    s.tick_size = Price{1};
    s.lot_size = s.min_qty = Qty{1};
    s.max_qty = Qty{1'000};
    s.reference_price = Price{10'000};
    s.band_bps = 2'000;
    run(Command::add_instrument(s));
    for (const AccountId a : {kAlice, kBob}) {
      run(Command::configure_account({a, 0, StpMode::kCancelNewest, 0}));
      run(Command::deposit({Amount{100'000'000}, a, AssetId{1}}));
      run(Command::deposit({Amount{1'000}, a, AssetId{2}}));
    }
  }
  // Restarts the engine service (its journal and snapshots) as a new process would.
  void restart_engine() {
    service_->stop();
    service_.reset();
    open_engine(false);
  }
  std::unique_ptr<AlertService> make_service() {
    AlertServiceOptions o;
    o.max_alerts_per_account = 3;
    return std::make_unique<AlertService>(
        *store_, *market_, clock_, std::string(32, 'k'), o,
        [this](const store::AlertFiringRow& f) {
          std::lock_guard lock(mutex_);
          published_.push_back(f);
        },
        [this] { return service_->durable_seq(); });
  }
  void run(const Command& c) {
    bool durable = false;
    service_->execute(c, &durable);
    ASSERT_TRUE(durable);
  }
  // bob sells one at price, alice buys it.
  void trade(int64_t price) {
    for (const auto& [account, side] : {std::pair{kBob, Side::kSell}, std::pair{kAlice, Side::kBuy}}) {
      PlaceOrder p{};
      p.account = account;
      p.instrument = InstrumentId{1};
      p.side = side;
      p.price = Price{price};
      p.qty = Qty{1};
      p.tif = TimeInForce::kGtc;
      run(Command::place_order(p));
    }
  }
  uint64_t price_rule(AlertService& s, AlertKind kind, int64_t threshold, std::string webhook = "") {
    store::AlertRow row;
    row.account = kAlice.value;
    row.kind = static_cast<uint8_t>(kind);
    row.instrument = 1;
    row.threshold = threshold;
    row.webhook_url = std::move(webhook);
    std::string secret;
    EXPECT_EQ(s.create(&row, &secret), AlertError::kOk);
    return row.id;
  }
  std::vector<uint64_t> fired_ids() {
    std::vector<uint64_t> ids;
    for (const auto& f : store_->alert_firings(kAlice.value, 0, UINT64_MAX, 100)) ids.insert(ids.begin(), f.alert_id);
    return ids;
  }
  std::size_t published() {
    std::lock_guard lock(mutex_);
    return published_.size();
  }

  std::string dir_;
  SystemClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<EngineService> service_;
  std::unique_ptr<marketdata::MarketView> market_;
  std::unique_ptr<Forward> forward_;
  std::mutex mutex_;
  std::vector<store::AlertFiringRow> published_;
};

TEST_F(AlertServiceTest, MissedTradesFireOnceAfterRestartAndNeverAgain) {
  auto first = make_service();
  std::string error;
  ASSERT_TRUE(first->start(dir_, service_->engine(), &error)) << error;
  forward_->set(first.get());
  const uint64_t above = price_rule(*first, AlertKind::kPriceAbove, 10'500);
  const uint64_t below = price_rule(*first, AlertKind::kPriceBelow, 9'500);
  store::AlertRow fills;
  fills.account = kAlice.value;
  fills.kind = static_cast<uint8_t>(AlertKind::kOrderFilled);
  fills.recurring = true;
  std::string secret;
  ASSERT_EQ(first->create(&fills, &secret), AlertError::kOk);
  store::AlertRow fourth = fills;
  EXPECT_EQ(first->create(&fourth, &secret), AlertError::kLimit);  // three per account here

  trade(10'000);
  trade(10'600);  // crosses 105.00
  for (int i = 0; i < 200 && published() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(published(), 3u);  // two fills, one crossing
  // A trade's crossings come before its fills.
  EXPECT_EQ(fired_ids(), (std::vector<uint64_t>{fills.id, above, fills.id}));

  // The service stops seeing events (as in a crash); trades go on in the journal.
  forward_->set(nullptr);
  trade(9'400);  // crosses 95.00: missed
  // A rule made now watches from the journal's present on, not from where
  // evaluation stopped: the 94.00 trade is before it.
  const uint64_t late = price_rule(*first, AlertKind::kPriceBelow, 9'600);
  first->stop(0);
  first.reset();
  trade(10'700);  // would cross 105.00, but that one-shot already fired
  trade(9'550);   // crosses 96.00: the late rule's first crossing
  restart_engine();

  auto second = make_service();
  ASSERT_TRUE(second->start(dir_, service_->engine(), &error)) << error;
  EXPECT_EQ(fired_ids(),
            (std::vector<uint64_t>{fills.id, above, fills.id, below, fills.id, fills.id, late, fills.id}));
  EXPECT_EQ(store_->alert(below)->status, 1);  // triggered
  EXPECT_EQ(store_->alert(late)->status, 1);
  EXPECT_EQ(store_->alert(fills.id)->fired_count, 5u);
  EXPECT_EQ(store_->alerts_seq(), service_->engine().last_seq());
  forward_->set(second.get());
  trade(9'000);  // live again: the fill rule fires, nothing else is left
  for (int i = 0; i < 200 && fired_ids().size() < 9; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(fired_ids().size(), 9u);
  trade(9'100);  // fires the fill rule too: evaluated, then the stop records it
  for (int i = 0; i < 200 && fired_ids().size() < 10; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  forward_->set(nullptr);
  second->stop(service_->engine().last_seq());
  second.reset();
  EXPECT_EQ(store_->alerts_seq(), service_->engine().last_seq());  // a clean stop records the journal's end
  restart_engine();

  // Evaluation is complete to the journal's end: a start replays nothing.
  auto third = make_service();
  ASSERT_TRUE(third->start(dir_, service_->engine(), &error)) << error;
  EXPECT_EQ(fired_ids().size(), 10u);
  EXPECT_EQ(third->evaluated_seq(), service_->engine().last_seq());
  // Rule changes are kept, and a deleted rule's slot is free again.
  EXPECT_EQ(third->remove(kBob.value, fills.id), AlertError::kNotFound);  // not bob's
  EXPECT_EQ(third->remove(kAlice.value, fills.id), AlertError::kOk);
  EXPECT_EQ(store_->alert(fills.id), std::nullopt);
  EXPECT_NE(price_rule(*third, AlertKind::kPriceAbove, 20'000), 0u);
  third->stop(service_->engine().last_seq());
}

// A rule's webhook deliveries are its account's: another account's DELETE
// of the rule is refused and touches none of them.
TEST_F(AlertServiceTest, ADeleteByAnotherAccountEndsNoDelivery) {
  auto s = make_service();
  std::string error;
  ASSERT_TRUE(s->start(dir_, service_->engine(), &error)) << error;
  forward_->set(s.get());
  // Loopback is refused without webhook_allow_private: attempts fail and stay pending.
  const uint64_t id = price_rule(*s, AlertKind::kPriceAbove, 10'500, "http://127.0.0.1:9/hook");
  trade(10'000);
  trade(10'600);
  for (int i = 0; i < 400 && store_->deliveries_of(kAlice.value, id, UINT64_MAX, 10).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(s->remove(kBob.value, id), AlertError::kNotFound);
  auto deliveries = store_->deliveries_of(kAlice.value, id, UINT64_MAX, 10);
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].first.status, 0);  // still pending
  EXPECT_NE(deliveries[0].first.last_error, "alert deleted");
  EXPECT_EQ(s->remove(kAlice.value, id), AlertError::kOk);
  deliveries = store_->deliveries_of(kAlice.value, id, UINT64_MAX, 10);
  EXPECT_EQ(deliveries[0].first.status, 2);
  EXPECT_EQ(deliveries[0].first.last_error, "alert deleted");
  forward_->set(nullptr);
  s->stop(service_->engine().last_seq());
}

}  // namespace
}  // namespace bourse::alerts

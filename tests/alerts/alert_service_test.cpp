// AlertService against a real engine service, journal and SQLite store: a
// rule fires once live; the service then misses trades (as in a crash
// between the journal and its own commit), and the next start replays the
// journal and fires exactly the rules those trades crossed, once; a start
// after that fires nothing. Rule changes persist and count against the
// per-account limit.
#include "alerts/alert_service.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
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
  std::unique_ptr<AlertService> make_service(std::size_t max_pending = 100,
                                            const std::function<void(AlertServiceOptions&)>& tweak = {}) {
    AlertServiceOptions o;
    o.max_alerts_per_account = 3;
    o.webhook_max_pending_per_account = max_pending;
    if (tweak) tweak(o);
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
  uint64_t price_rule(AlertService& s, AlertKind kind, int64_t threshold, std::string webhook = "",
                      AccountId account = kAlice, bool recurring = false) {
    store::AlertRow row;
    row.account = account.value;
    row.recurring = recurring;
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

// An account's backlog of webhook deliveries is bounded: past the cap a
// firing still fires, but its delivery fails at once, with the reason.
TEST_F(AlertServiceTest, PendingDeliveriesPerAccountAreCapped) {
  auto s = make_service(1);
  std::string error;
  ASSERT_TRUE(s->start(dir_, service_->engine(), &error)) << error;
  forward_->set(s.get());
  store::AlertRow row;
  row.account = kAlice.value;
  row.kind = static_cast<uint8_t>(AlertKind::kPriceAbove);
  row.instrument = 1;
  row.threshold = 10'500;
  row.recurring = true;
  row.webhook_url = "http://127.0.0.1:9/hook";  // refused (private): stays pending
  std::string secret;
  ASSERT_EQ(s->create(&row, &secret), AlertError::kOk);
  for (const int64_t p : {10'000, 10'600, 10'000, 10'600}) trade(p);
  for (int i = 0; i < 400 && store_->deliveries_of(kAlice.value, row.id, UINT64_MAX, 10).size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto deliveries = store_->deliveries_of(kAlice.value, row.id, UINT64_MAX, 10);  // newest first
  ASSERT_EQ(deliveries.size(), 2u);
  EXPECT_EQ(deliveries[1].first.status, 0);
  EXPECT_EQ(deliveries[0].first.status, 2);
  EXPECT_EQ(deliveries[0].first.last_error, "too many deliveries pending for this account");
  EXPECT_EQ(fired_ids().size(), 2u);  // both firings happened
  forward_->set(nullptr);
  s->stop(service_->engine().last_seq());
}

// A listening socket on loopback: with `answer`, a thread accepts and
// answers 200; without, connections wait in the backlog unanswered.
class Receiver {
 public:
  explicit Receiver(bool answer) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    if (answer) thread_ = std::thread([this] { serve(); });
  }
  ~Receiver() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      char buf[4096];
      pollfd q{c, POLLIN, 0};
      if (::poll(&q, 1, 1'000) > 0) (void)::recv(c, buf, sizeof buf, 0);
      const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
      (void)::send(c, answer, sizeof answer - 1, MSG_NOSIGNAL);
      ::close(c);
    }
  }
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// One account's receiver that never answers holds one sender; another
// account's deliveries go out meanwhile, and its own wait their turn.
TEST_F(AlertServiceTest, OneAccountsSlowReceiverHoldsOneSender) {
  Receiver black_hole(false), fast(true);
  auto s = make_service(100, [](AlertServiceOptions& o) {
    o.webhook_allow_private = true;
    o.webhook_senders = 2;
    o.webhook_timeout_ms = 3'000;
  });
  std::string error;
  ASSERT_TRUE(s->start(dir_, service_->engine(), &error)) << error;
  forward_->set(s.get());
  const uint64_t slow = price_rule(*s, AlertKind::kPriceAbove, 10'500, black_hole.url(), kAlice, true);
  const uint64_t quick = price_rule(*s, AlertKind::kPriceAbove, 10'500, fast.url(), kBob, true);
  for (const int64_t p : {10'000, 10'600, 10'000, 10'600}) trade(p);  // each rule fires twice
  const auto start = std::chrono::steady_clock::now();
  auto delivered = [&] {
    std::size_t n = 0;
    for (const auto& [d, attempts] : store_->deliveries_of(kBob.value, quick, UINT64_MAX, 10)) n += d.status == 1;
    return n;
  };
  while (delivered() < 2 && std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(delivered(), 2u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2'500));  // not behind a 3 s timeout
  // Alice's second delivery waited for her first: nothing of hers was tried twice at once.
  const auto hers = store_->deliveries_of(kAlice.value, slow, UINT64_MAX, 10);
  ASSERT_EQ(hers.size(), 2u);
  std::size_t attempted = 0;
  for (const auto& [d, attempts] : hers) attempted += d.attempts > 0;
  EXPECT_EQ(attempted, 0u);  // the first is still in its 3 s attempt
  forward_->set(nullptr);
  s->stop(service_->engine().last_seq());
}

}  // namespace
}  // namespace bourse::alerts

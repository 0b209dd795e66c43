// Trading sessions: the calendar's phases (local offsets either side of UTC,
// trading days, holidays, pre-open, the minute boundaries) and the scheduler
// against a real EngineService: pre-open collects, the open runs the
// auction, the close expires DAY orders and closes the session, and an
// operator's halt is left alone.
#include "app/sessions.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

namespace bourse::app {
namespace {

constexpr int64_t kMinute = 60'000'000'000;
constexpr int64_t kDay = 1'440 * kMinute;

Timestamp at(const char* date, int hour, int minute) {
  int64_t days = 0;
  EXPECT_TRUE(parse_date(date, &days));
  return days * kDay + (hour * 60 + minute) * kMinute;
}

SessionSchedule india() {
  SessionSchedule s;
  s.symbols = {"XYZ-USD"};
  s.utc_offset_minutes = 330;
  s.pre_open_minute = 9 * 60;
  s.open_minute = 9 * 60 + 15;
  s.close_minute = 15 * 60 + 30;
  for (int d = 0; d < 5; ++d) s.days[static_cast<std::size_t>(d)] = true;
  int64_t christmas = 0;
  parse_date("2026-12-25", &christmas);
  s.holidays.insert(christmas);
  return s;
}

TEST(SessionCalendar, PhasesFollowLocalTimeDaysAndHolidays) {
  const SessionSchedule s = india();
  // Wednesday 2026-12-02: 09:00 IST is 03:30 UTC.
  EXPECT_EQ(session_phase(s, at("2026-12-02", 3, 29)), SessionPhase::kClosed);
  EXPECT_EQ(session_phase(s, at("2026-12-02", 3, 30)), SessionPhase::kPreOpen);
  EXPECT_EQ(session_phase(s, at("2026-12-02", 3, 44)), SessionPhase::kPreOpen);
  EXPECT_EQ(session_phase(s, at("2026-12-02", 3, 45)), SessionPhase::kOpen);
  EXPECT_EQ(session_phase(s, at("2026-12-02", 9, 59)), SessionPhase::kOpen);
  EXPECT_EQ(session_phase(s, at("2026-12-02", 10, 0)), SessionPhase::kClosed);
  // 20:00 UTC Tuesday is 01:30 Wednesday in India: before the pre-open.
  EXPECT_EQ(session_phase(s, at("2026-12-01", 20, 0)), SessionPhase::kClosed);
  // Saturday, and a holiday on a Friday.
  EXPECT_EQ(session_phase(s, at("2026-12-05", 5, 0)), SessionPhase::kClosed);
  EXPECT_EQ(session_phase(s, at("2026-12-25", 5, 0)), SessionPhase::kClosed);
  EXPECT_EQ(session_phase(s, at("2026-12-24", 5, 0)), SessionPhase::kOpen);
  // West of UTC: New York opens at 14:30 UTC, and its Friday runs into Saturday UTC.
  SessionSchedule ny = s;
  ny.utc_offset_minutes = -300;
  ny.pre_open_minute = -1;
  ny.open_minute = 9 * 60 + 30;
  ny.close_minute = 16 * 60;
  ny.holidays.clear();
  EXPECT_EQ(session_phase(ny, at("2026-12-02", 14, 29)), SessionPhase::kClosed);
  EXPECT_EQ(session_phase(ny, at("2026-12-02", 14, 30)), SessionPhase::kOpen);
  EXPECT_EQ(session_phase(ny, at("2026-12-04", 20, 59)), SessionPhase::kOpen);   // Friday 15:59
  EXPECT_EQ(session_phase(ny, at("2026-12-05", 14, 30)), SessionPhase::kClosed);  // Saturday
}

TEST(SessionCalendar, DatesAndDays) {
  int64_t d = 0;
  EXPECT_TRUE(parse_date("1970-01-01", &d));
  EXPECT_EQ(d, 0);
  EXPECT_TRUE(parse_date("2024-02-29", &d));
  for (const char* bad : {"2026-02-29", "2026-13-01", "2026-00-10", "2026-1-01", "2026/01/01", "", "abcd-ef-gh"}) {
    EXPECT_FALSE(parse_date(bad, &d)) << bad;
  }
  EXPECT_EQ(weekday_index("MON"), 0);
  EXPECT_EQ(weekday_index("SUN"), 6);
  EXPECT_EQ(weekday_index("mon"), -1);
}

std::size_t of_trades(const std::vector<Event>& events) {
  std::size_t n = 0;
  for (const Event& e : events) n += e.type == EventType::kTrade;
  return n;
}

OrderId accepted(const std::vector<Event>& events) {
  for (const Event& e : events) {
    if (e.type == EventType::kOrderAccepted) return e.accepted.order_id;
  }
  return OrderId{};
}

class ManualClock final : public Clock {
 public:
  Timestamp now() override { return now_.load(); }
  std::atomic<Timestamp> now_{0};
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bourse-sessions-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    EngineServiceOptions o;
    o.exchange.data_dir = dir_;
    o.exchange.fsync = false;
    o.exchange.engine = EngineConfig{.max_accounts = 16, .max_assets = 4, .max_instruments = 4,
                                     .order_capacity = 1024, .default_max_open_orders = 100};
    std::string error;
    service_ = EngineService::open(o, &error);
    ASSERT_TRUE(service_) << error;
    service_->add_listener(&market_);
    service_->start();
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
    s.band_bps = 1'000;
    run(Command::add_instrument(s));
    for (uint32_t a = 1; a <= 2; ++a) {
      run(Command::configure_account({AccountId{a}, 0, StpMode::kCancelNewest, 0}));
      run(Command::deposit({Amount{10'000'000}, AccountId{a}, AssetId{1}}));
      run(Command::deposit({Amount{1'000}, AccountId{a}, AssetId{2}}));
    }
  }
  void TearDown() override {
    service_->stop();
    service_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::vector<Event> run(const Command& c) {
    bool durable = false;
    auto events = service_->execute(c, &durable);
    EXPECT_TRUE(durable);
    return events;
  }
  std::vector<Event> order(uint32_t account, Side side, int64_t price, TimeInForce tif = TimeInForce::kGtc) {
    PlaceOrder p{};
    p.account = AccountId{account};
    p.instrument = InstrumentId{1};
    p.side = side;
    p.price = Price{price};
    p.qty = Qty{1};
    p.tif = tif;
    return run(Command::place_order(p));
  }
  // The scheduler's commands are asynchronous: wait for the view to show them.
  InstrumentStatus status_after_tick(SessionScheduler& s, Timestamp t, InstrumentStatus want) {
    clock_.now_ = t;
    s.tick();
    InstrumentStatus is{};
    for (int i = 0; i < 200 && (is = market_.instrument("XYZ-USD")->spec.status) != want; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return is;
  }

  std::string dir_;
  ManualClock clock_;
  marketdata::MarketView market_;
  std::unique_ptr<EngineService> service_;
};

TEST_F(SchedulerTest, PreOpenAuctionOpenAndCloseWithDayExpiry) {
  SessionScheduler scheduler(*service_, market_, clock_, {india()});
  EXPECT_EQ(status_after_tick(scheduler, at("2026-12-02", 3, 35), InstrumentStatus::kPreOpen), InstrumentStatus::kPreOpen);
  // Collected, crossing, no trades.
  EXPECT_EQ(of_trades(order(1, Side::kBuy, 10'100)), 0u);
  EXPECT_EQ(of_trades(order(2, Side::kSell, 9'900)), 0u);
  // Asking again within the same phase sends nothing.
  EXPECT_EQ(scheduler.tick(), 0u);
  EXPECT_EQ(status_after_tick(scheduler, at("2026-12-02", 3, 45), InstrumentStatus::kTrading), InstrumentStatus::kTrading);
  // The auction uncrossed at one price: of the candidates 99.00 and 101.00
  // (the orders' prices), equally close to the reference 100.00, the lower.
  EXPECT_EQ(market_.instrument("XYZ-USD")->last_price.value, 9'900);
  // A DAY order expires at the close; a GTC one stays.
  const auto day = order(1, Side::kBuy, 9'500, TimeInForce::kDay);
  const auto gtc = order(1, Side::kBuy, 9'400);
  EXPECT_EQ(status_after_tick(scheduler, at("2026-12-02", 10, 0), InstrumentStatus::kSessionClosed),
            InstrumentStatus::kSessionClosed);
  // (The expiry was submitted before the status: it is applied.) Cancelling
  // tells which orders are still live.
  auto cancel = [&](OrderId id) {
    CancelOrder c{};
    c.account = AccountId{1};
    c.order_id = id;
    for (const Event& e : run(Command::cancel_order(c))) {
      if (e.type == EventType::kOrderRejected) return e.rejected.reason;
    }
    return RejectReason::kNone;
  };
  ASSERT_NE(accepted(day).value, 0u);
  EXPECT_EQ(cancel(accepted(day)), RejectReason::kOrderNotFound);  // expired at the close
  EXPECT_EQ(cancel(accepted(gtc)), RejectReason::kNone);
  // An order between sessions gets its own code.
  const auto refused = order(2, Side::kSell, 9'400);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].rejected.reason, RejectReason::kSessionClosed);
}

TEST_F(SchedulerTest, AnOperatorsHaltIsLeftAlone) {
  SessionScheduler scheduler(*service_, market_, clock_, {india()});
  EXPECT_EQ(status_after_tick(scheduler, at("2026-12-02", 4, 0), InstrumentStatus::kTrading), InstrumentStatus::kTrading);
  const OrderId day = accepted(order(1, Side::kBuy, 9'500, TimeInForce::kDay));
  ASSERT_NE(day.value, 0u);
  run(Command::set_instrument_status({InstrumentId{1}, InstrumentStatus::kHalted}));
  for (int i = 0; i < 200 && market_.instrument("XYZ-USD")->spec.status != InstrumentStatus::kHalted; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(market_.instrument("XYZ-USD")->spec.status, InstrumentStatus::kHalted);
  clock_.now_ = at("2026-12-02", 4, 1);
  EXPECT_EQ(scheduler.tick(), 0u);  // still in session: nothing to do with a halt
  // At the close its DAY orders go, once; the halt stays.
  clock_.now_ = at("2026-12-02", 10, 0);
  EXPECT_EQ(scheduler.tick(), 1u);
  EXPECT_EQ(scheduler.tick(), 0u);
  run(Command::heartbeat());  // sequenced after the scheduler's commands: they are applied
  CancelOrder c{};
  c.account = AccountId{1};
  c.order_id = day;
  RejectReason reason = RejectReason::kNone;
  for (const Event& e : run(Command::cancel_order(c))) {
    if (e.type == EventType::kOrderRejected) reason = e.rejected.reason;
  }
  EXPECT_EQ(reason, RejectReason::kOrderNotFound);
  EXPECT_EQ(market_.instrument("XYZ-USD")->spec.status, InstrumentStatus::kHalted);
}

}  // namespace
}  // namespace bourse::app

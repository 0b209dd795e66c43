// Every reject reason, each from the smallest command that provokes it, and
// proof that a rejected command changes nothing.
#include "engine/engine_test_util.h"

namespace bourse::testing {
namespace {

using S = Side;
using T = OrderType;
using F = TimeInForce;
using R = RejectReason;

// Instrument 2: tick 0.05, lot 10, qty 20..1,000, min notional 10,000.00.
InstrumentSpec strict_spec() {
  InstrumentSpec s = xyz_usd_spec();
  s.id = InstrumentId{2};
  s.symbol = Symbol::from("TCK-USD");
  s.tick_size = Price{5};
  s.lot_size = Qty{10};
  s.min_qty = Qty{20};
  s.max_qty = Qty{1'000};
  s.min_notional = Amount{1'000'000};
  return s;
}

class Risk : public ::testing::Test {
 protected:
  void SetUp() override {
    m.run(Command::add_instrument(strict_spec()));
    m.run(Command::configure_account({AccountId{5}, 2, StpMode::kCancelNewest, {}}));
    m.run(Command::deposit({Amount{1'000'000}, AccountId{5}, kUsd}));
  }
  // A reject is the command's only event.
  void check(R expected, const Command& c) {
    const auto ev = m.run(c);
    ASSERT_EQ(ev.size(), 1u) << reject_reason_name(expected);
    EXPECT_EQ(rejected(ev), expected) << "got " << reject_reason_name(rejected(ev));
  }
  void order(R expected, OrderArgs a) {
    const PlaceOrder p = to_place_order(a);
    const std::size_t live = m.engine.live_order_count();
    const Balance usd = m.bal(a.account < 256 ? a.account : 1, kUsd);
    check(expected, Command::place_order(p));
    EXPECT_EQ(m.engine.live_order_count(), live);
    const Balance after = m.bal(a.account < 256 ? a.account : 1, kUsd);
    EXPECT_EQ(after.available, usd.available);
    EXPECT_EQ(after.locked, usd.locked);
  }
  Market m;
};

TEST_F(Risk, PlaceOrderRejects) {
  order(R::kInvalidAccount, {.account = 0, .price = 10'000});
  order(R::kInvalidAccount, {.account = 300, .price = 10'000});
  order(R::kUnknownAccount, {.account = 9, .price = 10'000});
  order(R::kUnknownInstrument, {.price = 10'000, .instrument = 7});
  order(R::kInvalidOrder, {.side = static_cast<Side>(9), .price = 10'000});
  order(R::kInvalidOrder, {.price = 10'000, .type = static_cast<OrderType>(0)});
  order(R::kInvalidOrder, {.price = 10'000, .stp = static_cast<StpMode>(4)});
  order(R::kInvalidTimeInForce, {.type = T::kMarket, .tif = F::kGtc});
  order(R::kInvalidTimeInForce, {.type = T::kStopMarket, .tif = F::kIoc, .stop_price = 10'500});
  order(R::kPostOnlyNotAllowed, {.price = 10'000, .tif = F::kFok, .post_only = true});
  order(R::kPostOnlyNotAllowed, {.type = T::kMarket, .tif = F::kIoc, .post_only = true});
  order(R::kInvalidPrice, {.price = 0});
  order(R::kInvalidPrice, {.price = -5});
  order(R::kInvalidOrder, {.price = 10'000, .type = T::kMarket, .tif = F::kIoc});
  order(R::kInvalidPrice, {.price = 10'000, .type = T::kStopLimit, .stop_price = 0});
  order(R::kInvalidOrder, {.price = 10'000, .stop_price = 10'500});
  order(R::kInvalidExpireTime, {.price = 10'000, .tif = F::kGtd});
  order(R::kInvalidTick, {.price = 10'002, .qty = 20, .instrument = 2});
  order(R::kInvalidTick, {.price = 10'000, .qty = 20, .type = T::kStopLimit, .stop_price = 10'501, .instrument = 2});
  order(R::kQtyBelowMin, {.price = 10'000, .qty = 10, .instrument = 2});
  order(R::kQtyBelowMin, {.price = 10'000, .qty = 0});
  order(R::kQtyAboveMax, {.price = 10'000, .qty = 1'010, .instrument = 2});
  order(R::kInvalidLot, {.price = 10'000, .qty = 25, .instrument = 2});
  order(R::kPriceOutOfBand, {.price = 11'005, .qty = 20, .instrument = 2});
  order(R::kPriceOutOfBand, {.price = 8'995, .qty = 20, .instrument = 2});
  order(R::kStopWouldTriggerImmediately, {.side = S::kSell, .qty = 1, .type = T::kStopMarket, .stop_price = 10'000});
  order(R::kNotionalBelowMin, {.price = 9'000, .qty = 100, .instrument = 2});
  order(R::kInsufficientFunds, {.account = 5, .price = 10'000, .qty = 100});
  order(R::kInsufficientFunds, {.account = 5, .side = S::kSell, .price = 10'000, .qty = 1});
  // Max open orders (account 5 allows 2).
  m.place({.account = 5, .price = 9'000, .qty = 1});
  m.place({.account = 5, .price = 9'000, .qty = 1, .client_order_id = "x"});
  order(R::kDuplicateClientOrderId, {.account = 5, .price = 9'000, .qty = 1, .client_order_id = "x"});
  order(R::kTooManyOpenOrders, {.account = 5, .price = 9'000, .qty = 1});
  m.place({.account = 2, .side = S::kSell, .price = 10'000, .qty = 1});
  order(R::kPostOnlyWouldTake, {.price = 10'500, .post_only = true});
}

TEST_F(Risk, OrderPoolCapacity) {
  Market small(EngineConfig{16, 8, 8, 2, 100});
  small.place({.price = 9'000});
  small.place({.price = 9'000});
  EXPECT_EQ(rejected(small.place({.price = 9'000})), R::kCapacityExceeded);
}

TEST_F(Risk, AdminRejects) {
  check(R::kCapacityExceeded, Command::add_asset({AssetCode::from("ZZZ"), AssetId{8}, 2}));
  check(R::kDuplicateAsset, Command::add_asset({AssetCode::from("ZZZ"), kUsd, 2}));
  check(R::kInvalidCommand, Command::add_asset({AssetCode::from("ZZZ"), AssetId{3}, 19}));
  check(R::kInvalidCommand, Command::add_asset({AssetCode{}, AssetId{3}, 2}));
  InstrumentSpec s = xyz_usd_spec();
  check(R::kDuplicateInstrument, Command::add_instrument(s));
  s.id = InstrumentId{3};
  check(R::kDuplicateInstrument, Command::add_instrument(s));  // same symbol
  s.symbol = Symbol::from("NEW-USD");
  s.base = AssetId{6};
  check(R::kUnknownAsset, Command::add_instrument(s));
  s.base = kXyz;
  s.id = InstrumentId{8};
  check(R::kCapacityExceeded, Command::add_instrument(s));
  s.id = InstrumentId{3};
  InstrumentSpec bad = s;
  bad.base = kUsd;
  check(R::kInvalidInstrument, Command::add_instrument(bad));
  bad = s;
  bad.min_qty = Qty{0};
  check(R::kInvalidInstrument, Command::add_instrument(bad));
  bad = s;
  bad.reference_price = Price{10'001};
  bad.tick_size = Price{5};
  check(R::kInvalidInstrument, Command::add_instrument(bad));
  bad = s;
  bad.band_bps = 0;
  check(R::kInvalidInstrument, Command::add_instrument(bad));
  bad = s;
  bad.taker_fee_ppm = 100'001;
  check(R::kInvalidInstrument, Command::add_instrument(bad));
  check(R::kUnknownInstrument, Command::set_instrument_status({InstrumentId{5}, InstrumentStatus::kHalted, {}}));
  check(R::kInvalidCommand, Command::set_instrument_status({kXyzUsd, static_cast<InstrumentStatus>(9), {}}));
  check(R::kInvalidAccount, Command::configure_account({AccountId{0}, 0, StpMode::kCancelNewest, {}}));
  check(R::kInvalidCommand, Command::configure_account({AccountId{7}, 0, StpMode::kAccountDefault, {}}));
  check(R::kUnknownAccount, Command::set_account_enabled({AccountId{7}, 0, {}}));
  check(R::kInvalidCommand, Command::set_account_enabled({AccountId{1}, 2, {}}));
  check(R::kUnknownInstrument, Command::expire_day_orders({InstrumentId{6}, 0}));
  check(R::kUnknownInstrument, Command::cancel_all({AccountId{1}, InstrumentId{6}}));
  check(R::kUnknownAccount, Command::cancel_all({AccountId{7}, InstrumentId{}}));
  check(R::kInvalidAmount, Command::withdraw({Amount{-5}, AccountId{1}, kUsd}));
  Command unknown = Command::heartbeat();
  unknown.header.type = static_cast<CommandType>(99);
  check(R::kInvalidCommand, unknown);
}

TEST_F(Risk, RejectedCommandsLeaveTheStateUnchanged) {
  m.place({.account = 1, .side = S::kSell, .price = 10'000, .qty = 5});
  std::vector<unsigned char> before, after;
  m.engine.serialize(&before);
  m.place({.account = 2, .price = 10'000, .qty = 5, .post_only = true});
  m.place({.account = 2, .price = 20'000, .qty = 5});
  m.amend(2, 1, 10'100, 0);
  m.engine.serialize(&after);
  // Only the header's last_seq (bytes 32..39) and last_timestamp (56..63) may differ.
  ASSERT_EQ(before.size(), after.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    if ((i >= 32 && i < 40) || (i >= 56 && i < 64)) continue;
    ASSERT_EQ(before[i], after[i]) << "byte " << i;
  }
}

}  // namespace
}  // namespace bourse::testing

namespace bourse::testing {
namespace {

// The dead-man's switch: CancelAfter arms a countdown on the engine's
// clock; the first command stamped at or after the deadline cancels every
// live order of the account; re-arming replaces it, 0 disarms, snapshots
// keep it.
TEST(CancelAfter, CancelsEveryOrderOnceTheCountdownRunsOut) {
  Market m;
  const uint64_t bid = accepted_id(m.place({.account = 1, .price = 9'900, .qty = 5}));
  const uint64_t ask = accepted_id(m.place({.account = 1, .side = Side::kSell, .price = 10'100, .qty = 5}));
  const uint64_t other = accepted_id(m.place({.account = 2, .price = 9'800, .qty = 5}));
  auto armed = m.run(Command::cancel_after({AccountId{1}, 2'000}));
  const Event* e = first(armed, EventType::kCancelAfterSet);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->cancel_after.cancel_at, m.now() + 2'000'000'000);
  EXPECT_EQ(e->cancel_after.fired, 0);
  EXPECT_EQ(m.engine.account(AccountId{1})->cancel_at, m.now() + 2'000'000'000);
  // Refreshed after 1.5 s: the deadline moves.
  m.advance(1'500'000'000);
  m.run(Command::cancel_after({AccountId{1}, 2'000}));
  m.advance(1'000'000'000);
  EXPECT_TRUE(of_type(m.run(Command::heartbeat()), EventType::kOrderCancelled).empty());
  // Not refreshed: any command at or after the deadline fires it first.
  std::vector<unsigned char> before;
  m.engine.serialize(&before);
  m.advance(1'000'000'000);
  const auto fired = m.place({.account = 3, .price = 9'000, .qty = 1});
  ASSERT_GE(fired.size(), 4u);
  EXPECT_EQ(fired[0].type, EventType::kCancelAfterSet);
  EXPECT_EQ(fired[0].cancel_after.fired, 1);
  const auto cancels = of_type(fired, EventType::kOrderCancelled);
  ASSERT_EQ(cancels.size(), 2u);
  EXPECT_EQ(cancels[0].cancelled.order_id.value, bid);
  EXPECT_EQ(cancels[1].cancelled.order_id.value, ask);
  EXPECT_EQ(cancels[0].cancelled.reason, CancelReason::kDeadMansSwitch);
  EXPECT_NE(accepted_id(fired), 0u);  // the command itself then runs
  EXPECT_TRUE(m.live(other));
  EXPECT_EQ(m.engine.account(AccountId{1})->cancel_at, 0);
  // Once only.
  m.advance(10'000'000'000);
  EXPECT_TRUE(m.run(Command::heartbeat()).empty());

  // A snapshot taken while armed restores the countdown.
  Market r(EngineConfig{256, 8, 8, 1u << 16, 1000}, false);
  ASSERT_TRUE(r.engine.restore(before));
  EXPECT_GT(r.engine.account(AccountId{1})->cancel_at, 0);
  // Disarm, bounds and unknown accounts.
  m.place({.account = 1, .price = 9'900, .qty = 5});
  m.run(Command::cancel_after({AccountId{1}, 1'000}));
  EXPECT_EQ(first(m.run(Command::cancel_after({AccountId{1}, 0})), EventType::kCancelAfterSet)->cancel_after.cancel_at, 0);
  m.advance(5'000'000'000);
  EXPECT_TRUE(of_type(m.run(Command::heartbeat()), EventType::kOrderCancelled).empty());
  EXPECT_EQ(rejected(m.run(Command::cancel_after({AccountId{1}, 86'400'001}))), RejectReason::kInvalidCommand);
  EXPECT_EQ(rejected(m.run(Command::cancel_after({AccountId{77}, 1'000}))), RejectReason::kUnknownAccount);
  EXPECT_EQ(rejected(m.run(Command::cancel_after({AccountId{0}, 1'000}))), RejectReason::kInvalidAccount);
}

}  // namespace
}  // namespace bourse::testing

namespace bourse::testing {
namespace {

void margin_ready(Market& m, uint32_t account) {
  SetMarginParams p{};
  p.instrument = kXyzUsd;
  p.mark_source = MarkSource::kLast;
  p.initial_ppm[0] = 100'000;
  p.maintenance_ppm[0] = 50'000;
  ASSERT_EQ(rejected(m.run(Command::set_margin_params(p))), RejectReason::kNone);
  ConfigureAccount c{};
  c.account = AccountId{account};
  c.default_stp = StpMode::kCancelNewest;
  c.margin_tier = 1;
  ASSERT_EQ(rejected(m.run(Command::configure_account(c))), RejectReason::kNone);
}

TEST(AccountLimits, OrderQuantityNotionalAndPositionPerInstrument) {
  Market m;
  margin_ready(m, 1);
  // max 50 per order, 5,000.00 notional, MARGIN position 80.
  const auto set = m.run(Command::set_account_limits({Qty{50}, Amount{500'000}, Qty{80}, AccountId{1}, kXyzUsd}));
  ASSERT_NE(first(set, EventType::kAccountLimitsSet), nullptr);
  EXPECT_EQ(rejected(m.place({.account = 1, .price = 10'000, .qty = 51})), RejectReason::kOrderLimitExceeded);
  EXPECT_EQ(rejected(m.place({.account = 1, .price = 12'100, .qty = 50})), RejectReason::kPriceOutOfBand);
  EXPECT_EQ(rejected(m.place({.account = 1, .price = 10'900, .qty = 50})), RejectReason::kOrderLimitExceeded);  // 5,450.00
  EXPECT_EQ(rejected(m.place({.account = 2, .price = 10'000, .qty = 500})), RejectReason::kNone);  // others unlimited
  // A MARKET order counts at the band's edge (110.00): 46 is 5,060.00, 45 fits.
  EXPECT_EQ(rejected(m.place({.account = 1, .side = Side::kSell, .qty = 46, .type = OrderType::kMarket,
                              .tif = TimeInForce::kIoc})),
            RejectReason::kOrderLimitExceeded);
  EXPECT_EQ(rejected(m.place({.account = 1, .side = Side::kSell, .qty = 45, .type = OrderType::kMarket,
                              .tif = TimeInForce::kIoc})),
            RejectReason::kNone);
  // MARGIN: 50 resting + 40 more would make a long of 90 > 80.
  ASSERT_NE(accepted_id(m.place({.account = 1, .price = 9'000, .qty = 50, .product = Product::kMargin})), 0u);
  EXPECT_EQ(rejected(m.place({.account = 1, .price = 9'000, .qty = 40, .product = Product::kMargin})),
            RejectReason::kPositionLimitExceeded);
  EXPECT_EQ(rejected(m.place({.account = 1, .price = 9'000, .qty = 30, .product = Product::kMargin})), RejectReason::kNone);
  // An amend above the order limit is refused too.
  const uint64_t id = accepted_id(m.place({.account = 1, .side = Side::kSell, .price = 11'000, .qty = 10}));
  ASSERT_NE(id, 0u);
  EXPECT_EQ(rejected(m.amend(1, id, 0, 60)), RejectReason::kOrderLimitExceeded);
  // Snapshots keep them; clearing (all zero) removes them.
  std::vector<unsigned char> bytes, again;
  m.engine.serialize(&bytes);
  Market r(EngineConfig{256, 8, 8, 1u << 16, 1000}, false);
  ASSERT_TRUE(r.engine.restore(bytes));
  r.engine.serialize(&again);
  EXPECT_EQ(bytes, again);
  EXPECT_EQ(rejected(r.place({.account = 1, .price = 10'000, .qty = 51})), RejectReason::kOrderLimitExceeded);
  m.run(Command::set_account_limits({Qty{}, Amount{}, Qty{}, AccountId{1}, kXyzUsd}));
  EXPECT_EQ(rejected(m.place({.account = 1, .price = 10'000, .qty = 51})), RejectReason::kNone);
  EXPECT_EQ(rejected(m.run(Command::set_account_limits({Qty{-1}, Amount{}, Qty{}, AccountId{1}, kXyzUsd}))),
            RejectReason::kInvalidCommand);
  EXPECT_EQ(rejected(m.run(Command::set_account_limits({Qty{1}, Amount{}, Qty{}, AccountId{1}, InstrumentId{9}}))),
            RejectReason::kUnknownInstrument);
}

TEST(AccountLimits, MaxDailyLossMakesMarginReduceOnlyUntilTheDayEnds) {
  Market m;
  margin_ready(m, 1);
  ASSERT_NE(first(m.run(Command::set_loss_limit({Amount{5'000}, AccountId{1}, kUsd})), EventType::kLossLimitSet),
            nullptr);
  // Long 10 @ 100.00, closed at 99.00: −10.00 and fees 0.20 + 0.198.
  m.place({.account = 2, .side = Side::kSell, .price = 10'000, .qty = 10});
  m.place({.account = 1, .price = 10'000, .qty = 10, .product = Product::kMargin});
  m.place({.account = 3, .price = 9'900, .qty = 10});
  const auto closing = m.place({.account = 1, .side = Side::kSell, .price = 9'900, .qty = 10, .product = Product::kMargin});
  EXPECT_EQ(first(closing, EventType::kDailyLossLimitReached), nullptr);  // 1,000 + 398 < 5,000
  // Long 40 @ 99.00, sold at 98.00: −40.00 more: past 50.00.
  m.place({.account = 2, .side = Side::kSell, .price = 9'900, .qty = 40});
  m.place({.account = 1, .price = 9'900, .qty = 40, .product = Product::kMargin});
  m.place({.account = 3, .price = 9'800, .qty = 30});
  const auto loss = m.place({.account = 1, .side = Side::kSell, .price = 9'800, .qty = 30, .product = Product::kMargin});
  const Event* reached = first(loss, EventType::kDailyLossLimitReached);
  ASSERT_NE(reached, nullptr);
  EXPECT_GT(reached->daily_loss.loss.get(), 5'000);
  // Reduce-only now: adding is refused; closing the last 10 — at a profit
  // (bought at 99.00, sold at 104.00) — passes.
  EXPECT_EQ(rejected(m.place({.account = 1, .price = 9'800, .qty = 1, .product = Product::kMargin})),
            RejectReason::kDailyLossLimit);
  m.place({.account = 3, .price = 10'400, .qty = 10});
  const auto profit = m.place({.account = 1, .side = Side::kSell, .price = 10'400, .qty = 10, .product = Product::kMargin});
  ASSERT_EQ(of_type(profit, EventType::kTrade).size(), 1u);
  EXPECT_EQ(m.engine.account(AccountId{1})->open_orders, 0u);
  // Back under the limit in money, but the block holds for the day.
  EXPECT_EQ(rejected(m.place({.account = 1, .side = Side::kSell, .price = 10'400, .qty = 1, .product = Product::kMargin})),
            RejectReason::kDailyLossLimit);
  // A snapshot in that state restores and writes the same bytes.
  std::vector<unsigned char> bytes, again;
  m.engine.serialize(&bytes);
  Market r(EngineConfig{256, 8, 8, 1u << 16, 1000}, false);
  ASSERT_TRUE(r.engine.restore(bytes));
  r.engine.serialize(&again);
  EXPECT_EQ(bytes, again);
  // The next UTC day starts clean.
  m.advance(86'400'000'000'000);
  EXPECT_EQ(rejected(m.place({.account = 1, .price = 9'800, .qty = 1, .product = Product::kMargin})), RejectReason::kNone);
  EXPECT_EQ(rejected(m.run(Command::set_loss_limit({Amount{-1}, AccountId{1}, kUsd}))), RejectReason::kInvalidCommand);
  EXPECT_EQ(rejected(m.run(Command::set_loss_limit({Amount{1}, AccountId{1}, AssetId{7}}))), RejectReason::kUnknownAsset);
}

TEST(AccountLimits, ReachingOrLoweringTheLossLimitCancelsOpenMarginOrders) {
  Market m;
  margin_ready(m, 1);
  // Long 20 @ 100.00 (fee 4.00), then the price falls to 95.00.
  m.place({.account = 2, .side = Side::kSell, .price = 10'000, .qty = 20});
  m.place({.account = 1, .price = 10'000, .qty = 20, .product = Product::kMargin});
  const uint64_t resting = accepted_id(m.place({.account = 1, .price = 9'000, .qty = 5, .product = Product::kMargin}));
  ASSERT_NE(resting, 0u);
  // A limit of 10.00 with 4.00 of fees already counted? No: counting starts when it is set.
  m.run(Command::set_loss_limit({Amount{1'000}, AccountId{1}, kUsd}));
  m.place({.account = 3, .price = 9'500, .qty = 10});
  const auto sold = m.place({.account = 1, .side = Side::kSell, .price = 9'500, .qty = 10, .product = Product::kMargin});
  ASSERT_NE(first(sold, EventType::kDailyLossLimitReached), nullptr);  // −50.00 − fee
  bool cancelled = false;
  for (const Event& e : of_type(sold, EventType::kOrderCancelled)) {
    cancelled = cancelled || (e.cancelled.order_id.value == resting && e.cancelled.reason == CancelReason::kDailyLossLimit);
  }
  EXPECT_TRUE(cancelled);
  // Another account: a lower limit that is already passed applies at once.
  margin_ready(m, 4);
  m.run(Command::set_loss_limit({Amount{100'000}, AccountId{4}, kUsd}));
  m.place({.account = 2, .side = Side::kSell, .price = 9'500, .qty = 10});
  m.place({.account = 4, .price = 9'500, .qty = 10, .product = Product::kMargin});  // fee 1.90 counted
  const uint64_t open = accepted_id(m.place({.account = 4, .price = 9'000, .qty = 5, .product = Product::kMargin}));
  ASSERT_NE(open, 0u);
  const auto lowered = m.run(Command::set_loss_limit({Amount{100}, AccountId{4}, kUsd}));
  ASSERT_NE(first(lowered, EventType::kDailyLossLimitReached), nullptr);
  ASSERT_NE(first(lowered, EventType::kOrderCancelled), nullptr);
  EXPECT_FALSE(m.live(open));
  EXPECT_EQ(rejected(m.place({.account = 4, .price = 9'000, .qty = 1, .product = Product::kMargin})),
            RejectReason::kDailyLossLimit);
}

TEST(AccountLimits, PositionLimitOnShortsAndAmendsThatShrinkAfterALowerLimit) {
  Market m;
  margin_ready(m, 1);
  m.run(Command::set_account_limits({Qty{}, Amount{}, Qty{30}, AccountId{1}, kXyzUsd}));
  // Shorts count too: 20 resting + 15 is a short of 35.
  ASSERT_NE(accepted_id(m.place({.account = 1, .side = Side::kSell, .price = 10'500, .qty = 20, .product = Product::kMargin})), 0u);
  EXPECT_EQ(rejected(m.place({.account = 1, .side = Side::kSell, .price = 10'500, .qty = 15, .product = Product::kMargin})),
            RejectReason::kPositionLimitExceeded);
  // An amend of the resting order: up to 30 passes, 31 does not.
  const uint64_t id = accepted_id(m.place({.account = 1, .side = Side::kSell, .price = 10'600, .qty = 5, .product = Product::kMargin}));
  ASSERT_NE(id, 0u);
  EXPECT_EQ(rejected(m.amend(1, id, 0, 10)), RejectReason::kNone);
  EXPECT_EQ(rejected(m.amend(1, id, 0, 11)), RejectReason::kPositionLimitExceeded);
  // An admin lowers the order size limit below the resting orders: they
  // can still shrink, not grow.
  m.run(Command::set_account_limits({Qty{3}, Amount{}, Qty{30}, AccountId{1}, kXyzUsd}));
  EXPECT_EQ(rejected(m.amend(1, id, 0, 8)), RejectReason::kNone);
  EXPECT_EQ(rejected(m.amend(1, id, 0, 9)), RejectReason::kOrderLimitExceeded);
}

}  // namespace
}  // namespace bourse::testing

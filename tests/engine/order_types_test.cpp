// Every order type, time in force, amend rule and self-trade prevention mode.
#include "engine/engine_test_util.h"

namespace bourse::testing {
namespace {

using S = Side;
using T = OrderType;
using F = TimeInForce;

TEST(Limit, RestsThenMatchesInPriceTimePriority) {
  Market m;
  const uint64_t a = accepted_id(m.place({.account = 1, .side = S::kSell, .price = 10'100, .qty = 5}));
  const uint64_t b = accepted_id(m.place({.account = 2, .side = S::kSell, .price = 10'000, .qty = 5}));
  const uint64_t c = accepted_id(m.place({.account = 3, .side = S::kSell, .price = 10'000, .qty = 5}));
  auto ev = m.place({.account = 4, .side = S::kBuy, .price = 10'100, .qty = 12});
  const auto trades = of_type(ev, EventType::kTrade);
  ASSERT_EQ(trades.size(), 3u);
  // Best price first, then time: b (100.00, first), c (100.00), a (101.00).
  EXPECT_EQ(trades[0].trade.passive.order_id.value, b);
  EXPECT_EQ(trades[1].trade.passive.order_id.value, c);
  EXPECT_EQ(trades[2].trade.passive.order_id.value, a);
  EXPECT_EQ(trades[0].trade.price, Price{10'000});
  EXPECT_EQ(trades[2].trade.price, Price{10'100});
  EXPECT_EQ(trades[2].trade.qty, Qty{2});
  EXPECT_EQ(trades[2].trade.aggressor.leaves, Qty{0});
  EXPECT_EQ(trades[2].trade.passive.leaves, Qty{3});
  EXPECT_EQ(trades[0].trade.trade_id.value, 1u);
  EXPECT_EQ(trades[2].trade.trade_id.value, 3u);
  EXPECT_EQ(trades[0].trade.aggressor_side, S::kBuy);
  EXPECT_EQ(m.order(a).leaves(), Qty{3});
  EXPECT_FALSE(m.live(b));
}

TEST(Limit, BookLevelEventsCarryFinalAggregates) {
  Market m;
  m.place({.account = 1, .side = S::kSell, .price = 10'000, .qty = 5});
  auto ev = m.place({.account = 2, .side = S::kSell, .price = 10'000, .qty = 3});
  auto levels = of_type(ev, EventType::kBookLevelChanged);
  ASSERT_EQ(levels.size(), 1u);
  EXPECT_EQ(levels[0].book_level.qty, Qty{8});
  EXPECT_EQ(levels[0].book_level.order_count, 2u);
  ev = m.place({.account = 3, .side = S::kBuy, .price = 10'000, .qty = 8});
  levels = of_type(ev, EventType::kBookLevelChanged);
  ASSERT_EQ(levels.size(), 1u);
  EXPECT_EQ(levels[0].book_level.qty, Qty{0});
  EXPECT_EQ(levels[0].book_level.side, S::kSell);
}

TEST(Market, SweepsButNeverBeyondTheBandAtEntry) {
  Market m;
  // Move the last price to 109.00 so that an ask at 119.00 is inside the band.
  m.place({.account = 1, .side = S::kSell, .price = 10'900, .qty = 1});
  m.place({.account = 2, .side = S::kBuy, .price = 10'900, .qty = 1});
  const uint64_t far = accepted_id(m.place({.account = 1, .side = S::kSell, .price = 11'900, .qty = 5}));
  ASSERT_NE(far, 0u);
  // Back to 100.00: band is now 90.00..110.00.
  m.place({.account = 1, .side = S::kSell, .price = 10'000, .qty = 1});
  m.place({.account = 2, .side = S::kBuy, .price = 10'000, .qty = 1});
  m.place({.account = 1, .side = S::kSell, .price = 10'500, .qty = 2});
  auto ev = m.place({.account = 3, .side = S::kBuy, .qty = 10, .type = T::kMarket, .tif = F::kIoc});
  const auto trades = of_type(ev, EventType::kTrade);
  ASSERT_EQ(trades.size(), 1u);
  EXPECT_EQ(trades[0].trade.price, Price{10'500});
  const Event* c = first(ev, EventType::kOrderCancelled);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->cancelled.reason, CancelReason::kUnfilledImmediate);
  EXPECT_EQ(c->cancelled.leaves, Qty{8});
  EXPECT_TRUE(m.live(far));  // protection: 119.00 > band high 110.00 at entry
  // The market buy's hold (band high 110.00 × 10 + fee) was fully released.
  EXPECT_EQ(m.bal(3, kUsd).locked, Amount{0});
}

TEST(Market, SellWithNoBidsIsCancelled) {
  Market m;
  auto ev = m.place({.account = 1, .side = S::kSell, .qty = 3, .type = T::kMarket, .tif = F::kFok});
  ASSERT_NE(first(ev, EventType::kOrderCancelled), nullptr);
  EXPECT_EQ(first(ev, EventType::kOrderCancelled)->cancelled.reason, CancelReason::kFillOrKill);
  ev = m.place({.account = 1, .side = S::kSell, .qty = 3, .type = T::kMarket, .tif = F::kIoc});
  EXPECT_EQ(first(ev, EventType::kOrderCancelled)->cancelled.reason, CancelReason::kUnfilledImmediate);
  EXPECT_EQ(m.bal(1, kXyz).locked, Amount{0});
}

TEST(TimeInForce, IocFillsWhatItCanAndCancelsTheRest) {
  Market m;
  m.place({.account = 1, .side = S::kSell, .price = 10'000, .qty = 4});
  auto ev = m.place({.account = 2, .side = S::kBuy, .price = 10'000, .qty = 10, .tif = F::kIoc});
  EXPECT_EQ(of_type(ev, EventType::kTrade).size(), 1u);
  EXPECT_EQ(first(ev, EventType::kOrderCancelled)->cancelled.leaves, Qty{6});
  EXPECT_EQ(m.engine.live_order_count(), 0u);
}

TEST(TimeInForce, FokIsAllOrNothing) {
  Market m;
  m.place({.account = 1, .side = S::kSell, .price = 10'000, .qty = 4});
  m.place({.account = 2, .side = S::kSell, .price = 10'100, .qty = 4});
  auto ev = m.place({.account = 3, .side = S::kBuy, .price = 10'100, .qty = 9, .tif = F::kFok});
  EXPECT_TRUE(of_type(ev, EventType::kTrade).empty());
  EXPECT_EQ(first(ev, EventType::kOrderCancelled)->cancelled.reason, CancelReason::kFillOrKill);
  EXPECT_EQ(m.engine.live_order_count(), 2u);
  ev = m.place({.account = 3, .side = S::kBuy, .price = 10'100, .qty = 8, .tif = F::kFok});
  EXPECT_EQ(of_type(ev, EventType::kTrade).size(), 2u);
  EXPECT_EQ(m.engine.live_order_count(), 0u);
}

TEST(TimeInForce, FokCountsOwnOrdersOnlyWhenTheyWouldBeCancelled) {
  Market m;
  m.place({.account = 1, .side = S::kSell, .price = 10'000, .qty = 4});
  m.place({.account = 2, .side = S::kSell, .price = 10'000, .qty = 4});
  // Account 1's own order comes first: with CANCEL_NEWEST the FOK cannot get past it.
  auto ev = m.place({.account = 1, .side = S::kBuy, .price = 10'000, .qty = 4, .tif = F::kFok, .stp = StpMode::kCancelNewest});
  EXPECT_EQ(first(ev, EventType::kOrderCancelled)->cancelled.reason, CancelReason::kFillOrKill);
  EXPECT_EQ(m.engine.live_order_count(), 2u);
  // With CANCEL_OLDEST its own order is cancelled and account 2 fills it.
  ev = m.place({.account = 1, .side = S::kBuy, .price = 10'000, .qty = 4, .tif = F::kFok, .stp = StpMode::kCancelOldest});
  const auto cancels = of_type(ev, EventType::kOrderCancelled);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].cancelled.reason, CancelReason::kSelfTrade);
  EXPECT_EQ(of_type(ev, EventType::kTrade).size(), 1u);
}

TEST(TimeInForce, DayOrdersExpireAtSessionClose) {
  Market m;
  const uint64_t day = accepted_id(m.place({.side = S::kBuy, .price = 9'900, .qty = 1, .tif = F::kDay}));
  const uint64_t gtc = accepted_id(m.place({.side = S::kBuy, .price = 9'900, .qty = 1}));
  auto ev = m.run(Command::expire_day_orders({kXyzUsd, 0}));
  const auto expired = of_type(ev, EventType::kOrderExpired);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].expired.order_id.value, day);
  EXPECT_EQ(expired[0].expired.reason, ExpireReason::kDay);
  EXPECT_TRUE(m.live(gtc));
  EXPECT_EQ(m.bal(1, kUsd).locked, m.order(gtc).hold);
}

TEST(TimeInForce, GtdExpiresWhenTimePassesItsExpiry) {
  Market m;
  const Timestamp t = m.now();
  EXPECT_EQ(rejected(m.place({.side = S::kBuy, .price = 9'900, .qty = 1, .tif = F::kGtd, .expire_at = t})),
            RejectReason::kInvalidExpireTime);
  EXPECT_EQ(rejected(m.place({.side = S::kBuy, .price = 9'900, .qty = 1, .expire_at = t + 5})),
            RejectReason::kInvalidExpireTime);
  const uint64_t late = accepted_id(m.place({.side = S::kBuy, .price = 9'900, .qty = 1, .tif = F::kGtd, .expire_at = t + 2000}));
  const uint64_t early = accepted_id(m.place({.side = S::kBuy, .price = 9'900, .qty = 1, .tif = F::kGtd, .expire_at = t + 1000}));
  m.advance(999);
  EXPECT_TRUE(of_type(m.run(Command::heartbeat()), EventType::kOrderExpired).empty());
  m.advance(5000);
  const auto expired = of_type(m.run(Command::heartbeat()), EventType::kOrderExpired);
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0].expired.order_id.value, early);  // earliest expiry first
  EXPECT_EQ(expired[1].expired.order_id.value, late);
  EXPECT_EQ(m.bal(1, kUsd).locked, Amount{0});
}

TEST(PostOnly, RestsOrIsRejected) {
  Market m;
  m.place({.account = 1, .side = S::kSell, .price = 10'000, .qty = 1});
  EXPECT_EQ(rejected(m.place({.account = 2, .side = S::kBuy, .price = 10'000, .qty = 1, .post_only = true})),
            RejectReason::kPostOnlyWouldTake);
  EXPECT_NE(accepted_id(m.place({.account = 2, .side = S::kBuy, .price = 9'999, .qty = 1, .post_only = true})), 0u);
  EXPECT_EQ(rejected(m.place({.account = 2, .side = S::kBuy, .price = 9'000, .qty = 1, .tif = F::kIoc, .post_only = true})),
            RejectReason::kPostOnlyNotAllowed);
}

TEST(Stop, LimitAndMarketTriggerOnLastTradeInOrderIdOrder) {
  Market m;
  EXPECT_EQ(rejected(m.place({.account = 1, .side = S::kBuy, .price = 10'100, .qty = 1, .type = T::kStopLimit, .stop_price = 10'000})),
            RejectReason::kStopWouldTriggerImmediately);
  const uint64_t stop_limit = accepted_id(
      m.place({.account = 1, .side = S::kBuy, .price = 10'300, .qty = 2, .type = T::kStopLimit, .stop_price = 10'200}));
  const uint64_t stop_market = accepted_id(
      m.place({.account = 2, .side = S::kBuy, .qty = 1, .type = T::kStopMarket, .stop_price = 10'100}));
  ASSERT_TRUE(m.order(stop_limit).pending_trigger);
  m.place({.account = 3, .side = S::kSell, .price = 10'200, .qty = 1});
  m.place({.account = 3, .side = S::kSell, .price = 10'300, .qty = 5});
  // A trade at 102.00 triggers both; the smaller order id goes first.
  auto ev = m.place({.account = 4, .side = S::kBuy, .price = 10'200, .qty = 1});
  const auto triggered = of_type(ev, EventType::kOrderTriggered);
  ASSERT_EQ(triggered.size(), 2u);
  EXPECT_EQ(triggered[0].triggered.order_id.value, stop_limit);
  EXPECT_EQ(triggered[0].triggered.last_price, Price{10'200});
  EXPECT_EQ(triggered[1].triggered.order_id.value, stop_market);
  const auto trades = of_type(ev, EventType::kTrade);
  ASSERT_EQ(trades.size(), 3u);
  EXPECT_EQ(trades[1].trade.aggressor.order_id.value, stop_limit);
  EXPECT_EQ(trades[1].trade.qty, Qty{2});
  EXPECT_EQ(trades[2].trade.aggressor.order_id.value, stop_market);
  EXPECT_FALSE(m.live(stop_limit));
  EXPECT_FALSE(m.live(stop_market));
  EXPECT_EQ(m.bal(1, kUsd).locked, Amount{0});
  EXPECT_EQ(m.bal(2, kUsd).locked, Amount{0});
}

TEST(Stop, SellStopCascades) {
  Market m;
  const uint64_t s1 = accepted_id(m.place({.account = 1, .side = S::kSell, .qty = 1, .type = T::kStopMarket, .stop_price = 9'900}));
  const uint64_t s2 = accepted_id(m.place({.account = 2, .side = S::kSell, .price = 9'700, .qty = 1, .type = T::kStopLimit, .stop_price = 9'800}));
  m.place({.account = 3, .side = S::kBuy, .price = 9'900, .qty = 1});
  m.place({.account = 3, .side = S::kBuy, .price = 9'800, .qty = 1});
  m.place({.account = 3, .side = S::kBuy, .price = 9'700, .qty = 1});
  // Trade at 99.00 triggers s1, which sells at 98.00 and triggers s2, which sells at 97.00.
  auto ev = m.place({.account = 4, .side = S::kSell, .price = 9'900, .qty = 1});
  const auto triggered = of_type(ev, EventType::kOrderTriggered);
  ASSERT_EQ(triggered.size(), 2u);
  EXPECT_EQ(triggered[0].triggered.order_id.value, s1);
  EXPECT_EQ(triggered[1].triggered.order_id.value, s2);
  EXPECT_EQ(triggered[1].triggered.last_price, Price{9'800});
  EXPECT_EQ(m.engine.instrument(kXyzUsd)->last_price, Price{9'700});
}

TEST(Amend, QuantityDownKeepsPriority) {
  Market m;
  const uint64_t a = accepted_id(m.place({.account = 1, .side = S::kSell, .price = 10'000, .qty = 5}));
  m.place({.account = 2, .side = S::kSell, .price = 10'000, .qty = 5});
  auto ev = m.amend(1, a, 0, 3);
  const Event* am = first(ev, EventType::kOrderAmended);
  ASSERT_NE(am, nullptr);
  EXPECT_EQ(am->amended.priority_kept, 1);
  EXPECT_EQ(m.bal(1, kXyz).locked, Amount{3});
  ev = m.place({.account = 3, .side = S::kBuy, .price = 10'000, .qty = 1});
  EXPECT_EQ(first(ev, EventType::kTrade)->trade.passive.order_id.value, a);
}

TEST(Amend, QuantityUpOrPriceChangeLosesPriority) {
  Market m;
  const uint64_t a = accepted_id(m.place({.account = 1, .side = S::kSell, .price = 10'000, .qty = 5}));
  const uint64_t b = accepted_id(m.place({.account = 2, .side = S::kSell, .price = 10'000, .qty = 5}));
  EXPECT_EQ(first(m.amend(1, a, 0, 6), EventType::kOrderAmended)->amended.priority_kept, 0);
  auto ev = m.place({.account = 3, .side = S::kBuy, .price = 10'000, .qty = 1});
  EXPECT_EQ(first(ev, EventType::kTrade)->trade.passive.order_id.value, b);
  // Price change away and back: b (now 4 left) stays ahead.
  m.amend(1, a, 10'100, 0);
  m.amend(1, a, 10'000, 0);
  ev = m.place({.account = 3, .side = S::kBuy, .price = 10'000, .qty = 1});
  EXPECT_EQ(first(ev, EventType::kTrade)->trade.passive.order_id.value, b);
}

TEST(Amend, PriceThroughTheBookTrades) {
  Market m;
  m.place({.account = 1, .side = S::kSell, .price = 10'000, .qty = 2});
  const uint64_t bid = accepted_id(m.place({.account = 2, .side = S::kBuy, .price = 9'900, .qty = 5}));
  auto ev = m.amend(2, bid, 10'000, 0);
  ASSERT_EQ(ev[0].type, EventType::kOrderAmended);
  EXPECT_EQ(of_type(ev, EventType::kTrade).size(), 1u);
  EXPECT_EQ(m.order(bid).leaves(), Qty{3});
  EXPECT_EQ(m.order(bid).price, Price{10'000});
  // The hold follows the new price: 3 × 100.00 + 0.2%.
  EXPECT_EQ(m.order(bid).hold, Amount{30'000 + 60});
  EXPECT_EQ(m.bal(2, kUsd).locked, Amount{30'060});
}

TEST(Amend, RejectsInvalidChanges) {
  Market m;
  const uint64_t a = accepted_id(m.place({.account = 1, .side = S::kSell, .price = 10'000, .qty = 5}));
  m.place({.account = 2, .side = S::kBuy, .price = 10'000, .qty = 2});
  EXPECT_EQ(rejected(m.amend(1, a, 0, 2)), RejectReason::kInvalidAmend);        // <= filled
  EXPECT_EQ(rejected(m.amend(1, a, 10'000, 5)), RejectReason::kInvalidAmend);   // nothing changes
  EXPECT_EQ(rejected(m.amend(2, a, 0, 4)), RejectReason::kOrderNotFound);       // not the owner
  EXPECT_EQ(rejected(m.amend(1, a, 20'000, 0)), RejectReason::kPriceOutOfBand);
  EXPECT_EQ(rejected(m.amend(1, a, 0, 0, 9'000)), RejectReason::kInvalidAmend);  // stop on a limit
  EXPECT_EQ(rejected(m.amend(1, a, 0, 20'000)), RejectReason::kInsufficientFunds);
  EXPECT_EQ(m.order(a).qty, Qty{5});
}

TEST(Amend, PendingStopMovesItsTrigger) {
  Market m;
  const uint64_t s = accepted_id(m.place({.account = 1, .side = S::kBuy, .qty = 2, .type = T::kStopMarket, .stop_price = 10'500}));
  const Amount before = m.order(s).hold;
  EXPECT_EQ(rejected(m.amend(1, s, 0, 0, 9'000)), RejectReason::kStopWouldTriggerImmediately);
  EXPECT_EQ(rejected(m.amend(1, s, 10'600, 0)), RejectReason::kInvalidAmend);  // no price on a stop market
  m.amend(1, s, 0, 0, 10'200);
  EXPECT_EQ(m.order(s).stop_price, Price{10'200});
  EXPECT_LT(m.order(s).hold, before);  // hold price = stop × (1 + band) moved down
  EXPECT_EQ(m.bal(1, kUsd).locked, m.order(s).hold);
}

TEST(SelfTrade, CancelNewestCancelsTheAggressor) {
  Market m;
  const uint64_t rest = accepted_id(m.place({.account = 1, .side = S::kSell, .price = 10'000, .qty = 1}));
  auto ev = m.place({.account = 1, .side = S::kBuy, .price = 10'000, .qty = 1, .stp = StpMode::kCancelNewest});
  const auto c = of_type(ev, EventType::kOrderCancelled);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_NE(c[0].cancelled.order_id.value, rest);
  EXPECT_EQ(c[0].cancelled.reason, CancelReason::kSelfTrade);
  EXPECT_TRUE(m.live(rest));
}

TEST(SelfTrade, CancelOldestCancelsRestingAndContinues) {
  Market m;
  const uint64_t own = accepted_id(m.place({.account = 1, .side = S::kSell, .price = 10'000, .qty = 1}));
  m.place({.account = 2, .side = S::kSell, .price = 10'000, .qty = 1});
  auto ev = m.place({.account = 1, .side = S::kBuy, .price = 10'000, .qty = 1, .stp = StpMode::kCancelOldest});
  EXPECT_EQ(first(ev, EventType::kOrderCancelled)->cancelled.order_id.value, own);
  EXPECT_EQ(of_type(ev, EventType::kTrade).size(), 1u);
}

TEST(SelfTrade, CancelBothAndAccountDefault) {
  Market m;
  m.run(Command::configure_account({AccountId{1}, 0, StpMode::kCancelBoth, {}}));
  const uint64_t own = accepted_id(m.place({.account = 1, .side = S::kSell, .price = 10'000, .qty = 1}));
  auto ev = m.place({.account = 1, .side = S::kBuy, .price = 10'000, .qty = 1});
  EXPECT_EQ(first(ev, EventType::kOrderAccepted)->accepted.stp, StpMode::kCancelBoth);
  const auto c = of_type(ev, EventType::kOrderCancelled);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].cancelled.order_id.value, own);  // resting first, then the aggressor
  EXPECT_EQ(m.engine.live_order_count(), 0u);
  EXPECT_EQ(m.bal(1, kUsd).locked, Amount{0});
  EXPECT_EQ(m.bal(1, kXyz).locked, Amount{0});
}

TEST(Cancel, ByIdByClientIdAndCancelAll) {
  Market m;
  const uint64_t a = accepted_id(m.place({.account = 1, .side = S::kBuy, .price = 9'000, .qty = 1, .client_order_id = "a"}));
  EXPECT_EQ(rejected(m.place({.account = 1, .side = S::kBuy, .price = 9'000, .qty = 1, .client_order_id = "a"})),
            RejectReason::kDuplicateClientOrderId);
  // Another account may use the same client id.
  EXPECT_NE(accepted_id(m.place({.account = 2, .side = S::kBuy, .price = 9'000, .qty = 1, .client_order_id = "a"})), 0u);
  CancelOrder c;
  c.account = AccountId{1};
  c.client_order_id = ClientOrderId::from("a");
  auto ev = m.run(Command::cancel_order(c));
  EXPECT_EQ(first(ev, EventType::kOrderCancelled)->cancelled.order_id.value, a);
  EXPECT_EQ(first(ev, EventType::kOrderCancelled)->cancelled.reason, CancelReason::kUserRequested);
  // Once the order is gone its client id can be used again.
  EXPECT_NE(accepted_id(m.place({.account = 1, .side = S::kBuy, .price = 9'000, .qty = 1, .client_order_id = "a"})), 0u);
  EXPECT_EQ(rejected(m.cancel(1, 999)), RejectReason::kOrderNotFound);
  m.place({.account = 1, .side = S::kSell, .price = 10'500, .qty = 1});
  ev = m.run(Command::cancel_all({AccountId{1}, InstrumentId{}}));
  const auto cancels = of_type(ev, EventType::kOrderCancelled);
  ASSERT_EQ(cancels.size(), 2u);
  EXPECT_LT(cancels[0].cancelled.order_id, cancels[1].cancelled.order_id);
  EXPECT_EQ(cancels[0].cancelled.reason, CancelReason::kCancelAll);
  EXPECT_EQ(m.engine.account(AccountId{1})->open_orders, 0u);
  EXPECT_EQ(m.engine.account(AccountId{2})->open_orders, 1u);
}

TEST(KillSwitch, CancelsEverythingAndRefusesNewOrders) {
  Market m;
  m.place({.account = 1, .side = S::kBuy, .price = 9'000, .qty = 1});
  m.place({.account = 1, .side = S::kSell, .qty = 1, .type = T::kStopMarket, .stop_price = 9'500});
  auto ev = m.run(Command::set_account_enabled({AccountId{1}, 0, {}}));
  const auto cancels = of_type(ev, EventType::kOrderCancelled);
  ASSERT_EQ(cancels.size(), 2u);
  EXPECT_EQ(cancels[0].cancelled.reason, CancelReason::kAccountDisabled);
  EXPECT_EQ(rejected(m.place({.account = 1, .side = S::kBuy, .price = 9'000, .qty = 1})), RejectReason::kAccountDisabled);
  m.run(Command::set_account_enabled({AccountId{1}, 1, {}}));
  EXPECT_NE(accepted_id(m.place({.account = 1, .side = S::kBuy, .price = 9'000, .qty = 1})), 0u);
}

TEST(InstrumentStatus, HaltRefusesOrdersAndAmendsButAllowsCancels) {
  Market m;
  const uint64_t a = accepted_id(m.place({.account = 1, .side = S::kBuy, .price = 9'000, .qty = 2}));
  m.run(Command::set_instrument_status({kXyzUsd, InstrumentStatus::kHalted, {}}));
  EXPECT_EQ(rejected(m.place({.account = 2, .side = S::kSell, .price = 9'000, .qty = 1})), RejectReason::kInstrumentHalted);
  EXPECT_EQ(rejected(m.amend(1, a, 0, 1)), RejectReason::kInstrumentHalted);
  m.run(Command::set_instrument_status({kXyzUsd, InstrumentStatus::kTrading, {}}));
  m.place({.account = 1, .side = S::kBuy, .price = 9'100, .qty = 2});
  auto ev = m.run(Command::set_instrument_status({kXyzUsd, InstrumentStatus::kClosed, {}}));
  EXPECT_EQ(of_type(ev, EventType::kOrderCancelled).size(), 2u);
  EXPECT_EQ(rejected(m.place({.account = 2, .side = S::kSell, .price = 9'000, .qty = 1})), RejectReason::kInstrumentClosed);
  EXPECT_EQ(m.bal(1, kUsd).locked, Amount{0});
}

}  // namespace
}  // namespace bourse::testing

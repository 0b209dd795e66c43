// Sessions: PRE_OPEN collects orders without matching (resting ones only),
// the change to TRADING uncrosses the book in one opening auction (most
// quantity, then least imbalance, then closest to the reference, then the
// lower price), SESSION_CLOSED refuses order entry with its own code, and a
// crossed pre-open book survives a snapshot.
#include <cstring>
#include <map>

#include "engine/engine_test_util.h"
#include "engine/invariants.h"

namespace bourse::testing {
namespace {

std::map<uint32_t, int64_t> initial_supply() { return {{kUsd.value, 4 * kUsdFunds}, {kXyz.value, 4 * kXyzFunds}}; }

std::vector<Event> set_status(Market& m, InstrumentStatus s) {
  return m.run(Command::set_instrument_status({kXyzUsd, s}));
}

TEST(Sessions, PreOpenCollectsOrdersWithoutMatching) {
  Market m;
  ASSERT_EQ(rejected(set_status(m, InstrumentStatus::kPreOpen)), RejectReason::kNone);
  for (const OrderArgs& a : {OrderArgs{.account = 1, .side = Side::kBuy, .price = 10'100, .qty = 3},
                             OrderArgs{.account = 2, .side = Side::kSell, .price = 9'900, .qty = 2},
                             OrderArgs{.account = 3, .side = Side::kSell, .price = 10'000, .qty = 2},
                             OrderArgs{.account = 4, .side = Side::kBuy, .price = 10'000, .qty = 1}}) {
    const auto events = m.place(a);
    ASSERT_NE(accepted_id(events), 0u);
    EXPECT_EQ(of_type(events, EventType::kTrade).size(), 0u);
  }
  // The book is crossed, as an auction's book is.
  EXPECT_EQ(m.engine.depth(kXyzUsd, Side::kBuy, 1)[0].price.value, 10'100);
  EXPECT_EQ(m.engine.depth(kXyzUsd, Side::kSell, 1)[0].price.value, 9'900);
  // Orders that cannot rest are refused.
  EXPECT_EQ(rejected(m.place({.account = 1, .side = Side::kBuy, .qty = 1, .type = OrderType::kMarket,
                              .tif = TimeInForce::kIoc})),
            RejectReason::kPreOpenOrderType);
  EXPECT_EQ(rejected(m.place({.account = 1, .side = Side::kBuy, .price = 10'000, .tif = TimeInForce::kFok})),
            RejectReason::kPreOpenOrderType);
  // An amend re-queues without matching either.
  const uint64_t id = accepted_id(m.place({.account = 4, .side = Side::kBuy, .price = 9'800, .qty = 1}));
  EXPECT_EQ(of_type(m.amend(4, id, 10'100, 1), EventType::kTrade).size(), 0u);
}

TEST(Sessions, TheOpeningAuctionUncrossesAtOnePrice) {
  Market m;
  set_status(m, InstrumentStatus::kPreOpen);
  m.place({.account = 1, .side = Side::kBuy, .price = 10'100, .qty = 3});
  m.place({.account = 2, .side = Side::kSell, .price = 9'900, .qty = 2});
  m.place({.account = 3, .side = Side::kSell, .price = 10'000, .qty = 2});
  m.place({.account = 4, .side = Side::kBuy, .price = 10'000, .qty = 1});
  m.place({.account = 4, .side = Side::kBuy, .price = 9'700, .qty = 5});  // does not cross
  // At 99.00: 4 wanted, 2 offered; at 100.00: 4 and 4; at 101.00: 3 and 4.
  const auto events = set_status(m, InstrumentStatus::kTrading);
  const auto trades = of_type(events, EventType::kTrade);
  ASSERT_EQ(trades.size(), 3u);
  int64_t volume = 0;
  for (const Event& t : trades) {
    EXPECT_EQ(t.trade.price.value, 10'000);
    volume += t.trade.qty.value;
  }
  EXPECT_EQ(volume, 4);
  // Price-time priority at one price; the newer order of each pair is the aggressor.
  EXPECT_EQ(trades[0].trade.passive.account.value, 1u);
  EXPECT_EQ(trades[0].trade.aggressor.account.value, 2u);
  EXPECT_EQ(m.engine.instrument(kXyzUsd)->last_price.value, 10'000);
  // What is left is not crossed; the buyer at 101.00 paid 100.00 and got the rest of its hold back.
  EXPECT_EQ(m.engine.depth(kXyzUsd, Side::kSell, 1).size(), 0u);
  EXPECT_EQ(m.engine.depth(kXyzUsd, Side::kBuy, 1)[0].price.value, 9'700);
  EXPECT_EQ(m.bal(1, kXyz).available.value, kXyzFunds + 3);
  EXPECT_EQ(m.bal(1, kUsd).locked.value, 0);
  EXPECT_EQ(check_invariants(m.engine, initial_supply()), "");
  // Continuous trading from here on.
  EXPECT_EQ(of_type(m.place({.account = 2, .side = Side::kSell, .price = 9'700, .qty = 1}), EventType::kTrade).size(), 1u);
}

TEST(Sessions, TiesGoToTheSmallerImbalanceThenTheReference) {
  Market m;  // reference 100.00
  set_status(m, InstrumentStatus::kPreOpen);
  // 101.00 and 102.00 both execute 1 with no imbalance: 101.00 is closer to 100.00.
  m.place({.account = 1, .side = Side::kBuy, .price = 10'200, .qty = 1});
  m.place({.account = 2, .side = Side::kSell, .price = 10'100, .qty = 1});
  auto trades = of_type(set_status(m, InstrumentStatus::kTrading), EventType::kTrade);
  ASSERT_EQ(trades.size(), 1u);
  EXPECT_EQ(trades[0].trade.price.value, 10'100);
  // A self-crossing pair is not a trade: the newer order is cancelled.
  set_status(m, InstrumentStatus::kPreOpen);
  m.place({.account = 3, .side = Side::kSell, .price = 10'000, .qty = 1});
  const uint64_t newer = accepted_id(m.place({.account = 3, .side = Side::kBuy, .price = 10'100, .qty = 1}));
  const auto events = set_status(m, InstrumentStatus::kTrading);
  EXPECT_EQ(of_type(events, EventType::kTrade).size(), 0u);
  EXPECT_FALSE(m.live(newer));
  EXPECT_EQ(check_invariants(m.engine, initial_supply()), "");
}

TEST(Sessions, SessionClosedExpiresDayOrdersAndRefusesEntryButNotCancels) {
  Market m;
  const uint64_t day = accepted_id(m.place({.account = 1, .side = Side::kBuy, .price = 9'900, .tif = TimeInForce::kDay}));
  const uint64_t gtc = accepted_id(m.place({.account = 1, .side = Side::kBuy, .price = 9'800}));
  // The close: DAY orders expire in the same command, GTC ones stay.
  const auto events = set_status(m, InstrumentStatus::kSessionClosed);
  const Event* expired = first(events, EventType::kOrderExpired);
  ASSERT_NE(expired, nullptr);
  EXPECT_EQ(expired->expired.order_id.value, day);
  EXPECT_EQ(expired->expired.reason, ExpireReason::kDay);
  EXPECT_FALSE(m.live(day));
  EXPECT_TRUE(m.live(gtc));
  EXPECT_EQ(rejected(m.place({.account = 2, .side = Side::kSell, .price = 10'000})), RejectReason::kSessionClosed);
  EXPECT_EQ(rejected(m.amend(1, gtc, 9'700, 1)), RejectReason::kSessionClosed);
  EXPECT_EQ(rejected(m.cancel(1, gtc)), RejectReason::kNone);
}

TEST(Sessions, TheImbalanceDecidesBeforeTheReference) {
  Market m;  // reference 100.00
  set_status(m, InstrumentStatus::kPreOpen);
  m.place({.account = 1, .side = Side::kBuy, .price = 9'700, .qty = 2});
  m.place({.account = 2, .side = Side::kSell, .price = 9'300, .qty = 1});
  m.place({.account = 3, .side = Side::kSell, .price = 9'500, .qty = 1});
  m.place({.account = 4, .side = Side::kSell, .price = 9'600, .qty = 1});
  // 95.00, 96.00 and 97.00 all execute 2; only 95.00 leaves no imbalance,
  // though 97.00 is closer to the reference.
  const auto trades = of_type(set_status(m, InstrumentStatus::kTrading), EventType::kTrade);
  ASSERT_EQ(trades.size(), 2u);
  EXPECT_EQ(trades[0].trade.price.value, 9'500);
  EXPECT_EQ(trades[1].trade.price.value, 9'500);
}

TEST(Sessions, ASelfTradeAtTheHeadsStillLeavesTheBookUncrossed) {
  Market m;
  set_status(m, InstrumentStatus::kPreOpen);
  m.place({.account = 1, .side = Side::kBuy, .price = 10'500, .qty = 1});
  m.place({.account = 2, .side = Side::kBuy, .price = 10'000, .qty = 10});
  m.place({.account = 1, .side = Side::kSell, .price = 10'000, .qty = 10});
  m.place({.account = 3, .side = Side::kSell, .price = 10'400, .qty = 5});
  // Priced at 100.00 on whole levels; account 1's pair cancels its newer
  // order, which leaves 105.00 against 104.00: priced and uncrossed again.
  set_status(m, InstrumentStatus::kTrading);
  const auto bids = m.engine.depth(kXyzUsd, Side::kBuy, 1);
  const auto asks = m.engine.depth(kXyzUsd, Side::kSell, 1);
  ASSERT_FALSE(bids.empty());
  ASSERT_FALSE(asks.empty());
  EXPECT_LT(bids[0].price, asks[0].price);
  EXPECT_EQ(check_invariants(m.engine, initial_supply()), "");
}

TEST(Sessions, APreOpenBookHaltedOrClosedIsUncrossedWhenItTradesAgain) {
  Market m;
  set_status(m, InstrumentStatus::kPreOpen);
  m.place({.account = 1, .side = Side::kBuy, .price = 10'100, .qty = 1});
  m.place({.account = 2, .side = Side::kSell, .price = 9'900, .qty = 1});
  set_status(m, InstrumentStatus::kHalted);
  // A snapshot of the crossed, halted book restores.
  std::vector<unsigned char> bytes;
  m.engine.serialize(&bytes);
  Market copy(EngineConfig{256, 8, 8, 1u << 16, 1000}, false);
  ASSERT_TRUE(copy.engine.restore(bytes));
  EXPECT_EQ(of_type(set_status(m, InstrumentStatus::kTrading), EventType::kTrade).size(), 1u);
  EXPECT_EQ(check_invariants(m.engine, initial_supply()), "");
}

TEST(Sessions, TheMidMarkIgnoresAPreOpenBook) {
  Market m;
  SetMarginParams p{};
  p.instrument = kXyzUsd;
  p.mark_source = MarkSource::kMid;
  p.initial_ppm[0] = 100'000;
  p.maintenance_ppm[0] = 50'000;
  ASSERT_EQ(rejected(m.run(Command::set_margin_params(p))), RejectReason::kNone);
  set_status(m, InstrumentStatus::kPreOpen);
  m.place({.account = 1, .side = Side::kBuy, .price = 10'900, .qty = 1});
  m.place({.account = 2, .side = Side::kSell, .price = 10'800, .qty = 1});
  EXPECT_EQ(m.engine.mark_price(kXyzUsd).value, 10'000);  // the reference, not the crossed mid
}

TEST(Sessions, ACrossedPreOpenBookSurvivesASnapshot) {
  Market m;
  set_status(m, InstrumentStatus::kPreOpen);
  m.place({.account = 1, .side = Side::kBuy, .price = 10'100, .qty = 3});
  m.place({.account = 2, .side = Side::kSell, .price = 9'900, .qty = 2});
  std::vector<unsigned char> bytes;
  m.engine.serialize(&bytes);
  Market copy(EngineConfig{256, 8, 8, 1u << 16, 1000}, false);
  ASSERT_TRUE(copy.engine.restore(bytes));
  EXPECT_EQ(copy.engine.state_hash(), m.engine.state_hash());
  copy.advance(m.now() - copy.now());
  const auto a = set_status(m, InstrumentStatus::kTrading);
  const auto b = set_status(copy, InstrumentStatus::kTrading);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(std::memcmp(&a[i], &b[i], sizeof(Event)), 0);
  EXPECT_EQ(copy.engine.state_hash(), m.engine.state_hash());
}

}  // namespace
}  // namespace bourse::testing

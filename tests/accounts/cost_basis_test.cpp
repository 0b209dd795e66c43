// CostBasis: the average-cost rules one by one, the store's text form, and
// the invariants under random trading through the engine (read model fed
// with every event): no line holds more than the balance, and a line with
// nothing held has no cost.
#include "accounts/cost_basis.h"

#include <gtest/gtest.h>

#include <map>

#include "accounts/account_read_model.h"
#include "engine/random_commands.h"

namespace bourse::accounts {
namespace {

constexpr AccountId kAlice{1};
constexpr AssetId kUsd{1}, kBtc{2}, kEur{3};
constexpr InstrumentId kBtcUsd{1}, kBtcEur{2};

class CostBasisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    book.add_instrument(kBtcUsd, kBtc, kUsd);
    book.add_instrument(kBtcEur, kBtc, kEur);
  }
  // A fill and the balance total it leaves, as the engine reports them.
  void fill(InstrumentId i, Side side, int64_t qty, int64_t notional, int64_t fee) {
    book.on_cash_fill(kAlice, i, side, qty, notional, fee);
    total += side == Side::kBuy ? qty : -qty;
    book.on_total(kAlice, kBtc, total);
  }
  const CostLine& line(AssetId quote) {
    for (const CostLine& l : book.find(kAlice, kBtc)->lines) {
      if (l.quote == quote) return l;
    }
    static CostLine none;
    ADD_FAILURE() << "no line in " << quote.value;
    return none;
  }
  CostBasis book;
  int64_t total = 0;
};

TEST_F(CostBasisTest, BuysAddNotionalAndFeesAndSalesRealizeAgainstTheAverage) {
  fill(kBtcUsd, Side::kBuy, 2, 20'000, 20);  // 2 at 100.00 + 0.20 fee
  fill(kBtcUsd, Side::kBuy, 1, 13'000, 13);  // 1 at 130.00 + 0.13 fee
  EXPECT_EQ(line(kUsd).qty, 3);
  EXPECT_EQ(line(kUsd).cost, 33'033);
  // Sell 1 at 150.00, fee 0.15: releases 33,033 / 3 = 11,011; realizes 14,985 − 11,011.
  fill(kBtcUsd, Side::kSell, 1, 15'000, 15);
  EXPECT_EQ(line(kUsd).qty, 2);
  EXPECT_EQ(line(kUsd).cost, 22'022);
  EXPECT_EQ(line(kUsd).realized, 3'974);
  // Truncation never loses a unit: the last sale releases all that is left.
  fill(kBtcUsd, Side::kSell, 2, 20'000, 20);
  EXPECT_EQ(line(kUsd).qty, 0);
  EXPECT_EQ(line(kUsd).cost, 0);
  EXPECT_EQ(line(kUsd).realized, 3'974 + 19'980 - 22'022);
}

TEST_F(CostBasisTest, ReleasedCostIsTruncatedAndTheRemainderStaysWithTheLine) {
  fill(kBtcUsd, Side::kBuy, 3, 10'000, 0);
  fill(kBtcUsd, Side::kSell, 1, 4'000, 0);  // releases floor(10,000 / 3) = 3,333
  EXPECT_EQ(line(kUsd).cost, 6'667);
  EXPECT_EQ(line(kUsd).realized, 667);
  fill(kBtcUsd, Side::kSell, 1, 4'000, 0);  // 6,667 × 1 / 2 = 3,333
  EXPECT_EQ(line(kUsd).cost, 3'334);
  fill(kBtcUsd, Side::kSell, 1, 4'000, 0);
  EXPECT_EQ(line(kUsd).cost, 0);
  EXPECT_EQ(line(kUsd).realized, 3 * 4'000 - 10'000);  // exact once flat
}

TEST_F(CostBasisTest, DepositedUnitsHaveNoCostAndLeaveFirst) {
  book.on_transfer(kAlice, kBtc, 5, true, 0);
  total = 5;
  book.on_total(kAlice, kBtc, total);
  fill(kBtcUsd, Side::kBuy, 2, 20'000, 0);  // 7 held, 2 with a cost
  // Withdrawing 5 leaves 2: the unknown-cost units went; the line is intact.
  total -= 5;
  book.on_transfer(kAlice, kBtc, 5, false, 0);
  book.on_total(kAlice, kBtc, total);
  EXPECT_EQ(line(kUsd).qty, 2);
  EXPECT_EQ(line(kUsd).cost, 20'000);
  // Withdrawing one more takes it from the line, at its average, realizing nothing.
  total -= 1;
  book.on_total(kAlice, kBtc, total);
  EXPECT_EQ(line(kUsd).qty, 1);
  EXPECT_EQ(line(kUsd).cost, 10'000);
  EXPECT_EQ(line(kUsd).realized, 0);
}

TEST_F(CostBasisTest, LinesArePerQuoteAndASaleBeyondItsOwnLineTakesFromTheOthers) {
  fill(kBtcUsd, Side::kBuy, 4, 40'000, 0);
  fill(kBtcEur, Side::kBuy, 1, 9'000, 0);
  ASSERT_EQ(book.find(kAlice, kBtc)->lines.size(), 2u);
  // Selling 3 in EUR: 1 from the EUR line (realized in EUR), the other 2
  // from the USD line at its average, realizing nothing (no common currency).
  fill(kBtcEur, Side::kSell, 3, 30'000, 0);
  EXPECT_EQ(line(kEur).qty, 0);
  EXPECT_EQ(line(kEur).realized, 10'000 - 9'000);
  EXPECT_EQ(line(kUsd).qty, 2);
  EXPECT_EQ(line(kUsd).cost, 20'000);
  EXPECT_EQ(line(kUsd).realized, 0);
}

TEST_F(CostBasisTest, NetTransfersCountPerUtcDay) {
  const int64_t day = CostBasis::kNanosPerDay;
  book.on_transfer(kAlice, kUsd, 1'000, true, 10 * day + 5);
  book.on_transfer(kAlice, kUsd, 300, false, 10 * day + 6);
  EXPECT_EQ(book.find(kAlice, kUsd)->flow_day, 10);
  EXPECT_EQ(book.find(kAlice, kUsd)->net_flow, 700);
  book.on_transfer(kAlice, kUsd, 50, false, 11 * day);
  EXPECT_EQ(book.find(kAlice, kUsd)->flow_day, 11);
  EXPECT_EQ(book.find(kAlice, kUsd)->net_flow, -50);
}

TEST_F(CostBasisTest, ChangesAreTrackedForPersistenceOnlyWhenAsked) {
  fill(kBtcUsd, Side::kBuy, 1, 100, 0);
  EXPECT_TRUE(book.drain_changes().empty());
  book.track_changes(true);
  fill(kBtcUsd, Side::kBuy, 1, 100, 0);
  book.on_transfer(kAlice, kUsd, 1, true, 0);
  const auto changed = book.drain_changes();
  ASSERT_EQ(changed.size(), 2u);
  EXPECT_EQ(changed[0].asset, kUsd);
  EXPECT_EQ(changed[1].lines[0].qty, 2);
  EXPECT_TRUE(book.drain_changes().empty());
}

TEST(CostLinesText, RoundTripsExtremeValuesAndRefusesGarbage) {
  const Int128 big = static_cast<Int128>(1) << 126;
  const std::vector<CostLine> lines{{AssetId{1}, 0, 0, 0}, {AssetId{7}, INT64_MAX, big, -big}, {AssetId{9}, 5, -3, 12}};
  std::vector<CostLine> back;
  ASSERT_TRUE(decode_cost_lines(encode_cost_lines(lines), &back));
  EXPECT_EQ(back, lines);
  ASSERT_TRUE(decode_cost_lines("", &back));
  EXPECT_TRUE(back.empty());
  for (const char* bad : {"1:2:3", "1:2:3:4;", "x:1:1:1", "1:-1:0:0", "1:1:1:1:1", "1:1:99999999999999999999999999999999999999999:0",
                          "1:1:340282366920938463463374607431768211460:0", "1x:1:1:1", "1:1 :1:1"}) {
    EXPECT_FALSE(decode_cost_lines(bad, &back)) << bad;
  }
}

// Under random trading (four instruments, one of them ETH-BTC, so ETH has
// lines in two quotes and BTC is both bought and spent), after every command:
// Σ line quantities <= the balance, quantities and costs never negative, no
// cost without quantity.
TEST(CostBasisRandom, InvariantsHoldAfterEveryCommand) {
  testing::RandomCommandConfig config;
  testing::RandomCommandGenerator gen(11, config);
  Engine engine(config.engine);
  AccountReadModel model;
  std::size_t sales_realized = 0;
  auto apply = [&](const Command& c) {
    const auto span = engine.apply(c);
    const std::vector<Event> events(span.begin(), span.end());
    gen.observe(events);
    model.on_durable_batch(events);
    engine.for_each_account([&](const AccountView& a) {
      std::map<uint32_t, int64_t> totals;
      for (const BalanceRecord& b : model.balances(a.id)) totals[b.asset.value] = b.available.value + b.locked.value;
      for (const HoldingCost& h : model.holding_costs(a.id)) {
        Int128 held = 0;
        for (const CostLine& l : h.lines) {
          ASSERT_GE(l.qty, 0);
          if (l.qty == 0) {
            ASSERT_EQ(l.cost, 0) << "seq " << c.header.seq;
          }
          ASSERT_GE(l.cost, 0);
          held += l.qty;
          if (l.realized != 0) ++sales_realized;
        }
        ASSERT_LE(held, std::max<int64_t>(totals[h.asset.value], 0)) << "seq " << c.header.seq << " account "
                                                                     << a.id.value << " asset " << h.asset.value;
      }
    });
  };
  for (const Command& c : gen.setup()) apply(c);
  for (int i = 0; i < 6'000; ++i) apply(gen.next());
  EXPECT_GT(sales_realized, 1'000u);
  std::size_t multi_quote = 0;
  for (AccountId a : model.account_ids()) {
    for (const HoldingCost& h : model.holding_costs(a)) multi_quote += h.lines.size() > 1;
  }
  EXPECT_GT(multi_quote, 0u);
}

}  // namespace
}  // namespace bourse::accounts

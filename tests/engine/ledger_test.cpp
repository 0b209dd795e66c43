// Holds, settlement, fees and their rounding, deposits and withdrawals, and
// exact notionals on an instrument whose D (docs/engine.md) is not 1.
#include "engine/engine_test_util.h"

namespace bourse::testing {
namespace {

using S = Side;

TEST(Ledger, LimitBuyHoldsNotionalPlusTheLargerFee) {
  Market m;
  const uint64_t id = accepted_id(m.place({.account = 1, .side = S::kBuy, .price = 10'000, .qty = 10}));
  // 10 × 100.00 = 1,000.00; + 0.2% (max of maker 0.1%, taker 0.2%) = 2.00.
  EXPECT_EQ(m.order(id).hold, Amount{100'200});
  EXPECT_EQ(m.bal(1, kUsd).locked, Amount{100'200});
  EXPECT_EQ(m.bal(1, kUsd).available, Amount{kUsdFunds - 100'200});
  m.cancel(1, id);
  EXPECT_EQ(m.bal(1, kUsd).locked, Amount{0});
  EXPECT_EQ(m.bal(1, kUsd).available, Amount{kUsdFunds});
}

TEST(Ledger, SettlementMovesExactAmountsAndFeesGoToTheFeeAccount) {
  Market m;
  m.place({.account = 1, .side = S::kSell, .price = 9'950, .qty = 10});                       // maker
  const auto ev = m.place({.account = 2, .side = S::kBuy, .price = 10'000, .qty = 10});      // taker
  const Event* t = first(ev, EventType::kTrade);
  ASSERT_NE(t, nullptr);
  // Notional 10 × 99.50 = 995.00 = 99,500 cents; taker fee 0.2% = 199; maker 0.1% = 99.5 -> 99 (floor).
  EXPECT_EQ(t->trade.notional, Amount{99'500});
  EXPECT_EQ(t->trade.aggressor.fee, Amount{199});
  EXPECT_EQ(t->trade.passive.fee, Amount{99});
  EXPECT_EQ(m.bal(2, kUsd).available, Amount{kUsdFunds - 99'500 - 199});
  EXPECT_EQ(m.bal(2, kUsd).locked, Amount{0});  // price improvement released
  EXPECT_EQ(m.bal(2, kXyz).available, Amount{kXyzFunds + 10});
  EXPECT_EQ(m.bal(1, kUsd).available, Amount{kUsdFunds + 99'500 - 99});
  EXPECT_EQ(m.bal(1, kXyz).available, Amount{kXyzFunds - 10});
  EXPECT_EQ(m.bal(1, kXyz).locked, Amount{0});
  EXPECT_EQ(m.bal(0, kUsd).available, Amount{199 + 99});
}

TEST(Ledger, FeesRoundDownPerFillAndTheHoldAlwaysCovers) {
  Market m;
  // 1 × 0.01 notional: fees floor to 0.
  for (int i = 0; i < 3; ++i) m.place({.account = 1, .side = S::kSell, .price = 9'001, .qty = 1});
  const uint64_t buy = accepted_id(m.place({.account = 2, .side = S::kBuy, .price = 9'001, .qty = 7}));
  EXPECT_EQ(m.order(buy).leaves().value, 4);
  // Hold H(90.01, 4) = 36,004 + floor(36,004 × 0.002) = 36,004 + 72.
  EXPECT_EQ(m.order(buy).hold, Amount{36'076});
  EXPECT_EQ(m.bal(2, kUsd).locked, Amount{36'076});
  // Three fills of 9,001 each: taker fee floor(18.002) = 18 each.
  EXPECT_EQ(m.bal(0, kUsd).available, Amount{3 * 18 + 3 * 9});
}

TEST(Ledger, MarketBuyHoldsAtTheBandHigh) {
  Market m;
  m.place({.account = 1, .side = S::kSell, .price = 10'000, .qty = 1});
  const auto ev = m.place({.account = 2, .side = S::kBuy, .qty = 3, .type = OrderType::kMarket, .tif = TimeInForce::kIoc});
  // Band high 110.00: hold 3 × 110.00 + 0.2% = 33,000 + 66.
  EXPECT_EQ(first(ev, EventType::kOrderAccepted)->accepted.hold, Amount{33'066});
  EXPECT_EQ(m.bal(2, kUsd).locked, Amount{0});
  EXPECT_EQ(m.bal(2, kUsd).available, Amount{kUsdFunds - 10'000 - 20});
}

TEST(Ledger, DepositsAndWithdrawals) {
  Market m;
  auto ev = m.run(Command::withdraw({Amount{kUsdFunds + 1}, AccountId{1}, kUsd}));
  EXPECT_EQ(rejected(ev), RejectReason::kInsufficientFunds);
  ev = m.run(Command::withdraw({Amount{1}, AccountId{1}, kUsd}));
  ASSERT_NE(first(ev, EventType::kTransferCompleted), nullptr);
  EXPECT_EQ(first(ev, EventType::kBalanceChanged)->balance.available, Amount{kUsdFunds - 1});
  EXPECT_EQ(rejected(m.run(Command::deposit({Amount{0}, AccountId{1}, kUsd}))), RejectReason::kInvalidAmount);
  EXPECT_EQ(rejected(m.run(Command::deposit({Amount{5}, AccountId{1}, AssetId{7}}))), RejectReason::kUnknownAsset);
  EXPECT_EQ(rejected(m.run(Command::deposit({Amount{5}, AccountId{9}, kUsd}))), RejectReason::kUnknownAccount);
  // Locked funds cannot be withdrawn.
  m.place({.account = 3, .side = S::kBuy, .price = 10'000, .qty = 1'000});
  EXPECT_EQ(rejected(m.run(Command::withdraw({Amount{kUsdFunds}, AccountId{3}, kUsd}))), RejectReason::kInsufficientFunds);
}

TEST(Ledger, SupplyNeverOverflows) {
  Market m;
  const int64_t room = INT64_MAX - 4 * kUsdFunds;
  ASSERT_NE(first(m.run(Command::deposit({Amount{room}, AccountId{1}, kUsd})), EventType::kTransferCompleted), nullptr);
  EXPECT_EQ(rejected(m.run(Command::deposit({Amount{1}, AccountId{2}, kUsd}))), RejectReason::kOverflow);
  // A notional that does not fit in int64 is refused, not wrapped.
  InstrumentSpec big = xyz_usd_spec();
  big.id = InstrumentId{2};
  big.symbol = Symbol::from("BIG-USD");
  big.max_qty = Qty{INT64_MAX / 2};
  m.run(Command::add_instrument(big));
  EXPECT_EQ(rejected(m.place({.account = 1, .side = S::kSell, .price = 10'000, .qty = int64_t{1} << 60, .instrument = 2})),
            RejectReason::kOverflow);
}

TEST(Ledger, ABidLevelNeverOverflows) {
  // Bids are bounded by the quote supply, not the base: at one tick, 9e18
  // units of a fine-grained base cost little. The level total must not wrap.
  Market m;
  InstrumentSpec big = xyz_usd_spec();
  big.id = InstrumentId{2};
  big.symbol = Symbol::from("BIG-USD");
  big.max_qty = Qty{INT64_MAX / 2};
  big.band_bps = 10'000;
  big.maker_fee_ppm = big.taker_fee_ppm = 0;
  m.run(Command::add_instrument(big));
  m.run(Command::deposit({Amount{INT64_MAX - 4 * kUsdFunds}, AccountId{1}, kUsd}));
  const int64_t q = 4'000'000'000'000'000'000;
  EXPECT_NE(accepted_id(m.place({.account = 1, .price = 1, .qty = q, .instrument = 2})), 0u);
  EXPECT_NE(accepted_id(m.place({.account = 1, .price = 1, .qty = q, .instrument = 2})), 0u);
  EXPECT_EQ(rejected(m.place({.account = 1, .price = 1, .qty = q, .instrument = 2})), RejectReason::kOverflow);
  EXPECT_EQ(m.engine.depth(InstrumentId{2}, S::kBuy, 1)[0].qty, Qty{2 * q});
  // FOK sums past INT64_MAX do not wrap either.
  const auto ev = m.place({.account = 2, .side = S::kSell, .price = 1, .qty = 5, .tif = TimeInForce::kFok, .instrument = 2});
  EXPECT_EQ(of_type(ev, EventType::kTrade).size(), 1u);
}

TEST(Ledger, ExactNotionalWithScaledAssets) {
  // BTC scale 8, USD scale 6, price_scale 2: D = 10^4; tick 0.01 × lot 0.0001 BTC divides D.
  Market m(EngineConfig{16, 8, 8, 1024, 100}, false);
  m.run(Command::add_asset({AssetCode::from("USD"), AssetId{1}, 6}));
  m.run(Command::add_asset({AssetCode::from("BTC"), AssetId{2}, 8}));
  InstrumentSpec s;
  s.symbol = Symbol::from("BTC-USD");
  s.id = InstrumentId{1};
  s.base = AssetId{2};
  s.quote = AssetId{1};
  s.price_scale = 2;
  s.tick_size = Price{1};
  s.lot_size = Qty{10'000};
  s.min_qty = Qty{10'000};
  s.max_qty = Qty{100'000'000'000};
  s.reference_price = Price{6'543'210};  // 65,432.10
  s.band_bps = 500;
  s.maker_fee_ppm = 0;
  s.taker_fee_ppm = 1'000;
  // A lot that breaks the D rule is refused.
  InstrumentSpec bad = s;
  bad.lot_size = Qty{1};
  bad.min_qty = Qty{1};
  EXPECT_EQ(rejected(m.run(Command::add_instrument(bad))), RejectReason::kInvalidInstrument);
  ASSERT_NE(first(m.run(Command::add_instrument(s)), EventType::kInstrumentAdded), nullptr);
  for (uint32_t a = 1; a <= 2; ++a) {
    m.run(Command::configure_account({AccountId{a}, 0, StpMode::kCancelNewest, {}}));
    m.run(Command::deposit({Amount{1'000'000'000'000}, AccountId{a}, AssetId{1}}));
    m.run(Command::deposit({Amount{1'000'000'000}, AccountId{a}, AssetId{2}}));
  }
  m.place({.account = 1, .side = S::kSell, .price = 6'543'210, .qty = 1'230'000});  // 0.0123 BTC
  const auto ev = m.place({.account = 2, .side = S::kBuy, .price = 6'543'210, .qty = 1'230'000});
  const Event* t = first(ev, EventType::kTrade);
  ASSERT_NE(t, nullptr);
  // 65,432.10 × 0.0123 = 804.81483 USD = 804,814,830 micro-USD, exactly.
  EXPECT_EQ(t->trade.notional, Amount{804'814'830});
  EXPECT_EQ(t->trade.aggressor.fee, Amount{804'814});  // 0.1%, floor
  EXPECT_EQ(m.bal(2, AssetId{1}).available, Amount{1'000'000'000'000 - 804'814'830 - 804'814});
}

}  // namespace
}  // namespace bourse::testing

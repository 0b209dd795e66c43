// ExternalTrade: ticks of an instrument traded elsewhere. The engine checks
// them like any price and quantity, gives them venue trade ids, keeps the
// last price (a reference for risk), refuses orders on such instruments,
// and a snapshot keeps the instrument external.
#include "engine/engine_test_util.h"

namespace bourse::testing {
namespace {

InstrumentSpec external_spec() {
  InstrumentSpec s = xyz_usd_spec();
  s.id = InstrumentId{2};
  s.symbol = Symbol::from("XYZ-EXT");
  s.external = 1;
  return s;
}

Command tick(uint32_t instrument, int64_t price, int64_t qty, Timestamp time, Side side = Side::kBuy) {
  ExternalTrade t{};
  t.instrument = InstrumentId{instrument};
  t.price = Price{price};
  t.qty = Qty{qty};
  t.time = time;
  t.aggressor_side = side;
  return Command::external_trade(t);
}

TEST(ExternalTrade, AppliesToExternalInstrumentsOnlyWithVenueTradeIds) {
  Market m;
  ASSERT_EQ(rejected(m.run(Command::add_instrument(external_spec()))), RejectReason::kNone);
  // A venue trade first, so the external one must take the next id.
  ASSERT_NE(accepted_id(m.place({.account = 1, .side = Side::kSell, .price = 10'000, .qty = 5})), 0u);
  ASSERT_EQ(of_type(m.place({.account = 2, .side = Side::kBuy, .price = 10'000, .qty = 5}), EventType::kTrade).size(), 1u);

  const auto events = m.run(tick(2, 10'050, 7, 1'796'221'800'125'000'000, Side::kSell));
  const Event* e = first(events, EventType::kExternalTradeApplied);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->external_trade.trade_id, TradeId{2});
  EXPECT_EQ(e->external_trade.price, Price{10'050});
  EXPECT_EQ(e->external_trade.qty, Qty{7});
  EXPECT_EQ(e->external_trade.notional, Amount{70'350});
  EXPECT_EQ(e->external_trade.time, 1'796'221'800'125'000'000);
  EXPECT_EQ(e->external_trade.aggressor_side, Side::kSell);
  EXPECT_EQ(m.engine.instrument(InstrumentId{2})->last_price, Price{10'050});
  // No balances move.
  EXPECT_TRUE(of_type(events, EventType::kBalanceChanged).empty());

  EXPECT_EQ(rejected(m.run(tick(1, 10'000, 1, 1))), RejectReason::kNotExternal);
  EXPECT_EQ(rejected(m.run(tick(9, 10'000, 1, 1))), RejectReason::kUnknownInstrument);
  EXPECT_EQ(rejected(m.run(tick(2, 10'000, 1, 0))), RejectReason::kInvalidExternalTrade);
  ExternalTrade bad_side{};
  bad_side.instrument = InstrumentId{2};
  bad_side.price = Price{10'000};
  bad_side.qty = Qty{1};
  bad_side.time = 1;
  bad_side.aggressor_side = static_cast<Side>(7);
  EXPECT_EQ(rejected(m.run(Command::external_trade(bad_side))), RejectReason::kInvalidExternalTrade);
  EXPECT_EQ(rejected(m.run(tick(2, 0, 1, 1))), RejectReason::kInvalidPrice);
  EXPECT_EQ(rejected(m.run(tick(2, -5, 1, 1))), RejectReason::kInvalidPrice);
  EXPECT_EQ(rejected(m.run(tick(2, 10'000, 0, 1))), RejectReason::kInvalidLot);
  EXPECT_EQ(rejected(m.run(tick(2, INT64_MAX, INT64_MAX, 1))), RejectReason::kOverflow);
  // Orders never rest on an external instrument.
  EXPECT_EQ(rejected(m.place({.account = 1, .side = Side::kBuy, .price = 10'000, .qty = 1, .instrument = 2})),
            RejectReason::kInstrumentExternal);
}

TEST(ExternalTrade, SnapshotKeepsTheInstrumentExternalAndItsLastPrice) {
  Market m;
  m.run(Command::add_instrument(external_spec()));
  m.run(tick(2, 10'100, 3, 5));
  std::vector<unsigned char> bytes;
  m.engine.serialize(&bytes);
  Market r({256, 8, 8, 1u << 16, 1000}, false);
  ASSERT_TRUE(r.engine.restore(bytes));
  EXPECT_EQ(r.engine.state_hash(), m.engine.state_hash());
  ASSERT_NE(r.engine.instrument(InstrumentId{2}), nullptr);
  EXPECT_EQ(r.engine.instrument(InstrumentId{2})->spec.external, 1);
  EXPECT_EQ(r.engine.instrument(InstrumentId{2})->last_price, Price{10'100});
  EXPECT_EQ(rejected(r.place({.account = 1, .side = Side::kBuy, .price = 10'000, .qty = 1, .instrument = 2})),
            RejectReason::kInstrumentExternal);
  // Tick and lot as for any price and quantity.
  InstrumentSpec coarse = external_spec();
  coarse.id = InstrumentId{4};
  coarse.symbol = Symbol::from("COARSE");
  coarse.tick_size = Price{5};
  coarse.lot_size = Qty{2};
  coarse.min_qty = Qty{2};
  coarse.reference_price = Price{10'000};
  ASSERT_EQ(rejected(r.run(Command::add_instrument(coarse))), RejectReason::kNone);
  EXPECT_EQ(rejected(r.run(tick(4, 10'003, 2, 9))), RejectReason::kInvalidTick);
  EXPECT_EQ(rejected(r.run(tick(4, 10'005, 3, 9))), RejectReason::kInvalidLot);
  EXPECT_NE(first(r.run(tick(4, 10'005, 4, 9)), EventType::kExternalTradeApplied), nullptr);
  InstrumentSpec odd = external_spec();
  odd.id = InstrumentId{3};
  odd.symbol = Symbol::from("ODD");
  odd.external = 2;
  EXPECT_EQ(rejected(r.run(Command::add_instrument(odd))), RejectReason::kInvalidInstrument);
}

}  // namespace
}  // namespace bourse::testing

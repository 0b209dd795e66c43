// MARGIN product: position arithmetic, the pre-trade margin check, mark
// sources, settlement against the margin pool, snapshots, and a randomized
// property test of the identities that must hold after every command.
#include <functional>
#include <map>
#include <memory>
#include <random>

#include "bourse/engine/position.h"
#include "engine/engine_test_util.h"
#include "engine/event_format.h"
#include "engine/invariants.h"

namespace bourse::testing {
namespace {

using position::Position;

constexpr uint32_t kTrader = 5;  // a tier-1 margin account
constexpr uint32_t kTrader2 = 6;
constexpr int64_t kCollateral = 1'000'000;  // 10,000.00 USD

SetMarginParams params(uint32_t initial_ppm, uint32_t maintenance_ppm, MarkSource mark = MarkSource::kLast,
                       uint32_t reference = 0) {
  SetMarginParams m{};
  m.instrument = kXyzUsd;
  m.mark_source = mark;
  m.mark_reference = InstrumentId{reference};
  m.initial_ppm[0] = initial_ppm;
  m.maintenance_ppm[0] = maintenance_ppm;
  return m;
}

void add_margin_account(Market& m, uint32_t account, uint8_t tier, int64_t usd) {
  ConfigureAccount c{};
  c.account = AccountId{account};
  c.default_stp = StpMode::kCancelNewest;
  c.margin_tier = tier;
  ASSERT_EQ(rejected(m.run(Command::configure_account(c))), RejectReason::kNone);
  if (usd > 0) {
    ASSERT_EQ(rejected(m.run(Command::deposit({Amount{usd}, AccountId{account}, kUsd}))), RejectReason::kNone);
  }
}

// A market where XYZ-USD trades on margin at 10% initial, 5% maintenance.
void setup_margin(Market& m) {
  ASSERT_EQ(rejected(m.run(Command::set_margin_params(params(100'000, 50'000)))), RejectReason::kNone);
  add_margin_account(m, kTrader, 1, kCollateral);
  add_margin_account(m, kTrader2, 1, kCollateral);
}

std::optional<PositionView> position_of(const Engine& e, uint32_t account, uint32_t instrument = 1) {
  std::optional<PositionView> out;
  e.for_each_position([&](const PositionView& p) {
    if (p.account.value == account && p.instrument.value == instrument) out = p;
  });
  return out;
}

// A second instrument with D = 1,000: ABC (3 decimals) in USD cents, tick
// 0.01 USD, lot 1.000 ABC.
constexpr AssetId kAbc{3};
constexpr InstrumentId kAbcUsd{2};
void add_abc(Market& m, uint32_t initial_ppm, uint32_t maintenance_ppm) {
  ASSERT_EQ(rejected(m.run(Command::add_asset({AssetCode::from("ABC"), kAbc, 3}))), RejectReason::kNone);
  InstrumentSpec s = xyz_usd_spec();
  s.symbol = Symbol::from("ABC-USD");
  s.id = kAbcUsd;
  s.base = kAbc;
  s.lot_size = Qty{1'000};
  s.min_qty = Qty{1'000};
  s.max_qty = Qty{1'000'000'000};
  s.reference_price = Price{5'000};
  ASSERT_EQ(rejected(m.run(Command::add_instrument(s))), RejectReason::kNone);
  SetMarginParams p = params(initial_ppm, maintenance_ppm);
  p.instrument = kAbcUsd;
  ASSERT_EQ(rejected(m.run(Command::set_margin_params(p))), RejectReason::kNone);
  for (uint32_t a = 1; a <= 4; ++a) {
    ASSERT_EQ(rejected(m.run(Command::deposit({Amount{1'000'000'000}, AccountId{a}, kAbc}))), RejectReason::kNone);
  }
}

// The engine's own exact relations between positions, reserves and the
// pool (docs/engine.md, "Margin").
std::string margin_invariants(const Engine& e) {
  std::map<uint32_t, Int128> pool;                    // by asset
  std::map<uint64_t, Int128> buy_reserve, sell_reserve;  // by (account << 32 | instrument)
  std::string out;
  e.for_each_position([&](const PositionView& p) {
    const InstrumentView* in = e.instrument(p.instrument);
    pool[in->spec.base.value] += p.qty;
    pool[in->spec.quote.value] -= p.cost;
    const uint64_t key = (uint64_t{p.account.value} << 32) | p.instrument.value;
    buy_reserve[key] += p.buy_reserve;
    sell_reserve[key] += p.sell_reserve;
  });
  e.for_each_asset([&](const AssetSpec& a) {
    if (pool[a.id.value] != e.margin_pool(a.id).value) out += " pool of asset " + std::to_string(a.id.value);
  });
  e.for_each_order([&](const OrderView& o) {
    if (o.product != Product::kMargin) return;
    const uint64_t key = (uint64_t{o.account.value} << 32) | o.instrument.value;
    const Int128 reserve = static_cast<Int128>(o.hold_price.value) * o.leaves().value /
                           e.instrument(o.instrument)->notional_divisor.value;
    if (reserve != o.hold.value) out += " order " + std::to_string(o.id.value) + " reserve";
    (o.side == Side::kBuy ? buy_reserve : sell_reserve)[key] -= o.hold.value;
  });
  for (const auto* m : {&buy_reserve, &sell_reserve}) {
    for (const auto& [key, rest] : *m) {
      if (rest != 0) out += " line " + std::to_string(key >> 32) + "/" + std::to_string(key & 0xffffffff) + " reserves";
    }
  }
  return out;
}

std::map<uint32_t, int64_t> supply_of(const Engine& e) {
  std::map<uint32_t, int64_t> supply;
  e.for_each_asset([&](const AssetSpec& a) {
    Int128 total = e.margin_pool(a.id).value;
    e.for_each_account([&](const AccountView& v) {
      total += e.balance(v.id, a.id).available.value + e.balance(v.id, a.id).locked.value;
    });
    total += e.balance(kFeeAccount, a.id).available.value;
    supply[a.id.value] = static_cast<int64_t>(total);
  });
  return supply;
}

TEST(Position, LongShortFlipAndFullCloseAreExact) {
  Position p;
  // Buy 3 @ 100 (divisor 1): cost 300.
  EXPECT_EQ(position::apply_fill(p, Side::kBuy, 3, Price{100}, 1), 0);
  EXPECT_EQ(p.qty, 3);
  EXPECT_EQ(p.cost, 300);
  // Sell 1 @ 130: releases 100, realizes 30.
  EXPECT_EQ(position::apply_fill(p, Side::kSell, 1, Price{130}, 1), 30);
  EXPECT_EQ(p.cost, 200);
  // Sell 5 @ 90: closes 2 (releases 200, realizes −20), opens a short of 3 at 90.
  EXPECT_EQ(position::apply_fill(p, Side::kSell, 5, Price{90}, 1), -20);
  EXPECT_EQ(p.qty, -3);
  EXPECT_EQ(p.cost, -270);
  EXPECT_EQ(p.realized, 10);
  // Buy back 3 @ 80: a short gains 30.
  EXPECT_EQ(position::apply_fill(p, Side::kBuy, 3, Price{80}, 1), 30);
  EXPECT_EQ(p.qty, 0);
  EXPECT_EQ(p.cost, 0);
  EXPECT_EQ(p.realized, 40);
  // Flat: Σ sells − Σ buys = 130 + 450 − 300 − 240.
  EXPECT_EQ(p.realized, 130 + 450 - 300 - 240);
}

TEST(Position, ProportionalReleaseKeepsTheRemainderExact) {
  Position p;
  position::apply_fill(p, Side::kBuy, 3, Price{101}, 1);  // cost 303... then 1/3 of it
  position::apply_fill(p, Side::kBuy, 4, Price{100}, 1);  // cost 703 for 7
  const Int128 r1 = position::apply_fill(p, Side::kSell, 2, Price{100}, 1);  // releases floor(703×2/7) = 200
  EXPECT_EQ(r1, 0);
  EXPECT_EQ(p.cost, 503);
  const Int128 r2 = position::apply_fill(p, Side::kSell, 5, Price{100}, 1);  // the rest: 503
  EXPECT_EQ(r2, 500 - 503);
  EXPECT_EQ(p.cost, 0);
  EXPECT_EQ(p.realized, 1400 - 1403);
}

TEST(Position, ExtremeValuesStayExact) {
  Position p;
  // INT64_MAX-sized quantities at large prices: 128-bit products, no wrap.
  position::apply_fill(p, Side::kSell, INT64_MAX / 2, Price{INT64_MAX / 4}, 1);
  position::apply_fill(p, Side::kSell, INT64_MAX / 2, Price{INT64_MAX / 4}, 1);
  EXPECT_EQ(p.qty, INT64_MAX / 2 * -2);
  const Int128 entry = static_cast<Int128>(INT64_MAX / 2) * (INT64_MAX / 4) * 2;
  EXPECT_EQ(p.cost, -entry);
  const Int128 r = position::apply_fill(p, Side::kBuy, INT64_MAX / 2 * 2, Price{1}, 1);
  EXPECT_EQ(r, entry - INT64_MAX / 2 * 2);
  EXPECT_EQ(p.qty, 0);
  EXPECT_EQ(position::ppm_ceil(entry, 1'000'000), entry);
  EXPECT_EQ(position::ppm_ceil(1, 1), 1);
  EXPECT_EQ(position::ppm_floor(999'999, 1), 0);
  EXPECT_EQ(position::value(-3, Price{5}, 2), -8);  // floored: a short never looks cheaper
}

TEST(Margin, ParamsAreValidatedAndEchoed) {
  Market m;
  EXPECT_EQ(rejected(m.run(Command::set_margin_params(params(0, 1)))), RejectReason::kInvalidMarginParams);
  EXPECT_EQ(rejected(m.run(Command::set_margin_params(params(50'000, 60'000)))), RejectReason::kInvalidMarginParams);
  EXPECT_EQ(rejected(m.run(Command::set_margin_params(params(1'000'001, 1)))), RejectReason::kInvalidMarginParams);
  EXPECT_EQ(rejected(m.run(Command::set_margin_params(params(100'000, 0)))), RejectReason::kInvalidMarginParams);
  EXPECT_EQ(rejected(m.run(Command::set_margin_params(params(100'000, 50'000, static_cast<MarkSource>(9))))),
            RejectReason::kInvalidMarginParams);
  // A reference must be another, external instrument of the same pair and scale.
  EXPECT_EQ(rejected(m.run(Command::set_margin_params(params(100'000, 50'000, MarkSource::kReference, 1)))),
            RejectReason::kInvalidMarginParams);
  EXPECT_EQ(rejected(m.run(Command::set_margin_params(params(100'000, 50'000, MarkSource::kLast, 1)))),
            RejectReason::kInvalidMarginParams);
  SetMarginParams unknown = params(100'000, 50'000);
  unknown.instrument = InstrumentId{7};
  EXPECT_EQ(rejected(m.run(Command::set_margin_params(unknown))), RejectReason::kUnknownInstrument);
  const auto ok = m.run(Command::set_margin_params(params(100'000, 50'000, MarkSource::kMid)));
  const Event* e = first(ok, EventType::kMarginParamsSet);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->margin_params.initial_ppm[0], 100'000u);
  EXPECT_EQ(e->margin_params.mark_source, MarkSource::kMid);
  EXPECT_EQ(m.engine.instrument(kXyzUsd)->margin.maintenance_ppm[0], 50'000u);
  ConfigureAccount bad{};
  bad.account = AccountId{9};
  bad.default_stp = StpMode::kCancelNewest;
  bad.margin_tier = kMarginTiers + 1;
  EXPECT_EQ(rejected(m.run(Command::configure_account(bad))), RejectReason::kInvalidCommand);
}

TEST(Margin, CashOnlyAccountsAndUnratedTiersCannotTradeOnMargin) {
  Market m;
  setup_margin(m);
  EXPECT_EQ(rejected(m.place({.account = 1, .price = 10'000, .qty = 1, .product = Product::kMargin})),
            RejectReason::kMarginNotAllowed);
  add_margin_account(m, 7, 2, kCollateral);  // tier 2 has no rate on XYZ-USD
  EXPECT_EQ(rejected(m.place({.account = 7, .price = 10'000, .qty = 1, .product = Product::kMargin})),
            RejectReason::kMarginNotAllowed);
  PlaceOrder bad = to_place_order({.account = kTrader, .price = 10'000, .qty = 1});
  bad.product = static_cast<Product>(2);
  EXPECT_EQ(rejected(m.run(Command::place_order(bad))), RejectReason::kInvalidOrder);
}

TEST(Margin, LongSettlesAgainstThePoolAndRealizesExactly) {
  Market m;
  setup_margin(m);
  // Account 1 (cash) sells 10 XYZ @ 100.00 to the margin trader.
  ASSERT_NE(accepted_id(m.place({.account = 1, .side = Side::kSell, .price = 10'000, .qty = 10})), 0u);
  const auto buy = m.place({.account = kTrader, .price = 10'000, .qty = 10, .product = Product::kMargin});
  ASSERT_EQ(of_type(buy, EventType::kTrade).size(), 1u);
  EXPECT_EQ(first(buy, EventType::kOrderAccepted)->accepted.product, Product::kMargin);
  const Event* pc = first(buy, EventType::kPositionChanged);
  ASSERT_NE(pc, nullptr);
  EXPECT_EQ(pc->position.qty, Qty{10});
  EXPECT_EQ(pc->position.cost.get(), 100'000);
  EXPECT_EQ(pc->position.fees.get(), 200);  // taker 0.2%
  // The trader's XYZ never moves: the pool took the 10 XYZ and paid 1,000.00.
  EXPECT_EQ(m.bal(kTrader, kXyz).available.value, 0);
  EXPECT_EQ(m.engine.margin_pool(kXyz).value, 10);
  EXPECT_EQ(m.engine.margin_pool(kUsd).value, -100'000);
  EXPECT_EQ(m.bal(kTrader, kUsd).available.value, kCollateral - 200);
  // Equity = available + N(mark, qty) − cost; mark = last = 100.00.
  MarginView v = m.engine.margin(AccountId{kTrader}, kUsd);
  EXPECT_EQ(v.equity, kCollateral - 200);
  EXPECT_EQ(v.initial, 10'000);      // 10% of 1,000.00
  EXPECT_EQ(v.maintenance, 5'000);
  EXPECT_EQ(check_invariants(m.engine, supply_of(m.engine)), "");

  // The price moves to 110.00 on a cash trade: unrealized +100.00.
  m.place({.account = 2, .side = Side::kSell, .price = 11'000, .qty = 1});
  m.place({.account = 3, .price = 11'000, .qty = 1});
  EXPECT_EQ(m.engine.mark_price(kXyzUsd), Price{11'000});
  v = m.engine.margin(AccountId{kTrader}, kUsd);
  EXPECT_EQ(v.equity, kCollateral - 200 + 10'000);
  EXPECT_EQ(v.initial, 11'000);

  // Close at 110.00 to a cash buyer: realized 100.00 comes from the pool.
  m.place({.account = 4, .price = 11'000, .qty = 10});
  const auto sell = m.place({.account = kTrader, .side = Side::kSell, .price = 11'000, .qty = 10,
                             .product = Product::kMargin});
  pc = first(sell, EventType::kPositionChanged);
  ASSERT_NE(pc, nullptr);
  EXPECT_EQ(pc->position.qty, Qty{0});
  EXPECT_EQ(pc->position.cost.get(), 0);
  EXPECT_EQ(pc->position.realized.get(), 10'000);
  EXPECT_EQ(pc->position.fees.get(), 200 + 220);
  EXPECT_EQ(m.bal(kTrader, kUsd).available.value, kCollateral - 200 + 10'000 - 220);
  EXPECT_EQ(m.engine.margin_pool(kXyz).value, 0);
  EXPECT_EQ(m.engine.margin_pool(kUsd).value, -100'000 + 110'000 - 10'000);
  EXPECT_EQ(m.engine.margin(AccountId{kTrader}, kUsd).initial, 0);
  EXPECT_EQ(check_invariants(m.engine, supply_of(m.engine)), "");
}

TEST(Margin, InitialMarginBoundsLeverageAndReducingOrdersAreAlwaysAllowed) {
  Market m;
  setup_margin(m);
  // 10,000.00 collateral at 10% initial buys at most ~100,000.00 of XYZ,
  // less the fee reserve: 990 @ 100.00 needs 9,900.00 + 0.2% × 99,000.00.
  EXPECT_EQ(rejected(m.place({.account = kTrader, .price = 10'000, .qty = 1'000, .product = Product::kMargin})),
            RejectReason::kInsufficientMargin);
  const uint64_t bid = accepted_id(m.place({.account = kTrader, .price = 10'000, .qty = 980, .product = Product::kMargin}));
  ASSERT_NE(bid, 0u);
  MarginView v = m.engine.margin(AccountId{kTrader}, kUsd);
  EXPECT_EQ(v.initial, 980'000 + 19'600);
  EXPECT_GE(v.free(), 0);
  // Nothing else that adds risk fits now, on either side.
  EXPECT_EQ(rejected(m.place({.account = kTrader, .price = 10'000, .qty = 10, .product = Product::kMargin})),
            RejectReason::kInsufficientMargin);
  // A sell adds to its own side, not to the worst case (the larger side),
  // so it costs only its fee reserve: 19 @ 101.00 fits in what is left.
  EXPECT_NE(accepted_id(m.place({.account = kTrader, .side = Side::kSell, .price = 10'100, .qty = 19,
                                 .product = Product::kMargin})),
            0u);
  EXPECT_EQ(m.engine.margin(AccountId{kTrader}, kUsd).free(), 17);
  // Cash that backs margin cannot be withdrawn or locked by a CASH order.
  EXPECT_EQ(rejected(m.run(Command::withdraw({Amount{50'000}, AccountId{kTrader}, kUsd}))),
            RejectReason::kInsufficientMargin);
  EXPECT_EQ(rejected(m.place({.account = kTrader, .price = 10'000, .qty = 5})), RejectReason::kInsufficientMargin);
  // An amend down frees margin; an amend up is checked.
  EXPECT_EQ(rejected(m.amend(kTrader, bid, 0, 990)), RejectReason::kInsufficientMargin);
  EXPECT_EQ(rejected(m.amend(kTrader, bid, 0, 100)), RejectReason::kNone);
  // max(1,000,000 buys, 191,900 sells) × 10% + 0.2% × 1,191,900.
  EXPECT_EQ(m.engine.margin(AccountId{kTrader}, kUsd).initial, 100'000 + 2'383);
  EXPECT_EQ(check_invariants(m.engine, supply_of(m.engine)), "");
}

TEST(Margin, ShortUnderWaterCanStillBuyBackAndOwesThePoolIfItGaps) {
  Market m;
  setup_margin(m);
  // The trader shorts 900 @ 100.00 to a cash buyer.
  m.place({.account = 1, .price = 10'000, .qty = 900});
  ASSERT_EQ(of_type(m.place({.account = kTrader, .side = Side::kSell, .price = 10'000, .qty = 900,
                             .product = Product::kMargin}),
                    EventType::kTrade)
                .size(),
            1u);
  auto p = position_of(m.engine, kTrader);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->qty, -900);
  EXPECT_EQ(p->cost, -9'000'000);
  EXPECT_EQ(m.engine.margin_pool(kXyz).value, -900);  // the pool delivered XYZ it does not have
  // The price gaps up 10% (the band's edge) three times: the short loses 27,000+.
  for (int64_t px : {11'000, 12'100, 13'310}) {
    m.place({.account = 2, .side = Side::kSell, .price = px, .qty = 1});
    m.place({.account = 3, .price = px, .qty = 1});
  }
  MarginView v = m.engine.margin(AccountId{kTrader}, kUsd);
  EXPECT_EQ(v.equity, kCollateral - 18'000 + 900 * 10'000 - 900 * 13'310);
  EXPECT_LT(v.equity, v.maintenance);
  EXPECT_LT(v.free(), 0);
  // Adding risk is refused; buying back is not.
  EXPECT_EQ(rejected(m.place({.account = kTrader, .side = Side::kSell, .price = 13'310, .qty = 1,
                              .product = Product::kMargin})),
            RejectReason::kInsufficientMargin);
  m.place({.account = 4, .side = Side::kSell, .price = 13'310, .qty = 900});
  const auto cover = m.place({.account = kTrader, .price = 13'310, .qty = 900, .product = Product::kMargin});
  ASSERT_EQ(of_type(cover, EventType::kTrade).size(), 1u);
  p = position_of(m.engine, kTrader);
  EXPECT_EQ(p->qty, 0);
  EXPECT_EQ(p->realized, 900 * 10'000 - 900 * 13'310);
  // The loss exceeds the collateral: the account owes the pool.
  const int64_t expected = kCollateral - 18'000 + 900 * 10'000 - 900 * 13'310 - 900 * 13'310 * 2 / 1000;
  EXPECT_EQ(m.bal(kTrader, kUsd).available.value, expected);
  EXPECT_LT(expected, 0);
  EXPECT_EQ(rejected(m.run(Command::withdraw({Amount{1}, AccountId{kTrader}, kUsd}))), RejectReason::kInsufficientFunds);
  EXPECT_EQ(check_invariants(m.engine, supply_of(m.engine)), "");
}

TEST(Margin, MarkSourcesLastMidAndReference) {
  Market m;
  setup_margin(m);
  InstrumentSpec ext = xyz_usd_spec();
  ext.id = InstrumentId{2};
  ext.symbol = Symbol::from("XYZ-IDX");
  ext.external = 1;
  ASSERT_EQ(rejected(m.run(Command::add_instrument(ext))), RejectReason::kNone);
  EXPECT_EQ(m.engine.mark_price(kXyzUsd), Price{10'000});  // no trade yet: the spec's reference price
  m.place({.account = 1, .price = 9'900, .qty = 1});
  m.place({.account = 2, .side = Side::kSell, .price = 10'301, .qty = 1});
  ASSERT_EQ(rejected(m.run(Command::set_margin_params(params(100'000, 50'000, MarkSource::kMid)))), RejectReason::kNone);
  EXPECT_EQ(m.engine.mark_price(kXyzUsd), Price{10'100});  // floor((9,900 + 10,301) / 2)
  ASSERT_EQ(rejected(m.run(Command::set_margin_params(params(100'000, 50'000, MarkSource::kReference, 2)))),
            RejectReason::kNone);
  EXPECT_EQ(m.engine.mark_price(kXyzUsd), Price{10'000});  // the reference has no price yet
  ExternalTrade t{};
  t.instrument = InstrumentId{2};
  t.price = Price{10'250};
  t.qty = Qty{1};
  t.time = 1;
  ASSERT_EQ(rejected(m.run(Command::external_trade(t))), RejectReason::kNone);
  EXPECT_EQ(m.engine.mark_price(kXyzUsd), Price{10'250});
  // Positions are valued at the mark, not the last trade: a long of 10
  // bought at 100.00 while the reference says 102.50.
  m.place({.account = 3, .side = Side::kSell, .price = 10'000, .qty = 10});
  ASSERT_EQ(of_type(m.place({.account = kTrader, .price = 10'000, .qty = 10, .product = Product::kMargin}),
                    EventType::kTrade)
                .size(),
            1u);
  EXPECT_EQ(m.engine.instrument(kXyzUsd)->last_price, Price{10'000});
  EXPECT_EQ(m.engine.mark_price(kXyzUsd), Price{10'250});
  EXPECT_EQ(m.engine.margin(AccountId{kTrader}, kUsd).equity, kCollateral - 200 + 2'500);
}

TEST(Margin, SnapshotKeepsPositionsTermsTiersAndReserves) {
  Market m;
  setup_margin(m);
  m.place({.account = 1, .side = Side::kSell, .price = 10'000, .qty = 10});
  m.place({.account = kTrader, .price = 10'000, .qty = 10, .product = Product::kMargin});
  m.place({.account = 2, .price = 9'900, .qty = 30});
  m.place({.account = kTrader2, .side = Side::kSell, .price = 9'900, .qty = 7, .product = Product::kMargin});
  m.place({.account = kTrader2, .side = Side::kSell, .price = 10'500, .qty = 4, .product = Product::kMargin});
  std::vector<unsigned char> bytes;
  m.engine.serialize(&bytes);
  Market r(EngineConfig{256, 8, 8, 1u << 16, 1000}, false);
  ASSERT_TRUE(r.engine.restore(bytes));
  std::vector<unsigned char> again;
  r.engine.serialize(&again);
  EXPECT_EQ(bytes, again);
  EXPECT_EQ(r.engine.account(AccountId{kTrader})->margin_tier, 1);
  for (uint32_t acct : {kTrader, kTrader2}) {
    const MarginView a = m.engine.margin(AccountId{acct}, kUsd);
    const MarginView b = r.engine.margin(AccountId{acct}, kUsd);
    EXPECT_EQ(a.equity, b.equity);
    EXPECT_EQ(a.initial, b.initial);
    EXPECT_EQ(a.maintenance, b.maintenance);
  }
  EXPECT_EQ(r.engine.margin_pool(kUsd), m.engine.margin_pool(kUsd));
  EXPECT_EQ(check_invariants(r.engine, supply_of(r.engine)), "");
  // The same command gives the same events.
  const auto e1 = m.place({.account = 3, .price = 10'500, .qty = 4});
  const auto e2 = r.place({.account = 3, .price = 10'500, .qty = 4});
  ASSERT_EQ(e1.size(), e2.size());
  for (std::size_t i = 0; i < e1.size(); ++i) EXPECT_EQ(event_to_string(e1[i]), event_to_string(e2[i]));
}

TEST(Margin, HeartbeatSweepCallsAndLiquidatesThenClears) {
  Market m;
  setup_margin(m);
  // Long 900 @ 100.00: 9,000,000 cents, taker fee 18,000.
  m.place({.account = 1, .side = Side::kSell, .price = 10'000, .qty = 900});
  ASSERT_EQ(of_type(m.place({.account = kTrader, .price = 10'000, .qty = 900, .product = Product::kMargin}),
                    EventType::kTrade).size(), 1u);
  // A resting MARGIN order that the liquidation cancels.
  const uint64_t resting = accepted_id(
      m.place({.account = kTrader, .side = Side::kSell, .price = 11'000, .qty = 5, .product = Product::kMargin}));
  ASSERT_NE(resting, 0u);
  EXPECT_TRUE(of_type(m.run(Command::heartbeat()), EventType::kMarginStatusChanged).empty());
  // The price falls to 90.00: equity 982,000 − 900,000 = 82,000 < maintenance 405,000.
  m.place({.account = 2, .side = Side::kSell, .price = 9'000, .qty = 1});
  m.place({.account = 3, .price = 9'000, .qty = 1});
  m.place({.account = 4, .price = 9'000, .qty = 900});  // the bid the liquidation sells into
  const auto sweep = m.run(Command::heartbeat());
  const auto status = of_type(sweep, EventType::kMarginStatusChanged);
  ASSERT_EQ(status.size(), 2u) << "called, then cleared once flat";
  EXPECT_EQ(status[0].margin_status.in_call, 1);
  EXPECT_EQ(status[0].margin_status.account, AccountId{kTrader});
  EXPECT_EQ(status[0].margin_status.asset, kUsd);
  EXPECT_EQ(status[0].margin_status.equity.get(), 82'000);
  EXPECT_EQ(status[0].margin_status.maintenance.get(), 405'000);
  EXPECT_EQ(status[1].margin_status.in_call, 0);
  const Event* liq = first(sweep, EventType::kLiquidation);
  ASSERT_NE(liq, nullptr);
  EXPECT_EQ(liq->liquidation.qty, Qty{900});
  EXPECT_EQ(liq->liquidation.reason, LiquidationReason::kMarginCall);
  EXPECT_EQ(liq->liquidation.unrealized.get(), -900'000);
  const Event* cancelled = first(sweep, EventType::kOrderCancelled);
  ASSERT_NE(cancelled, nullptr);
  EXPECT_EQ(cancelled->cancelled.order_id.value, resting);
  EXPECT_EQ(cancelled->cancelled.reason, CancelReason::kMarginCall);
  ASSERT_EQ(of_type(sweep, EventType::kTrade).size(), 1u);
  const auto p = position_of(m.engine, kTrader);
  EXPECT_EQ(p->qty, 0);
  EXPECT_EQ(p->realized, -900'000);
  EXPECT_EQ(m.bal(kTrader, kUsd).available.value, 982'000 - 900'000 - 16'200);
  EXPECT_EQ(check_invariants(m.engine, supply_of(m.engine)), "");
  EXPECT_EQ(margin_invariants(m.engine), "");
  // Nothing changed since: the next sweep says nothing.
  EXPECT_TRUE(m.run(Command::heartbeat()).empty());
}

TEST(Margin, LiquidationWaitsForLiquidityAndClosesTheLargestLossFirst) {
  Market m;
  setup_margin(m);
  add_abc(m, 100'000, 50'000);
  // Long 900 XYZ @ 100.00 and long 20.000 ABC @ 50.00 (D = 1,000: 100,000 cents).
  m.place({.account = 1, .side = Side::kSell, .price = 10'000, .qty = 900});
  m.place({.account = kTrader, .price = 10'000, .qty = 900, .product = Product::kMargin});
  m.place({.account = 1, .side = Side::kSell, .price = 5'000, .qty = 20'000, .instrument = 2});
  m.place({.account = kTrader, .price = 5'000, .qty = 20'000, .instrument = 2, .product = Product::kMargin});
  ASSERT_EQ(position_of(m.engine, kTrader, 2)->cost, 100'000);
  // XYZ falls to 90.00 (−900,000) and ABC to 45.00 (−10,000).
  for (auto [instrument, px] : {std::pair{1u, int64_t{9'000}}, std::pair{2u, int64_t{4'500}}}) {
    m.place({.account = 2, .side = Side::kSell, .price = px, .qty = instrument == 1 ? 1 : 1'000, .instrument = instrument});
    m.place({.account = 3, .price = px, .qty = instrument == 1 ? 1 : 1'000, .instrument = instrument});
  }
  MarginView v = m.engine.margin(AccountId{kTrader}, kUsd);
  ASSERT_LT(v.equity, v.maintenance);
  // No bids: the call is made; with nothing to sell into, no closing order
  // is sent (no noise every second) and the positions stay.
  auto sweep = m.run(Command::heartbeat());
  ASSERT_EQ(of_type(sweep, EventType::kMarginStatusChanged).size(), 1u);
  EXPECT_TRUE(of_type(sweep, EventType::kLiquidation).empty());
  EXPECT_TRUE(of_type(sweep, EventType::kOrderAccepted).empty());
  EXPECT_EQ(position_of(m.engine, kTrader)->qty, 900);
  EXPECT_TRUE(m.run(Command::heartbeat()).empty());  // nothing changed: nothing re-checked
  // A bid arrives (the book changed: the instrument is re-checked); closing
  // XYZ alone restores maintenance, so ABC stays open.
  m.place({.account = 4, .price = 9'000, .qty = 900});
  sweep = m.run(Command::heartbeat());
  const auto status = of_type(sweep, EventType::kMarginStatusChanged);
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].margin_status.in_call, 0);
  ASSERT_EQ(of_type(sweep, EventType::kLiquidation).size(), 1u);
  EXPECT_EQ(position_of(m.engine, kTrader)->qty, 0);
  EXPECT_EQ(position_of(m.engine, kTrader, 2)->qty, 20'000);
  v = m.engine.margin(AccountId{kTrader}, kUsd);
  EXPECT_GE(v.equity, v.maintenance);
  EXPECT_EQ(check_invariants(m.engine, supply_of(m.engine)), "");
  EXPECT_EQ(margin_invariants(m.engine), "");
}

TEST(Margin, SquareOffClosesEveryPositionEvenOfADisabledAccount) {
  Market m;
  setup_margin(m);
  m.place({.account = 1, .price = 10'000, .qty = 50});
  m.place({.account = kTrader, .side = Side::kSell, .price = 10'000, .qty = 50, .product = Product::kMargin});
  m.place({.account = 2, .side = Side::kSell, .price = 10'000, .qty = 30});
  m.place({.account = kTrader2, .price = 10'000, .qty = 30, .product = Product::kMargin});
  const uint64_t open = accepted_id(m.place({.account = kTrader2, .price = 9'500, .qty = 10, .product = Product::kMargin}));
  ASSERT_NE(open, 0u);
  ASSERT_EQ(rejected(m.run(Command::set_account_enabled({AccountId{kTrader}, 0}))), RejectReason::kNone);
  m.place({.account = 3, .side = Side::kSell, .price = 10'100, .qty = 100});  // liquidity for the short's buy-back
  m.place({.account = 4, .price = 9'900, .qty = 100});                        // and for the long's sale
  EXPECT_EQ(rejected(m.run(Command::square_off({InstrumentId{9}, 0}))), RejectReason::kUnknownInstrument);
  const auto events = m.run(Command::square_off({InstrumentId{}, 0}));
  const auto liqs = of_type(events, EventType::kLiquidation);
  ASSERT_EQ(liqs.size(), 2u);
  EXPECT_EQ(liqs[0].liquidation.account, AccountId{kTrader});
  EXPECT_EQ(liqs[0].liquidation.qty, Qty{-50});
  EXPECT_EQ(liqs[0].liquidation.reason, LiquidationReason::kSquareOff);
  EXPECT_EQ(liqs[1].liquidation.account, AccountId{kTrader2});
  bool open_cancelled = false;
  for (const Event& e : of_type(events, EventType::kOrderCancelled)) {
    if (e.cancelled.order_id.value == open) open_cancelled = e.cancelled.reason == CancelReason::kSquareOff;
  }
  EXPECT_TRUE(open_cancelled);
  EXPECT_EQ(position_of(m.engine, kTrader)->qty, 0);
  EXPECT_EQ(position_of(m.engine, kTrader2)->qty, 0);
  EXPECT_EQ(check_invariants(m.engine, supply_of(m.engine)), "");
  EXPECT_EQ(margin_invariants(m.engine), "");
}

TEST(Margin, ReducingOrdersPassEvenWhenTheAccountWasMadeCashOnly) {
  Market m;
  setup_margin(m);
  m.place({.account = 1, .side = Side::kSell, .price = 10'000, .qty = 10});
  m.place({.account = kTrader, .price = 10'000, .qty = 10, .product = Product::kMargin});
  add_margin_account(m, kTrader, 0, 0);  // cash only now: held to 100%
  const MarginView v = m.engine.margin(AccountId{kTrader}, kUsd);
  EXPECT_EQ(v.initial, 100'000);
  EXPECT_EQ(v.maintenance, 100'000);
  EXPECT_EQ(rejected(m.place({.account = kTrader, .price = 10'000, .qty = 1, .product = Product::kMargin})),
            RejectReason::kMarginNotAllowed);
  // Selling 11 would flip it short: refused; selling 10 closes it.
  EXPECT_EQ(rejected(m.place({.account = kTrader, .side = Side::kSell, .price = 10'500, .qty = 11,
                              .product = Product::kMargin})),
            RejectReason::kMarginNotAllowed);
  EXPECT_NE(accepted_id(m.place({.account = kTrader, .side = Side::kSell, .price = 10'500, .qty = 10,
                                 .product = Product::kMargin})),
            0u);
}

TEST(Margin, ASellReservesAtLeastTheMarkSoAWideBandHidesNothing) {
  Market m;
  ASSERT_EQ(rejected(m.run(Command::set_margin_params(params(100'000, 50'000)))), RejectReason::kNone);
  add_margin_account(m, kTrader, 1, kCollateral);
  // A market sell's band_low may be far below the mark; its reserve is at the mark.
  const auto e = m.place({.account = kTrader, .side = Side::kSell, .qty = 1'000, .type = OrderType::kMarket,
                          .tif = TimeInForce::kIoc, .product = Product::kMargin});
  EXPECT_EQ(rejected(e), RejectReason::kInsufficientMargin);  // 1,000 × 100.00 × 10% > 10,000.00
  const auto limit = m.place({.account = kTrader, .side = Side::kSell, .price = 9'000, .qty = 10,
                              .product = Product::kMargin});
  ASSERT_NE(accepted_id(limit), 0u);
  EXPECT_EQ(first(limit, EventType::kOrderAccepted)->accepted.hold_price, Price{10'000});  // max(limit, mark)
}

// Random trading by cash and margin accounts. After every command: the
// ledger invariants (with the pool), and for every position
//   qty = Σ signed MARGIN fills,   cost − realized = Σ signed fill notionals,
//   fees = Σ its fills' fees,       equity = available + Σ (N(mark, qty) − cost);
// a pure-margin account's cash = deposit + Σ realized − Σ fees; and a
// snapshot taken mid-run restores to the same bytes.
TEST(Margin, RandomTradingKeepsEveryIdentity) {
  Market m;
  ASSERT_EQ(rejected(m.run(Command::set_margin_params(params(50'000, 25'000)))), RejectReason::kNone);
  const std::vector<uint32_t> margin_accounts = {5, 6, 7};
  constexpr int64_t kDeposit = 300'000;  // small: positions of up to ~60 × 100.00 get margin calls
  for (uint32_t a : margin_accounts) add_margin_account(m, a, 1, kDeposit);
  // Risk state that must survive the snapshot too: a daily loss limit (its
  // block cancels orders) and, below, dead-man's switches.
  ASSERT_EQ(rejected(m.run(Command::set_loss_limit({Amount{60'000}, AccountId{5}, kUsd}))), RejectReason::kNone);
  std::mt19937_64 rng(20261202);
  std::map<uint64_t, Product> product_of;  // order id -> product
  std::map<uint32_t, int64_t> qty, fees;
  std::map<uint32_t, Int128> flows;
  std::vector<uint64_t> live;
  std::size_t margin_trades = 0, insufficient = 0, liquidations = 0, loss_blocks = 0, dead_man_fired = 0;
  // From step 2,000 a copy restored from a snapshot runs the same commands:
  // it must emit the same events (sweeps and liquidations included).
  std::unique_ptr<Market> restored;
  auto both = [&](const std::function<std::vector<Event>(Market&)>& op) {
    std::vector<Event> ev = op(m);
    if (restored) {
      const std::vector<Event> again = op(*restored);
      EXPECT_EQ(again.size(), ev.size());
      for (std::size_t i = 0; i < std::min(ev.size(), again.size()); ++i) {
        EXPECT_EQ(event_to_string(again[i]), event_to_string(ev[i]));
      }
    }
    return ev;
  };
  for (int step = 0; step < 4'000; ++step) {
    m.advance(1'000);
    if (restored) restored->advance(1'000);
    const uint32_t account = static_cast<uint32_t>(1 + rng() % 7);
    const bool margin = account >= 5;
    bool swept = false;
    const Side side = rng() % 2 ? Side::kBuy : Side::kSell;
    const InstrumentView* in = m.engine.instrument(kXyzUsd);
    const int64_t span = in->band_high.value - in->band_low.value;
    std::vector<Event> ev;
    if (rng() % 5 == 0 && !live.empty()) {
      const uint64_t id = live[rng() % live.size()];
      if (m.live(id)) {
        const uint32_t owner = m.order(id).account.value;
        ev = both([&](Market& x) { return x.cancel(owner, id); });
      }
    } else if (rng() % 6 == 0 && !live.empty()) {
      const uint64_t id = live[rng() % live.size()];
      if (m.live(id) && !m.order(id).pending_trigger) {
        const OrderView o = m.order(id);
        const int64_t price = in->band_low.value + static_cast<int64_t>(rng() % static_cast<uint64_t>(span + 1));
        const int64_t new_qty = o.filled.value + 1 + static_cast<int64_t>(rng() % 40);
        ev = both([&](Market& x) { return x.amend(o.account.value, id, o.type == OrderType::kLimit ? price : 0, new_qty); });
      }
    } else if (rng() % 10 == 0) {
      ev = both([](Market& x) { return x.run(Command::heartbeat()); });  // the margin sweep: calls and liquidations
      swept = true;
    } else if (rng() % 50 == 0) {
      const uint32_t timeout_ms = static_cast<uint32_t>(rng() % 3);  // 0 disarms
      ev = both([&](Market& x) { return x.run(Command::cancel_after({AccountId{6}, timeout_ms})); });
      if (rng() % 2) {  // let it run out: the next command fires it
        m.advance(2'000'000);
        if (restored) restored->advance(2'000'000);
      }
    } else {
      const int64_t price = in->band_low.value + static_cast<int64_t>(rng() % static_cast<uint64_t>(span + 1));
      const bool market = rng() % 6 == 0;
      const OrderArgs args{.account = account, .side = side, .price = market ? 0 : price,
                           .qty = static_cast<int64_t>(1 + rng() % (margin ? 200 : 60)),
                           .type = market ? OrderType::kMarket : OrderType::kLimit,
                           .tif = market ? TimeInForce::kIoc : TimeInForce::kGtc,
                           .product = margin ? Product::kMargin : Product::kCash};
      ev = both([&](Market& x) { return x.place(args); });
    }
    for (const Event& e : ev) {
      if (e.type == EventType::kOrderAccepted) {
        product_of[e.accepted.order_id.value] = e.accepted.product;
        live.push_back(e.accepted.order_id.value);
      }
      if (e.type == EventType::kOrderRejected && e.rejected.reason == RejectReason::kInsufficientMargin) ++insufficient;
      if (e.type == EventType::kLiquidation) ++liquidations;
      if (e.type == EventType::kDailyLossLimitReached) ++loss_blocks;
      if (e.type == EventType::kCancelAfterSet && e.cancel_after.fired) ++dead_man_fired;
      if (e.type != EventType::kTrade) continue;
      const Trade& t = e.trade;
      for (const auto& [leg, leg_side] :
           {std::pair{t.aggressor, t.aggressor_side}, std::pair{t.passive, opposite(t.aggressor_side)}}) {
        if (product_of[leg.order_id.value] != Product::kMargin) continue;
        ++margin_trades;
        const int64_t sign = leg_side == Side::kBuy ? 1 : -1;
        qty[leg.account.value] += sign * t.qty.value;
        flows[leg.account.value] += sign * t.notional.value;
        fees[leg.account.value] += leg.fee.value;
      }
    }
    ASSERT_EQ(check_invariants(m.engine, supply_of(m.engine)), "") << "step " << step;
    ASSERT_EQ(margin_invariants(m.engine), "") << "step " << step;
    const Price mark = m.engine.mark_price(kXyzUsd);
    for (uint32_t a : margin_accounts) {
      const auto p = position_of(m.engine, a);
      const PositionView pv = p ? *p : PositionView{};
      ASSERT_EQ(pv.qty, qty[a]) << "step " << step;
      ASSERT_EQ(pv.cost - pv.realized, flows[a]) << "step " << step;
      ASSERT_EQ(pv.fees, fees[a]) << "step " << step;
      const int64_t available = m.bal(a, kUsd).available.value;
      ASSERT_EQ(available, kDeposit + pv.realized - pv.fees) << "step " << step;
      ASSERT_EQ(m.bal(a, kUsd).locked.value, 0);
      const MarginView v = m.engine.margin(AccountId{a}, kUsd);
      ASSERT_EQ(v.equity, available + position::value(pv.qty, mark, 1) - pv.cost) << "step " << step;
      // After a sweep an account is back above maintenance, or nothing on
      // the book could take its closing order (within the band).
      if (swept && v.equity < v.maintenance) {
        const auto bids = m.engine.depth(kXyzUsd, Side::kBuy, 1);
        const auto asks = m.engine.depth(kXyzUsd, Side::kSell, 1);
        const InstrumentView* now = m.engine.instrument(kXyzUsd);
        if (pv.qty > 0) {
          ASSERT_TRUE(bids.empty() || bids[0].price < now->band_low) << "step " << step;
        } else if (pv.qty < 0) {
          ASSERT_TRUE(asks.empty() || asks[0].price > now->band_high) << "step " << step;
        }
      }
    }
    if (step == 2'000) {
      std::vector<unsigned char> bytes, again;
      m.engine.serialize(&bytes);
      restored = std::make_unique<Market>(EngineConfig{256, 8, 8, 1u << 16, 1000}, false);
      ASSERT_TRUE(restored->engine.restore(bytes));
      restored->engine.serialize(&again);
      ASSERT_EQ(bytes, again);
      restored->advance(m.now() - restored->now());
    }
  }
  ASSERT_TRUE(restored);
  EXPECT_EQ(restored->engine.state_hash(), m.engine.state_hash());
  // The run exercised what it claims to.
  EXPECT_GT(margin_trades, 500u);
  EXPECT_GT(insufficient, 0u);
  EXPECT_GT(liquidations, 0u);
  EXPECT_GT(loss_blocks, 0u);
  EXPECT_GT(dead_man_fired, 0u);
}

}  // namespace
}  // namespace bourse::testing

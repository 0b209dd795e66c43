// Portfolio valuation: conversions at mark prices (direct, inverse, through
// one intermediate, none), an account's holdings and MARGIN positions valued
// in one currency, and the cost basis shown with them.
#include "portfolio/valuation.h"

#include <gtest/gtest.h>

namespace bourse::portfolio {
namespace {

constexpr AssetId kUsd{1}, kEur{2}, kBtc{3}, kXyz{4}, kGbp{5};
constexpr InstrumentId kBtcUsd{1}, kEurUsd{2}, kXyzEur{3};
constexpr int64_t kDay = 86'400'000'000'000;

InstrumentSpec spec(const char* symbol, InstrumentId id, AssetId base, AssetId quote, int32_t price_scale,
                    int64_t reference, int64_t lot, int64_t tick) {
  InstrumentSpec s;
  s.symbol = Symbol::from(symbol);
  s.id = id;
  s.base = base;
  s.quote = quote;
  s.price_scale = price_scale;
  s.tick_size = Price{tick};  // tick × lot is a whole number of quote minor units
  s.lot_size = Qty{lot};
  s.min_qty = Qty{lot};
  s.max_qty = Qty{lot * 1'000'000};
  s.reference_price = Price{reference};
  s.band_bps = 1'000;
  return s;
}

// An engine whose events feed the read models, as the dispatcher does.
class Venue {
 public:
  Venue() {
    run(Command::add_asset({AssetCode::from("USD"), kUsd, 2}));
    run(Command::add_asset({AssetCode::from("EUR"), kEur, 2}));
    run(Command::add_asset({AssetCode::from("BTC"), kBtc, 8}));
    run(Command::add_asset({AssetCode::from("XYZ"), kXyz, 0}));
    run(Command::add_asset({AssetCode::from("GBP"), kGbp, 2}));
    run(Command::add_instrument(spec("BTC-USD", kBtcUsd, kBtc, kUsd, 2, 5'000'000, 1'000'000, 100)));  // 50,000.00
    run(Command::add_instrument(spec("EUR-USD", kEurUsd, kEur, kUsd, 4, 11'000, 100, 100)));       // 1.1000
    run(Command::add_instrument(spec("XYZ-EUR", kXyzEur, kXyz, kEur, 2, 250, 1, 1)));             // 2.50
    SetMarginParams m{};
    m.instrument = kBtcUsd;
    m.mark_source = MarkSource::kLast;
    m.initial_ppm[0] = 100'000;
    m.maintenance_ppm[0] = 50'000;
    run(Command::set_margin_params(m));
    for (uint32_t a = 1; a <= 2; ++a) {
      run(Command::configure_account({AccountId{a}, 0, StpMode::kCancelNewest, 1}));
      run(Command::deposit({Amount{10'000'000}, AccountId{a}, kUsd}));  // 100,000.00
    }
    run(Command::deposit({Amount{300'000'000}, AccountId{2}, kBtc}));  // 3 BTC
  }
  std::vector<Event> run(Command c) {
    c.header.seq = engine.last_seq() + 1;
    c.header.timestamp = now;
    const auto span = engine.apply(c);
    std::vector<Event> events(span.begin(), span.end());
    for (const Event& e : events) {
      if (e.type == EventType::kOrderRejected) ADD_FAILURE() << "rejected " << reject_reason_name(e.rejected.reason);
    }
    market.on_durable_batch(events);
    accounts.on_durable_batch(events);
    return events;
  }
  void order(uint32_t account, Side side, int64_t price, int64_t qty, Product product) {
    PlaceOrder p{};
    p.account = AccountId{account};
    p.instrument = kBtcUsd;
    p.side = side;
    p.type = OrderType::kLimit;
    p.tif = TimeInForce::kGtc;
    p.price = Price{price};
    p.qty = Qty{qty};
    p.product = product;
    p.stp = StpMode::kAccountDefault;
    run(Command::place_order(p));
  }
  Engine engine;
  marketdata::MarketView market;
  accounts::AccountReadModel accounts;
  Timestamp now = 20 * kDay + 1;
};

TEST(PriceBook, ConvertsDirectInverseThroughOneAssetOrNotAtAll) {
  Venue v;
  const PriceBook prices(v.market);
  EXPECT_EQ(prices.convert(kBtc, 100'000'000, kUsd), Int128{5'000'000});   // 1 BTC = 50,000.00 USD
  EXPECT_EQ(prices.convert(kUsd, 10'000'000, kBtc), Int128{200'000'000});  // 100,000.00 USD = 2 BTC
  EXPECT_EQ(prices.convert(kEur, 10'000, kUsd), Int128{11'000});           // 100.00 EUR = 110.00 USD
  EXPECT_EQ(prices.convert(kXyz, 3, kUsd), Int128{825});                   // 3 XYZ = 7.50 EUR = 8.25 USD
  EXPECT_EQ(prices.convert(kUsd, 1'000, kUsd), Int128{1'000});
  EXPECT_FALSE(prices.convert(kGbp, 100, kUsd));                           // no route
  // Rounds down, a debt included (floor, not toward zero).
  EXPECT_EQ(prices.convert(kUsd, 1, kBtc), Int128{20});                    // 0.01 USD = 0.0000002 BTC
  EXPECT_EQ(prices.convert(kEur, -1, kUsd), Int128{-2});                   // −0.011 USD → −0.02
}

TEST(ValueAccount, HoldingsCostBasisAndPositionsInOneCurrency) {
  Venue v;
  // Account 1 buys 1 BTC CASH at 50,000.00 from account 2, then opens a
  // 1 BTC MARGIN short against account 2's CASH buy at 51,000.00, which is
  // then the last price (no fees on these instruments).
  v.order(2, Side::kSell, 5'000'000, 100'000'000, Product::kCash);
  v.order(1, Side::kBuy, 5'000'000, 100'000'000, Product::kCash);
  v.order(2, Side::kBuy, 5'100'000, 100'000'000, Product::kCash);
  v.order(1, Side::kSell, 5'100'000, 100'000'000, Product::kMargin);
  const PriceBook prices(v.market);
  ASSERT_EQ(prices.mark(kBtcUsd).value, 5'100'000);

  const Valuation val = value_account(v.accounts.holdings(AccountId{1}), prices, kUsd, v.now / kDay);
  // Holdings: USD 100,000.00 − 50,000.00 paid = 50,000.00, and 1 BTC at
  // 51,000.00. The short: sold at 51,000.00, marked there: 0 unrealized.
  ASSERT_EQ(val.holdings.size(), 2u);
  EXPECT_EQ(val.holdings[0].asset, kUsd);
  EXPECT_EQ(val.holdings[0].value, Int128{5'000'000});
  EXPECT_EQ(val.holdings[1].asset, kBtc);
  EXPECT_EQ(val.holdings[1].value, Int128{5'100'000});
  ASSERT_EQ(val.holdings[1].cost.size(), 1u);
  EXPECT_EQ(val.holdings[1].cost[0].line.cost, 5'000'000);
  EXPECT_EQ(val.holdings[1].cost[0].average_price.value, 5'000'000);
  EXPECT_EQ(val.holdings[1].cost[0].unrealized, Int128{100'000});  // +1,000.00
  ASSERT_EQ(val.positions.size(), 1u);
  EXPECT_EQ(val.positions[0].position.qty, -100'000'000);
  EXPECT_EQ(val.positions[0].unrealized, 0);
  EXPECT_EQ(val.total(), 10'100'000);
  EXPECT_TRUE(val.complete);
  // Today's deposit counts as a transfer, valued now.
  EXPECT_EQ(val.net_flow_value, 10'000'000);

  // In EUR: every figure converts at EUR-USD 1.1000, rounding down.
  const Valuation eur = value_account(v.accounts.holdings(AccountId{1}), prices, kEur, v.now / kDay);
  EXPECT_EQ(eur.holdings_value, Int128{5'000'000} * 10'000 / 11'000 + Int128{5'100'000} * 10'000 / 11'000 + 0);
  // The price moves: the long holding gains, the short loses the same.
  v.order(2, Side::kSell, 5'200'000, 100'000'000, Product::kCash);
  v.order(1, Side::kBuy, 5'200'000, 100'000'000, Product::kMargin);  // closes the short at a loss
  const PriceBook later(v.market);
  const Valuation after = value_account(v.accounts.holdings(AccountId{1}), later, kUsd, v.now / kDay + 1);
  EXPECT_EQ(after.holdings[1].value, Int128{5'200'000});
  EXPECT_EQ(after.positions[0].position.qty, 0);
  EXPECT_EQ(after.positions[0].position.realized, -100'000);  // −1,000.00, now in the USD balance
  EXPECT_EQ(after.total(), 10'100'000 - 100'000 + 100'000);
  EXPECT_EQ(after.net_flow_value, 0);  // yesterday's deposit is not today's
}

TEST(ValueAccount, AnAssetWithoutAPriceMakesTheValuationIncomplete) {
  Venue v;
  v.run(Command::deposit({Amount{500}, AccountId{1}, kGbp}));
  const Valuation val = value_account(v.accounts.holdings(AccountId{1}), PriceBook(v.market), kUsd, 0);
  EXPECT_FALSE(val.complete);
  EXPECT_EQ(val.total(), 10'000'000);  // the GBP is listed without a value, not guessed
  bool listed = false;
  for (const HoldingValue& h : val.holdings) listed |= h.asset == kGbp && !h.value;
  EXPECT_TRUE(listed);
}

}  // namespace
}  // namespace bourse::portfolio

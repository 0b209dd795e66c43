// The read models against the engine they mirror: after every batch of
// random commands, AccountReadModel's balances and live orders and
// MarketView's books equal what the engine itself reports.
#include "accounts/account_read_model.h"

#include <gtest/gtest.h>

#include "engine/random_commands.h"
#include "marketdata/market_view.h"

namespace bourse {
namespace {

void expect_same_as_engine(const Engine& engine, const accounts::AccountReadModel& model,
                           const marketdata::MarketView& market, uint64_t step) {
  std::vector<AssetId> assets;
  engine.for_each_asset([&](const AssetSpec& a) { assets.push_back(a.id); });
  engine.for_each_account([&](const AccountView& a) {
    std::map<uint32_t, accounts::BalanceRecord> got;
    for (const auto& b : model.balances(a.id)) got[b.asset.value] = b;
    for (AssetId asset : assets) {
      const Balance want = engine.balance(a.id, asset);
      const auto it = got.find(asset.value);
      const int64_t avail = it == got.end() ? 0 : it->second.available.value;
      const int64_t locked = it == got.end() ? 0 : it->second.locked.value;
      ASSERT_EQ(avail, want.available.value) << "step " << step << " account " << a.id.value;
      ASSERT_EQ(locked, want.locked.value) << "step " << step << " account " << a.id.value;
    }
    ASSERT_EQ(model.summary(a.id).open_orders, a.open_orders) << "step " << step;
  });
  std::size_t live = 0;
  engine.for_each_order([&](const OrderView& o) {
    ++live;
    const auto r = model.order(o.account, o.id);
    ASSERT_TRUE(r) << "step " << step << " order " << o.id.value;
    ASSERT_EQ(r->filled, o.filled);
    ASSERT_EQ(r->qty, o.qty);
    ASSERT_EQ(r->price, o.price);
    ASSERT_FALSE(accounts::is_terminal(r->status));
    // Another account never sees it.
    ASSERT_FALSE(model.order(AccountId{o.account.value + 1}, o.id));
  });
  engine.for_each_instrument([&](const InstrumentView& v) {
    marketdata::BookSnapshot book;
    ASSERT_TRUE(market.book(v.spec.id, 0, &book));
    const auto bids = engine.depth(v.spec.id, Side::kBuy, SIZE_MAX);
    const auto asks = engine.depth(v.spec.id, Side::kSell, SIZE_MAX);
    ASSERT_EQ(book.bids.size(), bids.size()) << "step " << step;
    ASSERT_EQ(book.asks.size(), asks.size()) << "step " << step;
    for (std::size_t i = 0; i < bids.size(); ++i) {
      ASSERT_EQ(book.bids[i].price, bids[i].price);
      ASSERT_EQ(book.bids[i].qty, bids[i].qty);
      ASSERT_EQ(book.bids[i].orders, bids[i].order_count);
    }
    for (std::size_t i = 0; i < asks.size(); ++i) {
      ASSERT_EQ(book.asks[i].price, asks[i].price);
      ASSERT_EQ(book.asks[i].qty, asks[i].qty);
    }
    ASSERT_EQ(market.instrument(v.spec.id)->last_price, v.last_price);
  });
}

TEST(ReadModels, MirrorTheEngineUnderRandomCommands) {
  testing::RandomCommandConfig config;
  testing::RandomCommandGenerator gen(11, config);
  Engine engine(config.engine);
  accounts::AccountReadModel model;
  marketdata::MarketView market;
  std::vector<Event> batch;
  auto run = [&](const Command& c) {
    const auto events = engine.apply(c);
    gen.observe(events);
    batch.insert(batch.end(), events.begin(), events.end());
  };
  for (const Command& c : gen.setup()) run(c);
  model.on_durable_batch(batch);
  market.on_durable_batch(batch);
  batch.clear();
  for (uint64_t step = 1; step <= 20'000; ++step) {
    run(gen.next());
    if (step % 37 == 0) {  // batches of several commands, as the dispatcher delivers them
      model.on_durable_batch(batch);
      market.on_durable_batch(batch);
      batch.clear();
      expect_same_as_engine(engine, model, market, step);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(ReadModels, LoadFromARecoveredEngineEqualsTheEngine) {
  testing::RandomCommandConfig config;
  testing::RandomCommandGenerator gen(12, config);
  Engine engine(config.engine);
  for (const Command& c : gen.setup()) gen.observe(engine.apply(c));
  for (int i = 0; i < 5'000; ++i) gen.observe(engine.apply(gen.next()));
  accounts::AccountReadModel model;
  marketdata::MarketView market;
  model.load(engine);
  market.load(engine);
  expect_same_as_engine(engine, model, market, 0);
}

}  // namespace
}  // namespace bourse

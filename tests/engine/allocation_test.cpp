// Zero heap allocations per command in steady state, proven with a counting
// global operator new over the benchmark's exchange-core-like mix.
#include <gtest/gtest.h>

#include <vector>

#include "bench/alloc_counter.h"
#include "bench/engine_workload.h"

namespace bourse {
namespace {

// The counter really replaces operator new in this binary (else every
// zero below would prove nothing).
TEST(Allocation, CounterCounts) {
  const uint64_t before = bench::allocation_count();
  auto* p = new std::vector<int>(100);
  const uint64_t after = bench::allocation_count();
  delete p;
  EXPECT_GE(after - before, 1u);
}

void expect_no_allocations(bench::Mix mix, uint32_t symbols) {
  bench::WorkloadConfig wc;
  wc.mix = mix;
  wc.symbols = symbols;
  wc.accounts = 2'000;
  wc.levels_per_side = 200;
  wc.orders_per_level = 5;
  wc.commands = 200'000;
  const bench::Workload w = bench::make_workload(wc);
  Engine engine(w.engine_config);
  for (const Command& c : w.setup) engine.apply(c);
  // The first half warms the pools up to the stream's high-water mark.
  const std::size_t half = w.commands.size() / 2;
  for (std::size_t i = 0; i < half; ++i) engine.apply(w.commands[i]);
  uint64_t events = 0;
  const uint64_t before = bench::allocation_count();
  for (std::size_t i = half; i < w.commands.size(); ++i) events += engine.apply(w.commands[i]).size();
  const uint64_t allocations = bench::allocation_count() - before;
  EXPECT_EQ(allocations, 0u) << "over " << w.commands.size() - half << " commands";
  EXPECT_GT(events, w.commands.size() - half);  // the stream really did something
}

TEST(Allocation, NonePerCommandInSteadyStateOneSymbol) { expect_no_allocations(bench::Mix::kExchangeCore, 1); }
TEST(Allocation, NonePerCommandInSteadyStateManySymbols) { expect_no_allocations(bench::Mix::kExchangeCore, 20); }
// The place-only stream grows the book without bound; with the pools
// preallocated for it (the workload's engine config does) it allocates nothing.
TEST(Allocation, NoneForPlaceOnlyAfterWarmUp) { expect_no_allocations(bench::Mix::kPlaceOnly, 1); }

// Orders that end before their GTD expiry leave entries in the expiry heap;
// the heap compacts in place, so churn neither grows it nor allocates.
TEST(Allocation, GtdChurnStaysBounded) {
  bench::WorkloadConfig wc;
  wc.commands = 0;
  wc.accounts = 10;
  wc.levels_per_side = 10;
  wc.orders_per_level = 1;
  const bench::Workload w = bench::make_workload(wc);
  Engine engine(w.engine_config);
  for (const Command& c : w.setup) engine.apply(c);
  Seq seq = engine.last_seq();
  Timestamp now = 1'800'000'000'000'000'000;
  auto churn = [&](int n) {
    for (int i = 0; i < n; ++i) {
      PlaceOrder p;
      p.account = AccountId{1};
      p.instrument = InstrumentId{1};
      p.side = Side::kBuy;
      p.tif = TimeInForce::kGtd;
      p.expire_at = now + 3'600'000'000'000;
      p.price = Price{900'000};
      p.qty = Qty{10'000};
      Command c = Command::place_order(p);
      c.header.seq = ++seq;
      c.header.timestamp = ++now;
      const auto ev = engine.apply(c);
      ASSERT_EQ(ev[0].type, EventType::kOrderAccepted);
      CancelOrder x;
      x.account = p.account;
      x.order_id = ev[0].accepted.order_id;
      Command cc = Command::cancel_order(x);
      cc.header.seq = ++seq;
      cc.header.timestamp = ++now;
      engine.apply(cc);
    }
  };
  churn(20'000);
  const uint64_t before = bench::allocation_count();
  churn(200'000);
  EXPECT_EQ(bench::allocation_count() - before, 0u);
}

}  // namespace
}  // namespace bourse

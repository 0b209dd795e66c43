// Micro-benchmarks of hot-path pieces. Run: build/release/bench/micro_bench
#include <benchmark/benchmark.h>

#include <vector>

#include "bench/engine_workload.h"
#include "bourse/core/crc32c.h"
#include "bourse/core/decimal.h"
#include "bourse/engine/engine.h"

namespace {

void BM_ParseDecimal(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(bourse::parse_decimal("65432.12345678", 8));
}
BENCHMARK(BM_ParseDecimal);

void BM_Crc32c4K(benchmark::State& state) {
  std::vector<unsigned char> data(4096, 7);
  for (auto _ : state) benchmark::DoNotOptimize(bourse::crc32c(data.data(), data.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 4096);
}
BENCHMARK(BM_Crc32c4K);

// Place a resting order and cancel it again on a pre-filled book.
void BM_PlaceCancel(benchmark::State& state) {
  bourse::bench::WorkloadConfig wc;
  wc.commands = 0;
  wc.accounts = 100;
  const bourse::bench::Workload w = bourse::bench::make_workload(wc);
  bourse::Engine engine(w.engine_config);
  for (const bourse::Command& c : w.setup) engine.apply(c);
  bourse::Seq seq = engine.last_seq();
  uint64_t next_id = 0;
  for (const bourse::Command& c : w.setup) next_id += c.type() == bourse::CommandType::kPlaceOrder;
  for (auto _ : state) {
    bourse::PlaceOrder p;
    p.account = bourse::AccountId{7};
    p.instrument = bourse::InstrumentId{1};
    p.side = bourse::Side::kBuy;
    p.price = bourse::Price{999'900};
    p.qty = bourse::Qty{1'000};
    bourse::Command c = bourse::Command::place_order(p);
    c.header.seq = ++seq;
    benchmark::DoNotOptimize(engine.apply(c).size());
    bourse::CancelOrder x;
    x.account = p.account;
    x.order_id = bourse::OrderId{++next_id};
    bourse::Command cc = bourse::Command::cancel_order(x);
    cc.header.seq = ++seq;
    benchmark::DoNotOptimize(engine.apply(cc).size());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 2);
}
BENCHMARK(BM_PlaceCancel);

}  // namespace

BENCHMARK_MAIN();

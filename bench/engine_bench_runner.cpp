#include "bench/engine_bench_runner.h"

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "bourse/core/clock.h"
#include "bourse/sequencer/exchange.h"

namespace bourse::bench {
namespace {

Percentiles percentiles(std::vector<int64_t>* v) {
  Percentiles p;
  if (v->empty()) return p;
  auto at = [v](double q) {
    const auto k = static_cast<std::size_t>(q * static_cast<double>(v->size() - 1));
    std::nth_element(v->begin(), v->begin() + static_cast<std::ptrdiff_t>(k), v->end());
    return (*v)[k];
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.p9999 = at(0.9999);
  p.max = *std::max_element(v->begin(), v->end());
  return p;
}

uint64_t resident_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

std::unique_ptr<Engine> prepared_engine(const Workload& w, const EngineConfig* config = nullptr) {
  auto engine = std::make_unique<Engine>(config ? *config : w.engine_config);
  for (const Command& c : w.setup) engine->apply(c);
  return engine;
}

void count_book(const Engine& e, RunResult* r) {
  r->resting_orders_end = e.live_order_count();
  r->levels_end = 0;
  e.for_each_instrument([&](const InstrumentView& in) {
    r->levels_end += e.depth(in.spec.id, Side::kBuy, SIZE_MAX).size() + e.depth(in.spec.id, Side::kSell, SIZE_MAX).size();
  });
}

void throughput_pass(const Workload& w, const RunOptions& o, RunResult* r) {
  auto engine = prepared_engine(w);
  uint64_t trades = 0;
  const uint64_t allocs_before = o.allocation_count ? o.allocation_count() : 0;
  const int64_t t0 = monotonic_ns();
  for (const Command& c : w.commands) {
    for (const Event& e : engine->apply(c)) trades += e.type == EventType::kTrade;
  }
  const int64_t t1 = monotonic_ns();
  if (o.allocation_count) {
    r->allocations = static_cast<int64_t>(o.allocation_count() - allocs_before);
    r->allocations_per_command = static_cast<double>(r->allocations) / static_cast<double>(w.commands.size());
  }
  r->seconds = static_cast<double>(t1 - t0) / 1e9;
  r->throughput_per_s = static_cast<double>(w.commands.size()) / r->seconds;
  r->trades = trades;
  count_book(*engine, r);
}

// Open loop: command i is due at t0 + i/rate; its latency runs from when it
// was due to when apply() returned. With engine == nullptr the loop does
// nothing: the floor this machine's scheduler and hypervisor impose.
void open_loop(Engine* engine, const Workload& w, uint64_t rate, RunResult* r, Percentiles* latency,
               Percentiles* service) {
  const std::size_t n = w.commands.size();
  std::vector<int64_t> lat(n), svc(n);
  const double interval = 1e9 / static_cast<double>(rate);
  const int64_t t0 = monotonic_ns() + 1'000'000;
  int64_t now = monotonic_ns();
  for (std::size_t i = 0; i < n; ++i) {
    const int64_t due = t0 + static_cast<int64_t>(static_cast<double>(i) * interval);
    while (now < due) now = monotonic_ns();
    const int64_t start = now;
    if (engine != nullptr) engine->apply(w.commands[i]);
    now = monotonic_ns();
    lat[i] = now - due;
    svc[i] = now - start;
  }
  if (r != nullptr) r->achieved_rate = static_cast<double>(n) / (static_cast<double>(now - t0) / 1e9);
  *latency = percentiles(&lat);
  if (service != nullptr) *service = percentiles(&svc);
}

void latency_pass(const Workload& w, const RunOptions& o, RunResult* r) {
  auto engine = prepared_engine(w);
  open_loop(engine.get(), w, o.offered_rate, r, &r->latency_ns, &r->service_ns);
  open_loop(nullptr, w, o.offered_rate, nullptr, &r->floor_ns, nullptr);
}

void journal_pass(const Workload& w, const RunOptions& o, RunResult* r) {
  std::filesystem::remove_all(o.journal_dir);
  ExchangeOptions xo;
  xo.data_dir = o.journal_dir;
  xo.engine = w.engine_config;
  xo.fsync = o.journal == JournalMode::kFsync;
  xo.snapshot_every = 0;
  std::string error;
  auto x = Exchange::open(xo, &error);
  if (!x) {
    std::fprintf(stderr, "bench: %s\n", error.c_str());
    return;
  }
  for (const Command& c : w.setup) x->submit(c);
  x->journal().flush();
  const Seq base = x->last_seq();
  const std::size_t n = w.commands.size();
  std::vector<int64_t> submitted(n), durable(n, 0);
  x->journal().set_durable_listener([&](Seq first, Seq last) {
    const int64_t t = monotonic_ns();
    for (Seq s = std::max(first, base + 1); s <= last && s - base - 1 < n; ++s) durable[s - base - 1] = t;
  });
  const auto batches_before = x->journal().stats().batches;
  // offered_rate > 0: open loop at that rate (latency counts from when each
  // command was due); 0: as fast as the pipeline goes.
  const double interval = o.offered_rate ? 1e9 / static_cast<double>(o.offered_rate) : 0;
  const int64_t t0 = monotonic_ns();
  for (std::size_t i = 0; i < n; ++i) {
    if (o.offered_rate) {
      const int64_t due = t0 + static_cast<int64_t>(static_cast<double>(i) * interval);
      int64_t now = monotonic_ns();
      while (now < due) now = monotonic_ns();
      submitted[i] = due;
    } else {
      submitted[i] = monotonic_ns();
    }
    x->submit(w.commands[i]);
  }
  const int64_t t1 = monotonic_ns();
  x->journal().flush();
  x->journal().set_durable_listener(nullptr);
  r->journal = o.journal == JournalMode::kFsync ? "fsync" : "async";
  r->seconds = static_cast<double>(t1 - t0) / 1e9;
  r->throughput_per_s = static_cast<double>(n) / r->seconds;
  r->journal_batches = x->journal().stats().batches - batches_before;
  std::vector<int64_t> lat(n);
  for (std::size_t i = 0; i < n; ++i) lat[i] = durable[i] - submitted[i];
  r->durable_ns = percentiles(&lat);
  count_book(x->engine(), r);
  x.reset();
  std::filesystem::remove_all(o.journal_dir);
}

void memory_pass(const Workload& w, const RunOptions& o, RunResult* r) {
  // Pools start small so that the resident-memory growth counts everything a
  // resting order costs: its pool slot, index slots, levels (with the
  // pools' doubling slack, as in production).
  EngineConfig cfg = w.engine_config;
  cfg.preallocated_orders = 1024;
  auto engine = prepared_engine(w, &cfg);
  // Resting orders that never cross: bids far below, asks far above the mid,
  // spread over 1,000 levels per side, from every account.
  const uint64_t before_orders = engine->live_order_count();
  const uint64_t rss0 = resident_bytes();
  Seq seq = engine->last_seq();
  for (uint64_t i = 0; i < o.memory_orders; ++i) {
    PlaceOrder p;
    p.account = AccountId{static_cast<uint32_t>(1 + i % (cfg.max_accounts - 1))};
    p.instrument = InstrumentId{1};
    p.side = (i & 1) ? Side::kBuy : Side::kSell;
    const int64_t away = 600 + static_cast<int64_t>((i / 2) % 1000);
    p.price = Price{p.side == Side::kBuy ? 1'000'000 - away : 1'000'000 + away};
    p.qty = Qty{10'000};
    Command c = Command::place_order(p);
    c.header.seq = ++seq;
    engine->apply(c);
  }
  const uint64_t rss1 = resident_bytes();
  r->memory_orders = engine->live_order_count() - before_orders;
  r->bytes_per_resting_order = r->memory_orders ? static_cast<double>(rss1 - rss0) / static_cast<double>(r->memory_orders) : 0;
}

std::string fmt_percentiles(const char* prefix, const Percentiles& p) {
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "\"%sp50_ns\":%" PRId64 ",\"%sp99_ns\":%" PRId64 ",\"%sp999_ns\":%" PRId64 ",\"%sp9999_ns\":%" PRId64
                ",\"%smax_ns\":%" PRId64,
                prefix, p.p50, prefix, p.p99, prefix, p.p999, prefix, p.p9999, prefix, p.max);
  return buf;
}

}  // namespace

RunResult run_engine_bench(const RunOptions& o) {
  RunResult r;
  char scenario[128];
  std::snprintf(scenario, sizeof(scenario), "%s/%u-symbols/%u-accounts", mix_name(o.workload.mix), o.workload.symbols,
                o.workload.accounts);
  r.scenario = scenario;
  r.sizeof_order = 0;
  const Workload w = make_workload(o.workload);
  r.commands = w.commands.size();
  if (o.journal == JournalMode::kNone) {
    throughput_pass(w, o, &r);
    if (o.offered_rate > 0) {
      r.offered_rate = o.offered_rate;
      latency_pass(w, o, &r);
    }
  } else {
    r.offered_rate = o.offered_rate;
    journal_pass(w, o, &r);
  }
  if (o.memory_orders > 0) memory_pass(w, o, &r);
  return r;
}

std::string RunResult::to_json() const {
  char buf[2048];
  std::snprintf(buf, sizeof(buf),
                "{\"scenario\":\"%s\",\"commands\":%" PRIu64 ",\"seconds\":%.6f,\"throughput_per_s\":%.0f,"
                "\"offered_rate_per_s\":%" PRIu64 ",\"achieved_rate_per_s\":%.0f,%s,%s,%s,"
                "\"allocations\":%" PRId64 ",\"allocations_per_command\":%.6f,\"trades\":%" PRIu64
                ",\"resting_orders_end\":%" PRIu64 ",\"levels_end\":%" PRIu64 ",\"journal\":\"%s\",%s,"
                "\"journal_batches\":%" PRIu64 ",\"memory_orders\":%" PRIu64 ",\"bytes_per_resting_order\":%.1f}",
                scenario.c_str(), commands, seconds, throughput_per_s, offered_rate, achieved_rate,
                fmt_percentiles("", latency_ns).c_str(), fmt_percentiles("service_", service_ns).c_str(),
                fmt_percentiles("floor_", floor_ns).c_str(), allocations, allocations_per_command, trades,
                resting_orders_end, levels_end, journal.empty() ? "none" : journal.c_str(),
                fmt_percentiles("durable_", durable_ns).c_str(), journal_batches, memory_orders,
                bytes_per_resting_order);
  return buf;
}

std::string RunResult::to_text() const {
  char buf[2048];
  int n = std::snprintf(buf, sizeof(buf), "scenario        %s\ncommands        %" PRIu64 "\n", scenario.c_str(), commands);
  auto add = [&](const char* f, auto... args) {
    n += std::snprintf(buf + n, sizeof(buf) - static_cast<std::size_t>(n), f, args...);
  };
  add("throughput      %.0f commands/s (%.3f s)%s\n", throughput_per_s, seconds,
      journal.empty() ? "" : (journal == "fsync" ? " journaled, fsync group commit" : " journaled, no fsync"));
  if (offered_rate && journal.empty()) {
    add("latency @ %" PRIu64 "/s  p50 %" PRId64 " ns  p99 %" PRId64 " ns  p99.9 %" PRId64 " ns  p99.99 %" PRId64
        " ns  max %" PRId64 " ns (achieved %.0f/s)\n",
        offered_rate, latency_ns.p50, latency_ns.p99, latency_ns.p999, latency_ns.p9999, latency_ns.max, achieved_rate);
    add("  apply() alone  p50 %" PRId64 " ns  p99 %" PRId64 " ns  p99.9 %" PRId64 " ns  p99.99 %" PRId64 " ns\n",
        service_ns.p50, service_ns.p99, service_ns.p999, service_ns.p9999);
    add("  empty loop     p50 %" PRId64 " ns  p99 %" PRId64 " ns  p99.9 %" PRId64 " ns  p99.99 %" PRId64
        " ns  (the machine's floor, same run)\n",
        floor_ns.p50, floor_ns.p99, floor_ns.p999, floor_ns.p9999);
  }
  if (!journal.empty()) {
    if (offered_rate) add("offered         %" PRIu64 " commands/s, open loop\n", offered_rate);
    add("to durable      p50 %" PRId64 " ns  p99 %" PRId64 " ns  p99.9 %" PRId64 " ns  (%" PRIu64 " batches)\n",
        durable_ns.p50, durable_ns.p99, durable_ns.p999, journal_batches);
  }
  if (allocations >= 0) add("allocations     %" PRId64 " (%.6f per command)\n", allocations, allocations_per_command);
  add("trades          %" PRIu64 "; book at end: %" PRIu64 " orders on %" PRIu64 " levels\n", trades,
      resting_orders_end, levels_end);
  if (memory_orders) add("memory          %.1f bytes per resting order (%" PRIu64 " orders)\n", bytes_per_resting_order, memory_orders);
  return buf;
}

}  // namespace bourse::bench

// The `bourse` binary: one executable, subcommands per role and tool.
#include <CLI/CLI.hpp>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <map>

#include "bench/alloc_counter.h"
#include "bench/engine_bench_runner.h"
#include "bourse/core/log.h"
#include "bourse/sequencer/exchange.h"
#include "serve.h"


namespace {

int run_replay(const std::string& data_dir, bool from_scratch, bool verify) {
  using namespace bourse;
  if (!std::filesystem::exists(data_dir)) {
    std::fprintf(stderr, "bourse replay: %s does not exist\n", data_dir.c_str());
    return 2;
  }
  // Read-only: a torn tail is reported, not repaired (`bourse demo` repairs on start).
  EngineConfig config;
  if (!read_engine_config(data_dir, &config)) {
    std::fprintf(stderr, "bourse replay: %s is missing or malformed\n", Exchange::config_path(data_dir).c_str());
    return 1;
  }
  Engine engine(config);
  ReplayResult r = replay_data_dir(data_dir, from_scratch, &engine);
  if (!r.ok) {
    std::fprintf(stderr, "bourse replay: %s\n", r.error.c_str());
    return 1;
  }
  std::map<uint32_t, int64_t> locked_orders;
  std::printf("data dir        %s\n", data_dir.c_str());
  std::printf("snapshot        %s\n",
              r.report.snapshot_loaded ? ("seq " + std::to_string(r.report.snapshot_seq)).c_str() : "none");
  std::printf("journal         %" PRIu64 " records in %" PRIu64 " segments, seq %" PRIu64 "..%" PRIu64 "\n",
              r.report.journal.records, r.report.journal.segments, r.report.journal.first_seq,
              r.report.journal.last_seq);
  if (r.report.journal.had_corruption) {
    std::printf("journal tail    INVALID: %s (not applied; %" PRIu64 " bytes would be truncated on start)\n",
                r.report.journal.detail.c_str(), r.report.journal.truncated_bytes);
  }
  std::printf("replayed        %" PRIu64 " commands after the snapshot\n", r.report.replayed);
  std::printf("last seq        %" PRIu64 "\n", engine.last_seq());
  std::size_t assets = 0, instruments = 0, accounts = 0;
  engine.for_each_asset([&](const AssetSpec&) { ++assets; });
  engine.for_each_instrument([&](const InstrumentView&) { ++instruments; });
  engine.for_each_account([&](const AccountView&) { ++accounts; });
  std::printf("state           %zu assets, %zu instruments, %zu accounts, %zu live orders\n", assets, instruments,
              accounts, engine.live_order_count());
  std::printf("state hash      %016" PRIx64 "\n", engine.state_hash());
  if (verify && r.report.snapshot_loaded) {
    Engine scratch(config);
    ReplayResult full = replay_data_dir(data_dir, true, &scratch);
    if (!full.ok || scratch.last_seq() != engine.last_seq()) {
      std::printf("verify          journal from seq 1 not available (%s); skipped\n",
                  full.ok ? "segments pruned" : full.error.c_str());
    } else {
      const bool same = scratch.state_hash() == engine.state_hash();
      std::printf("verify          replay from scratch: %016" PRIx64 " %s\n", scratch.state_hash(),
                  same ? "(identical)" : "(DIFFERENT)");
      if (!same) return 1;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bourse;
  CLI::App app{"Bourse: trading venue: matching engine, ledger and risk, journal, REST gateway"};
  app.require_subcommand(1);

  app::ServeConfig serve;
  std::string config_file;
  auto* serve_cmd = app.add_subcommand(
      "serve",
      "run the exchange: engine, journal, REST API (demo market in a new data directory).\n"
      "Settings: defaults < --config TOML file < BOURSE_* environment < flags (docs/configuration.md)");
  serve_cmd->add_option("--config", config_file, "TOML configuration file");
  auto* listen_opt = serve_cmd->add_option("--listen", serve.listen, "HOST:PORT to listen on (env BOURSE_LISTEN)")->capture_default_str();
  auto* data_opt = serve_cmd->add_option("--data-dir", serve.data_dir, "journal, snapshots and store (env BOURSE_DATA_DIR)")->capture_default_str();
  auto* threads_opt = serve_cmd->add_option("--io-threads", serve.io_threads, "I/O threads, 0 = one per core (env BOURSE_IO_THREADS)")->capture_default_str();
  auto* durability_opt = serve_cmd->add_option("--durability", serve.durability, "fsync | async (env BOURSE_DURABILITY)")->capture_default_str();
  auto* simulate_opt = serve_cmd->add_flag("--simulate", serve.simulate, "run a simulated market maker (env BOURSE_SIMULATE)");
  auto* rate_opt = serve_cmd->add_option("--simulate-rate", serve.simulate_rate, "simulated orders per second")->capture_default_str();

  std::string replay_dir;
  bool from_scratch = false, verify = false;
  auto* replay_cmd = app.add_subcommand("replay", "rebuild state from DATA_DIR read-only; print the state hash");
  replay_cmd->add_option("data_dir", replay_dir, "data directory")->required();
  replay_cmd->add_flag("--from-scratch", from_scratch, "ignore snapshots; replay the journal from seq 1");
  replay_cmd->add_flag("--verify", verify, "also replay from scratch and compare hashes");

  auto* bench_cmd = app.add_subcommand("bench", "benchmarks");
  bench_cmd->require_subcommand(1);
  auto* bench_engine = bench_cmd->add_subcommand("engine", "engine + ledger + risk benchmark");
  bench::RunOptions ro;
  std::string mix = "exchange-core", journal = "none";
  bool json = false;
  bench_engine->add_option("--mix", mix, "exchange-core | place-only")->capture_default_str();
  bench_engine->add_option("--symbols", ro.workload.symbols, "instruments")->capture_default_str()->check(CLI::Range(1, 10000));
  bench_engine->add_option("--accounts", ro.workload.accounts, "accounts")->capture_default_str()->check(CLI::Range(1, 10'000'000));
  bench_engine->add_option("--levels", ro.workload.levels_per_side, "price levels per side in the pre-filled book")
      ->capture_default_str()
      ->check(CLI::Range(1, 100'000));
  bench_engine->add_option("--commands", ro.workload.commands, "measured commands")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{200'000'000}));
  bench_engine->add_option("--rate", ro.offered_rate, "offered commands/s for the latency pass (0: skip)")
      ->capture_default_str();
  bench_engine->add_option("--journal", journal, "none | async | fsync (journaled pipeline pass)")->capture_default_str();
  bench_engine->add_option("--journal-dir", ro.journal_dir, "where the journaled pass writes (removed after)");
  bench_engine->add_option("--memory-orders", ro.memory_orders, "measure bytes per resting order with N orders")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{0}, uint64_t{4'000'000}));
  bench_engine->add_option("--seed", ro.workload.seed, "workload seed")->capture_default_str();
  bench_engine->add_flag("--json", json, "print one JSON object on stdout");

  CLI11_PARSE(app, argc, argv);

  if (serve_cmd->parsed()) {
    // Flags win over the environment, which wins over the file: remember the
    // flags, load file and environment, then put the flags back.
    const app::ServeConfig flags = serve;
    std::string error;
    serve = app::ServeConfig{};
    if (!config_file.empty() && !app::load_config_file(config_file, &serve, &error)) {
      std::fprintf(stderr, "bourse serve: %s\n", error.c_str());
      return 2;
    }
    if (!app::apply_environment(&serve, &error)) {
      std::fprintf(stderr, "bourse serve: %s\n", error.c_str());
      return 2;
    }
    if (listen_opt->count()) serve.listen = flags.listen;
    if (data_opt->count()) serve.data_dir = flags.data_dir;
    if (threads_opt->count()) serve.io_threads = flags.io_threads;
    if (durability_opt->count()) serve.durability = flags.durability;
    if (simulate_opt->count()) serve.simulate = flags.simulate;
    if (rate_opt->count()) serve.simulate_rate = flags.simulate_rate;
    return app::run_serve(serve);
  }
  if (replay_cmd->parsed()) return run_replay(replay_dir, from_scratch, verify);
  if (bench_engine->parsed()) {
    if (mix == "exchange-core") {
      ro.workload.mix = bench::Mix::kExchangeCore;
    } else if (mix == "place-only") {
      ro.workload.mix = bench::Mix::kPlaceOnly;
    } else {
      std::fprintf(stderr, "bourse bench engine: --mix must be exchange-core or place-only\n");
      return 2;
    }
    if (journal == "none") {
      ro.journal = bench::JournalMode::kNone;
    } else if (journal == "async" || journal == "fsync") {
      ro.journal = journal == "fsync" ? bench::JournalMode::kFsync : bench::JournalMode::kAsync;
      if (ro.journal_dir.empty()) ro.journal_dir = (std::filesystem::temp_directory_path() / "bourse-bench-journal").string();
    } else {
      std::fprintf(stderr, "bourse bench engine: --journal must be none, async or fsync\n");
      return 2;
    }
    ro.allocation_count = &bench::allocation_count;
    const bench::RunResult r = bench::run_engine_bench(ro);
    std::printf("%s\n", json ? r.to_json().c_str() : r.to_text().c_str());
    return 0;
  }
  return 0;
}

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
#include "client.h"
#include "loadgen.h"
#include "loadgen_fanout.h"
#include "md_workers.h"
#include "gateway/json_writer.h"
#include "gateway/render.h"
#include "portfolio/reconcile.h"
#include "projector/history_projector.h"
#include "serve.h"
#include "store/store.h"

namespace {

// Clears the store's order, fill and ledger history and projects the whole
// journal again. Opening the exchange takes the journal's lock, so this
// refuses to run beside a server on the same data directory.
int run_rebuild_store(const std::string& data_dir) {
  using namespace bourse;
  EngineConfig config;
  if (!read_engine_config(data_dir, &config)) {
    std::fprintf(stderr, "bourse rebuild-store: %s is missing or malformed\n", Exchange::config_path(data_dir).c_str());
    return 1;
  }
  ExchangeOptions eo;
  eo.data_dir = data_dir;
  eo.engine = config;
  eo.snapshot_every = 0;
  std::string error;
  auto exchange = Exchange::open(eo, &error);
  if (!exchange) {
    std::fprintf(stderr, "bourse rebuild-store: %s\n", error.c_str());
    return 1;
  }
  auto store = store::open_sqlite_store(data_dir + "/store.sqlite", &error);
  if (!store) {
    std::fprintf(stderr, "bourse rebuild-store: %s\n", error.c_str());
    return 1;
  }
  projector::HistoryProjector history(*store);
  uint64_t records = 0;
  if (!history.rebuild(data_dir, config, &records, &error)) {
    std::fprintf(stderr, "bourse rebuild-store: %s\n", error.c_str());
    return 1;
  }
  std::printf("rebuilt order, fill and ledger history from %" PRIu64 " journal records (history complete to seq %" PRIu64
              ")\n",
              records, store->history_seq());
  return 0;
}

// Recomputes positions, balances and holdings' cost basis from the journal
// and compares (portfolio/reconcile.h). Read-only; fine beside a server.
// Exit 0: no difference; 1: differences (listed); 2: cannot run.
int run_reconcile(const std::string& data_dir) {
  using namespace bourse;
  EngineConfig config;
  if (!read_engine_config(data_dir, &config)) {
    std::fprintf(stderr, "bourse reconcile: %s is missing or malformed\n", Exchange::config_path(data_dir).c_str());
    return 2;
  }
  std::string error;
  auto store = store::open_sqlite_store(data_dir + "/store.sqlite", &error);
  if (!store) {
    std::fprintf(stderr, "bourse reconcile: %s\n", error.c_str());
    return 2;
  }
  portfolio::ReconcileReport report;
  if (!portfolio::reconcile(data_dir, config, store.get(), &report, &error)) {
    std::fprintf(stderr, "bourse reconcile: %s\n", error.c_str());
    return 2;
  }
  std::string out;
  gateway::JsonWriter w(&out);
  gateway::render_reconcile(w, report);
  std::printf("%s\n", out.c_str());
  return report.ok() ? 0 : 1;
}

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
  auto* tls_cert_opt = serve_cmd->add_option("--tls-cert", serve.tls_cert_file, "PEM certificate chain: serve HTTPS/WSS only (env BOURSE_TLS_CERT)");
  auto* tls_key_opt = serve_cmd->add_option("--tls-key", serve.tls_key_file, "PEM private key of --tls-cert (env BOURSE_TLS_KEY)");
  auto* md_workers_opt = serve_cmd->add_option("--md-workers", serve.md_workers,
                                               "market-data worker processes serving public channels on --md-listen "
                                               "(env BOURSE_MD_WORKERS)")->check(CLI::Range(0, 64));
  auto* md_listen_opt = serve_cmd->add_option("--md-listen", serve.md_listen,
                                              "HOST:PORT of the market-data workers (env BOURSE_MD_LISTEN)")
                            ->capture_default_str();
  auto* ingest_file_opt = serve_cmd->add_option("--ingest-file", serve.ingest_file,
                                                "replay external ticks from this CSV or NDJSON file (docs/market-data.md)");
  auto* ingest_speed_opt = serve_cmd->add_option("--ingest-speed", serve.ingest_speed,
                                                 "replay pace: 0 as fast as possible, 1 as recorded, N times faster")
                               ->capture_default_str();
  auto* ingest_tcp_opt = serve_cmd->add_option("--ingest-tcp", serve.ingest_tcp, "IP:PORT: a TCP line feed of external ticks");
  auto* ingest_udp_opt = serve_cmd->add_option("--ingest-udp", serve.ingest_udp, "IP:PORT: a UDP line feed of external ticks");
  // Internal: started by `serve` for each market-data worker (app/md_workers.h).
  int md_link_fd = -1;
  std::string md_settings;
  auto* md_worker_cmd = app.add_subcommand("md-worker", "internal: a market-data worker process (started by serve)");
  md_worker_cmd->group("");
  md_worker_cmd->add_option("--link-fd", md_link_fd, "the link to the main process")->required();
  md_worker_cmd->add_option("--settings", md_settings, "key=value lines")->required();

  // --- the command-line client (signed REST and WebSocket, like any user) ---
  const char* client_note = " (BOURSE_URL, BOURSE_API_KEY and BOURSE_API_SECRET, or BOURSE_TOKEN)";
  auto* balances_cmd = app.add_subcommand("balances", std::string("your balances") + client_note);
  std::string book_symbol;
  int book_depth = 10;
  auto* book_cmd = app.add_subcommand("book", "an order book (public)");
  book_cmd->add_option("symbol", book_symbol, "instrument, e.g. BTC-USD")->required();
  book_cmd->add_option("--depth", book_depth, "levels per side")->capture_default_str()->check(CLI::Range(1, 1000));
  std::string orders_symbol, orders_status = "open";
  int orders_limit = 100;
  auto* orders_cmd = app.add_subcommand("orders", std::string("list your orders") + client_note);
  orders_cmd->add_option("--symbol", orders_symbol, "only this instrument");
  orders_cmd->add_option("--status", orders_status, "open | closed | all")->capture_default_str();
  orders_cmd->add_option("--limit", orders_limit, "at most this many")->capture_default_str()->check(CLI::Range(1, 500));
  auto* order_cmd = app.add_subcommand("order", std::string("place, amend or cancel orders") + client_note);
  order_cmd->require_subcommand(1);
  struct PlaceArgs {
    std::string symbol, side, qty, price, stop_price, type = "LIMIT", tif, client_id;
    bool post_only = false;
  } place;
  auto* place_cmd = order_cmd->add_subcommand("place", "place an order");
  place_cmd->add_option("symbol", place.symbol, "instrument")->required();
  place_cmd->add_option("side", place.side, "BUY or SELL")->required();
  place_cmd->add_option("qty", place.qty, "quantity (decimal)")->required();
  place_cmd->add_option("--price", place.price, "limit price (decimal)");
  place_cmd->add_option("--stop-price", place.stop_price, "trigger price for stop orders");
  place_cmd->add_option("--type", place.type, "LIMIT | MARKET | STOP_LIMIT | STOP_MARKET")->capture_default_str();
  place_cmd->add_option("--tif", place.tif, "GTC | IOC | FOK | DAY | GTD");
  place_cmd->add_option("--client-id", place.client_id, "your client order id");
  place_cmd->add_flag("--post-only", place.post_only, "never take liquidity");
  std::string amend_id, amend_price, amend_qty;
  auto* amend_cmd = order_cmd->add_subcommand("amend", "amend an order");
  amend_cmd->add_option("id", amend_id, "order id")->required();
  amend_cmd->add_option("--price", amend_price, "new price");
  amend_cmd->add_option("--qty", amend_qty, "new total quantity");
  std::string cancel_id;
  auto* cancel_cmd = order_cmd->add_subcommand("cancel", "cancel an order");
  cancel_cmd->add_option("id", cancel_id, "order id")->required();
  std::string cancel_all_symbol;
  auto* cancel_all_cmd = order_cmd->add_subcommand("cancel-all", "cancel all your orders");
  cancel_all_cmd->add_option("--symbol", cancel_all_symbol, "only this instrument");
  auto* alerts_cmd = app.add_subcommand("alerts", std::string("list, add or delete alert rules") + client_note);
  alerts_cmd->require_subcommand(1);
  std::string alerts_status, alert_rule, alert_id;
  auto* alerts_list_cmd = alerts_cmd->add_subcommand("list", "your alert rules");
  alerts_list_cmd->add_option("--status", alerts_status, "active | triggered | expired");
  auto* alerts_add_cmd = alerts_cmd->add_subcommand("add", "create a rule from its JSON (docs/alerts.md)");
  alerts_add_cmd->add_option("rule", alert_rule, R"(e.g. '{"type":"price_above","symbol":"BTC-USD","threshold":"70000.00"}')")
      ->required();
  auto* alerts_delete_cmd = alerts_cmd->add_subcommand("delete", "delete a rule");
  alerts_delete_cmd->add_option("id", alert_id, "alert id")->required();
  auto* alerts_history_cmd = alerts_cmd->add_subcommand("history", "your alerts' firings, newest first");
  std::vector<std::string> tail_channels;
  int tail_count = 0;
  auto* tail_cmd = app.add_subcommand("tail", "print WebSocket channel messages, e.g. trades.BTC-USD or orders" +
                                                  std::string(client_note));
  tail_cmd->add_option("channels", tail_channels, "channels (docs/websocket.md)")->required();
  tail_cmd->add_option("--count", tail_count, "stop after this many messages (0: never)")->capture_default_str();

  app::LoadgenOptions lg;
  auto* loadgen_cmd = app.add_subcommand("loadgen", "order place + cancel round trips against a server (BENCHMARKS.md)");
  loadgen_cmd->add_option("mode", lg.mode, "rest | ws")->capture_default_str()->check(CLI::IsMember({"rest", "ws"}));
  loadgen_cmd->add_option("--url", lg.url, "server")->capture_default_str();
  loadgen_cmd->add_option("--connections", lg.connections, "connections (order modes: up to 10,000)")
      ->capture_default_str()->check(CLI::Range(1, 200000));
  loadgen_cmd->add_option("--threads", lg.threads, "client threads")->capture_default_str()->check(CLI::Range(1, 64));
  loadgen_cmd->add_option("--rate", lg.rate, "orders/s offered over all connections (0: closed loop)")->capture_default_str();
  loadgen_cmd->add_option("--duration", lg.duration_s, "seconds")->capture_default_str()->check(CLI::Range(0.1, 3600.0));
  loadgen_cmd->add_option("--symbol", lg.symbol, "instrument")->capture_default_str();
  loadgen_cmd->add_option("--price", lg.price, "buy price (far from the market: orders rest)")->capture_default_str();
  loadgen_cmd->add_option("--qty", lg.qty, "quantity")->capture_default_str();
  loadgen_cmd->add_flag("--json", lg.json, "print one JSON object");
  // ws with --channels: the market-data fan-out mode (app/loadgen_fanout.h).
  app::FanoutOptions fo;
  std::string fo_channels;
  loadgen_cmd->add_option("--channels", fo_channels,
                          "ws fan-out mode: subscribe every connection to these channels (comma-separated)");
  loadgen_cmd->add_option("--server-pid", fo.server_pids, "fan-out: server process ids whose RSS to report")->delimiter(',');
  loadgen_cmd->add_option("--processes", fo.processes, "fan-out: client processes (0: one per 15,000 connections)")
      ->check(CLI::Range(0, 64));
  loadgen_cmd->add_option("--per-address", fo.per_address, "fan-out: connections per loopback source address")
      ->capture_default_str()->check(CLI::Range(1, 28000));
  loadgen_cmd->add_option("--drive-rate", fo.drive_rate,
                          "fan-out: updates/s placed on --symbol at --price (two traders: BOURSE_API_KEY/SECRET, "
                          "BOURSE_TAKER_KEY/SECRET)")->check(CLI::Range(0.0, 10000.0));
  loadgen_cmd->add_option("--api-url", fo.api_url, "fan-out: the API port the driver places orders on (default --url; "
                                                  "set it when --url is the market-data workers' port)");
  loadgen_cmd->add_option("--reconnect-at", fo.reconnect_at_s, "fan-out: drop every connection at this second and "
                          "resume with since")->check(CLI::Range(0.0, 3600.0));

  std::string replay_dir;
  bool from_scratch = false, verify = false;
  auto* replay_cmd = app.add_subcommand("replay", "rebuild state from DATA_DIR read-only; print the state hash");
  replay_cmd->add_option("data_dir", replay_dir, "data directory")->required();
  replay_cmd->add_flag("--from-scratch", from_scratch, "ignore snapshots; replay the journal from seq 1");
  replay_cmd->add_flag("--verify", verify, "also replay from scratch and compare hashes");

  std::string rebuild_dir = "./data";
  auto* rebuild_cmd = app.add_subcommand(
      "rebuild-store", "clear the store's order, fill and ledger history and project the whole journal again "
                       "(the server must be stopped)");
  rebuild_cmd->add_option("--data-dir", rebuild_dir, "data directory")->capture_default_str();

  std::string reconcile_dir = "./data";
  auto* reconcile_cmd = app.add_subcommand(
      "reconcile", "recompute positions, balances and holdings' cost basis from the journal and compare them with "
                   "the derived ones (read-only; exit 1 on any difference)");
  reconcile_cmd->add_option("--data-dir", reconcile_dir, "data directory")->capture_default_str();

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

  if (balances_cmd->parsed()) return app::run_client_request({"GET", "/v1/balances", ""});
  if (book_cmd->parsed()) {
    return app::run_client_request({"GET", "/v1/book/" + book_symbol + "?depth=" + std::to_string(book_depth), "", false});
  }
  if (orders_cmd->parsed()) {
    std::string target = "/v1/orders?status=" + orders_status + "&limit=" + std::to_string(orders_limit);
    if (!orders_symbol.empty()) target += "&symbol=" + orders_symbol;
    return app::run_client_request({"GET", target, ""});
  }
  if (place_cmd->parsed()) {
    std::string body;
    gateway::JsonWriter w(&body);
    w.begin_object().field("symbol", place.symbol).field("side", place.side).field("type", place.type).field("qty", place.qty);
    if (!place.price.empty()) w.field("price", place.price);
    if (!place.stop_price.empty()) w.field("stop_price", place.stop_price);
    if (!place.tif.empty()) w.field("time_in_force", place.tif);
    if (!place.client_id.empty()) w.field("client_order_id", place.client_id);
    if (place.post_only) w.field("post_only", true);
    w.end_object();
    return app::run_client_request({"POST", "/v1/orders", body});
  }
  if (amend_cmd->parsed()) {
    std::string body;
    gateway::JsonWriter w(&body);
    w.begin_object();
    if (!amend_price.empty()) w.field("price", amend_price);
    if (!amend_qty.empty()) w.field("qty", amend_qty);
    w.end_object();
    return app::run_client_request({"PATCH", "/v1/orders/" + amend_id, body});
  }
  if (cancel_cmd->parsed()) return app::run_client_request({"DELETE", "/v1/orders/" + cancel_id, ""});
  if (alerts_list_cmd->parsed()) {
    return app::run_client_request({"GET", "/v1/alerts" + (alerts_status.empty() ? "" : "?status=" + alerts_status), ""});
  }
  if (alerts_add_cmd->parsed()) return app::run_client_request({"POST", "/v1/alerts", alert_rule});
  if (alerts_delete_cmd->parsed()) return app::run_client_request({"DELETE", "/v1/alerts/" + alert_id, ""});
  if (alerts_history_cmd->parsed()) return app::run_client_request({"GET", "/v1/history/alerts", ""});
  if (cancel_all_cmd->parsed()) {
    return app::run_client_request(
        {"DELETE", cancel_all_symbol.empty() ? "/v1/orders" : "/v1/orders?symbol=" + cancel_all_symbol, ""});
  }
  if (tail_cmd->parsed()) return app::run_tail(tail_channels, tail_count);
  if (loadgen_cmd->parsed()) {
    if (!fo_channels.empty()) {
      if (lg.mode != "ws") {
        std::fprintf(stderr, "bourse loadgen: --channels is the ws fan-out mode\n");
        return 2;
      }
      fo.channels.clear();
      for (std::size_t at = 0; at <= fo_channels.size();) {
        const std::size_t comma = std::min(fo_channels.find(',', at), fo_channels.size());
        if (comma > at) fo.channels.push_back(fo_channels.substr(at, comma - at));
        at = comma + 1;
      }
      fo.url = lg.url.rfind("http://", 0) == 0 ? "ws://" + lg.url.substr(7) : lg.url;
      fo.connections = lg.connections;
      fo.duration_s = lg.duration_s;
      fo.symbol = lg.symbol;
      fo.qty = lg.qty;
      fo.key = lg.key;
      fo.secret = lg.secret;
      fo.json = lg.json;
      if (loadgen_cmd->count("--price")) fo.price = lg.price;
      return app::run_fanout(fo);
    }
    if (lg.connections > 10000) {
      std::fprintf(stderr, "bourse loadgen: order modes take at most 10,000 connections\n");
      return 2;
    }
    return app::run_loadgen(lg);
  }
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
    if (tls_cert_opt->count()) serve.tls_cert_file = flags.tls_cert_file;
    if (tls_key_opt->count()) serve.tls_key_file = flags.tls_key_file;
    if (md_workers_opt->count()) serve.md_workers = flags.md_workers;
    if (md_listen_opt->count()) serve.md_listen = flags.md_listen;
    if (ingest_file_opt->count()) serve.ingest_file = flags.ingest_file;
    if (ingest_speed_opt->count()) serve.ingest_speed = flags.ingest_speed;
    if (ingest_tcp_opt->count()) serve.ingest_tcp = flags.ingest_tcp;
    if (ingest_udp_opt->count()) serve.ingest_udp = flags.ingest_udp;
    return app::run_serve(serve);
  }
  if (md_worker_cmd->parsed()) return app::run_md_worker(md_link_fd, md_settings);
  if (replay_cmd->parsed()) return run_replay(replay_dir, from_scratch, verify);
  if (rebuild_cmd->parsed()) return run_rebuild_store(rebuild_dir);
  if (reconcile_cmd->parsed()) return run_reconcile(reconcile_dir);
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

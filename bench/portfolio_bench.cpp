// Portfolio costs on one thread: valuing every account (what the value
// recorder does each interval and GET /v1/portfolio does once), and the
// reconciliation's journal replay. Builds a data directory with ACCOUNTS
// accounts funded in three assets and ORDERS random CASH and MARGIN orders
// on BTC-USD, ETH-USD and ETH-BTC (journal without fsync), feeds the read
// models from its events, then times:
//   - one valuation pass over every account in USD (PriceBook built once),
//     and the per-account median;
//   - projecting the whole history into a fresh SQLite store (rebuild-store);
//   - reconcile() over the journal and that store.
// Prints one JSON object. Usage:
//   build/release/bench/portfolio_bench [ACCOUNTS=10000] [ORDERS=200000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <vector>

#include "accounts/account_read_model.h"
#include "bourse/sequencer/exchange.h"
#include "marketdata/market_view.h"
#include "portfolio/reconcile.h"
#include "portfolio/valuation.h"
#include "projector/history_projector.h"

namespace {

using namespace bourse;
using Steady = std::chrono::steady_clock;

double seconds_since(Steady::time_point t) { return std::chrono::duration<double>(Steady::now() - t).count(); }

InstrumentSpec spec(const char* symbol, uint32_t id, uint32_t base, uint32_t quote, int64_t tick, int64_t lot,
                    int64_t reference) {
  InstrumentSpec s;
  s.symbol = Symbol::from(symbol);
  s.id = InstrumentId{id};
  s.base = AssetId{base};
  s.quote = AssetId{quote};
  s.price_scale = 2;
  s.tick_size = Price{tick};
  s.lot_size = s.min_qty = Qty{lot};
  s.max_qty = Qty{lot * 1'000};
  s.reference_price = Price{reference};
  s.band_bps = 1'000;
  s.maker_fee_ppm = 500;
  s.taker_fee_ppm = 1'000;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const uint32_t accounts = argc > 1 ? static_cast<uint32_t>(std::strtoul(argv[1], nullptr, 10)) : 10'000;
  const uint64_t orders = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 200'000;
  if (accounts < 2 || accounts > 100'000 || orders == 0) return 2;
  char tmpl[] = "/tmp/bourse-portfolio-bench-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const EngineConfig config{.max_accounts = accounts + 1, .max_assets = 8, .max_instruments = 8,
                            .order_capacity = 1u << 20, .default_max_open_orders = 1'000};
  ExchangeOptions eo;
  eo.data_dir = dir + "/data";
  eo.engine = config;
  eo.fsync = false;
  eo.snapshot_every = 0;
  std::string error;
  auto exchange = Exchange::open(eo, &error);
  if (!exchange) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  marketdata::MarketView market;
  accounts::AccountReadModel model;
  Timestamp now = 1'790'000'000'000'000'000;
  auto submit = [&](const Command& c) {
    const auto events = exchange->submit_at(c, now += 1'000);
    market.on_durable_batch(events);
    model.on_durable_batch(events);
  };
  // USD (6), BTC (8), ETH (8); BTC-USD, ETH-USD, ETH-BTC.
  submit(Command::add_asset({AssetCode::from("USD"), AssetId{1}, 6}));
  submit(Command::add_asset({AssetCode::from("BTC"), AssetId{2}, 8}));
  submit(Command::add_asset({AssetCode::from("ETH"), AssetId{3}, 8}));
  submit(Command::add_instrument(spec("BTC-USD", 1, 2, 1, 1, 100'000, 6'500'000)));
  submit(Command::add_instrument(spec("ETH-USD", 2, 3, 1, 1, 1'000'000, 320'000)));
  submit(Command::add_instrument(spec("ETH-BTC", 3, 3, 2, 1, 1'000'000, 5)));  // 0.05 BTC, tick 0.01
  SetMarginParams m{};
  m.instrument = InstrumentId{1};
  m.initial_ppm[0] = 100'000;
  m.maintenance_ppm[0] = 50'000;
  submit(Command::set_margin_params(m));
  for (uint32_t a = 1; a <= accounts; ++a) {
    submit(Command::configure_account({AccountId{a}, 0, StpMode::kCancelNewest, 1}));
    submit(Command::deposit({Amount{100'000'000'000}, AccountId{a}, AssetId{1}}));  // 100,000 USD
    submit(Command::deposit({Amount{200'000'000}, AccountId{a}, AssetId{2}}));      // 2 BTC
    submit(Command::deposit({Amount{5'000'000'000}, AccountId{a}, AssetId{3}}));    // 50 ETH
  }
  std::mt19937_64 rng(9);
  const int64_t mid[] = {0, 6'500'000, 320'000, 5};
  for (uint64_t i = 0; i < orders; ++i) {
    PlaceOrder p{};
    const uint32_t instrument = 1 + static_cast<uint32_t>(rng() % 3);
    p.account = AccountId{1 + static_cast<uint32_t>(rng() % accounts)};
    p.instrument = InstrumentId{instrument};
    p.side = rng() % 2 ? Side::kBuy : Side::kSell;
    p.type = OrderType::kLimit;
    p.tif = rng() % 4 == 0 ? TimeInForce::kIoc : TimeInForce::kGtc;
    p.price = Price{instrument == 3 ? 5 : mid[instrument] + static_cast<int64_t>(rng() % 21) - 10};
    p.qty = Qty{(instrument == 1 ? 100'000 : 1'000'000) * static_cast<int64_t>(1 + rng() % 5)};
    p.product = instrument == 1 && rng() % 2 ? Product::kMargin : Product::kCash;
    submit(Command::place_order(p));
  }
  exchange->wait_durable(exchange->last_seq());

  // Valuation: one pass over every account, each timed.
  const auto pass_start = Steady::now();
  const portfolio::PriceBook prices(market);
  const double price_book_s = seconds_since(pass_start);
  std::vector<double> per_account;
  per_account.reserve(accounts);
  Int128 checksum = 0;
  for (uint32_t a = 1; a <= accounts; ++a) {
    const auto t = Steady::now();
    const auto v = portfolio::value_account(model.holdings(AccountId{a}), prices, AssetId{1}, now / 86'400'000'000'000);
    per_account.push_back(seconds_since(t));
    checksum += v.total();
  }
  const double pass_s = seconds_since(pass_start);
  std::sort(per_account.begin(), per_account.end());

  // History projection into a fresh store, then reconciliation.
  auto store = store::open_sqlite_store(dir + "/store.sqlite", &error);
  projector::HistoryProjector history(*store);
  uint64_t records = 0;
  auto t = Steady::now();
  if (!history.rebuild(dir + "/data", config, &records, &error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  const double rebuild_s = seconds_since(t);
  portfolio::ReconcileReport report;
  t = Steady::now();
  if (!portfolio::reconcile(dir + "/data", config, store.get(), &report, &error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  const double reconcile_s = seconds_since(t);
  std::printf(
      "{\"accounts\":%u,\"orders\":%llu,\"journal_records\":%llu,\"price_book_us\":%.1f,"
      "\"valuation_pass_ms\":%.2f,\"valuation_per_account_us_p50\":%.2f,\"valuation_per_account_us_p99\":%.2f,"
      "\"rebuild_store_s\":%.2f,\"reconcile_s\":%.2f,\"reconcile_records_per_s\":%.0f,\"reconcile_ok\":%s,"
      "\"positions\":%zu,\"balances\":%zu,\"holdings\":%zu,\"total_value_checksum_usd\":%lld}\n",
      accounts, static_cast<unsigned long long>(orders), static_cast<unsigned long long>(records), price_book_s * 1e6,
      pass_s * 1e3, per_account[per_account.size() / 2] * 1e6, per_account[per_account.size() * 99 / 100] * 1e6,
      rebuild_s, reconcile_s, static_cast<double>(records) / reconcile_s, report.ok() ? "true" : "false", report.positions,
      report.balances, report.holdings, static_cast<long long>(checksum / 1'000'000));
  exchange.reset();
  std::filesystem::remove_all(dir);
  return report.ok() ? 0 : 1;
}

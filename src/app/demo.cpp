// A simulated market on the journaled exchange: a market maker quotes around
// a random walk on every instrument, takers send market and limit orders.
// Every second it prints the BTC-USD book and the latest trades. State
// persists in the data directory: a second run recovers and continues.
#include "demo.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "bourse/core/decimal.h"
#include "bourse/core/log.h"
#include "bourse/sequencer/exchange.h"

namespace bourse::app {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct DemoInstrument {
  InstrumentSpec spec;
  int base_scale;
  int quote_scale;
  int64_t mid;  // ticks, random walk
};

constexpr uint32_t kMaker = 1;
constexpr uint32_t kFirstTaker = 2;
constexpr uint32_t kTakers = 8;

std::vector<DemoInstrument> demo_instruments() {
  auto make = [](uint32_t id, const char* sym, uint32_t base, uint32_t quote, int price_scale, int64_t tick,
                 int64_t lot, int64_t ref, int base_scale, int quote_scale) {
    DemoInstrument d;
    d.spec.id = InstrumentId{id};
    d.spec.symbol = Symbol::from(sym);
    d.spec.base = AssetId{base};
    d.spec.quote = AssetId{quote};
    d.spec.price_scale = price_scale;
    d.spec.tick_size = Price{tick};
    d.spec.lot_size = Qty{lot};
    d.spec.min_qty = Qty{lot};
    d.spec.max_qty = Qty{lot * 100'000};
    d.spec.min_notional = Amount{0};
    d.spec.reference_price = Price{ref};
    d.spec.band_bps = 1'000;
    d.spec.maker_fee_ppm = 200;
    d.spec.taker_fee_ppm = 500;
    d.base_scale = base_scale;
    d.quote_scale = quote_scale;
    d.mid = ref;
    return d;
  };
  // Assets: 1 USD (6), 2 BTC (8), 3 ETH (8), 4 INR (2), 5 RELIANCE (0), 6 TCS (0).
  return {
      make(1, "BTC-USD", 2, 1, 2, 1, 100'000, 6'500'000, 8, 6),          // tick 0.01, lot 0.001 BTC
      make(2, "ETH-USD", 3, 1, 2, 1, 1'000'000, 3'200'00, 8, 6),        // tick 0.01, lot 0.01 ETH
      make(3, "RELIANCE-INR", 5, 4, 2, 5, 1, 2'900'00, 0, 2),           // tick 0.05, lot 1 share
      make(4, "TCS-INR", 6, 4, 2, 5, 1, 4'100'00, 0, 2),
  };
}

std::string fmt(int64_t v, int scale) { return format_decimal(v, scale); }

void print_book(const Engine& e, const DemoInstrument& d) {
  const auto bids = e.depth(d.spec.id, Side::kBuy, 5);
  const auto asks = e.depth(d.spec.id, Side::kSell, 5);
  const InstrumentView* v = e.instrument(d.spec.id);
  std::printf("\n%s  last %s  (seq %llu, %zu live orders)\n", std::string(d.spec.symbol.view()).c_str(),
              v->last_price ? fmt(v->last_price.value, d.spec.price_scale).c_str() : "-",
              static_cast<unsigned long long>(e.last_seq()), e.live_order_count());
  std::printf("  %14s %12s | %-12s %-14s\n", "bid qty", "bid", "ask", "ask qty");
  for (std::size_t i = 0; i < 5; ++i) {
    std::string bq, bp, ap, aq;
    if (i < bids.size()) {
      bq = fmt(bids[i].qty.value, d.base_scale);
      bp = fmt(bids[i].price.value, d.spec.price_scale);
    }
    if (i < asks.size()) {
      ap = fmt(asks[i].price.value, d.spec.price_scale);
      aq = fmt(asks[i].qty.value, d.base_scale);
    }
    std::printf("  %14s %12s | %-12s %-14s\n", bq.c_str(), bp.c_str(), ap.c_str(), aq.c_str());
  }
}

void bootstrap_market(Exchange& x, const std::vector<DemoInstrument>& instruments) {
  const AssetSpec assets[] = {{AssetCode::from("USD"), AssetId{1}, 6}, {AssetCode::from("BTC"), AssetId{2}, 8},
                              {AssetCode::from("ETH"), AssetId{3}, 8}, {AssetCode::from("INR"), AssetId{4}, 2},
                              {AssetCode::from("RELIANCE"), AssetId{5}, 0}, {AssetCode::from("TCS"), AssetId{6}, 0}};
  for (const AssetSpec& a : assets) x.submit(Command::add_asset(a));
  for (const DemoInstrument& d : instruments) x.submit(Command::add_instrument(d.spec));
  for (uint32_t a = kMaker; a < kFirstTaker + kTakers; ++a) {
    x.submit(Command::configure_account({AccountId{a}, 100'000, StpMode::kCancelOldest, {}}));
    const int64_t funds[] = {0, 50'000'000'000'000, 1'000'000'000'000, 10'000'000'000'000, 100'000'000'000,
                             10'000'000, 10'000'000};
    for (uint32_t asset = 1; asset <= 6; ++asset) {
      x.submit(Command::deposit({Amount{funds[asset]}, AccountId{a}, AssetId{asset}}));
    }
  }
}

}  // namespace

int run_demo(const DemoOptions& options) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  ExchangeOptions xo;
  xo.data_dir = options.data_dir;
  xo.snapshot_every = 100'000;
  std::string error;
  auto x = Exchange::open(xo, &error);
  if (!x) {
    std::fprintf(stderr, "bourse demo: %s\n", error.c_str());
    return 1;
  }
  std::vector<DemoInstrument> instruments = demo_instruments();
  if (x->engine().instrument(InstrumentId{1}) == nullptr) {
    bootstrap_market(*x, instruments);
    std::printf("bourse demo: new market in %s (Ctrl-C stops it; the next run recovers it)\n",
                options.data_dir.c_str());
  } else {
    std::printf("bourse demo: recovered %s at seq %llu (state hash %016llx)\n", options.data_dir.c_str(),
                static_cast<unsigned long long>(x->last_seq()),
                static_cast<unsigned long long>(x->engine().state_hash()));
    for (DemoInstrument& d : instruments) {
      const InstrumentView* v = x->engine().instrument(d.spec.id);
      if (v && v->last_price) d.mid = v->last_price.value;
    }
  }

  std::mt19937_64 rng(static_cast<uint64_t>(x->last_seq()) + 7);
  uint64_t trades = 0, orders = 0;
  std::vector<std::string> recent;
  for (int second = 0; (options.seconds == 0 || second < options.seconds) && !g_stop; ++second) {
    for (int i = 0; i < options.orders_per_second && !g_stop; ++i) {
      DemoInstrument& d = instruments[rng() % instruments.size()];
      const int64_t tick = d.spec.tick_size.value;
      d.mid += tick * (static_cast<int64_t>(rng() % 3) - 1);
      PlaceOrder p;
      p.instrument = d.spec.id;
      p.qty = Qty{d.spec.lot_size.value * static_cast<int64_t>(1 + rng() % 20)};
      if (rng() % 3 != 0) {  // the maker quotes 1..10 ticks from the mid
        p.account = AccountId{kMaker};
        p.side = (rng() & 1) ? Side::kBuy : Side::kSell;
        const int64_t away = tick * static_cast<int64_t>(1 + rng() % 10);
        p.price = Price{p.side == Side::kBuy ? d.mid - away : d.mid + away};
        p.tif = TimeInForce::kGtc;
      } else {  // a taker crosses with a market or an IOC limit
        p.account = AccountId{kFirstTaker + static_cast<uint32_t>(rng() % kTakers)};
        p.side = (rng() & 1) ? Side::kBuy : Side::kSell;
        p.tif = TimeInForce::kIoc;
        if (rng() & 1) {
          p.type = OrderType::kMarket;
        } else {
          p.price = Price{p.side == Side::kBuy ? d.mid + 3 * tick : d.mid - 3 * tick};
        }
      }
      ++orders;
      for (const Event& e : x->submit(Command::place_order(p))) {
        if (e.type != EventType::kTrade) continue;
        ++trades;
        const DemoInstrument& t = instruments[e.trade.instrument.value - 1];
        char line[160];
        std::snprintf(line, sizeof(line), "trade #%llu %s %s %s @ %s", static_cast<unsigned long long>(e.trade.trade_id.value),
                      std::string(t.spec.symbol.view()).c_str(), side_name(e.trade.aggressor_side),
                      fmt(e.trade.qty.value, t.base_scale).c_str(), fmt(e.trade.price.value, t.spec.price_scale).c_str());
        recent.emplace_back(line);
        if (recent.size() > 5) recent.erase(recent.begin());
      }
      // Keep the maker's book bounded: cancel everything now and then.
      if (orders % 5000 == 2500) x->submit(Command::cancel_all({AccountId{kMaker}, InstrumentId{}}));
    }
    x->wait_durable(x->last_seq());
    print_book(x->engine(), instruments[0]);
    for (const std::string& t : recent) std::printf("  %s\n", t.c_str());
    std::printf("  %llu orders, %llu trades so far this run; journal durable to seq %llu\n",
                static_cast<unsigned long long>(orders), static_cast<unsigned long long>(trades),
                static_cast<unsigned long long>(x->durable_seq()));
    std::fflush(stdout);
    if (!g_stop) ::usleep(1'000'000);  // wall-clock pacing only; the engine never sleeps
  }
  x->close();
  std::printf("\nbourse demo: stopped at seq %llu, state hash %016llx; snapshot written to %s/snapshots\n",
              static_cast<unsigned long long>(x->last_seq()), static_cast<unsigned long long>(x->engine().state_hash()),
              options.data_dir.c_str());
  return 0;
}

}  // namespace bourse::app

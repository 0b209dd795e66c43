#include "demo_market.h"

#include <chrono>
#include <random>

namespace bourse::app {
namespace {

InstrumentSpec make_instrument(uint32_t id, const char* symbol, uint32_t base, uint32_t quote, int price_scale,
                               int64_t tick, int64_t lot, int64_t reference) {
  InstrumentSpec s;
  s.id = InstrumentId{id};
  s.symbol = Symbol::from(symbol);
  s.base = AssetId{base};
  s.quote = AssetId{quote};
  s.price_scale = price_scale;
  s.tick_size = Price{tick};
  s.lot_size = Qty{lot};
  s.min_qty = Qty{lot};
  s.max_qty = Qty{lot * 100'000};
  s.min_notional = Amount{0};
  s.reference_price = Price{reference};
  s.band_bps = 1'000;
  s.maker_fee_ppm = 200;
  s.taker_fee_ppm = 500;
  return s;
}

}  // namespace

std::vector<Command> demo_market_commands() {
  std::vector<Command> out;
  // Assets: 1 USD (6), 2 BTC (8), 3 ETH (8), 4 INR (2), 5 RELIANCE (0), 6 TCS (0).
  const AssetSpec assets[] = {{AssetCode::from("USD"), AssetId{1}, 6}, {AssetCode::from("BTC"), AssetId{2}, 8},
                              {AssetCode::from("ETH"), AssetId{3}, 8}, {AssetCode::from("INR"), AssetId{4}, 2},
                              {AssetCode::from("RELIANCE"), AssetId{5}, 0}, {AssetCode::from("TCS"), AssetId{6}, 0}};
  for (const AssetSpec& a : assets) out.push_back(Command::add_asset(a));
  out.push_back(Command::add_instrument(make_instrument(1, "BTC-USD", 2, 1, 2, 1, 100'000, 6'500'000)));   // tick 0.01, lot 0.001
  out.push_back(Command::add_instrument(make_instrument(2, "ETH-USD", 3, 1, 2, 1, 1'000'000, 320'000)));   // tick 0.01, lot 0.01
  out.push_back(Command::add_instrument(make_instrument(3, "RELIANCE-INR", 5, 4, 2, 5, 1, 290'000)));      // tick 0.05, lot 1
  out.push_back(Command::add_instrument(make_instrument(4, "TCS-INR", 6, 4, 2, 5, 1, 410'000)));
  const int64_t funds[] = {0, 50'000'000'000'000, 1'000'000'000'000, 10'000'000'000'000, 100'000'000'000,
                           10'000'000, 10'000'000};
  for (uint32_t a : {kSimMakerAccount, kSimTakerAccount}) {
    out.push_back(Command::configure_account({AccountId{a}, 100'000, StpMode::kCancelOldest, {}}));
    for (uint32_t asset = 1; asset <= 6; ++asset) {
      out.push_back(Command::deposit({Amount{funds[asset]}, AccountId{a}, AssetId{asset}}));
    }
  }
  return out;
}

MarketSimulator::MarketSimulator(EngineService& service, std::vector<InstrumentSpec> instruments,
                                 std::vector<Price> mids, int orders_per_second)
    : service_(service), instruments_(std::move(instruments)), orders_per_second_(orders_per_second) {
  for (Price p : mids) mids_.push_back(p.value);
}

MarketSimulator::~MarketSimulator() { stop(); }

void MarketSimulator::start() {
  thread_ = std::thread([this] { run(); });
}

void MarketSimulator::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void MarketSimulator::run() {
  std::mt19937_64 rng(std::random_device{}());
  // Ten rounds a second; each round re-quotes one instrument and may take.
  const auto period = std::chrono::milliseconds(100);
  const int per_round = std::max(1, orders_per_second_ / 10);
  uint64_t round = 0;
  auto next = std::chrono::steady_clock::now();
  while (!stop_.load()) {
    for (int n = 0; n < per_round; ++n) {
      const std::size_t k = static_cast<std::size_t>(rng() % instruments_.size());
      const InstrumentSpec& s = instruments_[k];
      int64_t& mid = mids_[k];
      const int64_t tick = s.tick_size.value;
      mid = std::max<int64_t>(tick * 10, mid + tick * (static_cast<int64_t>(rng() % 5) - 2));
      PlaceOrder p{};
      p.instrument = s.id;
      p.qty = Qty{s.lot_size.value * static_cast<int64_t>(1 + rng() % 20)};
      p.side = (rng() & 1) ? Side::kBuy : Side::kSell;
      if (rng() % 4 != 0) {  // the maker quotes 1..10 ticks from the mid
        p.account = AccountId{kSimMakerAccount};
        const int64_t away = tick * static_cast<int64_t>(1 + rng() % 10);
        p.price = Price{p.side == Side::kBuy ? mid - away : mid + away};
        p.tif = TimeInForce::kGtc;
      } else {  // the taker crosses with an IOC limit
        p.account = AccountId{kSimTakerAccount};
        p.tif = TimeInForce::kIoc;
        p.price = Price{p.side == Side::kBuy ? mid + 3 * tick : mid - 3 * tick};
      }
      service_.submit(Command::place_order(p), nullptr);  // a full queue just skips a quote
    }
    // Keep the maker's book bounded: refresh it every 30 s.
    if (++round % 300 == 0) service_.submit(Command::cancel_all({AccountId{kSimMakerAccount}, InstrumentId{}}), nullptr);
    next += period;
    std::this_thread::sleep_until(next);
  }
}

}  // namespace bourse::app

// The demo market `bourse serve` creates in a new data directory: assets,
// instruments (BTC-USD, ETH-USD, RELIANCE-INR, TCS-INR) and the accounts of
// the simulated market maker; and the simulator itself (`--simulate`), which
// quotes around a random walk and sends taker orders through the same
// EngineService queue as every client.
#pragma once

#include <atomic>
#include <thread>
#include <vector>

#include "bourse/sequencer/engine_service.h"

namespace bourse::app {

// Simulator accounts: far above the accounts given to users.
constexpr uint32_t kSimMakerAccount = 65'001;
constexpr uint32_t kSimTakerAccount = 65'002;

// Commands that create the demo market; applied once, to an empty engine.
std::vector<Command> demo_market_commands();

class MarketSimulator {
 public:
  // orders_per_second across all instruments.
  MarketSimulator(EngineService& service, std::vector<InstrumentSpec> instruments, std::vector<Price> mids,
                  int orders_per_second);
  ~MarketSimulator();  // stop()
  void start();
  void stop();

 private:
  void run();

  EngineService& service_;
  std::vector<InstrumentSpec> instruments_;
  std::vector<int64_t> mids_;
  int orders_per_second_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace bourse::app

// ValueRecorder: the portfolio value history. On a fixed UTC grid (every
// interval from the epoch; the interval divides a day, so every midnight is a
// point) it values every account that holds anything in the reporting
// currency (valuation.h) and stores one row per account. The day's opening
// value that day PnL is measured from is the point at midnight.
//
// Its own thread; reads the read models under their shared locks and writes
// the store (one transaction per point, pruning past the retention). A point
// is never back-filled: prices from a time the process was down are unknown.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "accounts/account_read_model.h"
#include "bourse/core/clock.h"
#include "marketdata/market_view.h"
#include "store/store.h"

namespace bourse::portfolio {

class ValueRecorder {
 public:
  struct Options {
    std::string currency = "USD";  // an asset code; no points while no such asset exists
    int64_t interval_ns = 900'000'000'000;
    int64_t retention_ns = 0;  // 0: forever
  };
  ValueRecorder(store::Store& store, const accounts::AccountReadModel& accounts, const marketdata::MarketView& market,
                Clock& clock, Options options);
  ~ValueRecorder();

  void start();
  void stop();
  // Values every account now and stores the rows at grid time `at`.
  // Returns the number of rows written (0 also when the store refused).
  std::size_t record(int64_t at);

 private:
  void run();

  store::Store& store_;
  const accounts::AccountReadModel& accounts_;
  const marketdata::MarketView& market_;
  Clock& clock_;
  Options options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace bourse::portfolio

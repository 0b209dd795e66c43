#include "portfolio/value_recorder.h"

#include <algorithm>
#include <chrono>

#include "bourse/core/decimal.h"
#include "bourse/core/log.h"
#include "portfolio/valuation.h"

namespace bourse::portfolio {

ValueRecorder::ValueRecorder(store::Store& store, const accounts::AccountReadModel& accounts,
                             const marketdata::MarketView& market, Clock& clock, Options options)
    : store_(store), accounts_(accounts), market_(market), clock_(clock), options_(options) {}

ValueRecorder::~ValueRecorder() { stop(); }

void ValueRecorder::start() { thread_ = std::thread([this] { run(); }); }

void ValueRecorder::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t ValueRecorder::record(int64_t at) {
  const auto currency = market_.asset(options_.currency);
  if (!currency) return 0;
  const PriceBook prices(market_);
  const int64_t today = clock_.now() / 86'400'000'000'000;
  std::vector<store::PortfolioValueRow> rows;
  for (AccountId account : accounts_.account_ids()) {
    const accounts::AccountHoldings h = accounts_.holdings(account);
    if (h.balances.empty() && h.positions.empty()) continue;
    const Valuation v = value_account(h, prices, currency->id, today);
    rows.push_back(store::PortfolioValueRow{account.value, at, currency->id.value, format_wide_decimal(v.total(), 0),
                                            v.complete});
  }
  const int64_t prune = options_.retention_ns > 0 ? at - options_.retention_ns : 0;
  if (store_.put_portfolio_values(rows, prune) != store::StoreError::kOk) {
    log_line(LogLevel::kError, "portfolio", "the store refused %zu portfolio values", rows.size());
    return 0;
  }
  return rows.size();
}

void ValueRecorder::run() {
  const int64_t interval = options_.interval_ns;
  int64_t last = clock_.now() / interval * interval;  // the first point is the next one on the grid
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const int64_t now = clock_.now();
    const int64_t point = now / interval * interval;
    if (point > last) {
      lock.unlock();
      record(point);
      lock.lock();
      last = point;
      continue;
    }
    // Wake at the next point (at most a second late; never oversleeping a
    // clock that was set forward).
    const int64_t wait_ns = std::clamp<int64_t>(last + interval - now, 1'000'000, 1'000'000'000);
    wake_.wait_for(lock, std::chrono::nanoseconds(wait_ns), [&] { return stopping_; });
  }
}

}  // namespace bourse::portfolio

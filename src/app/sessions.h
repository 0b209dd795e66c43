// Trading sessions (docs/engine.md, "Sessions"; [[sessions]] in
// docs/configuration.md). A market's calendar — local time as a UTC offset,
// trading days, holidays, pre-open, open and close — decides each moment's
// phase; SessionScheduler keeps every instrument of the market in the status
// its phase calls for, through ordinary engine commands:
//   pre-open → PRE_OPEN (orders collected, no matching),
//   open     → TRADING (from PRE_OPEN the engine runs the opening auction),
//   closed   → SESSION_CLOSED (the engine expires DAY orders with it).
// It moves instruments in one of those three statuses, and ends a circuit
// breaker's halt at the close; an operator's HALTED and CLOSED are left
// alone (at the close their DAY orders still expire).
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "app/session_calendar.h"
#include "bourse/core/clock.h"
#include "bourse/sequencer/engine_service.h"
#include "marketdata/market_view.h"

namespace bourse::app {

class SessionScheduler {
 public:
  SessionScheduler(EngineService& service, const marketdata::MarketView& market, Clock& clock,
                   std::vector<SessionSchedule> schedules);
  ~SessionScheduler();
  void start();
  void stop();
  // One pass: submits what the phases call for. Returns the commands submitted.
  std::size_t tick();

 private:
  EngineService& service_;
  const marketdata::MarketView& market_;
  Clock& clock_;
  std::vector<SessionSchedule> schedules_;
  // What was last asked of each instrument and when: not asked again while
  // the command is on its way (the market view lags the engine slightly).
  std::map<uint32_t, std::pair<InstrumentStatus, Timestamp>> asked_;
  std::set<std::string> unknown_;  // symbols warned about
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace bourse::app

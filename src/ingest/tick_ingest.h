// TickIngest: ticks from outside the venue → ExternalTrade commands. Every
// source (file replay, line feeds) hands it lines; it resolves the symbol
// (an external instrument), converts price and quantity exactly at the
// instrument's scales and checks everything the engine would (tick, lot,
// notional), keeps each instrument's ticks in time order (a tick older
// than the instrument's newest is LATE_TICK: candles only move forward, and
// memory and the history store then agree bar for bar; one more than five
// minutes ahead of the server's clock is BAD_TIME, so a mistyped year cannot
// block an instrument), and submits the command. The check and the submit
// happen under one lock, so two sources cannot reach the engine out of
// order, and a tick that is not submitted does not move the newest time. The engine journals it like any other command, so
// external prices replay exactly after a crash; the dispatcher then feeds
// the same MarketView (trades, candles, indicators, tickers), WebSocket
// channels and history as venue trades.
//
// Threads: any (sources call from their own threads); one mutex guards the
// symbol cache and the per-instrument newest time.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "bourse/core/clock.h"
#include "bourse/sequencer/engine_service.h"
#include "ingest/tick_line.h"
#include "marketdata/market_view.h"

namespace bourse::ingest {

struct IngestCounters {
  std::atomic<uint64_t> accepted{0};        // submitted to the engine
  std::atomic<uint64_t> refused{0};         // refused here (malformed, unknown symbol, late, …)
  std::atomic<uint64_t> engine_rejected{0}; // submitted, then refused by the engine
  std::atomic<uint64_t> applied{0};         // durable and applied
};

class TickIngest final : public CommandCompletion {
 public:
  TickIngest(EngineService& engine, const marketdata::MarketView& market, Clock& clock)
      : engine_(engine), market_(market), clock_(clock) {}

  // One line of any source. kOk: submitted (the engine may still refuse it:
  // counted in engine_rejected). `wait_ms`: how long a full engine queue
  // may hold this call (sources that can wait apply backpressure; UDP passes 0).
  TickError submit_line(std::string_view line, int wait_ms);
  TickError submit(const TickLine& tick, int wait_ms);

  const IngestCounters& counters() const { return counters_; }

  void complete(const CommandOutcome& outcome) override;  // dispatcher thread

 private:
  struct Instrument {
    uint32_t id = 0;
    int price_scale = 0, qty_scale = 0;
    int64_t tick = 1, lot = 1, divisor = 1;  // the engine's rules, checked here first
    bool external = false;
    int64_t newest_ns = 0;  // the newest tick accepted (seeded from the market's last trade)
  };
  Instrument* resolve(std::string_view symbol);  // mutex_ held

  EngineService& engine_;
  const marketdata::MarketView& market_;
  Clock& clock_;
  std::mutex mutex_;
  std::unordered_map<std::string, Instrument> instruments_;
  IngestCounters counters_;
};

}  // namespace bourse::ingest

// HistoryProjector: writes order, fill and ledger history to the store from
// durable engine events, on its own thread, never on the order path.
//
// The dispatcher hands it each durable batch (a copy into a queue under a
// mutex; it never waits for SQLite). The projector gathers for up to 10 ms
// (or 20,000 events) and writes one transaction, so history runs a few
// milliseconds behind the acknowledgements. The projector thread mirrors account
// state with its own AccountReadModel (the same rules the REST reads use),
// turns each event into rows, and writes one transaction per batch together
// with the journal seq the history is complete up to.
//
// Venue trades become public trade rows and candle deltas (every interval,
// merged per bar), pruned per the market retention (docs/market-data.md).
//
// Commands sent with an Idempotency-Key (a tag in the header's correlation)
// also get an idempotency row: their outcome, which the gateway loads at
// start so that a retry after a restart is answered, not executed again.
//
// Recovery: a clean shutdown records history_seq = the engine's last seq, so
// the next start only loads live orders from the recovered engine. After a
// crash (history_seq behind the journal) catch_up() replays the journal from
// the start through a shadow engine and projects what is missing; rows are
// keyed, so projecting an event twice changes nothing. `bourse rebuild-store`
// clears the history and projects the whole journal the same way.
//
// If the queue ever holds more than max_pending events (the store stalled),
// the projector stops writing rather than block the dispatcher or grow
// without bound; history then stays complete up to its last seq, and the
// next start catches up from the journal.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <tuple>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "accounts/account_read_model.h"
#include "bourse/sequencer/engine_service.h"
#include "marketdata/market_view.h"
#include "store/store.h"

namespace bourse::projector {

class HistoryProjector final : public EventListener {
 public:
  explicit HistoryProjector(store::Store& store, std::size_t max_pending = 1u << 20);
  ~HistoryProjector();

  // Before the service starts: brings the store's history up to the
  // recovered engine (`engine`, opened on `data_dir`). False and *error when
  // the journal cannot be replayed or the store cannot be written.
  bool catch_up(const std::string& data_dir, const Engine& engine, std::string* error);
  // Clears the history and projects the whole journal (rebuild-store), on a
  // projector that has not projected anything yet.
  // Returns the number of journal records replayed.
  bool rebuild(const std::string& data_dir, const EngineConfig& config, uint64_t* records, std::string* error);

  // How long trades and candles are kept (default: forever). Before start().
  void set_market_retention(const store::MarketRetention& r) { retention_ = r; }

  void start();
  // Writes everything queued, then records `last_seq` as complete (a clean
  // stop: commands without events, e.g. heartbeats, leave no other trace).
  void stop(uint64_t last_seq);

  void on_durable_batch(std::span<const Event> events) override;

  uint64_t projected_seq() const;
  bool stalled() const;

 private:
  // Events → rows, applying them to the mirror as it goes.
  void project(std::span<const Event> events, uint64_t min_seq, store::HistoryBatch* batch);
  void order_row(AccountId account, OrderId id, uint64_t seq, store::HistoryBatch* batch);
  void idempotency_row(const Event& e, store::HistoryBatch* batch);
  void market_rows(const store::TradeHistoryRow& row, store::HistoryBatch* batch);
  bool write(store::HistoryBatch& batch);
  // Replays the whole journal through a shadow engine, writing rows for
  // events at or after min_seq (the mirror sees every event).
  bool replay_into_store(const std::string& data_dir, const EngineConfig& config, uint64_t min_seq,
                         uint64_t* records, std::string* error);
  void run();

  store::Store& store_;
  const std::size_t max_pending_;
  accounts::AccountReadModel mirror_;  // the projector thread's own account state
  std::unordered_map<uint64_t, std::size_t> batch_orders_;  // order id → its row in the batch being built
  // (instrument, interval, open time) → its candle delta in the batch being built
  std::map<std::tuple<uint32_t, uint8_t, int64_t>, std::size_t> batch_candles_;
  std::map<std::pair<uint32_t, uint32_t>, std::size_t> batch_holdings_;  // (account, asset) → its row
  store::MarketRetention retention_;
  int64_t latest_time_ms_ = 0;  // newest projected command time
  int64_t last_prune_ms_ = 0;   // when expired idempotency rows were last deleted

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Event> pending_;
  bool stopping_ = false;
  bool stalled_ = false;
  uint64_t projected_seq_ = 0;
  std::thread thread_;
};

// What the history knows about live orders and the engine does not (creation
// time, fill notional, fees): restores them into a read model after a restart.
std::vector<accounts::OrderDetails> live_order_details(store::Store& store);

// The cost basis of holdings as the store keeps it (not engine state):
// restores it into a read model after a restart. *history_seq (if given):
// the seq the rows are complete to, read with them.
std::vector<accounts::HoldingCost> stored_holding_costs(store::Store& store, uint64_t* history_seq);
store::HoldingCostRow holding_row_of(const accounts::HoldingCost& h);
bool holding_of(const store::HoldingCostRow& row, accounts::HoldingCost* out);

// A stored candle in marketdata's form.
marketdata::Candle candle_of(const store::CandleHistoryRow& row);
// Seeds every instrument's market history from the store: candles (the
// newest `keep` closed bars and the open one, per interval, with their
// indicators), the recent trades and the 24-hour ticker's minutes, so they
// continue across restarts. Before the service starts, after catch_up().
void restore_market(store::Store& store, marketdata::MarketView& market, std::size_t keep);

}  // namespace bourse::projector

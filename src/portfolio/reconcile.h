// Reconciliation: recomputes positions, balances and the cost basis of
// holdings from the journal and compares them with what was derived from
// events and kept (docs/portfolio.md, "Reconciliation"). There must be no
// difference; any is a bug, reported with the account and the figures.
//
// It replays the journal from seq 1 through a fresh engine (read-only: a
// torn tail is where it stops, nothing is repaired; a running server's
// directory is fine) and checks:
//   1. every MARGIN position recomputed from the MARGIN fills alone
//      (position.h arithmetic) against the engine's own positions and
//      against the read model's (PositionChanged events);
//   2. every balance the read model derived from events against the engine's;
//   3. the store's cost basis of holdings (projected by the history projector,
//      complete to its history_seq S) against the cost basis recomputed from
//      the events up to S.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bourse/engine/engine.h"
#include "store/store.h"

namespace bourse::portfolio {

struct ReconcileReport {
  uint64_t journal_seq = 0;   // the last replayed record
  uint64_t store_seq = 0;     // the store's history_seq the holdings were compared at
  std::size_t positions = 0;  // lines compared
  std::size_t balances = 0;
  std::size_t holdings = 0;
  std::size_t difference_count = 0;
  std::vector<std::string> differences;  // the first kMaxListed, one line each
  static constexpr std::size_t kMaxListed = 100;
  bool ok() const { return difference_count == 0; }
};

// False and *error when the journal cannot be replayed. `store` may be null
// (then step 3 is skipped).
bool reconcile(const std::string& data_dir, const EngineConfig& config, store::Store* store, ReconcileReport* report,
               std::string* error);

}  // namespace bourse::portfolio

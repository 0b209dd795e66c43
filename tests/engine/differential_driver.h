// Differential testing: the same random command stream goes to the real
// engine and to the naive reference engine; after every command the events
// (all of them, field by field), balances, books, live orders, accounts and
// instruments must be identical, and the invariants of docs/engine.md must
// hold on the real engine.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "bourse/engine/event.h"
#include "engine/random_commands.h"

namespace bourse::testing {

struct DifferentialResult {
  bool ok = true;
  std::string failure;    // seed, command index, command, both event lists
  uint64_t commands = 0;  // commands applied (setup included)
  std::map<EventType, uint64_t> event_counts;
  std::map<RejectReason, uint64_t> reject_counts;
  std::map<CancelReason, uint64_t> cancel_counts;
  std::map<ExpireReason, uint64_t> expire_counts;
  std::map<uint8_t, uint64_t> priority_kept_counts;  // OrderAmended.priority_kept -> count
};

// Runs setup plus `commands` random commands from `seed`; stops at the first mismatch.
DifferentialResult run_differential(uint64_t seed, uint64_t commands, const RandomCommandConfig& config);

}  // namespace bourse::testing

// State invariants from docs/engine.md ("Invariants after every command"),
// checked through query APIs only, so they hold the real engine and the
// reference engine to the same rules.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bourse/engine/engine.h"

namespace bourse::testing {

class ReferenceEngine;

// Everything the checks look at, gathered from either engine.
struct InvariantInput {
  struct Book {
    InstrumentId instrument;
    std::vector<LevelView> bids;  // best first
    std::vector<LevelView> asks;  // best first
  };
  std::vector<AssetId> assets;
  std::vector<AccountId> accounts;                            // every account, fee account included
  std::map<uint32_t, uint32_t> reported_open_orders;          // account -> open_orders as the engine reports it
  std::map<std::pair<uint32_t, uint32_t>, Balance> balances;  // (account, asset)
  std::vector<OrderView> orders;                              // live orders
  std::vector<Book> books;
  std::map<uint32_t, int64_t> pool;   // margin pool per asset (absent = 0)
  std::set<uint32_t> margin_accounts; // accounts that may owe the pool (available below zero)
};

// `supply` is deposits - withdrawals per asset id (absent = 0).
// Returns "" when every invariant holds, else a description of the first failures.
std::string check_invariants(const Engine& engine, const std::map<uint32_t, int64_t>& supply);
std::string check_invariants(const ReferenceEngine& engine, const std::map<uint32_t, int64_t>& supply);
std::string check_invariants(const InvariantInput& input, const std::map<uint32_t, int64_t>& supply);

}  // namespace bourse::testing

// CostBasis: what each account paid for the assets it holds outright (CASH
// trades), by the average-cost method, and its net transfers of the current
// UTC day (so that a day's PnL does not count a deposit as profit).
//
// Rules (docs/portfolio.md):
// - A CASH buy of asset A through an instrument quoted in Q adds its quantity
//   and its notional plus fee to A's cost line in Q. Lines are per quote
//   currency, so the cost is always in the currency that was paid.
// - A CASH sell through Q draws from A's line in Q first: it releases the
//   line's cost in proportion (truncated; a full close releases all of it) and
//   realizes the covered part's proceeds minus fee minus released cost.
// - A holding may be larger than its lines (deposits have no known cost). When
//   the holding's total (available + locked) drops below Σ line quantities
//   (a withdrawal, or a sale beyond its own quote's line), the excess is taken
//   from the lines in proportion and releases cost without realizing anything:
//   unknown-cost units leave first.
// Exact: quantities in base minor units, costs in quote minor units, 128-bit.
//
// Not thread-safe: the AccountReadModel owns one under its lock; the history
// projector's mirror owns another and persists what changes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bourse/core/checked.h"
#include "bourse/engine/types.h"

namespace bourse::accounts {

struct CostLine {
  AssetId quote{0};     // the currency the cost is in
  int64_t qty = 0;      // base minor units bought through this quote and still held
  Int128 cost = 0;      // quote minor units, notional + fees of those units
  Int128 realized = 0;  // quote minor units, cumulative: sales' proceeds − fees − released cost
  bool operator==(const CostLine&) const = default;
};

struct HoldingCost {
  AccountId account{0};
  AssetId asset{0};
  std::vector<CostLine> lines;  // ascending quote
  int64_t flow_day = -1;        // UTC day (ns / 86,400 s) that net_flow counts
  int64_t net_flow = 0;         // deposits − withdrawals on flow_day, minor units (saturated)
  bool empty() const { return lines.empty() && net_flow == 0; }
  bool operator==(const HoldingCost&) const = default;
};

// Text form for the store: "quote:qty:cost:realized" per line, ';'-separated.
std::string encode_cost_lines(const std::vector<CostLine>& lines);
// False on malformed text (the store's own rows are never malformed).
bool decode_cost_lines(const std::string& text, std::vector<CostLine>* lines);

class CostBasis {
 public:
  static constexpr int64_t kNanosPerDay = 86'400'000'000'000;

  void add_instrument(InstrumentId id, AssetId base, AssetId quote);
  // A fill of a CASH order (`side` is the account's side).
  void on_cash_fill(AccountId account, InstrumentId instrument, Side side, int64_t qty, int64_t notional, int64_t fee);
  void on_transfer(AccountId account, AssetId asset, int64_t amount, bool deposit, Timestamp time);
  // The holding's final total (available + locked) after a command.
  void on_total(AccountId account, AssetId asset, int64_t total);

  // nullptr: nothing known (no cost and no flow).
  const HoldingCost* find(AccountId account, AssetId asset) const;
  std::vector<HoldingCost> of(AccountId account) const;  // ascending asset
  void for_each(const std::function<void(const HoldingCost&)>& fn) const;
  void put(const HoldingCost& h);  // restore from the store

  // Change tracking for persistence: off by default (the live read model
  // never drains). drain_changes returns each changed holding's final state
  // (an empty() one means "delete").
  void track_changes(bool on) { track_ = on; }
  std::vector<HoldingCost> drain_changes();

 private:
  using Key = std::pair<uint32_t, uint32_t>;  // account, asset
  HoldingCost& at(AccountId account, AssetId asset);
  void touched(const Key& k);

  std::map<Key, HoldingCost> holdings_;
  std::unordered_map<uint32_t, std::pair<AssetId, AssetId>> instruments_;  // id → base, quote
  bool track_ = false;
  std::set<Key> changed_;
};

}  // namespace bourse::accounts

// AlertBook: price alerts kept so that a tick costs O(log n + alerts fired),
// not a scan (docs/alerts.md). Per instrument, the thresholds of "crosses
// above" and "crosses below" rules sit in two sorted maps, each threshold
// with the ids of its rules; a price move from `from` to `to` fires exactly
// the rules whose threshold lies in the range it crossed:
//   crosses above: from < threshold <= to,
//   crosses below: from > threshold >= to.
// A one-shot rule leaves the book when it fires; a recurring one stays and
// fires again at a later crossing once its cool-down has passed (a crossing
// inside the cool-down is skipped, never fired late). While cooling down a
// rule is out of the index (in a queue by the time it re-arms), so a crossed
// threshold holds only rules that fire: a tick costs the lookups plus what
// it fires. A rule past its expiry never fires and is dropped when met or swept.
// Level rules (at or above / at or below a value under a watch key) share
// the same index, cool-downs and expiry; AlertEngine computes their values.
//
// Not thread-safe: one owner (the alert service's thread) feeds it ticks and
// rule changes in order.
#pragma once

#include <cstdint>
#include <map>
#include <unordered_map>
#include <vector>

#include "bourse/core/types.h"

namespace bourse::alerts {

// Removes the one (key, id) pair of a time-keyed queue, if there.
void erase_entry(std::multimap<Timestamp, uint64_t>& m, Timestamp key, uint64_t id);

// Crossings watch an instrument's last price move by move; levels watch a
// value someone else computes (a percent change, a volume ratio, an
// indicator) under a `watch` key and fire while it is at or past the
// threshold.
enum class AlertCondition : uint8_t { kCrossesAbove = 1, kCrossesBelow = 2, kAtOrAbove = 3, kAtOrBelow = 4 };

inline bool is_crossing(AlertCondition c) {
  return c == AlertCondition::kCrossesAbove || c == AlertCondition::kCrossesBelow;
}

struct AlertRule {
  uint64_t id = 0;
  AccountId account{0};
  InstrumentId instrument{0};
  AlertCondition condition = AlertCondition::kCrossesAbove;
  Price threshold{0};        // crossings: a price (> 0); levels: any value in the watch's units
  uint64_t watch = 0;        // levels: the key their values arrive under (on_level); crossings: unused
  bool recurring = false;
  int64_t cooldown_ns = 0;     // recurring: the least time between two firings
  Timestamp expire_at = 0;     // 0: never
  Timestamp last_fired = 0;    // 0: never fired
};

struct AlertFired {
  uint64_t alert_id = 0;
  AccountId account{0};
  InstrumentId instrument{0};
  AlertCondition condition = AlertCondition::kCrossesAbove;
  Price threshold{0};
  Price price{0};  // the price that crossed it (levels: the value)
  Timestamp time = 0;
  bool last = false;  // the rule left the book (one-shot)
};

class AlertBook {
 public:
  // False if the id exists or the rule is malformed (no id, a crossing's
  // threshold <= 0, a level without a watch, a negative cool-down).
  bool add(const AlertRule& rule);
  bool remove(uint64_t id);
  const AlertRule* find(uint64_t id) const;
  std::size_t size() const { return rules_.size(); }

  // The instrument's price moved from `from` to `to` at `time` (from 0: its
  // first price, which crosses nothing). Appends what fired, in the order
  // the prices were crossed (then by rule id).
  void on_price(InstrumentId instrument, Price from, Price to, Timestamp time, std::vector<AlertFired>* fired);
  // The value under `watch` is now `value`: every armed level rule of that
  // watch whose condition holds fires (at-or-above: threshold <= value,
  // then at-or-below: threshold >= value; each by threshold, then id). Level
  // rules are level-triggered: a recurring one fires again after its
  // cool-down if the condition still holds.
  void on_level(uint64_t watch, int64_t value, Timestamp time, std::vector<AlertFired>* fired);
  // Drops every rule whose expiry is at or before `now`; returns their ids.
  std::vector<uint64_t> expire(Timestamp now);

 private:
  using Index = std::map<int64_t, std::vector<uint64_t>>;  // threshold → rule ids (ascending)
  struct Sides {
    Index above;
    Index below;
  };
  struct Entry {
    AlertRule rule;
    Timestamp rearm_at = 0;  // > 0: cooling down, out of the index until then
  };
  Index& index_of(const AlertRule& r);
  void index(const AlertRule& r);
  void unindex(const AlertRule& r);
  // Fires every rule of one crossed threshold (the bucket is taken out of
  // the index): one-shots and expired rules leave, recurring ones cool down.
  void fire_bucket(std::vector<uint64_t> ids, Price price, Timestamp time, std::vector<AlertFired>* fired);
  void rearm(Timestamp now);

  std::unordered_map<uint64_t, Entry> rules_;
  std::unordered_map<uint32_t, Sides> by_instrument_;  // crossings
  std::unordered_map<uint64_t, Sides> by_watch_;       // levels
  std::multimap<Timestamp, uint64_t> expiries_;
  std::multimap<Timestamp, uint64_t> cooling_;  // re-arm time → rule
};

}  // namespace bourse::alerts

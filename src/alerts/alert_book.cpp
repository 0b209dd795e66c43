#include "alerts/alert_book.h"

#include <algorithm>

namespace bourse::alerts {

void erase_entry(std::multimap<Timestamp, uint64_t>& m, Timestamp key, uint64_t id) {
  auto [b, e] = m.equal_range(key);
  for (auto x = b; x != e; ++x) {
    if (x->second == id) {
      m.erase(x);
      return;
    }
  }
}

AlertBook::Index& AlertBook::index_of(const AlertRule& r) {
  Sides& s = is_crossing(r.condition) ? by_instrument_[r.instrument.value] : by_watch_[r.watch];
  return r.condition == AlertCondition::kCrossesAbove || r.condition == AlertCondition::kAtOrAbove ? s.above : s.below;
}

void AlertBook::index(const AlertRule& r) {
  std::vector<uint64_t>& bucket = index_of(r)[r.threshold.value];
  bucket.insert(std::upper_bound(bucket.begin(), bucket.end(), r.id), r.id);
}

void AlertBook::unindex(const AlertRule& r) {
  Index& index = index_of(r);
  auto it = index.find(r.threshold.value);
  if (it == index.end()) return;
  auto& ids = it->second;
  auto pos = std::lower_bound(ids.begin(), ids.end(), r.id);
  if (pos != ids.end() && *pos == r.id) ids.erase(pos);
  if (ids.empty()) index.erase(it);
}

bool AlertBook::add(const AlertRule& rule) {
  if (rule.id == 0 || rule.cooldown_ns < 0 || rules_.count(rule.id)) return false;
  switch (rule.condition) {
    case AlertCondition::kCrossesAbove:
    case AlertCondition::kCrossesBelow:
      if (rule.threshold.value <= 0) return false;
      break;
    case AlertCondition::kAtOrAbove:
    case AlertCondition::kAtOrBelow:
      if (rule.watch == 0) return false;
      break;
    default: return false;
  }
  Entry& e = rules_.emplace(rule.id, Entry{rule, 0}).first->second;
  // A restored rule may still be cooling down from its last firing.
  if (rule.recurring && rule.last_fired && rule.cooldown_ns > 0) {
    e.rearm_at = rule.last_fired + rule.cooldown_ns;
    cooling_.emplace(e.rearm_at, rule.id);
  } else {
    index(rule);
  }
  if (rule.expire_at) expiries_.emplace(rule.expire_at, rule.id);
  return true;
}

bool AlertBook::remove(uint64_t id) {
  auto it = rules_.find(id);
  if (it == rules_.end()) return false;
  const Entry& e = it->second;
  if (e.rearm_at) erase_entry(cooling_, e.rearm_at, id); else unindex(e.rule);
  if (e.rule.expire_at) erase_entry(expiries_, e.rule.expire_at, id);
  rules_.erase(it);
  return true;
}

const AlertRule* AlertBook::find(uint64_t id) const {
  auto it = rules_.find(id);
  return it == rules_.end() ? nullptr : &it->second.rule;
}

void AlertBook::rearm(Timestamp now) {
  while (!cooling_.empty() && cooling_.begin()->first <= now) {
    const uint64_t id = cooling_.begin()->second;
    cooling_.erase(cooling_.begin());
    Entry& e = rules_.at(id);
    e.rearm_at = 0;
    index(e.rule);
  }
}

void AlertBook::fire_bucket(std::vector<uint64_t> ids, Price price, Timestamp time, std::vector<AlertFired>* fired) {
  for (const uint64_t id : ids) {
    Entry& e = rules_.at(id);
    AlertRule& r = e.rule;
    if (r.expire_at && r.expire_at <= time) {  // met after its expiry: dropped, never fired
      erase_entry(expiries_, r.expire_at, id);
      rules_.erase(id);
      continue;
    }
    r.last_fired = time;
    fired->push_back(AlertFired{id, r.account, r.instrument, r.condition, r.threshold, price, time, !r.recurring});
    if (!r.recurring) {
      if (r.expire_at) erase_entry(expiries_, r.expire_at, id);
      rules_.erase(id);
    } else if (r.cooldown_ns > 0) {
      e.rearm_at = time + r.cooldown_ns;
      cooling_.emplace(e.rearm_at, id);
    } else {
      index(r);  // no cool-down: armed again for the next crossing
    }
  }
}

void AlertBook::on_price(InstrumentId instrument, Price from, Price to, Timestamp time,
                         std::vector<AlertFired>* fired) {
  if (!cooling_.empty() && cooling_.begin()->first <= time) rearm(time);
  if (from.value <= 0 || from == to) return;
  auto sides = by_instrument_.find(instrument.value);
  if (sides == by_instrument_.end()) return;
  if (to > from) {
    // Thresholds in (from, to], lowest first: the order the price crossed them.
    Index& index = sides->second.above;
    auto it = index.upper_bound(from.value);
    while (it != index.end() && it->first <= to.value) {
      const int64_t threshold = it->first;
      std::vector<uint64_t> ids = std::move(it->second);
      index.erase(it);
      fire_bucket(std::move(ids), to, time, fired);
      it = index.upper_bound(threshold);  // past it: a rule re-armed at once waits for the next crossing
    }
  } else {
    // Thresholds in [to, from), highest first.
    Index& index = sides->second.below;
    auto it = index.lower_bound(from.value);
    while (it != index.begin()) {
      --it;
      if (it->first < to.value) break;
      const int64_t threshold = it->first;
      std::vector<uint64_t> ids = std::move(it->second);
      index.erase(it);
      fire_bucket(std::move(ids), to, time, fired);
      it = index.lower_bound(threshold);
    }
  }
}

void AlertBook::on_level(uint64_t watch, int64_t value, Timestamp time, std::vector<AlertFired>* fired) {
  if (!cooling_.empty() && cooling_.begin()->first <= time) rearm(time);
  auto sides = by_watch_.find(watch);
  if (sides == by_watch_.end()) return;
  // Buckets are taken out before they fire; a recurring rule without a
  // cool-down goes back into its bucket at once and waits for the next value.
  std::vector<std::vector<uint64_t>> due;
  Index& above = sides->second.above;  // threshold <= value
  for (auto it = above.begin(); it != above.end() && it->first <= value;) {
    due.push_back(std::move(it->second));
    it = above.erase(it);
  }
  Index& below = sides->second.below;  // threshold >= value, nearest first
  for (auto it = below.lower_bound(value); it != below.end();) {
    due.push_back(std::move(it->second));
    it = below.erase(it);
  }
  for (auto& ids : due) fire_bucket(std::move(ids), Price{value}, time, fired);
}

std::vector<uint64_t> AlertBook::expire(Timestamp now) {
  std::vector<uint64_t> gone;
  while (!expiries_.empty() && expiries_.begin()->first <= now) {
    const uint64_t id = expiries_.begin()->second;
    gone.push_back(id);
    remove(id);  // also erases the expiry entry
  }
  return gone;
}

}  // namespace bourse::alerts

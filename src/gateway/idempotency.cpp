#include "gateway/idempotency.h"

namespace bourse::gateway {

IdempotencyCache::Begin IdempotencyCache::begin(uint32_t account, const std::string& key,
                                                const std::string& fingerprint, int64_t now_ms, Stored* stored) {
  std::lock_guard lock(mutex_);
  while (!by_age_.empty() && (by_age_.front().first < now_ms - kTtlMs || by_age_.size() >= kMaxEntries)) {
    auto it = entries_.find(by_age_.front().second);
    if (it != entries_.end() && it->second.created_ms == by_age_.front().first) entries_.erase(it);
    by_age_.pop_front();
  }
  const std::string k = map_key(account, key);
  auto it = entries_.find(k);
  if (it == entries_.end()) {
    entries_[k] = Entry{fingerprint, false, {}, now_ms};
    by_age_.emplace_back(now_ms, k);
    return Begin::kProceed;
  }
  if (it->second.fingerprint != fingerprint) return Begin::kConflictDifferentRequest;
  if (!it->second.done) return Begin::kConflictInProgress;
  *stored = it->second.response;
  return Begin::kReplay;
}

void IdempotencyCache::finish(uint32_t account, const std::string& key, Stored response) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(map_key(account, key));
  if (it == entries_.end()) return;
  it->second.done = true;
  it->second.response = std::move(response);
}

void IdempotencyCache::abandon(uint32_t account, const std::string& key) {
  std::lock_guard lock(mutex_);
  entries_.erase(map_key(account, key));
}

}  // namespace bourse::gateway

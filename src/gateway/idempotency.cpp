#include "gateway/idempotency.h"

#include "auth/crypto.h"
#include "gateway/problem.h"

namespace bourse::gateway {

uint64_t IdempotencyCache::tag_of(uint32_t account, const std::string& key) {
  const std::string digest = auth::sha256_bytes(std::to_string(account) + "\n" + key);
  uint64_t tag = 0;
  for (int i = 0; i < 8; ++i) tag = (tag << 8) | static_cast<unsigned char>(digest[i]);
  return tag == 0 ? 1 : tag;
}

uint16_t IdempotencyCache::fingerprint16(const std::string& fingerprint) {
  uint16_t v = 0;
  for (std::size_t i = fingerprint.size() >= 4 ? fingerprint.size() - 4 : 0; i < fingerprint.size(); ++i) {
    const char c = fingerprint[i];
    v = static_cast<uint16_t>((v << 4) | (c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0'));
  }
  return v;
}

void IdempotencyCache::load_durable(std::vector<store::IdempotencyRow> rows) {
  std::lock_guard lock(mutex_);
  if (rows.size() > kMaxEntries) rows.resize(kMaxEntries);
  for (store::IdempotencyRow& r : rows) durable_.emplace(r.tag, r);
}

IdempotencyCache::Begin IdempotencyCache::begin(uint32_t account, const std::string& key,
                                                const std::string& fingerprint, int64_t now_ms, Stored* stored,
                                                store::IdempotencyRow* durable) {
  std::lock_guard lock(mutex_);
  while (!by_age_.empty() && (by_age_.front().first < now_ms - kTtlMs || by_age_.size() >= kMaxEntries)) {
    auto it = entries_.find(by_age_.front().second);
    if (it != entries_.end() && it->second.created_ms == by_age_.front().first) entries_.erase(it);
    by_age_.pop_front();
  }
  const std::string k = map_key(account, key);
  auto it = entries_.find(k);
  if (it == entries_.end()) {
    if (!durable_.empty()) {
      const auto d = durable_.find(tag_of(account, key));
      // A recorded 503 (e.g. CAPACITY_EXCEEDED) decided nothing: the retry runs.
      if (d != durable_.end() && d->second.created_ms >= now_ms - kTtlMs &&
          !(d->second.reject_reason != 0 &&
            problem_from_reject(static_cast<RejectReason>(d->second.reject_reason)).status == 503)) {
        if (d->second.fingerprint != fingerprint16(fingerprint)) return Begin::kConflictDifferentRequest;
        if (durable) *durable = d->second;
        return Begin::kReplayDurable;
      }
    }
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

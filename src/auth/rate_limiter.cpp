#include "auth/rate_limiter.h"

#include <algorithm>
#include <functional>

namespace bourse::auth {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

}  // namespace

RateDecision RateLimiter::take(std::string_view key, int64_t weight, int64_t now_ns) {
  RateDecision d;
  if (!enabled()) return d;
  d.limit = limit_.burst;
  const int64_t capacity = limit_.burst * kMicro;
  const int64_t cost = std::min(weight, limit_.burst) * kMicro;
  // Refill: elapsed_ns × per_second / 1e9 tokens = elapsed_ns × per_second / 1e3
  // micro-tokens. elapsed is capped at the time from empty to full, so the
  // product stays below burst × 1e9 (burst ≤ 1e6 by configuration).
  const int64_t full_after_ns = capacity / limit_.per_second * 1'000;
  Shard& shard = shards_[std::hash<std::string_view>{}(key) % shards_.size()];
  std::lock_guard lock(shard.mutex);
  if (shard.buckets.size() > 100'000) {
    std::erase_if(shard.buckets, [&](const auto& kv) { return now_ns - kv.second.updated_ns > full_after_ns; });
  }
  auto [it, inserted] = shard.buckets.try_emplace(std::string(key), Bucket{capacity, now_ns});
  Bucket& b = it->second;
  const int64_t elapsed = std::clamp<int64_t>(now_ns - b.updated_ns, 0, full_after_ns);
  b.micro_tokens = std::min(capacity, b.micro_tokens + elapsed * limit_.per_second / 1'000);
  b.updated_ns = now_ns;
  if (b.micro_tokens >= cost) {
    b.micro_tokens -= cost;
  } else {
    d.allowed = false;
    // Micro-tokens missing / (micro-tokens per second).
    d.retry_after_seconds = std::max<int64_t>(1, ceil_div(cost - b.micro_tokens, limit_.per_second * kMicro));
  }
  d.remaining = b.micro_tokens / kMicro;
  d.reset_seconds = ceil_div(capacity - b.micro_tokens, limit_.per_second * kMicro);
  return d;
}

}  // namespace bourse::auth

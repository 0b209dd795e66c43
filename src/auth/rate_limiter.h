// RateLimiter: token buckets keyed by a string (an IP, a user, an account's
// order entry). A bucket holds up to `burst` tokens and refills at
// `per_second`; a request takes `weight` tokens or is refused with the time
// until it could pass. Integer arithmetic throughout (micro-tokens).
//
// Threads: any; the buckets are split over 32 mutex-guarded shards. Idle,
// full buckets are dropped when a shard grows, so memory follows the active
// set, not everyone ever seen.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace bourse::auth {

struct RateLimit {
  int64_t per_second = 0;  // 0: unlimited
  int64_t burst = 0;
};

struct RateDecision {
  bool allowed = true;
  int64_t limit = 0;           // the bucket's capacity (RateLimit-Limit)
  int64_t remaining = 0;       // whole tokens left after this request (RateLimit-Remaining)
  int64_t reset_seconds = 0;   // until the bucket is full again (RateLimit-Reset)
  int64_t retry_after_seconds = 0;  // when refused: until `weight` tokens are back
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimit limit) : limit_(limit) {}
  bool enabled() const { return limit_.per_second > 0; }
  const RateLimit& limit() const { return limit_; }
  RateDecision take(std::string_view key, int64_t weight, int64_t now_ns);

 private:
  static constexpr int64_t kMicro = 1'000'000;
  struct Bucket {
    int64_t micro_tokens = 0;
    int64_t updated_ns = 0;
  };
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Bucket> buckets;
  };
  RateLimit limit_;
  std::array<Shard, 32> shards_;
};

}  // namespace bourse::auth

#include "auth/rate_limiter.h"

#include <gtest/gtest.h>

namespace bourse::auth {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

TEST(RateLimiter, BurstThenRefillAtTheRate) {
  RateLimiter limiter({10, 20});  // 10/s, burst 20
  int64_t now = 5 * kSecond;
  for (int i = 0; i < 20; ++i) {
    const auto d = limiter.take("a", 1, now);
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, 19 - i);
    EXPECT_EQ(d.limit, 20);
  }
  auto d = limiter.take("a", 1, now);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_seconds, 1);
  EXPECT_EQ(d.reset_seconds, 2);  // 20 tokens at 10/s
  EXPECT_TRUE(limiter.take("b", 1, now).allowed);  // other keys are independent
  now += kSecond / 10;                              // one token back
  EXPECT_TRUE(limiter.take("a", 1, now).allowed);
  EXPECT_FALSE(limiter.take("a", 1, now).allowed);
  now += 100 * kSecond;  // never more than the burst
  EXPECT_EQ(limiter.take("a", 1, now).remaining, 19);
}

TEST(RateLimiter, WeightsAndExactRefillOverManySteps) {
  RateLimiter limiter({3, 6});
  int64_t now = kSecond;
  EXPECT_TRUE(limiter.take("k", 5, now).allowed);
  const auto d = limiter.take("k", 5, now);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_seconds, 2);  // needs 4 more tokens at 3/s
  // 3,000 steps of 1 ms refill exactly 9 tokens: capped at the burst of 6.
  for (int i = 0; i < 3000; ++i) {
    now += 1'000'000;
    limiter.take("probe", 1, now);
  }
  // 1 token left + 3 s × 3/s = 10, capped at 6.
  EXPECT_EQ(limiter.take("k", 1, now).remaining, 5);
}

TEST(RateLimiter, DisabledAllowsEverything) {
  RateLimiter limiter({0, 0});
  EXPECT_FALSE(limiter.enabled());
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.take("x", 100, 0).allowed);
}

}  // namespace
}  // namespace bourse::auth

// Differential test: the real engine against the naive reference engine on
// random command streams (see differential_driver.h). Each case also checks
// that the stream exercised the interesting paths, so it cannot pass by
// generating nothing but rejects.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <string_view>

#include "engine/differential_driver.h"

namespace bourse::testing {
namespace {

// Sanitizer builds run about a quarter of the commands.
uint64_t scaled(uint64_t commands) {
  const char* scale = std::getenv("BOURSE_TEST_SCALE");
  if (scale != nullptr && std::string_view(scale) == "sanitize") return commands / 4;
  return commands;
}

struct Totals {
  uint64_t commands = 0;
  std::map<EventType, uint64_t> events;
  std::map<RejectReason, uint64_t> rejects;
  std::map<CancelReason, uint64_t> cancels;
  std::map<ExpireReason, uint64_t> expiries;
  std::map<uint8_t, uint64_t> priority_kept;
};

template <class K>
uint64_t count(const std::map<K, uint64_t>& m, K key) {
  const auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

// Runs every seed (stopping at the first mismatch) and checks the coverage of the union.
void run_seeds(std::initializer_list<uint64_t> seeds, uint64_t commands_per_seed, const RandomCommandConfig& config) {
  Totals t;
  for (uint64_t seed : seeds) {
    const DifferentialResult r = run_differential(seed, scaled(commands_per_seed), config);
    ASSERT_TRUE(r.ok) << r.failure;
    t.commands += r.commands;
    for (const auto& [k, v] : r.event_counts) t.events[k] += v;
    for (const auto& [k, v] : r.reject_counts) t.rejects[k] += v;
    for (const auto& [k, v] : r.cancel_counts) t.cancels[k] += v;
    for (const auto& [k, v] : r.expire_counts) t.expiries[k] += v;
    for (const auto& [k, v] : r.priority_kept_counts) t.priority_kept[k] += v;
  }
  // Thresholds are far below what the streams produce (they scale with the
  // command count), so only a generator or engine that stopped doing something trips them.
  const uint64_t some = std::max<uint64_t>(1, t.commands / 2000);
  for (EventType e :
       {EventType::kOrderAccepted, EventType::kOrderRejected, EventType::kTrade, EventType::kOrderCancelled,
        EventType::kOrderExpired, EventType::kOrderAmended, EventType::kOrderTriggered, EventType::kBalanceChanged,
        EventType::kBookLevelChanged, EventType::kTransferCompleted}) {
    EXPECT_GE(count(t.events, e), some) << "event type " << static_cast<int>(e);
  }
  for (EventType e : {EventType::kInstrumentStatusChanged, EventType::kAccountStatusChanged,
                      EventType::kAccountConfigured, EventType::kAssetAdded, EventType::kInstrumentAdded}) {
    EXPECT_GE(count(t.events, e), 1u) << "event type " << static_cast<int>(e);
  }
  EXPECT_GE(count(t.events, EventType::kTrade), t.commands / 20) << "too few trades";
  for (CancelReason c : {CancelReason::kUserRequested, CancelReason::kCancelAll, CancelReason::kUnfilledImmediate,
                         CancelReason::kFillOrKill, CancelReason::kSelfTrade}) {
    EXPECT_GE(count(t.cancels, c), some) << "cancel reason " << static_cast<int>(c);
  }
  EXPECT_GE(count(t.cancels, CancelReason::kAccountDisabled), 1u);
  EXPECT_GE(count(t.expiries, ExpireReason::kGtd), some);
  EXPECT_GE(count(t.expiries, ExpireReason::kDay), 1u);
  EXPECT_GE(count(t.priority_kept, uint8_t{0}), some);
  EXPECT_GE(count(t.priority_kept, uint8_t{1}), some);
  for (RejectReason r : {RejectReason::kInvalidAccount, RejectReason::kUnknownAccount, RejectReason::kUnknownInstrument,
                         RejectReason::kInstrumentHalted, RejectReason::kInvalidOrder, RejectReason::kInvalidPrice,
                         RejectReason::kInvalidTick, RejectReason::kQtyBelowMin, RejectReason::kPriceOutOfBand,
                         RejectReason::kStopWouldTriggerImmediately, RejectReason::kInvalidExpireTime,
                         RejectReason::kDuplicateClientOrderId, RejectReason::kTooManyOpenOrders,
                         RejectReason::kPostOnlyWouldTake, RejectReason::kOrderNotFound, RejectReason::kInvalidAmend,
                         RejectReason::kInsufficientFunds, RejectReason::kInvalidAmount, RejectReason::kOverflow}) {
    EXPECT_GE(count(t.rejects, r), 1u) << "reject reason " << static_cast<int>(r);
  }
}

// >= 200,000 commands in all (normal scale), split so ctest can run the cases in parallel.
TEST(Differential, FourInstruments) { run_seeds({1, 2, 3}, 20'000, RandomCommandConfig{}); }

// Prices on few ticks: many orders per level, so time priority and STP within a level matter.
TEST(Differential, FourInstrumentsCrowdedLevels) {
  RandomCommandConfig config;
  config.target_live_orders = 600;
  config.price_spread_ticks = 3;
  run_seeds({4, 5, 6}, 20'000, config);
}

TEST(Differential, SingleInstrument) {
  RandomCommandConfig config;
  config.instruments = 1;
  config.accounts = 6;
  run_seeds({7, 8}, 30'000, config);
}

TEST(Differential, FewAccountsHeavySelfTrade) {
  RandomCommandConfig config;
  config.accounts = 3;
  run_seeds({9, 10}, 30'000, config);
}

// A seed names one stream: a failure report's seed reproduces it.
TEST(Differential, SameSeedSameStream) {
  const DifferentialResult a = run_differential(42, 2'000, RandomCommandConfig{});
  const DifferentialResult b = run_differential(42, 2'000, RandomCommandConfig{});
  ASSERT_TRUE(a.ok) << a.failure;
  ASSERT_TRUE(b.ok) << b.failure;
  EXPECT_EQ(a.event_counts, b.event_counts);
  EXPECT_EQ(a.reject_counts, b.reject_counts);
}

}  // namespace
}  // namespace bourse::testing

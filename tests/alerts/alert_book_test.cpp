// AlertBook: crossing rules one by one (the threshold itself counts, the
// starting price does not), one-shot and recurring with a cool-down, expiry
// and removal; then a randomized differential test against a naive model
// that scans every rule on every tick.
#include "alerts/alert_book.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace bourse::alerts {
namespace {

constexpr InstrumentId kBtc{1}, kEth{2};

AlertRule rule(uint64_t id, AlertCondition c, int64_t threshold, bool recurring = false, int64_t cooldown = 0,
               Timestamp expire_at = 0, InstrumentId instrument = kBtc) {
  AlertRule r;
  r.id = id;
  r.account = AccountId{7};
  r.instrument = instrument;
  r.condition = c;
  r.threshold = Price{threshold};
  r.recurring = recurring;
  r.cooldown_ns = cooldown;
  r.expire_at = expire_at;
  return r;
}

std::vector<uint64_t> ids(const std::vector<AlertFired>& fired) {
  std::vector<uint64_t> out;
  for (const AlertFired& f : fired) out.push_back(f.alert_id);
  return out;
}

std::vector<uint64_t> move(AlertBook& book, int64_t from, int64_t to, Timestamp time = 1, InstrumentId i = kBtc) {
  std::vector<AlertFired> fired;
  book.on_price(i, Price{from}, Price{to}, time, &fired);
  return ids(fired);
}

TEST(AlertBook, CrossingsFireInTheOrderThePriceCrossedThem) {
  AlertBook book;
  ASSERT_TRUE(book.add(rule(1, AlertCondition::kCrossesAbove, 105)));
  ASSERT_TRUE(book.add(rule(2, AlertCondition::kCrossesAbove, 102)));
  ASSERT_TRUE(book.add(rule(3, AlertCondition::kCrossesBelow, 95)));
  ASSERT_TRUE(book.add(rule(4, AlertCondition::kCrossesAbove, 110, false, 0, 0, kEth)));
  EXPECT_FALSE(book.add(rule(1, AlertCondition::kCrossesAbove, 1)));  // the id is taken
  EXPECT_FALSE(book.add(rule(9, AlertCondition::kCrossesAbove, 0)));
  EXPECT_TRUE(move(book, 100, 101).empty());
  EXPECT_EQ(move(book, 101, 105), (std::vector<uint64_t>{2, 1}));  // 102 then 105; the threshold itself counts
  EXPECT_EQ(book.size(), 2u);                                       // one-shots left
  EXPECT_TRUE(move(book, 105, 96).empty());                         // not below 95 yet
  EXPECT_TRUE(move(book, 95, 94).empty());                          // starting at it is not crossing it
  ASSERT_TRUE(book.add(rule(5, AlertCondition::kCrossesBelow, 95)));
  EXPECT_EQ(move(book, 96, 95), (std::vector<uint64_t>{3, 5}));
  EXPECT_TRUE(move(book, 100, 200).empty());                        // another instrument's rule
  EXPECT_EQ(move(book, 100, 200, 1, kEth), (std::vector<uint64_t>{4}));
  EXPECT_EQ(book.size(), 0u);
}

TEST(AlertBook, RecurringRulesRespectTheirCoolDown) {
  AlertBook book;
  ASSERT_TRUE(book.add(rule(1, AlertCondition::kCrossesAbove, 100, true, 10)));
  EXPECT_EQ(move(book, 99, 100, 5), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(move(book, 99, 101, 14).empty());   // crossed again inside the cool-down: skipped
  EXPECT_EQ(move(book, 99, 101, 15), (std::vector<uint64_t>{1}));
  EXPECT_EQ(book.size(), 1u);
  EXPECT_EQ(book.find(1)->last_fired, 15);
}

TEST(AlertBook, ExpiredRulesNeverFireAndRemovedOnesAreGone) {
  AlertBook book;
  ASSERT_TRUE(book.add(rule(1, AlertCondition::kCrossesAbove, 100, false, 0, 50)));
  ASSERT_TRUE(book.add(rule(2, AlertCondition::kCrossesAbove, 100, false, 0, 80)));
  ASSERT_TRUE(book.add(rule(3, AlertCondition::kCrossesAbove, 100)));
  EXPECT_EQ(book.expire(60), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(book.remove(3));
  EXPECT_FALSE(book.remove(3));
  EXPECT_TRUE(move(book, 99, 100, 80).empty());  // rule 2 expired at 80: met and dropped
  EXPECT_EQ(book.size(), 0u);
}

// The naive model: every rule checked on every tick.
struct Naive {
  std::vector<AlertRule> rules;
  std::vector<uint64_t> on_price(InstrumentId i, int64_t from, int64_t to, Timestamp time) {
    std::vector<std::pair<int64_t, uint64_t>> hits;  // (crossing order key, id)
    for (AlertRule& r : rules) {
      if (r.instrument != i || from <= 0) continue;
      if (r.expire_at && r.expire_at <= time) continue;
      const int64_t t = r.threshold.value;
      const bool crossed = r.condition == AlertCondition::kCrossesAbove ? (from < t && t <= to) : (from > t && t >= to);
      if (!crossed) continue;
      if (r.recurring && r.last_fired && time - r.last_fired < r.cooldown_ns) continue;
      r.last_fired = time;
      hits.push_back({r.condition == AlertCondition::kCrossesAbove ? t : -t, r.id});
    }
    std::sort(hits.begin(), hits.end());
    std::vector<uint64_t> out;
    for (const auto& h : hits) out.push_back(h.second);
    std::erase_if(rules, [&](const AlertRule& r) {
      return (r.expire_at && r.expire_at <= time) ||
             (!r.recurring && std::find(out.begin(), out.end(), r.id) != out.end());
    });
    return out;
  }
};

TEST(AlertBook, AgreesWithANaiveScanUnderRandomTicks) {
  std::mt19937_64 rng(3);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  AlertBook book;
  Naive naive;
  uint64_t next_id = 1;
  int64_t price[3] = {0, 1'000, 1'000};
  std::size_t fired_total = 0;
  for (Timestamp t = 1; t <= 20'000; ++t) {
    const int64_t roll = pick(0, 99);
    if (roll < 30) {
      const InstrumentId i{static_cast<uint32_t>(pick(1, 2))};
      AlertRule r = rule(next_id++, pick(0, 1) ? AlertCondition::kCrossesAbove : AlertCondition::kCrossesBelow,
                         price[i.value] + pick(-40, 40), pick(0, 3) == 0, pick(0, 50),
                         pick(0, 4) == 0 ? t + pick(1, 500) : 0, i);
      if (r.threshold.value <= 0) continue;
      ASSERT_TRUE(book.add(r));
      naive.rules.push_back(r);
    } else if (roll < 33 && !naive.rules.empty()) {
      const uint64_t id = naive.rules[static_cast<std::size_t>(pick(0, static_cast<int64_t>(naive.rules.size()) - 1))].id;
      ASSERT_TRUE(book.remove(id));
      std::erase_if(naive.rules, [&](const AlertRule& r) { return r.id == id; });
    } else {
      const uint32_t i = static_cast<uint32_t>(pick(1, 2));
      const int64_t to = std::max<int64_t>(1, price[i] + pick(-15, 15));
      std::vector<AlertFired> fired;
      book.on_price(InstrumentId{i}, Price{price[i]}, Price{to}, t, &fired);
      const auto want = naive.on_price(InstrumentId{i}, price[i], to, t);
      ASSERT_EQ(ids(fired), want) << "tick " << t;
      for (const AlertFired& f : fired) {
        EXPECT_EQ(f.price.value, to);
        EXPECT_EQ(f.time, t);
      }
      fired_total += fired.size();
      price[i] = to;
    }
    // Rules left must agree too (expired ones may linger until met or swept).
    if (t % 1'000 == 0) {
      book.expire(t);
      std::erase_if(naive.rules, [&](const AlertRule& r) { return r.expire_at && r.expire_at <= t; });
      ASSERT_EQ(book.size(), naive.rules.size()) << "tick " << t;
    }
  }
  EXPECT_GT(fired_total, 2'000u);
}

}  // namespace
}  // namespace bourse::alerts

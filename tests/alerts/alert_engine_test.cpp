// AlertEngine: each rule kind against hand-computed values (percent change
// over whole minutes, volume against the mean of the bars before, an
// indicator at a bar close, fills and margin calls of the account), the
// bookkeeping of one-shots, cool-downs and expiry; then a randomized check
// of percent-change rules against a model that scans every rule.
#include "alerts/alert_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace bourse::alerts {
namespace {

constexpr InstrumentId kBtc{1};
constexpr AccountId kAlice{2}, kBob{3};
constexpr int64_t kMin = 60'000'000'000;
constexpr int64_t kSec = 1'000'000'000;

AlertSpec spec(uint64_t id, AlertKind kind, int64_t threshold) {
  AlertSpec s;
  s.id = id;
  s.account = kAlice;
  s.kind = kind;
  s.instrument = kBtc;
  s.threshold = threshold;
  return s;
}

std::vector<uint64_t> trade(AlertEngine& e, int64_t price, int64_t qty, Timestamp time,
                            std::vector<Firing>* out = nullptr) {
  std::vector<Firing> fired;
  e.on_trade(kBtc, Price{price}, Qty{qty}, time, &fired);
  std::vector<uint64_t> ids;
  for (const Firing& f : fired) ids.push_back(f.alert_id);
  if (out) *out = fired;
  return ids;
}

TEST(AlertEngine, PriceCrossingsGoThroughTheBook) {
  AlertEngine e;
  ASSERT_TRUE(e.add(spec(1, AlertKind::kPriceAbove, 105)));
  ASSERT_TRUE(e.add(spec(2, AlertKind::kPriceBelow, 95)));
  EXPECT_FALSE(e.add(spec(1, AlertKind::kPriceAbove, 1)));
  EXPECT_FALSE(e.add(spec(3, AlertKind::kPriceAbove, 0)));
  EXPECT_TRUE(trade(e, 100, 1, kSec).empty());  // the first price crosses nothing
  std::vector<Firing> f;
  EXPECT_EQ(trade(e, 106, 1, 2 * kSec, &f), (std::vector<uint64_t>{1}));
  EXPECT_EQ(f[0].value, 106);
  EXPECT_EQ(f[0].kind, AlertKind::kPriceAbove);
  EXPECT_TRUE(f[0].last);
  EXPECT_EQ(e.size(), 1u);
  EXPECT_EQ(trade(e, 90, 1, 3 * kSec), (std::vector<uint64_t>{2}));
  EXPECT_EQ(e.size(), 0u);
}

TEST(AlertEngine, PercentChangeOverWholeMinutes) {
  AlertEngine e;
  AlertSpec up = spec(1, AlertKind::kChangeUp, 300);  // +3% over 5 minutes
  up.window_minutes = 5;
  AlertSpec down = spec(2, AlertKind::kChangeDown, 500);  // −5% over 5 minutes
  down.window_minutes = 5;
  AlertSpec bad = spec(3, AlertKind::kChangeUp, 300);
  bad.window_minutes = 0;
  ASSERT_TRUE(e.add(up));
  ASSERT_TRUE(e.add(down));
  EXPECT_FALSE(e.add(bad));
  EXPECT_TRUE(trade(e, 10'000, 1, 10 * kSec).empty());         // minute 0
  EXPECT_TRUE(trade(e, 10'400, 1, 4 * kMin + 10 * kSec).empty());  // minute 4: no price 5 minutes back yet
  std::vector<Firing> f;
  // Minute 5: the reference is the last price of minute 0 (10,000); +3.00% is
  // exactly the threshold (floor(300 × 10^4 / 10^4) = 300).
  EXPECT_EQ(trade(e, 10'300, 1, 5 * kMin, &f), (std::vector<uint64_t>{1}));
  EXPECT_EQ(f[0].value, 300);
  EXPECT_EQ(f[0].reference, 10'000);
  EXPECT_EQ(e.size(), 1u);
  // Minute 9: the reference is minute 4's 10,400; 9,880 is −5.00%.
  EXPECT_TRUE(trade(e, 9'881, 1, 9 * kMin).empty());
  EXPECT_EQ(trade(e, 9'880, 1, 9 * kMin + kSec, &f), (std::vector<uint64_t>{2}));
  EXPECT_EQ(f[0].reference, 10'400);
}

TEST(AlertEngine, RecurringLevelRulesFireAgainAfterTheirCoolDown) {
  AlertEngine e;
  AlertSpec up = spec(1, AlertKind::kChangeUp, 100);
  up.window_minutes = 1;
  up.recurring = true;
  up.cooldown_ns = 30 * kSec;
  ASSERT_TRUE(e.add(up));
  trade(e, 1'000, 1, 0);
  EXPECT_EQ(trade(e, 1'020, 1, kMin).size(), 1u);              // +2%
  EXPECT_TRUE(trade(e, 1'030, 1, kMin + 10 * kSec).empty());    // cooling down
  EXPECT_EQ(trade(e, 1'030, 1, kMin + 30 * kSec).size(), 1u);   // still above, cool-down over
  EXPECT_TRUE(trade(e, 1'030, 1, 2 * kMin).empty());            // flat against minute 1 (1,030)
  EXPECT_EQ(e.find(1)->last_fired, kMin + 30 * kSec);
}

TEST(AlertEngine, VolumeSpikeAgainstTheMeanOfThePreviousBars) {
  AlertEngine e;
  AlertSpec spike = spec(1, AlertKind::kVolumeSpike, 20'000);  // 2× the mean of the last 3 one-minute bars
  spike.interval = marketdata::Interval::k1m;
  spike.lookback = 3;
  AlertSpec big = spec(2, AlertKind::kVolumeSpike, 30'000);
  big.interval = marketdata::Interval::k1m;
  big.lookback = 3;
  ASSERT_TRUE(e.add(spike));
  ASSERT_TRUE(e.add(big));
  for (int m = 0; m < 3; ++m) EXPECT_TRUE(trade(e, 100, 10, m * kMin).empty());  // 10 a minute
  EXPECT_TRUE(trade(e, 100, 15, 3 * kMin).empty());  // 15 vs 10: 1.5×
  std::vector<Firing> f;
  EXPECT_EQ(trade(e, 100, 10, 3 * kMin + kSec, &f), (std::vector<uint64_t>{1}));  // 25: 2.5×
  EXPECT_EQ(f[0].value, 25'000);
  EXPECT_EQ(f[0].reference, 25);
  EXPECT_EQ(trade(e, 100, 5, 3 * kMin + 2 * kSec), (std::vector<uint64_t>{2}));  // 30: 3×
  // A quiet minute counts as zero: minute 5 against minutes 2..4 (10 + 30 + 0).
  AlertSpec again = spec(3, AlertKind::kVolumeSpike, 20'000);
  again.interval = marketdata::Interval::k1m;
  again.lookback = 3;
  ASSERT_TRUE(e.add(again));
  EXPECT_TRUE(trade(e, 100, 26, 5 * kMin).empty());              // 26 × 3 / 40 = 1.95×
  EXPECT_EQ(trade(e, 100, 1, 5 * kMin + kSec).size(), 1u);         // 27 × 3 / 40 = 2.025×
}

TEST(AlertEngine, IndicatorConditionsAtABarClose) {
  AlertEngine e;
  AlertSpec over = spec(1, AlertKind::kIndicatorAbove, 70 * 100'000'000LL);  // RSI(14) on 1m >= 70
  over.indicator = Indicator::kRsi;
  AlertSpec under = spec(2, AlertKind::kIndicatorBelow, 30 * 100'000'000LL);  // RSI(14) on 1m <= 30
  under.indicator = Indicator::kRsi;
  ASSERT_TRUE(e.add(over));
  ASSERT_TRUE(e.add(under));
  // Rising closes: RSI(14) needs 15 closes; it is 100 once it exists.
  int64_t price = 1'000;
  std::vector<uint64_t> fired;
  int m = 0;
  for (; m < 16 && fired.empty(); ++m) fired = trade(e, price += 10, 1, m * kMin);
  EXPECT_EQ(fired, (std::vector<uint64_t>{1}));
  EXPECT_EQ(m, 16);  // the 15th close is known when minute 15 opens
  for (int k = 0; k < 30 && fired != std::vector<uint64_t>{2}; ++k, ++m) fired = trade(e, price -= 10, 1, m * kMin);
  EXPECT_EQ(fired, (std::vector<uint64_t>{2}));
  EXPECT_EQ(e.size(), 0u);
}

TEST(AlertEngine, FillsAndMarginCallsOfTheAccount) {
  AlertEngine e;
  AlertSpec any = spec(1, AlertKind::kOrderFilled, 0);
  any.instrument = InstrumentId{0};
  any.recurring = true;
  AlertSpec eth = spec(2, AlertKind::kOrderFilled, 0);
  eth.instrument = InstrumentId{2};
  AlertSpec call = spec(3, AlertKind::kMarginCall, 0);
  call.instrument = InstrumentId{0};
  call.recurring = true;
  call.cooldown_ns = 60 * kSec;
  ASSERT_TRUE(e.add(any));
  ASSERT_TRUE(e.add(eth));
  ASSERT_TRUE(e.add(call));
  std::vector<Firing> f;
  e.on_fill(kBob, kBtc, OrderId{9}, TradeId{1}, Side::kBuy, Price{100}, Qty{5}, kSec, &f);
  EXPECT_TRUE(f.empty());  // another account
  e.on_fill(kAlice, kBtc, OrderId{7}, TradeId{1}, Side::kSell, Price{100}, Qty{5}, kSec, &f);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].alert_id, 1u);
  EXPECT_EQ(f[0].order_id, 7u);
  EXPECT_EQ(f[0].reference, 5);
  EXPECT_EQ(f[0].side, Side::kSell);
  f.clear();
  e.on_fill(kAlice, InstrumentId{2}, OrderId{8}, TradeId{2}, Side::kBuy, Price{50}, Qty{1}, 2 * kSec, &f);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_TRUE(f[1].last);
  EXPECT_EQ(e.find(2), nullptr);
  f.clear();
  e.on_margin_call(kAlice, AssetId{1}, -5, 10, 3 * kSec, &f);
  e.on_margin_call(kAlice, AssetId{1}, -6, 10, 4 * kSec, &f);  // cooling down
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].equity, -5);
  e.on_margin_call(kAlice, AssetId{1}, -6, 10, 63 * kSec, &f);
  EXPECT_EQ(f.size(), 2u);
}

TEST(AlertEngine, ExpiryDropsEveryKind) {
  AlertEngine e;
  AlertSpec a = spec(1, AlertKind::kPriceAbove, 105);
  a.expire_at = 10 * kSec;
  AlertSpec b = spec(2, AlertKind::kOrderFilled, 0);
  b.expire_at = 10 * kSec;
  AlertSpec c = spec(3, AlertKind::kChangeUp, 100);
  c.window_minutes = 1;
  c.expire_at = 20 * kSec;
  ASSERT_TRUE(e.add(a));
  ASSERT_TRUE(e.add(b));
  ASSERT_TRUE(e.add(c));
  std::vector<Firing> f;
  e.on_fill(kAlice, kBtc, OrderId{1}, TradeId{1}, Side::kBuy, Price{1}, Qty{1}, 10 * kSec, &f);
  EXPECT_TRUE(f.empty());  // at its expiry: no longer fires
  EXPECT_EQ(e.expire(10 * kSec), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(e.size(), 1u);
  EXPECT_TRUE(e.remove(3));
  EXPECT_TRUE(e.expire(100 * kSec).empty());
}

// Percent-change rules on random walks, against a model that keeps every
// trade and scans every rule: the same rules fire at the same trades.
TEST(AlertEngine, PercentChangeMatchesANaiveScan) {
  std::mt19937_64 rng(42);
  AlertEngine e;
  struct Model {
    AlertSpec s;
    bool live = true;
  };
  std::vector<Model> rules;
  std::vector<std::pair<int64_t, int64_t>> trades;  // (time, price)
  uint64_t next_id = 1;
  int64_t price = 100'000, time = 0;
  for (int step = 0; step < 20'000; ++step) {
    if (rng() % 20 == 0) {
      AlertSpec s = spec(next_id++, rng() % 2 ? AlertKind::kChangeUp : AlertKind::kChangeDown,
                         static_cast<int64_t>(1 + rng() % 300));
      s.window_minutes = static_cast<uint32_t>(1 + rng() % 30);
      s.recurring = rng() % 2;
      s.cooldown_ns = static_cast<int64_t>(rng() % 5) * kMin;
      ASSERT_TRUE(e.add(s));
      rules.push_back({s});
    }
    time += static_cast<int64_t>(rng() % (20 * kSec));
    price = std::max<int64_t>(1'000, price + static_cast<int64_t>(rng() % 401) - 200);
    trades.emplace_back(time, price);
    std::vector<Firing> fired;
    e.on_trade(kBtc, Price{price}, Qty{1}, time, &fired);
    // The last price before each window's first minute (binary search: times ascend).
    std::vector<int64_t> refs(31, 0);
    for (uint32_t w = 1; w <= 30; ++w) {
      const int64_t cutoff = (time / kMin - w + 1) * kMin;
      auto it = std::lower_bound(trades.begin(), trades.end(), cutoff,
                                 [](const std::pair<int64_t, int64_t>& t, int64_t c) { return t.first < c; });
      refs[w] = it == trades.begin() ? 0 : std::prev(it)->second;
    }
    std::vector<uint64_t> expected;
    for (Model& m : rules) {
      if (!m.live) continue;
      AlertSpec& s = m.s;
      if (s.recurring && s.last_fired && s.cooldown_ns && time < s.last_fired + s.cooldown_ns) continue;
      const int64_t ref = refs[s.window_minutes];
      if (ref == 0) continue;
      const Int128 delta = s.kind == AlertKind::kChangeUp ? Int128{price} - ref : Int128{ref} - price;
      if (delta <= 0 || delta * 10'000 < Int128{s.threshold} * ref) continue;
      expected.push_back(s.id);
      if (s.recurring) s.last_fired = time; else m.live = false;
    }
    std::vector<uint64_t> got;
    for (const Firing& f : fired) got.push_back(f.alert_id);
    std::sort(got.begin(), got.end());
    ASSERT_EQ(got, expected) << "step " << step;
  }
}

}  // namespace
}  // namespace bourse::alerts

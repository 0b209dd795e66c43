// AlertEngine: every alert rule kind, evaluated against the venue's trades
// and an account's own events (docs/alerts.md). It owns the AlertBook (the
// threshold index) and the market state the rules need: each instrument's
// last price, its last price per minute for the day behind it (percent
// change) and its candles with their indicators (volume spikes, indicator
// conditions). Deterministic: the same rules and the same events in the
// same order fire the same alerts, which is what lets the alert service
// replay the journal after a crash and fire exactly what was missed.
//
// Not thread-safe: one owner (AlertService's thread) calls it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "alerts/alert_book.h"
#include "bourse/core/checked.h"
#include "bourse/engine/types.h"
#include "marketdata/indicators.h"

namespace bourse::alerts {

enum class AlertKind : uint8_t {
  kPriceAbove = 1,      // last price crosses up through threshold (a price)
  kPriceBelow = 2,      // … crosses down through it
  kChangeUp = 3,        // price rose by >= threshold basis points over the last window_minutes
  kChangeDown = 4,      // … fell by >= threshold basis points
  kVolumeSpike = 5,     // the open bar's volume >= threshold/10^4 × the mean volume per bar of the lookback bars
                        // before it (bars without trades count as 0; not until the history covers the lookback)
  kIndicatorAbove = 6,  // the indicator at a bar close >= threshold (indicator units × 10^8)
  kIndicatorBelow = 7,  // … <= threshold
  kOrderFilled = 8,     // a fill of one of the account's orders (on `instrument`, or any when 0)
  kMarginCall = 9,      // the account went below maintenance margin
};

// Indicators of the standard set every (instrument, interval) has
// (marketdata::IndicatorSet): RSI(14), SMA(20), EMA(20), MACD(12,26,9),
// Bollinger(20, 2), session VWAP.
enum class Indicator : uint8_t {
  kRsi = 1, kSma = 2, kEma = 3, kMacd = 4, kMacdSignal = 5, kMacdHistogram = 6,
  kBollingerUpper = 7, kBollingerLower = 8, kVwap = 9,
};

bool is_market_kind(AlertKind k);  // watches an instrument (not the account's own events)
const char* alert_kind_name(AlertKind k);
std::optional<AlertKind> parse_alert_kind(std::string_view name);
const char* indicator_name(Indicator i);
std::optional<Indicator> parse_indicator(std::string_view name);

inline constexpr uint32_t kMaxChangeWindowMinutes = 1'440;
inline constexpr uint32_t kMaxVolumeLookback = 500;

struct AlertSpec {
  uint64_t id = 0;
  AccountId account{0};
  AlertKind kind = AlertKind::kPriceAbove;
  InstrumentId instrument{0};  // order_filled: 0 = any; margin_call: 0
  int64_t threshold = 0;
  uint32_t window_minutes = 0;                        // change
  marketdata::Interval interval = marketdata::Interval::k1m;  // volume spike, indicator
  uint32_t lookback = 0;                              // volume spike: bars
  Indicator indicator = Indicator::kRsi;
  bool recurring = false;
  int64_t cooldown_ns = 0;
  Timestamp expire_at = 0;
  Timestamp last_fired = 0;
};

// Why one rule fired, in raw units.
struct Firing {
  uint64_t alert_id = 0;
  AccountId account{0};
  AlertKind kind = AlertKind::kPriceAbove;
  InstrumentId instrument{0};
  int64_t value = 0;      // price (crossings, fills), change in bp, volume ratio in bp, indicator value
  int64_t reference = 0;  // change: the price window_minutes ago; volume spike: the bar's volume; fill: qty
  int64_t price = 0;      // market kinds: the instrument's last price when it fired
  uint64_t order_id = 0, trade_id = 0;  // fills
  Side side = Side::kBuy;               // fills
  Int128 equity = 0, maintenance = 0;   // margin call
  AssetId asset{0};                     // margin call: the currency
  Timestamp time = 0;
  bool last = false;  // a one-shot: the rule is done
};

class AlertEngine {
 public:
  explicit AlertEngine(std::size_t keep_closed_bars = 1'000) : candles_(keep_closed_bars) {}

  // False when malformed or the id exists (validation proper is the caller's).
  bool add(const AlertSpec& spec);
  bool remove(uint64_t id);
  const AlertSpec* find(uint64_t id) const;
  std::size_t size() const { return specs_.size(); }

  // A venue or external trade, in journal order.
  void on_trade(InstrumentId instrument, Price price, Qty qty, Timestamp time, std::vector<Firing>* fired);
  // One leg of a trade: the account's order filled.
  void on_fill(AccountId account, InstrumentId instrument, OrderId order, TradeId trade, Side side, Price price,
               Qty qty, Timestamp time, std::vector<Firing>* fired);
  void on_margin_call(AccountId account, AssetId asset, Int128 equity, Int128 maintenance, Timestamp time,
                      std::vector<Firing>* fired);
  // Drops rules whose expiry is at or before now; returns their ids.
  std::vector<uint64_t> expire(Timestamp now);

  // Market state from stored history (a clean start): an instrument's last
  // price, its per-minute closes (oldest first) and candles.
  void restore_price(InstrumentId instrument, Price last, const std::vector<std::pair<int64_t, int64_t>>& minute_closes);
  void restore_candles(InstrumentId instrument, marketdata::Interval interval, const std::vector<marketdata::Candle>& bars);
  Price last_price(InstrumentId instrument) const;

 private:
  struct Market {
    Price last{0};
    std::deque<std::pair<int64_t, int64_t>> minutes;  // (minute since the epoch, last price in it), ascending
    std::map<uint32_t, int> change_windows;           // window minutes → rules watching it
    std::map<std::pair<uint8_t, uint32_t>, int> volume_groups;  // (interval, lookback) → rules
    std::map<std::pair<uint8_t, uint8_t>, int> indicator_groups;  // (interval, indicator) → rules
  };
  static uint64_t watch_of(const AlertSpec& s);
  AlertRule rule_of(const AlertSpec& s) const;
  void track(const AlertSpec& s, int delta);
  void collect(const std::vector<AlertFired>& raw, std::vector<Firing>* fired, int64_t reference);
  // The last price at the end of minute `minute` (0: unknown).
  static int64_t close_at_or_before(const Market& m, int64_t minute);
  void evaluate_changes(InstrumentId instrument, Market& m, Timestamp time, std::vector<Firing>* fired);
  void evaluate_volume(InstrumentId instrument, Market& m, Timestamp time, std::vector<Firing>* fired);
  void evaluate_indicators(InstrumentId instrument, Market& m, const std::vector<int64_t>& closed_before,
                           Timestamp time, std::vector<Firing>* fired);
  bool ready(AlertSpec& s, Timestamp time);  // event rules: unexpired, cooled down

  AlertBook book_;
  marketdata::CandleBook candles_;
  std::unordered_map<uint64_t, AlertSpec> specs_;
  std::unordered_map<uint32_t, Market> markets_;
  std::unordered_map<uint32_t, std::vector<uint64_t>> account_rules_;  // order_filled / margin_call, by account
  std::multimap<Timestamp, uint64_t> expiries_;
  std::vector<AlertFired> scratch_;
};

}  // namespace bourse::alerts

// MarketView: the public market state (instruments, L2 books, recent trades,
// 24-hour tickers) rebuilt from durable engine events, for readers on any
// thread.
//
// Ownership: the EngineService dispatcher thread is the only writer
// (on_durable_batch); request threads read under a shared lock and copy out
// what they need. Writers hold the lock once per batch, readers for the
// copy only, so neither side waits long. Load the starting state from the
// recovered engine with load() before the service starts.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bourse/engine/engine.h"
#include "bourse/sequencer/engine_service.h"
#include "marketdata/indicators.h"

namespace bourse::marketdata {

struct InstrumentInfo {
  InstrumentSpec spec;     // spec.status is the current status
  AssetSpec base;
  AssetSpec quote;
  Price last_price{0};     // 0 before the first trade
  Seq version = 0;         // engine seq of the last change to anything below
  SetMarginParams margin{};  // mark source and margin rates (instrument 0: never set)
  SetCircuitLimits circuits{};  // static limits and breaker (instrument 0: never set)
  Timestamp halted_until = 0;   // > 0: the circuit breaker halted it until then
};

// D = 10^(price_scale + base_scale − quote_scale): N(p, q) = p × q / D.
inline int64_t notional_divisor(const InstrumentInfo& i) {
  int64_t v = 1;
  for (int k = 0; k < i.spec.price_scale + i.base.scale - i.quote.scale; ++k) v *= 10;
  return v;
}

struct TradeRecord {
  TradeId id{0};
  Price price{0};
  Qty qty{0};
  Amount notional{0};
  Side aggressor_side = Side::kBuy;
  Timestamp time = 0;
};

struct BookLevel {
  Price price{0};
  Qty qty{0};
  uint32_t orders = 0;
};

struct BookSnapshot {
  // The book's update sequence: +1 for every durable batch that changed it
  // (contiguous within a server run; starts at the engine's seq when the
  // server starts, so it never goes backwards across restarts).
  uint64_t sequence = 0;
  std::vector<BookLevel> bids;  // best first
  std::vector<BookLevel> asks;  // best first
};

struct TickerStats {
  Price last{0};
  Price open{0};   // first trade price in the window (0 if none)
  Price high{0};
  Price low{0};
  Qty volume{0};
  Amount quote_volume{0};
  uint64_t trades = 0;
  std::optional<BookLevel> best_bid;
  std::optional<BookLevel> best_ask;
  Seq version = 0;
};

class MarketView final : public EventListener {
 public:
  static constexpr std::size_t kRecentTrades = 1000;  // per instrument

  // Before the service starts: instruments, assets and books of the engine.
  void load(const Engine& engine);
  void on_durable_batch(std::span<const Event> events) override;
  // Before the service starts: candles from the history store (oldest first,
  // the newest is the open bar), so bars and indicators survive restarts.
  void restore_candles(InstrumentId id, Interval interval, const std::vector<Candle>& bars);
  // Before the service starts: the recent trades (oldest first) and the
  // 24-hour ticker's minutes, also from the store.
  struct MinuteBar {
    int64_t minute = 0;  // since the epoch
    Price open{0}, high{0}, low{0}, close{0};
    Qty volume{0};
    Amount quote_volume{0};
    uint64_t trades = 0;
  };
  void restore_trades(InstrumentId id, const std::vector<TradeRecord>& oldest_first);
  void restore_minutes(InstrumentId id, const std::vector<MinuteBar>& bars);

  std::vector<InstrumentInfo> instruments() const;
  std::optional<InstrumentInfo> instrument(std::string_view symbol) const;
  std::optional<InstrumentInfo> instrument(InstrumentId id) const;
  // The price the engine marks positions at, by the same rule (last trade,
  // mid or an external reference; the spec's reference price before any).
  Price mark_price(InstrumentId id) const;
  std::vector<AssetSpec> assets() const;
  std::optional<AssetSpec> asset(AssetId id) const;
  std::optional<AssetSpec> asset(std::string_view code) const;

  // False for an unknown instrument. depth 0 = every level.
  bool book(InstrumentId id, std::size_t depth, BookSnapshot* out) const;
  // The book's update sequence (BookSnapshot::sequence); 0 if unknown.
  uint64_t book_sequence(InstrumentId id) const;
  // Newest first, at most `limit`.
  std::vector<TradeRecord> trades(InstrumentId id, std::size_t limit) const;
  // Rolling 24 hours ending at `now` (minute resolution: the window starts at
  // the minute 24 h before now's minute).
  std::optional<TickerStats> ticker(InstrumentId id, Timestamp now) const;
  // Candles from the venue's trades (docs/market-data.md), oldest first:
  // those with open time in [from_ns, to_ns), the newest `limit` of them;
  // last_open: the last one is the open bar (it may still change).
  struct CandleRows {
    std::vector<Candle> candles;
    bool last_open = false;
    // Memory holds only the newest bars: when it is full, bars older than
    // oldest_in_memory_ns may be in the history store.
    bool older_in_store = false;
    int64_t oldest_in_memory_ns = 0;
  };
  CandleRows candles(InstrumentId id, Interval interval, int64_t from_ns, int64_t to_ns, std::size_t limit) const;
  // The standard indicators over the closed candles; as_of_ns = the open
  // time of the newest closed candle (nullopt: none closed yet).
  struct IndicatorSnapshot {
    IndicatorValues values;
    std::optional<int64_t> as_of_ns;
  };
  std::optional<IndicatorSnapshot> indicators(InstrumentId id, Interval interval) const;
  // Highest engine seq applied (for /readyz and ETags).
  Seq version() const;

 private:
  // One minute of trades: enough to answer a 24-hour window exactly at
  // minute resolution with 1,440 buckets, whatever the trade rate.
  struct MinuteBucket {
    int64_t minute = -1;
    Price open{0}, high{0}, low{0}, close{0};
    Qty volume{0};
    Amount quote_volume{0};
    uint64_t trades = 0;
  };
  struct Market {
    InstrumentInfo info;
    std::map<int64_t, BookLevel, std::greater<>> bids;
    Seq breaker_seq = 0;  // the command of the last breaker trip (its HALTED event follows in it)
    std::map<int64_t, BookLevel> asks;
    uint64_t book_sequence = 0;
    uint64_t book_batch = 0;  // the batch that last bumped book_sequence
    std::deque<TradeRecord> recent;  // newest at the back
    std::array<MinuteBucket, 1440> minutes{};
    uint64_t trades_applied = 0;  // bumps on every trade: the window cache's key
    // The 24-hour window summed over `minutes` (1,440 buckets) is cached per
    // (minute, trades_applied): readers share it instead of each scanning.
    struct Window {
      int64_t minute = -1;
      uint64_t trades_applied = 0;
      TickerStats stats;
    };
    mutable std::mutex window_mutex;
    mutable Window window;
  };

  Market* find(InstrumentId id);
  const Market* find(InstrumentId id) const;
  void apply(const Event& e);
  void add_trade(Market& m, const Event& e);
  void add_trade(Market& m, const TradeRecord& r);

  mutable std::shared_mutex mutex_;
  std::unordered_map<uint32_t, Market> markets_;  // by instrument id
  CandleBook candles_;                            // every instrument's candles and indicators
  std::unordered_map<std::string, uint32_t> by_symbol_;
  std::map<uint32_t, AssetSpec> assets_;
  Seq version_ = 0;
  uint64_t batch_ = 0;  // durable batches applied
};

}  // namespace bourse::marketdata

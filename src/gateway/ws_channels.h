// Public WebSocket channels: their names, how each behaves when a client
// falls behind, the envelope every channel message shares, and the
// snapshots a subscriber gets on subscribe, on a resume that history cannot
// cover, or after conflation. Updates are rendered by WsPublisher.
// Protocol: docs/websocket.md.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/json_writer.h"
#include "gateway/ws_hub.h"
#include "marketdata/market_view.h"

namespace bourse::gateway {

enum class ChannelType : uint8_t {
  kTrades,     // trades.{symbol}
  kBook,       // book.{symbol}: snapshot, then diffs on the book's update sequence
  kBookTop,    // book{10,50,500}.{symbol}: the top N levels after each change
  kBbo,        // bbo.{symbol}
  kTicker,     // ticker.{symbol}
  kTickerAll,  // ticker.*: every instrument's ticker
  kCandles,    // candles.{interval}.{symbol}
};

struct PublicChannel {
  ChannelType type = ChannelType::kTrades;
  std::string name;               // as the client wrote it
  InstrumentId instrument{0};     // 0 for ticker.*
  marketdata::Interval interval = marketdata::Interval::k1m;  // candles
  std::size_t depth = 0;          // kBookTop
  WsChannelInfo info() const;
};

inline constexpr std::size_t kBookTopDepths[] = {10, 50, 500};

// Validates a public channel name against the market; nullopt if unknown.
std::optional<PublicChannel> parse_public_channel(std::string_view name, const marketdata::MarketView& market);
// The same against any directory of symbols (a market-data worker's).
using InstrumentLookup = std::function<std::optional<InstrumentId>(std::string_view symbol)>;
std::optional<PublicChannel> parse_public_channel(std::string_view name, const InstrumentLookup& lookup);

// What a kLatest message replaces: one per (type, instrument, depth).
uint64_t conflation_key(ChannelType type, InstrumentId instrument, std::size_t depth = 0);

// Opens {"channel","type","seq","ts","ts_us"; the caller adds the payload
// and closes the object. ts is ms, ts_us µs (publish time, for latency).
void begin_channel_message(JsonWriter& w, std::string_view channel, std::string_view type, uint64_t seq,
                           int64_t now_ns);

// Why a snapshot is sent ("reason" field).
inline constexpr std::string_view kSnapshotOnSubscribe = "subscribe";
inline constexpr std::string_view kSnapshotSinceTooOld = "since_too_old";
inline constexpr std::string_view kSnapshotSinceUnknown = "since_unknown";
inline constexpr std::string_view kSnapshotSlowConsumer = "slow_consumer";

// The snapshot a new subscriber is owed after the hub's verdict on its
// `since` (nullopt: none; trades and candles start live).
std::optional<std::string_view> snapshot_reason(ChannelType type, WsHub::Resume resume);

struct ChannelSnapshot {
  uint64_t key = 0;
  SharedMessage message;
};
// {"type":"snapshot","reason",…} messages for `channel`: the full book with
// its own sequence; top-N, bbo, ticker; recent trades; the newest closed
// and open candles; one per instrument for ticker.* (seq 0). `seq` is the
// channel's latest sequence (ignored for book and bookN). Trades and candles may have
// an empty data array; only an unknown instrument gives no message.
std::vector<ChannelSnapshot> render_snapshots(const marketdata::MarketView& market, const PublicChannel& channel,
                                              uint64_t seq, std::string_view reason, int64_t now_ns);

}  // namespace bourse::gateway

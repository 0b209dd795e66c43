#include "gateway/ws_channels.h"

#include "gateway/render.h"

namespace bourse::gateway {
namespace {

SharedMessage finish(std::string&& s) { return std::make_shared<const std::string>(std::move(s)); }

std::optional<InstrumentId> instrument_of(std::string_view symbol, const marketdata::MarketView& market) {
  const auto info = market.instrument(symbol);
  if (!info) return std::nullopt;
  return info->spec.id;
}

void render_bbo_data(JsonWriter& w, const marketdata::InstrumentInfo& info, const marketdata::BookSnapshot& top) {
  w.key("data").begin_object().field("symbol", info.spec.symbol.view());
  auto level = [&](const char* name, const std::vector<marketdata::BookLevel>& side) {
    w.key(name);
    if (side.empty()) {
      w.null();
    } else {
      w.begin_array().value(price_text(info, side[0].price)).value(qty_text(info, side[0].qty)).value(side[0].orders).end_array();
    }
  };
  level("bid", top.bids);
  level("ask", top.asks);
  w.end_object();
}

}  // namespace

WsChannelInfo PublicChannel::info() const {
  Delivery d = Delivery::kEvery;
  if (type == ChannelType::kBook) d = Delivery::kBook;
  if (type == ChannelType::kBookTop || type == ChannelType::kBbo || type == ChannelType::kTicker ||
      type == ChannelType::kTickerAll) {
    d = Delivery::kLatest;
  }
  // ticker.* has no history of its own: its resume is a snapshot of every ticker.
  return WsChannelInfo{name, d, type != ChannelType::kTickerAll, type == ChannelType::kTickerAll};
}

std::optional<PublicChannel> parse_public_channel(std::string_view name, const marketdata::MarketView& market) {
  return parse_public_channel(name, [&market](std::string_view symbol) { return instrument_of(symbol, market); });
}

std::optional<PublicChannel> parse_public_channel(std::string_view name, const InstrumentLookup& lookup) {
  PublicChannel c;
  c.name = std::string(name);
  if (name == "ticker.*") {
    c.type = ChannelType::kTickerAll;
    return c;
  }
  const std::size_t dot = name.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const std::string_view kind = name.substr(0, dot);
  std::string_view symbol = name.substr(dot + 1);
  if (kind == "trades") {
    c.type = ChannelType::kTrades;
  } else if (kind == "book") {
    c.type = ChannelType::kBook;
  } else if (kind == "bbo") {
    c.type = ChannelType::kBbo;
  } else if (kind == "ticker") {
    c.type = ChannelType::kTicker;
  } else if (kind == "candles") {
    const std::size_t second = symbol.find('.');
    if (second == std::string_view::npos) return std::nullopt;
    const auto interval = marketdata::parse_interval(symbol.substr(0, second));
    if (!interval) return std::nullopt;
    c.type = ChannelType::kCandles;
    c.interval = *interval;
    symbol = symbol.substr(second + 1);
  } else {
    bool found = false;
    for (std::size_t depth : kBookTopDepths) {
      if (kind == "book" + std::to_string(depth)) {
        c.type = ChannelType::kBookTop;
        c.depth = depth;
        found = true;
      }
    }
    if (!found) return std::nullopt;
  }
  const auto id = lookup(symbol);
  if (!id) return std::nullopt;
  c.instrument = *id;
  return c;
}

uint64_t conflation_key(ChannelType type, InstrumentId instrument, std::size_t depth) {
  // ticker.* shares its key with ticker.{symbol}: either way one ticker per instrument waits.
  if (type == ChannelType::kTickerAll) type = ChannelType::kTicker;
  return (static_cast<uint64_t>(type) << 56) | (static_cast<uint64_t>(depth) << 32) | instrument.value;
}

std::optional<std::string_view> snapshot_reason(ChannelType type, WsHub::Resume resume) {
  switch (resume) {
    case WsHub::Resume::kNone:
      if (type == ChannelType::kTrades || type == ChannelType::kCandles) return std::nullopt;
      return kSnapshotOnSubscribe;
    case WsHub::Resume::kCurrent:
    case WsHub::Resume::kReplayed: return std::nullopt;
    case WsHub::Resume::kTooOld: return kSnapshotSinceTooOld;
    case WsHub::Resume::kUnknown: return kSnapshotSinceUnknown;
  }
  return std::nullopt;
}

void begin_channel_message(JsonWriter& w, std::string_view channel, std::string_view type, uint64_t seq,
                           int64_t now_ns) {
  w.begin_object().field("channel", channel).field("type", type).field("seq", seq);
  w.field("ts", now_ns / 1'000'000).field("ts_us", now_ns / 1'000);
}

std::vector<ChannelSnapshot> render_snapshots(const marketdata::MarketView& market, const PublicChannel& channel,
                                              uint64_t seq, std::string_view reason, int64_t now_ns) {
  std::vector<ChannelSnapshot> out;
  auto one = [&](InstrumentId id, std::string_view channel_name, ChannelType type) {
    const auto info = market.instrument(id);
    if (!info) return;
    std::string text;
    JsonWriter w(&text);
    const uint64_t channel_seq = channel.type == ChannelType::kTickerAll ? 0 : seq;
    switch (type) {
      case ChannelType::kBook:
      case ChannelType::kBookTop:
      case ChannelType::kBbo: {
        marketdata::BookSnapshot book;
        const std::size_t depth = type == ChannelType::kBook ? 0 : type == ChannelType::kBbo ? 1 : channel.depth;
        if (!market.book(id, depth, &book)) return;
        // Books carry the book's own update sequence, so a snapshot lines up
        // with the diffs; bbo has its own counter.
        begin_channel_message(w, channel_name, "snapshot", type == ChannelType::kBbo ? channel_seq : book.sequence,
                              now_ns);
        w.field("reason", reason);
        if (type == ChannelType::kBbo) {
          render_bbo_data(w, *info, book);
        } else {
          w.key("bids");
          render_levels(w, *info, book.bids);
          w.key("asks");
          render_levels(w, *info, book.asks);
          if (type == ChannelType::kBook) w.field("checksum", book_checksum(*info, book));
        }
        break;
      }
      case ChannelType::kTicker:
      case ChannelType::kTickerAll: {
        const auto t = market.ticker(id, now_ns);
        if (!t) return;
        begin_channel_message(w, channel_name, "snapshot", channel_seq, now_ns);
        w.field("reason", reason).key("data");
        render_ticker(w, *info, *t);
        break;
      }
      case ChannelType::kTrades: {
        const auto trades = market.trades(id, 50);  // newest first
        begin_channel_message(w, channel_name, "snapshot", channel_seq, now_ns);
        w.field("reason", reason).key("data").begin_array();
        for (auto it = trades.rbegin(); it != trades.rend(); ++it) render_trade(w, *info, *it);
        w.end_array();
        break;
      }
      case ChannelType::kCandles: {
        const auto rows = market.candles(id, channel.interval, INT64_MIN, INT64_MAX, 2);
        begin_channel_message(w, channel_name, "snapshot", channel_seq, now_ns);
        w.field("reason", reason).key("data").begin_array();
        for (std::size_t k = 0; k < rows.candles.size(); ++k) {
          render_candle(w, *info, channel.interval, rows.candles[k], !(rows.last_open && k + 1 == rows.candles.size()));
        }
        w.end_array();
        break;
      }
    }
    w.end_object();
    out.push_back(ChannelSnapshot{conflation_key(type, id, channel.depth), finish(std::move(text))});
  };
  if (channel.type == ChannelType::kTickerAll) {
    for (const auto& info : market.instruments()) {
      one(info.spec.id, "ticker." + std::string(info.spec.symbol.view()), ChannelType::kTickerAll);
    }
  } else {
    one(channel.instrument, channel.name, channel.type);
  }
  return out;
}

}  // namespace bourse::gateway

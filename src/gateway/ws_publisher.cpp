#include "gateway/ws_publisher.h"

#include <map>
#include <set>

#include "bourse/core/checked.h"
#include "bourse/core/decimal.h"
#include "gateway/json_writer.h"
#include "gateway/render.h"
#include "gateway/ws_channels.h"

namespace bourse::gateway {
namespace {

SharedMessage finish(std::string&& s) { return std::make_shared<const std::string>(std::move(s)); }

}  // namespace

std::string private_channel(std::string_view name, AccountId account) {
  return std::string(name) + ":" + std::to_string(account.value);
}

void WsPublisher::on_durable_batch(std::span<const Event> events) {
  publish_public(events);
  publish_private(events);
  // One hand-over per batch: a connection gets the batch's trades, book diff
  // and ticker queued together, and they leave in one frame.
  if (!outgoing_.empty()) {
    hub_.publish_all(outgoing_, clock_.now());
    outgoing_.clear();
  }
}

uint64_t WsPublisher::next_seq(const std::string& channel) { return hub_.next_seq(channel); }

void WsPublisher::publish(const std::string& channel, uint64_t seq, uint64_t key, std::string&& message) {
  outgoing_.push_back(WsHub::Outgoing{channel, seq, key, finish(std::move(message))});
}

namespace {

bool same_level(const std::optional<marketdata::BookLevel>& a, const std::optional<marketdata::BookLevel>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->price.value == b->price.value && a->qty.value == b->qty.value && a->orders == b->orders);
}

std::optional<marketdata::BookLevel> best(const std::vector<marketdata::BookLevel>& side) {
  if (side.empty()) return std::nullopt;
  return side.front();
}

}  // namespace

void WsPublisher::publish_public(std::span<const Event> events) {
  // Group by instrument, keeping order; later level changes in the batch
  // replace earlier ones for the same (side, price).
  struct PerInstrument {
    std::vector<marketdata::TradeRecord> trades;  // venue and external trades, in order
    std::map<int64_t, const BookLevelChanged*, std::greater<>> bids;
    std::map<int64_t, const BookLevelChanged*> asks;
  };
  std::map<uint32_t, PerInstrument> touched;
  for (const Event& e : events) {
    if (e.type == EventType::kTrade) {
      const Trade& t = e.trade;
      touched[t.instrument.value].trades.push_back(
          marketdata::TradeRecord{t.trade_id, t.price, t.qty, t.notional, t.aggressor_side, e.cause.timestamp});
    } else if (e.type == EventType::kExternalTradeApplied) {
      const ExternalTradeApplied& t = e.external_trade;
      touched[t.instrument.value].trades.push_back(
          marketdata::TradeRecord{t.trade_id, t.price, t.qty, t.notional, t.aggressor_side, t.time});
    } else if (e.type == EventType::kBookLevelChanged) {
      PerInstrument& p = touched[e.book_level.instrument.value];
      (e.book_level.side == Side::kBuy ? p.bids[e.book_level.price.value] : p.asks[e.book_level.price.value]) = &e.book_level;
    } else if (e.type == EventType::kInstrumentStatusChanged) {
      touched[e.instrument_status.instrument.value];
    }
  }
  const int64_t now_ns = clock_.now();
  for (const auto& [id, p] : touched) {
    const auto info = market_.instrument(InstrumentId{id});
    if (!info) continue;
    const InstrumentId instrument{id};
    const std::string symbol(info->spec.symbol.view());
    const std::string trades_channel = "trades." + symbol;
    if (!p.trades.empty() && hub_.wants(trades_channel)) {
      std::string out;
      JsonWriter w(&out);
      const uint64_t seq = next_seq(trades_channel);
      begin_channel_message(w, trades_channel, "trades", seq, now_ns);
      w.key("data").begin_array();
      for (const marketdata::TradeRecord& t : p.trades) render_trade(w, *info, t);
      w.end_array().end_object();
      publish(trades_channel, seq, conflation_key(ChannelType::kTrades, instrument), std::move(out));
    }
    const bool book_changed = !p.bids.empty() || !p.asks.empty();
    const std::string book_channel = "book." + symbol;
    const std::string bbo_channel = "bbo." + symbol;
    // Copy the top of the book only when some book view is wanted.
    bool book_views_wanted = book_changed && (hub_.wants(book_channel) || hub_.wants(bbo_channel));
    for (std::size_t depth : kBookTopDepths) {
      book_views_wanted = book_views_wanted || (book_changed && hub_.wants("book" + std::to_string(depth) + "." + symbol));
    }
    if (book_views_wanted) {
      // The top of the book after the batch: the diff's checksum, bbo and top-N views.
      marketdata::BookSnapshot top;
      market_.book(instrument, kChecksumLevels, &top);
      if (hub_.wants(book_channel)) {
        std::string out;
        JsonWriter w(&out);
        begin_channel_message(w, book_channel, "update", top.sequence, now_ns);
        auto levels = [&](const auto& side) {
          w.begin_array();
          for (const auto& [price, l] : side) {
            w.begin_array().value(price_text(*info, l->price)).value(qty_text(*info, l->qty)).value(l->order_count).end_array();
          }
          w.end_array();
        };
        w.key("bids");
        levels(p.bids);
        w.key("asks");
        levels(p.asks);
        w.field("checksum", book_checksum(*info, top));
        w.end_object();
        publish(book_channel, top.sequence, conflation_key(ChannelType::kBook, instrument), std::move(out));
      }
      for (std::size_t depth : kBookTopDepths) {
        const std::string channel = "book" + std::to_string(depth) + "." + symbol;
        if (!hub_.wants(channel)) continue;
        marketdata::BookSnapshot view;
        market_.book(instrument, depth, &view);
        // Only a change inside the top N (or a book shorter than N) changes the view.
        bool inside = false;
        for (const auto& [price, l] : p.bids) {
          inside |= view.bids.size() < depth || price >= view.bids.back().price.value;
        }
        for (const auto& [price, l] : p.asks) {
          inside |= view.asks.size() < depth || price <= view.asks.back().price.value;
        }
        if (!inside) continue;
        std::string out;
        JsonWriter w(&out);
        begin_channel_message(w, channel, "book", view.sequence, now_ns);
        w.key("bids");
        render_levels(w, *info, view.bids);
        w.key("asks");
        render_levels(w, *info, view.asks);
        w.end_object();
        publish(channel, view.sequence, conflation_key(ChannelType::kBookTop, instrument, depth), std::move(out));
      }
      const Top now_top{best(top.bids), best(top.asks)};
      Top& sent = last_bbo_[id];
      if (hub_.wants(bbo_channel) && (!same_level(sent.bid, now_top.bid) || !same_level(sent.ask, now_top.ask))) {
        sent = now_top;
        std::string out;
        JsonWriter w(&out);
        const uint64_t seq = next_seq(bbo_channel);
        begin_channel_message(w, bbo_channel, "bbo", seq, now_ns);
        w.key("data").begin_object().field("symbol", symbol);
        auto level = [&](const char* name, const std::optional<marketdata::BookLevel>& l) {
          w.key(name);
          if (!l) {
            w.null();
          } else {
            w.begin_array().value(price_text(*info, l->price)).value(qty_text(*info, l->qty)).value(l->orders).end_array();
          }
        };
        level("bid", now_top.bid);
        level("ask", now_top.ask);
        w.end_object().end_object();
        publish(bbo_channel, seq, conflation_key(ChannelType::kBbo, instrument), std::move(out));
      }
    }
    // candles.{interval}.{symbol}: the newest bar before the first one the
    // batch's trades touched (so a bar they closed arrives once more, with
    // "closed": true), every bar they touched, the open bar last.
    if (!p.trades.empty()) {
      int64_t first_trade_ns = p.trades.front().time;
      for (const marketdata::TradeRecord& t : p.trades) first_trade_ns = std::min(first_trade_ns, t.time);
      for (marketdata::Interval interval : marketdata::kIntervals) {
        const std::string channel = "candles." + std::string(marketdata::interval_name(interval)) + "." + symbol;
        if (!hub_.wants(channel)) continue;
        const int64_t width = marketdata::interval_ns(interval);
        const int64_t first_bar = first_trade_ns / width * width - (first_trade_ns % width < 0 ? width : 0);
        const auto before = market_.candles(instrument, interval, INT64_MIN, first_bar, 1);
        const auto bars = market_.candles(instrument, interval, first_bar, INT64_MAX, SIZE_MAX);
        if (bars.candles.empty()) continue;
        std::string out;
        JsonWriter w(&out);
        const uint64_t seq = next_seq(channel);
        begin_channel_message(w, channel, "candles", seq, now_ns);
        w.key("data").begin_array();
        for (const marketdata::Candle& c : before.candles) render_candle(w, *info, interval, c, true);
        for (std::size_t k = 0; k < bars.candles.size(); ++k) {
          render_candle(w, *info, interval, bars.candles[k],
                        !(bars.last_open && k + 1 == bars.candles.size()));
        }
        w.end_array().end_object();
        publish(channel, seq, conflation_key(ChannelType::kCandles, instrument), std::move(out));
      }
    }
    // ticker.{symbol} and ticker.*: the same bytes, on the symbol's sequence.
    const std::string ticker_channel = "ticker." + symbol;
    const bool to_symbol = hub_.wants(ticker_channel), to_all = hub_.wants("ticker.*");
    if (to_symbol || to_all) {
      if (const auto t = market_.ticker(instrument, clock_.now())) {
        std::string out;
        JsonWriter w(&out);
        const uint64_t seq = next_seq(ticker_channel);
        begin_channel_message(w, ticker_channel, "ticker", seq, now_ns);
        w.key("data");
        render_ticker(w, *info, *t);
        w.end_object();
        const SharedMessage message = finish(std::move(out));
        const uint64_t key = conflation_key(ChannelType::kTicker, instrument);
        if (to_symbol) outgoing_.push_back(WsHub::Outgoing{ticker_channel, seq, key, message});
        if (to_all) outgoing_.push_back(WsHub::Outgoing{"ticker.*", seq, key, message});
      }
    }
  }
}

void WsPublisher::publish_private(std::span<const Event> events) {
  std::map<uint32_t, std::set<uint64_t>> orders;         // account → touched order ids
  std::map<uint32_t, std::size_t> fills;                 // account → fills in this batch
  std::map<std::pair<uint32_t, uint32_t>, const BalanceChanged*> balances;  // final per (account, asset)
  std::map<uint32_t, std::set<uint32_t>> positions;      // account → instruments whose position changed
  std::vector<const Event*> margin;                      // margin calls and liquidations, in order
  for (const Event& e : events) {
    switch (e.type) {
      case EventType::kOrderAccepted: orders[e.accepted.account.value].insert(e.accepted.order_id.value); break;
      case EventType::kOrderCancelled: orders[e.cancelled.account.value].insert(e.cancelled.order_id.value); break;
      case EventType::kOrderExpired: orders[e.expired.account.value].insert(e.expired.order_id.value); break;
      case EventType::kOrderAmended: orders[e.amended.account.value].insert(e.amended.order_id.value); break;
      case EventType::kOrderTriggered: orders[e.triggered.account.value].insert(e.triggered.order_id.value); break;
      case EventType::kTrade:
        for (const TradeLeg* leg : {&e.trade.aggressor, &e.trade.passive}) {
          orders[leg->account.value].insert(leg->order_id.value);
          ++fills[leg->account.value];
        }
        break;
      case EventType::kBalanceChanged: balances[{e.balance.account.value, e.balance.asset.value}] = &e.balance; break;
      case EventType::kPositionChanged: positions[e.position.account.value].insert(e.position.instrument.value); break;
      case EventType::kMarginStatusChanged:
      case EventType::kLiquidation: margin.push_back(&e); break;
      default: break;
    }
  }
  const int64_t now_ns = clock_.now();
  for (const auto& [account, ids] : orders) {
    const std::string channel = private_channel("orders", AccountId{account});
    if (!hub_.wants(channel)) continue;
    for (uint64_t id : ids) {
      const auto o = accounts_.order(AccountId{account}, OrderId{id});
      const auto info = o ? market_.instrument(o->instrument) : std::nullopt;
      if (!o || !info) continue;
      std::string out;
      JsonWriter w(&out);
      const uint64_t seq = next_seq(channel);
      begin_channel_message(w, "orders", "order", seq, now_ns);
      w.key("data");
      render_order(w, *info, *o);
      w.end_object();
      publish(channel, seq, 0, std::move(out));
    }
  }
  for (const auto& [account, count] : fills) {
    const std::string channel = private_channel("fills", AccountId{account});
    if (!hub_.wants(channel)) continue;
    // The read model appended this batch's fills last: they are the newest.
    auto list = accounts_.fills(AccountId{account}, std::nullopt, UINT64_MAX, count);
    for (auto it = list.rbegin(); it != list.rend(); ++it) {
      const auto info = market_.instrument(it->instrument);
      if (!info) continue;
      std::string out;
      JsonWriter w(&out);
      const uint64_t seq = next_seq(channel);
      begin_channel_message(w, "fills", "fill", seq, now_ns);
      w.key("data");
      render_fill(w, *info, *it);
      w.end_object();
      publish(channel, seq, 0, std::move(out));
    }
  }
  for (const auto& [key, b] : balances) {
    const std::string channel = private_channel("balances", AccountId{key.first});
    if (!hub_.wants(channel)) continue;
    const auto asset = market_.asset(b->asset);
    if (!asset) continue;
    int64_t total = 0;
    checked_add(b->available.value, b->locked.value, &total);
    std::string out;
    JsonWriter w(&out);
    const uint64_t seq = next_seq(channel);
    begin_channel_message(w, "balances", "balance", seq, now_ns);
    w.key("data").begin_object();
    w.field("asset", asset->code.view()).field("available", format_decimal(b->available.value, asset->scale));
    w.field("locked", format_decimal(b->locked.value, asset->scale)).field("total", format_decimal(total, asset->scale));
    w.end_object().end_object();
    publish(channel, seq, 0, std::move(out));
  }
  for (const Event* e : margin) {
    const bool call = e->type == EventType::kMarginStatusChanged;
    const AccountId account = call ? e->margin_status.account : e->liquidation.account;
    const std::string channel = private_channel("margin", account);
    if (!hub_.wants(channel)) continue;
    const auto asset = call ? market_.asset(e->margin_status.asset) : std::nullopt;
    const auto info = call ? std::nullopt : market_.instrument(e->liquidation.instrument);
    if (call ? !asset : !info) continue;  // (before taking a sequence number: no gaps)
    std::string out;
    JsonWriter w(&out);
    const uint64_t seq = next_seq(channel);
    if (call) {
      begin_channel_message(w, "margin", "margin_call", seq, now_ns);
      w.key("data").begin_object();
      w.field("currency", asset->code.view()).field("in_call", e->margin_status.in_call != 0);
      w.field("equity", format_wide_decimal(e->margin_status.equity.get(), asset->scale));
      w.field("maintenance_margin", format_wide_decimal(e->margin_status.maintenance.get(), asset->scale));
      w.field("initial_margin", format_wide_decimal(e->margin_status.initial.get(), asset->scale));
    } else {
      begin_channel_message(w, "margin", "liquidation", seq, now_ns);
      w.key("data").begin_object();
      w.field("symbol", info->spec.symbol.view());
      w.field("qty", format_decimal(e->liquidation.qty.value, info->base.scale));
      w.field("unrealized_pnl", format_wide_decimal(e->liquidation.unrealized.get(), info->quote.scale));
      w.field("reason", liquidation_reason_name(e->liquidation.reason));
    }
    w.end_object().end_object();
    publish(channel, seq, 0, std::move(out));
  }
  for (const auto& [account, instruments] : positions) {
    const std::string channel = private_channel("positions", AccountId{account});
    if (!hub_.wants(channel)) continue;
    // The read model already holds this batch's final state of each position.
    for (const accounts::PositionRecord& p : accounts_.positions(AccountId{account})) {
      if (instruments.count(p.instrument.value) == 0) continue;
      const auto info = market_.instrument(p.instrument);
      if (!info) continue;
      std::string out;
      JsonWriter w(&out);
      const uint64_t seq = next_seq(channel);
      begin_channel_message(w, "positions", "position", seq, now_ns);
      w.key("data");
      render_position(w, *info, p, market_.mark_price(p.instrument));
      w.end_object();
      publish(channel, seq, 0, std::move(out));
    }
  }
}

}  // namespace bourse::gateway

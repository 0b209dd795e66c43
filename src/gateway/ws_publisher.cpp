#include "gateway/ws_publisher.h"

#include <map>
#include <set>

#include "bourse/core/checked.h"
#include "bourse/core/decimal.h"
#include "gateway/json_writer.h"
#include "gateway/render.h"

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
}

void WsPublisher::publish_public(std::span<const Event> events) {
  // Group by instrument, keeping order; later level changes in the batch
  // replace earlier ones for the same (side, price).
  struct PerInstrument {
    std::vector<const Event*> trades;
    std::map<int64_t, const BookLevelChanged*, std::greater<>> bids;
    std::map<int64_t, const BookLevelChanged*> asks;
    Seq last_book_seq = 0;
  };
  std::map<uint32_t, PerInstrument> touched;
  for (const Event& e : events) {
    if (e.type == EventType::kTrade) {
      touched[e.trade.instrument.value].trades.push_back(&e);
    } else if (e.type == EventType::kBookLevelChanged) {
      PerInstrument& p = touched[e.book_level.instrument.value];
      (e.book_level.side == Side::kBuy ? p.bids[e.book_level.price.value] : p.asks[e.book_level.price.value]) = &e.book_level;
      p.last_book_seq = e.cause.seq;
    } else if (e.type == EventType::kInstrumentStatusChanged) {
      touched[e.instrument_status.instrument.value];
    }
  }
  const int64_t now_ms = clock_.now() / 1'000'000;
  for (const auto& [id, p] : touched) {
    const auto info = market_.instrument(InstrumentId{id});
    if (!info) continue;
    const std::string symbol(info->spec.symbol.view());
    const std::string trades_channel = "trades." + symbol;
    if (!p.trades.empty() && hub_.has_subscribers(trades_channel)) {
      std::string out;
      JsonWriter w(&out);
      w.begin_object().field("channel", trades_channel).field("type", "trades").field("ts", now_ms).key("data").begin_array();
      for (const Event* e : p.trades) {
        const Trade& t = e->trade;
        render_trade(w, *info, marketdata::TradeRecord{t.trade_id, t.price, t.qty, t.notional, t.aggressor_side, e->cause.timestamp});
      }
      w.end_array().end_object();
      hub_.publish(trades_channel, finish(std::move(out)));
    }
    const std::string book_channel = "book." + symbol;
    if ((!p.bids.empty() || !p.asks.empty()) && hub_.has_subscribers(book_channel)) {
      std::string out;
      JsonWriter w(&out);
      w.begin_object().field("channel", book_channel).field("type", "update").field("sequence", p.last_book_seq)
          .field("ts", now_ms);
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
      w.end_object();
      hub_.publish(book_channel, finish(std::move(out)));
    }
    // candles.{interval}.{symbol}: the newest bar before the first one the
    // batch's trades touched (so a bar they closed arrives once more, with
    // "closed": true), every bar they touched, the open bar last.
    if (!p.trades.empty()) {
      const int64_t first_trade_ns = p.trades.front()->cause.timestamp;
      for (marketdata::Interval interval : marketdata::kIntervals) {
        const std::string channel = "candles." + std::string(marketdata::interval_name(interval)) + "." + symbol;
        if (!hub_.has_subscribers(channel)) continue;
        const int64_t width = marketdata::interval_ns(interval);
        const int64_t first_bar = first_trade_ns / width * width - (first_trade_ns % width < 0 ? width : 0);
        const auto before = market_.candles(InstrumentId{id}, interval, INT64_MIN, first_bar, 1);
        const auto bars = market_.candles(InstrumentId{id}, interval, first_bar, INT64_MAX, SIZE_MAX);
        if (bars.candles.empty()) continue;
        std::string out;
        JsonWriter w(&out);
        w.begin_object().field("channel", channel).field("type", "candles").field("ts", now_ms).key("data").begin_array();
        for (const marketdata::Candle& c : before.candles) render_candle(w, *info, interval, c, true);
        for (std::size_t k = 0; k < bars.candles.size(); ++k) {
          render_candle(w, *info, interval, bars.candles[k],
                        !(bars.last_open && k + 1 == bars.candles.size()));
        }
        w.end_array().end_object();
        hub_.publish(channel, finish(std::move(out)));
      }
    }
    const std::string ticker_channel = "ticker." + symbol;
    if (hub_.has_subscribers(ticker_channel)) {
      if (const auto t = market_.ticker(InstrumentId{id}, clock_.now())) {
        std::string out;
        JsonWriter w(&out);
        w.begin_object().field("channel", ticker_channel).field("type", "ticker").field("ts", now_ms).key("data");
        render_ticker(w, *info, *t);
        w.end_object();
        hub_.publish(ticker_channel, finish(std::move(out)));
      }
    }
  }
}

void WsPublisher::publish_private(std::span<const Event> events) {
  std::map<uint32_t, std::set<uint64_t>> orders;         // account → touched order ids
  std::map<uint32_t, std::size_t> fills;                 // account → fills in this batch
  std::map<std::pair<uint32_t, uint32_t>, const BalanceChanged*> balances;  // final per (account, asset)
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
      default: break;
    }
  }
  const int64_t now_ms = clock_.now() / 1'000'000;
  for (const auto& [account, ids] : orders) {
    const std::string channel = private_channel("orders", AccountId{account});
    if (!hub_.has_subscribers(channel)) continue;
    for (uint64_t id : ids) {
      const auto o = accounts_.order(AccountId{account}, OrderId{id});
      const auto info = o ? market_.instrument(o->instrument) : std::nullopt;
      if (!o || !info) continue;
      std::string out;
      JsonWriter w(&out);
      w.begin_object().field("channel", "orders").field("type", "order").field("ts", now_ms).key("data");
      render_order(w, *info, *o);
      w.end_object();
      hub_.publish(channel, finish(std::move(out)));
    }
  }
  for (const auto& [account, count] : fills) {
    const std::string channel = private_channel("fills", AccountId{account});
    if (!hub_.has_subscribers(channel)) continue;
    // The read model appended this batch's fills last: they are the newest.
    auto list = accounts_.fills(AccountId{account}, std::nullopt, UINT64_MAX, count);
    for (auto it = list.rbegin(); it != list.rend(); ++it) {
      const auto info = market_.instrument(it->instrument);
      if (!info) continue;
      std::string out;
      JsonWriter w(&out);
      w.begin_object().field("channel", "fills").field("type", "fill").field("ts", now_ms).key("data");
      render_fill(w, *info, *it);
      w.end_object();
      hub_.publish(channel, finish(std::move(out)));
    }
  }
  for (const auto& [key, b] : balances) {
    const std::string channel = private_channel("balances", AccountId{key.first});
    if (!hub_.has_subscribers(channel)) continue;
    const auto asset = market_.asset(b->asset);
    if (!asset) continue;
    int64_t total = 0;
    checked_add(b->available.value, b->locked.value, &total);
    std::string out;
    JsonWriter w(&out);
    w.begin_object().field("channel", "balances").field("type", "balance").field("ts", now_ms).key("data").begin_object();
    w.field("asset", asset->code.view()).field("available", format_decimal(b->available.value, asset->scale));
    w.field("locked", format_decimal(b->locked.value, asset->scale)).field("total", format_decimal(total, asset->scale));
    w.end_object().end_object();
    hub_.publish(channel, finish(std::move(out)));
  }
}

}  // namespace bourse::gateway

// JSON renderings of market objects, shared by REST and (later) WebSocket
// messages. Prices, quantities and amounts are decimal strings at their
// asset's or instrument's scale; times are integer milliseconds since the
// epoch (`time`) — exact and easy for every client language.
#pragma once

#include <string>

#include "gateway/json_writer.h"
#include "accounts/account_read_model.h"
#include "marketdata/market_view.h"
#include "portfolio/reconcile.h"
#include "store/store.h"

namespace bourse::gateway {

std::string price_text(const marketdata::InstrumentInfo& i, Price p);
std::string qty_text(const marketdata::InstrumentInfo& i, Qty q);
std::string quote_text(const marketdata::InstrumentInfo& i, Amount a);
const char* instrument_status_name(InstrumentStatus s);
int64_t to_millis(Timestamp ns);

void render_instrument(JsonWriter& w, const marketdata::InstrumentInfo& i);
// [[price, qty, orders], …], best first.
void render_levels(JsonWriter& w, const marketdata::InstrumentInfo& i, const std::vector<marketdata::BookLevel>& levels);
// CRC32C of the best kChecksumLevels bids then asks as "p:q,p:q|p:q,…" in the
// decimal texts sent (docs/websocket.md); lets a client verify its book.
inline constexpr std::size_t kChecksumLevels = 10;
uint32_t book_checksum(const marketdata::InstrumentInfo& i, const marketdata::BookSnapshot& book);
void render_book(JsonWriter& w, const marketdata::InstrumentInfo& i, const marketdata::BookSnapshot& book);
void render_trade(JsonWriter& w, const marketdata::InstrumentInfo& i, const marketdata::TradeRecord& t);
void render_ticker(JsonWriter& w, const marketdata::InstrumentInfo& i, const marketdata::TickerStats& t);
// A candle: open_time/close_time (ms), OHLC, volume (base), vwap (the
// candle's own; 10^-8 of a price unit), trades, closed (false: the open bar).
void render_candle(JsonWriter& w, const marketdata::InstrumentInfo& i, marketdata::Interval interval,
                   const marketdata::Candle& c, bool closed);
// Indicator fields ("sma_20", "ema_20", "rsi_14", "macd_12_26_9",
// "bollinger_20_2", "vwap") into the open object; null until known.
// `only`: one indicator by name ("sma", …), empty: all.
void render_indicators(JsonWriter& w, const marketdata::InstrumentInfo& i, const marketdata::IndicatorValues& v,
                       std::string_view only);
bool indicator_name_known(std::string_view name);
void render_order(JsonWriter& w, const marketdata::InstrumentInfo& i, const accounts::OrderRecord& o);
// An order as the history store keeps it, in the read model's form.
accounts::OrderRecord order_record_of(const store::OrderHistoryRow& row);
void render_fill(JsonWriter& w, const marketdata::InstrumentInfo& i, const accounts::FillRecord& f);
// A MARGIN position valued at `mark`: signed qty, average entry price,
// cost, market value, unrealized and realized PnL, fees (quote asset).
void render_position(JsonWriter& w, const marketdata::InstrumentInfo& i, const accounts::PositionRecord& p, Price mark);
// A reconciliation report (portfolio/reconcile.h).
void render_reconcile(JsonWriter& w, const portfolio::ReconcileReport& r);

}  // namespace bourse::gateway

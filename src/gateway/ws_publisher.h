// WsPublisher: turns each durable batch of engine events into WebSocket
// channel messages and hands them to the WsHub. Registered as an
// EventListener after MarketView and AccountReadModel, so the state it
// renders already includes the batch.
//
// Per batch: trades.{symbol} (the batch's trades, in order), book.{symbol}
// (changed levels, quantity "0" = removed, with the engine sequence number),
// ticker.{symbol} (when trades or the top of book changed),
// candles.{interval}.{symbol} (the bars the batch's trades touched); private orders
// (each touched order's state), fills (each fill of the account), balances
// (each changed balance). Nothing is rendered for a channel nobody
// subscribes to. Message formats: docs/websocket.md.
//
// Thread: the dispatcher thread only.
#pragma once

#include "accounts/account_read_model.h"
#include "bourse/core/clock.h"
#include "bourse/sequencer/engine_service.h"
#include "gateway/ws_hub.h"
#include "marketdata/market_view.h"

namespace bourse::gateway {

// Channel names: public ones as clients write them, private ones per account.
std::string private_channel(std::string_view name, AccountId account);

class WsPublisher final : public EventListener {
 public:
  WsPublisher(WsHub& hub, const marketdata::MarketView& market, const accounts::AccountReadModel& accounts,
              Clock& clock)
      : hub_(hub), market_(market), accounts_(accounts), clock_(clock) {}
  void on_durable_batch(std::span<const Event> events) override;

 private:
  void publish_public(std::span<const Event> events);
  void publish_private(std::span<const Event> events);

  WsHub& hub_;
  const marketdata::MarketView& market_;
  const accounts::AccountReadModel& accounts_;
  Clock& clock_;
};

}  // namespace bourse::gateway

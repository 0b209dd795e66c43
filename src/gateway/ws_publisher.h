// WsPublisher: turns each durable batch of engine events into WebSocket
// channel messages and hands them to the WsHub. Registered as an
// EventListener after MarketView and AccountReadModel, so the state it
// renders already includes the batch.
//
// Per batch: trades.{symbol} (the batch's trades, in order), book.{symbol}
// (changed levels, quantity "0" = removed, on the book's update sequence,
// with a checksum), book{10,50,500}.{symbol} (the top N when it changed),
// bbo.{symbol} (when the best bid or ask changed), ticker.{symbol} and
// ticker.* (when trades or the top of book changed),
// candles.{interval}.{symbol} (the bars the batch's trades touched); private
// orders (each touched order's state), fills (each fill of the account),
// balances (each changed balance). Every message carries its channel's next
// sequence number from the hub (books: the book's update sequence). Nothing is rendered
// for a channel the hub does not want. Message formats: docs/websocket.md.
//
// Thread: the dispatcher thread only.
#pragma once

#include "accounts/account_read_model.h"
#include "bourse/core/clock.h"
#include "bourse/sequencer/engine_service.h"
#include "gateway/ws_hub.h"

#include <optional>
#include <string>
#include <unordered_map>
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
  uint64_t next_seq(const std::string& channel);
  // Queues a rendered message for the end of the batch.
  void publish(const std::string& channel, uint64_t seq, uint64_t key, std::string&& message);

  WsHub& hub_;
  const marketdata::MarketView& market_;
  const accounts::AccountReadModel& accounts_;
  Clock& clock_;
  std::vector<WsHub::Outgoing> outgoing_;           // this batch's messages, handed to the hub together
  // The best bid and ask last sent on bbo.{symbol}, to send only changes.
  struct Top {
    std::optional<marketdata::BookLevel> bid, ask;
  };
  std::unordered_map<uint32_t, Top> last_bbo_;
};

}  // namespace bourse::gateway

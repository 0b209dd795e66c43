// MdSource: the main process's side of its market-data workers' links
// (gateway/md_link.h). Each link is a subscriber of the hub like a client
// connection, subscribed to every channel any client of that worker asked
// for; what the hub gives it (rendered once, sequenced once) goes down the
// link as is. A worker's request to attach a client runs under the hub's
// lock — register the link, replay from history or render a snapshot,
// then "attached" — so the worker sees, in stream order, everything its
// client is owed before the live messages that follow it.
//
// Threads: deliver()/start() under the hub's lock (dispatcher, heartbeat
// thread: heartbeats are not forwarded, workers make their own); a reader
// thread per link for requests; a writer thread per link (LinkWriter).
// Registered as an EventListener after WsPublisher: a batch that adds
// instruments sends every worker the new directory.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "bourse/core/clock.h"
#include "bourse/sequencer/engine_service.h"
#include "gateway/ws_hub.h"
#include "marketdata/market_view.h"

namespace bourse::gateway {

class MdSourceLink;

class MdSource final : public EventListener {
 public:
  MdSource(WsHub& hub, const marketdata::MarketView& market, Clock& clock, std::size_t max_buffered_bytes)
      : hub_(hub), market_(market), clock_(clock), max_buffered_(max_buffered_bytes) {}
  ~MdSource();

  // Serves a worker on `fd` (a connected Unix stream socket; the link owns
  // it from now on). Returns the link's id.
  uint64_t add_link(int fd);
  // Leaves the hub, closes the socket, joins the link's threads.
  void remove_link(uint64_t id);
  // False once the worker closed its end or the link broke (too far behind).
  bool link_alive(uint64_t id) const;
  // The worker said it listens.
  bool link_ready(uint64_t id) const;
  std::size_t links() const;  // those serving: alive, and their worker listens
  // Bytes waiting to be written to the workers, over all links (a worker
  // that cannot keep up shows here first).
  std::size_t buffered_bytes() const;

  void on_durable_batch(std::span<const Event> events) override;

 private:
  WsHub& hub_;
  const marketdata::MarketView& market_;
  Clock& clock_;
  std::size_t max_buffered_;
  mutable std::mutex mutex_;
  uint64_t next_id_ = 1;
  std::vector<std::pair<uint64_t, std::shared_ptr<MdSourceLink>>> links_;
};

}  // namespace bourse::gateway

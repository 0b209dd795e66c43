// EngineService: the exchange (sequencer + journal + engine) behind bounded
// queues, for a server. Any thread submits commands; one engine thread
// applies them; one dispatcher thread hands results out once they are
// durable.
//
//   submit() ──▶ [inbound BoundedQueue] ──▶ engine thread: Exchange::submit
//                                              │ events copied, one end-of-command
//                                              ▼ record per command
//            [outbound BoundedQueue] ──▶ dispatcher thread: wait_durable(batch)
//                                              ├─▶ EventListener::on_durable_batch (read models, streams)
//                                              └─▶ CommandCompletion::complete (replies)
//
// The engine thread never waits for fsync, a socket or a listener: it only
// waits when the outbound queue is full (the dispatcher is behind). Nothing
// leaves the dispatcher before its command is durable, so no client ever
// sees a fill that recovery could undo. Listeners see every durable event
// once, in sequence order, before the completions of the same batch run:
// a client that receives a reply and then reads a read model sees its own
// write.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bourse/sequencer/exchange.h"
#include "bourse/sequencer/ring.h"

namespace bourse {

struct CommandOutcome {
  Seq seq = 0;             // 0: not applied (journal failed, or the service stopped)
  bool durable = false;    // false: answer "unavailable"; the events may be lost
  std::span<const Event> events;
};

// Receives one command's outcome on the dispatcher thread. Must not block;
// typically posts the reply to the connection's own thread.
class CommandCompletion {
 public:
  virtual void complete(const CommandOutcome& outcome) = 0;

 protected:
  ~CommandCompletion() = default;
};

// Receives every durable event, in order, on the dispatcher thread.
class EventListener {
 public:
  virtual void on_durable_batch(std::span<const Event> events) = 0;

 protected:
  ~EventListener() = default;
};

struct EngineServiceOptions {
  ExchangeOptions exchange;
  std::size_t inbound_capacity = 1u << 14;   // commands waiting for the engine
  std::size_t outbound_capacity = 1u << 16;  // event records waiting for durability
};

class EngineService {
 public:
  // Recovers the data directory; threads start with start().
  static std::unique_ptr<EngineService> open(const EngineServiceOptions& options, std::string* error);
  ~EngineService();  // stop()

  // Before start() or after stop() only: the engine thread owns it otherwise.
  const Engine& engine() const { return exchange_->engine(); }
  const RecoveryReport& recovery() const { return exchange_->recovery(); }
  // Fixed at open(): safe from any thread.
  const EngineConfig& config() const { return exchange_->engine().config(); }
  // Before start().
  void add_listener(EventListener* listener) { listeners_.push_back(listener); }
  void start();

  // Any thread. False (and nothing queued) when the queue is full or the
  // service is stopping. completion may be null (fire and forget).
  bool submit(const Command& command, CommandCompletion* completion);
  // Submits and waits for the outcome; returns the events (empty and
  // *durable=false when it could not be applied). Never call it from the
  // dispatcher thread, i.e. from a completion or listener.
  std::vector<Event> execute(const Command& command, bool* durable = nullptr);

  std::size_t queue_depth() const { return inbound_.size_approx(); }
  Seq durable_seq() const { return exchange_->durable_seq(); }
  bool journal_failed() const { return exchange_->journal_failed(); }
  bool running() const { return running_.load(std::memory_order_acquire); }

  // Refuses new commands, applies and delivers everything already queued,
  // then closes the exchange (final snapshot). Idempotent.
  void stop();

 private:
  struct Request {
    Command command;
    CommandCompletion* completion = nullptr;
  };
  struct OutRecord {
    Event event;
    CommandCompletion* completion = nullptr;
    Seq seq = 0;
    bool end_of_command = false;  // the marker after a command's events (which may be none)
    uint32_t event_count = 0;     // on the marker: how many events precede it
  };

  explicit EngineService(const EngineServiceOptions& options);
  void engine_loop();
  void dispatcher_loop();
  void push_out(OutRecord&& record);
  void deliver(std::vector<Event>& events, std::vector<OutRecord>& ends);

  std::unique_ptr<Exchange> exchange_;
  std::vector<EventListener*> listeners_;
  BoundedQueue<Request> inbound_;
  Doorbell inbound_bell_;
  BoundedQueue<OutRecord> outbound_;
  Doorbell outbound_bell_;
  std::atomic<bool> accepting_{false};
  std::atomic<bool> running_{false};
  std::atomic<bool> draining_{false};  // stop(): no submit() is in flight any more
  std::atomic<bool> engine_done_{false};
  std::atomic<int> submitters_{0};  // submit() calls in flight, so stop() drains all of them
  std::thread engine_thread_;
  std::thread dispatcher_thread_;
  bool stopped_ = false;
};

}  // namespace bourse

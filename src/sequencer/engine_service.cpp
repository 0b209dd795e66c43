#include "bourse/sequencer/engine_service.h"

#include <condition_variable>
#include <mutex>

#include "bourse/core/log.h"

namespace bourse {
namespace {

// Spins this many empty polls before sleeping on the doorbell: a burst of
// requests then costs no futex round trip, an idle server no CPU.
constexpr int kSpinPolls = 200;

inline void cpu_relax() { __builtin_ia32_pause(); }

// True when the exchange refused the command without applying it.
bool not_applied(std::span<const Event> events) {
  return events.size() == 1 && events[0].type == EventType::kOrderRejected &&
         events[0].rejected.reason == RejectReason::kUnavailable && events[0].cause.seq == 0;
}

class WaitingCompletion final : public CommandCompletion {
 public:
  void complete(const CommandOutcome& outcome) override {
    std::lock_guard lock(mutex_);
    events_.assign(outcome.events.begin(), outcome.events.end());
    durable_ = outcome.durable;
    done_ = true;
    cv_.notify_one();
  }
  std::vector<Event> wait(bool* durable) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return done_; });
    if (durable) *durable = durable_;
    return std::move(events_);
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Event> events_;
  bool durable_ = false;
  bool done_ = false;
};

}  // namespace

EngineService::EngineService(const EngineServiceOptions& options)
    : inbound_(options.inbound_capacity), outbound_(options.outbound_capacity) {}

std::unique_ptr<EngineService> EngineService::open(const EngineServiceOptions& options, std::string* error) {
  std::unique_ptr<EngineService> service(new EngineService(options));
  service->exchange_ = Exchange::open(options.exchange, error);
  if (!service->exchange_) return nullptr;
  return service;
}

EngineService::~EngineService() { stop(); }

void EngineService::start() {
  running_.store(true, std::memory_order_release);
  accepting_.store(true, std::memory_order_release);
  engine_thread_ = std::thread([this] { engine_loop(); });
  dispatcher_thread_ = std::thread([this] { dispatcher_loop(); });
}

bool EngineService::submit(const Command& command, CommandCompletion* completion) {
  submitters_.fetch_add(1, std::memory_order_seq_cst);
  bool queued = false;
  if (accepting_.load(std::memory_order_seq_cst)) queued = inbound_.try_push(Request{command, completion});
  submitters_.fetch_sub(1, std::memory_order_seq_cst);
  if (queued) inbound_bell_.ring();
  return queued;
}

std::vector<Event> EngineService::execute(const Command& command, bool* durable) {
  WaitingCompletion waiting;
  while (!submit(command, &waiting)) {
    if (!accepting_.load(std::memory_order_acquire)) {
      if (durable) *durable = false;
      return {};
    }
    std::this_thread::yield();  // queue full: wait for the engine
  }
  return waiting.wait(durable);
}

void EngineService::push_out(OutRecord&& record) {
  // Backpressure: the dispatcher is behind (usually waiting for fsync).
  int polls = 0;
  while (!outbound_.try_push(std::move(record))) {
    outbound_bell_.ring();
    if (++polls < kSpinPolls) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

void EngineService::engine_loop() {
  Request request;
  int idle = 0;
  for (;;) {
    if (inbound_.try_pop(&request)) {
      idle = 0;
      const std::span<const Event> events = exchange_->submit(request.command);
      const bool applied = !not_applied(events);
      for (const Event& e : events) {
        OutRecord r;
        r.event = e;
        push_out(std::move(r));
      }
      OutRecord end;
      end.completion = request.completion;
      end.seq = applied ? exchange_->last_seq() : 0;
      end.end_of_command = true;
      end.event_count = static_cast<uint32_t>(events.size());
      push_out(std::move(end));
      outbound_bell_.ring();
      continue;
    }
    // stop() raises draining_ only after every submit() has returned, so an
    // empty queue now is empty for good.
    if (draining_.load(std::memory_order_seq_cst)) break;
    if (++idle < kSpinPolls) {
      cpu_relax();
      continue;
    }
    const uint32_t ticket = inbound_bell_.prepare();
    if (inbound_.size_approx() != 0 || draining_.load(std::memory_order_seq_cst)) {
      inbound_bell_.cancel();
      idle = 0;
      continue;
    }
    inbound_bell_.wait(ticket);
    idle = 0;
  }
  engine_done_.store(true, std::memory_order_seq_cst);
  outbound_bell_.force();
}

void EngineService::deliver(std::vector<Event>& events, std::vector<OutRecord>& ends) {
  Seq last = 0;
  for (const OutRecord& end : ends) last = std::max(last, end.seq);
  const bool durable = last == 0 || exchange_->wait_durable(last);
  if (durable && !events.empty()) {
    for (EventListener* listener : listeners_) listener->on_durable_batch(events);
  }
  // Completions read their command's slice of `events`, in order.
  std::size_t offset = 0;
  for (OutRecord& end : ends) {
    const std::size_t count = end.event_count;
    if (end.completion) {
      CommandOutcome outcome;
      outcome.seq = end.seq;
      outcome.durable = durable && end.seq != 0;
      outcome.events = std::span<const Event>(events).subspan(offset, count);
      end.completion->complete(outcome);
    }
    offset += count;
  }
  events.clear();
  ends.clear();
}

void EngineService::dispatcher_loop() {
  std::vector<Event> events;
  std::vector<OutRecord> ends;
  events.reserve(4096);
  ends.reserve(1024);
  std::size_t command_events = 0;  // events of the command being collected
  OutRecord record;
  int idle = 0;
  for (;;) {
    if (outbound_.try_pop(&record)) {
      idle = 0;
      if (!record.end_of_command) {
        events.push_back(record.event);
        ++command_events;
        continue;
      }
      command_events = 0;
      ends.push_back(std::move(record));
      if (ends.size() >= 1024) deliver(events, ends);
      continue;
    }
    if (command_events != 0) {  // mid-command: the rest is coming
      cpu_relax();
      continue;
    }
    if (!ends.empty()) {
      deliver(events, ends);
      continue;
    }
    if (engine_done_.load(std::memory_order_seq_cst)) {
      if (outbound_.size_approx() == 0) break;
      continue;
    }
    if (++idle < kSpinPolls) {
      cpu_relax();
      continue;
    }
    const uint32_t ticket = outbound_bell_.prepare();
    if (outbound_.size_approx() != 0 || engine_done_.load(std::memory_order_seq_cst)) {
      outbound_bell_.cancel();
      idle = 0;
      continue;
    }
    outbound_bell_.wait(ticket);
    idle = 0;
  }
}

void EngineService::stop() {
  if (stopped_) return;
  stopped_ = true;
  accepting_.store(false, std::memory_order_seq_cst);
  while (submitters_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
  draining_.store(true, std::memory_order_seq_cst);
  inbound_bell_.force();
  if (engine_thread_.joinable()) engine_thread_.join();
  if (dispatcher_thread_.joinable()) dispatcher_thread_.join();
  running_.store(false, std::memory_order_release);
  if (exchange_) exchange_->close();
}

}  // namespace bourse

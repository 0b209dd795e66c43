// WsHub: channel → subscribers, for WebSocket streams. A message is
// serialized once (shared_ptr<const std::string>) and the same bytes are
// handed to every subscriber; each connection queues them in its own bounded
// queue, and a slow one never delays the others.
//
// Every channel message carries a sequence number assigned by its producer
// (WsPublisher). Public channels keep a bounded history of their recent
// messages, so a client that reconnects can resume with `since`: the hub
// replays what it missed, or says it cannot (the caller then sends a
// snapshot). Replay, snapshot and registration happen under the same lock as
// publishing, so nothing falls between them.
//
// Threads: publish from the dispatcher thread, heartbeat from a timer
// thread, subscribe/unsubscribe from I/O threads. One mutex guards
// everything; subscribers' deliver() runs under it and must not block.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace bourse::gateway {

using SharedMessage = std::shared_ptr<const std::string>;

// How a connection queues a channel's messages when it falls behind.
enum class Delivery : uint8_t {
  kEvery,   // every message, in order (trades, candles, private channels, replies)
  kLatest,  // state: a newer message replaces one still queued (ticker, bbo, top-N books)
  kBook,    // diffs: past the conflation threshold, diffs are dropped and one fresh snapshot follows
};

struct WsChannelInfo {
  std::string name;
  Delivery delivery = Delivery::kEvery;
  bool keeps_history = false;  // public channels: resume with `since`, and the channel outlives its subscribers
  bool multiplexed = false;    // carries other channels' messages (ticker.*): no sequence of its own
};

// A connection as the hub sees it.
class WsSubscriber {
 public:
  virtual ~WsSubscriber() = default;
  // Under the hub's lock: queue and return at once. `seq` is the message's
  // channel sequence (0: a heartbeat, which carries no new one). `key`
  // identifies what a kLatest message replaces (one ticker per instrument,
  // also on ticker.*). Returns true when the connection's writer must be
  // started with start() — which the hub does once every message of a
  // publish is queued, so a batch's trades and book diff leave in one frame.
  virtual bool deliver(const WsChannelInfo& channel, uint64_t seq, uint64_t key, const SharedMessage& message) = 0;
  virtual void start() = 0;

  // Market-data workers only (MdRelay, gateway/md_relay.h): a subscription
  // the main process completes later. `request` names one attempt;
  // relay_pending() says whether the subscriber still waits for it,
  // relay_snapshot() queues a snapshot (a book's also ends its conflation),
  // relay_attached() ends the wait: true means register it now (the hub
  // calls it under its lock, so an unsubscribe or a close cannot fall
  // between the answer and the registration).
  virtual bool relay_pending(std::string_view /*channel*/, uint64_t /*request*/) { return false; }
  virtual void relay_snapshot(const WsChannelInfo& /*channel*/, uint64_t /*request*/, uint64_t /*key*/,
                              const SharedMessage& /*message*/) {}
  virtual bool relay_attached(std::string_view /*channel*/, uint64_t /*request*/) { return false; }
};

class WsHub {
 public:
  struct Limits {
    std::size_t history_messages = 1000;   // per public channel
    std::size_t history_bytes = 512 * 1024;
    int64_t heartbeat_ns = 5'000'000'000;  // a channel quiet this long gets a heartbeat
  };
  // seq_base: where every channel's sequence starts (the engine's seq at
  // start-up, so sequences never go backwards across restarts).
  WsHub();
  explicit WsHub(Limits limits, uint64_t seq_base = 0) : limits_(limits), seq_base_(seq_base) {}

  // Producer side. wants(): someone subscribes, or the channel keeps history
  // (then it must see every message, or resume would skip some).
  bool wants(std::string_view channel) const;
  // The channel's next sequence number (its counter lives here, so a
  // snapshot taken under the hub's lock knows where the channel stands even
  // before anything was published on it).
  uint64_t next_seq(std::string_view channel);
  void publish(std::string_view channel, uint64_t seq, uint64_t key, const SharedMessage& message, int64_t now_ns);
  // Several messages (one engine batch) at once: every subscriber has all of
  // its messages queued before any writer starts.
  struct Outgoing {
    std::string channel;
    uint64_t seq;
    uint64_t key;
    SharedMessage message;
  };
  void publish_all(const std::vector<Outgoing>& messages, int64_t now_ns);
  // Channels quiet for heartbeat_ns get {"channel","type":"heartbeat","seq":last,"ts","ts_us"}.
  void heartbeat(int64_t now_ns);

  // What subscribe did about `since`.
  enum class Resume : uint8_t {
    kNone,      // no since given
    kCurrent,   // nothing was missed
    kReplayed,  // the missed messages were delivered from history
    kTooOld,    // since is older than the history (or the channel has none): snapshot needed
    kUnknown,   // since is ahead of the channel (e.g. the server restarted): snapshot needed
  };
  // Registers `s` (false if it already was). With `since`, delivers the
  // missed messages first when history has them. Then `after(resume, seq)`
  // runs, still under the lock, and may deliver a snapshot to `s` before any
  // later message; `seq` is the channel's latest sequence number (0 for a
  // multiplexed channel). A multiplexed channel cannot resume: kUnknown.
  using AfterSubscribe = std::function<void(Resume resume, uint64_t seq)>;
  bool subscribe(const WsChannelInfo& channel, const std::shared_ptr<WsSubscriber>& s,
                 std::optional<uint64_t> since, const AfterSubscribe& after);
  // For a market-data worker's link (gateway/md_source.h): registers `s`
  // unless it already is, then hands the history after `since` to `replay`
  // (not to s->deliver: it is owed to one client of the worker), then
  // after(), all under the lock.
  using ReplaySink = std::function<void(uint64_t seq, uint64_t key, const SharedMessage& message)>;
  void attach_relay(const WsChannelInfo& channel, const std::shared_ptr<WsSubscriber>& s,
                    std::optional<uint64_t> since, const ReplaySink& replay, const AfterSubscribe& after);
  // Inside a worker. subscribe_if_resumable: registers `s` and replays
  // only when nothing else is owed: the channel is here (its link is
  // attached) and `since` is covered by history, or no since was given and
  // `needs_snapshot` is false. False: nothing was done.
  bool subscribe_if_resumable(const WsChannelInfo& channel, const std::shared_ptr<WsSubscriber>& s,
                              std::optional<uint64_t> since, bool needs_snapshot);
  // Whether subscribe_if_resumable would succeed now (without doing it).
  bool resumable(std::string_view channel, std::optional<uint64_t> since, bool needs_snapshot) const;
  // relay_register: `s` joins once the main process answered request
  // `request`, if s->relay_attached() agrees (under the lock); `last_seq`
  // is where the main process's channel stood (for heartbeats and resume
  // before the first live message). False if `s` was not registered.
  bool relay_register(const WsChannelInfo& channel, const std::shared_ptr<WsSubscriber>& s, uint64_t request,
                      uint64_t last_seq);
  bool unsubscribe(std::string_view channel, const WsSubscriber* s);
  void unsubscribe_all(const WsSubscriber* s, const std::vector<std::string>& channels);
  // Runs f under the publishing lock (a connection rebuilding a snapshot).
  void locked(const std::function<void()>& f);

  std::size_t subscriber_count(std::string_view channel) const;
  std::optional<uint64_t> last_seq(std::string_view channel) const;

 private:
  struct HistoryEntry {
    uint64_t seq;
    uint64_t key;
    SharedMessage message;
  };
  struct Channel {
    WsChannelInfo info;
    std::optional<uint64_t> last_seq;
    int64_t last_activity_ns = 0;
    std::deque<HistoryEntry> history;
    std::size_t history_bytes = 0;
    std::vector<WsSubscriber*> subscribers;             // delivery order
    std::unordered_map<const WsSubscriber*, std::size_t> position;  // O(1) removal (swap with the last)
  };
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  Channel* find(std::string_view name);
  const Channel* find(std::string_view name) const;
  bool remove(Channel& c, const WsSubscriber* s);  // caller holds the lock; true if the channel may go
  Channel& channel_locked(const WsChannelInfo& info);
  // Where `since` stands against the channel's history; kReplayed hands the
  // missed messages to `replay` first.
  Resume resume_locked(const Channel& c, uint64_t since, const ReplaySink& replay) const;
  void publish_locked(std::string_view channel, uint64_t seq, uint64_t key, const SharedMessage& message, int64_t now_ns,
                      std::vector<WsSubscriber*>* to_start);

  uint64_t counter(std::string_view channel) const;  // caller holds the lock

  Limits limits_;
  uint64_t seq_base_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, uint64_t, NameHash, std::equal_to<>> counters_;  // channel → last seq given out
  std::unordered_map<std::string, Channel, NameHash, std::equal_to<>> channels_;
};

}  // namespace bourse::gateway

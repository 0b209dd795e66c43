// WsHub: channel → subscribers, for WebSocket streams. A message is
// serialized once (shared_ptr<const std::string>) and the same bytes are
// queued on every subscriber; a subscriber whose bounded queue is full is
// told to close as a slow consumer, and nobody else waits for it.
//
// Threads: subscribe/unsubscribe from I/O threads, publish from the
// dispatcher thread. One mutex guards the registry; publish copies the
// subscriber list under it and delivers outside it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace bourse::gateway {

using SharedMessage = std::shared_ptr<const std::string>;

// A connection as the hub sees it.
class WsSubscriber {
 public:
  virtual ~WsSubscriber() = default;
  // Any thread; must not block. Returns false when the connection refused
  // the message (queue full: it is closing as a slow consumer).
  virtual bool deliver(const SharedMessage& message) = 0;
};

class WsHub {
 public:
  // Returns false if already subscribed.
  bool subscribe(const std::string& channel, const std::shared_ptr<WsSubscriber>& s);
  bool unsubscribe(const std::string& channel, const WsSubscriber* s);
  void unsubscribe_all(const WsSubscriber* s, const std::vector<std::string>& channels);
  // Delivers to every subscriber of `channel`; returns how many received it.
  std::size_t publish(const std::string& channel, const SharedMessage& message);
  std::size_t subscriber_count(const std::string& channel) const;
  bool has_subscribers(const std::string& channel) const { return subscriber_count(channel) > 0; }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::unordered_map<const WsSubscriber*, std::weak_ptr<WsSubscriber>>> channels_;
};

}  // namespace bourse::gateway

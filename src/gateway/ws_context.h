// What WebSocket sessions need from the rest of the server, and the
// registry that lets shutdown close them all. No Beast here.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace bourse {
class Clock;
class EngineService;
namespace auth { class AuthService; }
namespace marketdata { class MarketView; }
}  // namespace bourse

namespace bourse::gateway {

class RestApi;
class WsHub;
class WsSubscriber;
struct WsChannelInfo;

struct WsOptions {
  std::size_t max_message_bytes = 16 * 1024;  // larger client messages close the connection (1009)
  std::size_t max_subscriptions = 100;        // channels per connection
  std::size_t max_queued_messages = 4096;     // send queue bound: past it, 1008 "slow consumer"
  std::size_t conflate_after_messages = 256;
  int send_buffer_bytes = 0;                  // SO_SNDBUF per connection (0: the kernel's autotuning)  // queue length past which book diffs give way to one snapshot
  int idle_timeout_ms = 30'000;               // no frame (pongs count) for this long: closed
  int max_connections = 10'000;               // further upgrades are refused with 503
};

// Where a market-data worker's public channels come from (MdRelay): the
// main process, over the worker's link. Null in the main process, whose
// sessions render snapshots from its own MarketView.
class WsUpstream {
 public:
  virtual ~WsUpstream() = default;
  virtual std::optional<uint32_t> instrument(std::string_view symbol) const = 0;  // the directory
  virtual uint64_t new_request() = 0;
  // Asks the main process to attach `s`: it answers request `request`
  // (replay or snapshot, then attachment) through the relay_* calls of
  // WsSubscriber. (What this worker's own history covers, the session
  // subscribes in its hub directly.)
  virtual void forward(const std::shared_ptr<WsSubscriber>& s, const WsChannelInfo& channel,
                       std::optional<uint64_t> since, uint64_t request) = 0;
  // A slow subscriber's book: one fresh snapshot through relay_snapshot().
  // Called under the hub's lock; never blocks.
  virtual void refresh(const std::weak_ptr<WsSubscriber>& s, const WsChannelInfo& channel, uint64_t request) = 0;
};

// A session as shutdown sees it.
class WsClosable {
 public:
  virtual ~WsClosable() = default;
  virtual void close_going_away() = 0;  // 1001, any thread
};

struct WsContext {
  WsHub* hub = nullptr;
  RestApi* api = nullptr;
  auth::AuthService* auth = nullptr;
  marketdata::MarketView* market = nullptr;
  EngineService* engine = nullptr;
  Clock* clock = nullptr;
  // A market-data worker: public channels only, from `upstream`; api, auth,
  // market and engine are null (login and orders are refused).
  WsUpstream* upstream = nullptr;
  WsOptions options;

  std::atomic<int> connections{0};
  std::atomic<uint64_t> next_id{1};
  std::mutex sessions_mutex;
  std::unordered_map<uint64_t, std::weak_ptr<WsClosable>> sessions;

  // Shutdown: every open session closes with 1001 "going away".
  void close_all() {
    std::vector<std::shared_ptr<WsClosable>> open;
    {
      std::lock_guard lock(sessions_mutex);
      for (auto& [id, weak] : sessions) {
        if (auto s = weak.lock()) open.push_back(std::move(s));
      }
    }
    for (auto& s : open) s->close_going_away();
  }
};

}  // namespace bourse::gateway

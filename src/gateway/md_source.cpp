#include "gateway/md_source.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>

#include "bourse/core/log.h"
#include "gateway/md_link.h"
#include "gateway/ws_channels.h"

namespace bourse::gateway {

// One worker's link, as the hub sees it: a subscriber.
class MdSourceLink final : public WsSubscriber, public std::enable_shared_from_this<MdSourceLink> {
 public:
  MdSourceLink(int fd, WsHub& hub, const marketdata::MarketView& market, Clock& clock, std::size_t max_buffered)
      : fd_(fd), hub_(hub), market_(market), clock_(clock), writer_(fd, max_buffered) {}

  ~MdSourceLink() override { ::close(fd_); }

  void run() {
    send_directory();
    reader_ = std::thread([this] {
      read_link(fd_, [this](const LinkFrame& f) {
        if (f.type == LinkType::kAttach) attach(f);
        if (f.type == LinkType::kReady) ready_.store(true);
      });
      ended_.store(true);
    });
  }

  void send_directory() {
    std::vector<std::pair<uint32_t, std::string>> entries;
    for (const auto& i : market_.instruments()) entries.emplace_back(i.spec.id.value, std::string(i.spec.symbol.view()));
    // Under the hub's lock: ordered with the channel messages that may name a new instrument.
    hub_.locked([&] { writer_.append([&](std::string& out) { encode_directory(out, entries); }); });
    writer_.wake();
  }

  // No more requests, then out of the hub (it holds a plain pointer to
  // us), then the writer.
  void stop() {
    ::shutdown(fd_, SHUT_RDWR);
    if (reader_.joinable()) reader_.join();
    std::vector<std::string> channels;
    {
      std::lock_guard lock(channels_mutex_);
      channels.assign(channels_.begin(), channels_.end());
    }
    hub_.unsubscribe_all(this, channels);
    writer_.stop();
  }

  bool alive() const { return !ended_.load() && !writer_.broken(); }
  bool ready() const { return ready_.load(); }
  std::size_t buffered() const { return writer_.buffered(); }

  // Under the hub's lock. Heartbeats (seq 0) stay here: workers send their own.
  bool deliver(const WsChannelInfo& channel, uint64_t seq, uint64_t key, const SharedMessage& message) override {
    if (seq == 0) return false;
    writer_.append([&](std::string& out) { encode_message(out, seq, key, channel.name, *message); });
    if (start_pending_) return false;
    start_pending_ = true;
    return true;
  }
  // Once per publish, after every message: the worker publishes them together.
  void start() override {
    start_pending_ = false;
    writer_.append([](std::string& out) { encode_batch_end(out); });
    writer_.wake();
  }

 private:
  // A worker asks for one of its clients: register the link (once per
  // channel), then the client's replay or snapshot, then "attached".
  void attach(const LinkFrame& f) {
    const std::string name(f.channel);
    const auto channel = parse_public_channel(name, market_);
    if (!channel) {
      // Unknown here (the worker's directory cannot be ahead of ours): nothing to attach to.
      writer_.append([&](std::string& out) { encode_attached(out, f.request, 0, name); });
      writer_.wake();
      return;
    }
    {
      std::lock_guard lock(channels_mutex_);
      channels_.insert(name);
    }
    std::optional<uint64_t> since;
    if (f.flags & kAttachHasSince) since = f.seq;
    const bool force = (f.flags & kAttachForceSnapshot) != 0;
    const WsChannelInfo info = channel->info();
    hub_.attach_relay(
        info, shared_from_this(), force ? std::nullopt : since,
        [&](uint64_t seq, uint64_t key, const SharedMessage& m) {
          writer_.append([&](std::string& out) { encode_replay(out, f.request, seq, key, name, *m); });
        },
        [&](WsHub::Resume resume, uint64_t last_seq) {
          std::optional<std::string_view> reason =
              force ? std::optional<std::string_view>(kSnapshotSlowConsumer) : snapshot_reason(channel->type, resume);
          if (reason) {
            for (const auto& s : snapshots(*channel, last_seq, *reason)) {
              writer_.append([&](std::string& out) { encode_snapshot(out, f.request, s.key, name, *s.message); });
            }
          }
          writer_.append([&](std::string& out) { encode_attached(out, f.request, last_seq, name); });
        });
    writer_.wake();
  }

  // A reconnect storm asks for the same snapshot thousands of times: render
  // it once per (channel, reason) while the market has not moved (same
  // MarketView version and channel sequence). Reader thread only.
  const std::vector<ChannelSnapshot>& snapshots(const PublicChannel& channel, uint64_t last_seq, std::string_view reason) {
    CachedSnapshot& c = snapshot_cache_[channel.name + "|" + std::string(reason)];
    const uint64_t version = market_.version();
    if (!c.valid || c.version != version || c.last_seq != last_seq) {
      c.snapshots = render_snapshots(market_, channel, last_seq, reason, clock_.now());
      c.version = version;
      c.last_seq = last_seq;
      c.valid = true;
    }
    return c.snapshots;
  }
  struct CachedSnapshot {
    bool valid = false;
    uint64_t version = 0, last_seq = 0;
    std::vector<ChannelSnapshot> snapshots;
  };
  std::unordered_map<std::string, CachedSnapshot> snapshot_cache_;

  int fd_;
  WsHub& hub_;
  const marketdata::MarketView& market_;
  Clock& clock_;
  LinkWriter writer_;
  std::thread reader_;
  std::atomic<bool> ended_{false}, ready_{false};
  bool start_pending_ = false;  // under the hub's lock
  std::mutex channels_mutex_;
  std::set<std::string> channels_;  // what the link is registered for in the hub
};

MdSource::~MdSource() {
  std::vector<uint64_t> ids;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, link] : links_) ids.push_back(id);
  }
  for (uint64_t id : ids) remove_link(id);
}

uint64_t MdSource::add_link(int fd) {
  auto link = std::make_shared<MdSourceLink>(fd, hub_, market_, clock_, max_buffered_);
  link->run();
  std::lock_guard lock(mutex_);
  const uint64_t id = next_id_++;
  links_.emplace_back(id, std::move(link));
  return id;
}

void MdSource::remove_link(uint64_t id) {
  std::shared_ptr<MdSourceLink> link;
  {
    std::lock_guard lock(mutex_);
    for (auto it = links_.begin(); it != links_.end(); ++it) {
      if (it->first == id) {
        link = std::move(it->second);
        links_.erase(it);
        break;
      }
    }
  }
  if (link) link->stop();
}

bool MdSource::link_alive(uint64_t id) const {
  std::lock_guard lock(mutex_);
  for (const auto& [link_id, link] : links_) {
    if (link_id == id) return link->alive();
  }
  return false;
}

bool MdSource::link_ready(uint64_t id) const {
  std::lock_guard lock(mutex_);
  for (const auto& [link_id, link] : links_) {
    if (link_id == id) return link->ready();
  }
  return false;
}

std::size_t MdSource::buffered_bytes() const {
  std::lock_guard lock(mutex_);
  std::size_t total = 0;
  for (const auto& [id, link] : links_) total += link->buffered();
  return total;
}

std::size_t MdSource::links() const {
  std::lock_guard lock(mutex_);
  std::size_t alive = 0;
  for (const auto& [id, link] : links_) alive += link->alive() && link->ready() ? 1 : 0;
  return alive;
}

void MdSource::on_durable_batch(std::span<const Event> events) {
  bool added = false;
  for (const Event& e : events) added |= e.type == EventType::kInstrumentAdded;
  if (!added) return;
  std::vector<std::shared_ptr<MdSourceLink>> links;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, link] : links_) links.push_back(link);
  }
  for (auto& link : links) link->send_directory();
}

}  // namespace bourse::gateway

#include "gateway/md_relay.h"

#include <unistd.h>

#include <chrono>

#include "gateway/md_link.h"
#include "gateway/ws_channels.h"

namespace bourse::gateway {

namespace {
// The worker's requests are small; a main process that stops reading them
// for this long is gone.
constexpr std::size_t kMaxRequestBytes = 16u << 20;
}  // namespace

MdRelay::MdRelay(int fd, WsHub& hub, Clock& clock)
    : fd_(fd), hub_(hub), clock_(clock), writer_(std::make_unique<LinkWriter>(fd, kMaxRequestBytes)) {}

MdRelay::~MdRelay() { writer_->stop(); }

void MdRelay::run() {
  read_link(fd_, [this](const LinkFrame& f) { on_frame(f); });
  std::lock_guard lock(mutex_);
  ended_ = true;
  directory_cv_.notify_all();
}

bool MdRelay::wait_directory(int timeout_ms) {
  std::unique_lock lock(mutex_);
  directory_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return have_directory_ || ended_; });
  return have_directory_;
}

void MdRelay::ready() {
  writer_->append([](std::string& out) { encode_ready(out); });
  writer_->wake();
}

std::optional<uint32_t> MdRelay::instrument(std::string_view symbol) const {
  std::lock_guard lock(mutex_);
  auto it = directory_.find(std::string(symbol));
  if (it == directory_.end()) return std::nullopt;
  return it->second;
}

void MdRelay::forward(const std::shared_ptr<WsSubscriber>& s, const WsChannelInfo& channel,
                      std::optional<uint64_t> since, uint64_t request_id) {
  request(s, channel, request_id, since ? kAttachHasSince : 0, since.value_or(0));
}

void MdRelay::refresh(const std::weak_ptr<WsSubscriber>& s, const WsChannelInfo& channel, uint64_t request_id) {
  request(s, channel, request_id, kAttachForceSnapshot, 0);
}

void MdRelay::request(const std::weak_ptr<WsSubscriber>& s, const WsChannelInfo& channel, uint64_t request_id,
                      uint8_t flags, uint64_t since) {
  {
    std::lock_guard lock(mutex_);
    pending_.insert_or_assign(request_id, Pending{s, channel});
  }
  writer_->append([&](std::string& out) { encode_attach(out, request_id, flags, since, channel.name); });
  writer_->wake();
}

const WsChannelInfo* MdRelay::info_of(std::string_view channel) {
  auto it = infos_.find(std::string(channel));
  if (it != infos_.end()) return &it->second;
  const auto parsed = parse_public_channel(channel, [this](std::string_view symbol) -> std::optional<InstrumentId> {
    if (auto id = instrument(symbol)) return InstrumentId{*id};
    return std::nullopt;
  });
  if (!parsed) return nullptr;
  return &infos_.emplace(std::string(channel), parsed->info()).first->second;
}

void MdRelay::on_frame(const LinkFrame& f) {
  switch (f.type) {
    case LinkType::kDirectory: {
      std::lock_guard lock(mutex_);
      for (const auto& [id, symbol] : f.directory) directory_[std::string(symbol)] = id;
      have_directory_ = true;
      directory_cv_.notify_all();
      return;
    }
    case LinkType::kMessage:
      if (info_of(f.channel)) {
        batch_.push_back(WsHub::Outgoing{std::string(f.channel), f.seq, f.key,
                                         std::make_shared<const std::string>(f.message)});
      }
      return;
    case LinkType::kBatchEnd:
      hub_.publish_all(batch_, clock_.now());
      batch_.clear();
      return;
    case LinkType::kReplay:
    case LinkType::kSnapshot:
    case LinkType::kAttached: {
      Pending pending;
      {
        std::lock_guard lock(mutex_);
        auto it = pending_.find(f.request);
        if (it == pending_.end()) return;
        pending = it->second;
        if (f.type == LinkType::kAttached) pending_.erase(it);
      }
      auto s = pending.subscriber.lock();
      if (!s) return;
      const WsChannelInfo& info = pending.channel;
      if (f.type == LinkType::kAttached) {
        hub_.relay_register(info, s, f.request, f.seq);
        return;
      }
      if (!s->relay_pending(info.name, f.request)) return;
      auto message = std::make_shared<const std::string>(f.message);
      if (f.type == LinkType::kSnapshot) {
        s->relay_snapshot(info, f.request, f.key, message);
      } else if (s->deliver(info, f.seq, f.key, message)) {
        s->start();
      }
      return;
    }
    case LinkType::kAttach:
    case LinkType::kReady:
      return;  // worker → main only
  }
}

}  // namespace bourse::gateway

#include "gateway/ws_hub.h"

namespace bourse::gateway {

bool WsHub::subscribe(const std::string& channel, const std::shared_ptr<WsSubscriber>& s) {
  std::lock_guard lock(mutex_);
  return channels_[channel].emplace(s.get(), s).second;
}

bool WsHub::unsubscribe(const std::string& channel, const WsSubscriber* s) {
  std::lock_guard lock(mutex_);
  auto it = channels_.find(channel);
  if (it == channels_.end() || it->second.erase(s) == 0) return false;
  if (it->second.empty()) channels_.erase(it);
  return true;
}

void WsHub::unsubscribe_all(const WsSubscriber* s, const std::vector<std::string>& channels) {
  std::lock_guard lock(mutex_);
  for (const std::string& c : channels) {
    auto it = channels_.find(c);
    if (it == channels_.end()) continue;
    it->second.erase(s);
    if (it->second.empty()) channels_.erase(it);
  }
}

std::size_t WsHub::publish(const std::string& channel, const SharedMessage& message) {
  std::vector<std::shared_ptr<WsSubscriber>> targets;
  {
    std::lock_guard lock(mutex_);
    auto it = channels_.find(channel);
    if (it == channels_.end()) return 0;
    targets.reserve(it->second.size());
    for (auto& [ptr, weak] : it->second) {
      if (auto s = weak.lock()) targets.push_back(std::move(s));
    }
  }
  std::size_t delivered = 0;
  for (const auto& s : targets) delivered += s->deliver(message) ? 1 : 0;
  return delivered;
}

std::size_t WsHub::subscriber_count(const std::string& channel) const {
  std::lock_guard lock(mutex_);
  auto it = channels_.find(channel);
  return it == channels_.end() ? 0 : it->second.size();
}

}  // namespace bourse::gateway

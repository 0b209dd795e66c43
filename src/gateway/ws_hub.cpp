#include "gateway/ws_hub.h"

#include <algorithm>

#include "gateway/json_writer.h"

namespace bourse::gateway {

WsHub::WsHub() : WsHub(Limits{}) {}

WsHub::Channel* WsHub::find(std::string_view name) {
  auto it = channels_.find(name);
  return it == channels_.end() ? nullptr : &it->second;
}

const WsHub::Channel* WsHub::find(std::string_view name) const {
  auto it = channels_.find(name);
  return it == channels_.end() ? nullptr : &it->second;
}

uint64_t WsHub::counter(std::string_view channel) const {
  auto it = counters_.find(channel);
  return it == counters_.end() ? seq_base_ : it->second;
}

uint64_t WsHub::next_seq(std::string_view channel) {
  std::lock_guard lock(mutex_);
  auto it = counters_.find(channel);
  if (it == counters_.end()) it = counters_.emplace(std::string(channel), seq_base_).first;
  return ++it->second;
}

bool WsHub::wants(std::string_view channel) const {
  std::lock_guard lock(mutex_);
  return find(channel) != nullptr;
}

void WsHub::publish_locked(std::string_view channel, uint64_t seq, uint64_t key, const SharedMessage& message,
                           int64_t now_ns, std::vector<WsSubscriber*>* to_start) {
  Channel* c = find(channel);
  if (!c) return;
  if (!c->info.multiplexed) c->last_seq = seq;
  c->last_activity_ns = now_ns;
  if (c->info.keeps_history) {
    c->history.push_back(HistoryEntry{seq, key, message});
    c->history_bytes += message->size();
    while (c->history.size() > limits_.history_messages ||
           (c->history_bytes > limits_.history_bytes && c->history.size() > 1)) {
      c->history_bytes -= c->history.front().message->size();
      c->history.pop_front();
    }
  }
  for (WsSubscriber* s : c->subscribers) {
    if (s->deliver(c->info, seq, key, message)) to_start->push_back(s);
  }
}

void WsHub::publish(std::string_view channel, uint64_t seq, uint64_t key, const SharedMessage& message,
                    int64_t now_ns) {
  std::lock_guard lock(mutex_);
  std::vector<WsSubscriber*> to_start;
  publish_locked(channel, seq, key, message, now_ns, &to_start);
  for (WsSubscriber* s : to_start) s->start();
}

void WsHub::publish_all(const std::vector<Outgoing>& messages, int64_t now_ns) {
  std::lock_guard lock(mutex_);
  std::vector<WsSubscriber*> to_start;
  for (const Outgoing& m : messages) publish_locked(m.channel, m.seq, m.key, m.message, now_ns, &to_start);
  for (WsSubscriber* s : to_start) s->start();
}

void WsHub::heartbeat(int64_t now_ns) {
  std::lock_guard lock(mutex_);
  for (auto& [name, c] : channels_) {
    if (c.subscribers.empty() || now_ns - c.last_activity_ns < limits_.heartbeat_ns) continue;
    c.last_activity_ns = now_ns;
    std::string out;
    JsonWriter w(&out);
    w.begin_object().field("channel", name).field("type", "heartbeat");
    if (c.last_seq && !c.info.multiplexed) w.field("seq", *c.last_seq); else w.key("seq").null();
    w.field("ts", now_ns / 1'000'000).field("ts_us", now_ns / 1'000).end_object();
    const auto message = std::make_shared<const std::string>(std::move(out));
    // Heartbeats never replace or delay data: delivered as kEvery with key 0.
    WsChannelInfo info{name, Delivery::kEvery, false};
    for (WsSubscriber* s : c.subscribers) {
      if (s->deliver(info, 0, 0, message)) s->start();
    }
  }
}

WsHub::Channel& WsHub::channel_locked(const WsChannelInfo& info) {
  Channel* c = find(info.name);
  if (!c) {
    c = &channels_.try_emplace(info.name).first->second;
    c->info = info;
  }
  return *c;
}

WsHub::Resume WsHub::resume_locked(const Channel& c, uint64_t since, const ReplaySink& replay) const {
  // Where the channel stands: its last published message, or (nothing
  // published since this process started) its counter.
  const uint64_t last = c.last_seq.value_or(counter(c.info.name));
  if (c.info.multiplexed || since > last) return Resume::kUnknown;
  if (since == last) return Resume::kCurrent;
  if (c.history.empty() || c.history.front().seq > since + 1) return Resume::kTooOld;
  auto first = std::upper_bound(c.history.begin(), c.history.end(), since,
                                [](uint64_t v, const HistoryEntry& e) { return v < e.seq; });
  for (auto it = first; it != c.history.end(); ++it) replay(it->seq, it->key, it->message);
  return Resume::kReplayed;
}

bool WsHub::subscribe(const WsChannelInfo& channel, const std::shared_ptr<WsSubscriber>& s,
                      std::optional<uint64_t> since, const AfterSubscribe& after) {
  std::lock_guard lock(mutex_);
  Channel* c = &channel_locked(channel);
  if (!c->position.emplace(s.get(), c->subscribers.size()).second) return false;
  c->subscribers.push_back(s.get());
  Resume resume = Resume::kNone;
  if (since) {
    bool start = false;
    resume = resume_locked(*c, *since, [&](uint64_t seq, uint64_t key, const SharedMessage& m) {
      start |= s->deliver(c->info, seq, key, m);
    });
    if (start) s->start();
  }
  if (after) after(resume, c->info.multiplexed ? 0 : c->last_seq.value_or(counter(c->info.name)));
  return true;
}

void WsHub::attach_relay(const WsChannelInfo& channel, const std::shared_ptr<WsSubscriber>& s,
                         std::optional<uint64_t> since, const ReplaySink& replay, const AfterSubscribe& after) {
  std::lock_guard lock(mutex_);
  Channel* c = &channel_locked(channel);
  if (c->position.emplace(s.get(), c->subscribers.size()).second) c->subscribers.push_back(s.get());
  const Resume resume = since ? resume_locked(*c, *since, replay) : Resume::kNone;
  if (after) after(resume, c->info.multiplexed ? 0 : c->last_seq.value_or(counter(c->info.name)));
}

bool WsHub::subscribe_if_resumable(const WsChannelInfo& channel, const std::shared_ptr<WsSubscriber>& s,
                                   std::optional<uint64_t> since, bool needs_snapshot) {
  std::lock_guard lock(mutex_);
  Channel* c = find(channel.name);
  if (!c || !c->last_seq || c->position.contains(s.get())) return false;
  std::vector<HistoryEntry> missed;
  if (since) {
    const Resume r = resume_locked(*c, *since, [&](uint64_t seq, uint64_t key, const SharedMessage& m) {
      missed.push_back(HistoryEntry{seq, key, m});
    });
    if (r != Resume::kCurrent && r != Resume::kReplayed) return false;
  } else if (needs_snapshot) {
    return false;
  }
  c->position.emplace(s.get(), c->subscribers.size());
  c->subscribers.push_back(s.get());
  bool start = false;
  for (const HistoryEntry& e : missed) start |= s->deliver(c->info, e.seq, e.key, e.message);
  if (start) s->start();
  return true;
}

bool WsHub::resumable(std::string_view channel, std::optional<uint64_t> since, bool needs_snapshot) const {
  std::lock_guard lock(mutex_);
  const Channel* c = find(channel);
  if (!c || !c->last_seq) return false;
  if (!since) return !needs_snapshot;
  const Resume r = resume_locked(*c, *since, [](uint64_t, uint64_t, const SharedMessage&) {});
  return r == Resume::kCurrent || r == Resume::kReplayed;
}

bool WsHub::relay_register(const WsChannelInfo& channel, const std::shared_ptr<WsSubscriber>& s, uint64_t request,
                           uint64_t last_seq) {
  std::lock_guard lock(mutex_);
  Channel* c = &channel_locked(channel);
  if (!c->info.multiplexed && (!c->last_seq || *c->last_seq < last_seq)) c->last_seq = last_seq;
  if (c->position.contains(s.get()) || !s->relay_attached(channel.name, request)) return false;
  c->position.emplace(s.get(), c->subscribers.size());
  c->subscribers.push_back(s.get());
  return true;
}

bool WsHub::remove(Channel& c, const WsSubscriber* s) {
  auto it = c.position.find(s);
  if (it == c.position.end()) return false;
  const std::size_t at = it->second;
  c.position.erase(it);
  if (at + 1 != c.subscribers.size()) {
    c.subscribers[at] = c.subscribers.back();
    c.position[c.subscribers[at]] = at;
  }
  c.subscribers.pop_back();
  return true;
}

bool WsHub::unsubscribe(std::string_view channel, const WsSubscriber* s) {
  std::lock_guard lock(mutex_);
  auto it = channels_.find(channel);
  if (it == channels_.end() || !remove(it->second, s)) return false;
  if (it->second.subscribers.empty() && !it->second.info.keeps_history) channels_.erase(it);
  return true;
}

void WsHub::unsubscribe_all(const WsSubscriber* s, const std::vector<std::string>& channels) {
  std::lock_guard lock(mutex_);
  for (const std::string& name : channels) {
    auto it = channels_.find(name);
    if (it == channels_.end()) continue;
    remove(it->second, s);
    if (it->second.subscribers.empty() && !it->second.info.keeps_history) channels_.erase(it);
  }
}

void WsHub::locked(const std::function<void()>& f) {
  std::lock_guard lock(mutex_);
  f();
}

std::size_t WsHub::subscriber_count(std::string_view channel) const {
  std::lock_guard lock(mutex_);
  const Channel* c = find(channel);
  return c ? c->subscribers.size() : 0;
}

std::optional<uint64_t> WsHub::last_seq(std::string_view channel) const {
  std::lock_guard lock(mutex_);
  const Channel* c = find(channel);
  return c ? c->last_seq : std::nullopt;
}

}  // namespace bourse::gateway

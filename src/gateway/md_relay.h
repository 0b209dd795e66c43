// MdRelay: a market-data worker's side of its link to the main process
// (gateway/md_link.h). It republishes the main process's channel messages
// — same bytes, same sequence numbers — into the worker's own WsHub, which
// fans them out to the worker's WebSocket sessions and keeps the per-channel
// history for `since`. A client whose subscription the worker cannot serve
// alone (a snapshot is owed, or its `since` is outside the worker's
// history) is attached through the main process: its replay or snapshot
// arrives on the link, in stream order, then "attached" registers it here.
//
// Threads: run() reads the link (the only publisher into the worker's
// hub); I/O threads call the WsUpstream methods; a LinkWriter sends.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "bourse/core/clock.h"
#include "gateway/ws_context.h"
#include "gateway/ws_hub.h"

namespace bourse::gateway {

struct LinkFrame;
class LinkWriter;

class MdRelay final : public WsUpstream {
 public:
  MdRelay(int fd, WsHub& hub, Clock& clock);
  ~MdRelay() override;

  // Reads the link until it ends (the main process went away or closed it).
  void run();
  // The first directory arrived (false: the link ended or timed out first).
  bool wait_directory(int timeout_ms);
  // Tells the main process this worker listens.
  void ready();

  std::optional<uint32_t> instrument(std::string_view symbol) const override;
  uint64_t new_request() override { return next_request_.fetch_add(1); }
  void forward(const std::shared_ptr<WsSubscriber>& s, const WsChannelInfo& channel, std::optional<uint64_t> since,
               uint64_t request) override;
  void refresh(const std::weak_ptr<WsSubscriber>& s, const WsChannelInfo& channel, uint64_t request) override;

 private:
  void on_frame(const LinkFrame& f);
  void request(const std::weak_ptr<WsSubscriber>& s, const WsChannelInfo& channel, uint64_t request, uint8_t flags,
               uint64_t since);
  const WsChannelInfo* info_of(std::string_view channel);  // reader thread

  int fd_;
  WsHub& hub_;
  Clock& clock_;
  std::unique_ptr<LinkWriter> writer_;
  std::atomic<uint64_t> next_request_{1};

  mutable std::mutex mutex_;
  std::condition_variable directory_cv_;
  bool have_directory_ = false, ended_ = false;
  std::unordered_map<std::string, uint32_t> directory_;  // symbol → instrument id
  struct Pending {
    std::weak_ptr<WsSubscriber> subscriber;
    WsChannelInfo channel;
  };
  std::unordered_map<uint64_t, Pending> pending_;  // request → who asked

  // Reader thread only.
  std::vector<WsHub::Outgoing> batch_;
  std::unordered_map<std::string, WsChannelInfo> infos_;
};

}  // namespace bourse::gateway

// The link between the main process and a market-data worker: one Unix
// stream socket per worker, carrying length-prefixed frames. The main
// process sends every public channel message the worker's clients asked
// for (already rendered and sequenced, so every worker sends the same bytes
// with the same sequence numbers), the replies to the worker's requests,
// and the instrument directory; the worker sends requests to attach a
// client to a channel. Frame layout (little-endian):
//
//   u32 length of what follows · u8 type · fields by type:
//   kDirectory  u32 count · count × (u32 instrument id · str symbol)
//   kMessage    u64 seq · u64 key · str channel · blob message     (live)
//   kBatchEnd                                                      (one engine batch ends)
//   kReplay     u64 request · u64 seq · u64 key · str channel · blob message
//   kSnapshot   u64 request · u64 key · str channel · blob message
//   kAttached   u64 request · u64 last_seq · str channel           (what the request owed came before this)
//   kAttach     u64 request · u8 flags · u64 since · str channel   (worker → main)
//   kReady                                                         (worker → main: listening)
//   str = u16 length · bytes;  blob = u32 length · bytes
//
// Both sides trust each other (a worker is a child of the main process),
// but the decoder still bounds every length, so a corrupt stream is an
// error, not a crash. No Beast, no Asio here.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace bourse::gateway {

enum class LinkType : uint8_t {
  kDirectory = 1,
  kMessage = 2,
  kBatchEnd = 3,
  kReplay = 4,
  kSnapshot = 5,
  kAttached = 6,
  kAttach = 10,
  kReady = 11,
};

inline constexpr uint8_t kAttachHasSince = 1;      // `since` is set: resume after it
inline constexpr uint8_t kAttachForceSnapshot = 2;  // a slow consumer's book: a fresh snapshot, whatever since says
inline constexpr std::size_t kMaxLinkFrame = 64u << 20;  // far above any snapshot (a full book of 100,000 levels is ~5 MB)

struct LinkFrame {
  LinkType type = LinkType::kBatchEnd;
  uint64_t request = 0;
  uint64_t seq = 0;   // kMessage, kReplay; kAttached: the channel's last seq; kAttach: since
  uint64_t key = 0;
  uint8_t flags = 0;  // kAttach
  std::string_view channel;
  std::string_view message;
  std::vector<std::pair<uint32_t, std::string_view>> directory;  // kDirectory
};

// Encoders append one frame to `out`.
void encode_directory(std::string& out, const std::vector<std::pair<uint32_t, std::string>>& instruments);
void encode_message(std::string& out, uint64_t seq, uint64_t key, std::string_view channel, std::string_view message);
void encode_batch_end(std::string& out);
void encode_replay(std::string& out, uint64_t request, uint64_t seq, uint64_t key, std::string_view channel,
                   std::string_view message);
void encode_snapshot(std::string& out, uint64_t request, uint64_t key, std::string_view channel,
                     std::string_view message);
void encode_attached(std::string& out, uint64_t request, uint64_t last_seq, std::string_view channel);
void encode_attach(std::string& out, uint64_t request, uint8_t flags, uint64_t since, std::string_view channel);
void encode_ready(std::string& out);

enum class LinkDecode : uint8_t { kFrame, kNeedMore, kError };
// Decodes the frame at the start of `in`; on kFrame, *used is its size and
// the views in *frame point into `in`.
LinkDecode decode_link_frame(std::string_view in, LinkFrame* frame, std::size_t* used);

// The sending half of a link: encoders append under a lock, a thread
// writes. The producers (the hub's publisher, under the hub's lock) never
// wait on the socket. Past `max_buffered` bytes the peer is too far behind:
// the link breaks (the socket is shut down both ways) and stays broken.
class LinkWriter {
 public:
  LinkWriter(int fd, std::size_t max_buffered);
  ~LinkWriter();
  LinkWriter(const LinkWriter&) = delete;
  LinkWriter& operator=(const LinkWriter&) = delete;

  // Runs encode(buffer) under the lock (false: broken, nothing appended).
  template <class Encode>
  bool append(Encode&& encode) {
    std::lock_guard lock(mutex_);
    if (broken_) return false;
    encode(buffer_);
    if (buffer_.size() > max_buffered_) {
      break_locked();
      return false;
    }
    return true;
  }
  void wake();  // the writer thread sends what is buffered
  bool broken() const;
  std::size_t buffered() const;  // bytes waiting for the socket
  void stop();  // joins the writer (what is buffered may be lost)

 private:
  void run();
  void break_locked();

  int fd_;
  std::size_t max_buffered_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::string buffer_;
  bool wake_ = false, broken_ = false, stopping_ = false;
  std::thread thread_;
};

// Reads frames from `fd` until EOF or an error, calling on_frame for each
// (on the calling thread). Returns when the link ends.
template <class OnFrame>
void read_link(int fd, OnFrame&& on_frame);

// Implementation detail of read_link: one read into `buffer` (false at EOF or on error).
bool read_link_some(int fd, std::string& buffer);

template <class OnFrame>
void read_link(int fd, OnFrame&& on_frame) {
  std::string buffer;
  std::size_t start = 0;
  while (true) {
    LinkFrame frame;
    std::size_t used = 0;
    const LinkDecode d = decode_link_frame(std::string_view(buffer).substr(start), &frame, &used);
    if (d == LinkDecode::kError) return;
    if (d == LinkDecode::kFrame) {
      on_frame(frame);
      start += used;
      continue;
    }
    buffer.erase(0, start);
    start = 0;
    if (!read_link_some(fd, buffer)) return;
  }
}

}  // namespace bourse::gateway

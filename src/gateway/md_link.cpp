#include "gateway/md_link.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bourse::gateway {
namespace {

template <class T>
void put(std::string& out, T v) {
  char bytes[sizeof(T)];
  for (std::size_t i = 0; i < sizeof(T); ++i) bytes[i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
  out.append(bytes, sizeof(T));
}
void put_str(std::string& out, std::string_view s) {
  put<uint16_t>(out, static_cast<uint16_t>(s.size()));
  out.append(s);
}
void put_blob(std::string& out, std::string_view s) {
  put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// Reserves the length prefix and writes the type; finish() fills the length.
std::size_t begin(std::string& out, LinkType type) {
  const std::size_t at = out.size();
  put<uint32_t>(out, 0);
  put<uint8_t>(out, static_cast<uint8_t>(type));
  return at;
}
void finish(std::string& out, std::size_t at) {
  const auto length = static_cast<uint32_t>(out.size() - at - 4);
  for (std::size_t i = 0; i < 4; ++i) out[at + i] = static_cast<char>((length >> (8 * i)) & 0xff);
}

class Cursor {
 public:
  explicit Cursor(std::string_view in) : in_(in) {}
  template <class T>
  bool get(T* v) {
    if (in_.size() < sizeof(T)) return false;
    uint64_t x = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) x |= static_cast<uint64_t>(static_cast<uint8_t>(in_[i])) << (8 * i);
    *v = static_cast<T>(x);
    in_.remove_prefix(sizeof(T));
    return true;
  }
  bool bytes(std::size_t n, std::string_view* out) {
    if (in_.size() < n) return false;
    *out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool str(std::string_view* out) {
    uint16_t n = 0;
    return get(&n) && bytes(n, out);
  }
  bool blob(std::string_view* out) {
    uint32_t n = 0;
    return get(&n) && bytes(n, out);
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace

void encode_directory(std::string& out, const std::vector<std::pair<uint32_t, std::string>>& instruments) {
  const std::size_t at = begin(out, LinkType::kDirectory);
  put<uint32_t>(out, static_cast<uint32_t>(instruments.size()));
  for (const auto& [id, symbol] : instruments) {
    put<uint32_t>(out, id);
    put_str(out, symbol);
  }
  finish(out, at);
}

void encode_message(std::string& out, uint64_t seq, uint64_t key, std::string_view channel, std::string_view message) {
  const std::size_t at = begin(out, LinkType::kMessage);
  put(out, seq);
  put(out, key);
  put_str(out, channel);
  put_blob(out, message);
  finish(out, at);
}

void encode_batch_end(std::string& out) { finish(out, begin(out, LinkType::kBatchEnd)); }
void encode_ready(std::string& out) { finish(out, begin(out, LinkType::kReady)); }

void encode_replay(std::string& out, uint64_t request, uint64_t seq, uint64_t key, std::string_view channel,
                   std::string_view message) {
  const std::size_t at = begin(out, LinkType::kReplay);
  put(out, request);
  put(out, seq);
  put(out, key);
  put_str(out, channel);
  put_blob(out, message);
  finish(out, at);
}

void encode_snapshot(std::string& out, uint64_t request, uint64_t key, std::string_view channel,
                     std::string_view message) {
  const std::size_t at = begin(out, LinkType::kSnapshot);
  put(out, request);
  put(out, key);
  put_str(out, channel);
  put_blob(out, message);
  finish(out, at);
}

void encode_attached(std::string& out, uint64_t request, uint64_t last_seq, std::string_view channel) {
  const std::size_t at = begin(out, LinkType::kAttached);
  put(out, request);
  put(out, last_seq);
  put_str(out, channel);
  finish(out, at);
}

void encode_attach(std::string& out, uint64_t request, uint8_t flags, uint64_t since, std::string_view channel) {
  const std::size_t at = begin(out, LinkType::kAttach);
  put(out, request);
  put(out, flags);
  put(out, since);
  put_str(out, channel);
  finish(out, at);
}

LinkDecode decode_link_frame(std::string_view in, LinkFrame* frame, std::size_t* used) {
  Cursor head(in);
  uint32_t length = 0;
  if (!head.get(&length)) return LinkDecode::kNeedMore;
  if (length == 0 || length > kMaxLinkFrame) return LinkDecode::kError;
  if (in.size() < 4 + static_cast<std::size_t>(length)) return LinkDecode::kNeedMore;
  Cursor c(in.substr(4, length));
  *frame = LinkFrame{};
  uint8_t type = 0;
  c.get(&type);
  bool ok = true;
  switch (static_cast<LinkType>(type)) {
    case LinkType::kDirectory: {
      uint32_t count = 0;
      ok = c.get(&count) && count <= length / 6;  // each entry takes at least 6 bytes
      for (uint32_t i = 0; ok && i < count; ++i) {
        uint32_t id = 0;
        std::string_view symbol;
        ok = c.get(&id) && c.str(&symbol);
        if (ok) frame->directory.emplace_back(id, symbol);
      }
      break;
    }
    case LinkType::kMessage:
      ok = c.get(&frame->seq) && c.get(&frame->key) && c.str(&frame->channel) && c.blob(&frame->message);
      break;
    case LinkType::kBatchEnd:
    case LinkType::kReady:
      break;
    case LinkType::kReplay:
      ok = c.get(&frame->request) && c.get(&frame->seq) && c.get(&frame->key) && c.str(&frame->channel) &&
           c.blob(&frame->message);
      break;
    case LinkType::kSnapshot:
      ok = c.get(&frame->request) && c.get(&frame->key) && c.str(&frame->channel) && c.blob(&frame->message);
      break;
    case LinkType::kAttached:
      ok = c.get(&frame->request) && c.get(&frame->seq) && c.str(&frame->channel);
      break;
    case LinkType::kAttach:
      ok = c.get(&frame->request) && c.get(&frame->flags) && c.get(&frame->seq) && c.str(&frame->channel);
      break;
    default:
      ok = false;
  }
  if (!ok || !c.done()) return LinkDecode::kError;
  frame->type = static_cast<LinkType>(type);
  *used = 4 + static_cast<std::size_t>(length);
  return LinkDecode::kFrame;
}

bool read_link_some(int fd, std::string& buffer) {
  const std::size_t old = buffer.size();
  buffer.resize(old + 64 * 1024);
  while (true) {
    const ssize_t n = ::read(fd, buffer.data() + old, 64 * 1024);
    if (n > 0) {
      buffer.resize(old + static_cast<std::size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    buffer.resize(old);
    return false;
  }
}

LinkWriter::LinkWriter(int fd, std::size_t max_buffered) : fd_(fd), max_buffered_(max_buffered) {
  thread_ = std::thread([this] { run(); });
}

LinkWriter::~LinkWriter() { stop(); }

void LinkWriter::wake() {
  {
    std::lock_guard lock(mutex_);
    wake_ = true;
  }
  cv_.notify_one();
}

bool LinkWriter::broken() const {
  std::lock_guard lock(mutex_);
  return broken_;
}

std::size_t LinkWriter::buffered() const {
  std::lock_guard lock(mutex_);
  return buffer_.size();
}

void LinkWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void LinkWriter::break_locked() {
  broken_ = true;
  buffer_.clear();
  ::shutdown(fd_, SHUT_RDWR);  // the reader on either side sees the end
}

void LinkWriter::run() {
  std::string sending;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || (wake_ && !buffer_.empty()); });
      if (stopping_ || broken_) return;
      wake_ = false;
      sending.swap(buffer_);
    }
    std::size_t done = 0;
    while (done < sending.size()) {
      // MSG_NOSIGNAL: a peer that died is an error here, not a SIGPIPE.
      const ssize_t n = ::send(fd_, sending.data() + done, sending.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        std::lock_guard lock(mutex_);
        break_locked();
        return;
      }
      done += static_cast<std::size_t>(n);
    }
    sending.clear();
    if (sending.capacity() > (4u << 20)) sending = {};
  }
}

}  // namespace bourse::gateway

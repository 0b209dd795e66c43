#include "app/loadgen_fanout.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "app/latency_histogram.h"
#include "auth/auth_service.h"
#include "auth/crypto.h"
#include "bourse/core/clock.h"
#include "gateway/ws_frame.h"

namespace bourse::app {
namespace {

constexpr int kMaxPerProcess = 15'000;  // under the 20,000 open-file limit, with room to spare
constexpr int kMaxPending = 512;        // connections mid-handshake at once (the server's accept backlog)

int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Target {
  std::string host;
  uint16_t port = 0;
  std::string path = "/v1/ws";
};

bool parse_ws_url(const std::string& url, Target* t) {
  std::string rest = url;
  if (rest.rfind("ws://", 0) == 0) rest = rest.substr(5);
  else if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  else return false;
  const std::size_t slash = rest.find('/');
  const std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) t->path = rest.substr(slash);
  const std::size_t colon = hostport.rfind(':');
  if (colon == std::string::npos) return false;
  t->host = hostport.substr(0, colon);
  const long port = std::strtol(hostport.c_str() + colon + 1, nullptr, 10);
  if (port <= 0 || port > 65535) return false;
  t->port = static_cast<uint16_t>(port);
  in_addr a{};
  return inet_pton(AF_INET, t->host.c_str(), &a) == 1;
}

// What a child process reports (binary, over a pipe).
struct ChildResult {
  uint64_t opened = 0, held = 0, failed = 0, closed_by_server = 0;
  uint64_t frames = 0, messages = 0, updates = 0, gaps = 0, out_of_order = 0;
  uint64_t snapshots = 0, resync_snapshots = 0, heartbeats = 0, bytes = 0;
  int64_t reconnect_ms = -1;     // drop → every connection subscribed again
  uint64_t reconnected = 0;
  int64_t first_close_code = 0;
};

bool write_all_fd(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool read_all_fd(int fd, void* data, std::size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// A masked client text frame.
std::string client_frame(uint8_t opcode, std::string_view payload) {
  std::string f;
  f += static_cast<char>(0x80 | opcode);
  if (payload.size() < 126) {
    f += static_cast<char>(0x80 | payload.size());
  } else {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>((payload.size() >> 8) & 0xff);
    f += static_cast<char>(payload.size() & 0xff);
  }
  const uint8_t mask[4] = {0x3a, 0x7c, 0x11, 0x5e};
  f.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
  return f;
}

// Reads "name":<value> from a message without parsing it: the loop must
// keep up with a million messages a second on a shared core.
std::string_view string_field(std::string_view m, std::string_view quoted_key) {
  const std::size_t at = m.find(quoted_key);
  if (at == std::string_view::npos) return {};
  const std::size_t start = at + quoted_key.size();
  const std::size_t end = m.find('"', start);
  return end == std::string_view::npos ? std::string_view{} : m.substr(start, end - start);
}

// -1: absent or null.
int64_t int_field(std::string_view m, std::string_view key) {
  const std::size_t at = m.find(key);
  if (at == std::string_view::npos) return -1;
  std::size_t i = at + key.size();
  if (i >= m.size() || m[i] < '0' || m[i] > '9') return -1;
  int64_t v = 0;
  for (; i < m.size() && m[i] >= '0' && m[i] <= '9'; ++i) v = v * 10 + (m[i] - '0');
  return v;
}

class FanoutChild {
 public:
  FanoutChild(const FanoutOptions& o, const Target& t, int first, int count, int control_fd, int result_fd)
      : o_(o), target_(t), first_(first), control_fd_(control_fd), result_fd_(result_fd) {
    conns_.resize(static_cast<std::size_t>(count));
    for (auto& c : conns_) c.last_seq.assign(o_.channels.size(), -1);
  }

  int run() {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = UINT64_MAX;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, control_fd_, &ev);
    const int64_t ramp_deadline = monotonic_ns() + static_cast<int64_t>(o_.ramp_timeout_s * 1e9);
    std::vector<epoll_event> events(4096);
    bool ready_sent = false;
    while (!stop_) {
      start_more();
      if (!ready_sent && (subscribed_ + failed_ == conns_.size() || monotonic_ns() > ramp_deadline)) {
        ready_sent = true;
        write_all_fd(result_fd_, "R", 1);
      }
      if (measuring_ && o_.reconnect_at_s > 0 && !reconnect_started_ &&
          monotonic_ns() >= go_ns_ + static_cast<int64_t>(o_.reconnect_at_s * 1e9)) {
        drop_all_and_resume();
      }
      const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 5);
      for (int i = 0; i < n; ++i) {
        if (events[static_cast<std::size_t>(i)].data.u64 == UINT64_MAX) {
          control();
          continue;
        }
        handle(static_cast<std::size_t>(events[static_cast<std::size_t>(i)].data.u64), events[static_cast<std::size_t>(i)].events);
      }
    }
    return 0;
  }

 private:
  enum class State : uint8_t { kIdle, kConnecting, kUpgrading, kOpen, kClosed };
  struct Conn {
    int fd = -1;
    State state = State::kIdle;
    bool subscribed = false;
    std::string in, out;
    std::vector<int64_t> last_seq;  // per channel of o_.channels; -1 = nothing yet
  };

  void control() {
    char c = 0;
    const ssize_t r = ::read(control_fd_, &c, 1);
    if (r <= 0) {  // the parent is done (it sampled the server's memory): close everything
      stop_ = true;
      return;
    }
    if (c == 'G') {  // measure from now
      r_ = ChildResult{};
      hist_ = LatencyHistogram{};
      measuring_ = true;
      go_ns_ = monotonic_ns();
    } else if (c == 'S') {  // report
      measuring_ = false;
      for (const Conn& k : conns_) {
        if (k.state == State::kOpen && k.subscribed) ++r_.held;
      }
      r_.opened = opened_;
      r_.failed = failed_;
      write_all_fd(result_fd_, &r_, sizeof(r_));
      write_all_fd(result_fd_, hist_.data(), sizeof(uint64_t) * LatencyHistogram::kBuckets);
    }
  }

  // Keeps up to kMaxPending handshakes in flight until every connection is open.
  void start_more() {
    while (pending_ < kMaxPending && next_ < conns_.size()) {
      connect_one(next_++);
    }
  }

  void connect_one(std::size_t i) {
    Conn& c = conns_[i];
    c.in.clear();
    c.out.clear();
    c.subscribed = false;
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return fail(i);
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
#ifdef IP_BIND_ADDRESS_NO_PORT
    setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
#endif
    // Source address 127.0.0.(2 + k): each address has its own ephemeral port range.
    const int global = first_ + static_cast<int>(i);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl((127u << 24) | static_cast<uint32_t>(2 + global / std::max(1, o_.per_address)));
    if (::bind(c.fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) return fail(i);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(target_.port);
    inet_pton(AF_INET, target_.host.c_str(), &dst.sin_addr);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0 && errno != EINPROGRESS) return fail(i);
    c.state = State::kConnecting;
    ++pending_;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u64 = i;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev);
  }

  void fail(std::size_t i) {
    Conn& c = conns_[i];
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
    if (c.state == State::kConnecting || c.state == State::kUpgrading) --pending_;
    c.state = State::kClosed;
    ++failed_;
  }

  void send_bytes(std::size_t i, const std::string& bytes) {
    Conn& c = conns_[i];
    if (!c.out.empty()) {
      c.out += bytes;
      return;
    }
    const ssize_t w = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    const std::size_t sent = w > 0 ? static_cast<std::size_t>(w) : 0;
    if (sent < bytes.size()) {
      c.out = bytes.substr(sent);
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
      ev.data.u64 = i;
      epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
    }
  }

  std::string subscribe_message(const Conn& c) const {
    std::string m = R"({"op":"subscribe","id":"s","channels":[)";
    for (std::size_t k = 0; k < o_.channels.size(); ++k) m += (k ? ",\"" : "\"") + o_.channels[k] + "\"";
    m += "]";
    std::string since;
    for (std::size_t k = 0; k < o_.channels.size(); ++k) {
      if (c.last_seq[k] < 0 || o_.channels[k] == "ticker.*") continue;
      since += (since.empty() ? "\"" : ",\"") + o_.channels[k] + "\":" + std::to_string(c.last_seq[k]);
    }
    if (!since.empty()) m += R"(,"since":{)" + since + "}";
    return m + "}";
  }

  void handle(std::size_t i, uint32_t events) {
    Conn& c = conns_[i];
    if (c.fd < 0) return;
    if (c.state == State::kConnecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return fail(i);
      c.state = State::kUpgrading;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.u64 = i;
      epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
      send_bytes(i, "GET " + target_.path + " HTTP/1.1\r\nHost: " + target_.host +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
      return;
    }
    if ((events & EPOLLOUT) && !c.out.empty()) {
      const ssize_t w = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (w > 0) c.out.erase(0, static_cast<std::size_t>(w));
      if (c.out.empty()) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = i;
        epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
      }
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_from(i);
  }

  void read_from(std::size_t i) {
    Conn& c = conns_[i];
    for (;;) {
      const ssize_t r = ::recv(c.fd, buffer_, sizeof(buffer_), 0);
      if (r > 0) {
        if (measuring_) r_.bytes += static_cast<uint64_t>(r);
        c.in.append(buffer_, static_cast<std::size_t>(r));
        if (!consume(i)) return;
        if (static_cast<std::size_t>(r) < sizeof(buffer_)) return;
        continue;
      }
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (r < 0 && errno == EINTR) continue;
      // Closed.
      const bool was_open = c.state == State::kOpen;
      if (c.state == State::kUpgrading) {
        fail(i);
        return;
      }
      ::close(c.fd);
      c.fd = -1;
      c.state = State::kClosed;
      if (was_open && !dropping_) ++r_.closed_by_server;
      return;
    }
  }

  // Parses what arrived; false if the connection went away.
  bool consume(std::size_t i) {
    Conn& c = conns_[i];
    if (c.state == State::kUpgrading) {
      const std::size_t end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) return true;
      if (c.in.compare(0, 12, "HTTP/1.1 101") != 0) {
        fail(i);
        return false;
      }
      c.in.erase(0, end + 4);
      c.state = State::kOpen;
      --pending_;
      ++opened_;
      send_bytes(i, client_frame(0x1, subscribe_message(c)));
    }
    std::size_t at = 0;
    while (c.in.size() - at >= 2) {
      const auto* p = reinterpret_cast<const uint8_t*>(c.in.data() + at);
      const uint8_t opcode = p[0] & 0x0f;
      uint64_t len = p[1] & 0x7f;
      std::size_t header = 2;
      if (len == 126) {
        if (c.in.size() - at < 4) break;
        len = (uint64_t{p[2]} << 8) | p[3];
        header = 4;
      } else if (len == 127) {
        if (c.in.size() - at < 10) break;
        len = 0;
        for (int k = 0; k < 8; ++k) len = (len << 8) | p[2 + k];
        header = 10;
      }
      if (c.in.size() - at < header + len) break;
      const std::string_view payload(c.in.data() + at + header, static_cast<std::size_t>(len));
      if (opcode == 0x1 || opcode == 0x0) {
        on_text(i, payload);
      } else if (opcode == 0x9) {  // ping: answer, or the server's idle timeout closes us
        send_bytes(i, client_frame(0xA, payload));
      } else if (opcode == 0x8) {
        if (measuring_ && r_.first_close_code == 0 && payload.size() >= 2) {
          r_.first_close_code = (static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]);
        }
      }
      at += header + static_cast<std::size_t>(len);
    }
    c.in.erase(0, at);
    if (c.in.capacity() > 256 * 1024 && c.in.size() < 1024) c.in.shrink_to_fit();
    return true;
  }

  void on_text(std::size_t i, std::string_view frame) {
    Conn& c = conns_[i];
    const int64_t now = wall_us();
    if (measuring_) ++r_.frames;
    gateway::split_ws_frame(frame, &messages_);
    for (std::string_view m : messages_) {
      if (m.find("\"op\":\"subscribe\"") != std::string_view::npos) {
        if (m.find("\"result\":") == std::string_view::npos) continue;  // an error reply: not subscribed
        if (!c.subscribed) {
          c.subscribed = true;
          ++subscribed_;
          if (reconnect_started_ && ++r_.reconnected == reconnecting_ && r_.reconnect_ms < 0) {
            r_.reconnect_ms = (monotonic_ns() - reconnect_ns_) / 1'000'000;
          }
        }
        continue;
      }
      const std::string_view channel = string_field(m, "\"channel\":\"");
      if (channel.empty()) continue;
      const std::string_view type = string_field(m, "\"type\":\"");
      const int64_t seq = int_field(m, "\"seq\":");
      if (measuring_) ++r_.messages;
      int64_t* last = nullptr;  // a handful of channels: a scan beats hashing a fresh string per message
      for (std::size_t k = 0; k < o_.channels.size(); ++k) {
        if (o_.channels[k] == channel) last = &c.last_seq[k];
      }
      const bool counted = channel.starts_with("trades.") || channel.starts_with("book.") || channel.starts_with("candles.");
      if (type == "heartbeat") {
        if (measuring_) ++r_.heartbeats;
        if (last && counted && *last >= 0 && seq > *last) {  // the channel moved on without us
          if (measuring_) r_.gaps += static_cast<uint64_t>(seq - *last);
          *last = seq;
        }
        continue;
      }
      if (type == "snapshot") {
        if (measuring_) {
          ++r_.snapshots;
          if (m.find("\"reason\":\"since_") != std::string_view::npos ||
              m.find("\"reason\":\"slow_consumer\"") != std::string_view::npos) {
            ++r_.resync_snapshots;
          }
        }
        if (last) *last = seq;
        continue;
      }
      if (last) {
        if (*last < 0 && channel.starts_with("book.")) continue;  // diffs before the book's snapshot
        if (*last >= 0 && seq <= *last) {
          if (!channel.starts_with("book.") && measuring_) ++r_.out_of_order;
          continue;  // a book diff already in the snapshot
        }
        if (*last >= 0 && seq != *last + 1 && counted && measuring_) r_.gaps += static_cast<uint64_t>(seq - *last - 1);
        *last = seq;
      }
      if (measuring_) {
        ++r_.updates;
        const int64_t ts = int_field(m, "\"ts_us\":");
        if (ts > 0) hist_.add(now - ts);
      }
    }
  }

  // The reconnect storm: every connection drops at once and resumes with
  // `since` (its last sequence per channel).
  void drop_all_and_resume() {
    reconnect_started_ = true;
    dropping_ = true;
    reconnect_ns_ = monotonic_ns();
    reconnecting_ = 0;
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      Conn& c = conns_[i];
      if (c.fd < 0) continue;
      if (c.state == State::kOpen && c.subscribed) --subscribed_;
      if (c.state == State::kConnecting || c.state == State::kUpgrading) --pending_;
      ++reconnecting_;  // every connection that comes back counts, subscribed before or not
      ::close(c.fd);
      c.fd = -1;
      c.state = State::kIdle;
      connect_queue_.push_back(i);  // only the ones we closed come back (failed ones stay failed)
    }
    dropping_ = false;
    // All at once: that is the storm. (Connections the first ramp has not
    // reached yet keep waiting for start_more().)
    for (std::size_t i : connect_queue_) connect_one(i);
    connect_queue_.clear();
  }

  const FanoutOptions& o_;
  Target target_;
  int first_;
  int control_fd_, result_fd_;
  int epoll_ = -1;
  std::vector<Conn> conns_;
  std::size_t next_ = 0;
  int pending_ = 0;
  uint64_t opened_ = 0, failed_ = 0;
  std::size_t subscribed_ = 0;
  bool stop_ = false, measuring_ = false, dropping_ = false, reconnect_started_ = false;
  int64_t go_ns_ = 0, reconnect_ns_ = 0;
  uint64_t reconnecting_ = 0;
  std::vector<std::size_t> connect_queue_;
  ChildResult r_;
  LatencyHistogram hist_;
  std::vector<std::string_view> messages_;
  char buffer_[256 * 1024];
};

// Drives the market: signed REST orders over keep-alive connections,
// alternately resting a sell and taking it, so every update changes the book
// and every second one trades. Roles swap each pair so balances stay
// bounded. Requests wait behind the fan-out on the server's I/O threads, so
// several workers (one per 4 updates/s) keep the offered rate.
class Driver {
 public:
  Driver(const FanoutOptions& o, const Target& t) : o_(o), t_(t) {}
  void start() {
    const int workers = std::max(1, static_cast<int>((o_.drive_rate + 3.999) / 4));
    for (int w = 0; w < workers; ++w) threads_.emplace_back([this, w, workers] { run(w, workers); });
  }
  void stop() {
    stop_.store(true);
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  uint64_t sent() const { return sent_.load(); }
  uint64_t errors() const { return errors_.load(); }
  std::string first_error() const {
    std::lock_guard lock(mutex_);
    return first_error_;
  }

 private:
  struct Trader {
    std::string key, secret;
    int fd = -1;
  };
  bool connect(Trader& tr) {
    tr.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(t_.port);
    inet_pton(AF_INET, t_.host.c_str(), &dst.sin_addr);
    const int one = 1;
    setsockopt(tr.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return ::connect(tr.fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) == 0;
  }
  void error(const std::string& what) {
    if (errors_.fetch_add(1) == 0) {
      std::lock_guard lock(mutex_);
      first_error_ = what.substr(0, 400);
    }
  }
  // One signed POST /v1/orders; returns the HTTP status (0: I/O failure).
  int place(Trader& tr, const std::string& body) {
    if (tr.fd < 0 && !connect(tr)) return reset(tr);
    // Unique per request (replay protection): the body carries a fresh client order id.
    const std::string ts = std::to_string(wall_us() / 1000);
    const std::string sig = auth::hmac_sha256_hex(tr.secret, auth::signing_payload(ts, "POST", "/v1/orders", body));
    const std::string req = "POST /v1/orders HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nBOURSE-API-KEY: " +
                            tr.key + "\r\nBOURSE-TIMESTAMP: " + ts + "\r\nBOURSE-SIGNATURE: " + sig +
                            "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (!write_all_fd(tr.fd, req.data(), req.size())) return reset(tr);
    std::string in;
    char buf[4096];
    std::size_t need = std::string::npos;
    while (need == std::string::npos || in.size() < need) {
      const ssize_t r = ::recv(tr.fd, buf, sizeof(buf), 0);
      if (r <= 0) return reset(tr);
      in.append(buf, static_cast<std::size_t>(r));
      const std::size_t end = in.find("\r\n\r\n");
      if (need == std::string::npos && end != std::string::npos) {
        const std::size_t cl = in.find("Content-Length: ");
        const std::size_t length = cl == std::string::npos || cl > end ? 0 : std::strtoul(in.c_str() + cl + 16, nullptr, 10);
        need = end + 4 + length;
      }
    }
    const int status = std::atoi(in.c_str() + 9);
    if (status >= 300) error(in);
    return status;
  }
  int reset(Trader& tr) {
    if (tr.fd >= 0) ::close(tr.fd);
    tr.fd = -1;
    error("connection to the server failed");
    return 0;
  }
  void run(int worker, int workers) {
    Trader a{o_.key, o_.secret}, b{o_.taker_key, o_.taker_secret};
    const int64_t interval = static_cast<int64_t>(1e9 * workers / o_.drive_rate);
    int64_t next = monotonic_ns() + interval * worker / workers;
    for (uint64_t k = 0; !stop_.load(); ++k) {
      const int64_t wait = next - monotonic_ns();
      if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
      next += interval;
      if (stop_.load()) break;
      const bool swap = (k / 2) % 2 == 1;
      Trader& maker = swap ? b : a;
      Trader& taker = swap ? a : b;
      const std::string id = "fo-" + std::to_string(getpid()) + "-" + std::to_string(worker) + "-" + std::to_string(k);
      const int status =
          k % 2 == 0 ? place(maker, R"({"symbol":")" + o_.symbol + R"(","side":"SELL","price":")" + o_.price +
                                        R"(","qty":")" + o_.qty + R"(","client_order_id":")" + id + R"("})")
                     : place(taker, R"({"symbol":")" + o_.symbol + R"(","side":"BUY","price":")" + o_.price +
                                        R"(","qty":")" + o_.qty + R"(","time_in_force":"IOC","client_order_id":")" + id +
                                        R"("})");
      if (status >= 200 && status < 300) sent_.fetch_add(1);
    }
    if (a.fd >= 0) ::close(a.fd);
    if (b.fd >= 0) ::close(b.fd);
  }

  const FanoutOptions& o_;
  Target t_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0}, errors_{0};
  mutable std::mutex mutex_;
  std::string first_error_;
};

int64_t rss_bytes(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

int64_t total_rss(const std::vector<int>& pids) {
  int64_t sum = 0;
  for (int pid : pids) sum += rss_bytes(pid);
  return sum;
}

}  // namespace

int run_fanout(const FanoutOptions& o_in) {
  FanoutOptions o = o_in;
  Target target;
  if (!parse_ws_url(o.url, &target)) {
    std::fprintf(stderr, "bourse loadgen ws: --url must be ws://IPv4:PORT[/v1/ws]\n");
    return 2;
  }
  Target api = target;
  if (!o.api_url.empty() && !parse_ws_url(o.api_url, &api)) {
    std::fprintf(stderr, "bourse loadgen ws: --api-url must be http://IPv4:PORT\n");
    return 2;
  }
  if (o.drive_rate > 0) {
    auto env = [](const char* name, std::string* out) {
      if (out->empty() && std::getenv(name)) *out = std::getenv(name);
    };
    env("BOURSE_API_KEY", &o.key);
    env("BOURSE_API_SECRET", &o.secret);
    env("BOURSE_TAKER_KEY", &o.taker_key);
    env("BOURSE_TAKER_SECRET", &o.taker_secret);
    if (o.key.empty() || o.secret.empty() || o.taker_key.empty() || o.taker_secret.empty()) {
      std::fprintf(stderr, "bourse loadgen ws: --drive-rate needs two traders: BOURSE_API_KEY/SECRET and "
                           "BOURSE_TAKER_KEY/SECRET\n");
      return 2;
    }
  }
  const int processes = o.processes > 0 ? o.processes : (o.connections + kMaxPerProcess - 1) / kMaxPerProcess;
  const int64_t rss_before = total_rss(o.server_pids);
  struct Child {
    pid_t pid;
    int control;  // parent → child
    int results;  // child → parent
  };
  std::vector<Child> children;
  int first = 0;
  for (int p = 0; p < processes; ++p) {
    const int count = o.connections / processes + (p < o.connections % processes ? 1 : 0);
    int down[2], up[2];
    if (pipe2(down, O_CLOEXEC) != 0 || pipe2(up, O_CLOEXEC) != 0) return 1;
    const pid_t pid = fork();
    if (pid == 0) {
      ::close(down[1]);
      ::close(up[0]);
      for (const Child& c : children) {
        ::close(c.control);
        ::close(c.results);
      }
      rlimit lim{};
      getrlimit(RLIMIT_NOFILE, &lim);
      lim.rlim_cur = lim.rlim_max;
      setrlimit(RLIMIT_NOFILE, &lim);
      auto child = std::make_unique<FanoutChild>(o, target, first, count, down[0], up[1]);
      _exit(child->run());
    }
    ::close(down[0]);
    ::close(up[1]);
    children.push_back(Child{pid, down[1], up[0]});
    first += count;
  }
  // Every child has opened and subscribed its connections (or given up).
  for (const Child& c : children) {
    char r = 0;
    read_all_fd(c.results, &r, 1);
  }
  const int64_t rss_connected = total_rss(o.server_pids);
  Driver driver(o, api);
  for (const Child& c : children) write_all_fd(c.control, "G", 1);
  if (o.drive_rate > 0) driver.start();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.duration_s));
  if (o.drive_rate > 0) driver.stop();
  // Let the last updates arrive before counting.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  for (const Child& c : children) write_all_fd(c.control, "S", 1);
  ChildResult total;
  LatencyHistogram hist;
  for (const Child& c : children) {
    ChildResult r;
    LatencyHistogram h;
    if (!read_all_fd(c.results, &r, sizeof(r)) ||
        !read_all_fd(c.results, h.data(), sizeof(uint64_t) * LatencyHistogram::kBuckets)) {
      std::fprintf(stderr, "bourse loadgen ws: a worker process died\n");
      continue;
    }
    h.recount();
    hist.merge(h);
    total.opened += r.opened, total.held += r.held, total.failed += r.failed, total.closed_by_server += r.closed_by_server;
    total.frames += r.frames, total.messages += r.messages, total.updates += r.updates, total.gaps += r.gaps;
    total.out_of_order += r.out_of_order, total.snapshots += r.snapshots, total.resync_snapshots += r.resync_snapshots;
    total.heartbeats += r.heartbeats, total.bytes += r.bytes, total.reconnected += r.reconnected;
    total.reconnect_ms = std::max(total.reconnect_ms, r.reconnect_ms);
    if (total.first_close_code == 0) total.first_close_code = r.first_close_code;
  }
  // Memory while the connections are still held.
  const int64_t rss_after = total_rss(o.server_pids);
  for (const Child& c : children) ::close(c.control);
  for (const Child& c : children) {
    ::close(c.results);
    waitpid(c.pid, nullptr, 0);
  }
  const double seconds = o.duration_s;
  const double per_conn = total.held > 0 ? static_cast<double>(rss_connected - rss_before) / static_cast<double>(total.held) : 0;
  if (o.json) {
    std::printf("{\"connections\":%d,\"processes\":%d,\"duration_s\":%.1f,\"channels\":%zu,\"connections_held\":%" PRIu64 ","
                "\"connections_failed\":%" PRIu64 ",\"closed_by_server\":%" PRIu64 ",\"messages_received\":%" PRIu64 ",\"updates_received\":%" PRIu64 ","
                "\"updates_per_s\":%.0f,\"frames\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"gaps\":%" PRIu64 ",\"out_of_order\":%" PRIu64 ",\"snapshots\":%" PRIu64 ","
                "\"resync_snapshots\":%" PRIu64 ",\"heartbeats\":%" PRIu64 ",\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,"
                "\"max_ms\":%.3f,\"reconnected\":%" PRIu64 ",\"reconnect_ms\":%" PRId64 ",\"driven_updates\":%" PRIu64 ",\"drive_errors\":%" PRIu64 ","
                "\"server_rss_before_bytes\":%" PRId64 ",\"server_rss_connected_bytes\":%" PRId64 ",\"server_rss_bytes\":%" PRId64 ","
                "\"server_bytes_per_connection\":%.0f}\n",
                o.connections, processes, seconds, o.channels.size(), total.held,
                total.failed, total.closed_by_server,
                total.messages, total.updates,
                static_cast<double>(total.updates) / seconds, total.frames,
                total.bytes, total.gaps, total.out_of_order,
                total.snapshots, total.resync_snapshots,
                total.heartbeats, hist.quantile_ms(0.5), hist.quantile_ms(0.9), hist.quantile_ms(0.99),
                hist.quantile_ms(0.999), hist.quantile_ms(1.0), total.reconnected,
                total.reconnect_ms, driver.sent(), driver.errors(),
                rss_before, rss_connected, rss_after, per_conn);
  } else {
    std::printf("fan-out: %" PRIu64 " of %d connections held (%" PRIu64 " failed, %" PRIu64 " closed by the server) in %d processes, %.1f s\n",
                total.held, o.connections, total.failed,
                total.closed_by_server, processes, seconds);
    std::printf("  %" PRIu64 " messages (%" PRIu64 " updates, %.0f/s) in %" PRIu64 " frames, gaps %" PRIu64 ", snapshots %" PRIu64 " (resync %" PRIu64 ")\n",
                total.messages, total.updates,
                static_cast<double>(total.updates) / seconds, total.frames,
                total.gaps, total.snapshots,
                total.resync_snapshots);
    std::printf("  publish→receive p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms\n", hist.quantile_ms(0.5),
                hist.quantile_ms(0.99), hist.quantile_ms(0.999), hist.quantile_ms(1.0));
    if (total.reconnect_ms >= 0) {
      std::printf("  reconnect storm: %" PRIu64 " resumed in %" PRId64 " ms\n", total.reconnected,
                  total.reconnect_ms);
    }
    if (!o.server_pids.empty()) {
      std::printf("  server RSS %" PRId64 " → %" PRId64 " bytes (%.0f per connection)\n", rss_before,
                  rss_connected, per_conn);
    }
  }
  if (driver.errors()) {
    std::fprintf(stderr, "drive errors: %" PRIu64 ", first: %s\n", driver.errors(), driver.first_error().c_str());
  }
  return total.held > 0 ? 0 : 1;
}

}  // namespace bourse::app

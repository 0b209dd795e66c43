// The physical floor for market-data fan-out on this machine: one thread
// writes the same payload to N loopback TCP sockets, R rounds a second, with
// no WebSocket framing and no logic; a receiver process reads them with
// epoll and measures send-round-start → receive latency from the timestamp
// in each payload. `bourse loadgen ws` measures the real server the same way
// (publish time → receive), so the two p99s compare directly.
//
//   tcp_fanout_floor --connections 10000 --rate 10 --duration 20 --payload-bytes 280 [--json]
//
// Traffic stays on loopback; every loop is bounded by --duration.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "app/latency_histogram.h"

namespace {

int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Options {
  int connections = 10'000;
  double rate = 10;
  double duration = 10;
  int payload_bytes = 280;
  int per_address = 20'000;
  bool json = false;
};

bool read_exact(int fd, void* p, std::size_t n) {
  char* c = static_cast<char*>(p);
  while (n > 0) {
    const ssize_t r = ::read(fd, c, n);
    if (r <= 0) return false;
    c += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// Receiver: connects N sockets, then reads "<ts_us> <padding>\n" lines.
int receive(const Options& o, uint16_t port, int report_fd, int go_fd) {
  const int ep = epoll_create1(0);
  std::vector<int> fds;
  std::vector<std::string> partial(static_cast<std::size_t>(o.connections));
  for (int i = 0; i < o.connections; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
#ifdef IP_BIND_ADDRESS_NO_PORT
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
#endif
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl((127u << 24) | static_cast<uint32_t>(2 + i / o.per_address));
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0) {
      std::fprintf(stderr, "tcp_fanout_floor: connect %d failed: %s\n", i, std::strerror(errno));
      return 1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<uint64_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    fds.push_back(fd);
  }
  char ready = 'R';
  if (::write(report_fd, &ready, 1) != 1) return 1;
  bourse::app::LatencyHistogram hist;
  uint64_t messages = 0;
  std::vector<epoll_event> events(4096);
  static char buf[256 * 1024];
  // Runs until the sender closes the sockets.
  int open = o.connections;
  while (open > 0) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    const int64_t now = wall_us();
    for (int k = 0; k < n; ++k) {
      const std::size_t i = events[static_cast<std::size_t>(k)].data.u64;
      for (;;) {
        const ssize_t r = ::recv(fds[i], buf, sizeof(buf), 0);
        if (r == 0) {
          ::close(fds[i]);
          --open;
          break;
        }
        if (r < 0) break;
        std::string& p = partial[i];
        p.append(buf, static_cast<std::size_t>(r));
        std::size_t at = 0, nl;
        while ((nl = p.find('\n', at)) != std::string::npos) {
          hist.add(now - std::strtoll(p.c_str() + at, nullptr, 10));
          ++messages;
          at = nl + 1;
        }
        p.erase(0, at);
      }
    }
  }
  (void)go_fd;
  if (::write(report_fd, &messages, sizeof(messages)) != sizeof(messages) ||
      ::write(report_fd, hist.data(), sizeof(uint64_t) * bourse::app::LatencyHistogram::kBuckets) !=
          static_cast<ssize_t>(sizeof(uint64_t) * bourse::app::LatencyHistogram::kBuckets)) {
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : "0"; };
    if (a == "--connections") o.connections = std::atoi(next());
    else if (a == "--rate") o.rate = std::atof(next());
    else if (a == "--duration") o.duration = std::atof(next());
    else if (a == "--payload-bytes") o.payload_bytes = std::atoi(next());
    else if (a == "--per-address") o.per_address = std::atoi(next());
    else if (a == "--json") o.json = true;
    else {
      std::fprintf(stderr, "usage: tcp_fanout_floor --connections N --rate R --duration S --payload-bytes B [--json]\n");
      return 2;
    }
  }
  if (o.connections < 1 || o.connections > 15'000 || o.rate <= 0 || o.rate > 10'000 || o.duration <= 0 ||
      o.duration > 3600 || o.payload_bytes < 24 || o.payload_bytes > 65'536 || o.per_address < 1) {
    std::fprintf(stderr, "tcp_fanout_floor: connections 1..15000, rate 0..10000, duration 0..3600 s, payload 24..65536 B\n");
    return 2;
  }
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(listener, 4096) != 0) return 1;
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  const uint16_t port = ntohs(addr.sin_port);
  int report[2];
  if (pipe(report) != 0) return 1;
  const pid_t child = fork();
  if (child == 0) {
    ::close(report[0]);
    ::close(listener);
    _exit(receive(o, port, report[1], -1));
  }
  ::close(report[1]);
  std::vector<int> clients;
  while (static_cast<int>(clients.size()) < o.connections) {
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    clients.push_back(fd);
  }
  char ready = 0;
  if (!read_exact(report[0], &ready, 1)) return 1;
  // The sender: each round stamps the payload once and writes it to every socket.
  std::string payload(static_cast<std::size_t>(o.payload_bytes), 'x');
  payload.back() = '\n';
  const int64_t interval = static_cast<int64_t>(1e9 / o.rate);
  const int64_t end = mono_ns() + static_cast<int64_t>(o.duration * 1e9);
  int64_t next = mono_ns();
  uint64_t rounds = 0, short_writes = 0;
  int64_t round_ns_max = 0;
  while (next < end) {
    const int64_t start = mono_ns();
    const std::string ts = std::to_string(wall_us()) + " ";
    std::memcpy(payload.data(), ts.data(), ts.size());
    for (int fd : clients) {
      if (::send(fd, payload.data(), payload.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(payload.size())) ++short_writes;
    }
    round_ns_max = std::max(round_ns_max, mono_ns() - start);
    ++rounds;
    next += interval;
    const int64_t wait = next - mono_ns();
    if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
  }
  for (int fd : clients) ::close(fd);
  uint64_t messages = 0;
  bourse::app::LatencyHistogram hist;
  if (!read_exact(report[0], &messages, sizeof(messages)) ||
      !read_exact(report[0], hist.data(), sizeof(uint64_t) * bourse::app::LatencyHistogram::kBuckets)) {
    return 1;
  }
  hist.recount();
  waitpid(child, nullptr, 0);
  if (o.json) {
    std::printf("{\"connections\":%d,\"rate\":%.1f,\"duration_s\":%.1f,\"payload_bytes\":%d,\"rounds\":%" PRIu64
                ",\"messages_received\":%" PRIu64 ",\"short_writes\":%" PRIu64 ",\"round_max_ms\":%.3f,\"p50_ms\":%.3f,"
                "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f}\n",
                o.connections, o.rate, o.duration, o.payload_bytes, rounds, messages, short_writes,
                static_cast<double>(round_ns_max) / 1e6, hist.quantile_ms(0.5), hist.quantile_ms(0.9),
                hist.quantile_ms(0.99), hist.quantile_ms(0.999), hist.quantile_ms(1.0));
  } else {
    std::printf("raw TCP fan-out: %d sockets × %.1f rounds/s × %d B, %.1f s: %" PRIu64 " received (%" PRIu64
                " short writes)\n  p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms  (slowest round %.1f ms)\n",
                o.connections, o.rate, o.payload_bytes, o.duration, messages, short_writes, hist.quantile_ms(0.5),
                hist.quantile_ms(0.99), hist.quantile_ms(0.999), hist.quantile_ms(1.0),
                static_cast<double>(round_ns_max) / 1e6);
  }
  return 0;
}

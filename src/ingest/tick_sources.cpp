#include "ingest/tick_sources.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <utility>
#include <vector>

#include "bourse/core/log.h"

namespace bourse::ingest {
namespace {

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A source's refusals are logged, but only the first few: a bad file must not flood the log.
void report(const char* source, uint64_t line, TickError e, uint64_t* reported) {
  if (e == TickError::kOk || e == TickError::kSkip) return;
  if (++*reported <= 10) {
    log_line(LogLevel::kWarn, "ingest", "%s line %llu: %s%s", source, static_cast<unsigned long long>(line),
             tick_error_name(e), *reported == 10 ? " (further refusals are only counted)" : "");
  }
}

// Binds an IPv4/IPv6 socket of `type` to "IP:PORT"; -1 with *error on failure.
int bind_socket(const std::string& listen, int type, uint16_t* port, std::string* error) {
  const std::size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? "" : listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const int p = colon == std::string::npos ? -1 : std::atoi(listen.c_str() + colon + 1);
  sockaddr_storage addr{};
  socklen_t len = 0;
  const bool v6 = host.find(':') != std::string::npos;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(p));
    if (inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) == 1) len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(p));
    if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) == 1) len = sizeof(*a);
  }
  if (len == 0 || p < 0 || p > 65535) {
    *error = "ingest: '" + listen + "' is not IP:PORT";
    return -1;
  }
  const int fd = socket(v6 ? AF_INET6 : AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || (type == SOCK_STREAM && ::listen(fd, 64) != 0)) {
    *error = "ingest: cannot bind " + listen + ": " + std::strerror(errno);
    if (fd >= 0) close(fd);
    return -1;
  }
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    *port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  }
  return fd;
}

}  // namespace

bool FileReplay::start(std::string* error) {
  std::FILE* file = std::fopen(path_.c_str(), "rb");
  if (!file) {
    *error = "ingest: cannot open " + path_ + ": " + std::strerror(errno);
    return false;
  }
  thread_ = std::thread([this, file] { run(file); });
  return true;
}

void FileReplay::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void FileReplay::run(std::FILE* file) {
  std::vector<char> buffer(64 * 1024);
  LineSplitter splitter;
  uint64_t line_number = 0, reported = 0;
  int64_t first_tick_ns = -1, started_ns = 0;
  auto on_line = [&](std::string_view line) {
    ++line_number;
    lines_.store(line_number, std::memory_order_relaxed);
    TickLine tick;
    TickError e = parse_tick_line(line, &tick);
    if (e == TickError::kOk) {
      if (speed_ > 0) {
        // Paced by the ticks' own clock: tick k leaves (t_k - t_0) / speed after the first.
        if (first_tick_ns < 0) {
          first_tick_ns = tick.time_ns;
          started_ns = steady_ns();
        }
        const double offset = static_cast<double>(tick.time_ns - first_tick_ns) / speed_;
        const int64_t due = started_ns + static_cast<int64_t>(std::clamp(offset, 0.0, 1e17));  // ~3 years at most
        while (!stop_.load() && steady_ns() < due) {
          std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<int64_t>(due - steady_ns(), 100'000'000)));
        }
      }
      e = ingest_.submit(tick, 60'000);
    } else if (e != TickError::kSkip) {
      ingest_.submit_line(line, 0);  // counted as refused there
    }
    report(path_.c_str(), line_number, e, &reported);
  };
  auto on_too_long = [&] {
    ++line_number;
    ingest_.submit_line(std::string(kMaxTickLine + 1, 'x'), 0);  // counted as refused there
    report(path_.c_str(), line_number, TickError::kLineTooLong, &reported);
  };
  while (!stop_.load()) {
    const std::size_t got = std::fread(buffer.data(), 1, buffer.size(), file);
    if (got == 0) break;
    splitter.feed(std::string_view(buffer.data(), got), on_line, on_too_long);
  }
  if (!stop_.load()) splitter.finish(on_line);
  std::fclose(file);
  log_line(LogLevel::kInfo, "ingest", "%s: %llu lines replayed", path_.c_str(), static_cast<unsigned long long>(line_number));
  finished_.store(true);
}

bool LineFeed::start(const std::string& tcp_listen, const std::string& udp_listen, std::string* error) {
  if (!tcp_listen.empty() && (tcp_fd_ = bind_socket(tcp_listen, SOCK_STREAM, &tcp_port_, error)) < 0) return false;
  if (!udp_listen.empty() && (udp_fd_ = bind_socket(udp_listen, SOCK_DGRAM, &udp_port_, error)) < 0) return false;
  if (tcp_fd_ < 0 && udp_fd_ < 0) return true;
  thread_ = std::thread([this] { run(); });
  return true;
}

void LineFeed::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (tcp_fd_ >= 0) close(tcp_fd_);
  if (udp_fd_ >= 0) close(udp_fd_);
  tcp_fd_ = udp_fd_ = -1;
}

void LineFeed::run() {
  constexpr std::size_t kMaxConnections = 64;
  constexpr std::size_t kMaxReplyBytes = 64 * 1024;  // answers a client does not read are dropped past this
  // A full engine queue holds a TCP line this long (backpressure), while
  // the other connections wait: short, so one sender cannot stall the rest for long.
  constexpr int kTcpWaitMs = 100;
  struct Connection {
    int fd;
    LineSplitter lines;
    std::string out;
    uint64_t line = 0;
  };
  std::vector<Connection> connections;
  std::vector<char> buffer(64 * 1024);
  uint64_t udp_lines = 0, reported = 0;
  // One source's lines: TCP answers each refusal (bounded), UDP only counts.
  auto handle = [&](uint64_t* line, std::string* out, int wait_ms) {
    return std::pair{
        [this, line, out, wait_ms, &reported](std::string_view text) {
          ++*line;
          const TickError e = ingest_.submit_line(text, wait_ms);
          report(out ? "tcp" : "udp", *line, e, &reported);
          if (out && e != TickError::kOk && e != TickError::kSkip && out->size() < kMaxReplyBytes) {
            *out += "ERR " + std::to_string(*line) + " " + tick_error_name(e) + "\n";
          }
        },
        [this, line, out, &reported] {
          ++*line;
          ingest_.submit_line(std::string(kMaxTickLine + 1, 'x'), 0);  // counted as refused there
          report(out ? "tcp" : "udp", *line, TickError::kLineTooLong, &reported);
          if (out && out->size() < kMaxReplyBytes) *out += "ERR " + std::to_string(*line) + " LINE_TOO_LONG\n";
        }};
  };
  while (!stop_.load()) {
    std::vector<pollfd> fds;
    if (tcp_fd_ >= 0) fds.push_back(pollfd{tcp_fd_, POLLIN, 0});
    if (udp_fd_ >= 0) fds.push_back(pollfd{udp_fd_, POLLIN, 0});
    const std::size_t first_connection = fds.size();
    for (const Connection& c : connections) {
      fds.push_back(pollfd{c.fd, static_cast<short>(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
    }
    if (poll(fds.data(), fds.size(), 100) <= 0) continue;
    std::size_t k = 0;
    if (tcp_fd_ >= 0 && (fds[k++].revents & POLLIN)) {
      while (true) {
        const int fd = accept4(tcp_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        if (connections.size() >= kMaxConnections) {
          close(fd);
          continue;
        }
        connections.push_back(Connection{fd, {}, {}, 0});
      }
    }
    if (udp_fd_ >= 0 && (fds[k++].revents & POLLIN)) {
      for (int n = 0; n < 1024; ++n) {  // bounded: the TCP clients get their turn
        const ssize_t got = recv(udp_fd_, buffer.data(), buffer.size(), 0);
        if (got <= 0) break;
        LineSplitter datagram;  // a datagram is whole: its last line needs no newline
        auto [on_line, on_too_long] = handle(&udp_lines, nullptr, 0);
        datagram.feed(std::string_view(buffer.data(), static_cast<std::size_t>(got)), on_line, on_too_long);
        datagram.finish(on_line);
      }
    }
    std::vector<std::size_t> closed;
    for (std::size_t c = 0; c < connections.size() && first_connection + c < fds.size(); ++c) {
      Connection& conn = connections[c];
      const short revents = fds[first_connection + c].revents;
      bool open = true;
      if (revents & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t got = recv(conn.fd, buffer.data(), buffer.size(), 0);
        auto [on_line, on_too_long] = handle(&conn.line, &conn.out, kTcpWaitMs);
        if (got > 0) {
          conn.lines.feed(std::string_view(buffer.data(), static_cast<std::size_t>(got)), on_line, on_too_long);
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          conn.lines.finish(on_line);  // a last line without a newline still counts
          open = false;
        }
      }
      if (open && !conn.out.empty()) {
        const ssize_t sent = send(conn.fd, conn.out.data(), conn.out.size(), MSG_NOSIGNAL);
        if (sent > 0) conn.out.erase(0, static_cast<std::size_t>(sent));
        else if (sent < 0 && errno != EAGAIN && errno != EINTR) open = false;
      }
      if (!open) closed.push_back(c);
    }
    for (auto it = closed.rbegin(); it != closed.rend(); ++it) {
      close(connections[*it].fd);
      connections.erase(connections.begin() + static_cast<std::ptrdiff_t>(*it));
    }
  }
  for (const Connection& c : connections) close(c.fd);
}

}  // namespace bourse::ingest

#include "md_workers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstring>

#include "bourse/core/clock.h"
#include "bourse/core/log.h"
#include "gateway/http_server.h"
#include "gateway/md_relay.h"
#include "gateway/md_source.h"
#include "gateway/problem.h"
#include "gateway/ws_hub.h"

extern char** environ;

namespace bourse::app {
namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

template <class T>
bool parse_number(std::string_view v, T* out) {
  const auto r = std::from_chars(v.data(), v.data() + v.size(), *out);
  return r.ec == std::errc() && r.ptr == v.data() + v.size();
}

}  // namespace

// One "key=value" per line: paths may hold anything but a newline.
std::string encode_worker_settings(const MdWorkerSettings& s) {
  std::string out;
  auto put = [&out](const char* key, const std::string& value) { out += std::string(key) + "=" + value + "\n"; };
  put("host", s.host);
  put("port", std::to_string(s.port));
  put("io_threads", std::to_string(s.io_threads));
  put("max_connections", std::to_string(s.max_connections));
  put("max_message_bytes", std::to_string(s.max_message_bytes));
  put("max_subscriptions", std::to_string(s.max_subscriptions));
  put("max_queued_messages", std::to_string(s.max_queued_messages));
  put("conflate_after_messages", std::to_string(s.conflate_after_messages));
  put("idle_timeout_ms", std::to_string(s.idle_timeout_ms));
  put("send_buffer_bytes", std::to_string(s.send_buffer_bytes));
  put("history_messages", std::to_string(s.history_messages));
  put("history_bytes", std::to_string(s.history_bytes));
  put("heartbeat_ms", std::to_string(s.heartbeat_ms));
  put("tls_cert_file", s.tls_cert_file);
  put("tls_key_file", s.tls_key_file);
  return out;
}

bool decode_worker_settings(std::string_view text, MdWorkerSettings* s, std::string* error) {
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      *error = "settings: expected key=value";
      return false;
    }
    const std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    bool ok = true;
    if (key == "host") s->host = value;
    else if (key == "port") ok = parse_number(value, &s->port);
    else if (key == "io_threads") ok = parse_number(value, &s->io_threads) && s->io_threads >= 1 && s->io_threads <= 256;
    else if (key == "max_connections") ok = parse_number(value, &s->max_connections) && s->max_connections >= 1;
    else if (key == "max_message_bytes") ok = parse_number(value, &s->max_message_bytes);
    else if (key == "max_subscriptions") ok = parse_number(value, &s->max_subscriptions);
    else if (key == "max_queued_messages") ok = parse_number(value, &s->max_queued_messages);
    else if (key == "conflate_after_messages") ok = parse_number(value, &s->conflate_after_messages);
    else if (key == "idle_timeout_ms") ok = parse_number(value, &s->idle_timeout_ms);
    else if (key == "send_buffer_bytes") ok = parse_number(value, &s->send_buffer_bytes);
    else if (key == "history_messages") ok = parse_number(value, &s->history_messages);
    else if (key == "history_bytes") ok = parse_number(value, &s->history_bytes);
    else if (key == "heartbeat_ms") ok = parse_number(value, &s->heartbeat_ms);
    else if (key == "tls_cert_file") s->tls_cert_file = value;
    else if (key == "tls_key_file") s->tls_key_file = value;
    else ok = false;
    if (!ok) {
      *error = "settings: bad " + std::string(key);
      return false;
    }
  }
  return true;
}

MdWorkerSettings worker_settings_of(const ServeConfig& c, const std::string& host, uint16_t port) {
  MdWorkerSettings s;
  s.host = host;
  s.port = port;
  s.max_connections = c.ws_max_connections;
  s.max_message_bytes = c.ws_max_message_bytes;
  s.max_subscriptions = c.ws_max_subscriptions;
  s.max_queued_messages = c.ws_max_queued_messages;
  s.conflate_after_messages = c.ws_conflate_after_messages;
  s.idle_timeout_ms = c.ws_idle_timeout_ms;
  s.send_buffer_bytes = c.ws_send_buffer_bytes;
  s.history_messages = c.ws_history_messages;
  s.history_bytes = c.ws_history_bytes;
  s.heartbeat_ms = c.ws_heartbeat_ms;
  s.tls_cert_file = c.tls_cert_file;
  s.tls_key_file = c.tls_key_file;
  return s;
}

int run_md_worker(int link_fd, const std::string& settings_text) {
  // Dies with the main process even if the link were somehow kept open.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  MdWorkerSettings s;
  std::string error;
  if (!decode_worker_settings(settings_text, &s, &error)) {
    std::fprintf(stderr, "bourse md-worker: %s\n", error.c_str());
    return 2;
  }
  SystemClock clock;
  gateway::WsHub::Limits limits;
  limits.history_messages = s.history_messages;
  limits.history_bytes = s.history_bytes;
  limits.heartbeat_ns = int64_t{s.heartbeat_ms} * 1'000'000;
  gateway::WsHub hub(limits);
  gateway::MdRelay relay(link_fd, hub, clock);
  std::thread reader([&relay] {
    relay.run();
    kill(getpid(), SIGTERM);  // the main process is gone: stop (the signal wakes sigwait below)
  });
  if (!relay.wait_directory(10'000)) {
    log_line(LogLevel::kError, "md-worker", "no directory from the main process");
    shutdown(link_fd, SHUT_RDWR);
    reader.join();
    return 1;
  }

  gateway::WsContext ws;
  ws.hub = &hub;
  ws.clock = &clock;
  ws.upstream = &relay;
  ws.options.max_message_bytes = s.max_message_bytes;
  ws.options.max_subscriptions = s.max_subscriptions;
  ws.options.max_queued_messages = s.max_queued_messages;
  ws.options.conflate_after_messages = s.conflate_after_messages;
  ws.options.idle_timeout_ms = s.idle_timeout_ms;
  ws.options.send_buffer_bytes = s.send_buffer_bytes;
  ws.options.max_connections = s.max_connections;
  gateway::HttpServerOptions ho;
  ho.host = s.host;
  ho.port = s.port;
  ho.io_threads = s.io_threads;
  ho.max_connections = s.max_connections;
  ho.tls_cert_file = s.tls_cert_file;
  ho.tls_key_file = s.tls_key_file;
  ho.websocket = &ws;
  ho.reuse_port = true;
  auto not_here = [](int status, std::string_view code, std::string_view detail) {
    return gateway::problem_response(gateway::Problem{status, std::string(code), std::string(detail)}, "");
  };
  gateway::HttpServer server(
      ho,
      [not_here](gateway::HttpRequest&&, gateway::Responder respond) {
        respond(not_here(404, "NOT_FOUND", "the market-data port serves GET /v1/ws (public channels) only"));
      },
      not_here);
  if (!server.listen(&error)) {
    log_line(LogLevel::kError, "md-worker", "%s", error.c_str());
    shutdown(link_fd, SHUT_RDWR);
    reader.join();
    return 1;
  }
  server.start();
  relay.ready();

  // Quiet channels' heartbeats, from this worker's own view of each channel.
  std::mutex heartbeat_mutex;
  std::condition_variable heartbeat_cv;
  bool stop = false;
  std::thread heartbeat([&] {
    std::unique_lock lock(heartbeat_mutex);
    while (!heartbeat_cv.wait_for(lock, std::chrono::seconds(1), [&] { return stop; })) hub.heartbeat(clock.now());
  });

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  server.shutdown(2'000);
  {
    std::lock_guard lock(heartbeat_mutex);
    stop = true;
  }
  heartbeat_cv.notify_one();
  heartbeat.join();
  shutdown(link_fd, SHUT_RDWR);
  reader.join();
  return 0;
}

bool MdWorkerPool::start(std::string* error) {
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) {
    *error = "marketdata: cannot find this executable";
    return false;
  }
  exe_.assign(path, static_cast<std::size_t>(n));
  // Hold the port: a bound (not listening) SO_REUSEPORT socket receives no
  // connections but keeps the port this process's for workers to join.
  sockaddr_storage addr{};
  socklen_t len = 0;
  const bool v6 = settings_.host.find(':') != std::string::npos;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(settings_.port);
    if (inet_pton(AF_INET6, settings_.host.c_str(), &a->sin6_addr) != 1) len = 0; else len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(settings_.port);
    if (inet_pton(AF_INET, settings_.host.c_str(), &a->sin_addr) != 1) len = 0; else len = sizeof(*a);
  }
  if (len == 0) {
    *error = "marketdata.listen: '" + settings_.host + "' is not an IP address";
    return false;
  }
  port_fd_ = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (port_fd_ < 0 || setsockopt(port_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      setsockopt(port_fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
      bind(port_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    *error = "marketdata: cannot bind " + settings_.host + ":" + std::to_string(settings_.port) + ": " +
             std::strerror(errno);
    return false;
  }
  if (getsockname(port_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    settings_.port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                              : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  }
  {
    std::lock_guard lock(mutex_);
    workers_.resize(static_cast<std::size_t>(count_));
    for (Worker& w : workers_) {
      if (!spawn(&w, error)) return false;
    }
  }
  // Serving once every worker listens (each says so on its link).
  const int64_t deadline = now_ns() + 10'000'000'000;
  while (true) {
    std::size_t ready = 0;
    {
      std::lock_guard lock(mutex_);
      for (const Worker& w : workers_) ready += source_.link_ready(w.link) ? 1 : 0;
    }
    if (ready == workers_.size()) break;
    if (now_ns() > deadline) {
      *error = "marketdata: workers did not start listening on port " + std::to_string(settings_.port) +
               " within 10 s";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  supervisor_ = std::thread([this] { supervise(); });
  return true;
}

bool MdWorkerPool::spawn(Worker* w, std::string* error) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    *error = std::string("marketdata: socketpair: ") + std::strerror(errno);
    return false;
  }
  if (pair[1] == 3) {  // dup2 onto itself would keep close-on-exec
    const int moved = fcntl(pair[1], F_DUPFD_CLOEXEC, 10);
    close(pair[1]);
    pair[1] = moved;
  }
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGTERM);
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  const bool prepared =
      pair[1] >= 0 && posix_spawn_file_actions_adddup2(&actions, pair[1], 3) == 0 &&
      posix_spawn_file_actions_addclosefrom_np(&actions, 4) == 0 && posix_spawnattr_setsigmask(&attr, &blocked) == 0 &&
      posix_spawnattr_setpgroup(&attr, 0) == 0 &&  // Ctrl-C reaches the server, which stops its workers in order
      posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP) == 0;
  const std::string settings = encode_worker_settings(settings_);
  std::vector<std::string> args = {exe_, "md-worker", "--link-fd", "3", "--settings", settings};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = prepared ? posix_spawn(&pid, exe_.c_str(), &actions, &attr, argv.data(), environ) : EINVAL;
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (pair[1] >= 0) close(pair[1]);
  if (rc != 0) {
    close(pair[0]);
    *error = std::string("marketdata: cannot start a worker: ") + std::strerror(rc);
    return false;
  }
  w->pid = pid;
  w->link = source_.add_link(pair[0]);
  w->started_ns = now_ns();
  return true;
}

void MdWorkerPool::supervise() {
  while (!stopping_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::lock_guard lock(mutex_);
    for (Worker& w : workers_) {
      if (stopping_.load()) return;
      if (w.pid > 0) {
        int status = 0;
        if (waitpid(w.pid, &status, WNOHANG) == w.pid) {
          log_line(LogLevel::kWarn, "marketdata", "worker %d exited (status %d); restarting", static_cast<int>(w.pid),
                   status);
          source_.remove_link(w.link);
          w.link = 0;
          w.pid = -1;
        } else if (!source_.link_alive(w.link)) {
          // Too far behind (its link broke) or stuck: it restarts and its clients resume with `since`.
          log_line(LogLevel::kWarn, "marketdata", "worker %d lost its link; restarting", static_cast<int>(w.pid));
          kill(w.pid, SIGKILL);
          continue;  // reaped on a later round
        }
      }
      // At most one start a second per slot: a worker that cannot start does not spin.
      if (w.pid < 0 && now_ns() - w.started_ns > 1'000'000'000) {
        std::string error;
        if (spawn(&w, &error)) {
          restarts_.fetch_add(1);
        } else {
          w.started_ns = now_ns();
          log_line(LogLevel::kError, "marketdata", "%s", error.c_str());
        }
      }
    }
  }
}

std::vector<pid_t> MdWorkerPool::pids() const {
  std::lock_guard lock(mutex_);
  std::vector<pid_t> out;
  for (const Worker& w : workers_) {
    if (w.pid > 0) out.push_back(w.pid);
  }
  return out;
}

void MdWorkerPool::stop() {
  if (stopping_.exchange(true)) return;
  if (supervisor_.joinable()) supervisor_.join();
  std::lock_guard lock(mutex_);
  for (Worker& w : workers_) {
    if (w.pid > 0) kill(w.pid, SIGTERM);
  }
  const int64_t deadline = now_ns() + 5'000'000'000;
  for (Worker& w : workers_) {
    if (w.pid <= 0) continue;
    int status = 0;
    while (waitpid(w.pid, &status, WNOHANG) == 0) {
      if (now_ns() > deadline) {
        kill(w.pid, SIGKILL);
        waitpid(w.pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    w.pid = -1;
  }
  for (Worker& w : workers_) {
    if (w.link) source_.remove_link(w.link);
    w.link = 0;
  }
  if (port_fd_ >= 0) close(port_fd_);
  port_fd_ = -1;
}

}  // namespace bourse::app

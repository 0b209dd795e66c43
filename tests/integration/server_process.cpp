#include "integration/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#ifndef BOURSE_BINARY
#error "BOURSE_BINARY must name the bourse executable"
#endif

namespace bourse::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

TempDir::TempDir() {
  char tmpl[] = "/tmp/bourse-e2e-XXXXXX";
  path_ = ::mkdtemp(tmpl);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {

// Output goes to a pipe (*out_fd), or with log_path to that file, which
// never fills up however much the child writes while nobody reads.
pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& environment, int* out_fd,
            const std::string* log_path = nullptr) {
  int fds[2] = {-1, -1};
  if (log_path) {
    fds[1] = ::open(log_path->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (fds[1] < 0) return -1;
  } else if (::pipe(fds) != 0) {
    return -1;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    if (fds[0] >= 0) ::close(fds[0]);
    ::close(fds[1]);
    for (const auto& [k, v] : environment) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    std::string binary = BOURSE_BINARY;
    argv.push_back(binary.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  *out_fd = fds[0];
  return pid;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Reads whatever is available within timeout_ms. False on EOF.
bool read_some(int fd, std::string* out, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return true;
  char buf[4096];
  const ssize_t n = ::read(fd, buf, sizeof(buf));
  if (n <= 0) return false;
  out->append(buf, static_cast<std::size_t>(n));
  return true;
}

int wait_status(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

}  // namespace

ServerProcess::ServerProcess(ServerOptions options) {
  std::vector<std::string> args = {"serve", "--listen", "127.0.0.1:0", "--data-dir", options.data_dir,
                                   "--io-threads", "2"};
  if (!options.config_toml.empty()) {
    config_path_ = options.data_dir + ".toml";
    std::ofstream(config_path_) << options.config_toml;
    args.push_back("--config");
    args.push_back(config_path_);
  }
  for (const auto& a : options.extra_args) args.push_back(a);
  log_path_ = options.data_dir + ".log";
  int unused = -1;
  pid_ = spawn(args, options.environment, &unused, &log_path_);
  // "listening on http://127.0.0.1:PORT" (https:// with TLS).
  const std::string marker = "://127.0.0.1:";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
    output_ = read_file(log_path_);
    const std::size_t listening = output_.find("listening on http");
    const std::size_t at = listening == std::string::npos ? listening : output_.find(marker, listening);
    if (at != std::string::npos && output_.find(' ', at + marker.size()) != std::string::npos) {
      port_ = static_cast<uint16_t>(std::stoi(output_.substr(at + marker.size())));
      // Let the rest of the banner arrive (demo credentials).
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      output_ = read_file(log_path_);
      return;
    }
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {  // exited before listening
      pid_ = -1;
      output_ = read_file(log_path_);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

ServerProcess::~ServerProcess() {
  kill_hard();
  if (!config_path_.empty()) ::unlink(config_path_.c_str());
  ::unlink(log_path_.c_str());
}

std::string ServerProcess::drain_output() {
  output_ = read_file(log_path_);
  return output_;
}

int ServerProcess::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const int status = wait_status(pid_);
  pid_ = -1;
  output_ = read_file(log_path_);
  return status;
}

void ServerProcess::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  wait_status(pid_);
  pid_ = -1;
}

int run_bourse(const std::vector<std::string>& args, std::string* out,
               const std::map<std::string, std::string>& environment) {
  int fd = -1;
  const pid_t pid = spawn(args, environment, &fd);
  while (read_some(fd, out, 1000)) {
  }
  ::close(fd);
  return wait_status(pid);
}

struct HttpClient::Impl {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  uint16_t port;
  bool connected = false;

  void connect() {
    beast::error_code ec;
    stream.close();
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    connected = !ec;
    buffer.clear();
  }
};

HttpClient::HttpClient(uint16_t port) : impl_(new Impl) { impl_->port = port; }
HttpClient::~HttpClient() { delete impl_; }

HttpResult HttpClient::request(const std::string& method, const std::string& target, const std::string& body,
                               const std::map<std::string, std::string>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->connected) impl_->connect();
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    bool has_content_type = false;
    for (const auto& [k, v] : headers) {
      req.set(k, v);
      if (beast::iequals(k, "content-type")) has_content_type = true;
    }
    if (!body.empty() && !has_content_type) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    req.keep_alive(true);
    beast::error_code ec;
    impl_->stream.expires_after(std::chrono::seconds(30));
    http::write(impl_->stream, req, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    parser.skip(method == "HEAD");  // a HEAD response has Content-Length but no body
    if (!ec) http::read(impl_->stream, impl_->buffer, parser, ec);
    if (ec) {  // the server closed a kept-alive connection: retry once on a new one
      impl_->connected = false;
      continue;
    }
    auto res = parser.release();
    HttpResult r;
    r.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(f.value());
    }
    r.body = std::move(res.body());
    if (!res.keep_alive()) impl_->connected = false;
    return r;
  }
  return HttpResult{};
}

std::string raw_exchange(uint16_t port, const std::string& bytes, int timeout_ms) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

}  // namespace bourse::testing

#include "auth/auth_service.h"
#include "auth/crypto.h"

namespace bourse::testing {

// Lines like "  demo alice (read,trade,transfer) BOURSE_API_KEY=bk_… BOURSE_API_SECRET=…".
std::map<std::string, ApiKey> demo_keys(const std::string& output) {
  std::map<std::string, ApiKey> keys;
  auto word_after = [&](std::size_t pos) {
    const std::size_t end = output.find_first_of(" \n", pos);
    return output.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
  };
  std::size_t pos = 0;
  while ((pos = output.find("  demo ", pos)) != std::string::npos) {
    pos += 7;
    const std::string name = word_after(pos);
    const std::size_t k = output.find("BOURSE_API_KEY=", pos);
    const std::size_t sct = output.find("BOURSE_API_SECRET=", pos);
    const std::size_t eol = output.find('\n', pos);
    if (k == std::string::npos || sct == std::string::npos || k > eol || sct > eol) continue;
    keys[name] = ApiKey{word_after(k + 15), word_after(sct + 18)};
  }
  return keys;
}

HttpResult SignedClient::call(const std::string& method, const std::string& target, const std::string& body,
                              std::map<std::string, std::string> headers) {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  if (now <= last_ms_) now = last_ms_ + 1;
  last_ms_ = now;
  const std::string ts = std::to_string(now);
  headers["BOURSE-API-KEY"] = key_.key_id;
  headers["BOURSE-TIMESTAMP"] = ts;
  headers["BOURSE-SIGNATURE"] = auth::hmac_sha256_hex(key_.secret, auth::signing_payload(ts, method, target, body));
  return http_.request(method, target, body, headers);
}

}  // namespace bourse::testing

#include <boost/beast/websocket.hpp>

#include <deque>

#include "gateway/ws_frame.h"

namespace bourse::testing {

namespace websocket = boost::beast::websocket;

struct WsClient::Impl {
  std::deque<std::string> pending;  // the rest of an array frame
  net::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  bool connected = false;
  uint64_t frames = 0;
  int close_code = 0;
  std::string close_reason;
};

WsClient::WsClient(uint16_t port, const std::map<std::string, std::string>& headers, const std::string& target,
                   int receive_buffer)
    : impl_(new Impl) {
  beast::error_code ec;
  if (receive_buffer > 0) {
    auto& socket = beast::get_lowest_layer(impl_->ws).socket();
    socket.open(tcp::v4(), ec);
    socket.set_option(net::socket_base::receive_buffer_size(receive_buffer), ec);
  }
  beast::get_lowest_layer(impl_->ws).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return;
  impl_->ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    for (const auto& [k, v] : headers) req.set(k, v);
  }));
  impl_->ws.handshake("127.0.0.1", target, ec);
  impl_->connected = !ec;
  impl_->ws.read_message_max(64u << 20);
}

WsClient::~WsClient() {
  beast::error_code ec;
  beast::get_lowest_layer(impl_->ws).close();
  delete impl_;
}

bool WsClient::connected() const { return impl_->connected; }

void WsClient::send(const std::string& text) {
  beast::error_code ec;
  impl_->ws.text(true);
  impl_->ws.write(net::buffer(text), ec);
}

std::string WsClient::receive(int timeout_ms) {
  if (!impl_->pending.empty()) {
    std::string next = std::move(impl_->pending.front());
    impl_->pending.pop_front();
    return next;
  }
  if (!impl_->connected) return "";
  std::string out;
  bool done = false;
  impl_->ws.async_read(impl_->buffer, [&](beast::error_code ec, std::size_t) {
    done = true;
    if (ec) {
      impl_->connected = false;
      // A close frame may have arrived even when the read ends with another
      // error (the server tore the connection down right after it).
      if (impl_->ws.reason().code != websocket::close_code::none) {
        impl_->close_code = impl_->ws.reason().code;
        impl_->close_reason = impl_->ws.reason().reason.c_str();
      }
      return;
    }
    const std::string frame = beast::buffers_to_string(impl_->buffer.data());
    impl_->buffer.consume(impl_->buffer.size());
    ++impl_->frames;
    std::vector<std::string_view> messages;
    gateway::split_ws_frame(frame, &messages);
    for (std::string_view m : messages) impl_->pending.emplace_back(m);
    if (!impl_->pending.empty()) {
      out = std::move(impl_->pending.front());
      impl_->pending.pop_front();
    }
  });
  impl_->ioc.restart();
  impl_->ioc.run_for(std::chrono::milliseconds(timeout_ms));
  if (!done) {  // time is up: cancel the read and let it finish
    beast::get_lowest_layer(impl_->ws).cancel();
    impl_->ioc.restart();
    impl_->ioc.run();
    impl_->connected = false;  // a cancelled read leaves the stream unusable
  }
  return out;
}

std::string WsClient::receive_until(const std::string& needle, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline && impl_->connected) {
    const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          deadline - std::chrono::steady_clock::now()).count());
    std::string m = receive(std::max(1, left));
    if (m.find(needle) != std::string::npos) return m;
  }
  return "";
}

int WsClient::close_code() const { return impl_->close_code; }
uint64_t WsClient::frames() const { return impl_->frames; }
std::string WsClient::close_reason() const { return impl_->close_reason; }

void WsClient::close() {
  beast::error_code ec;
  impl_->ws.close(websocket::close_code::normal, ec);
}

std::string ws_login_message(const ApiKey& key, const std::string& id) {
  const std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch()).count());
  const std::string sig = auth::hmac_sha256_hex(key.secret, auth::signing_payload(ts, "GET", "/v1/ws", ""));
  return R"({"op":"login","id":")" + id + R"(","args":{"key":")" + key.key_id + R"(","timestamp":")" + ts +
         R"(","signature":")" + sig + R"("}})";
}

}  // namespace bourse::testing

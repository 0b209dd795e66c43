// Webhook client: URL parsing, the private-address table, then real POSTs to
// a one-connection HTTP server on 127.0.0.1 (status, request bytes, 1xx,
// malformed answers, refused and private destinations, the deadline, header
// injection, a TLS handshake against a plain-text peer). Loopback only; every
// wait is bounded.
#include "alerts/webhook_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace bourse::alerts {
namespace {

using namespace std::chrono_literals;

// --- parse_webhook_url -------------------------------------------------------

WebhookUrl parsed(const std::string& text) {
  std::string error;
  const std::optional<WebhookUrl> url = parse_webhook_url(text, &error);
  EXPECT_TRUE(url.has_value()) << text << ": " << error;
  return url.value_or(WebhookUrl{});
}

TEST(ParseWebhookUrl, AcceptsHttpAndHttpsWithDefaultsPortsPathsAndQueries) {
  WebhookUrl u = parsed("http://example.com");
  EXPECT_FALSE(u.tls);
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.target, "/");

  u = parsed("https://hooks.example.com/alerts");
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.target, "/alerts");

  u = parsed("http://example.com:8080/a/b?x=1&y=%20");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.target, "/a/b?x=1&y=%20");

  u = parsed("http://example.com?x=1");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.target, "/?x=1");

  u = parsed("http://[::1]:8080/hook");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.target, "/hook");

  u = parsed("https://[2001:db8::7]");
  EXPECT_EQ(u.host, "2001:db8::7");
  EXPECT_EQ(u.port, 443);

  u = parsed("HTTPS://Example.COM/X");
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "Example.COM");
  EXPECT_EQ(u.target, "/X");

  u = parsed("http://10.1.2.3:65535");
  EXPECT_EQ(u.host, "10.1.2.3");
  EXPECT_EQ(u.port, 65535);

  const std::string prefix = "http://example.com/";
  const std::string longest = prefix + std::string(kMaxWebhookUrlBytes - prefix.size(), 'a');
  EXPECT_EQ(parsed(longest).target.size(), kMaxWebhookUrlBytes - prefix.size() + 1);
}

TEST(ParseWebhookUrl, RejectsWhatIsNotAPlainHttpUrl) {
  const std::string too_long = "http://example.com/" + std::string(kMaxWebhookUrlBytes, 'a');
  for (const std::string& bad : {std::string(), std::string("example.com"), std::string("ftp://example.com/x"),
                                 std::string("http://"), std::string("http:///path"), std::string("http://:80/"),
                                 std::string("http://user:pw@example.com/"), std::string("http://a@example.com"),
                                 std::string("http://example.com/#top"), std::string("http://example.com:0/"),
                                 std::string("http://example.com:70000/"), std::string("http://example.com:/"),
                                 std::string("http://example.com:8o/"), std::string("http://exa mple.com/"),
                                 std::string("http://example.com/a b"), std::string("http://example.com/\r\nX: 1"),
                                 std::string("http://[::1/"), std::string("http://[::1]x/"),
                                 std::string("http://[zz::1]/"), std::string("http://ex%61mple.com/"), too_long}) {
    std::string error;
    EXPECT_FALSE(parse_webhook_url(bad, &error).has_value()) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
  EXPECT_FALSE(parse_webhook_url("nope", nullptr).has_value());  // error is optional
}

// --- is_private_address --------------------------------------------------------

bool private_text(const char* text) {
  sockaddr_storage s{};
  if (inet_pton(AF_INET, text, &reinterpret_cast<sockaddr_in*>(&s)->sin_addr) == 1) {
    s.ss_family = AF_INET;
  } else if (inet_pton(AF_INET6, text, &reinterpret_cast<sockaddr_in6*>(&s)->sin6_addr) == 1) {
    s.ss_family = AF_INET6;
  } else {
    ADD_FAILURE() << "not an address: " << text;
  }
  return is_private_address(reinterpret_cast<const sockaddr*>(&s));
}

TEST(IsPrivateAddress, Table) {
  for (const char* a : {"127.0.0.1", "127.255.0.9", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.254",
                        "192.168.1.1", "169.254.169.254", "0.0.0.0", "0.1.2.3", "100.64.0.1", "100.127.255.255",
                        "224.0.0.1", "239.255.255.250", "255.255.255.255", "::", "::1", "fe80::1", "febf::1",
                        "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
                        "::ffff:169.254.169.254", "64:ff9b::a00:1", "::127.0.0.1"}) {
    EXPECT_TRUE(private_text(a)) << a;
  }
  for (const char* a : {"8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "192.167.1.1", "100.63.255.255",
                        "100.128.0.1", "169.253.1.1", "11.0.0.1", "223.255.255.255", "2001:4860::1",
                        "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"}) {
    EXPECT_FALSE(private_text(a)) << a;
  }
  EXPECT_TRUE(is_private_address(nullptr));
  sockaddr unix_family{};
  unix_family.sa_family = AF_UNIX;
  EXPECT_TRUE(is_private_address(&unix_family));
}

// --- post_webhook against a loopback server ------------------------------------

// A listening TCP socket on 127.0.0.1 with a port the kernel chose.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    const bool ok = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 && listen(fd_, 8) == 0 &&
                    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    EXPECT_TRUE(ok);
    port_ = ntohs(a.sin_port);
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }
  uint16_t port() const { return port_; }
  // True if a connection is waiting, or arrives within `ms`.
  bool connection_within(int ms) const {
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, ms) > 0;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

void send_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

// The head plus the Content-Length body have arrived.
bool complete_request(const std::string& r) {
  const std::size_t head = r.find("\r\n\r\n");
  if (head == std::string::npos) return false;
  std::string lower = r.substr(0, head);
  for (char& c : lower) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  const std::string key = "\r\ncontent-length:";
  const std::size_t at = lower.find(key);
  const std::size_t length = at == std::string::npos ? 0 : std::stoul(lower.substr(at + key.size()));
  return r.size() >= head + 4 + length;
}

// Serves one connection from a thread. kAnswer: reads the whole request,
// then writes `response` and closes. kAnswerAtOnce: writes `response` on
// accepting, reads nothing. kHold: reads the request, answers nothing, and
// keeps the connection open until the server is destroyed.
class OneShotServer {
 public:
  enum class Mode { kAnswer, kAnswerAtOnce, kHold };
  OneShotServer(Mode mode, std::string response) : mode_(mode), response_(std::move(response)) {
    thread_ = std::thread([this] { run(); });
  }
  OneShotServer(const OneShotServer&) = delete;
  OneShotServer& operator=(const OneShotServer&) = delete;
  ~OneShotServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint16_t port() const { return listener_.port(); }
  bool connected() const { return connected_; }
  // What the client sent; waits for the server to be done (kAnswer modes).
  const std::string& request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  void run() {
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    int c = -1;
    while (c < 0 && !stop_ && std::chrono::steady_clock::now() < give_up) {
      if (listener_.connection_within(20)) c = accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
    }
    if (c < 0) return;
    connected_ = true;
    if (mode_ == Mode::kAnswerAtOnce) {
      send_all(c, response_);
      close(c);
      return;
    }
    timeval tick{0, 20'000};  // recv wakes up to notice stop_ and give_up
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof(tick));
    char buf[16384];
    while (!complete_request(request_) && !stop_ && std::chrono::steady_clock::now() < give_up) {
      const ssize_t n = recv(c, buf, sizeof(buf), 0);
      if (n == 0) break;
      if (n > 0) request_.append(buf, static_cast<std::size_t>(n));
    }
    if (mode_ == Mode::kAnswer) send_all(c, response_);
    while (mode_ == Mode::kHold && !stop_ && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(10ms);
    }
    close(c);
  }

  Listener listener_;
  const Mode mode_;
  const std::string response_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  std::string request_;
  std::thread thread_;  // last: starts once everything above exists
};

WebhookUrl loopback(uint16_t port, const std::string& target = "/hook") {
  WebhookUrl u;
  u.host = "127.0.0.1";
  u.port = port;
  u.target = target;
  return u;
}

WebhookPost local_post(std::string body = R"({"alert_id":1})") {
  WebhookPost p;
  p.body = std::move(body);
  p.allow_private = true;
  p.timeout_ms = 5000;
  return p;
}

constexpr const char* kOk = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

TEST(PostWebhook, SendsTheRequestAndReadsTheStatus) {
  OneShotServer server(OneShotServer::Mode::kAnswer, kOk);
  const std::string port = std::to_string(server.port());
  std::string error;
  const std::optional<WebhookUrl> url = parse_webhook_url("http://127.0.0.1:" + port + "/hooks/alerts?v=1", &error);
  ASSERT_TRUE(url.has_value()) << error;
  // Larger than one socket write, with bytes a careless client might mangle.
  WebhookPost post = local_post(R"({"alert_id":7,"note":"é\r\n\u0000"})" + std::string(300'000, ' ') + "}");
  post.headers = {{"X-Bourse-Signature", "t=1700000000,v1=abcdef"}};

  const WebhookResult r = post_webhook(*url, post);
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_TRUE(r.delivered());
  EXPECT_EQ(r.error, "");
  EXPECT_GT(r.duration_us, 0);

  const std::string& req = server.request();
  const std::size_t head_end = req.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << req.substr(0, 200);
  const std::string head = req.substr(0, head_end + 2);
  EXPECT_EQ(head.rfind("POST /hooks/alerts?v=1 HTTP/1.1\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("\r\nHost: 127.0.0.1:" + port + "\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nUser-Agent: bourse-webhooks/1\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nContent-Type: application/json\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nContent-Length: " + std::to_string(post.body.size()) + "\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nConnection: close\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nX-Bourse-Signature: t=1700000000,v1=abcdef\r\n"), std::string::npos) << head;
  EXPECT_TRUE(req.substr(head_end + 4) == post.body) << "body differs (" << req.size() - head_end - 4 << " bytes)";
}

TEST(PostWebhook, ServerErrorIsAStatusNotADelivery) {
  OneShotServer server(OneShotServer::Mode::kAnswer, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
  const WebhookResult r = post_webhook(loopback(server.port()), local_post());
  EXPECT_EQ(r.status, 500) << r.error;
  EXPECT_FALSE(r.delivered());
  EXPECT_EQ(r.error, "");
}

TEST(PostWebhook, SkipsInterimResponses) {
  OneShotServer server(OneShotServer::Mode::kAnswer,
                       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                       "HTTP/1.0 204 No Content\r\n\r\n");
  const WebhookResult r = post_webhook(loopback(server.port()), local_post());
  EXPECT_EQ(r.status, 204) << r.error;
  EXPECT_TRUE(r.delivered());
}

TEST(PostWebhook, MalformedResponses) {
  for (const std::string& answer : {std::string(9000, 'x'), std::string("SSH-2.0-OpenSSH\r\n"),
                                    std::string("HTTP/1.1 20 OK\r\n"), std::string("HTTP/2 200\r\n\r\n")}) {
    OneShotServer server(OneShotServer::Mode::kAnswer, answer);
    const WebhookResult r = post_webhook(loopback(server.port()), local_post());
    EXPECT_EQ(r.status, 0) << answer.substr(0, 20);
    EXPECT_EQ(r.error, "malformed response") << answer.substr(0, 20);
  }
  OneShotServer silent(OneShotServer::Mode::kAnswer, "");  // closes without a word
  const WebhookResult r = post_webhook(loopback(silent.port()), local_post());
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
}

TEST(PostWebhook, RefusedConnection) {
  uint16_t port = 0;
  {
    Listener closed;  // a port that was just free; nothing listens on it once closed
    port = closed.port();
  }
  const WebhookResult r = post_webhook(loopback(port), local_post());
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error.rfind("connect: ", 0), 0u) << r.error;
  EXPECT_FALSE(r.delivered());
}

TEST(PostWebhook, PrivateAddressesAreRefusedUnlessAllowed) {
  Listener listener;
  WebhookPost post = local_post();
  post.allow_private = false;
  post.timeout_ms = 1000;
  WebhookResult r = post_webhook(loopback(listener.port()), post);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, "private address refused");
  // A name that resolves to loopback is judged on its addresses.
  WebhookUrl by_name = loopback(listener.port());
  by_name.host = "localhost";
  r = post_webhook(by_name, post);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("private"), std::string::npos) << r.error;
  EXPECT_FALSE(listener.connection_within(100));
}

TEST(PostWebhook, TimeoutBoundsTheExchange) {
  OneShotServer server(OneShotServer::Mode::kHold, "");
  WebhookPost post = local_post();
  post.timeout_ms = 300;
  const WebhookResult r = post_webhook(loopback(server.port()), post);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, "timeout");
  EXPECT_GE(r.duration_us, 250'000);
  EXPECT_LT(r.duration_us, 3'000'000);
  EXPECT_TRUE(server.connected());
}

TEST(PostWebhook, HeadersWithCrOrLfAreRefusedBeforeConnecting) {
  Listener listener;
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"X-Signature", "abc\r\nX-Injected: 1"}, {"X-Signature", "abc\nX-Injected: 1"},
      {"X-Sig\r\nX-Injected", "1"}, {"X-Sig", "abc\r"}};
  for (const auto& header : bad) {
    WebhookPost post = local_post();
    post.timeout_ms = 1000;
    post.headers = {{"X-Fine", "1"}, header};
    const WebhookResult r = post_webhook(loopback(listener.port()), post);
    EXPECT_EQ(r.status, 0);
    EXPECT_FALSE(r.error.empty());
    EXPECT_EQ(r.error.find("X-Injected"), std::string::npos) << "header text leaked into the error";
  }
  WebhookPost post = local_post();
  post.headers = {{"Content-Length", "0"}};  // framing stays the client's
  EXPECT_EQ(post_webhook(loopback(listener.port()), post).status, 0);
  EXPECT_FALSE(listener.connection_within(100));
}

TEST(PostWebhook, TlsHandshakeFailureIsReported) {
  // A plain-text peer answering an https client: the handshake must fail cleanly, well before the deadline.
  OneShotServer server(OneShotServer::Mode::kAnswerAtOnce, kOk);
  WebhookUrl url = loopback(server.port());
  url.tls = true;
  const WebhookResult r = post_webhook(url, local_post());
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error.rfind("tls", 0), 0u) << r.error;
  EXPECT_LT(r.duration_us, 3'000'000);
}

}  // namespace
}  // namespace bourse::alerts

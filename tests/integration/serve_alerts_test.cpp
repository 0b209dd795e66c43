// End to end: alert rules over REST (create, read, update, delete, each
// account's own, validation and the per-account limit); then a price alert
// and a fill alert fire on the WebSocket `alerts` channel and in the
// history, and the price alert's webhook reaches a loopback receiver that
// was down at first, with a valid HMAC-SHA256 signature, after retries the
// delivery log shows. Restarts, clean and crashed, never fire an alert twice.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "integration/json_view.h"
#include "integration/server_process.h"

namespace bourse::testing {
namespace {

constexpr const char* kAlertConfig = R"(
[alerts]
max_per_account = 4
webhook_allow_private = true
webhook_retry_base_ms = 200
webhook_retry_max_ms = 800
webhook_timeout_ms = 2000
)";

// A port nothing listens on (yet).
uint16_t unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Answers every POST with 200 and keeps the raw requests.
class HookReceiver {
 public:
  explicit HookReceiver(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    listening_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 16) == 0;
    thread_ = std::thread([this] { run(); });
  }
  ~HookReceiver() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  bool listening() const { return listening_; }
  std::vector<std::string> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  bool wait_for(std::size_t n, int timeout_ms) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
      if (requests().size() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string request;
      char buf[4096];
      const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (std::chrono::steady_clock::now() < end) {
        const std::size_t head = request.find("\r\n\r\n");
        if (head != std::string::npos) {
          const std::size_t cl = request.find("Content-Length: ");
          const std::size_t length = cl == std::string::npos ? 0 : std::stoul(request.substr(cl + 16));
          if (request.size() >= head + 4 + length) break;
        }
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 100) <= 0) continue;
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        request.append(buf, static_cast<std::size_t>(n));
      }
      const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      ::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(c);
      std::lock_guard lock(mutex_);
      requests_.push_back(std::move(request));
    }
  }

  int fd_ = -1;
  bool listening_ = false;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

std::string header_value(const std::string& request, const std::string& name) {
  const std::size_t at = request.find("\r\n" + name + ": ");
  if (at == std::string::npos) return {};
  const std::size_t start = at + name.size() + 4;
  return request.substr(start, request.find("\r\n", start) - start);
}

std::string hmac_hex(const std::string& key, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

class ServeAlerts : public ::testing::Test {
 protected:
  void start() {
    options_.data_dir = dir_.path() + "/data";
    options_.config_toml = kAlertConfig;
    server_ = std::make_unique<ServerProcess>(options_);
    ASSERT_TRUE(server_->started()) << server_->output();
    if (keys_.empty()) keys_ = demo_keys(server_->output());
  }
  // bob sells and alice buys qty at price: one trade.
  void trade(const char* price, bool alice_buys = true) {
    SignedClient alice(server_->port(), keys_["alice"]), bob(server_->port(), keys_["bob"]);
    const std::string body = std::string(R"({"symbol":"BTC-USD","price":")") + price + R"(","qty":"0.010","side":")";
    ASSERT_EQ((alice_buys ? bob : alice).call("POST", "/v1/orders", body + R"(SELL"})").status, 201);
    auto r = (alice_buys ? alice : bob).call("POST", "/v1/orders", body + R"(BUY"})");
    ASSERT_EQ(r.status, 201) << r.body;
    ASSERT_EQ(Json(r.body).s("/status"), "FILLED");
  }
  std::size_t firings(SignedClient& c) { return Json(c.call("GET", "/v1/history/alerts").body).size("/firings"); }

  TempDir dir_;
  ServerOptions options_;
  std::unique_ptr<ServerProcess> server_;
  std::map<std::string, ApiKey> keys_;
};

TEST_F(ServeAlerts, RulesAreTheAccountsOwnAndValidated) {
  start();
  SignedClient alice(server_->port(), keys_["alice"]), bob(server_->port(), keys_["bob"]);
  auto r = alice.call("POST", "/v1/alerts",
                      R"({"type":"change_down","symbol":"BTC-USD","threshold":"2.5","window_minutes":15,"recurring":true,"cooldown_s":300,"note":"dip"})");
  ASSERT_EQ(r.status, 201) << r.body;
  Json created(r.body);
  const std::string id = created.s("/alert_id");
  EXPECT_EQ(created.s("/type"), "change_down");
  EXPECT_EQ(created.s("/threshold"), "2.50");
  EXPECT_EQ(created.i("/window_minutes"), 15);
  EXPECT_EQ(created.s("/status"), "active");
  EXPECT_EQ(created.s("/note"), "dip");
  EXPECT_EQ(created.s("/webhook_secret"), "<none>");  // no webhook, no secret

  r = alice.call("POST", "/v1/alerts",
                 R"({"type":"indicator_below","symbol":"BTC-USD","indicator":"rsi","interval":"1m","threshold":"30"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Json(r.body).s("/threshold"), "30.00000000");
  const std::string rsi_id = Json(r.body).s("/alert_id");
  r = alice.call("PATCH", "/v1/alerts/" + rsi_id, R"({"indicator":"sma"})");  // 30 RSI points mean nothing as a price
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Json(r.body).s("/code"), "INVALID_ALERT");
  r = alice.call("PATCH", "/v1/alerts/" + rsi_id, R"({"indicator":"sma","threshold":"60000.00"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r.body).s("/threshold"), "60000.0000000000");
  r = alice.call("POST", "/v1/alerts", R"({"type":"volume_spike","symbol":"BTC-USD","threshold":"3","lookback":30})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Json(r.body).s("/threshold"), "3.0000");
  EXPECT_EQ(Json(r.body).s("/interval"), "1m");

  // Each refusal has its code.
  const std::pair<const char*, const char*> bad[] = {
      {R"({"type":"price_sideways","symbol":"BTC-USD","threshold":"1"})", "INVALID_ALERT_TYPE"},
      {R"({"type":"price_above","symbol":"NOPE-USD","threshold":"1"})", "UNKNOWN_SYMBOL"},
      {R"({"type":"price_above","symbol":"BTC-USD"})", "MISSING_FIELD"},
      {R"({"type":"price_above","symbol":"BTC-USD","threshold":"1.001"})", "INVALID_DECIMAL"},
      {R"({"type":"change_up","symbol":"BTC-USD","threshold":"1"})", "INVALID_ALERT"},
      {R"({"type":"change_up","symbol":"BTC-USD","threshold":"1","window_minutes":5,"recurring":true})", "INVALID_COOLDOWN"},
      {R"({"type":"margin_call","symbol":"BTC-USD"})", "INVALID_ALERT"},
      {R"({"type":"price_above","symbol":"BTC-USD","threshold":"1","webhook_url":"ftp://x"})", "INVALID_WEBHOOK_URL"},
      {R"({"type":"price_above","symbol":"BTC-USD","threshold":"1","expire_time":1000})", "INVALID_EXPIRY"},
      {R"({"type":"price_above","symbol":"BTC-USD","threshold":"1","colour":"red"})", "UNKNOWN_FIELD"},
      {R"({"type":"order_filled","threshold":"1"})", "INVALID_ALERT"},
      {R"({"type":"indicator_above","symbol":"BTC-USD","indicator":"rsi","threshold":"101"})", "INVALID_ALERT"},
      {R"({"type":"change_up","symbol":"BTC-USD","threshold":"1","window_minutes":5,"interval":"1m"})", "INVALID_ALERT"},
  };
  for (const auto& [body, code] : bad) {
    r = alice.call("POST", "/v1/alerts", body);
    EXPECT_GE(r.status, 400) << body;
    EXPECT_EQ(Json(r.body).s("/code"), code) << body << " → " << r.body;
  }

  // Another account sees nothing of it.
  EXPECT_EQ(bob.call("GET", "/v1/alerts/" + id).status, 404);
  EXPECT_EQ(bob.call("PATCH", "/v1/alerts/" + id, R"({"note":"mine"})").status, 404);
  EXPECT_EQ(bob.call("DELETE", "/v1/alerts/" + id).status, 404);
  EXPECT_EQ(Json(bob.call("GET", "/v1/alerts").body).size("/alerts"), 0u);
  EXPECT_EQ(Json(alice.call("GET", "/v1/alerts").body).size("/alerts"), 3u);

  r = alice.call("PATCH", "/v1/alerts/" + id, R"({"threshold":"5","note":"deeper"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r.body).s("/threshold"), "5.00");
  EXPECT_EQ(Json(r.body).s("/note"), "deeper");
  EXPECT_EQ(alice.call("PATCH", "/v1/alerts/" + id, R"({"type":"change_up"})").status, 400);  // what it is stays
  // A webhook added later gets its secret then; a new URL, a new secret.
  r = alice.call("PATCH", "/v1/alerts/" + id, R"({"webhook_url":"https://example.com/a"})");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string first_secret = Json(r.body).s("/webhook_secret");
  EXPECT_EQ(first_secret.rfind("whsec_", 0), 0u);
  r = alice.call("PATCH", "/v1/alerts/" + id, R"({"note":"same url"})");
  EXPECT_EQ(Json(r.body).s("/webhook_secret"), "<none>");
  r = alice.call("PATCH", "/v1/alerts/" + id, R"({"webhook_url":"https://example.com/b"})");
  EXPECT_NE(Json(r.body).s("/webhook_secret"), first_secret);
  EXPECT_NE(Json(r.body).s("/webhook_secret"), "<none>");

  // Four active rules at most (the config); a deleted one makes room.
  ASSERT_EQ(alice.call("POST", "/v1/alerts", R"({"type":"margin_call"})").status, 201);
  r = alice.call("POST", "/v1/alerts", R"({"type":"order_filled"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Json(r.body).s("/code"), "ALERT_LIMIT");
  ASSERT_EQ(alice.call("DELETE", "/v1/alerts/" + id).status, 200);
  EXPECT_EQ(alice.call("GET", "/v1/alerts/" + id).status, 404);
  EXPECT_EQ(alice.call("POST", "/v1/alerts", R"({"type":"order_filled"})").status, 201);

  // Rules survive a restart.
  server_.reset();
  start();
  SignedClient alice2(server_->port(), keys_["alice"]);
  EXPECT_EQ(Json(alice2.call("GET", "/v1/alerts?status=active").body).size("/alerts"), 4u);
}

TEST_F(ServeAlerts, FiringsReachTheWebSocketTheHistoryAndASignedWebhookExactlyOnce) {
  start();
  SignedClient alice(server_->port(), keys_["alice"]);
  const uint16_t hook_port = unused_port();
  auto r = alice.call("POST", "/v1/alerts",
                      std::string(R"({"type":"price_above","symbol":"BTC-USD","threshold":"66000.00","note":"breakout",)") +
                          R"("webhook_url":"http://127.0.0.1:)" + std::to_string(hook_port) + R"(/hook"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string price_id = Json(r.body).s("/alert_id");
  const std::string secret = Json(r.body).s("/webhook_secret");
  ASSERT_EQ(secret.rfind("whsec_", 0), 0u);
  EXPECT_EQ(Json(alice.call("GET", "/v1/alerts/" + price_id).body).s("/webhook_secret"), "<none>");  // shown once
  r = alice.call("POST", "/v1/alerts", R"({"type":"order_filled","symbol":"BTC-USD"})");
  ASSERT_EQ(r.status, 201) << r.body;

  WsClient ws(server_->port());
  ASSERT_TRUE(ws.connected());
  ws.send(ws_login_message(keys_["alice"]));
  ASSERT_NE(ws.receive_until("\"op\":\"login\"").find("\"result\""), std::string::npos);
  ws.send(R"({"op":"subscribe","id":"s","channels":["alerts"]})");
  ASSERT_NE(ws.receive_until("\"op\":\"subscribe\"").find("alerts"), std::string::npos);

  trade("65000.00");  // the first price crosses nothing; alice's order filled
  Json fill(ws.receive_until("\"order_filled\""));
  ASSERT_TRUE(fill.ok);
  EXPECT_EQ(fill.s("/channel"), "alerts");
  EXPECT_EQ(fill.s("/data/side"), "buy");
  EXPECT_EQ(fill.s("/data/price"), "65000.00");
  EXPECT_EQ(fill.s("/data/qty"), "0.01000000");
  EXPECT_EQ(fill.b("/data/last"), 1);

  trade("66500.00");  // through 66,000.00
  Json above(ws.receive_until("\"price_above\""));
  ASSERT_TRUE(above.ok);
  EXPECT_EQ(above.s("/data/alert_id"), price_id);
  EXPECT_EQ(above.s("/data/threshold"), "66000.00");
  EXPECT_EQ(above.s("/data/price"), "66500.00");
  EXPECT_EQ(above.s("/data/note"), "breakout");

  // The receiver is down: attempts fail and are logged, then retried.
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  Json pending(alice.call("GET", "/v1/alerts/" + price_id + "/deliveries").body);
  ASSERT_EQ(pending.size("/deliveries"), 1u);
  EXPECT_EQ(pending.s("/deliveries/0/status"), "pending");
  EXPECT_GE(pending.size("/deliveries/0/log"), 1u);
  EXPECT_NE(pending.s("/deliveries/0/log/0/error"), "<none>");

  HookReceiver receiver(hook_port);
  ASSERT_TRUE(receiver.listening());
  ASSERT_TRUE(receiver.wait_for(1, 10'000));
  const std::string request = receiver.requests()[0];
  EXPECT_EQ(request.rfind("POST /hook HTTP/1.1\r\n", 0), 0u) << request;
  const std::string body = request.substr(request.find("\r\n\r\n") + 4);
  const std::string signature = header_value(request, "Bourse-Signature");  // t=<unix>,v1=<hex>
  const std::size_t comma = signature.find(",v1=");
  ASSERT_EQ(signature.rfind("t=", 0), 0u) << signature;
  ASSERT_NE(comma, std::string::npos) << signature;
  const std::string t = signature.substr(2, comma - 2);
  EXPECT_EQ(signature.substr(comma + 4), hmac_hex(secret, t + "." + body));
  EXPECT_NE(hmac_hex("whsec_wrong", t + "." + body), signature.substr(comma + 4));
  Json hook(body);
  ASSERT_TRUE(hook.ok) << body;
  EXPECT_EQ(hook.s("/event"), "alert.fired");
  EXPECT_EQ(hook.s("/delivery_id"), header_value(request, "Bourse-Delivery"));
  EXPECT_EQ(hook.s("/data/alert_id"), price_id);
  EXPECT_EQ(hook.s("/data/price"), "66500.00");

  Json delivered(alice.call("GET", "/v1/alerts/" + price_id + "/deliveries").body);
  EXPECT_EQ(delivered.s("/deliveries/0/status"), "delivered");
  const std::size_t attempts = delivered.size("/deliveries/0/log");
  EXPECT_GE(attempts, 2u);
  EXPECT_EQ(static_cast<std::size_t>(delivered.i("/deliveries/0/attempts")), attempts);
  Json rule(alice.call("GET", "/v1/alerts/" + price_id).body);
  EXPECT_EQ(rule.s("/status"), "triggered");
  EXPECT_EQ(rule.i("/fired_count"), 1);

  Json history(alice.call("GET", "/v1/history/alerts").body);
  ASSERT_EQ(history.size("/firings"), 2u);
  EXPECT_EQ(history.s("/firings/0/type"), "price_above");  // newest first
  EXPECT_EQ(history.s("/firings/1/type"), "order_filled");

  // A clean restart fires and delivers nothing again.
  server_.reset();
  start();
  SignedClient alice2(server_->port(), keys_["alice"]);
  r = alice2.call("POST", "/v1/alerts", R"({"type":"price_below","symbol":"BTC-USD","threshold":"65500.00"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(firings(alice2), 2u);
  // A crash right after a crossing: whether or not the firing was committed
  // before it, the restart leaves exactly one.
  trade("65000.00", false);
  server_->kill_hard();
  start();
  SignedClient alice3(server_->port(), keys_["alice"]);
  const std::string after_body = alice3.call("GET", "/v1/history/alerts").body;
  Json after(after_body);
  ASSERT_EQ(after.size("/firings"), 3u) << after_body;
  EXPECT_EQ(after.s("/firings/0/type"), "price_below");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(receiver.requests().size(), 1u);  // delivered once, not again after either restart
}

}  // namespace
}  // namespace bourse::testing

#include "loadgen.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "auth/auth_service.h"
#include "auth/crypto.h"
#include "bourse/core/clock.h"

namespace bourse::app {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using net::awaitable;
using net::use_awaitable;

struct Results {
  std::mutex mutex;
  std::vector<int64_t> place_ns, cancel_ns;
  uint64_t errors = 0;
  std::string first_error;
};

struct Shared {
  Shared(const LoadgenOptions& options, tcp::endpoint ep) : o(options), endpoint(ep) {}
  const LoadgenOptions& o;
  tcp::endpoint endpoint;
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  int64_t interval_ns = 0;  // per connection, 0 = closed loop
  int64_t login_ms = 0;     // logins sign login_ms - connection index: distinct, within the window
  Results results;
  std::atomic<uint64_t> sequence{0};  // unique timestamps for signatures
};

// Signatures must never repeat (replay protection). Requests of one key in
// the same millisecond differ by their target or body (unique client order
// ids, distinct order ids), and logins by a per-connection offset.
std::string timestamp_ms(int64_t offset_ms = 0) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count() - offset_ms);
}

std::string place_body(Shared& s) {
  return R"({"symbol":")" + s.o.symbol + R"(","side":"BUY","price":")" + s.o.price + R"(","qty":")" + s.o.qty +
         R"(","client_order_id":"lg-)" + std::to_string(s.sequence.fetch_add(1)) + R"("})";
}

uint64_t parse_id(const std::string& body) {
  const std::size_t at = body.find("\"id\":");
  if (at == std::string::npos) return 0;
  return std::strtoull(body.c_str() + at + 5, nullptr, 10);
}

void record_error(Shared& s, const std::string& what) {
  std::lock_guard lock(s.results.mutex);
  if (s.results.errors++ == 0) s.results.first_error = what.substr(0, 300);
}

// Waits for this connection's next scheduled send; returns the intended
// send time (latency is measured from it).
awaitable<int64_t> next_slot(Shared& s, net::steady_timer& timer, int64_t* next) {
  if (s.interval_ns == 0) co_return monotonic_ns();
  const int64_t intended = *next;
  *next += s.interval_ns;
  const int64_t wait = intended - monotonic_ns();
  if (wait > 0) {
    timer.expires_after(std::chrono::nanoseconds(wait));
    co_await timer.async_wait(use_awaitable);
  }
  co_return intended;
}

awaitable<void> rest_connection(Shared& s, int index) {
  auto executor = co_await net::this_coro::executor;
  beast::tcp_stream stream(executor);
  co_await stream.async_connect(s.endpoint, use_awaitable);
  stream.socket().set_option(tcp::no_delay(true));
  beast::flat_buffer buffer;
  net::steady_timer timer(executor);
  int64_t next = s.start_ns + (s.interval_ns * index) / std::max(1, s.o.connections);
  std::vector<int64_t> place, cancel;
  auto call = [&](http::verb verb, std::string target, std::string body) -> awaitable<http::response<http::string_body>> {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "bench");
    const std::string ts = timestamp_ms();
    const std::string method(http::to_string(verb));
    req.set("BOURSE-API-KEY", s.o.key);
    req.set("BOURSE-TIMESTAMP", ts);
    req.set("BOURSE-SIGNATURE", auth::hmac_sha256_hex(s.o.secret, auth::signing_payload(ts, method, target, body)));
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.keep_alive(true);
    req.prepare_payload();
    co_await http::async_write(stream, req, use_awaitable);
    http::response<http::string_body> res;
    co_await http::async_read(stream, buffer, res, use_awaitable);
    co_return res;
  };
  while (monotonic_ns() < s.end_ns) {
    const int64_t intended = co_await next_slot(s, timer, &next);
    if (intended >= s.end_ns) break;
    auto placed = co_await call(http::verb::post, "/v1/orders", place_body(s));
    const int64_t placed_at = monotonic_ns();
    if (placed.result_int() != 201) {
      record_error(s, std::to_string(placed.result_int()) + " " + placed.body());
      continue;
    }
    place.push_back(placed_at - intended);
    const uint64_t id = parse_id(placed.body());
    auto cancelled = co_await call(http::verb::delete_, "/v1/orders/" + std::to_string(id), "");
    if (cancelled.result_int() != 200) {
      record_error(s, std::to_string(cancelled.result_int()) + " " + cancelled.body());
      continue;
    }
    cancel.push_back(monotonic_ns() - placed_at);
  }
  std::lock_guard lock(s.results.mutex);
  s.results.place_ns.insert(s.results.place_ns.end(), place.begin(), place.end());
  s.results.cancel_ns.insert(s.results.cancel_ns.end(), cancel.begin(), cancel.end());
}

awaitable<void> ws_connection(Shared& s, int index) {
  auto executor = co_await net::this_coro::executor;
  websocket::stream<beast::tcp_stream> ws(executor);
  co_await beast::get_lowest_layer(ws).async_connect(s.endpoint, use_awaitable);
  beast::get_lowest_layer(ws).socket().set_option(tcp::no_delay(true));
  co_await ws.async_handshake("bench", "/v1/ws", use_awaitable);
  beast::flat_buffer buffer;
  // Login: a distinct timestamp per connection, within the 5 s window.
  const std::string ts = std::to_string(s.login_ms - index % 4000);
  co_await ws.async_write(net::buffer(R"({"op":"login","id":"login","args":{"key":")" + s.o.key + R"(","timestamp":")" + ts +
                                      R"(","signature":")" +
                                      auth::hmac_sha256_hex(s.o.secret, auth::signing_payload(ts, "GET", "/v1/ws", "")) + R"("}})"),
                          use_awaitable);
  co_await ws.async_read(buffer, use_awaitable);
  const std::string login = beast::buffers_to_string(buffer.data());
  buffer.consume(buffer.size());
  if (login.find("\"result\"") == std::string::npos) {
    record_error(s, "login: " + login);
    co_return;
  }
  net::steady_timer timer(executor);
  int64_t next = s.start_ns + (s.interval_ns * index) / std::max(1, s.o.connections);
  std::vector<int64_t> place, cancel;
  uint64_t n = 0;
  auto request = [&](const std::string& text, const std::string& id) -> awaitable<std::string> {
    co_await ws.async_write(net::buffer(text), use_awaitable);
    for (;;) {  // skip anything that is not our reply
      co_await ws.async_read(buffer, use_awaitable);
      std::string m = beast::buffers_to_string(buffer.data());
      buffer.consume(buffer.size());
      if (m.find("\"id\":\"" + id + "\"") != std::string::npos) co_return m;
    }
  };
  while (monotonic_ns() < s.end_ns) {
    const int64_t intended = co_await next_slot(s, timer, &next);
    if (intended >= s.end_ns) break;
    const std::string pid = "p" + std::to_string(n), cid = "c" + std::to_string(n);
    ++n;
    const std::string placed = co_await request(R"({"op":"place","id":")" + pid + R"(","args":)" + place_body(s) + "}", pid);
    const int64_t placed_at = monotonic_ns();
    if (placed.find("\"status\":201") == std::string::npos) {
      record_error(s, placed);
      continue;
    }
    place.push_back(placed_at - intended);
    const std::size_t r = placed.find("\"result\":");
    const uint64_t id = r == std::string::npos ? 0 : parse_id(placed.substr(r));
    const std::string cancelled = co_await request(
        R"({"op":"cancel","id":")" + cid + R"(","args":{"order_id":)" + std::to_string(id) + "}}", cid);
    if (cancelled.find("\"status\":200") == std::string::npos) {
      record_error(s, cancelled);
      continue;
    }
    cancel.push_back(monotonic_ns() - placed_at);
  }
  std::lock_guard lock(s.results.mutex);
  s.results.place_ns.insert(s.results.place_ns.end(), place.begin(), place.end());
  s.results.cancel_ns.insert(s.results.cancel_ns.end(), cancel.begin(), cancel.end());
}

double percentile_us(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return static_cast<double>(v[i]) / 1e3;
}

}  // namespace

int run_loadgen(const LoadgenOptions& o_in) {
  LoadgenOptions o = o_in;
  if (o.key.empty() && std::getenv("BOURSE_API_KEY")) o.key = std::getenv("BOURSE_API_KEY");
  if (o.secret.empty() && std::getenv("BOURSE_API_SECRET")) o.secret = std::getenv("BOURSE_API_SECRET");
  if (o.key.empty() || o.secret.empty()) {
    std::fprintf(stderr, "bourse loadgen: set BOURSE_API_KEY and BOURSE_API_SECRET (a trader's key)\n");
    return 2;
  }
  std::string hostport = o.url;
  for (const char* scheme : {"http://", "ws://"}) {
    if (hostport.rfind(scheme, 0) == 0) hostport = hostport.substr(std::string(scheme).size());
  }
  const std::size_t colon = hostport.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "bourse loadgen: --url must be http://HOST:PORT\n");
    return 2;
  }
  beast::error_code ec;
  const auto address = net::ip::make_address(hostport.substr(0, colon), ec);
  if (ec) {
    std::fprintf(stderr, "bourse loadgen: --url needs an IP address\n");
    return 2;
  }
  Shared s(o, tcp::endpoint(address, static_cast<uint16_t>(std::stoi(hostport.substr(colon + 1)))));
  s.interval_ns = o.rate > 0 ? static_cast<int64_t>(1e9 * o.connections / o.rate) : 0;
  s.start_ns = monotonic_ns() + 200'000'000;  // connections get ready first
  s.login_ms = std::stoll(timestamp_ms());
  s.end_ns = s.start_ns + static_cast<int64_t>(o.duration_s * 1e9);
  std::vector<std::unique_ptr<net::io_context>> contexts;
  for (int t = 0; t < o.threads; ++t) contexts.push_back(std::make_unique<net::io_context>(1));
  for (int c = 0; c < o.connections; ++c) {
    auto& ioc = *contexts[static_cast<std::size_t>(c % o.threads)];
    auto body = o.mode == "ws" ? ws_connection(s, c) : rest_connection(s, c);
    net::co_spawn(ioc, std::move(body), [&s](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        record_error(s, std::string("connection: ") + ex.what());
      }
    });
  }
  std::vector<std::thread> threads;
  for (auto& ioc : contexts) threads.emplace_back([&ioc] { ioc->run(); });
  for (auto& t : threads) t.join();

  Results& r = s.results;
  const double seconds = o.duration_s;
  const double orders_per_s = static_cast<double>(r.place_ns.size()) / seconds;
  const double p50 = percentile_us(r.place_ns, 0.50), p99 = percentile_us(r.place_ns, 0.99),
               p999 = percentile_us(r.place_ns, 0.999);
  const double c50 = percentile_us(r.cancel_ns, 0.50), c99 = percentile_us(r.cancel_ns, 0.99),
               c999 = percentile_us(r.cancel_ns, 0.999);
  if (o.json) {
    std::printf("{\"mode\":\"%s\",\"connections\":%d,\"offered_rate\":%.0f,\"duration_s\":%.1f,\"orders\":%zu,"
                "\"orders_per_s\":%.0f,\"round_trips_per_s\":%.0f,\"errors\":%llu,\"place_p50_us\":%.0f,"
                "\"place_p99_us\":%.0f,\"place_p999_us\":%.0f,\"cancel_p50_us\":%.0f,\"cancel_p99_us\":%.0f,"
                "\"cancel_p999_us\":%.0f}\n",
                o.mode.c_str(), o.connections, o.rate, seconds, r.place_ns.size(), orders_per_s,
                static_cast<double>(r.cancel_ns.size()) / seconds, static_cast<unsigned long long>(r.errors), p50, p99,
                p999, c50, c99, c999);
  } else {
    std::printf("%s: %d connections, %.0f orders/s offered (%s), %.1f s\n", o.mode.c_str(), o.connections, o.rate,
                o.rate > 0 ? "open loop" : "closed loop", seconds);
    std::printf("  placed %zu (%.0f/s), cancelled %zu, errors %llu\n", r.place_ns.size(), orders_per_s, r.cancel_ns.size(),
                static_cast<unsigned long long>(r.errors));
    std::printf("  place ack  p50 %.0f us  p99 %.0f us  p99.9 %.0f us (from the scheduled send)\n", p50, p99, p999);
    std::printf("  cancel ack p50 %.0f us  p99 %.0f us  p99.9 %.0f us\n", c50, c99, c999);
  }
  if (r.errors) std::fprintf(stderr, "first error: %s\n", r.first_error.c_str());
  return r.place_ns.empty() ? 1 : 0;
}

}  // namespace bourse::app

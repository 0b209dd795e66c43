#include "client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "auth/auth_service.h"
#include "auth/crypto.h"

namespace bourse::app {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct Endpoint {
  std::string host = "127.0.0.1";
  std::string port = "8080";
};

bool parse_url(Endpoint* e) {
  const char* url = std::getenv("BOURSE_URL");
  if (!url) return true;
  std::string s(url);
  if (s.rfind("http://", 0) == 0) s = s.substr(7);
  else if (s.rfind("ws://", 0) == 0) s = s.substr(5);
  else return false;  // TLS endpoints: not yet
  while (!s.empty() && s.back() == '/') s.pop_back();
  const std::size_t colon = s.rfind(':');
  if (colon == std::string::npos) {
    e->host = s;
    e->port = "80";
  } else {
    e->host = s.substr(0, colon);
    e->port = s.substr(colon + 1);
  }
  return !e->host.empty();
}

std::string now_ms() {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count());
}

// An OAuth access token (BOURSE_TOKEN) is used when set; else the API key.
std::string bearer_token() {
  const char* t = std::getenv("BOURSE_TOKEN");
  return t ? std::string(t) : std::string();
}

bool credentials(std::string* key, std::string* secret) {
  const char* k = std::getenv("BOURSE_API_KEY");
  const char* s = std::getenv("BOURSE_API_SECRET");
  if (!k || !s) return false;
  *key = k;
  *secret = s;
  return true;
}

}  // namespace

int run_client_request(const ClientRequest& r) {
  Endpoint e;
  if (!parse_url(&e)) {
    std::fprintf(stderr, "bourse: BOURSE_URL must look like http://HOST:PORT\n");
    return 2;
  }
  http::request<http::string_body> req{http::string_to_verb(r.method), r.target, 11};
  req.set(http::field::host, e.host);
  req.set(http::field::user_agent, "bourse-cli");
  if (!r.body.empty()) req.set(http::field::content_type, "application/json");
  std::string key, secret;
  if (r.sign && !bearer_token().empty()) {
    req.set(http::field::authorization, "Bearer " + bearer_token());
  } else if (r.sign) {
    if (!credentials(&key, &secret)) {
      std::fprintf(stderr,
                   "bourse: set BOURSE_API_KEY and BOURSE_API_SECRET (bourse serve prints demo keys), or BOURSE_TOKEN\n");
      return 2;
    }
    const std::string ts = now_ms();
    req.set("BOURSE-API-KEY", key);
    req.set("BOURSE-TIMESTAMP", ts);
    req.set("BOURSE-SIGNATURE", auth::hmac_sha256_hex(secret, auth::signing_payload(ts, r.method, r.target, r.body)));
  }
  req.body() = r.body;
  req.prepare_payload();
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  const auto addresses = resolver.resolve(e.host, e.port, ec);
  if (!ec) stream.connect(addresses, ec);
  if (!ec) http::write(stream, req, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  if (!ec) http::read(stream, buffer, res, ec);
  if (ec) {
    std::fprintf(stderr, "bourse: %s:%s: %s\n", e.host.c_str(), e.port.c_str(), ec.message().c_str());
    return 2;
  }
  std::printf("%s\n", res.body().c_str());
  return res.result_int() < 300 ? 0 : 1;
}

int run_tail(const std::vector<std::string>& channels, int max_messages) {
  Endpoint e;
  if (!parse_url(&e)) {
    std::fprintf(stderr, "bourse: BOURSE_URL must look like http://HOST:PORT\n");
    return 2;
  }
  net::io_context ioc;
  websocket::stream<beast::tcp_stream> ws(ioc);
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  const auto addresses = resolver.resolve(e.host, e.port, ec);
  if (!ec) beast::get_lowest_layer(ws).connect(addresses, ec);
  if (!ec) ws.handshake(e.host, "/v1/ws", ec);
  if (ec) {
    std::fprintf(stderr, "bourse tail: %s:%s: %s\n", e.host.c_str(), e.port.c_str(), ec.message().c_str());
    return 2;
  }
  ws.read_message_max(64u << 20);
  std::string key, secret;
  if (const std::string token = bearer_token(); !token.empty()) {
    ws.write(net::buffer(R"({"op":"login","id":"login","args":{"token":")" + token + R"("}})"));
  } else if (credentials(&key, &secret)) {  // private channels need a login; public ones work either way
    const std::string ts = now_ms();
    const std::string sig = auth::hmac_sha256_hex(secret, auth::signing_payload(ts, "GET", "/v1/ws", ""));
    ws.write(net::buffer(R"({"op":"login","id":"login","args":{"key":")" + key + R"(","timestamp":")" + ts +
                         R"(","signature":")" + sig + R"("}})"));
  }
  std::string list;
  for (const std::string& c : channels) list += (list.empty() ? "\"" : ",\"") + c + "\"";
  ws.write(net::buffer(R"({"op":"subscribe","id":"tail","channels":[)" + list + "]}"));
  beast::flat_buffer buffer;
  for (int n = 0; max_messages == 0 || n < max_messages; ++n) {
    ws.read(buffer, ec);
    if (ec) {
      if (ec == websocket::error::closed) {
        std::fprintf(stderr, "bourse tail: closed by the server: %d %s\n", ws.reason().code,
                     ws.reason().reason.c_str());
      }
      return ec == websocket::error::closed ? 0 : 2;
    }
    std::printf("%s\n", beast::buffers_to_string(buffer.data()).c_str());
    std::fflush(stdout);
    buffer.consume(buffer.size());
  }
  return 0;
}

}  // namespace bourse::app

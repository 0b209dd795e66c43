#include "client.h"

#include "gateway/ws_frame.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <openssl/ssl.h>

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
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

struct Endpoint {
  std::string host = "127.0.0.1";
  std::string port = "8080";
  bool tls = false;
};

constexpr const char* kUrlHelp = "bourse: BOURSE_URL must look like http://HOST:PORT or https://HOST:PORT\n";

bool parse_url(Endpoint* e) {
  const char* url = std::getenv("BOURSE_URL");
  if (!url) return true;
  std::string s(url);
  bool known = false;
  for (const auto& [scheme, tls] : {std::pair{"http://", false}, std::pair{"ws://", false},
                                    std::pair{"https://", true}, std::pair{"wss://", true}}) {
    if (s.rfind(scheme, 0) == 0) {
      s = s.substr(std::string_view(scheme).size());
      e->tls = tls;
      known = true;
      break;
    }
  }
  if (!known) return false;
  while (!s.empty() && s.back() == '/') s.pop_back();
  const std::size_t colon = s.rfind(':');
  if (colon == std::string::npos || s.back() == ']') {
    e->host = s;
    e->port = e->tls ? "443" : "80";
  } else {
    e->host = s.substr(0, colon);
    e->port = s.substr(colon + 1);
  }
  if (e->host.size() > 2 && e->host.front() == '[' && e->host.back() == ']') e->host = e->host.substr(1, e->host.size() - 2);
  return !e->host.empty();
}

// Verifies the server's certificate against BOURSE_CA_FILE (a PEM bundle,
// e.g. a self-signed certificate) or the system's trust store, and its name
// or IP address against the URL's host.
bool tls_context(ssl::context* ctx, std::string* error) {
  ctx->set_verify_mode(ssl::verify_peer);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  beast::error_code ec;
  if (const char* ca = std::getenv("BOURSE_CA_FILE")) {
    ctx->load_verify_file(ca, ec);
  } else {
    ctx->set_default_verify_paths(ec);
  }
  if (ec) *error = "trust store: " + ec.message();
  return !ec;
}

// Connects a TLS stream: SNI (for names), host check, handshake.
void connect_tls(TlsStream& stream, const Endpoint& e, const tcp::resolver::results_type& addresses,
                 beast::error_code& ec) {
  beast::get_lowest_layer(stream).connect(addresses, ec);
  if (ec) return;
  beast::error_code not_ip;
  net::ip::make_address(e.host, not_ip);
  if (not_ip) {  // SNI (SSL_set_tlsext_host_name, without its C-style cast)
    SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(e.host.c_str()));
  }
  stream.set_verify_callback(ssl::host_name_verification(e.host));
  stream.handshake(ssl::stream_base::client, ec);
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
    std::fprintf(stderr, "%s", kUrlHelp);
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
  ssl::context ctx(ssl::context::tls_client);
  std::string tls_error;
  if (e.tls && !tls_context(&ctx, &tls_error)) {
    std::fprintf(stderr, "bourse: %s\n", tls_error.c_str());
    return 2;
  }
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  const auto addresses = resolver.resolve(e.host, e.port, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  auto exchange = [&](auto& stream) {
    if (!ec) http::write(stream, req, ec);
    if (!ec) http::read(stream, buffer, res, ec);
  };
  if (e.tls) {
    TlsStream stream(ioc, ctx);
    if (!ec) connect_tls(stream, e, addresses, ec);
    exchange(stream);
  } else {
    beast::tcp_stream stream(ioc);
    if (!ec) stream.connect(addresses, ec);
    exchange(stream);
  }
  if (ec) {
    std::fprintf(stderr, "bourse: %s:%s: %s\n", e.host.c_str(), e.port.c_str(), ec.message().c_str());
    return 2;
  }
  std::printf("%s\n", res.body().c_str());
  return res.result_int() < 300 ? 0 : 1;
}

namespace {

// The tail loop over a connected, upgraded WebSocket (plain or TLS).
template <class Ws>
int tail_messages(Ws& ws, const std::vector<std::string>& channels, int max_messages) {
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
  beast::error_code ec;
  for (int n = 0; max_messages == 0 || n < max_messages;) {
    ws.read(buffer, ec);
    if (ec) {
      if (ec == websocket::error::closed) {
        std::fprintf(stderr, "bourse tail: closed by the server: %d %s\n", ws.reason().code,
                     ws.reason().reason.c_str());
      }
      return ec == websocket::error::closed ? 0 : 2;
    }
    // One line per message: an array frame carries several.
    const std::string frame = beast::buffers_to_string(buffer.data());
    std::vector<std::string_view> messages;
    gateway::split_ws_frame(frame, &messages);
    for (std::string_view m : messages) {
      if (max_messages != 0 && n >= max_messages) break;
      std::printf("%.*s\n", static_cast<int>(m.size()), m.data());
      ++n;
    }
    std::fflush(stdout);
    buffer.consume(buffer.size());
  }
  return 0;
}

}  // namespace

int run_tail(const std::vector<std::string>& channels, int max_messages) {
  Endpoint e;
  if (!parse_url(&e)) {
    std::fprintf(stderr, "%s", kUrlHelp);
    return 2;
  }
  net::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  std::string tls_error;
  if (e.tls && !tls_context(&ctx, &tls_error)) {
    std::fprintf(stderr, "bourse tail: %s\n", tls_error.c_str());
    return 2;
  }
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  const auto addresses = resolver.resolve(e.host, e.port, ec);
  auto fail = [&] {
    std::fprintf(stderr, "bourse tail: %s:%s: %s\n", e.host.c_str(), e.port.c_str(), ec.message().c_str());
    return 2;
  };
  if (e.tls) {
    websocket::stream<TlsStream> ws(ioc, ctx);
    if (!ec) connect_tls(ws.next_layer(), e, addresses, ec);
    if (!ec) ws.handshake(e.host, "/v1/ws", ec);
    return ec ? fail() : tail_messages(ws, channels, max_messages);
  }
  websocket::stream<beast::tcp_stream> ws(ioc);
  if (!ec) beast::get_lowest_layer(ws).connect(addresses, ec);
  if (!ec) ws.handshake(e.host, "/v1/ws", ec);
  return ec ? fail() : tail_messages(ws, channels, max_messages);
}

}  // namespace bourse::app

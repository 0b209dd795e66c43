// HttpServer: HTTP/1.1 with keep-alive on Boost.Beast, N I/O threads, one
// listening port. The only translation unit that includes Beast; the rest
// of the gateway sees HttpRequest/HttpResponse.
//
// Threads: start() runs `io_threads` threads, each with its own io_context;
// connections are spread over them round-robin and each stays on its thread,
// so a handler's Responder may be called from any thread (it posts back, or
// writes inline when called on the connection's own thread). A connection
// handles one request at a time (responses in order).
//
// Limits (HttpServerOptions): header bytes (431), body bytes (413), the time
// to receive a complete request once its first byte arrived (408: slowloris),
// the keep-alive idle time, and the number of open connections (new ones are
// closed at once beyond it). Malformed HTTP gets 400 and the connection closes;
// no input stops the server.
//
// TLS (optional): the first bytes of each connection decide; a ClientHello
// goes through the handshake (within the request timeout), anything else is
// answered 400 TLS_REQUIRED. WebSocket upgrades keep the TLS stream.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "gateway/http_types.h"
#include "gateway/ws_context.h"

namespace bourse::gateway {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (see HttpServer::port())
  int io_threads = 2;
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_body_bytes = 64 * 1024;
  int request_timeout_ms = 10'000;  // from first byte to complete request
  int idle_timeout_ms = 60'000;     // keep-alive connection with no request
  int max_connections = 10'000;
  // Both set: the port speaks TLS 1.2+ only (PEM files; the chain file
  // holds the leaf certificate first). Plain HTTP on it gets 400 TLS_REQUIRED.
  std::string tls_cert_file;
  std::string tls_key_file;
  WsContext* websocket = nullptr;  // non-null: GET /v1/ws upgrades to a WebSocket session
  bool reuse_port = false;         // SO_REUSEPORT: several processes share the port (market-data workers)
};

using RequestHandler = std::function<void(HttpRequest&& request, Responder respond)>;

// Decides on a response to a request the transport itself refuses.
using TransportErrorHandler = std::function<HttpResponse(int status, std::string_view code, std::string_view detail)>;

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, RequestHandler handler, TransportErrorHandler on_error);
  ~HttpServer();

  // Binds and listens; false with *error on failure (port in use, ...).
  bool listen(std::string* error);
  uint16_t port() const;
  bool tls() const;
  void start();
  // Stops accepting, lets in-flight requests finish (up to `drain_ms`),
  // closes idle connections, then stops the I/O threads.
  void shutdown(int drain_ms);

  int open_connections() const;
  uint64_t in_flight() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bourse::gateway

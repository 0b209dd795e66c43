#include "gateway/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bourse/core/clock.h"
#include "bourse/core/log.h"
#include "gateway/ws_session.h"

namespace bourse::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

// Header values are ours, but a CR or LF must never reach the wire (it
// would split the response).
void append_header(std::string* out, std::string_view name, std::string_view value) {
  out->append(name).append(": ");
  for (char c : value) {
    if (c != '\r' && c != '\n') out->push_back(c);
  }
  out->append("\r\n");
}

// HTTP/1.1 response bytes: status line, headers, Content-Length (none for
// 204 and 304), Connection: close when the connection ends, body. Written
// directly rather than through Beast's serializer: one buffer, one write.
void serialize(HttpResponse& response, bool keep_alive, bool head, std::string* out) {
  out->clear();
  const auto status = static_cast<http::status>(response.status);
  out->append("HTTP/1.1 ").append(std::to_string(response.status)).push_back(' ');
  out->append(http::obsolete_reason(status)).append("\r\n");
  if (!response.content_type.empty()) append_header(out, "Content-Type", response.content_type);
  for (const auto& [name, value] : response.headers) append_header(out, name, value);
  if (!keep_alive) out->append("Connection: close\r\n");
  const bool bodiless = response.status == 204 || response.status == 304;
  if (!bodiless) append_header(out, "Content-Length", std::to_string(response.body.size()));
  out->append("\r\n");
  if (!bodiless && !head) out->append(response.body);  // HEAD: the headers a GET would get, no body
}

HeaderList copy_headers(const http::request<http::string_body>& req) {
  HeaderList out;
  out.reserve(16);
  for (const auto& field : req) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.emplace_back(std::move(name), std::string(field.value()));
  }
  return out;
}

}  // namespace

// A connection as shutdown sees it, whatever its transport.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void close_when_idle() = 0;  // any thread
};

class HttpServer::Impl {
 public:
  template <class Stream>
  class Session;
  class TlsDetector;

  Impl(HttpServerOptions options, RequestHandler handler, TransportErrorHandler on_error)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        on_error_(std::move(on_error)),
        contexts_(make_contexts(options_.io_threads)),
        acceptor_(*contexts_[0]) {
    for (auto& c : contexts_) work_.push_back(net::make_work_guard(*c));
  }

  // One io_context per I/O thread: a connection lives on one thread for its
  // whole life, so its handlers need no strand, and threads share no
  // scheduler lock. Other threads (the dispatcher's replies, the hub's
  // messages) post to the connection's context.
  static std::vector<std::unique_ptr<net::io_context>> make_contexts(int n) {
    std::vector<std::unique_ptr<net::io_context>> out;
    for (int i = 0; i < std::max(1, n); ++i) out.push_back(std::make_unique<net::io_context>(1));
    return out;
  }
  net::io_context& next_context() { return *contexts_[next_context_.fetch_add(1) % contexts_.size()]; }

  bool listen(std::string* error);
  bool load_tls(std::string* error);
  void accept();
  void start();
  void shutdown(int drain_ms);

  void add(uint64_t id, const std::shared_ptr<SessionBase>& s) {
    std::lock_guard lock(sessions_mutex_);
    sessions_[id] = s;
  }
  void remove(uint64_t id) {
    std::lock_guard lock(sessions_mutex_);
    sessions_.erase(id);
  }

  HttpServerOptions options_;
  RequestHandler handler_;
  TransportErrorHandler on_error_;
  std::optional<ssl::context> tls_;  // set: every connection must speak TLS
  std::vector<std::thread> threads_;
  std::atomic<int> connections_{0};
  std::atomic<uint64_t> in_flight_{0};
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> next_session_id_{1};
  std::mutex sessions_mutex_;
  std::unordered_map<uint64_t, std::weak_ptr<SessionBase>> sessions_;
  uint16_t port_ = 0;
  std::atomic<std::size_t> next_context_{0};
  // Last, so destroyed first: destroying a context destroys the sessions
  // its pending handlers hold, and they use everything above.
  std::vector<std::unique_ptr<net::io_context>> contexts_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work_;
  tcp::acceptor acceptor_;
};

// One HTTP connection. Stream is PlainStream or TlsStream; with TLS the
// handshake comes first and the close sends close_notify. A plain connection
// on a TLS port (tls_required) gets one 400 TLS_REQUIRED and is closed.
template <class Stream>
class HttpServer::Impl::Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  Session(Impl& server, beast::tcp_stream&& connection, beast::flat_buffer&& buffered, bool tls_required = false)
      : server_(server),
        stream_(make_stream(server, std::move(connection))),
        executor_(stream_.get_executor()),
        buffer_(std::move(buffered)),
        id_(server.next_session_id_.fetch_add(1)),
        tls_required_(tls_required) {
    boost::system::error_code ec;
    const auto endpoint = tcp_layer().socket().remote_endpoint(ec);
    if (!ec) remote_ip_ = endpoint.address().to_string();
    tcp_layer().socket().set_option(tcp::no_delay(true), ec);
  }
  ~Session() override {
    server_.remove(id_);
    server_.connections_.fetch_sub(1);
  }

  void run() {
    server_.add(id_, this->shared_from_this());
    net::dispatch(executor_, [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->handshake();
      } else {
        self->wait_for_request();
      }
    });
  }

  // Shutdown: an idle connection closes now, a busy one after its response.
  void close_when_idle() override {
    net::post(executor_, [self = this->shared_from_this()] {
      self->closing_ = true;
      if (!self->busy_ && !self->handed_off_) self->close();
    });
  }

 private:
  static Stream make_stream(Impl& server, beast::tcp_stream&& connection) {
    if constexpr (kTls) {
      return Stream(std::move(connection), *server.tls_);
    } else {
      return Stream(std::move(connection));
    }
  }

  beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream_); }

  // TLS: the ClientHello the detector already read is in buffer_.
  void handshake() {
    tcp_layer().expires_after(std::chrono::milliseconds(server_.options_.request_timeout_ms));
    stream_.async_handshake(ssl::stream_base::server, buffer_.data(),
                            // `used = 0`: Boost 1.81's constraint on this overload
                            // checks the handler against void(error_code).
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t used = 0) {
                              if (ec) return self->close_transport();
                              self->handshake_done_ = true;
                              self->buffer_.consume(used);
                              self->wait_for_request();
                            });
  }

  // Phase 1: wait (idle timeout) for the first byte of the next request,
  // unless a pipelined request is already buffered.
  void wait_for_request() {
    if (closing_) return close();
    if (buffer_.size() > 0) return read_request();
    tcp_layer().expires_after(std::chrono::milliseconds(server_.options_.idle_timeout_ms));
    reading_ = true;
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->reading_ = false;
                              if (ec) return self->close();
                              self->buffer_.commit(n);
                              self->read_request();
                            });
  }

  // Phase 2: the whole request within the request timeout (slow senders of
  // headers or bodies are cut off here).
  void read_request() {
    head_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.options_.max_header_bytes));
    parser_->body_limit(server_.options_.max_body_bytes);
    tcp_layer().expires_after(std::chrono::milliseconds(server_.options_.request_timeout_ms));
    reading_ = true;
    http::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->reading_ = false;
      self->on_read(ec);
    });
  }

  // A response the transport decides on; the connection closes after it.
  void refuse(int status, const char* code, std::string_view detail) {
    keep_alive_ = false;
    busy_ = true;
    server_.in_flight_.fetch_add(1);
    write(server_.on_error_(status, code, detail));
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof || ec == ssl::error::stream_truncated) {
      return close();
    }
    if (ec) {
      if (ec == http::error::header_limit) {
        return refuse(431, "HEADERS_TOO_LARGE",
                      "request headers exceed " + std::to_string(server_.options_.max_header_bytes) + " bytes");
      }
      if (ec == http::error::body_limit) {
        return refuse(413, "BODY_TOO_LARGE",
                      "request body exceeds " + std::to_string(server_.options_.max_body_bytes) + " bytes");
      }
      return refuse(400, "MALFORMED_REQUEST", "malformed HTTP request: " + ec.message());
    }
    tcp_layer().expires_never();
    head_ = parser_->get().method() == http::verb::head;
    if (tls_required_) {
      return refuse(400, "TLS_REQUIRED", "this port speaks HTTPS only; use https:// (or wss://)");
    }
    http::request<http::string_body> req = parser_->release();
    keep_alive_ = req.keep_alive();
    const std::string_view target(req.target().data(), req.target().size());
    if (target == "/v1/ws" || target.starts_with("/v1/ws?")) {
      WsContext* ws = server_.options_.websocket;
      if (!ws || !beast::websocket::is_upgrade(req)) {
        return refuse(426, "UPGRADE_REQUIRED", "/v1/ws speaks WebSocket only (docs/websocket.md)");
      }
      if (ws->connections.load() >= ws->options.max_connections || server_.draining_.load()) {
        return refuse(503, "OVERLOADED", "no more WebSocket connections are accepted now");
      }
      // The WebSocket session takes the stream (and its TLS state); this
      // HTTP session ends here and must not touch stream_ again.
      handed_off_ = closed_ = true;
      server_.remove(id_);
      return start_ws_session(*ws, std::move(stream_), std::move(req));
    }
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    const std::size_t q = request.target.find('?');
    request.path = request.target.substr(0, q);
    if (q != std::string::npos) request.query = request.target.substr(q + 1);
    request.headers = copy_headers(req);
    request.body = std::move(req.body());
    request.remote_ip = remote_ip_;
    request.received_ns = monotonic_ns();
    busy_ = true;
    server_.in_flight_.fetch_add(1);
    // Answered at once (public reads) on this thread: written inline;
    // answered later from the dispatcher: posted to this connection's thread.
    server_.handler_(std::move(request), [self = this->shared_from_this()](HttpResponse&& response) {
      net::dispatch(self->executor_,
                    [self, response = std::move(response)]() mutable { self->write(std::move(response)); });
    });
  }

  void write(HttpResponse&& response) {
    const bool keep_alive = keep_alive_ && !closing_ && !server_.draining_.load();
    serialize(response, keep_alive, head_, &out_);
    tcp_layer().expires_after(std::chrono::milliseconds(server_.options_.request_timeout_ms));
    net::async_write(stream_, net::buffer(out_),
                     [self = this->shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                       self->busy_ = false;
                       self->server_.in_flight_.fetch_sub(1);
                       if (ec || !keep_alive) return self->close();
                       self->wait_for_request();
                     });
  }

  // Ends the connection: TLS sends close_notify first (bounded by a short
  // timeout: a peer that never answers it costs at most a second), except
  // while a read is pending (an idle keep-alive connection at shutdown):
  // the TLS layer would queue the shutdown behind that read.
  void close() {
    if (closed_) return;
    closed_ = true;
    if constexpr (kTls) {
      if (handshake_done_ && !reading_) {
        tcp_layer().expires_after(std::chrono::seconds(1));
        stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->close_transport(); });
        return;
      }
    }
    close_transport();
  }

  void close_transport() {
    closed_ = true;
    beast::error_code ec;
    tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ec);
    tcp_layer().close();
  }

  Impl& server_;
  Stream stream_;
  typename Stream::executor_type executor_;  // kept: stream_ moves to a WebSocket session on upgrade
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string out_;  // the response being written (one at a time; reused)
  std::string remote_ip_;
  uint64_t id_;
  bool tls_required_ = false;
  bool handshake_done_ = false;
  bool keep_alive_ = true;
  bool busy_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool reading_ = false;     // a read is pending
  bool head_ = false;        // the request being answered is HEAD
  bool handed_off_ = false;  // stream_ now belongs to a WebSocket session
};

// On a TLS port: reads the first bytes (within the request timeout) to tell
// a TLS ClientHello from plain HTTP, then hands the connection and what it
// read to the matching session.
class HttpServer::Impl::TlsDetector : public SessionBase, public std::enable_shared_from_this<TlsDetector> {
 public:
  TlsDetector(Impl& server, tcp::socket&& socket)
      : server_(server), stream_(std::move(socket)), executor_(stream_.get_executor()),
        id_(server.next_session_id_.fetch_add(1)) {}
  ~TlsDetector() override {
    server_.remove(id_);
    if (!handed_off_) server_.connections_.fetch_sub(1);
  }

  void run() {
    server_.add(id_, shared_from_this());
    net::dispatch(executor_, [self = shared_from_this()] {
      self->stream_.expires_after(std::chrono::milliseconds(self->server_.options_.request_timeout_ms));
      beast::async_detect_ssl(self->stream_, self->buffer_,
                              [self](beast::error_code ec, bool is_tls) { self->on_detect(ec, is_tls); });
    });
  }

  // Shutdown before the first bytes arrived: nothing to finish.
  void close_when_idle() override {
    net::post(executor_, [self = shared_from_this()] {
      if (!self->handed_off_) self->stream_.close();
    });
  }

 private:
  void on_detect(beast::error_code ec, bool is_tls) {
    if (ec || handed_off_) return;
    handed_off_ = true;  // the session now owns the connection (and its count)
    if (is_tls) {
      std::make_shared<Session<TlsStream>>(server_, std::move(stream_), std::move(buffer_))->run();
    } else {
      std::make_shared<Session<PlainStream>>(server_, std::move(stream_), std::move(buffer_), /*tls_required=*/true)
          ->run();
    }
  }

  Impl& server_;
  beast::tcp_stream stream_;
  beast::tcp_stream::executor_type executor_;  // kept: stream_ is moved out on hand-off
  beast::flat_buffer buffer_;
  uint64_t id_;
  bool handed_off_ = false;
};

bool HttpServer::Impl::load_tls(std::string* error) {
  if (options_.tls_cert_file.empty() && options_.tls_key_file.empty()) return true;
  if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
    *error = "TLS needs both a certificate chain file and a private key file";
    return false;
  }
  auto openssl_error = [] {
    const unsigned long e = ERR_get_error();
    char text[256] = "unknown error";
    if (e != 0) ERR_error_string_n(e, text, sizeof text);
    ERR_clear_error();
    return std::string(text);
  };
  tls_.emplace(ssl::context::tls_server);
  SSL_CTX* ctx = tls_->native_handle();
  // TLS 1.2 and 1.3 only, no compression (CRIME), no renegotiation.
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1 ||
      SSL_CTX_use_certificate_chain_file(ctx, options_.tls_cert_file.c_str()) != 1) {
    *error = "TLS certificate chain " + options_.tls_cert_file + ": " + openssl_error();
    tls_.reset();
    return false;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, options_.tls_key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    *error = "TLS private key " + options_.tls_key_file + ": " + openssl_error();
    tls_.reset();
    return false;
  }
  return true;
}

bool HttpServer::Impl::listen(std::string* error) {
  if (!load_tls(error)) return false;
  beast::error_code ec;
  const auto address = net::ip::make_address(options_.host, ec);
  if (ec) {
    *error = "bad listen address '" + options_.host + "': " + ec.message();
    return false;
  }
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec && options_.reuse_port) {
    acceptor_.set_option(net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
  }
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = "cannot listen on " + options_.host + ":" + std::to_string(options_.port) + ": " + ec.message();
    return false;
  }
  port_ = acceptor_.local_endpoint().port();
  return true;
}

void HttpServer::Impl::accept() {
  acceptor_.async_accept(next_context(), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      if (connections_.load() >= options_.max_connections || draining_.load()) {
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        connections_.fetch_add(1);
        if (tls_) {
          std::make_shared<TlsDetector>(*this, std::move(socket))->run();
        } else {
          std::make_shared<Session<PlainStream>>(*this, beast::tcp_stream(std::move(socket)), beast::flat_buffer())
              ->run();
        }
      }
    } else if (ec == net::error::no_descriptors) {
      // Out of file descriptors: back off instead of spinning on accept.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    accept();
  });
}

void HttpServer::Impl::start() {
  accept();
  for (auto& c : contexts_) {
    threads_.emplace_back([context = c.get()] { context->run(); });
  }
}

void HttpServer::Impl::shutdown(int drain_ms) {
  if (threads_.empty()) return;
  draining_.store(true);
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
  std::vector<std::shared_ptr<SessionBase>> sessions;
  {
    std::lock_guard lock(sessions_mutex_);
    for (auto& [id, weak] : sessions_) {
      if (auto s = weak.lock()) sessions.push_back(std::move(s));
    }
  }
  for (auto& s : sessions) s->close_when_idle();
  sessions.clear();
  if (options_.websocket) options_.websocket->close_all();
  const int64_t deadline = monotonic_ns() + static_cast<int64_t>(drain_ms) * 1'000'000;
  auto ws_open = [this] { return options_.websocket ? options_.websocket->connections.load() : 0; };
  while ((in_flight_.load() != 0 || connections_.load() != 0 || ws_open() != 0) && monotonic_ns() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (in_flight_.load() != 0) {
    log_line(LogLevel::kWarn, "http", "shutdown: %llu requests still in flight after %d ms",
             static_cast<unsigned long long>(in_flight_.load()), drain_ms);
  }
  work_.clear();
  for (auto& c : contexts_) c->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

HttpServer::HttpServer(HttpServerOptions options, RequestHandler handler, TransportErrorHandler on_error)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(on_error))) {}
HttpServer::~HttpServer() { impl_->shutdown(0); }
bool HttpServer::listen(std::string* error) { return impl_->listen(error); }
uint16_t HttpServer::port() const { return impl_->port_; }
bool HttpServer::tls() const { return impl_->tls_.has_value(); }
void HttpServer::start() { impl_->start(); }
void HttpServer::shutdown(int drain_ms) { impl_->shutdown(drain_ms); }
int HttpServer::open_connections() const { return impl_->connections_.load(); }
uint64_t HttpServer::in_flight() const { return impl_->in_flight_.load(); }

}  // namespace bourse::gateway

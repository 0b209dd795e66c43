#include "gateway/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

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
using tcp = net::ip::tcp;

namespace {

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

class HttpServer::Impl {
 public:
  class Session;

  Impl(HttpServerOptions options, RequestHandler handler, TransportErrorHandler on_error)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        on_error_(std::move(on_error)),
        ioc_(options_.io_threads),
        acceptor_(net::make_strand(ioc_)) {}

  bool listen(std::string* error);
  void accept();
  void start();
  void shutdown(int drain_ms);

  void add(uint64_t id, const std::shared_ptr<Session>& s) {
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
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::atomic<int> connections_{0};
  std::atomic<uint64_t> in_flight_{0};
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> next_session_id_{1};
  std::mutex sessions_mutex_;
  std::unordered_map<uint64_t, std::weak_ptr<Session>> sessions_;
  uint16_t port_ = 0;
};

class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& server, tcp::socket&& socket)
      : server_(server), stream_(std::move(socket)), id_(server.next_session_id_.fetch_add(1)) {
    boost::system::error_code ec;
    const auto endpoint = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ip_ = endpoint.address().to_string();
    stream_.socket().set_option(tcp::no_delay(true), ec);
  }
  ~Session() {
    server_.remove(id_);
    server_.connections_.fetch_sub(1);
  }

  void run() {
    server_.add(id_, shared_from_this());
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->wait_for_request(); });
  }

  // Shutdown: an idle connection closes now, a busy one after its response.
  void close_when_idle() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->closing_ = true;
      if (!self->busy_) self->close();
    });
  }

 private:
  // Phase 1: wait (idle timeout) for the first byte of the next request,
  // unless a pipelined request is already buffered.
  void wait_for_request() {
    if (closing_) return close();
    if (buffer_.size() > 0) return read_request();
    stream_.expires_after(std::chrono::milliseconds(server_.options_.idle_timeout_ms));
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec) return self->close();
      self->buffer_.commit(n);
      self->read_request();
    });
  }

  // Phase 2: the whole request within the request timeout (slow senders of
  // headers or bodies are cut off here).
  void read_request() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.options_.max_header_bytes));
    parser_->body_limit(server_.options_.max_body_bytes);
    stream_.expires_after(std::chrono::milliseconds(server_.options_.request_timeout_ms));
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof) {
      return close();
    }
    if (ec) {
      int status = 400;
      const char* code = "MALFORMED_REQUEST";
      std::string detail = "malformed HTTP request: " + ec.message();
      if (ec == http::error::header_limit) {
        status = 431;
        code = "HEADERS_TOO_LARGE";
        detail = "request headers exceed " + std::to_string(server_.options_.max_header_bytes) + " bytes";
      } else if (ec == http::error::body_limit) {
        status = 413;
        code = "BODY_TOO_LARGE";
        detail = "request body exceeds " + std::to_string(server_.options_.max_body_bytes) + " bytes";
      }
      keep_alive_ = false;
      busy_ = true;
      server_.in_flight_.fetch_add(1);
      return write(server_.on_error_(status, code, detail));
    }
    stream_.expires_never();
    http::request<http::string_body> req = parser_->release();
    keep_alive_ = req.keep_alive();
    const std::string_view target(req.target().data(), req.target().size());
    if (target == "/v1/ws" || target.starts_with("/v1/ws?")) {
      WsContext* ws = server_.options_.websocket;
      if (!ws || !beast::websocket::is_upgrade(req)) {
        keep_alive_ = false;
        busy_ = true;
        server_.in_flight_.fetch_add(1);
        return write(server_.on_error_(426, "UPGRADE_REQUIRED", "/v1/ws speaks WebSocket only (docs/websocket.md)"));
      }
      if (ws->connections.load() >= ws->options.max_connections || server_.draining_.load()) {
        keep_alive_ = false;
        busy_ = true;
        server_.in_flight_.fetch_add(1);
        return write(server_.on_error_(503, "OVERLOADED", "no more WebSocket connections are accepted now"));
      }
      // The WebSocket session takes the socket; this HTTP session ends here.
      return start_ws_session(*ws, stream_.release_socket(), std::move(req));
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
    server_.handler_(std::move(request), [self = shared_from_this()](HttpResponse&& response) {
      net::post(self->stream_.get_executor(),
                [self, response = std::move(response)]() mutable { self->write(std::move(response)); });
    });
  }

  void write(HttpResponse&& response) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(response.status));
    if (!response.content_type.empty()) res->set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) res->set(name, value);
    const bool keep_alive = keep_alive_ && !closing_ && !server_.draining_.load();
    res->keep_alive(keep_alive);
    res->body() = std::move(response.body);
    res->prepare_payload();
    stream_.expires_after(std::chrono::milliseconds(server_.options_.request_timeout_ms));
    http::async_write(stream_, *res, [self = shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
      self->busy_ = false;
      self->server_.in_flight_.fetch_sub(1);
      if (ec || !keep_alive) return self->close();
      self->wait_for_request();
    });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  Impl& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_ip_;
  uint64_t id_;
  bool keep_alive_ = true;
  bool busy_ = false;
  bool closing_ = false;
};

bool HttpServer::Impl::listen(std::string* error) {
  beast::error_code ec;
  const auto address = net::ip::make_address(options_.host, ec);
  if (ec) {
    *error = "bad listen address '" + options_.host + "': " + ec.message();
    return false;
  }
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
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
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      if (connections_.load() >= options_.max_connections || draining_.load()) {
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        connections_.fetch_add(1);
        std::make_shared<Session>(*this, std::move(socket))->run();
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
  for (int i = 0; i < options_.io_threads; ++i) {
    threads_.emplace_back([this] { ioc_.run(); });
  }
}

void HttpServer::Impl::shutdown(int drain_ms) {
  if (threads_.empty()) return;
  draining_.store(true);
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
  std::vector<std::shared_ptr<Session>> sessions;
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
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

HttpServer::HttpServer(HttpServerOptions options, RequestHandler handler, TransportErrorHandler on_error)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(on_error))) {}
HttpServer::~HttpServer() { impl_->shutdown(0); }
bool HttpServer::listen(std::string* error) { return impl_->listen(error); }
uint16_t HttpServer::port() const { return impl_->port_; }
void HttpServer::start() { impl_->start(); }
void HttpServer::shutdown(int drain_ms) { impl_->shutdown(drain_ms); }
int HttpServer::open_connections() const { return impl_->connections_.load(); }
uint64_t HttpServer::in_flight() const { return impl_->in_flight_.load(); }

}  // namespace bourse::gateway

#include "gateway/ws_session.h"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <simdjson.h>

#include <deque>
#include <set>

#include "auth/auth_service.h"
#include "bourse/sequencer/engine_service.h"
#include "gateway/json_writer.h"
#include "gateway/render.h"
#include "gateway/rest_api.h"
#include "gateway/ws_hub.h"
#include "gateway/ws_publisher.h"
#include "marketdata/market_view.h"

namespace bourse::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

SharedMessage make_message(std::string&& s) { return std::make_shared<const std::string>(std::move(s)); }

// {"id":…,"op":…,"error":{"status","code","detail"}}
std::string error_message(std::string_view id, std::string_view op, int status, std::string_view code,
                          std::string_view detail) {
  std::string out;
  JsonWriter w(&out);
  w.begin_object();
  if (!id.empty()) w.field("id", id);
  if (!op.empty()) w.field("op", op);
  w.key("error").begin_object().field("status", status).field("code", code).field("detail", detail).end_object();
  w.end_object();
  return out;
}

// NextLayer: beast::tcp_stream, or an ssl_stream over one (wss://).
template <class NextLayer>
class WsSession final : public WsSubscriber,
                        public WsClosable,
                        public std::enable_shared_from_this<WsSession<NextLayer>> {
 public:
  WsSession(WsContext& context, NextLayer&& stream)
      : context_(context), ws_(std::move(stream)), id_(context.next_id.fetch_add(1)) {
    beast::error_code ec;
    const auto endpoint = beast::get_lowest_layer(ws_).socket().remote_endpoint(ec);
    if (!ec) remote_ip_ = endpoint.address().to_string();
  }

  ~WsSession() override {
    {
      std::lock_guard lock(context_.sessions_mutex);
      context_.sessions.erase(id_);
    }
    context_.connections.fetch_sub(1);
  }

  void run(http::request<http::string_body>&& request) {
    {
      std::lock_guard lock(context_.sessions_mutex);
      context_.sessions[id_] = this->weak_from_this();
    }
    context_.connections.fetch_add(1);
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::seconds(10);
    timeout.idle_timeout = std::chrono::milliseconds(context_.options.idle_timeout_ms);
    timeout.keep_alive_pings = true;  // a ping at half the idle time; a live client's pong keeps it open
    ws_.set_option(timeout);
    ws_.read_message_max(context_.options.max_message_bytes);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "bourse"); }));
    upgrade_ = std::move(request);
    ws_.async_accept(upgrade_, [self = this->shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  bool deliver(const SharedMessage& message) override {
    bool start = false;
    {
      std::lock_guard lock(queue_mutex_);
      if (closing_) return false;
      if (queue_.size() >= context_.options.max_queued_messages) {
        closing_ = true;
        queue_.clear();
        net::post(ws_.get_executor(), [self = this->shared_from_this()] {
          self->close(websocket::close_code::policy_error, "slow consumer: send queue full");
        });
        return false;
      }
      queue_.push_back(message);
      if (!writing_) writing_ = start = true;
    }
    if (start) net::post(ws_.get_executor(), [self = this->shared_from_this()] { self->write_next(); });
    return true;
  }

  void close_going_away() override {
    net::post(ws_.get_executor(), [self = this->shared_from_this()] {
      self->close(websocket::close_code::going_away, "server shutting down");
    });
  }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) return;
    // Credentials on the upgrade request itself (clients that can set headers):
    // a signed request or a bearer token.
    const bool signed_upgrade = upgrade_.find("bourse-api-key") != upgrade_.end();
    const bool bearer_upgrade = upgrade_.find(http::field::authorization) != upgrade_.end() &&
                                upgrade_[http::field::authorization].starts_with("Bearer ");
    if (signed_upgrade || bearer_upgrade) {
      const std::string key(upgrade_["bourse-api-key"]), ts(upgrade_["bourse-timestamp"]),
          sig(upgrade_["bourse-signature"]), authorization(upgrade_[http::field::authorization]);
      const std::string target(upgrade_.target());
      auth::SignedRequest r;
      r.method = "GET";
      r.target = target;
      if (signed_upgrade) {
        r.key_id = &key;
        r.timestamp = &ts;
        r.signature = &sig;
      } else {
        r.authorization = &authorization;
      }
      login(r, "");
      if (!principal_) {
        return close(websocket::close_code::policy_error, "UNAUTHENTICATED: bad credentials on the upgrade request");
      }
    }
    upgrade_ = {};
    read();
  }

  void read() {
    ws_.async_read(buffer_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) return finish();
    const std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    handle(text);
    read();
  }

  void send(std::string&& text) { deliver(make_message(std::move(text))); }

  void handle(const std::string& text) {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::object msg;
    if (parser.parse(text).get_object().get(msg) != simdjson::SUCCESS) {
      return send(error_message("", "", 400, "MALFORMED_JSON", "messages are JSON objects (docs/websocket.md)"));
    }
    std::string_view op_view, id_view;
    if (msg["op"].get_string().get(op_view) != simdjson::SUCCESS) {
      return send(error_message("", "", 400, "MISSING_FIELD", "'op' is required"));
    }
    if (msg["id"].error() == simdjson::SUCCESS && msg["id"].get_string().get(id_view) != simdjson::SUCCESS) {
      return send(error_message("", op_view, 400, "INVALID_FIELD", "'id' must be a string"));
    }
    const std::string op(op_view), id(id_view);
    if (id.size() > 64) return send(error_message("", op, 400, "INVALID_FIELD", "'id' is at most 64 characters"));
    if (op == "ping") {
      std::string out;
      JsonWriter(&out).begin_object().field("id", id).field("op", "pong").end_object();
      return send(std::move(out));
    }
    if (op == "login") return on_login(msg, id);
    if (op == "subscribe" || op == "unsubscribe") return on_subscribe(msg, id, op == "subscribe");
    if (op == "cancel_on_disconnect") return on_cancel_on_disconnect(msg, id);
    if (op == "place" || op == "amend" || op == "cancel" || op == "cancel_all") return on_order(msg, id, op);
    send(error_message(id, op, 400, "UNKNOWN_OP", "op: ping, login, subscribe, unsubscribe, place, amend, cancel, "
                                                   "cancel_all, cancel_on_disconnect"));
  }

  // Verifies a signed login (payload: "<timestamp>\nGET\n<target>\n") or a
  // bearer token. A first external token creates its local user here (one
  // store write on this I/O thread, once per identity).
  void login(auth::SignedRequest& r, const std::string& id) {
    r.remote_ip = remote_ip_;
    const auth::AuthOutcome outcome = context_.auth->authenticate(r);
    if (!outcome.ok) return send(error_message(id, "login", outcome.status, outcome.code, outcome.detail));
    principal_ = outcome.principal;
    std::string out;
    JsonWriter w(&out);
    w.begin_object().field("id", id).field("op", "login").key("result").begin_object()
        .field("user_id", principal_->user_id).field("username", principal_->username)
        .field("scopes", auth::scopes_text(principal_->scopes)).end_object().end_object();
    send(std::move(out));
  }

  void on_login(simdjson::dom::object msg, const std::string& id) {
    simdjson::dom::object args;
    std::string_view key, ts, sig, window, token;
    if (msg["args"].get_object().get(args) != simdjson::SUCCESS) {
      return send(error_message(id, "login", 400, "MISSING_FIELD", "args: {token} or {key, timestamp, signature}"));
    }
    const bool with_token = args["token"].get_string().get(token) == simdjson::SUCCESS;
    if (!with_token && (args["key"].get_string().get(key) || args["timestamp"].get_string().get(ts) ||
                        args["signature"].get_string().get(sig))) {
      return send(error_message(id, "login", 400, "MISSING_FIELD", "args: {token} or {key, timestamp, signature} (strings)"));
    }
    if (principal_) return send(error_message(id, "login", 409, "ALREADY_LOGGED_IN", "this connection is logged in"));
    const bool has_window = args["window"].get_string().get(window) == simdjson::SUCCESS;
    const std::string key_text(key), ts_text(ts), sig_text(sig), window_text(window);
    const std::string bearer = "Bearer " + std::string(token);
    auth::SignedRequest r;
    r.method = "GET";
    r.target = "/v1/ws";
    if (with_token) {
      r.authorization = &bearer;
    } else {
      r.key_id = &key_text;
      r.timestamp = &ts_text;
      r.signature = &sig_text;
      r.window = has_window ? &window_text : nullptr;
    }
    login(r, id);
  }

  // "trades.BTC-USD", "book.BTC-USD", "ticker.BTC-USD", "candles.1m.BTC-USD", or private
  // "orders", "fills", "balances".
  std::optional<std::string> hub_channel(const std::string& name, std::string* error_code, std::string* detail) {
    if (name == "orders" || name == "fills" || name == "balances") {
      if (!principal_) {
        *error_code = "UNAUTHENTICATED";
        *detail = "log in before subscribing to '" + name + "'";
        return std::nullopt;
      }
      if (!(principal_->scopes & auth::kScopeRead)) {
        *error_code = "FORBIDDEN";
        *detail = "the read scope is required";
        return std::nullopt;
      }
      return private_channel(name, AccountId{principal_->user_id});
    }
    const std::size_t dot = name.find('.');
    const std::string kind = name.substr(0, dot);
    if (dot != std::string::npos && (kind == "trades" || kind == "book" || kind == "ticker") &&
        context_.market->instrument(std::string_view(name).substr(dot + 1))) {
      return name;
    }
    if (kind == "candles" && dot != std::string::npos) {
      const std::size_t second = name.find('.', dot + 1);
      if (second != std::string::npos && marketdata::parse_interval(name.substr(dot + 1, second - dot - 1)) &&
          context_.market->instrument(std::string_view(name).substr(second + 1))) {
        return name;
      }
    }
    *error_code = "UNKNOWN_CHANNEL";
    *detail = "no channel '" + name + "'";
    return std::nullopt;
  }

  void on_subscribe(simdjson::dom::object msg, const std::string& id, bool subscribe) {
    const char* op = subscribe ? "subscribe" : "unsubscribe";
    simdjson::dom::array list;
    if (msg["channels"].get_array().get(list) != simdjson::SUCCESS || list.size() == 0 || list.size() > 100) {
      return send(error_message(id, op, 400, "INVALID_FIELD", "'channels': an array of 1..100 channel names"));
    }
    std::vector<std::string> names;
    for (auto item : list) {
      std::string_view name;
      if (item.get_string().get(name) != simdjson::SUCCESS || name.size() > 64) {
        return send(error_message(id, op, 400, "INVALID_FIELD", "channel names are strings"));
      }
      names.emplace_back(name);
    }
    // Validate all first: a request either applies entirely or not at all.
    std::vector<std::string> resolved;
    for (const std::string& name : names) {
      std::string code, detail;
      auto channel = hub_channel(name, &code, &detail);
      if (!channel) return send(error_message(id, op, code == "UNKNOWN_CHANNEL" ? 404 : 403, code, detail));
      resolved.push_back(*channel);
    }
    if (subscribe) {
      std::set<std::string> after(subscribed_.begin(), subscribed_.end());
      after.insert(resolved.begin(), resolved.end());
      if (after.size() > context_.options.max_subscriptions) {
        return send(error_message(id, op, 400, "TOO_MANY_SUBSCRIPTIONS",
                                  "at most " + std::to_string(context_.options.max_subscriptions) + " channels per connection"));
      }
    }
    std::string out;
    JsonWriter w(&out);
    w.begin_object().field("id", id).field("op", op).key("result").begin_array();
    for (const std::string& n : names) w.value(n);
    w.end_array().end_object();
    send(std::move(out));
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (!subscribe) {
        context_.hub->unsubscribe(resolved[i], this);
        subscribed_.erase(resolved[i]);
        continue;
      }
      if (!subscribed_.insert(resolved[i]).second) continue;
      context_.hub->subscribe(resolved[i], this->shared_from_this());
      // After subscribing, the snapshot: diffs with a sequence at or below
      // the snapshot's are already in it (docs/websocket.md).
      if (names[i].rfind("book.", 0) == 0) send_book_snapshot(names[i]);
    }
  }

  void send_book_snapshot(const std::string& channel) {
    const auto info = context_.market->instrument(std::string_view(channel).substr(5));
    marketdata::BookSnapshot book;
    if (!info || !context_.market->book(info->spec.id, 0, &book)) return;
    std::string out;
    JsonWriter w(&out);
    w.begin_object().field("channel", channel).field("type", "snapshot").field("sequence", book.sequence);
    auto levels = [&](const std::vector<marketdata::BookLevel>& side) {
      w.begin_array();
      for (const auto& l : side) w.begin_array().value(price_text(*info, l.price)).value(qty_text(*info, l.qty)).value(l.orders).end_array();
      w.end_array();
    };
    w.key("bids");
    levels(book.bids);
    w.key("asks");
    levels(book.asks);
    w.end_object();
    send(std::move(out));
  }

  void on_cancel_on_disconnect(simdjson::dom::object msg, const std::string& id) {
    if (!principal_ || !(principal_->scopes & auth::kScopeTrade)) {
      return send(error_message(id, "cancel_on_disconnect", 403, "FORBIDDEN", "log in with the trade scope first"));
    }
    bool enabled = false;
    if (msg["enabled"].get_bool().get(enabled) != simdjson::SUCCESS) {
      return send(error_message(id, "cancel_on_disconnect", 400, "MISSING_FIELD", "'enabled': true or false"));
    }
    cancel_on_disconnect_ = enabled;
    std::string out;
    JsonWriter(&out).begin_object().field("id", id).field("op", "cancel_on_disconnect").key("result")
        .begin_object().field("enabled", enabled).end_object().end_object();
    send(std::move(out));
  }

  // Order entry reuses the REST handlers: the same validation, rules,
  // rate limits and answers; the reply carries the request id.
  void on_order(simdjson::dom::object msg, const std::string& id, const std::string& op) {
    if (!principal_) return send(error_message(id, op, 401, "UNAUTHENTICATED", "log in first"));
    std::string method, target, body;
    simdjson::dom::object args;
    const bool has_args = msg["args"].get_object().get(args) == simdjson::SUCCESS;
    auto order_id = [&]() -> std::string {
      uint64_t v = 0;
      if (has_args && args["order_id"].get_uint64().get(v) == simdjson::SUCCESS) return std::to_string(v);
      return "0";
    };
    if (op == "place") {
      if (!has_args) return send(error_message(id, op, 400, "MISSING_FIELD", "'args': the order, as in POST /v1/orders"));
      method = "POST", target = "/v1/orders", body = simdjson::minify(args);
    } else if (op == "amend") {
      if (!has_args) return send(error_message(id, op, 400, "MISSING_FIELD", "'args': order_id and the changes"));
      std::string changes;
      JsonWriter w(&changes);
      w.begin_object();
      for (auto field : args) {
        if (field.key == "order_id") continue;
        w.key(field.key).raw(simdjson::minify(field.value));
      }
      w.end_object();
      method = "PATCH", target = "/v1/orders/" + order_id(), body = std::move(changes);
    } else if (op == "cancel") {
      method = "DELETE", target = "/v1/orders/" + order_id();
    } else {
      std::string_view symbol;
      method = "DELETE", target = "/v1/orders";
      if (has_args && args["symbol"].get_string().get(symbol) == simdjson::SUCCESS) target += "?symbol=" + std::string(symbol);
    }
    auto self = this->shared_from_this();
    context_.api->execute_as(*principal_, method, target, std::move(body), remote_ip_,
                             [self, id, op](HttpResponse&& r) {
                               std::string out;
                               JsonWriter w(&out);
                               w.begin_object().field("id", id).field("op", op).field("status", r.status);
                               w.key(r.status < 300 ? "result" : "error").raw(r.body.empty() ? "null" : r.body);
                               w.end_object();
                               self->send(std::move(out));
                             });
  }

  void write_next() {
    SharedMessage next;
    {
      std::lock_guard lock(queue_mutex_);
      if (queue_.empty() || closed_) {
        writing_ = false;
        return;
      }
      next = queue_.front();
      queue_.pop_front();
    }
    ws_.text(true);
    ws_.async_write(net::buffer(*next), [self = this->shared_from_this(), next](beast::error_code ec, std::size_t) {
      if (ec) return self->finish();
      self->write_next();
    });
  }

  void close(websocket::close_code code, const char* reason) {
    if (closed_) return;
    closed_ = true;
    {
      std::lock_guard lock(queue_mutex_);
      closing_ = true;
    }
    websocket::close_reason why(code, reason);
    ws_.async_close(why, [self = this->shared_from_this()](beast::error_code) { self->finish(); });
  }

  // The connection is over (closed by either side, or failed).
  void finish() {
    if (finished_) return;
    finished_ = true;
    {
      std::lock_guard lock(queue_mutex_);
      closing_ = true;
      queue_.clear();
    }
    context_.hub->unsubscribe_all(this, std::vector<std::string>(subscribed_.begin(), subscribed_.end()));
    subscribed_.clear();
    if (cancel_on_disconnect_ && principal_) {
      // Opt-in: this session's account loses its open orders with the connection.
      CancelAll c{};
      c.account = AccountId{principal_->user_id};
      context_.engine->submit(Command::cancel_all(c), nullptr);
    }
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  WsContext& context_;
  websocket::stream<NextLayer> ws_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> upgrade_;
  uint64_t id_;
  std::string remote_ip_;
  std::optional<auth::Principal> principal_;   // connection thread only
  std::set<std::string> subscribed_;            // connection thread only
  bool cancel_on_disconnect_ = false;           // connection thread only
  bool closed_ = false;                         // connection thread only: a close was started
  bool finished_ = false;                       // connection thread only

  std::mutex queue_mutex_;
  std::deque<SharedMessage> queue_;
  bool writing_ = false;
  bool closing_ = false;
};

}  // namespace

void start_ws_session(WsContext& context, beast::tcp_stream&& stream, http::request<http::string_body>&& request) {
  std::make_shared<WsSession<beast::tcp_stream>>(context, std::move(stream))->run(std::move(request));
}

void start_ws_session(WsContext& context, beast::ssl_stream<beast::tcp_stream>&& stream,
                      http::request<http::string_body>&& request) {
  std::make_shared<WsSession<beast::ssl_stream<beast::tcp_stream>>>(context, std::move(stream))
      ->run(std::move(request));
}

}  // namespace bourse::gateway

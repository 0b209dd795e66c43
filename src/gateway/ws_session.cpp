#include "gateway/ws_session.h"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <simdjson.h>

#include <map>
#include <set>

#include "auth/auth_service.h"
#include "bourse/sequencer/engine_service.h"
#include "gateway/json_writer.h"
#include "gateway/render.h"
#include "gateway/rest_api.h"
#include "gateway/ws_channels.h"
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

// The TCP socket under a WebSocket stream: a plain tcp::socket (plain
// connections: no beast::tcp_stream timers or rate policy on every write)
// or the one inside an ssl_stream's tcp_stream.
template <class Stream>
tcp::socket& socket_of(Stream& ws) {
  auto& lowest = beast::get_lowest_layer(ws);
  if constexpr (requires { lowest.socket(); }) {
    return lowest.socket();
  } else {
    return lowest;
  }
}

// A session's write side as the scheduler sees it.
class WsWriter {
 public:
  virtual ~WsWriter() = default;
  virtual void write_next() = 0;
};

// One per io_context: sessions of that thread whose queue went from empty to
// non-empty wait here, and one posted task starts all their writes. A
// publish to 10,000 connections costs one post per I/O thread, not 10,000.
class WriteScheduler final : public net::execution_context::service {
 public:
  using key_type = WriteScheduler;
  static inline net::execution_context::id id;
  explicit WriteScheduler(net::execution_context& context) : service(context) {}

  void schedule(std::shared_ptr<WsWriter> writer, const net::any_io_executor& executor) {
    bool post = false;
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      ready_.push_back(std::move(writer));
      post = !posted_;
      posted_ = true;
    }
    if (post) net::post(executor, [this] { drain(); });
  }

 private:
  void drain() {
    std::vector<std::shared_ptr<WsWriter>> ready;
    {
      std::lock_guard lock(mutex_);
      ready.swap(ready_);
      posted_ = false;
    }
    for (const auto& w : ready) w->write_next();
  }
  void shutdown() override {
    std::vector<std::shared_ptr<WsWriter>> dropped;  // sessions die outside the lock (their destructor takes the hub's)
    std::lock_guard lock(mutex_);
    stopped_ = true;
    dropped.swap(ready_);
  }

  std::mutex mutex_;
  std::vector<std::shared_ptr<WsWriter>> ready_;
  bool posted_ = false;
  bool stopped_ = false;
};

// NextLayer: beast::tcp_stream, or an ssl_stream over one (wss://).
template <class NextLayer>
class WsSession final : public WsSubscriber,
                        public WsClosable,
                        public WsWriter,
                        public std::enable_shared_from_this<WsSession<NextLayer>> {
 public:
  WsSession(WsContext& context, NextLayer&& stream)
      : context_(context),
        ws_(std::move(stream)),
        scheduler_(&net::use_service<WriteScheduler>(net::query(ws_.get_executor(), net::execution::context))),
        id_(context.next_id.fetch_add(1)) {
    beast::error_code ec;
    const auto endpoint = socket_of(ws_).remote_endpoint(ec);
    if (!ec) remote_ip_ = endpoint.address().to_string();
  }

  ~WsSession() override {
    // The hub holds plain pointers: leave it before anything else goes (an
    // io_context stopped at shutdown destroys sessions without finish()).
    context_.hub->unsubscribe_all(this, std::vector<std::string>(subscribed_.begin(), subscribed_.end()));
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
    if constexpr (requires { beast::get_lowest_layer(ws_).expires_never(); }) beast::get_lowest_layer(ws_).expires_never();
    if (context_.options.send_buffer_bytes > 0) {
      // Bounds the kernel memory each connection may hold, and makes a slow
      // client's backlog show up in our queue (where it is conflated).
      beast::error_code ignored;
      socket_of(ws_).set_option(
          net::socket_base::send_buffer_size(context_.options.send_buffer_bytes), ignored);
    }
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::seconds(10);
    timeout.idle_timeout = std::chrono::milliseconds(context_.options.idle_timeout_ms);
    timeout.keep_alive_pings = true;  // a ping at half the idle time; a live client's pong keeps it open
    ws_.set_option(timeout);
    ws_.read_message_max(context_.options.max_message_bytes);
    // Frames are written whole and unmasked: Beast's write buffer would only
    // cost memory on every idle connection.
    ws_.auto_fragment(false);
    ws_.write_buffer_bytes(256);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "bourse"); }));
    upgrade_ = std::move(request);
    ws_.async_accept(upgrade_, [self = this->shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  // Under the hub's lock (any thread): queue per the channel's delivery rule.
  bool deliver(const WsChannelInfo& channel, uint64_t /*seq*/, uint64_t key, const SharedMessage& message) override {
    std::lock_guard lock(queue_mutex_);
    if (closing_) return false;
    if (channel.delivery == Delivery::kLatest) {
      if (!queue_latest_locked(key, message)) return false;
    } else if (channel.delivery == Delivery::kBook) {
      for (const std::string& stale : stale_books_) {
        if (stale == channel.name) return false;  // a fresh snapshot is already on its way
      }
      if (queue_.size() >= context_.options.conflate_after_messages) {
        // Behind: stop queueing diffs; one fresh snapshot comes instead (the
        // writer renders it, or in a worker the main process sends it).
        stale_books_.push_back(channel.name);
        if (context_.upstream) {
          const uint64_t request = context_.upstream->new_request();
          if (auto it = relay_wanted_.find(channel.name); it != relay_wanted_.end()) it->second.request = request;
          context_.upstream->refresh(this->weak_from_this(), channel, request);
          return false;
        }
        queue_.push_back(Pending{nullptr, 0, PendingKind::kBookSnapshot, channel.name});
      } else {
        if (!admit()) return false;
        queue_.push_back(Pending{message, 0, PendingKind::kMessage, {}});
      }
    } else {
      if (!admit()) return false;
      queue_.push_back(Pending{message, 0, PendingKind::kMessage, {}});
    }
    if (writing_ || start_pending_) return false;
    start_pending_ = true;
    return true;
  }

  void start() override {
    std::lock_guard lock(queue_mutex_);
    start_pending_ = false;
    start_writing();
  }

  // A worker's subscriptions, completed by the main process (WsUpstream).
  // Each callback first releases the subscribe reply of the request's
  // operation: the reply precedes every snapshot, replay and live message
  // of its channels, as on the API port.
  bool relay_pending(std::string_view channel, uint64_t request) override {
    std::lock_guard lock(queue_mutex_);
    flush_replies_locked(request);
    auto it = relay_wanted_.find(channel);
    return !closing_ && it != relay_wanted_.end() && it->second.request == request;
  }
  void relay_snapshot(const WsChannelInfo& channel, uint64_t request, uint64_t key,
                      const SharedMessage& message) override {
    std::lock_guard lock(queue_mutex_);
    flush_replies_locked(request);
    auto it = relay_wanted_.find(channel.name);
    if (closing_ || it == relay_wanted_.end() || it->second.request != request) return;
    if (channel.delivery == Delivery::kLatest) {
      if (queue_latest_locked(key, message)) start_writing();
      return;
    }
    if (channel.delivery == Delivery::kBook) std::erase(stale_books_, channel.name);  // diffs flow again after it
    enqueue_locked(message);
  }
  bool relay_attached(std::string_view channel, uint64_t request) override {
    // Only the newest attempt registers: an answer to an attempt that an
    // unsubscribe and a new subscribe replaced must not start the new one
    // before its own snapshot. A slow consumer's refresh (a newer attempt
    // on a registered channel) only brings its snapshot.
    std::lock_guard lock(queue_mutex_);
    flush_replies_locked(request);
    auto it = relay_wanted_.find(channel);
    if (closing_ || it == relay_wanted_.end() || it->second.request != request || it->second.registered) return false;
    it->second.registered = true;
    return true;
  }
  // queue_mutex_ held: the replies of operations whose requests start at or before `request`.
  void flush_replies_locked(uint64_t request) {
    while (!replies_waiting_.empty() && replies_waiting_.front().first <= request) {
      enqueue_locked(replies_waiting_.front().second);
      replies_waiting_.erase(replies_waiting_.begin());
    }
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
    if ((signed_upgrade || bearer_upgrade) && !context_.auth) {
      return close(websocket::close_code::policy_error, "MARKET_DATA_ONLY: log in on the API port");
    }
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
    buffer_.shrink_to_fit();  // client messages are rare: an idle connection holds no read buffer
    handle(text);
    read();
  }

  // Replies and snapshots: always delivered, in order.
  void send(std::string&& text) { send(make_message(std::move(text))); }
  void send(const SharedMessage& message) {
    std::lock_guard lock(queue_mutex_);
    enqueue_locked(message);
  }
  void enqueue_locked(const SharedMessage& message) {
    if (closing_ || !admit()) return;
    queue_.push_back(Pending{message, 0, PendingKind::kMessage, {}});
    start_writing();
  }

  // queue_mutex_ held: a state message. An older state still waiting for the
  // same key gives way to it (false: nothing new was queued).
  bool queue_latest_locked(uint64_t key, const SharedMessage& message) {
    for (auto& [slot_key, waiting] : latest_) {
      if (slot_key == key) {
        waiting = message;
        return false;
      }
    }
    if (!admit()) return false;
    latest_.emplace_back(key, message);
    queue_.push_back(Pending{nullptr, key, PendingKind::kLatest, {}});
    return true;
  }

  // queue_mutex_ held. Past the hard limit the connection closes as a slow
  // consumer (1008) and its queue is dropped.
  bool admit() {
    if (queue_.size() < context_.options.max_queued_messages) return true;
    closing_ = true;
    queue_.clear();
    latest_.clear();
    net::post(ws_.get_executor(), [weak = this->weak_from_this()] {
      if (auto self = weak.lock()) self->close(websocket::close_code::policy_error, "slow consumer: send queue full");
    });
    return false;
  }

  // queue_mutex_ held: the first message after idle starts a write.
  void start_writing() {
    if (writing_) return;
    auto self = this->weak_from_this().lock();
    if (!self) return;  // being destroyed
    writing_ = true;
    scheduler_->schedule(std::move(self), ws_.get_executor());
  }

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
    if (!context_.auth && (op == "login" || op == "cancel_on_disconnect" || op == "place" || op == "amend" ||
                           op == "cancel" || op == "cancel_all")) {
      return send(error_message(id, op, 400, "MARKET_DATA_ONLY",
                                "this port serves public market data; log in and trade on the API port"));
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

  // A public channel (docs/websocket.md: trades, book, book10/50/500, bbo,
  // ticker, ticker.*, candles) or a private one: orders, fills, balances, positions, margin, alerts.
  struct Resolved {
    WsChannelInfo info;                   // the hub's name and rules
    std::optional<PublicChannel> public_channel;
  };
  std::optional<Resolved> resolve_channel(const std::string& name, std::string* error_code, std::string* detail) {
    if (name == "orders" || name == "fills" || name == "balances" || name == "positions" || name == "margin" ||
        name == "alerts") {
      if (!context_.auth) {
        *error_code = "MARKET_DATA_ONLY";
        *detail = "'" + name + "' is a private channel: subscribe on the API port";
        return std::nullopt;
      }
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
      return Resolved{WsChannelInfo{private_channel(name, AccountId{principal_->user_id}), Delivery::kEvery, false},
                      std::nullopt};
    }
    std::optional<PublicChannel> c;
    if (context_.upstream) {
      c = parse_public_channel(name, [this](std::string_view symbol) -> std::optional<InstrumentId> {
        if (auto id = context_.upstream->instrument(symbol)) return InstrumentId{*id};
        return std::nullopt;
      });
    } else {
      c = parse_public_channel(name, *context_.market);
    }
    if (c) return Resolved{c->info(), std::move(*c)};
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
    // "since": {"trades.BTC-USD": 1234, …}: resume public channels after that sequence.
    std::map<std::string, uint64_t, std::less<>> since;
    simdjson::dom::object since_object;
    if (auto field = msg["since"]; field.error() == simdjson::SUCCESS) {
      if (!subscribe || field.get_object().get(since_object) != simdjson::SUCCESS) {
        return send(error_message(id, op, 400, "INVALID_FIELD", "'since' is an object {channel: sequence} on subscribe"));
      }
      for (auto [key, value] : since_object) {
        uint64_t seq = 0;
        if (value.get_uint64().get(seq) != simdjson::SUCCESS ||
            std::find(names.begin(), names.end(), key) == names.end()) {
          return send(error_message(id, op, 400, "INVALID_FIELD",
                                    "'since' maps channels of this request to sequence numbers (integers >= 0)"));
        }
        since.emplace(std::string(key), seq);
      }
    }
    // Validate all first: a request either applies entirely or not at all.
    std::vector<Resolved> resolved;
    for (const std::string& name : names) {
      std::string code, detail;
      auto channel = resolve_channel(name, &code, &detail);
      if (!channel) {
        const int status = code == "UNKNOWN_CHANNEL" ? 404 : code == "MARKET_DATA_ONLY" ? 400 : 403;
        return send(error_message(id, op, status, code, detail));
      }
      if (since.contains(name) && !channel->info.keeps_history && name != "ticker.*") {
        return send(error_message(id, op, 400, "INVALID_FIELD",
                                  "'" + name + "' cannot resume: private channels start live (read REST for what was missed)"));
      }
      resolved.push_back(std::move(*channel));
    }
    if (subscribe) {
      std::set<std::string> after(subscribed_.begin(), subscribed_.end());
      for (const Resolved& r : resolved) after.insert(r.info.name);
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
    if (subscribe && context_.upstream) return relay_subscribe(resolved, names, since, std::move(out));
    send(std::move(out));
    for (std::size_t i = 0; i < names.size(); ++i) {
      const Resolved& r = resolved[i];
      if (!subscribe) {
        {
          // First: an answer from the main process arriving now cannot register it again.
          std::lock_guard lock(queue_mutex_);
          relay_wanted_.erase(r.info.name);
        }
        context_.hub->unsubscribe(r.info.name, this);
        subscribed_.erase(r.info.name);
        // A book snapshot still owed from conflation goes too: a later
        // subscribe starts over with its own snapshot.
        std::lock_guard lock(queue_mutex_);
        std::erase(stale_books_, r.info.name);
        for (Pending& p : queue_) {
          if (p.kind == PendingKind::kBookSnapshot && p.channel == r.info.name) p = Pending{};
        }
        continue;
      }
      if (!subscribed_.insert(r.info.name).second) continue;
      std::optional<uint64_t> resume_after;
      if (auto it = since.find(names[i]); it != since.end()) resume_after = it->second;
      // Under the hub's lock: history or a snapshot first, then live messages.
      context_.hub->subscribe(r.info, this->shared_from_this(), resume_after,
                              [&](WsHub::Resume resume, uint64_t last_seq) {
                                if (!r.public_channel) return;
                                const auto reason = snapshot_reason(r.public_channel->type, resume);
                                if (!reason) return;
                                const auto snapshots = render_snapshots(*context_.market, *r.public_channel, last_seq,
                                                                        *reason, context_.clock->now());
                                std::lock_guard lock(queue_mutex_);
                                for (const auto& snapshot : snapshots) {
                                  // A state channel's snapshot takes the state slot, so an
                                  // update still waiting there can never follow it with older data.
                                  if (r.info.delivery == Delivery::kLatest) {
                                    if (queue_latest_locked(snapshot.key, snapshot.message)) start_writing();
                                  } else {
                                    enqueue_locked(snapshot.message);
                                  }
                                }
                              });
    }
  }

  // A worker's subscribe. When this worker's own history serves every new
  // channel, they start at once after the reply. Otherwise every new
  // channel of the request is attached through the main process, and the
  // reply waits for the first answer, so that it precedes all their data.
  void relay_subscribe(const std::vector<Resolved>& resolved, const std::vector<std::string>& names,
                       const std::map<std::string, uint64_t, std::less<>>& since, std::string&& reply) {
    struct New {
      const Resolved* r;
      std::optional<uint64_t> since;
      bool needs_snapshot;
    };
    std::vector<New> fresh;
    for (std::size_t i = 0; i < names.size(); ++i) {
      const Resolved& r = resolved[i];
      if (!subscribed_.insert(r.info.name).second) continue;
      std::optional<uint64_t> resume_after;
      if (auto it = since.find(names[i]); it != since.end()) resume_after = it->second;
      fresh.push_back(New{&r, resume_after, snapshot_reason(r.public_channel->type, WsHub::Resume::kNone).has_value()});
    }
    const auto self = this->shared_from_this();
    // Local only when every new channel is: none may start before the reply.
    bool local = true;
    for (const New& n : fresh) local &= context_.hub->resumable(n.r->info.name, n.since, n.needs_snapshot);
    if (local) {
      send(std::move(reply));
      for (const New& n : fresh) {
        {
          std::lock_guard lock(queue_mutex_);
          relay_wanted_.insert_or_assign(n.r->info.name, RelayWanted{0, true});
        }
        // History may have moved on since the check (rare): then the main process serves it.
        if (!context_.hub->subscribe_if_resumable(n.r->info, self, n.since, n.needs_snapshot)) {
          forward(self, *n.r, n.since, nullptr);
        }
      }
      return;
    }
    for (std::size_t k = 0; k < fresh.size(); ++k) {
      forward(self, *fresh[k].r, fresh[k].since, k == 0 ? &reply : nullptr);
    }
  }
  // Asks the main process for one channel; `reply` (an operation's first
  // request only) waits for the first answer.
  void forward(const std::shared_ptr<WsSession>& self, const Resolved& r, std::optional<uint64_t> since,
               std::string* reply) {
    const uint64_t request = context_.upstream->new_request();
    {
      std::lock_guard lock(queue_mutex_);
      relay_wanted_.insert_or_assign(r.info.name, RelayWanted{request, false});
      if (reply) replies_waiting_.emplace_back(request, make_message(std::move(*reply)));
    }
    context_.upstream->forward(self, r.info, since, request);
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

  // On the connection's thread: everything queued goes out in one frame (a
  // JSON array when there is more than one message), so a connection that
  // fell behind catches up in few writes.
  void write_next() override {
    {
      std::lock_guard lock(queue_mutex_);
      if (queue_.empty() || closed_) {
        writing_ = false;
        return;
      }
      writing_batch_.swap(queue_);
      for (Pending& p : writing_batch_) {
        if (p.kind != PendingKind::kLatest) continue;
        for (auto it = latest_.begin(); it != latest_.end(); ++it) {
          if (it->first == p.key) {
            p.message = std::move(it->second);
            latest_.erase(it);
            break;
          }
        }
      }
    }
    for (Pending& p : writing_batch_) {
      if (p.kind == PendingKind::kBookSnapshot) p.message = fresh_book_snapshot(p.channel);
    }
    std::size_t count = 0;
    const SharedMessage* single = nullptr;
    for (const Pending& p : writing_batch_) {
      if (p.message) {
        ++count;
        single = &p.message;
      }
    }
    if (count == 0) return finish_write();
    ws_.text(true);
    auto done = [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->finish();
      self->finish_write();
    };
    if (count == 1) return ws_.async_write(net::buffer(**single), std::move(done));
    frame_.clear();
    frame_ += '[';
    for (const Pending& p : writing_batch_) {
      if (!p.message) continue;
      if (frame_.size() > 1) frame_ += ',';
      frame_ += *p.message;
    }
    frame_ += ']';
    ws_.async_write(net::buffer(frame_), std::move(done));
  }

  void finish_write() {
    writing_batch_.clear();
    // An idle connection keeps no large buffers.
    if (writing_batch_.capacity() > 64) writing_batch_ = {};
    if (frame_.capacity() > 64 * 1024) frame_ = {};
    write_next();
  }

  // A slow client's book: under the hub's lock (no diff can be published
  // meanwhile), the full book as of now; diffs flow again after it.
  SharedMessage fresh_book_snapshot(const std::string& channel) {
    SharedMessage out;
    context_.hub->locked([&] {
      if (auto c = parse_public_channel(channel, *context_.market)) {
        auto snapshots = render_snapshots(*context_.market, *c, 0, kSnapshotSlowConsumer, context_.clock->now());
        if (!snapshots.empty()) out = std::move(snapshots.front().message);
      }
      std::lock_guard lock(queue_mutex_);
      std::erase(stale_books_, channel);
    });
    return out;
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
      latest_.clear();
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
    socket_of(ws_).close(ec);
  }

  WsContext& context_;
  websocket::stream<NextLayer> ws_;
  WriteScheduler* scheduler_;  // this connection's io_context's
  beast::flat_buffer buffer_;
  http::request<http::string_body> upgrade_;
  uint64_t id_;
  std::string remote_ip_;
  std::optional<auth::Principal> principal_;   // connection thread only
  std::set<std::string> subscribed_;            // connection thread only
  bool cancel_on_disconnect_ = false;           // connection thread only
  bool closed_ = false;                         // connection thread only: a close was started
  bool finished_ = false;                       // connection thread only

  enum class PendingKind : uint8_t { kMessage, kLatest, kBookSnapshot };
  struct Pending {
    SharedMessage message;  // kLatest: taken from latest_ when written; kBookSnapshot: rendered then
    uint64_t key = 0;       // kLatest
    PendingKind kind = PendingKind::kMessage;
    std::string channel;    // kBookSnapshot
  };
  std::mutex queue_mutex_;
  std::vector<Pending> queue_;                                // FIFO; the writer takes it whole
  std::vector<std::pair<uint64_t, SharedMessage>> latest_;    // kLatest: the newest state per key, not yet written
  std::vector<std::string> stale_books_;                      // book channels dropping diffs until their snapshot
  struct RelayWanted {
    uint64_t request;  // the newest attempt whose replay or snapshot is still wanted
    bool registered;   // in the hub already
  };
  std::map<std::string, RelayWanted, std::less<>> relay_wanted_;  // a worker's public subscriptions
  std::vector<std::pair<uint64_t, SharedMessage>> replies_waiting_;  // subscribe replies held until their first answer
  bool writing_ = false;
  bool start_pending_ = false;  // deliver() asked the hub to start() us
  bool closing_ = false;
  std::vector<Pending> writing_batch_;  // connection thread only
  std::string frame_;                   // connection thread only
};

}  // namespace

void start_ws_session(WsContext& context, beast::tcp_stream&& stream, http::request<http::string_body>&& request) {
  // Plain connections run on the bare socket: the WebSocket stream keeps its
  // own timeouts, and the fan-out path sheds tcp_stream's per-write work.
  stream.expires_never();
  std::make_shared<WsSession<tcp::socket>>(context, stream.release_socket())->run(std::move(request));
}

void start_ws_session(WsContext& context, beast::ssl_stream<beast::tcp_stream>&& stream,
                      http::request<http::string_body>&& request) {
  std::make_shared<WsSession<beast::ssl_stream<beast::tcp_stream>>>(context, std::move(stream))
      ->run(std::move(request));
}

}  // namespace bourse::gateway

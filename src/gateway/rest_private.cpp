// The private REST endpoints: users and API keys, account, trading, admin.
// Authentication first (auth::AuthService), then validation of the body,
// then one engine command whose durable outcome becomes the response.
#include <charconv>

#include "auth/crypto.h"
#include "bourse/core/checked.h"
#include "bourse/core/decimal.h"
#include "bourse/engine/event.h"
#include "gateway/json_body.h"
#include "gateway/json_writer.h"
#include "gateway/render.h"
#include "gateway/rest_api.h"

namespace bourse::gateway {
namespace {

using accounts::OrderRecord;

class CallbackCompletion final : public CommandCompletion {
 public:
  explicit CallbackCompletion(std::function<void(const CommandOutcome&)> fn) : fn_(std::move(fn)) {}
  void complete(const CommandOutcome& outcome) override {
    fn_(outcome);
    delete this;
  }

 private:
  std::function<void(const CommandOutcome&)> fn_;
};

const Event* find_event(const CommandOutcome& o, EventType type) {
  for (const Event& e : o.events) {
    if (e.type == type) return &e;
  }
  return nullptr;
}

bool valid_client_order_id(std::string_view id) {
  if (id.empty() || id.size() > ClientOrderId::capacity()) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return false;  // printable ASCII, no spaces
  }
  return true;
}

std::vector<std::string> scope_names_of(uint32_t scopes) {
  std::vector<std::string> out;
  std::string text = auth::scopes_text(scopes);
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t comma = text.find(',', start);
    out.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<std::string> allow_list_of(const std::string& allowlist) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < allowlist.size()) {
    const std::size_t comma = allowlist.find(',', start);
    out.push_back(allowlist.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Cursors are opaque to clients: "c" + the last id returned, in hex.
std::string make_cursor(uint64_t id) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), id, 16);
  return "c" + std::string(buf, r.ptr);
}

bool parse_cursor(const std::string& text, uint64_t* id) {
  if (text.size() < 2 || text[0] != 'c') return false;
  const auto r = std::from_chars(text.data() + 1, text.data() + text.size(), *id, 16);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

}  // namespace

// --- plumbing ----------------------------------------------------------------

void RestApi::private_route(std::string method, std::string pattern, uint32_t scope, Handler handler, int64_t weight,
                            bool order_entry) {
  route(std::move(method), std::move(pattern),
        [this, scope, order_entry, handler = std::move(handler)](const std::shared_ptr<Call>& call) {
          authenticate(call, scope, order_entry, handler);
        },
        weight);
}

void RestApi::authenticate(const std::shared_ptr<Call>& call, uint32_t scope, bool order_entry,
                           const Handler& handler) {
  if (call->preauthenticated) {
    auth::AuthOutcome ok;
    ok.ok = true;
    ok.principal = call->principal;
    return finish_authentication(call, scope, order_entry, handler, ok);
  }
  const HttpRequest& r = call->request;
  auth::SignedRequest s;
  s.method = r.method;
  s.target = r.target;
  s.body = r.body;
  s.key_id = r.header("bourse-api-key");
  s.timestamp = r.header("bourse-timestamp");
  s.signature = r.header("bourse-signature");
  s.window = r.header("bourse-window");
  s.authorization = r.header("authorization");
  s.remote_ip = r.remote_ip;
  if (services_.auth->is_slow(s)) {
    // A password check costs ~30 ms of argon2id (and a first external
    // token creates a user): never on an I/O thread.
    offload(call, [this, call, scope, order_entry, handler, s] {
      finish_authentication(call, scope, order_entry, handler, services_.auth->authenticate(s));
    });
    return;
  }
  finish_authentication(call, scope, order_entry, handler, services_.auth->authenticate(s));
}

void RestApi::finish_authentication(const std::shared_ptr<Call>& call, uint32_t scope, bool order_entry,
                                    const Handler& handler, const auth::AuthOutcome& outcome) {
  if (!outcome.ok) {
    HttpResponse r = problem_response(Problem{outcome.status, outcome.code, outcome.detail}, call->request.request_id);
    if (outcome.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bourse-HMAC-SHA256, Basic realm=\"bourse\"");
    if (outcome.retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(outcome.retry_after_s));
    return call->reply(std::move(r));
  }
  call->principal = outcome.principal;
  const std::string user_key = std::to_string(outcome.principal.user_id);
  if (!take_tokens(call, user_limiter_, user_key, call->weight, "per user")) return;
  if (order_entry && !take_tokens(call, order_limiter_, user_key, 1, "order entry per account")) return;
  if ((outcome.principal.scopes & scope) != scope) {
    return call->fail(403, "FORBIDDEN", "this credential lacks the '" + auth::scopes_text(scope) + "' scope");
  }
  if ((scope & auth::kScopeAdmin) && outcome.principal.role != "admin") {
    return call->fail(403, "FORBIDDEN", "administrators only");
  }
  // Idempotency-Key on POST: the first request runs, retries replay it.
  if (call->request.method == "POST") {
    if (const std::string* key = call->request.header("idempotency-key")) {
      if (key->empty() || key->size() > IdempotencyCache::kMaxKeyLength) {
        return call->fail(400, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key must be 1..64 characters");
      }
      const std::string fingerprint = auth::sha256_hex(call->request.method + " " + call->request.target + "\n" + call->request.body);
      IdempotencyCache::Stored stored;
      store::IdempotencyRow durable;
      switch (idempotency_.begin(call->principal.user_id, *key, fingerprint, clock_.now() / 1'000'000, &stored,
                                 &durable)) {
        case IdempotencyCache::Begin::kProceed:
          call->idempotency_key = *key;
          call->idempotency = &idempotency_;
          call->idempotency_tag = IdempotencyCache::tag_of(call->principal.user_id, *key);
          call->idempotency_fingerprint = IdempotencyCache::fingerprint16(fingerprint);
          break;
        case IdempotencyCache::Begin::kReplayDurable:
          return replay_durable(call, durable);
        case IdempotencyCache::Begin::kReplay: {
          HttpResponse r;
          r.status = stored.status;
          r.body = std::move(stored.body);
          r.content_type = std::move(stored.content_type);
          r.headers.emplace_back("Idempotent-Replayed", "true");
          return call->reply(std::move(r));
        }
        case IdempotencyCache::Begin::kConflictDifferentRequest:
          return call->fail(409, "IDEMPOTENCY_CONFLICT", "this Idempotency-Key was used for a different request");
        case IdempotencyCache::Begin::kConflictInProgress:
          return call->fail(409, "IDEMPOTENCY_CONFLICT", "a request with this Idempotency-Key is still in progress");
      }
    }
  }
  handler(call);
}

bool RestApi::submit(const std::shared_ptr<Call>& call, const Command& command,
                     std::function<void(const CommandOutcome&)> done) {
  auto* completion = new CallbackCompletion(std::move(done));
  Command keyed = command;
  if (call->idempotency_tag != 0) {
    // The key travels with the command into the journal (see IdempotencyCache).
    keyed.header.correlation = call->idempotency_tag;
    keyed.header.source = call->idempotency_fingerprint;
  }
  if (!engine_.submit(keyed, completion)) {
    delete completion;
    HttpResponse r = problem_response(Problem{503, "OVERLOADED", "the engine queue is full; retry shortly"},
                                      call->request.request_id);
    r.headers.emplace_back("Retry-After", "1");
    call->reply(std::move(r));
    return false;
  }
  return true;
}

void RestApi::offload(const std::shared_ptr<Call>& call, std::function<void()> work) {
  if (!workers_.post(std::move(work))) {
    HttpResponse r = problem_response(Problem{503, "OVERLOADED", "too many slow requests in progress; retry shortly"},
                                      call->request.request_id);
    r.headers.emplace_back("Retry-After", "1");
    call->reply(std::move(r));
  }
}

#define BOURSE_BIND(fn) [this](const std::shared_ptr<Call>& c) { fn(c); }

void RestApi::add_private_routes() {
  using namespace auth;
  route("POST", "/v1/users", BOURSE_BIND(post_users), 20);
  private_route("POST", "/v1/api-keys", kScopeRead, BOURSE_BIND(post_api_keys), 20);
  private_route("GET", "/v1/api-keys", kScopeRead, BOURSE_BIND(get_api_keys));
  private_route("DELETE", "/v1/api-keys/{key_id}", kScopeRead, BOURSE_BIND(delete_api_key));
  private_route("GET", "/v1/account", kScopeRead, BOURSE_BIND(get_account));
  private_route("GET", "/v1/balances", kScopeRead, BOURSE_BIND(get_balances));
  private_route("GET", "/v1/positions", kScopeRead, BOURSE_BIND(get_positions));
  private_route("GET", "/v1/margin", kScopeRead, BOURSE_BIND(get_margin));
  private_route("POST", "/v1/margins/orders", kScopeRead, BOURSE_BIND(post_margin_orders), 5);
  private_route("POST", "/v1/orders", kScopeTrade, BOURSE_BIND(post_order), 1, true);
  private_route("POST", "/v1/orders/cancel-after", kScopeTrade, BOURSE_BIND(post_cancel_after));
  private_route("GET", "/v1/orders", kScopeRead, BOURSE_BIND(get_orders), 5);
  private_route("DELETE", "/v1/orders", kScopeTrade, BOURSE_BIND(delete_orders), 1, true);
  private_route("GET", "/v1/orders/by-client-id/{client_order_id}", kScopeRead, BOURSE_BIND(get_order_by_client_id));
  private_route("GET", "/v1/orders/{id}", kScopeRead, BOURSE_BIND(get_order));
  private_route("PATCH", "/v1/orders/{id}", kScopeTrade, BOURSE_BIND(patch_order), 1, true);
  private_route("DELETE", "/v1/orders/{id}", kScopeTrade, BOURSE_BIND(delete_order), 1, true);
  private_route("GET", "/v1/fills", kScopeRead, BOURSE_BIND(get_fills), 5);
  private_route("POST", "/v1/admin/deposits", kScopeAdmin, [this](const std::shared_ptr<Call>& c) { post_transfer(c, true); });
  private_route("POST", "/v1/admin/withdrawals", kScopeAdmin, [this](const std::shared_ptr<Call>& c) { post_transfer(c, false); });
  private_route("POST", "/v1/admin/assets", kScopeAdmin, BOURSE_BIND(post_asset));
  private_route("POST", "/v1/admin/instruments", kScopeAdmin, BOURSE_BIND(post_instrument));
  private_route("POST", "/v1/admin/instruments/{symbol}/status", kScopeAdmin, BOURSE_BIND(post_instrument_status));
  private_route("POST", "/v1/admin/accounts/{user_id}/status", kScopeAdmin, BOURSE_BIND(post_account_status));
  private_route("POST", "/v1/admin/accounts/{user_id}/margin", kScopeAdmin, BOURSE_BIND(post_account_margin));
  private_route("POST", "/v1/admin/accounts/{user_id}/limits", kScopeAdmin, BOURSE_BIND(post_account_limits));
  private_route("POST", "/v1/admin/accounts/{user_id}/loss-limit", kScopeAdmin, BOURSE_BIND(post_loss_limit));
  private_route("POST", "/v1/admin/instruments/{symbol}/margin", kScopeAdmin, BOURSE_BIND(post_instrument_margin));
  private_route("POST", "/v1/admin/instruments/{symbol}/circuits", kScopeAdmin, BOURSE_BIND(post_instrument_circuits));
}

// --- users and keys ------------------------------------------------------------

void RestApi::post_users(const std::shared_ptr<Call>& call) {
  JsonBody body(call->request.header("content-type"), call->request.body, {"username", "password"});
  std::string username, password;
  body.string("username", &username, true);
  body.string("password", &password, true);
  if (body.ok() && !auth::valid_username(username)) {
    body.fail(422, "INVALID_USERNAME", "username: 3..32 characters of a-z, 0-9, '_', '.', '-'");
  }
  if (body.ok() && (password.size() < 10 || password.size() > 128)) {
    body.fail(422, "WEAK_PASSWORD", "password: 10..128 characters");
  }
  if (!body.ok()) return call->fail(body.problem());
  offload(call, [this, call, username, password] {
    store::UserRecord user;
    user.username = username;
    user.password_hash = auth::hash_password(password);
    user.role = "trader";
    user.created_ms = clock_.now() / 1'000'000;
    switch (services_.store->create_user(&user)) {
      case store::StoreError::kOk: break;
      case store::StoreError::kExists: return call->fail(409, "USERNAME_TAKEN", "this username is taken");
      default: return call->fail(503, "UNAVAILABLE", "the store cannot save users right now");
    }
    if (user.id >= engine_.config().max_accounts || user.id >= 65'000) {
      return call->fail(503, "CAPACITY_EXCEEDED", "no more accounts can be opened on this venue");
    }
    // The user's engine account: same id.
    ConfigureAccount ca{};
    ca.account = AccountId{user.id};
    ca.default_stp = StpMode::kCancelNewest;
    submit(call, Command::configure_account(ca), [call, user](const CommandOutcome& o) {
      if (!o.durable) return call->fail(503, "UNAVAILABLE", "the account could not be opened; retry");
      std::string out;
      JsonWriter w(&out);
      w.begin_object().field("id", user.id).field("username", user.username).field("role", user.role)
          .field("created", user.created_ms).end_object();
      call->json(201, std::move(out));
    });
  });
}

void RestApi::post_api_keys(const std::shared_ptr<Call>& call) {
  JsonBody body(call->request.header("content-type"), call->request.body, {"label", "scopes", "ip_allowlist"});
  std::string label;
  std::vector<std::string> scope_names = {"read"}, allow;
  body.string("label", &label);
  body.string_list("scopes", &scope_names);
  body.string_list("ip_allowlist", &allow);
  uint32_t scopes = 0;
  if (body.ok() && (!auth::parse_scope_list(scope_names, &scopes) || scopes == 0)) {
    body.fail(422, "INVALID_SCOPE", "scopes: a non-empty list of read, trade, transfer, admin");
  }
  if (body.ok() && label.size() > 64) body.fail(422, "INVALID_FIELD", "label: at most 64 characters");
  if (!body.ok()) return call->fail(body.problem());
  // A key can grant at most what its creator holds: password sessions hold
  // every non-admin scope (admin for administrators), keys their own.
  const auth::Principal& p = call->principal;
  const uint32_t grantable = p.kind == auth::CredentialKind::kPassword
                                 ? (p.role == "admin" ? auth::kAllScopes : auth::kAllScopes & ~auth::kScopeAdmin)
                                 : p.scopes;
  if ((scopes & ~grantable) != 0) {
    return call->fail(403, "FORBIDDEN", "cannot grant scopes beyond your own: " + auth::scopes_text(scopes & ~grantable));
  }
  std::string allowlist;
  for (const std::string& ip : allow) {
    if (ip.empty() || ip.size() > 45 || ip.find(',') != std::string::npos) {
      return call->fail(422, "INVALID_FIELD", "ip_allowlist: addresses only");
    }
    if (!allowlist.empty()) allowlist += ',';
    allowlist += ip;
  }
  offload(call, [this, call, scopes, label, allowlist] {
    auto key = services_.auth->create_key(call->principal.user_id, scopes, label, allowlist);
    if (!key) return call->fail(503, "UNAVAILABLE", "the store cannot save keys right now");
    std::string out;
    JsonWriter w(&out);
    w.begin_object().field("key_id", key->key_id).field("secret", key->secret).field("label", key->record.label);
    w.key("scopes").begin_array();
    for (const std::string& s : scope_names_of(scopes)) w.value(s);
    w.end_array();
    w.key("ip_allowlist").begin_array();
    for (const std::string& ip : allow_list_of(allowlist)) w.value(ip);
    w.end_array();
    w.field("created", key->record.created_ms).end_object();
    call->json(201, std::move(out));
  });
}

void RestApi::get_api_keys(const std::shared_ptr<Call>& call) {
  offload(call, [this, call] {
    std::string out;
    JsonWriter w(&out);
    w.begin_object().key("api_keys").begin_array();
    for (const store::ApiKeyRecord& k : services_.store->api_keys_of(call->principal.user_id)) {
      if (k.revoked) continue;
      w.begin_object().field("key_id", k.key_id).field("label", k.label);
      w.key("scopes").begin_array();
      for (const std::string& s : scope_names_of(k.scopes)) w.value(s);
      w.end_array();
      w.key("ip_allowlist").begin_array();
      for (const std::string& ip : allow_list_of(k.ip_allowlist)) w.value(ip);
      w.end_array();
      w.field("created", k.created_ms).end_object();
    }
    w.end_array().end_object();
    call->json(200, std::move(out));
  });
}

void RestApi::delete_api_key(const std::shared_ptr<Call>& call) {
  offload(call, [this, call] {
    // Another user's key is "not found", never "forbidden".
    if (!services_.auth->revoke(call->principal.user_id, call->params[0])) {
      return call->fail(404, "NOT_FOUND", "no such API key");
    }
    HttpResponse r;
    r.status = 204;
    r.content_type.clear();
    call->reply(std::move(r));
  });
}

// --- account -------------------------------------------------------------------

void RestApi::get_account(const std::shared_ptr<Call>& call) {
  const auth::Principal& p = call->principal;
  const accounts::AccountSummary a = services_.accounts->summary(AccountId{p.user_id});
  std::string out;
  JsonWriter w(&out);
  w.begin_object().field("user_id", p.user_id).field("username", p.username).field("role", p.role);
  w.key("scopes").begin_array();
  for (const std::string& s : scope_names_of(p.scopes)) w.value(s);
  w.end_array();
  w.field("enabled", a.enabled).field("open_orders", a.open_orders).field("max_open_orders", a.max_open_orders);
  w.field("margin_tier", a.margin_tier);
  w.key("cancel_at");
  if (a.cancel_at) w.value(to_millis(a.cancel_at)); else w.null();
  // Risk limits an admin set (docs/engine.md, "Account limits"); null: none.
  w.key("limits").begin_array();
  for (const SetAccountLimits& l : a.limits) {
    const auto info = market_.instrument(l.instrument);
    if (!info) continue;
    w.begin_object().field("symbol", info->spec.symbol.view());
    w.key("max_order_qty");
    if (l.max_order_qty.value) w.value(qty_text(*info, l.max_order_qty)); else w.null();
    w.key("max_order_notional");
    if (l.max_order_notional.value) w.value(quote_text(*info, l.max_order_notional)); else w.null();
    w.key("max_position");
    if (l.max_position.value) w.value(qty_text(*info, l.max_position)); else w.null();
    w.end_object();
  }
  w.end_array().key("loss_limits").begin_array();
  const int64_t today = clock_.now() / 86'400'000'000'000;
  for (std::size_t i = 0; i < a.loss_limits.size(); ++i) {
    const SetLossLimit& l = a.loss_limits[i];
    const auto asset = market_.asset(l.asset);
    if (!asset) continue;
    w.begin_object().field("asset", asset->code.view());
    w.field("max_daily_loss", format_decimal(l.max_daily_loss.value, asset->scale));
    w.field("reduce_only", i < a.loss_reached_day.size() && a.loss_reached_day[i] == today).end_object();
  }
  w.end_array();
  w.end_object();
  call->json(200, std::move(out));
}

void RestApi::get_balances(const std::shared_ptr<Call>& call) {
  std::string out;
  JsonWriter w(&out);
  w.begin_object().key("balances").begin_array();
  for (const accounts::BalanceRecord& b : services_.accounts->balances(AccountId{call->principal.user_id})) {
    const auto asset = market_.asset(b.asset);
    if (!asset) continue;
    int64_t total = 0;
    checked_add(b.available.value, b.locked.value, &total);  // the engine keeps available + locked <= supply
    w.begin_object().field("asset", asset->code.view());
    w.field("available", format_decimal(b.available.value, asset->scale));
    w.field("locked", format_decimal(b.locked.value, asset->scale));
    w.field("total", format_decimal(total, asset->scale));
    w.end_object();
  }
  w.end_array().end_object();
  call->json(200, std::move(out));
}

// Dead-man's switch: every live order of the caller is cancelled unless
// this is called again within timeout_ms (0 disarms). The countdown runs
// on the engine's clock, from the command's timestamp.
void RestApi::post_cancel_after(const std::shared_ptr<Call>& call) {
  JsonBody body(call->request.header("content-type"), call->request.body, {"timeout_ms"});
  int64_t timeout_ms = -1;
  body.integer("timeout_ms", &timeout_ms, true);
  if (body.ok() && (timeout_ms < 0 || timeout_ms > 86'400'000)) {
    body.fail(422, "INVALID_TIMEOUT", "timeout_ms: 0 (disarm) to 86400000 (a day)");
  }
  if (!body.ok()) return call->fail(body.problem());
  CancelAfter c{};
  c.account = AccountId{call->principal.user_id};
  c.timeout_ms = static_cast<uint32_t>(timeout_ms);
  submit(call, Command::cancel_after(c), [call, account = c.account](const CommandOutcome& o) {
    if (!o.durable) return call->fail(503, "UNAVAILABLE", "the venue could not make the command durable; retry");
    if (const Event* rejected = find_event(o, EventType::kOrderRejected)) {
      return call->fail(problem_from_reject(rejected->rejected.reason));
    }
    // The command's own event: not a countdown (of anyone's) that ran out
    // on this command's timestamp.
    Timestamp cancel_at = 0;
    for (const Event& e : o.events) {
      if (e.type == EventType::kCancelAfterSet && !e.cancel_after.fired && e.cancel_after.account == account) {
        cancel_at = e.cancel_after.cancel_at;
      }
    }
    std::string out;
    JsonWriter w(&out);
    w.begin_object().key("cancel_at");
    if (cancel_at) w.value(to_millis(cancel_at)); else w.null();
    w.end_object();
    call->json(200, std::move(out));
  });
}

void RestApi::get_positions(const std::shared_ptr<Call>& call) {
  std::string out;
  JsonWriter w(&out);
  w.begin_object().key("positions").begin_array();
  for (const accounts::PositionRecord& p : services_.accounts->positions(AccountId{call->principal.user_id})) {
    const auto info = market_.instrument(p.instrument);
    if (!info) continue;
    render_position(w, *info, p, market_.mark_price(p.instrument));
  }
  w.end_array().end_object();
  call->json(200, std::move(out));
}

// --- trading -------------------------------------------------------------------

void RestApi::reply_order(const std::shared_ptr<Call>& call, const CommandOutcome& outcome, OrderId id, int status) {
  if (!outcome.durable) return call->fail(503, "UNAVAILABLE", "the venue could not make the command durable; retry");
  if (const Event* rejected = find_event(outcome, EventType::kOrderRejected)) {
    return call->fail(problem_from_reject(rejected->rejected.reason));
  }
  if (id.value == 0) {
    if (const Event* accepted = find_event(outcome, EventType::kOrderAccepted)) id = accepted->accepted.order_id;
  }
  const auto order = services_.accounts->order(AccountId{call->principal.user_id}, id);
  const auto info = order ? market_.instrument(order->instrument) : std::nullopt;
  if (!order || !info) return call->fail(404, "ORDER_NOT_FOUND", "no such order for this account");
  std::string out;
  JsonWriter w(&out);
  render_order(w, *info, *order);
  call->json(status, std::move(out));
}

void RestApi::replay_durable(const std::shared_ptr<Call>& call, const store::IdempotencyRow& row) {
  auto replayed = [call](HttpResponse&& r) {
    r.headers.emplace_back("Idempotent-Replayed", "true");
    call->reply(std::move(r));
  };
  if (row.reject_reason != 0) {
    return replayed(problem_response(problem_from_reject(static_cast<RejectReason>(row.reject_reason)),
                                     call->request.request_id));
  }
  auto json = [](int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.content_type = "application/json";
    r.body = std::move(body);
    return r;
  };
  if (row.order_id == 0) {  // an admin command: its verdict, as reply_admin gave it
    const auto type = static_cast<CommandType>(row.command);
    std::string out;
    JsonWriter w(&out);
    w.begin_object().field("status", "applied").field("seq", row.seq).end_object();
    return replayed(json(type == CommandType::kAddAsset || type == CommandType::kAddInstrument ? 201 : 200,
                         std::move(out)));
  }
  // The order as it is now: from memory while it is live or recently
  // closed, else from the history store (off the I/O thread).
  const AccountId account{call->principal.user_id};
  if (const auto order = services_.accounts->order(account, OrderId{row.order_id})) {
    if (const auto info = market_.instrument(order->instrument)) {
      std::string out;
      JsonWriter w(&out);
      render_order(w, *info, *order);
      return replayed(json(201, std::move(out)));
    }
  }
  offload(call, [this, call, row, replayed, json] {
    const auto history = services_.store->order_history_row(call->principal.user_id, row.order_id);
    const auto info = history ? market_.instrument(InstrumentId{history->instrument}) : std::nullopt;
    if (!history || !info) {
      // Only a tag collision with another account's key can lead here.
      return call->fail(409, "IDEMPOTENCY_CONFLICT", "this Idempotency-Key was used for a different request");
    }
    std::string out;
    JsonWriter w(&out);
    render_order(w, *info, order_record_of(*history));
    replayed(json(201, std::move(out)));
  });
}

void RestApi::post_order(const std::shared_ptr<Call>& call) {
  JsonBody body(call->request.header("content-type"), call->request.body,
                {"symbol", "side", "type", "qty", "price", "stop_price", "time_in_force", "post_only",
                 "client_order_id", "stp", "expire_time", "product"});
  std::string symbol, side = "", type = "LIMIT", tif, client_id, stp, product = "CASH";
  body.string("symbol", &symbol, true);
  body.string("side", &side, true);
  body.string("type", &type);
  if (!body.ok()) return call->fail(body.problem());
  const auto info = market_.instrument(symbol);
  if (!info) return call->fail(422, "UNKNOWN_SYMBOL", "no instrument named '" + symbol + "'");

  PlaceOrder p{};
  p.account = AccountId{call->principal.user_id};
  p.instrument = info->spec.id;
  if (side == "BUY") p.side = Side::kBuy;
  else if (side == "SELL") p.side = Side::kSell;
  else return call->fail(422, "INVALID_SIDE", "side: BUY or SELL");
  if (type == "LIMIT") p.type = OrderType::kLimit;
  else if (type == "MARKET") p.type = OrderType::kMarket;
  else if (type == "STOP_LIMIT") p.type = OrderType::kStopLimit;
  else if (type == "STOP_MARKET") p.type = OrderType::kStopMarket;
  else return call->fail(422, "INVALID_ORDER_TYPE", "type: LIMIT, MARKET, STOP_LIMIT or STOP_MARKET");
  // Market orders default to IOC; everything else to GTC.
  tif = p.type == OrderType::kMarket ? "IOC" : "GTC";
  body.string("time_in_force", &tif);
  if (tif == "GTC") p.tif = TimeInForce::kGtc;
  else if (tif == "IOC") p.tif = TimeInForce::kIoc;
  else if (tif == "FOK") p.tif = TimeInForce::kFok;
  else if (tif == "DAY") p.tif = TimeInForce::kDay;
  else if (tif == "GTD") p.tif = TimeInForce::kGtd;
  else return call->fail(422, "INVALID_TIME_IN_FORCE", "time_in_force: GTC, IOC, FOK, DAY or GTD");

  int64_t qty = 0, price = 0, stop = 0, expire_ms = 0;
  decimal_field(body, "qty", info->base.scale, true, &qty);
  const bool needs_price = p.type == OrderType::kLimit || p.type == OrderType::kStopLimit;
  const bool needs_stop = p.type == OrderType::kStopLimit || p.type == OrderType::kStopMarket;
  const bool has_price = decimal_field(body, "price", info->spec.price_scale, needs_price, &price);
  const bool has_stop = decimal_field(body, "stop_price", info->spec.price_scale, needs_stop, &stop);
  if (body.ok() && has_price && !needs_price) body.fail(422, "INVALID_ORDER", "price is not allowed on " + type + " orders");
  if (body.ok() && has_stop && !needs_stop) body.fail(422, "INVALID_ORDER", "stop_price is only for stop orders");
  bool post_only = false;
  body.boolean("post_only", &post_only);
  if (body.string("client_order_id", &client_id) && !valid_client_order_id(client_id)) {
    body.fail(422, "INVALID_CLIENT_ORDER_ID", "client_order_id: 1..32 printable ASCII characters without spaces");
  }
  if (body.string("stp", &stp)) {
    if (stp == "CANCEL_NEWEST") p.stp = StpMode::kCancelNewest;
    else if (stp == "CANCEL_OLDEST") p.stp = StpMode::kCancelOldest;
    else if (stp == "CANCEL_BOTH") p.stp = StpMode::kCancelBoth;
    else body.fail(422, "INVALID_STP", "stp: CANCEL_NEWEST, CANCEL_OLDEST or CANCEL_BOTH");
  }
  if (body.string("product", &product)) {
    if (product == "CASH") p.product = Product::kCash;
    else if (product == "MARGIN") p.product = Product::kMargin;
    else body.fail(422, "INVALID_PRODUCT", "product: CASH or MARGIN");
  }
  if (body.integer("expire_time", &expire_ms)) {
    if (expire_ms <= 0 || expire_ms > INT64_MAX / 1'000'000) body.fail(422, "INVALID_EXPIRE_TIME", "expire_time: milliseconds since the epoch");
    p.expire_at = expire_ms * 1'000'000;
  }
  if (!body.ok()) return call->fail(body.problem());
  p.qty = Qty{qty};
  p.price = Price{price};
  p.stop_price = Price{stop};
  p.post_only = post_only ? 1 : 0;
  p.client_order_id = ClientOrderId::from(client_id);
  submit(call, Command::place_order(p), [this, call](const CommandOutcome& o) { reply_order(call, o, OrderId{0}, 201); });
}

namespace {

bool parse_order_id(const std::string& text, OrderId* id) {
  uint64_t v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v == 0) return false;
  *id = OrderId{v};
  return true;
}

}  // namespace

void RestApi::get_order(const std::shared_ptr<Call>& call) {
  OrderId id;
  if (!parse_order_id(call->params[0], &id)) return call->fail(404, "ORDER_NOT_FOUND", "no such order for this account");
  const auto order = services_.accounts->order(AccountId{call->principal.user_id}, id);
  const auto info = order ? market_.instrument(order->instrument) : std::nullopt;
  if (!order || !info) return call->fail(404, "ORDER_NOT_FOUND", "no such order for this account");
  std::string out;
  JsonWriter w(&out);
  render_order(w, *info, *order);
  call->json(200, std::move(out));
}

void RestApi::get_order_by_client_id(const std::shared_ptr<Call>& call) {
  const std::string& cid = call->params[0];
  const auto order = valid_client_order_id(cid)
                         ? services_.accounts->order_by_client_id(AccountId{call->principal.user_id}, ClientOrderId::from(cid))
                         : std::nullopt;
  const auto info = order ? market_.instrument(order->instrument) : std::nullopt;
  if (!order || !info) return call->fail(404, "ORDER_NOT_FOUND", "no such order for this account");
  std::string out;
  JsonWriter w(&out);
  render_order(w, *info, *order);
  call->json(200, std::move(out));
}

void RestApi::get_orders(const std::shared_ptr<Call>& call) {
  accounts::OrderFilter f;
  std::string text;
  if (call->request.query_param("symbol", &text) == QueryParam::kFound) {
    const auto info = market_.instrument(text);
    if (!info) return call->fail(422, "UNKNOWN_SYMBOL", "no instrument named '" + text + "'");
    f.instrument = info->spec.id;
  }
  if (call->request.query_param("status", &text) == QueryParam::kFound) {
    if (text == "open") f.open = true;
    else if (text == "closed") f.open = false;
    else if (text != "all") return call->fail(400, "INVALID_PARAMETER", "status: open, closed or all");
  }
  const auto start = int_param(call, "start", 0, 0, INT64_MAX / 1'000'000);
  if (!start) return;
  const auto end = int_param(call, "end", INT64_MAX / 1'000'000, 0, INT64_MAX / 1'000'000);
  if (!end) return;
  f.created_from = *start * 1'000'000;
  f.created_to = *end >= INT64_MAX / 1'000'000 ? INT64_MAX : *end * 1'000'000;
  const auto limit = int_param(call, "limit", 100, 1, 500);
  if (!limit) return;
  f.limit = static_cast<std::size_t>(*limit);
  if (call->request.query_param("cursor", &text) == QueryParam::kFound) {
    uint64_t before = 0;
    if (!parse_cursor(text, &before)) return call->fail(400, "INVALID_CURSOR", "cursor: pass back next_cursor as given");
    f.before = OrderId{before};
  }
  const auto orders = services_.accounts->orders(AccountId{call->principal.user_id}, f);
  std::string out;
  JsonWriter w(&out);
  w.begin_object().key("orders").begin_array();
  for (const OrderRecord& o : orders) {
    if (const auto info = market_.instrument(o.instrument)) render_order(w, *info, o);
  }
  w.end_array();
  w.key("next_cursor");
  if (orders.size() == f.limit) w.value(make_cursor(orders.back().id.value)); else w.null();
  w.end_object();
  call->json(200, std::move(out));
}

void RestApi::patch_order(const std::shared_ptr<Call>& call) {
  OrderId id;
  if (!parse_order_id(call->params[0], &id)) return call->fail(404, "ORDER_NOT_FOUND", "no such order for this account");
  const auto order = services_.accounts->order(AccountId{call->principal.user_id}, id);
  const auto info = order ? market_.instrument(order->instrument) : std::nullopt;
  if (!order || !info) return call->fail(404, "ORDER_NOT_FOUND", "no such order for this account");
  JsonBody body(call->request.header("content-type"), call->request.body, {"price", "qty", "stop_price"});
  int64_t price = 0, qty = 0, stop = 0;
  decimal_field(body, "price", info->spec.price_scale, false, &price);
  decimal_field(body, "qty", info->base.scale, false, &qty);
  decimal_field(body, "stop_price", info->spec.price_scale, false, &stop);
  if (body.ok() && price == 0 && qty == 0 && stop == 0) body.fail(422, "INVALID_AMEND", "give price, qty or stop_price");
  if (!body.ok()) return call->fail(body.problem());
  AmendOrder a{};
  a.order_id = id;
  a.account = AccountId{call->principal.user_id};
  a.new_price = Price{price};
  a.new_qty = Qty{qty};
  a.new_stop_price = Price{stop};
  submit(call, Command::amend_order(a), [this, call, id](const CommandOutcome& o) { reply_order(call, o, id, 200); });
}

void RestApi::delete_order(const std::shared_ptr<Call>& call) {
  OrderId id;
  if (!parse_order_id(call->params[0], &id)) return call->fail(404, "ORDER_NOT_FOUND", "no such order for this account");
  CancelOrder c{};
  c.order_id = id;
  c.account = AccountId{call->principal.user_id};
  submit(call, Command::cancel_order(c), [this, call, id](const CommandOutcome& o) { reply_order(call, o, id, 200); });
}

void RestApi::delete_orders(const std::shared_ptr<Call>& call) {
  CancelAll c{};
  c.account = AccountId{call->principal.user_id};
  std::string symbol;
  switch (call->request.query_param("symbol", &symbol)) {
    case QueryParam::kFound: {
      const auto info = market_.instrument(symbol);
      if (!info) return call->fail(422, "UNKNOWN_SYMBOL", "no instrument named '" + symbol + "'");
      c.instrument = info->spec.id;
      break;
    }
    case QueryParam::kMalformed:
      return call->fail(400, "INVALID_PARAMETER", "bad percent-encoding in 'symbol'");
    case QueryParam::kAbsent:
      break;
  }
  submit(call, Command::cancel_all(c), [call, account = c.account](const CommandOutcome& o) {
    if (!o.durable) return call->fail(503, "UNAVAILABLE", "the venue could not make the command durable; retry");
    std::string out;
    JsonWriter w(&out);
    w.begin_object().key("cancelled").begin_array();
    // This command's own cancels only: a dead-man's switch that ran out at
    // the same timestamp cancels other accounts' orders in the same events.
    for (const Event& e : o.events) {
      if (e.type == EventType::kOrderCancelled && e.cancelled.account == account &&
          e.cancelled.reason == CancelReason::kCancelAll) {
        w.value(e.cancelled.order_id.value);
      }
    }
    w.end_array().end_object();
    call->json(200, std::move(out));
  });
}

void RestApi::get_fills(const std::shared_ptr<Call>& call) {
  std::optional<InstrumentId> instrument;
  std::string text;
  if (call->request.query_param("symbol", &text) == QueryParam::kFound) {
    const auto info = market_.instrument(text);
    if (!info) return call->fail(422, "UNKNOWN_SYMBOL", "no instrument named '" + text + "'");
    instrument = info->spec.id;
  }
  const auto limit = int_param(call, "limit", 100, 1, 500);
  if (!limit) return;
  uint64_t before = UINT64_MAX;
  if (call->request.query_param("cursor", &text) == QueryParam::kFound && !parse_cursor(text, &before)) {
    return call->fail(400, "INVALID_CURSOR", "cursor: pass back next_cursor as given");
  }
  const auto fills = services_.accounts->fills(AccountId{call->principal.user_id}, instrument, before,
                                               static_cast<std::size_t>(*limit));
  std::string out;
  JsonWriter w(&out);
  w.begin_object().key("fills").begin_array();
  for (const auto& f : fills) {
    if (const auto info = market_.instrument(f.instrument)) render_fill(w, *info, f);
  }
  w.end_array();
  w.key("next_cursor");
  if (fills.size() == static_cast<std::size_t>(*limit)) w.value(make_cursor(fills.back().seq_no)); else w.null();
  w.end_object();
  call->json(200, std::move(out));
}

// --- admin -------------------------------------------------------------------------

void RestApi::reply_admin(const std::shared_ptr<Call>& call, const CommandOutcome& o, int status) {
  if (!o.durable) return call->fail(503, "UNAVAILABLE", "the venue could not make the command durable; retry");
  if (const Event* rejected = find_event(o, EventType::kOrderRejected)) {
    return call->fail(problem_from_reject(rejected->rejected.reason));
  }
  std::string out;
  JsonWriter w(&out);
  w.begin_object().field("status", "applied").field("seq", o.seq).end_object();
  call->json(status, std::move(out));
}

void RestApi::post_transfer(const std::shared_ptr<Call>& call, bool deposit) {
  JsonBody body(call->request.header("content-type"), call->request.body, {"user_id", "asset", "amount"});
  int64_t user_id = 0, amount = 0;
  std::string code;
  body.integer("user_id", &user_id, true);
  body.string("asset", &code, true);
  if (!body.ok()) return call->fail(body.problem());
  const auto asset = market_.asset(code);
  if (!asset) return call->fail(422, "UNKNOWN_ASSET", "no asset '" + code + "'");
  decimal_field(body, "amount", asset->scale, true, &amount);
  if (!body.ok()) return call->fail(body.problem());
  if (user_id <= 0 || user_id > UINT32_MAX || !services_.accounts->summary(AccountId{static_cast<uint32_t>(user_id)}).exists) {
    return call->fail(404, "NOT_FOUND", "no such account");
  }
  const Transfer t{Amount{amount}, AccountId{static_cast<uint32_t>(user_id)}, asset->id};
  submit(call, deposit ? Command::deposit(t) : Command::withdraw(t),
         [this, call](const CommandOutcome& o) { reply_admin(call, o, 200); });
}

void RestApi::post_instrument_status(const std::shared_ptr<Call>& call) {
  const auto info = instrument_param(call, 0);
  if (!info) return;
  JsonBody body(call->request.header("content-type"), call->request.body, {"status"});
  std::string status;
  body.string("status", &status, true);
  if (!body.ok()) return call->fail(body.problem());
  SetInstrumentStatus s{};
  s.instrument = info->spec.id;
  if (status == "TRADING") s.status = InstrumentStatus::kTrading;
  else if (status == "HALTED") s.status = InstrumentStatus::kHalted;
  else if (status == "CLOSED") s.status = InstrumentStatus::kClosed;
  else if (status == "PRE_OPEN") s.status = InstrumentStatus::kPreOpen;
  else if (status == "SESSION_CLOSED") s.status = InstrumentStatus::kSessionClosed;
  else return call->fail(422, "INVALID_STATUS", "status: TRADING, HALTED, CLOSED, PRE_OPEN or SESSION_CLOSED");
  submit(call, Command::set_instrument_status(s), [this, call](const CommandOutcome& o) { reply_admin(call, o, 200); });
}

void RestApi::post_account_status(const std::shared_ptr<Call>& call) {
  uint64_t user_id = 0;
  const std::string& text = call->params[0];
  const auto r = std::from_chars(text.data(), text.data() + text.size(), user_id);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || user_id == 0 || user_id > UINT32_MAX ||
      !services_.accounts->summary(AccountId{static_cast<uint32_t>(user_id)}).exists) {
    return call->fail(404, "NOT_FOUND", "no such account");
  }
  JsonBody body(call->request.header("content-type"), call->request.body, {"enabled"});
  bool enabled = true;
  if (!body.boolean("enabled", &enabled) && body.ok()) body.fail(400, "MISSING_FIELD", "'enabled' is required");
  if (!body.ok()) return call->fail(body.problem());
  // Disabling is the kill switch: the engine cancels every live order of the account.
  SetAccountEnabled s{};
  s.account = AccountId{static_cast<uint32_t>(user_id)};
  s.enabled = enabled ? 1 : 0;
  submit(call, Command::set_account_enabled(s), [this, call](const CommandOutcome& o) { reply_admin(call, o, 200); });
}

namespace {

bool parse_user_id(const std::string& text, uint32_t* out) {
  uint64_t v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v == 0 || v > UINT32_MAX) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

// The account's margin tier (0 = cash only). ConfigureAccount replaces all
// settings, so the others are carried over from the read model.
void RestApi::post_account_margin(const std::shared_ptr<Call>& call) {
  uint32_t user_id = 0;
  const bool valid = parse_user_id(call->params[0], &user_id);
  const accounts::AccountSummary summary =
      valid ? services_.accounts->summary(AccountId{user_id}) : accounts::AccountSummary{};
  if (!summary.exists) return call->fail(404, "NOT_FOUND", "no such account");
  JsonBody body(call->request.header("content-type"), call->request.body, {"tier"});
  int64_t tier = -1;
  body.integer("tier", &tier, true);
  if (body.ok() && (tier < 0 || tier > kMarginTiers)) {
    body.fail(422, "INVALID_TIER", "tier: 0 (cash only) to " + std::to_string(kMarginTiers));
  }
  if (!body.ok()) return call->fail(body.problem());
  ConfigureAccount c{};
  c.account = AccountId{user_id};
  c.max_open_orders = summary.max_open_orders;
  c.default_stp = summary.default_stp;
  c.margin_tier = static_cast<uint8_t>(tier);
  submit(call, Command::configure_account(c), [this, call](const CommandOutcome& o) { reply_admin(call, o, 200); });
}

// An account's limits in one instrument; a field left out (or "0") is no limit.
void RestApi::post_account_limits(const std::shared_ptr<Call>& call) {
  uint32_t user_id = 0;
  if (!parse_user_id(call->params[0], &user_id) || !services_.accounts->summary(AccountId{user_id}).exists) {
    return call->fail(404, "NOT_FOUND", "no such account");
  }
  JsonBody body(call->request.header("content-type"), call->request.body,
                {"symbol", "max_order_qty", "max_order_notional", "max_position"});
  std::string symbol;
  body.string("symbol", &symbol, true);
  if (!body.ok()) return call->fail(body.problem());
  const auto info = market_.instrument(symbol);
  if (!info) return call->fail(422, "UNKNOWN_SYMBOL", "no instrument named '" + symbol + "'");
  int64_t qty = 0, notional = 0, position = 0;
  decimal_field(body, "max_order_qty", info->base.scale, false, &qty, false);
  decimal_field(body, "max_order_notional", info->quote.scale, false, &notional, false);
  decimal_field(body, "max_position", info->base.scale, false, &position, false);
  if (body.ok() && (qty < 0 || notional < 0 || position < 0)) body.fail(422, "INVALID_LIMIT", "limits are >= 0 (0: none)");
  if (!body.ok()) return call->fail(body.problem());
  submit(call,
         Command::set_account_limits({Qty{qty}, Amount{notional}, Qty{position}, AccountId{user_id}, info->spec.id}),
         [this, call](const CommandOutcome& o) { reply_admin(call, o, 200); });
}

// An account's max daily loss of MARGIN trading in one collateral asset; "0" removes it.
void RestApi::post_loss_limit(const std::shared_ptr<Call>& call) {
  uint32_t user_id = 0;
  if (!parse_user_id(call->params[0], &user_id) || !services_.accounts->summary(AccountId{user_id}).exists) {
    return call->fail(404, "NOT_FOUND", "no such account");
  }
  JsonBody body(call->request.header("content-type"), call->request.body, {"asset", "max_daily_loss"});
  std::string code;
  body.string("asset", &code, true);
  if (!body.ok()) return call->fail(body.problem());
  const auto asset = market_.asset(code);
  if (!asset) return call->fail(422, "UNKNOWN_ASSET", "no asset '" + code + "'");
  int64_t max_loss = 0;
  decimal_field(body, "max_daily_loss", asset->scale, true, &max_loss, false);
  if (body.ok() && max_loss < 0) body.fail(422, "INVALID_LIMIT", "max_daily_loss >= 0 (0: none)");
  if (!body.ok()) return call->fail(body.problem());
  submit(call, Command::set_loss_limit({Amount{max_loss}, AccountId{user_id}, asset->id}),
         [this, call](const CommandOutcome& o) { reply_admin(call, o, 200); });
}

// An instrument's mark source and one tier's rates; the other tiers keep
// their current terms.
void RestApi::post_instrument_margin(const std::shared_ptr<Call>& call) {
  const auto info = instrument_param(call, 0);
  if (!info) return;
  JsonBody body(call->request.header("content-type"), call->request.body,
                {"mark_source", "mark_reference", "tier", "initial_ppm", "maintenance_ppm"});
  SetMarginParams m = info->margin;
  m.instrument = info->spec.id;
  if (static_cast<uint8_t>(m.mark_source) == 0) m.mark_source = MarkSource::kLast;
  std::string source, reference;
  if (body.string("mark_source", &source)) {
    if (source == "LAST") m.mark_source = MarkSource::kLast;
    else if (source == "MID") m.mark_source = MarkSource::kMid;
    else if (source == "REFERENCE") m.mark_source = MarkSource::kReference;
    else body.fail(422, "INVALID_MARK_SOURCE", "mark_source: LAST, MID or REFERENCE");
  }
  if (body.string("mark_reference", &reference)) {
    const auto ref = market_.instrument(reference);
    if (!ref) body.fail(422, "UNKNOWN_SYMBOL", "no instrument named '" + reference + "'");
    else m.mark_reference = ref->spec.id;
  } else if (m.mark_source != MarkSource::kReference) {
    m.mark_reference = InstrumentId{};
  }
  int64_t tier = 0, initial = -1, maintenance = -1;
  if (body.integer("tier", &tier)) {
    body.integer("initial_ppm", &initial, true);
    body.integer("maintenance_ppm", &maintenance, true);
    if (body.ok() && (tier < 1 || tier > kMarginTiers)) {
      body.fail(422, "INVALID_TIER", "tier: 1 to " + std::to_string(kMarginTiers));
    }
    if (body.ok() && (initial < 0 || initial > 1'000'000 || maintenance < 0 || maintenance > 1'000'000)) {
      body.fail(422, "INVALID_MARGIN_PARAMS", "rates are parts per million: 0 to 1000000");
    }
    if (body.ok()) {
      m.initial_ppm[tier - 1] = static_cast<uint32_t>(initial);
      m.maintenance_ppm[tier - 1] = static_cast<uint32_t>(maintenance);
    }
  }
  if (!body.ok()) return call->fail(body.problem());
  submit(call, Command::set_margin_params(m), [this, call](const CommandOutcome& o) { reply_admin(call, o, 200); });
}

// Replaces the instrument's circuits: a member left out is off (0).
void RestApi::post_instrument_circuits(const std::shared_ptr<Call>& call) {
  const auto info = instrument_param(call, 0);
  if (!info) return;
  JsonBody body(call->request.header("content-type"), call->request.body,
                {"lower", "upper", "breaker_bps", "window_s", "cooloff_s"});
  SetCircuitLimits c{};
  c.instrument = info->spec.id;
  int64_t lower = 0, upper = 0, bps = 0, window = 0, cooloff = 0;
  decimal_field(body, "lower", info->spec.price_scale, false, &lower, false);  // "0": off
  decimal_field(body, "upper", info->spec.price_scale, false, &upper, false);
  body.integer("breaker_bps", &bps);
  body.integer("window_s", &window);
  body.integer("cooloff_s", &cooloff);
  // Ranges are the engine's (INVALID_CIRCUIT); these only keep the values in 32 bits.
  for (const int64_t v : {bps, window, cooloff}) {
    if (body.ok() && (v < 0 || v > UINT32_MAX)) body.fail(422, "INVALID_CIRCUIT", "breaker_bps, window_s, cooloff_s: 0 or more");
  }
  if (!body.ok()) return call->fail(body.problem());
  c.lower = Price{lower};
  c.upper = Price{upper};
  c.breaker_bps = static_cast<uint32_t>(bps);
  c.window_s = static_cast<uint32_t>(window);
  c.cooloff_s = static_cast<uint32_t>(cooloff);
  submit(call, Command::set_circuit_limits(c), [this, call](const CommandOutcome& o) { reply_admin(call, o, 200); });
}

void RestApi::post_asset(const std::shared_ptr<Call>& call) {
  JsonBody body(call->request.header("content-type"), call->request.body, {"code", "decimals"});
  std::string code;
  int64_t decimals = -1;
  body.string("code", &code, true);
  body.integer("decimals", &decimals, true);
  if (body.ok() && (code.empty() || code.size() > AssetCode::capacity())) body.fail(422, "INVALID_FIELD", "code: 1..8 characters");
  if (body.ok() && (decimals < 0 || decimals > 18)) body.fail(422, "INVALID_FIELD", "decimals: 0..18");
  if (!body.ok()) return call->fail(body.problem());
  if (market_.asset(code)) return call->fail(409, "DUPLICATE_ASSET", "asset '" + code + "' exists");
  AssetSpec a{};
  a.code = AssetCode::from(code);
  a.id = AssetId{static_cast<uint32_t>(market_.assets().size() + 1)};
  a.scale = static_cast<int32_t>(decimals);
  submit(call, Command::add_asset(a), [this, call](const CommandOutcome& o) { reply_admin(call, o, 201); });
}

void RestApi::post_instrument(const std::shared_ptr<Call>& call) {
  JsonBody body(call->request.header("content-type"), call->request.body,
                {"symbol", "base", "quote", "price_decimals", "tick_size", "lot_size", "min_qty", "max_qty",
                 "min_notional", "reference_price", "price_band_bps", "maker_fee_ppm", "taker_fee_ppm", "external"});
  std::string symbol, base_code, quote_code;
  bool external = false;
  body.boolean("external", &external);
  int64_t price_decimals = -1, band = 1000, maker = 0, taker = 0;
  body.string("symbol", &symbol, true);
  body.string("base", &base_code, true);
  body.string("quote", &quote_code, true);
  body.integer("price_decimals", &price_decimals, true);
  body.integer("price_band_bps", &band);
  body.integer("maker_fee_ppm", &maker);
  body.integer("taker_fee_ppm", &taker);
  if (!body.ok()) return call->fail(body.problem());
  const auto base = market_.asset(base_code);
  const auto quote = market_.asset(quote_code);
  if (!base || !quote) return call->fail(422, "UNKNOWN_ASSET", "base and quote must be existing assets");
  if (symbol.empty() || symbol.size() > Symbol::capacity()) return call->fail(422, "INVALID_FIELD", "symbol: 1..16 characters");
  if (price_decimals < 0 || price_decimals > 18) return call->fail(422, "INVALID_FIELD", "price_decimals: 0..18");
  if (band < 1 || band > 10'000 || maker < 0 || maker > 100'000 || taker < 0 || taker > 100'000) {
    return call->fail(422, "INVALID_FIELD", "price_band_bps: 1..10000; fees: 0..100000 ppm");
  }
  const int ps = static_cast<int>(price_decimals);
  int64_t tick = 0, lot = 0, min_qty = 0, max_qty = 0, min_notional = 0, reference = 0;
  decimal_field(body, "tick_size", ps, true, &tick);
  decimal_field(body, "lot_size", base->scale, true, &lot);
  decimal_field(body, "reference_price", ps, true, &reference);
  if (!decimal_field(body, "min_qty", base->scale, false, &min_qty)) min_qty = lot;
  if (!decimal_field(body, "max_qty", base->scale, false, &max_qty)) max_qty = INT64_MAX / 2;
  decimal_field(body, "min_notional", quote->scale, false, &min_notional, false);
  if (!body.ok()) return call->fail(body.problem());
  if (market_.instrument(symbol)) return call->fail(409, "DUPLICATE_INSTRUMENT", "instrument '" + symbol + "' exists");
  InstrumentSpec s{};
  s.symbol = Symbol::from(symbol);
  s.id = InstrumentId{static_cast<uint32_t>(market_.instruments().size() + 1)};
  s.base = base->id;
  s.quote = quote->id;
  s.price_scale = ps;
  s.tick_size = Price{tick};
  s.lot_size = Qty{lot};
  s.min_qty = Qty{min_qty};
  s.max_qty = Qty{max_qty};
  s.min_notional = Amount{min_notional};
  s.reference_price = Price{reference};
  s.band_bps = static_cast<int32_t>(band);
  s.maker_fee_ppm = static_cast<int32_t>(maker);
  s.taker_fee_ppm = static_cast<int32_t>(taker);
  s.external = external ? 1 : 0;
  // The engine checks the rest (e.g. (tick × lot) mod D = 0) and answers INVALID_INSTRUMENT.
  submit(call, Command::add_instrument(s), [this, call](const CommandOutcome& o) { reply_admin(call, o, 201); });
}

}  // namespace bourse::gateway

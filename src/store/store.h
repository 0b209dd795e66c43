// Store: the persistence port of the server. Users and credentials (API keys,
// OAuth clients, refresh tokens, external identities) live here: they are not
// engine state. So does the history projection (orders, fills, ledger), which
// is derived from the journal and can be rebuilt from it. The
// embedded implementation is SQLite (sqlite_store); a PostgreSQL adapter
// will implement the same interface.
//
// Threads: every method may be called from any thread; implementations
// serialize internally. Never called on the engine or dispatcher thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bourse/core/checked.h"

namespace bourse::store {

struct UserRecord {
  uint32_t id = 0;            // also the user's engine account id
  std::string username;
  std::string password_hash;  // argon2id PHC string; never the password
  std::string role;           // "trader" or "admin"
  int64_t created_ms = 0;
};

struct ApiKeyRecord {
  std::string key_id;         // public identifier, sent with every request
  uint32_t user_id = 0;
  std::string sealed_secret;  // AES-256-GCM under the server's master key
  uint32_t scopes = 0;        // auth::Scope bits
  std::string label;
  std::string ip_allowlist;   // comma-separated addresses; empty = any
  int64_t created_ms = 0;
  bool revoked = false;
};

// A registered OAuth application (authorization_code clients).
struct OAuthClientRecord {
  std::string client_id;
  std::string name;
  std::string secret_hash;    // SHA-256 hex of the client secret; empty = public client (PKCE only)
  std::string redirect_uris;  // space-separated, matched exactly
  uint32_t scopes = 0;        // the most a token for this client may carry
  int64_t created_ms = 0;
};

// A refresh token, stored only as its hash. Tokens rotate: each use issues a
// new one in the same family and marks the old one used; presenting a used
// token revokes the family (RFC 9700 §4.14.2).
struct RefreshTokenRecord {
  std::string token_hash;  // SHA-256 hex
  std::string family;
  std::string client_id;
  uint32_t user_id = 0;
  uint32_t scopes = 0;
  int64_t expires_ms = 0;
  bool used = false;
  bool revoked = false;
};

// --- history projection (written by projector::HistoryProjector) ----------
// Amounts, prices and quantities are the engine's integer minor units; the
// REST layer formats them with the instrument's scales.

struct OrderHistoryRow {
  uint64_t order_id = 0;
  uint32_t account = 0;
  uint32_t instrument = 0;
  std::string client_order_id;
  uint8_t side = 0, type = 0, tif = 0, status = 0, end_reason = 0;  // engine / accounts::OrderStatus codes
  bool post_only = false;
  int64_t price = 0, stop_price = 0, qty = 0, filled = 0, notional_filled = 0, fees = 0;
  int64_t expire_at = 0, created = 0, updated = 0;  // ns since the epoch
  uint64_t seq = 0;  // journal seq of the last change
  uint8_t product = 0;  // Product code: 0 CASH, 1 MARGIN
  bool operator==(const OrderHistoryRow&) const = default;
};

struct FillHistoryRow {
  uint64_t trade_id = 0;
  uint32_t account = 0;
  uint64_t order_id = 0;
  uint32_t instrument = 0;
  uint8_t side = 0;
  bool maker = false;
  int64_t price = 0, qty = 0, notional = 0, fee = 0;
  int64_t time = 0;
  uint64_t seq = 0;
  bool operator==(const FillHistoryRow&) const = default;
};

// One balance change of one account and asset, as the engine reported it.
struct LedgerHistoryRow {
  uint64_t seq = 0;
  uint32_t account = 0;
  uint32_t asset = 0;
  int64_t available = 0, locked = 0;  // after the change
  int64_t change = 0;                 // of available + locked
  uint8_t cause = 0;                  // CommandType of the command that caused it
  int64_t time = 0;
  bool operator==(const LedgerHistoryRow&) const = default;
};

// The outcome of one command that carried an Idempotency-Key (the gateway
// puts the key's tag in the command header's correlation and a 16-bit
// request fingerprint in its source; docs/api.md): what a retry after a
// restart is answered from.
inline constexpr int64_t kIdempotencyTtlMs = 24 * 3600 * 1000;  // how long a key is remembered

struct IdempotencyRow {
  uint64_t tag = 0;            // CommandHeader::correlation
  uint16_t fingerprint = 0;    // CommandHeader::source
  uint64_t seq = 0;            // the command's journal seq
  uint8_t command = 0;         // CommandType
  uint64_t order_id = 0;       // PlaceOrder accepted: the order
  uint16_t reject_reason = 0;  // rejected: RejectReason
  int64_t created_ms = 0;      // the command's timestamp
  bool operator==(const IdempotencyRow&) const = default;
};

// One venue trade (public: no accounts), for GET /v1/trades history.
struct TradeHistoryRow {
  uint64_t trade_id = 0;
  uint32_t instrument = 0;
  int64_t price = 0, qty = 0, notional = 0;
  uint8_t aggressor_side = 0;
  int64_t time = 0;  // ns
  uint64_t seq = 0;
  bool operator==(const TradeHistoryRow&) const = default;
};

// One candle (marketdata::Candle in raw units) of an instrument at an
// interval (marketdata::Interval code). As a batch delta it is merged into
// the stored bar: high/low widen, close/seq replace, volume, notional and
// trades add; open is the first one's. seq: the newest trade in it (a delta
// at or below the stored seq is ignored, so a replay never counts twice).
struct CandleHistoryRow {
  uint32_t instrument = 0;
  uint8_t interval = 0;
  int64_t open_time = 0;  // ns
  int64_t open = 0, high = 0, low = 0, close = 0, volume = 0;
  int64_t notional_hi = 0;   // Int128 notional, two halves (hi signed, lo as unsigned bits)
  int64_t notional_lo = 0;
  int64_t quote_volume = 0;  // Σ the trades' notional (quote asset units), saturating: the 24-hour ticker's
  int64_t trades = 0;
  uint64_t seq = 0;
  bool operator==(const CandleHistoryRow&) const = default;
};

// The candle's notional from / into its two halves.
inline Int128 candle_notional(const CandleHistoryRow& c) {
  return static_cast<Int128>((static_cast<UInt128>(static_cast<uint64_t>(c.notional_hi)) << 64) |
                             static_cast<uint64_t>(c.notional_lo));
}
inline void set_candle_notional(CandleHistoryRow* c, Int128 v) {
  const auto u = static_cast<UInt128>(v);
  c->notional_hi = static_cast<int64_t>(static_cast<uint64_t>(u >> 64));
  c->notional_lo = static_cast<int64_t>(static_cast<uint64_t>(u));
}

// How long market history is kept (0: forever). Applied by the projector.
struct MarketRetention {
  int64_t trades_ns = 0;
  std::array<int64_t, 6> candles_ns{};  // by marketdata::Interval code
};

// The cost basis of one holding (accounts::HoldingCost) as stored: lines in
// accounts::encode_cost_lines form.
struct HoldingCostRow {
  uint32_t account = 0;
  uint32_t asset = 0;
  std::string lines;
  int64_t flow_day = -1;
  int64_t net_flow = 0;
  bool remove = false;  // in a batch: delete the row (nothing left to say)
  bool operator==(const HoldingCostRow&) const = default;
};

// One point of an account's value history (the portfolio recorder).
struct PortfolioValueRow {
  uint32_t account = 0;
  int64_t time = 0;        // ns, on the recorder's interval grid
  uint32_t currency = 0;   // asset id the value is in
  std::string value;       // minor units of `currency`, a decimal integer (may exceed 64 bits)
  bool complete = true;    // false: some holding had no price and is not counted
  bool operator==(const PortfolioValueRow&) const = default;
};

// --- alerts (written by alerts::AlertService) -------------------------------

// One alert rule (alerts::AlertSpec plus what the service keeps about it).
struct AlertRow {
  uint64_t id = 0;
  uint32_t account = 0;
  uint8_t kind = 0;            // alerts::AlertKind
  uint32_t instrument = 0;
  int64_t threshold = 0;
  uint32_t window_minutes = 0;
  uint8_t interval = 0;        // marketdata::Interval code
  uint32_t lookback = 0;
  uint8_t indicator = 0;       // alerts::Indicator
  bool recurring = false;
  int64_t cooldown_ns = 0;
  int64_t expire_at = 0;       // ns; 0: never
  int64_t last_fired = 0;      // ns; 0: never
  uint64_t fired_count = 0;
  uint8_t status = 0;          // 0 active, 1 triggered (a one-shot that fired), 2 expired
  std::string webhook_url;     // empty: no webhook
  std::string sealed_secret;   // the webhook signing secret, sealed under the master key
  std::string note;
  uint64_t armed_seq = 0;      // it watches events after this journal seq
  int64_t created = 0, updated = 0;  // ns
  bool operator==(const AlertRow&) const = default;
};

// One firing: the rendered `data` of the alert message, shared by the
// WebSocket channel, the webhook body and the history.
struct AlertFiringRow {
  uint64_t id = 0;
  uint64_t alert_id = 0;
  uint32_t account = 0;
  int64_t time = 0;  // ns
  uint64_t seq = 0;  // the journal seq of the event that fired it
  std::string data;  // JSON object
  bool operator==(const AlertFiringRow&) const = default;
};

// A webhook delivery of one firing and its attempts so far.
struct WebhookDeliveryRow {
  uint64_t id = 0;
  uint64_t firing_id = 0;
  uint64_t alert_id = 0;
  uint32_t account = 0;
  std::string url;
  uint8_t status = 0;          // 0 pending, 1 delivered, 2 failed (attempts exhausted)
  uint32_t attempts = 0;
  int64_t next_attempt = 0;    // ns, while pending
  int32_t last_status = 0;     // HTTP status of the last attempt (0: none)
  std::string last_error;
  int64_t created = 0, updated = 0;
  bool operator==(const WebhookDeliveryRow&) const = default;
};

struct WebhookAttemptRow {
  uint64_t delivery_id = 0;
  uint32_t attempt = 0;        // 1, 2, …
  int64_t time = 0;            // ns
  int32_t status = 0;          // HTTP status (0: none)
  std::string error;
  int64_t duration_us = 0;
  bool operator==(const WebhookAttemptRow&) const = default;
};

// What one evaluated batch writes, atomically: the firings (ids assigned by
// the caller), the rules' new state, the webhook deliveries to make, and
// the journal seq evaluation is complete to.
struct AlertCommit {
  uint64_t seq = 0;
  std::vector<AlertFiringRow> firings;
  std::vector<AlertRow> alerts;               // their firing state (last_fired, fired_count, status, updated), by id
  std::vector<WebhookDeliveryRow> deliveries; // inserted (ids assigned by the caller)
};

// What one projected batch writes, atomically with the new history_seq.
struct HistoryBatch {
  uint64_t last_seq = 0;
  std::vector<OrderHistoryRow> orders;  // upserted by order id
  std::vector<FillHistoryRow> fills;    // by (trade id, account, order id)
  std::vector<LedgerHistoryRow> ledger; // by (seq, account, asset)
  std::vector<IdempotencyRow> idempotency;  // by tag; the newest command with a tag wins
  int64_t prune_idempotency_before_ms = 0;  // > 0: rows created before this are deleted
  std::vector<TradeHistoryRow> trades;      // by trade id
  std::vector<CandleHistoryRow> candles;    // deltas, merged by (instrument, interval, open_time)
  int64_t prune_trades_before_ns = 0;       // > 0: older trades are deleted
  std::array<int64_t, 6> prune_candles_before_ns{};  // per interval code, > 0: older bars are deleted
  std::vector<HoldingCostRow> holdings;     // replaced by (account, asset), in order
};

struct HistoryQuery {
  uint32_t account = 0;
  std::optional<uint32_t> instrument;
  // Cursor: rows whose key is below (before, before_secondary): order id;
  // (trade id, order id) for fills; (seq, asset) for the ledger.
  uint64_t before = UINT64_MAX;
  uint64_t before_secondary = UINT64_MAX;
  int64_t from = 0;              // time, inclusive (ns)
  int64_t to = INT64_MAX;        // time, exclusive (ns)
  std::size_t limit = 100;
};

enum class StoreError { kOk, kExists, kNotFound, kIo };

class Store {
 public:
  virtual ~Store() = default;
  // Assigns user->id (ascending from 1). kExists when the name is taken.
  virtual StoreError create_user(UserRecord* user) = 0;
  virtual std::optional<UserRecord> user_by_name(std::string_view username) = 0;
  virtual std::optional<UserRecord> user_by_id(uint32_t id) = 0;
  virtual StoreError put_api_key(const ApiKeyRecord& key) = 0;
  virtual std::vector<ApiKeyRecord> api_keys_of(uint32_t user_id) = 0;
  virtual std::vector<ApiKeyRecord> all_api_keys() = 0;
  // kNotFound unless the key exists, belongs to user_id and was not revoked.
  virtual StoreError revoke_api_key(uint32_t user_id, std::string_view key_id) = 0;

  // OAuth.
  virtual StoreError put_oauth_client(const OAuthClientRecord& client) = 0;
  virtual std::optional<OAuthClientRecord> oauth_client(std::string_view client_id) = 0;
  virtual std::vector<OAuthClientRecord> oauth_clients() = 0;
  virtual StoreError put_refresh_token(const RefreshTokenRecord& token) = 0;
  virtual std::optional<RefreshTokenRecord> refresh_token(std::string_view token_hash) = 0;
  // Marks one token used; kNotFound when it was already used or revoked
  // (so two concurrent refreshes cannot both succeed).
  virtual StoreError mark_refresh_token_used(std::string_view token_hash) = 0;
  virtual void revoke_refresh_family(std::string_view family) = 0;
  // Revoked access tokens (by jti) until they would have expired anyway.
  virtual void put_revoked_jti(std::string_view jti, int64_t expires_ms) = 0;
  virtual std::vector<std::pair<std::string, int64_t>> revoked_jtis(int64_t now_ms) = 0;
  // External identities (issuer, subject) mapped to local users.
  virtual std::optional<uint32_t> external_identity(std::string_view issuer, std::string_view subject) = 0;
  virtual StoreError put_external_identity(std::string_view issuer, std::string_view subject, uint32_t user_id) = 0;

  // History (order, fill and ledger history; see HistoryBatch).
  virtual StoreError apply_history(const HistoryBatch& batch) = 0;
  // The journal seq the history is complete up to (0: nothing projected).
  virtual uint64_t history_seq() = 0;
  virtual StoreError set_history_seq(uint64_t seq) = 0;
  virtual StoreError clear_history() = 0;
  // Newest first (descending key), below query.before.
  virtual std::vector<OrderHistoryRow> order_history(const HistoryQuery& query) = 0;
  // Every order whose last projected state is live (new, partially filled, pending trigger).
  virtual std::vector<OrderHistoryRow> live_order_history() = 0;
  virtual std::vector<FillHistoryRow> fill_history(const HistoryQuery& query) = 0;
  virtual std::vector<LedgerHistoryRow> ledger_history(const HistoryQuery& query) = 0;
  // One order of one account from the history (nullopt: none).
  virtual std::optional<OrderHistoryRow> order_history_row(uint32_t account, uint64_t order_id) = 0;
  // Idempotency outcomes created at or after since_ms, newest first, at most limit.
  virtual std::vector<IdempotencyRow> recent_idempotency(int64_t since_ms, std::size_t limit) = 0;
  // Venue trades of an instrument with id < before_id and time in [from, to),
  // newest first, at most limit.
  virtual std::vector<TradeHistoryRow> trade_history(uint32_t instrument, uint64_t before_id, int64_t from, int64_t to,
                                                     std::size_t limit) = 0;
  // The newest stored trade of an instrument (0: none): how far history has got.
  virtual uint64_t newest_trade_id(uint32_t instrument) = 0;
  // Candles with open_time in [from, to), the newest `limit`, oldest first.
  virtual std::vector<CandleHistoryRow> candle_history(uint32_t instrument, uint8_t interval, int64_t from, int64_t to,
                                                       std::size_t limit) = 0;
  // Every holding's cost basis, with the history_seq they are complete to
  // (read together, so a concurrent batch is either wholly in or out).
  virtual std::vector<HoldingCostRow> holding_costs(uint64_t* history_seq) = 0;

  // Portfolio value history (not derived from the journal: clear_history keeps it).
  // Rows with time < prune_before_ns (> 0) are deleted in the same transaction.
  virtual StoreError put_portfolio_values(const std::vector<PortfolioValueRow>& rows, int64_t prune_before_ns) = 0;
  // Newest first: time in [from, to) and < before, at most limit.
  virtual std::vector<PortfolioValueRow> portfolio_values(uint32_t account, int64_t from, int64_t to, int64_t before,
                                                          std::size_t limit) = 0;
  // The newest row with time <= at.
  virtual std::optional<PortfolioValueRow> portfolio_value_at_or_before(uint32_t account, int64_t at) = 0;

  // Alerts (the credentials connection: synchronous=FULL, since a firing
  // that was delivered must not fire again after a crash).
  virtual uint64_t alerts_seq() = 0;
  virtual StoreError commit_alerts(const AlertCommit& commit) = 0;
  virtual StoreError put_alert(const AlertRow& alert) = 0;  // insert or replace by id
  virtual StoreError delete_alert(uint32_t account, uint64_t id) = 0;  // kNotFound unless the account's
  virtual std::optional<AlertRow> alert(uint64_t id) = 0;
  // An account's rules, newest first, ids below `before`; status filter (-1: any).
  virtual std::vector<AlertRow> alerts_of(uint32_t account, int status, uint64_t before, std::size_t limit) = 0;
  virtual std::vector<AlertRow> active_alerts() = 0;
  virtual std::size_t active_alert_count(uint32_t account) = 0;
  // The highest alert, firing and delivery ids used (ids never repeat).
  virtual void alert_id_highs(uint64_t* alert, uint64_t* firing, uint64_t* delivery) = 0;
  // Firings of an account (of one rule when alert_id > 0), newest first, ids below `before`.
  virtual std::vector<AlertFiringRow> alert_firings(uint32_t account, uint64_t alert_id, uint64_t before,
                                                    std::size_t limit) = 0;
  virtual std::optional<AlertFiringRow> alert_firing(uint64_t id) = 0;
  // The pending delivery due soonest, of an account not in `skip`.
  virtual std::optional<WebhookDeliveryRow> next_delivery(const std::vector<uint32_t>& skip) = 0;
  virtual std::size_t pending_delivery_count() = 0;
  virtual std::size_t pending_delivery_count_of(uint32_t account) = 0;
  // One attempt: the delivery's new state and the attempt's log line.
  virtual StoreError record_delivery_attempt(const WebhookDeliveryRow& delivery, const WebhookAttemptRow& attempt) = 0;
  // Deliveries of one rule of an account, newest first, ids below `before`, each with its attempts.
  virtual std::vector<std::pair<WebhookDeliveryRow, std::vector<WebhookAttemptRow>>> deliveries_of(
      uint32_t account, uint64_t alert_id, uint64_t before, std::size_t limit) = 0;
};

// Opens (creating if needed) DATA_DIR/store.sqlite in WAL mode. nullptr and
// *error on failure.
std::unique_ptr<Store> open_sqlite_store(const std::string& path, std::string* error);

}  // namespace bourse::store

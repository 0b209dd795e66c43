#include "alerts/alert_service.h"

#include <algorithm>

#include "alerts/alert_render.h"
#include "alerts/webhook_client.h"
#include "auth/crypto.h"
#include "bourse/core/log.h"
#include "bourse/sequencer/exchange.h"
#include "gateway/json_writer.h"

namespace bourse::alerts {
namespace {

constexpr std::size_t kMaxQueuedInputs = 1'000'000;  // past it evaluation stops and the next start catches up
constexpr int64_t kSweepNs = 1'000'000'000;          // expiry sweep and seq checkpoint
constexpr std::size_t kFiringsPerReplayCommit = 1'000;

}  // namespace

void extract_inputs(std::span<const Event> events, std::vector<AlertInput>* out) {
  for (const Event& e : events) {
    switch (e.type) {
      case EventType::kTrade: {
        const Trade& t = e.trade;
        AlertInput in;
        in.type = AlertInput::Type::kTrade;
        in.seq = e.cause.seq;
        in.time = e.cause.timestamp;
        in.instrument = t.instrument.value;
        in.price = t.price.value;
        in.qty = t.qty.value;
        in.trade_id = t.trade_id.value;
        out->push_back(in);
        in.type = AlertInput::Type::kFill;
        for (const TradeLeg* leg : {&t.aggressor, &t.passive}) {
          in.account = leg->account.value;
          in.order_id = leg->order_id.value;
          in.side = (leg == &t.aggressor) == (t.aggressor_side == Side::kBuy) ? Side::kBuy : Side::kSell;
          out->push_back(in);
        }
        break;
      }
      case EventType::kExternalTradeApplied: {
        AlertInput in;
        in.type = AlertInput::Type::kTrade;
        in.seq = e.cause.seq;
        in.time = e.external_trade.time;  // the source's time, as candles use it
        in.instrument = e.external_trade.instrument.value;
        in.price = e.external_trade.price.value;
        in.qty = e.external_trade.qty.value;
        out->push_back(in);
        break;
      }
      case EventType::kMarginStatusChanged: {
        if (!e.margin_status.in_call) break;
        AlertInput in;
        in.type = AlertInput::Type::kMarginCall;
        in.seq = e.cause.seq;
        in.time = e.cause.timestamp;
        in.account = e.margin_status.account.value;
        in.asset = e.margin_status.asset.value;
        in.equity = e.margin_status.equity.get();
        in.maintenance = e.margin_status.maintenance.get();
        out->push_back(in);
        break;
      }
      default: break;
    }
  }
}

AlertService::AlertService(store::Store& store, const marketdata::MarketView& market, Clock& clock,
                           std::string master_key, AlertServiceOptions options, Publish publish,
                           std::function<uint64_t()> journal_seq)
    : store_(store), market_(market), clock_(clock), master_key_(std::move(master_key)), options_(options),
      publish_(std::move(publish)), journal_seq_(std::move(journal_seq)) {}

AlertService::~AlertService() {
  if (thread_.joinable() || !webhook_threads_.empty()) stop(0);
}

AlertSpec AlertService::spec_of(const store::AlertRow& r) {
  AlertSpec s;
  s.id = r.id;
  s.account = AccountId{r.account};
  s.kind = static_cast<AlertKind>(r.kind);
  s.instrument = InstrumentId{r.instrument};
  s.threshold = r.threshold;
  s.window_minutes = r.window_minutes;
  s.interval = static_cast<marketdata::Interval>(r.interval);
  s.lookback = r.lookback;
  s.indicator = static_cast<Indicator>(r.indicator);
  s.recurring = r.recurring;
  s.cooldown_ns = r.cooldown_ns;
  s.expire_at = r.expire_at;
  s.last_fired = r.last_fired;
  return s;
}

void AlertService::seed_market_from_store() {
  for (const marketdata::InstrumentInfo& info : market_.instruments()) {
    const uint32_t id = info.spec.id.value;
    std::vector<std::pair<int64_t, int64_t>> minutes;
    for (marketdata::Interval interval : marketdata::kIntervals) {
      const auto rows = store_.candle_history(id, static_cast<uint8_t>(interval), INT64_MIN, INT64_MAX, 1'001);
      std::vector<marketdata::Candle> bars;
      for (const store::CandleHistoryRow& r : rows) {
        marketdata::Candle c;
        c.open_time_ns = r.open_time;
        c.open = r.open;
        c.high = r.high;
        c.low = r.low;
        c.close = r.close;
        c.volume = r.volume;
        c.notional = store::candle_notional(r);
        c.ticks = static_cast<uint32_t>(r.trades);
        bars.push_back(c);
      }
      if (!bars.empty()) engine_.restore_candles(info.spec.id, interval, bars);
    }
    for (const store::CandleHistoryRow& r :
         store_.candle_history(id, static_cast<uint8_t>(marketdata::Interval::k1m), INT64_MIN, INT64_MAX,
                               kMaxChangeWindowMinutes + 1)) {
      minutes.emplace_back(r.open_time / 60'000'000'000, r.close);
    }
    engine_.restore_price(info.spec.id, info.last_price, minutes);
  }
}

void AlertService::record(const std::vector<Firing>& fired, uint64_t seq, store::AlertCommit* commit) {
  const int64_t now = clock_.now();
  for (const Firing& f : fired) {
    auto it = rows_.find(f.alert_id);
    if (it == rows_.end()) continue;
    store::AlertRow& row = it->second;
    row.last_fired = f.time;
    ++row.fired_count;
    row.updated = now;
    if (f.last) row.status = 1;
    store::AlertFiringRow firing{next_firing_id_++, f.alert_id, row.account, f.time, seq, {}};
    firing.data = render_firing(f, row, firing.id, seq, market_);
    if (!row.webhook_url.empty()) {
      store::WebhookDeliveryRow d;
      d.id = next_delivery_id_++;
      d.firing_id = firing.id;
      d.alert_id = row.id;
      d.account = row.account;
      d.url = row.webhook_url;
      d.next_attempt = now;
      d.created = d.updated = now;
      // One account's dead receiver must not grow a backlog without bound.
      std::size_t waiting = store_.pending_delivery_count_of(row.account);
      for (const store::WebhookDeliveryRow& p : commit->deliveries) waiting += p.account == row.account && p.status == 0;
      if (waiting >= options_.webhook_max_pending_per_account) {
        d.status = 2;
        d.last_error = "too many deliveries pending for this account";
      }
      commit->deliveries.push_back(std::move(d));
    }
    commit->firings.push_back(std::move(firing));
    commit->alerts.push_back(row);
    ++fired_;
    if (f.last) {
      --active_per_account_[row.account];
      rows_.erase(it);
    }
  }
}

namespace {

void feed(AlertEngine& engine, const AlertInput& in, std::vector<Firing>* fired) {
  switch (in.type) {
    case AlertInput::Type::kTrade:
      engine.on_trade(InstrumentId{in.instrument}, Price{in.price}, Qty{in.qty}, in.time, fired);
      break;
    case AlertInput::Type::kFill:
      engine.on_fill(AccountId{in.account}, InstrumentId{in.instrument}, OrderId{in.order_id}, TradeId{in.trade_id},
                     in.side, Price{in.price}, Qty{in.qty}, in.time, fired);
      break;
    case AlertInput::Type::kMarginCall:
      engine.on_margin_call(AccountId{in.account}, AssetId{in.asset}, in.equity, in.maintenance, in.time, fired);
      break;
  }
}

}  // namespace

bool AlertService::replay(const std::string& data_dir, const Engine& engine, uint64_t done, std::string* error) {
  log_line(LogLevel::kInfo, "alerts", "evaluated to seq %llu, journal at %llu: replaying the journal",
           static_cast<unsigned long long>(done), static_cast<unsigned long long>(engine.last_seq()));
  // Rules join in the order they were armed; none is armed while events up
  // to `done` (already evaluated and committed) only rebuild market state.
  std::vector<store::AlertRow> waiting;
  for (const auto& [id, row] : rows_) waiting.push_back(row);
  std::sort(waiting.begin(), waiting.end(),
            [](const store::AlertRow& a, const store::AlertRow& b) { return a.armed_seq < b.armed_seq; });
  std::size_t next = 0;
  Engine shadow(engine.config());
  store::AlertCommit commit;
  std::vector<AlertInput> inputs;
  std::vector<Firing> fired;
  bool ok = true;
  const ReplayResult r = replay_data_dir(data_dir, true, &shadow, [&](std::span<const Event> events) {
    if (!ok) return;  // a refused commit: the stored seq stays, and the next start catches up from it
    inputs.clear();
    extract_inputs(events, &inputs);
    for (const AlertInput& in : inputs) {
      if (in.seq > done) {
        while (next < waiting.size() && waiting[next].armed_seq < in.seq) engine_.add(spec_of(waiting[next++]));
      }
      fired.clear();
      feed(engine_, in, &fired);
      if (!fired.empty()) record(fired, in.seq, &commit);
      commit.seq = std::max(commit.seq, in.seq);
    }
    if (commit.firings.size() >= kFiringsPerReplayCommit) {
      ok &= store_.commit_alerts(commit) == store::StoreError::kOk;
      commit = store::AlertCommit{commit.seq, {}, {}, {}};
    }
  });
  if (!r.ok) {
    *error = "alerts catch-up: " + r.error;
    return false;
  }
  while (next < waiting.size()) engine_.add(spec_of(waiting[next++]));
  commit.seq = engine.last_seq();
  if (ok) ok = store_.commit_alerts(commit) == store::StoreError::kOk;
  if (!ok) {
    *error = "alerts catch-up: the store refused a write";
    return false;
  }
  log_line(LogLevel::kInfo, "alerts", "caught up to seq %llu (%llu alerts fired while behind)",
           static_cast<unsigned long long>(engine.last_seq()), static_cast<unsigned long long>(fired_));
  return true;
}

bool AlertService::start(const std::string& data_dir, const Engine& engine, std::string* error) {
  const uint64_t done = store_.alerts_seq();
  store_.alert_id_highs(&next_alert_id_, &next_firing_id_, &next_delivery_id_);
  ++next_alert_id_;
  ++next_firing_id_;
  ++next_delivery_id_;
  for (store::AlertRow& row : store_.active_alerts()) rows_.emplace(row.id, std::move(row));
  for (const auto& [id, row] : rows_) ++active_per_account_[row.account];
  if (done < engine.last_seq() && !rows_.empty()) {
    if (!replay(data_dir, engine, done, error)) return false;
  } else {
    // Nothing can have been missed: the stored bars are the market state.
    seed_market_from_store();
    for (const auto& [id, row] : rows_) {
      if (!engine_.add(spec_of(row))) log_line(LogLevel::kWarn, "alerts", "stored rule %llu is malformed: ignored",
                                               static_cast<unsigned long long>(id));
    }
  }
  evaluated_seq_ = committed_seq_ = std::max(done, engine.last_seq());
  if (done < committed_seq_ && store_.commit_alerts(store::AlertCommit{committed_seq_, {}, {}, {}}) != store::StoreError::kOk) {
    *error = "alerts: the store refused a write";
    return false;
  }
  thread_ = std::thread([this] { run(); });
  for (uint32_t k = 0; k < std::max<uint32_t>(1, options_.webhook_senders); ++k) {
    webhook_threads_.emplace_back([this] { run_webhooks(); });
  }
  return true;
}

void AlertService::on_durable_batch(std::span<const Event> events) {
  std::vector<AlertInput> inputs;
  extract_inputs(events, &inputs);
  if (inputs.empty()) return;
  {
    std::lock_guard lock(queue_mutex_);
    if (stalled_) return;
    if (queue_.size() + inputs.size() > kMaxQueuedInputs) {
      stalled_ = true;
      queue_.clear();
      log_line(LogLevel::kError, "alerts", "evaluation is %zu inputs behind: stopped; the next start catches up",
               kMaxQueuedInputs);
      return;
    }
    queue_.insert(queue_.end(), inputs.begin(), inputs.end());
  }
  queue_cv_.notify_one();
}

bool AlertService::commit(store::AlertCommit& c) {
  if (store_.commit_alerts(c) != store::StoreError::kOk) {
    log_line(LogLevel::kError, "alerts", "the store refused %zu firings; retrying with the next batch", c.firings.size());
    return false;
  }
  committed_seq_ = c.seq;
  return true;
}

void AlertService::arm_waiting(uint64_t before_seq) {
  while (!waiting_.empty() && static_cast<uint64_t>(waiting_.begin()->first) < before_seq) {
    const uint64_t id = waiting_.begin()->second;
    waiting_.erase(waiting_.begin());
    if (auto it = rows_.find(id); it != rows_.end()) engine_.add(spec_of(it->second));
  }
}

void AlertService::process(std::vector<AlertInput>& inputs, std::vector<store::AlertFiringRow>* out) {
  std::vector<Firing> fired;
  std::lock_guard lock(state_mutex_);
  for (const AlertInput& in : inputs) {
    arm_waiting(in.seq);
    fired.clear();
    feed(engine_, in, &fired);
    if (!fired.empty()) record(fired, in.seq, &pending_);
    evaluated_seq_ = std::max(evaluated_seq_, in.seq);
  }
  const int64_t now = clock_.now();
  bool stalled = false;
  {
    std::lock_guard q(queue_mutex_);
    stalled = stalled_;
  }
  // Stalled, the dropped events may predate an expiry: the next start's
  // catch-up judges those rules, not the wall clock.
  const bool sweep = now - last_sweep_ns_ >= kSweepNs && !stalled;
  if (sweep) {
    last_sweep_ns_ = now;
    // Not past the events still being evaluated (a late external trade
    // before a rule's expiry may still fire it); when caught up, now.
    const int64_t until = inputs.empty() ? now : std::min<int64_t>(now, inputs.back().time);
    // Rules not armed yet expire too (they would never fire past it).
    std::vector<uint64_t> gone = engine_.expire(until);
    for (auto w = waiting_.begin(); w != waiting_.end();) {
      auto it = rows_.find(w->second);
      if (it != rows_.end() && it->second.expire_at && it->second.expire_at <= until) {
        gone.push_back(w->second);
        w = waiting_.erase(w);
      } else {
        ++w;
      }
    }
    for (const uint64_t id : gone) {
      auto it = rows_.find(id);
      if (it == rows_.end()) continue;
      it->second.status = 2;
      it->second.updated = now;
      pending_.alerts.push_back(it->second);
      --active_per_account_[it->second.account];
      rows_.erase(it);
    }
  }
  const bool worth = !pending_.firings.empty() || !pending_.alerts.empty() || (sweep && evaluated_seq_ > committed_seq_);
  if (!worth) return;
  pending_.seq = evaluated_seq_;
  if (!commit(pending_)) return;
  for (auto& f : pending_.firings) out->push_back(std::move(f));
  pending_ = store::AlertCommit{};
}

void AlertService::run() {
  std::vector<AlertInput> inputs;
  std::vector<store::AlertFiringRow> out;
  for (;;) {
    bool last = false;
    {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait_for(lock, std::chrono::milliseconds(kSweepNs / 1'000'000),
                         [this] { return stopping_ || !queue_.empty(); });
      inputs.swap(queue_);
      last = stopping_ && inputs.empty();
    }
    out.clear();
    if (last) {
      // Everything queued is evaluated: record how far, firing or not.
      std::lock_guard lock(state_mutex_);
      if (!pending_.firings.empty() || !pending_.alerts.empty() || evaluated_seq_ > committed_seq_) {
        pending_.seq = evaluated_seq_;
        if (commit(pending_)) pending_ = store::AlertCommit{};
      }
      break;
    }
    process(inputs, &out);
    inputs.clear();
    if (out.empty()) continue;
    for (const store::AlertFiringRow& f : out) publish_(f);
    {
      std::lock_guard lock(webhook_mutex_);
      ++webhook_generation_;  // every sender looks again
    }
    webhook_cv_.notify_all();
  }
}

void AlertService::stop(uint64_t last_seq) {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(webhook_mutex_);
    webhook_stopping_ = true;
  }
  webhook_cv_.notify_all();
  for (std::thread& t : webhook_threads_) t.join();
  webhook_threads_.clear();
  // The dispatcher has stopped: every durable event reached the queue and
  // was evaluated, so nothing up to last_seq can be missed — unless
  // evaluation stalled or its last commit failed.
  std::lock_guard lock(state_mutex_);
  bool stalled = false;
  {
    std::lock_guard q(queue_mutex_);
    stalled = stalled_;
  }
  const bool all_committed = pending_.firings.empty() && pending_.alerts.empty() && committed_seq_ == evaluated_seq_;
  if (!stalled && all_committed && last_seq > committed_seq_) {
    store::AlertCommit c;
    c.seq = last_seq;
    commit(c);
  }
}

// A rule changed while a commit is outstanding could be overwritten by it.
bool AlertService::commit_outstanding() {
  if (pending_.firings.empty() && pending_.alerts.empty()) return true;
  return false;
}

// Where a new or changed rule starts watching: the journal as it is now
// (evaluation may lag it), so a queued older event never fires it.
uint64_t AlertService::arm_seq() const {
  return std::max(evaluated_seq_, journal_seq_ ? journal_seq_() : 0);
}

void AlertService::arm(const store::AlertRow& row) {
  if (row.armed_seq <= evaluated_seq_) {
    engine_.add(spec_of(row));
  } else {
    waiting_.emplace(static_cast<Timestamp>(row.armed_seq), row.id);
  }
}

void AlertService::disarm(uint64_t id, uint64_t armed_seq) {
  if (!engine_.remove(id)) erase_entry(waiting_, static_cast<Timestamp>(armed_seq), id);
}

// --- rule changes -------------------------------------------------------

AlertError AlertService::create(store::AlertRow* row, std::string* secret) {
  std::lock_guard lock(state_mutex_);
  if (active_per_account_[row->account] >= options_.max_alerts_per_account) return AlertError::kLimit;
  const int64_t now = clock_.now();
  row->id = next_alert_id_;
  row->status = 0;
  row->fired_count = 0;
  row->last_fired = 0;
  row->armed_seq = arm_seq();
  row->created = row->updated = now;
  // Checked on a scratch engine: the real one may not arm it yet.
  if (!AlertEngine().add(spec_of(*row))) return AlertError::kInvalid;
  row->sealed_secret.clear();
  if (!row->webhook_url.empty()) {
    *secret = "whsec_" + auth::random_hex(24);
    row->sealed_secret = auth::seal(master_key_, *secret);
  }
  if (store_.put_alert(*row) != store::StoreError::kOk) return AlertError::kUnavailable;
  arm(*row);
  ++next_alert_id_;
  ++active_per_account_[row->account];
  rows_.emplace(row->id, *row);
  return AlertError::kOk;
}

AlertError AlertService::update(store::AlertRow* row, std::string* secret) {
  std::lock_guard lock(state_mutex_);
  if (!commit_outstanding()) return AlertError::kUnavailable;
  // The rule as it is now: a DELETE or a firing may have come after the
  // caller read it.
  auto it = rows_.find(row->id);
  const bool active = it != rows_.end();
  const auto current = active ? std::optional(it->second) : store_.alert(row->id);
  if (!current || current->account != row->account) return AlertError::kNotFound;
  if (!active && active_per_account_[row->account] >= options_.max_alerts_per_account) return AlertError::kLimit;
  // What a rule is, and what only firing changes, stay as they are.
  row->kind = current->kind;
  row->instrument = current->instrument;
  row->created = current->created;
  row->fired_count = current->fired_count;
  row->last_fired = current->last_fired;
  if (row->webhook_url.empty()) {
    row->sealed_secret.clear();
  } else if (row->webhook_url != current->webhook_url || current->sealed_secret.empty()) {
    // A new destination gets a new secret: the old receiver cannot sign for it.
    *secret = "whsec_" + auth::random_hex(24);
    row->sealed_secret = auth::seal(master_key_, *secret);
  } else {
    row->sealed_secret = current->sealed_secret;
  }
  row->status = 0;
  row->armed_seq = arm_seq();
  row->updated = clock_.now();
  if (!AlertEngine().add(spec_of(*row))) return AlertError::kInvalid;
  if (store_.put_alert(*row) != store::StoreError::kOk) return AlertError::kUnavailable;
  if (active) disarm(row->id, current->armed_seq);
  arm(*row);
  if (!active) ++active_per_account_[row->account];
  rows_[row->id] = *row;
  return AlertError::kOk;
}

AlertError AlertService::remove(uint32_t account, uint64_t id) {
  std::lock_guard lock(state_mutex_);
  if (!commit_outstanding()) return AlertError::kUnavailable;
  switch (store_.delete_alert(account, id)) {
    case store::StoreError::kOk: break;
    case store::StoreError::kNotFound: return AlertError::kNotFound;
    default: return AlertError::kUnavailable;
  }
  if (auto it = rows_.find(id); it != rows_.end()) {
    disarm(id, it->second.armed_seq);
    rows_.erase(it);
    --active_per_account_[account];
  }
  return AlertError::kOk;
}

std::optional<store::AlertRow> AlertService::get(uint32_t account, uint64_t id) {
  {
    std::lock_guard lock(state_mutex_);
    auto it = rows_.find(id);
    if (it != rows_.end()) {
      if (it->second.account != account) return std::nullopt;
      return it->second;
    }
  }
  auto row = store_.alert(id);
  if (!row || row->account != account) return std::nullopt;
  return row;
}

uint64_t AlertService::evaluated_seq() const {
  std::lock_guard lock(state_mutex_);
  return evaluated_seq_;
}

uint64_t AlertService::fired() const {
  std::lock_guard lock(state_mutex_);
  return fired_;
}

uint64_t AlertService::deliveries_pending() const { return store_.pending_delivery_count(); }

// --- webhooks -----------------------------------------------------------

void AlertService::deliver(store::WebhookDeliveryRow d) {
  const int64_t now = clock_.now();
  store::WebhookAttemptRow attempt;
  attempt.delivery_id = d.id;
  attempt.attempt = ++d.attempts;
  attempt.time = now;
  const auto alert = store_.alert(d.alert_id);
  const auto firing = store_.alert_firing(d.firing_id);
  const auto secret = alert ? auth::open_sealed(master_key_, alert->sealed_secret) : std::nullopt;
  std::string url_error;
  const auto url = parse_webhook_url(d.url, &url_error);
  WebhookResult result;
  bool final = false;  // nothing to retry
  if (!alert || !firing || !secret) {
    result.error = "alert deleted";
    final = true;
  } else if (alert->webhook_url != d.url) {
    result.error = "webhook url changed";  // the rule points elsewhere now; its new secret is not this URL's
    final = true;
  } else if (!url) {
    result.error = "bad url: " + url_error;
    final = true;
  } else {
    std::string body;
    gateway::JsonWriter w(&body);
    w.begin_object().field("event", "alert.fired").field("delivery_id", std::to_string(d.id));
    w.key("data").raw(firing->data);
    w.end_object();
    // Stripe-style: the signed text is "<unix seconds>.<body>", so a
    // receiver can refuse old or replayed deliveries by their timestamp.
    const std::string t = std::to_string(now / 1'000'000'000);
    WebhookPost post;
    post.body = std::move(body);
    post.timeout_ms = options_.webhook_timeout_ms;
    post.allow_private = options_.webhook_allow_private;
    post.headers = {{"Bourse-Signature", "t=" + t + ",v1=" + auth::hmac_sha256_hex(*secret, t + "." + post.body)},
                    {"Bourse-Delivery", std::to_string(d.id)},
                    {"Bourse-Event", "alert.fired"}};
    result = post_webhook(*url, post);
    if (result.status && !result.delivered()) result.error = "HTTP " + std::to_string(result.status);
  }
  attempt.status = result.status;
  attempt.error = result.error;
  attempt.duration_us = result.duration_us;
  d.last_status = result.status;
  d.last_error = result.error;
  d.updated = clock_.now();
  if (result.delivered()) {
    d.status = 1;
  } else if (final || d.attempts >= options_.webhook_max_attempts) {
    d.status = 2;
  } else {
    // base · 2^(attempts − 1), saturating at the cap.
    const uint32_t shift = d.attempts - 1;
    const int64_t base = options_.webhook_retry_base_ns, cap = options_.webhook_retry_max_ns;
    d.next_attempt = d.updated + (shift < 62 && base <= (cap >> shift) ? base << shift : cap);
  }
  if (store_.record_delivery_attempt(d, attempt) != store::StoreError::kOk) {
    // Not recorded: kept here and recorded before this delivery is tried
    // again, so a store failure never turns into a burst of POSTs.
    log_line(LogLevel::kError, "alerts", "cannot record webhook delivery %llu", static_cast<unsigned long long>(d.id));
    std::lock_guard lock(webhook_mutex_);
    unrecorded_[d.id] = {d, attempt};
  }
}

// One of options_.webhook_senders threads: each takes the soonest due
// delivery of an account no other sender is serving.
void AlertService::run_webhooks() {
  std::unique_lock lock(webhook_mutex_);
  while (!webhook_stopping_) {
    const uint64_t generation = webhook_generation_;
    const int64_t now = clock_.now();
    // An attempt the store refused is recorded before its delivery is tried again.
    std::optional<std::pair<store::WebhookDeliveryRow, store::WebhookAttemptRow>> retry_record;
    for (const auto& [id, entry] : unrecorded_) {
      if (!busy_accounts_.count(entry.first.account)) {
        retry_record = entry;
        break;
      }
    }
    // Read under the lock: a delivery is released only after its attempt is
    // recorded, so no sender reads it stale and sends it twice.
    std::optional<store::WebhookDeliveryRow> next;
    if (!retry_record) next = store_.next_delivery({busy_accounts_.begin(), busy_accounts_.end()});
    const bool due = next && next->next_attempt <= now;
    if (retry_record || due) {
      // One delivery per account at a time: an account's slow receiver
      // holds one sender, never all of them.
      const uint32_t account = retry_record ? retry_record->first.account : next->account;
      busy_accounts_.insert(account);
      lock.unlock();
      if (due) {
        deliver(*next);
      } else if (store_.record_delivery_attempt(retry_record->first, retry_record->second) == store::StoreError::kOk) {
        std::lock_guard relock(webhook_mutex_);
        unrecorded_.erase(retry_record->first.id);
      } else {
        std::this_thread::sleep_for(std::chrono::seconds(1));  // the store is failing: do not spin
      }
      lock.lock();
      busy_accounts_.erase(account);
      ++webhook_generation_;  // the account's next delivery may be due: another sender can take it
      webhook_cv_.notify_all();
      continue;
    }
    const int64_t wait_ns = std::clamp<int64_t>(next ? next->next_attempt - now : kSweepNs, 1'000'000, kSweepNs);
    webhook_cv_.wait_for(lock, std::chrono::nanoseconds(wait_ns),
                         [&] { return webhook_stopping_ || webhook_generation_ != generation; });
  }
}

}  // namespace bourse::alerts

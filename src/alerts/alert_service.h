// AlertService: the alert rules of every account, evaluated on durable
// events, persisted, and delivered (docs/alerts.md).
//
// The dispatcher hands it each durable batch (on_durable_batch copies the
// trades, fills and margin calls into a queue); its own thread feeds them
// to the AlertEngine in journal order and commits every firing, the rules'
// new state and the webhook deliveries to make together with the journal
// seq evaluation is complete to (Store::commit_alerts). Only then does a
// firing go out: to the `publish` callback (the WebSocket channel) and to
// the webhook sender thread, which POSTs each delivery with an HMAC-SHA256
// signature, retries with exponential backoff and logs every attempt.
//
// Restart: if evaluation stopped short of the journal (a crash), start()
// replays the journal through a shadow engine: events up to the committed
// seq only rebuild market state, later ones are evaluated against the rules
// that were armed at the time (AlertRow::armed_seq), so what was missed
// fires once and what fired before does not fire again. After a clean stop
// the market state comes from the stored candles instead.
//
// Rule changes (create, update, delete) come from request workers; they
// take the same lock as evaluation, so each change lands between two
// batches, and the store write happens before the change is visible.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "alerts/alert_engine.h"
#include "bourse/core/clock.h"
#include "bourse/sequencer/engine_service.h"
#include "marketdata/market_view.h"
#include "store/store.h"

namespace bourse::alerts {

struct AlertServiceOptions {
  std::size_t max_alerts_per_account = 200;  // active rules
  bool webhook_allow_private = false;        // loopback and private addresses (tests, private networks)
  int webhook_timeout_ms = 5'000;
  uint32_t webhook_max_attempts = 12;
  int64_t webhook_retry_base_ns = 1'000'000'000;  // 1 s, 2 s, 4 s, … capped at retry_max
  int64_t webhook_retry_max_ns = 300'000'000'000;
  uint32_t webhook_senders = 4;                   // threads; one account is served by one at a time
  std::size_t webhook_max_pending_per_account = 100;  // more: a new delivery is failed at once
};

enum class AlertError { kOk, kNotFound, kLimit, kInvalid, kUnavailable };

// One input to the rules, taken from a durable event.
struct AlertInput {
  enum class Type : uint8_t { kTrade, kFill, kMarginCall };
  Type type = Type::kTrade;
  uint64_t seq = 0;
  Timestamp time = 0;
  uint32_t instrument = 0, account = 0;
  int64_t price = 0, qty = 0;
  uint64_t order_id = 0, trade_id = 0;
  Side side = Side::kBuy;
  Int128 equity = 0, maintenance = 0;
  uint32_t asset = 0;
};
// Appends what the rules care about from one batch, in order.
void extract_inputs(std::span<const Event> events, std::vector<AlertInput>* out);

class AlertService final : public EventListener {
 public:
  // publish(account, firing): a firing to push on the account's channel
  // (the firing's data is the message's data).
  using Publish = std::function<void(const store::AlertFiringRow& firing)>;

  // journal_seq: the journal's durable seq now (where a new rule starts
  // watching; empty: the evaluated seq).
  AlertService(store::Store& store, const marketdata::MarketView& market, Clock& clock, std::string master_key,
               AlertServiceOptions options, Publish publish, std::function<uint64_t()> journal_seq = {});
  ~AlertService();

  // Loads the rules and rebuilds the market state up to the engine's last
  // seq (replaying the journal when evaluation is behind it, firing what
  // was missed); then starts the evaluation and webhook threads. Call before
  // the engine service starts dispatching.
  bool start(const std::string& data_dir, const Engine& engine, std::string* error);
  // After the dispatcher stopped: evaluates what is queued, records last_seq
  // (nothing after it can be missed) and stops the threads.
  void stop(uint64_t last_seq);

  void on_durable_batch(std::span<const Event> events) override;

  // Rule changes. create: *row carries the rule (id, timestamps and
  // armed_seq are set here); with a webhook URL a signing secret is made,
  // sealed into the row and returned once in *secret.
  AlertError create(store::AlertRow* row, std::string* secret);
  // Replaces a rule's definition (same id and account), re-arming it: it
  // watches events from now on, its state (last firing) kept. A webhook URL
  // on a rule without a secret gets one (*secret, shown once).
  AlertError update(store::AlertRow* row, std::string* secret);
  AlertError remove(uint32_t account, uint64_t id);
  std::optional<store::AlertRow> get(uint32_t account, uint64_t id);

  // Counters for /metrics.
  uint64_t evaluated_seq() const;
  uint64_t fired() const;
  uint64_t deliveries_pending() const;

 private:
  void run();
  void run_webhooks();
  void process(std::vector<AlertInput>& inputs, std::vector<store::AlertFiringRow>* out);
  void arm_waiting(uint64_t before_seq);
  bool commit_outstanding();
  uint64_t arm_seq() const;
  void arm(const store::AlertRow& row);
  void disarm(uint64_t id, uint64_t armed_seq);
  void record(const std::vector<Firing>& fired, uint64_t seq, store::AlertCommit* commit);
  static AlertSpec spec_of(const store::AlertRow& r);
  void seed_market_from_store();
  bool replay(const std::string& data_dir, const Engine& engine, uint64_t done, std::string* error);
  bool commit(store::AlertCommit& c);
  void deliver(store::WebhookDeliveryRow d);

  store::Store& store_;
  const marketdata::MarketView& market_;
  Clock& clock_;
  const std::string master_key_;
  const AlertServiceOptions options_;
  Publish publish_;
  std::function<uint64_t()> journal_seq_;

  // Evaluation state: under state_mutex_.
  mutable std::mutex state_mutex_;
  AlertEngine engine_;
  std::unordered_map<uint64_t, store::AlertRow> rows_;  // active rules
  std::unordered_map<uint32_t, std::size_t> active_per_account_;
  std::multimap<Timestamp, uint64_t> waiting_;  // armed_seq → rule: armed when evaluation passes it
  store::AlertCommit pending_;                  // evaluated but not yet committed (the store refused it)
  uint64_t evaluated_seq_ = 0;  // every event up to it is evaluated
  uint64_t committed_seq_ = 0;
  uint64_t next_alert_id_ = 1, next_firing_id_ = 1, next_delivery_id_ = 1;
  uint64_t fired_ = 0;
  int64_t last_sweep_ns_ = 0;

  // Input queue: dispatcher → evaluation thread.
  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::vector<AlertInput> queue_;
  bool stopping_ = false;
  bool stalled_ = false;  // too far behind: evaluation resumes from the journal at the next start
  std::thread thread_;

  // Webhook senders.
  std::mutex webhook_mutex_;
  std::condition_variable webhook_cv_;
  uint64_t webhook_generation_ = 0;  // bumped when work may have appeared: senders look again
  bool webhook_stopping_ = false;
  std::unordered_set<uint32_t> busy_accounts_;  // accounts a sender is delivering for
  // Attempts made but not yet in the store (it refused the write).
  std::unordered_map<uint64_t, std::pair<store::WebhookDeliveryRow, store::WebhookAttemptRow>> unrecorded_;
  std::vector<std::thread> webhook_threads_;
};

}  // namespace bourse::alerts

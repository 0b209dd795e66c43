// Exchange: the sequencer, journal, snapshots and engine of one shard, in one
// process. submit() stamps a command with the next sequence number and a
// timestamp, appends it to the journal, applies it to the engine and returns
// its events. Durability is separate: a caller acknowledges a command to a
// client only once durable_seq() has reached it (group commit on the
// journal's thread), so the engine never waits for fsync.
//
// Threads: submit(), snapshot_now() and engine() belong to one thread (the
// engine thread). durable_seq()/wait_durable() may be called from any thread.
// Start-up and configuration errors are returned as strings, never thrown
// from submit().
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>

#include "bourse/core/clock.h"
#include "bourse/engine/engine.h"
#include "bourse/sequencer/journal.h"

namespace bourse {

struct ExchangeOptions {
  std::string data_dir = "./data";  // journal/ and snapshots/ live below it
  EngineConfig engine;
  bool fsync = true;                    // false: journal written but not fdatasync'ed (benchmarks)
  uint64_t snapshot_every = 1'000'000;  // commands between snapshots; 0 = only on close
  int keep_snapshots = 3;
  std::size_t segment_bytes = 64u << 20;
  Clock* clock = nullptr;               // nullptr: the system clock
  // Corruption that would drop whole journal segments (not just a torn or
  // corrupt tail) loses records that may have been acknowledged: refuse to
  // start unless the operator accepts that loss.
  bool accept_journal_loss = false;
};

struct RecoveryReport {
  bool snapshot_loaded = false;
  Seq snapshot_seq = 0;
  uint64_t replayed = 0;          // journal records applied after the snapshot
  Seq last_seq = 0;               // state after recovery
  JournalScanReport journal;      // truncation details, if any
};

class Exchange {
 public:
  // Recovers the newest valid snapshot plus the journal after it (repairing a
  // torn tail), then opens the journal for appending.
  static std::unique_ptr<Exchange> open(const ExchangeOptions& options, std::string* error);
  ~Exchange();  // close()

  // After a journal failure nothing more is applied: the result is a single
  // OrderRejected(UNAVAILABLE) that no engine state stands behind.
  std::span<const Event> submit(Command command);
  // As submit() with the timestamp given (tools and tests); timestamps never
  // go below the last one applied, across restarts too.
  std::span<const Event> submit_at(Command command, Timestamp timestamp);

  Seq last_seq() const { return engine_.last_seq(); }
  Seq durable_seq() const { return journal_->durable_seq(); }
  // False if the journal failed before `seq` became durable.
  bool wait_durable(Seq seq) { return journal_->wait_durable(seq); }
  bool journal_failed() const { return journal_->failed(); }
  JournalWriter& journal() { return *journal_; }

  // Serializes the state now and writes it in the background once the
  // journal is durable up to it.
  void snapshot_now();
  // Blocks until the snapshot being written (if any) is on disk.
  void wait_for_snapshot() { join_snapshot_writer(); }
  // Flushes the journal, writes a final snapshot and waits for it. The
  // journal stays open for durable_seq() until the Exchange is destroyed;
  // other threads must be done with it before that.
  void close();

  const Engine& engine() const { return engine_; }
  const RecoveryReport& recovery() const { return recovery_; }

  static std::string journal_dir(const std::string& data_dir) { return data_dir + "/journal"; }
  static std::string config_path(const std::string& data_dir) { return data_dir + "/engine.conf"; }
  static std::string snapshot_dir(const std::string& data_dir) { return data_dir + "/snapshots"; }

 private:
  explicit Exchange(const ExchangeOptions& options);
  void join_snapshot_writer();

  ExchangeOptions options_;
  SystemClock system_clock_;
  Clock* clock_;
  Engine engine_;
  std::unique_ptr<JournalWriter> journal_;
  RecoveryReport recovery_;
  Timestamp last_timestamp_ = 0;
  uint64_t since_snapshot_ = 0;
  std::thread snapshot_writer_;
  // Reused: at most one snapshot is in flight, and a fresh 100 MB buffer
  // would page-fault on the engine thread every time.
  std::vector<unsigned char> snapshot_buffer_;
  bool closed_ = false;
  unsigned char encode_buffer_[kMaxEncodedCommand];
  Event unavailable_;
};

// Rebuilds engine state from a data directory without modifying it:
// newest valid snapshot (unless from_scratch) + journal replay. Used by
// `bourse replay` and the crash tests.
struct ReplayResult {
  bool ok = false;
  std::string error;
  RecoveryReport report;
};
// on_events, if set, receives the events of every replayed record in order
// (the history projector's catch-up and `bourse rebuild-store`).
using ReplayEventSink = std::function<void(std::span<const Event>)>;
ReplayResult replay_data_dir(const std::string& data_dir, bool from_scratch, Engine* engine,
                             const ReplayEventSink& on_events = {});

// The engine configuration recorded in DATA_DIR/engine.conf (fields not in
// the file keep their value in *config). False if the file is missing or
// malformed.
bool read_engine_config(const std::string& data_dir, EngineConfig* config);

}  // namespace bourse

#include "bourse/sequencer/exchange.h"

#include <cinttypes>
#include <filesystem>

#include "bourse/core/log.h"
#include "bourse/sequencer/snapshot_store.h"

namespace bourse {
namespace {

// Applies journal records after the engine's state. Returns false with
// *error when a record does not decode or does not follow the engine's seq.
bool replay_journal(const std::string& dir, Engine* engine, bool repair, RecoveryReport* report, std::string* error) {
  bool ok = true;
  std::string bad;
  std::string scan_error;
  const bool scanned = scan_journal(
      dir, engine->last_seq(),
      [&](Seq seq, std::span<const unsigned char> payload) {
        if (!ok) return;
        Command c;
        if (!decode_command(payload.data(), payload.size(), &c) || c.header.seq != seq ||
            seq != engine->last_seq() + 1) {
          ok = false;
          bad = "journal record " + std::to_string(seq) + " (header seq " + std::to_string(c.header.seq) + ", " + std::to_string(payload.size()) + " bytes) does not decode or does not follow seq " +
                std::to_string(engine->last_seq());
          return;
        }
        engine->apply(c);
        ++report->replayed;
      },
      repair, &report->journal, &scan_error);
  if (!scanned) {
    *error = "journal scan failed: " + scan_error;
    return false;
  }
  if (!ok) {
    *error = bad;
    return false;
  }
  report->last_seq = engine->last_seq();
  return true;
}

}  // namespace

ReplayResult replay_data_dir(const std::string& data_dir, bool from_scratch, Engine* engine) {
  ReplayResult r;
  if (!from_scratch) {
    LoadedSnapshot snap = load_latest_snapshot(Exchange::snapshot_dir(data_dir));
    if (snap.found) {
      if (!engine->restore(snap.body)) {
        r.error = "snapshot " + snap.path + " does not restore";
        return r;
      }
      r.report.snapshot_loaded = true;
      r.report.snapshot_seq = snap.seq;
    }
  }
  r.ok = replay_journal(Exchange::journal_dir(data_dir), engine, false, &r.report, &r.error);
  return r;
}

Exchange::Exchange(const ExchangeOptions& options)
    : options_(options), clock_(options.clock ? options.clock : &system_clock_), engine_(options.engine) {}

std::unique_ptr<Exchange> Exchange::open(const ExchangeOptions& options, std::string* error) {
  std::unique_ptr<Exchange> x(new Exchange(options));
  const std::string jdir = journal_dir(options.data_dir);
  const std::string sdir = snapshot_dir(options.data_dir);
  std::error_code ec;
  std::filesystem::create_directories(jdir, ec);
  std::filesystem::create_directories(sdir, ec);
  if (ec) {
    *error = "cannot create " + options.data_dir + ": " + ec.message();
    return nullptr;
  }

  // Newest valid snapshot whose state restores; corrupt ones are skipped.
  RecoveryReport& rep = x->recovery_;
  Seq ceiling = UINT64_MAX;
  for (;;) {
    LoadedSnapshot snap = load_latest_snapshot(sdir, ceiling);
    if (!snap.found) break;
    if (x->engine_.restore(snap.body)) {
      rep.snapshot_loaded = true;
      rep.snapshot_seq = snap.seq;
      break;
    }
    log_line(LogLevel::kError, "recovery", "snapshot %s is well-formed but does not restore; skipping",
             snap.path.c_str());
    if (snap.seq == 0) break;
    ceiling = snap.seq - 1;
  }
  if (!replay_journal(jdir, &x->engine_, true, &rep, error)) return nullptr;

  // A journal that ends before the snapshot (only after real disk damage: a
  // snapshot is written only once the journal is durable up to it) cannot be
  // appended to without a gap; keep it aside and start a new one.
  // next_seq is 0 when no segment is left, else the seq the next record must carry.
  if (rep.snapshot_loaded && rep.journal.next_seq != 0 && rep.journal.next_seq - 1 < rep.snapshot_seq) {
    const std::string aside = options.data_dir + "/journal-behind-snapshot-" + std::to_string(rep.snapshot_seq);
    log_line(LogLevel::kError, "recovery",
             "journal ends at seq %" PRIu64 " before snapshot seq %" PRIu64 "; moving it to %s", rep.journal.last_seq,
             rep.snapshot_seq, aside.c_str());
    std::filesystem::rename(jdir, aside, ec);
    if (ec) {
      *error = "cannot move " + jdir + " aside: " + ec.message();
      return nullptr;
    }
    std::filesystem::create_directories(jdir, ec);
  }

  JournalOptions jo;
  jo.dir = jdir;
  jo.fsync = options.fsync;
  jo.segment_bytes = options.segment_bytes;
  x->journal_ = JournalWriter::open(jo, x->engine_.last_seq(), error);
  if (!x->journal_) return nullptr;
  rep.last_seq = x->engine_.last_seq();
  log_line(LogLevel::kInfo, "recovery",
           "recovered seq=%" PRIu64 " snapshot=%" PRIu64 " replayed=%" PRIu64 " truncated_bytes=%" PRIu64
           " state_hash=%016" PRIx64,
           rep.last_seq, rep.snapshot_seq, rep.replayed, rep.journal.truncated_bytes, x->engine_.state_hash());
  return x;
}

Exchange::~Exchange() { close(); }

std::span<const Event> Exchange::submit(Command command) { return submit_at(command, clock_->now()); }

std::span<const Event> Exchange::submit_at(Command command, Timestamp timestamp) {
  // Timestamps never go backwards, whatever the wall clock does.
  last_timestamp_ = std::max(last_timestamp_, timestamp);
  command.header.seq = engine_.last_seq() + 1;
  command.header.timestamp = last_timestamp_;
  const std::size_t n = encode_command(command, encode_buffer_);
  journal_->append(command.header.seq, {encode_buffer_, n});
  const std::span<const Event> events = engine_.apply(command);
  if (options_.snapshot_every != 0 && ++since_snapshot_ >= options_.snapshot_every) {
    // The caller consumes `events` before its next submit; snapshot_now only
    // serializes, which leaves the event buffer untouched.
    snapshot_now();
  }
  return events;
}

void Exchange::join_snapshot_writer() {
  if (snapshot_writer_.joinable()) snapshot_writer_.join();
}

void Exchange::snapshot_now() {
  since_snapshot_ = 0;
  join_snapshot_writer();  // at most one snapshot in flight
  auto body = std::make_shared<std::vector<unsigned char>>();
  engine_.serialize(body.get());
  const Seq seq = engine_.last_seq();
  JournalWriter* journal = journal_.get();
  const std::string dir = snapshot_dir(options_.data_dir);
  const int keep = options_.keep_snapshots;
  snapshot_writer_ = std::thread([journal, body, seq, dir, keep] {
    // Never let a snapshot get ahead of the journal (see open()).
    if (!journal->wait_durable(seq)) {
      log_line(LogLevel::kError, "snapshot", "journal failed before seq %" PRIu64 " was durable; no snapshot", seq);
      return;
    }
    std::string error;
    if (!write_snapshot(dir, seq, *body, keep, &error)) {
      log_line(LogLevel::kError, "snapshot", "snapshot at seq %" PRIu64 " failed: %s", seq, error.c_str());
    }
  });
}

void Exchange::close() {
  if (closed_ || !journal_) return;
  closed_ = true;
  journal_->flush();
  if (engine_.last_seq() != recovery_.snapshot_seq || since_snapshot_ != 0) snapshot_now();
  join_snapshot_writer();
  journal_.reset();
}

}  // namespace bourse

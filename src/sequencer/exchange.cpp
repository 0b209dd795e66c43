#include "bourse/sequencer/exchange.h"

#include <cinttypes>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "bourse/core/log.h"
#include "bourse/sequencer/snapshot_store.h"

namespace bourse {
namespace {

// Applies journal records after the engine's state. Returns false with
// *error when a record does not decode or does not follow the engine's seq.
bool replay_journal(const std::string& dir, Engine* engine, bool repair, RecoveryReport* report, std::string* error,
                    const ReplayEventSink* on_events = nullptr) {
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
        const auto events = engine->apply(c);
        if (on_events && *on_events) (*on_events)(events);
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

// The newest snapshot that is valid and restores; older ones are the fallback.
void restore_newest_snapshot(const std::string& sdir, Engine* engine, RecoveryReport* rep) {
  Seq ceiling = UINT64_MAX;
  for (;;) {
    LoadedSnapshot snap = load_latest_snapshot(sdir, ceiling);
    if (!snap.found) return;
    if (engine->restore(snap.body)) {
      rep->snapshot_loaded = true;
      rep->snapshot_seq = snap.seq;
      return;
    }
    log_line(LogLevel::kError, "recovery", "snapshot %s is well-formed but does not restore; skipping",
             snap.path.c_str());
    if (snap.seq == 0) return;
    ceiling = snap.seq - 1;
  }
}

std::string config_text(const EngineConfig& c) {
  return "max_accounts=" + std::to_string(c.max_accounts) + "\nmax_assets=" + std::to_string(c.max_assets) +
         "\nmax_instruments=" + std::to_string(c.max_instruments) + "\norder_capacity=" +
         std::to_string(c.order_capacity) + "\ndefault_max_open_orders=" + std::to_string(c.default_max_open_orders) +
         "\n";
}

// The engine settings that change how commands resolve are fixed for a data
// directory: replaying its journal under others would not reproduce what
// clients were told. Recorded on first use, checked on every later one.
bool check_engine_config(const std::string& data_dir, const EngineConfig& config, std::string* error) {
  const std::string path = Exchange::config_path(data_dir);
  const std::string want = config_text(config);
  if (std::ifstream in(path); in) {
    const std::string have((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (have == want) return true;
    *error = path + " records a different engine configuration:\n" + have + "than this process uses:\n" + want;
    return false;
  }
  std::ofstream out(path);
  out << want;
  out.close();
  if (!out) {
    *error = "cannot write " + path;
    return false;
  }
  return true;
}

}  // namespace

bool read_engine_config(const std::string& data_dir, EngineConfig* config) {
  std::ifstream in(Exchange::config_path(data_dir));
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) return false;
    const std::string key = line.substr(0, eq);
    char* end = nullptr;
    const unsigned long long v = std::strtoull(line.c_str() + eq + 1, &end, 10);
    if (end == line.c_str() + eq + 1 || *end != '\0' || v > UINT32_MAX) return false;
    const auto value = static_cast<uint32_t>(v);
    if (key == "max_accounts") config->max_accounts = value;
    else if (key == "max_assets") config->max_assets = value;
    else if (key == "max_instruments") config->max_instruments = value;
    else if (key == "order_capacity") config->order_capacity = value;
    else if (key == "default_max_open_orders") config->default_max_open_orders = value;
    else return false;
  }
  return true;
}

ReplayResult replay_data_dir(const std::string& data_dir, bool from_scratch, Engine* engine,
                             const ReplayEventSink& on_events) {
  ReplayResult r;
  if (!from_scratch) restore_newest_snapshot(Exchange::snapshot_dir(data_dir), engine, &r.report);
  r.ok = replay_journal(Exchange::journal_dir(data_dir), engine, false, &r.report, &r.error, &on_events);
  return r;
}

Exchange::Exchange(const ExchangeOptions& options)
    : options_(options), clock_(options.clock ? options.clock : &system_clock_), engine_(options.engine) {}

std::unique_ptr<Exchange> Exchange::open(const ExchangeOptions& options, std::string* error) {
  std::unique_ptr<Exchange> x(new Exchange(options));
  const std::string jdir = journal_dir(options.data_dir);
  const std::string sdir = snapshot_dir(options.data_dir);
  for (const std::string& dir : {jdir, sdir}) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      *error = "cannot create " + dir + ": " + ec.message();
      return nullptr;
    }
  }
  if (!check_engine_config(options.data_dir, options.engine, error)) return nullptr;

  // Look before repairing: a torn or corrupt tail is truncated, but damage
  // that would delete whole segments loses records that may have been
  // acknowledged, so it needs the operator's consent.
  JournalScanReport dry;
  std::string scan_error;
  if (!scan_journal(jdir, UINT64_MAX, nullptr, false, &dry, &scan_error)) {
    *error = "journal scan failed: " + scan_error;
    return nullptr;
  }
  if (dry.had_corruption && dry.deleted_segments > 0 && !options.accept_journal_loss) {
    *error = "journal corrupt before its last segment (" + dry.detail + "); repairing would delete " +
             std::to_string(dry.deleted_segments) + " later segments (" + std::to_string(dry.truncated_bytes) +
             " bytes). Copy " + jdir + " aside and restart with accept_journal_loss to proceed.";
    return nullptr;
  }

  RecoveryReport& rep = x->recovery_;
  restore_newest_snapshot(sdir, &x->engine_, &rep);
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
    std::error_code ec;
    std::filesystem::rename(jdir, aside, ec);
    if (!ec) std::filesystem::create_directories(jdir, ec);
    if (ec) {
      *error = "cannot move " + jdir + " aside: " + ec.message();
      return nullptr;
    }
  }

  JournalOptions jo;
  jo.dir = jdir;
  jo.fsync = options.fsync;
  jo.segment_bytes = options.segment_bytes;
  x->journal_ = JournalWriter::open(jo, x->engine_.last_seq(), error);
  if (!x->journal_) return nullptr;
  rep.last_seq = x->engine_.last_seq();
  x->last_timestamp_ = x->engine_.last_timestamp();
  log_line(LogLevel::kInfo, "recovery",
           "recovered seq=%" PRIu64 " snapshot=%" PRIu64 " replayed=%" PRIu64 " truncated_bytes=%" PRIu64
           " state_hash=%016" PRIx64,
           rep.last_seq, rep.snapshot_seq, rep.replayed, rep.journal.truncated_bytes, x->engine_.state_hash());
  return x;
}

Exchange::~Exchange() { close(); }

std::span<const Event> Exchange::submit(Command command) { return submit_at(command, clock_->now()); }

std::span<const Event> Exchange::submit_at(Command command, Timestamp timestamp) {
  if (journal_->failed()) {
    // Nothing may be applied that could not be recovered.
    unavailable_ = Event{};
    unavailable_.cause = command.header;
    unavailable_.type = EventType::kOrderRejected;
    unavailable_.rejected.reason = RejectReason::kUnavailable;
    unavailable_.rejected.command = command.header.type;
    return {&unavailable_, 1};
  }
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
  join_snapshot_writer();  // at most one snapshot in flight: the buffer is free again
  engine_.serialize(&snapshot_buffer_);
  const std::vector<unsigned char>* body = &snapshot_buffer_;
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
  if (!journal_->failed() && (engine_.last_seq() != recovery_.snapshot_seq || since_snapshot_ != 0)) snapshot_now();
  join_snapshot_writer();
}

}  // namespace bourse

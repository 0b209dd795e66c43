// Crash tests: run random commands through the journaled exchange, take a
// copy of the data directory as a crash would leave it, damage it (cut the
// journal at random byte offsets, mid-record included; flip bytes; cut or
// corrupt snapshots), recover, and compare the state hash with a reference
// engine that applied the same commands up to the last record that survived.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <filesystem>
#include <fstream>
#include <random>

#include "bourse/sequencer/exchange.h"
#include "bourse/sequencer/snapshot_store.h"
#include "engine/random_commands.h"

namespace bourse {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kFileHeader = 16;    // docs/journal-format.md
constexpr std::size_t kRecordHeader = 16;  // crc, length, seq

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/bourse-recovery-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

EngineConfig config() { return EngineConfig{64, 16, 16, 1u << 16, 1000}; }

// Runs `n` random commands through an Exchange in `dir`; records the encoded
// size of every command and the reference state hash after it.
struct CrashRun {
  std::vector<std::size_t> record_bytes;  // index = seq
  std::vector<uint64_t> hash;             // index = seq; hash[0] = empty engine
};

void copy_dir(const std::string& from, const std::string& to) {
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

// Runs `n` random commands through an Exchange in `dir` and copies the data
// directory to `crash_image` while the exchange is still open, as a crash
// would leave it (journal flushed, no final snapshot). Records the encoded
// size of every command and the reference state hash after it.
CrashRun run_commands(const std::string& dir, const std::string& crash_image, uint64_t seed, std::size_t n,
                 uint64_t snapshot_every) {
  CrashRun run;
  ManualClock clock;
  ExchangeOptions o;
  o.data_dir = dir;
  o.engine = config();
  o.fsync = false;  // the copy is taken after flush(); fsync adds nothing here
  o.snapshot_every = snapshot_every;
  o.segment_bytes = 16 * 1024;
  o.clock = &clock;
  std::string error;
  auto x = Exchange::open(o, &error);
  EXPECT_NE(x, nullptr) << error;
  Engine reference(config());
  run.record_bytes.push_back(0);
  run.hash.push_back(reference.state_hash());
  testing::RandomCommandGenerator gen(seed, testing::RandomCommandConfig{});
  const std::vector<Command> setup = gen.setup();
  for (std::size_t i = 0; i < n; ++i) {
    Command c = i < setup.size() ? setup[i] : gen.next();
    clock.advance(1'000'000);
    const Timestamp ts = std::max(clock.now(), c.header.timestamp);
    clock.set(ts);
    gen.observe(x->submit_at(c, ts));
    c.header.seq = reference.last_seq() + 1;
    c.header.timestamp = ts;
    reference.apply(c);
    unsigned char buf[kMaxEncodedCommand];
    run.record_bytes.push_back(encode_command(c, buf));
    run.hash.push_back(reference.state_hash());
  }
  x->journal().flush();
  x->wait_for_snapshot();
  copy_dir(dir, crash_image);
  return run;
}

std::vector<fs::path> segments(const std::string& data_dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(Exchange::journal_dir(data_dir))) {
    if (e.path().extension() == ".log") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Seq first_seq_of(const fs::path& segment) {
  return std::stoull(segment.filename().string().substr(std::string("journal-").size(), 20));
}

// Last complete record of `segment` cut at `offset`, computed independently
// from the known record sizes.
Seq complete_before(const CrashRun& run, const fs::path& segment, std::size_t offset) {
  const Seq first = first_seq_of(segment);
  if (offset < kFileHeader) return first - 1;
  std::size_t pos = kFileHeader;
  Seq s = first;
  while (s < run.record_bytes.size() && pos + kRecordHeader + run.record_bytes[s] <= offset) {
    pos += kRecordHeader + run.record_bytes[s];
    ++s;
  }
  return s - 1;
}

// Recovers `dir` and returns the recovered engine's last seq, checking the
// state hash against the reference at that seq.
Seq recover_and_check(const std::string& dir, const CrashRun& run) {
  ExchangeOptions o;
  o.data_dir = dir;
  o.engine = config();
  o.fsync = false;
  o.snapshot_every = 0;
  ManualClock clock(2'000'000'000'000'000'000);
  o.clock = &clock;
  std::string error;
  auto x = Exchange::open(o, &error);
  EXPECT_NE(x, nullptr) << error;
  if (!x) return 0;
  const Seq last = x->last_seq();
  EXPECT_LT(last, run.hash.size());
  if (last < run.hash.size()) {
    EXPECT_EQ(x->engine().state_hash(), run.hash[last]) << "at seq " << last;
  }
  // The journal continues where recovery left it.
  x->submit(Command::heartbeat());
  x->close();
  Engine replayed(config());
  const ReplayResult again = replay_data_dir(dir, false, &replayed);
  EXPECT_TRUE(again.ok) << again.error;
  EXPECT_EQ(replayed.last_seq(), last + 1);
  return last;
}

TEST(Recovery, CleanRestartRestoresTheSameState) {
  TempDir d, image;
  const CrashRun run = run_commands(d.path() + "/data", image.path(), 1, 3'000, 700);
  TempDir crash;
  copy_dir(image.path(), crash.path());
  EXPECT_EQ(recover_and_check(crash.path(), run), run.hash.size() - 1);
}

TEST(Recovery, JournalCutAtRandomOffsetsIncludingMidRecord) {
  TempDir d, image;
  const CrashRun run = run_commands(d.path() + "/data", image.path(), 2, 4'000, 0);  // no snapshots
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 40; ++trial) {
    TempDir crash;
    copy_dir(image.path(), crash.path());
    // No snapshot: every cut is recovered by replay alone.
    for (const auto& e : fs::directory_iterator(Exchange::snapshot_dir(crash.path()))) fs::remove(e.path());
    const auto segs = segments(crash.path());
    ASSERT_FALSE(segs.empty());
    const fs::path victim = segs[rng() % segs.size()];
    const std::size_t size = fs::file_size(victim);
    const std::size_t cut = rng() % (size + 1);
    fs::resize_file(victim, cut);
    // Later segments are what a crash would not have written either.
    for (const auto& s : segs)
      if (s > victim) fs::remove(s);
    const Seq expected = complete_before(run, victim, cut);
    EXPECT_EQ(recover_and_check(crash.path(), run), expected) << "cut " << victim << " at " << cut;
  }
}

TEST(Recovery, CorruptRecordIsDetectedAndNeverApplied) {
  TempDir d, image;
  const CrashRun run = run_commands(d.path() + "/data", image.path(), 3, 2'000, 0);
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 20; ++trial) {
    TempDir crash;
    copy_dir(image.path(), crash.path());
    for (const auto& e : fs::directory_iterator(Exchange::snapshot_dir(crash.path()))) fs::remove(e.path());
    const auto segs = segments(crash.path());
    const fs::path victim = segs.back();
    const std::size_t size = fs::file_size(victim);
    if (size <= kFileHeader) continue;
    const std::size_t at = kFileHeader + rng() % (size - kFileHeader);
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(at));
    char byte = 0;
    f.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x5A);
    f.seekp(static_cast<std::streamoff>(at));
    f.write(&byte, 1);
    f.close();
    // The record holding the flipped byte and everything after it are dropped.
    const Seq expected = complete_before(run, victim, at);
    EXPECT_EQ(recover_and_check(crash.path(), run), expected) << "flip at " << at;
  }
}

TEST(Recovery, DamagedSnapshotsFallBackToOlderOnesAndTheJournal) {
  TempDir d, image;
  const CrashRun run = run_commands(d.path() + "/data", image.path(), 4, 3'000, 500);
  const Seq total = run.hash.size() - 1;
  std::mt19937_64 rng(13);
  for (int trial = 0; trial < 12; ++trial) {
    TempDir crash;
    copy_dir(image.path(), crash.path());
    const std::string sdir = Exchange::snapshot_dir(crash.path());
    const auto snaps = list_snapshots(sdir);
    ASSERT_GE(snaps.size(), 2u);
    // Damage the newest (trial even) or the two newest (odd): cut or flip.
    const std::size_t damaged = 1 + static_cast<std::size_t>(trial % 2);
    for (std::size_t k = 0; k < damaged && k < snaps.size(); ++k) {
      const std::string p = snapshot_path(sdir, snaps[snaps.size() - 1 - k]);
      const std::size_t size = fs::file_size(p);
      if (rng() & 1) {
        fs::resize_file(p, rng() % size);
      } else {
        std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(rng() % size));
        f.put('\x7F');
      }
    }
    EXPECT_EQ(recover_and_check(crash.path(), run), total) << "trial " << trial;
  }
}

TEST(Recovery, JournalCutAroundASnapshot) {
  TempDir d, image;
  const CrashRun run = run_commands(d.path() + "/data", image.path(), 5, 3'500, 1'000);
  std::mt19937_64 rng(17);
  for (int trial = 0; trial < 20; ++trial) {
    TempDir crash;
    copy_dir(image.path(), crash.path());
    const auto snaps = list_snapshots(Exchange::snapshot_dir(crash.path()));
    const auto segs = segments(crash.path());
    const fs::path victim = segs[rng() % segs.size()];
    const std::size_t cut = rng() % (fs::file_size(victim) + 1);
    fs::resize_file(victim, cut);
    for (const auto& s : segs)
      if (s > victim) fs::remove(s);
    // State = the newer of the newest snapshot and the last complete record.
    const Seq in_journal = complete_before(run, victim, cut);
    const Seq newest_snapshot = snaps.empty() ? 0 : snaps.back();
    const Seq expected = std::max(in_journal, newest_snapshot);
    EXPECT_EQ(recover_and_check(crash.path(), run), expected) << "cut " << victim << " at " << cut;
  }
}

TEST(Recovery, CorruptionBeforeTheLastSegmentNeedsConsent) {
  TempDir d, image;
  const CrashRun run = run_commands(d.path() + "/data", image.path(), 6, 3'000, 0);
  TempDir crash;
  copy_dir(image.path(), crash.path());
  for (const auto& e : fs::directory_iterator(Exchange::snapshot_dir(crash.path()))) fs::remove(e.path());
  const auto segs = segments(crash.path());
  ASSERT_GE(segs.size(), 3u);
  {  // flip a byte in the middle of the first segment
    std::fstream f(segs[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(segs[0]) / 2));
    f.put('\x42');
  }
  ExchangeOptions o;
  o.data_dir = crash.path();
  o.engine = config();
  o.fsync = false;
  std::string error;
  EXPECT_EQ(Exchange::open(o, &error), nullptr);
  EXPECT_NE(error.find("accept_journal_loss"), std::string::npos) << error;
  EXPECT_EQ(segments(crash.path()).size(), segs.size());  // nothing was deleted
  o.accept_journal_loss = true;
  auto x = Exchange::open(o, &error);
  ASSERT_NE(x, nullptr) << error;
  EXPECT_LT(x->last_seq(), first_seq_of(segs[1]));
  EXPECT_EQ(x->engine().state_hash(), run.hash[x->last_seq()]);
}

TEST(Recovery, ADifferentEngineConfigurationIsRefused) {
  TempDir d, image;
  run_commands(d.path() + "/data", image.path(), 7, 500, 100);
  ExchangeOptions o;
  o.data_dir = image.path();
  o.engine = config();
  o.engine.default_max_open_orders += 1;
  std::string error;
  EXPECT_EQ(Exchange::open(o, &error), nullptr);
  EXPECT_NE(error.find("different engine configuration"), std::string::npos) << error;
}

// After a journal I/O error (EFBIG from RLIMIT_FSIZE here) the exchange
// applies nothing more: UNAVAILABLE, engine untouched. (Commands applied
// before the failure was seen were never durable, so never acknowledged.)
TEST(Recovery, NothingIsAppliedAfterTheJournalFails) {
  TempDir d;
  ExchangeOptions o;
  o.data_dir = d.path();
  o.engine = config();
  o.fsync = false;
  o.snapshot_every = 0;
  std::string error;
  auto x = Exchange::open(o, &error);
  ASSERT_NE(x, nullptr) << error;
  x->submit(Command::add_asset({AssetCode::from("USD"), AssetId{1}, 2}));
  x->submit(Command::configure_account({AccountId{1}, 0, StpMode::kCancelNewest, {}}));
  ASSERT_TRUE(x->wait_durable(x->last_seq()));

  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit{};
  ::getrlimit(RLIMIT_FSIZE, &old_limit);
  rlimit limit = old_limit;
  limit.rlim_cur = 2'000;  // the segment is already past this: the next write fails
  ::setrlimit(RLIMIT_FSIZE, &limit);
  for (int i = 0; i < 1'000 && !x->journal_failed(); ++i) {
    x->submit(Command::deposit({Amount{1}, AccountId{1}, AssetId{1}}));
    x->wait_durable(x->last_seq());
  }
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  ASSERT_TRUE(x->journal_failed());

  const Seq seq = x->last_seq();
  const uint64_t hash = x->engine().state_hash();
  const auto ev = x->submit(Command::deposit({Amount{1}, AccountId{1}, AssetId{1}}));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, EventType::kOrderRejected);
  EXPECT_EQ(ev[0].rejected.reason, RejectReason::kUnavailable);
  EXPECT_EQ(x->last_seq(), seq);
  EXPECT_EQ(x->engine().state_hash(), hash);
}

TEST(Recovery, TimestampsNeverGoBackAcrossARestart) {
  TempDir d;
  ManualClock clock(5'000'000'000'000'000'000);
  ExchangeOptions o;
  o.data_dir = d.path();
  o.engine = config();
  o.fsync = false;
  o.clock = &clock;
  std::string error;
  Timestamp last = 0;
  {
    auto x = Exchange::open(o, &error);
    ASSERT_NE(x, nullptr) << error;
    x->submit(Command::heartbeat());
    last = x->engine().last_timestamp();
  }
  clock.set(1'000);  // the wall clock stepped back across the restart
  auto x = Exchange::open(o, &error);
  ASSERT_NE(x, nullptr) << error;
  EXPECT_EQ(x->engine().last_timestamp(), last);
  x->submit(Command::heartbeat());
  EXPECT_EQ(x->engine().last_timestamp(), last);
}

}  // namespace
}  // namespace bourse

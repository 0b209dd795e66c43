// Journal tests. The format helpers below are written from
// docs/journal-format.md, independently of src/sequencer/journal.cpp, so that
// the code is checked against the document.
#include "bourse/sequencer/journal.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bourse/core/crc32c.h"
#include "bourse/core/log.h"

namespace bourse {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

struct Record {
  Seq seq;
  Bytes payload;
  bool operator==(const Record&) const = default;
};

// --- the format, from the doc ------------------------------------------------

uint32_t masked_crc(const unsigned char* p, std::size_t n) {
  uint32_t c = crc32c(p, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}
void append_u32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
}
void append_u64(Bytes& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
}
uint32_t read_u32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}
Bytes file_header() {
  Bytes b = {'B', 'R', 'S', 'J', 'R', 'N', 'L', '1'};
  append_u32(b, 1);
  append_u32(b, 0);
  return b;
}
Bytes encode_record(Seq seq, const Bytes& payload) {
  Bytes body;
  append_u32(body, static_cast<uint32_t>(payload.size()));
  append_u64(body, seq);
  body.insert(body.end(), payload.begin(), payload.end());
  Bytes rec;
  append_u32(rec, masked_crc(body.data(), body.size()));
  rec.insert(rec.end(), body.begin(), body.end());
  return rec;
}
// Offsets where records start in a valid segment image, plus its end.
std::vector<std::size_t> record_boundaries(const Bytes& file) {
  std::vector<std::size_t> b;
  std::size_t off = kJournalFileHeaderSize;
  b.push_back(off);
  while (off + kJournalRecordHeaderSize <= file.size()) {
    off += kJournalRecordHeaderSize + read_u32(&file[off + 4]);
    b.push_back(off);
  }
  return b;
}
std::string segment_file(Seq first) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "journal-%020llu.log", static_cast<unsigned long long>(first));
  return buf;
}

// --- helpers -----------------------------------------------------------------

Bytes read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}
void write_bytes(const fs::path& p, const Bytes& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
Bytes slice(const Bytes& b, std::size_t n) { return Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)); }

// Segment files of a journal, in order.
std::vector<fs::path> segments(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("journal-", 0) == 0) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "journal_test.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

// The torn-tail and bit-flip loops would print hundreds of expected warnings.
class QuietLogs {
 public:
  QuietLogs() { set_log_level(static_cast<LogLevel>(static_cast<int>(LogLevel::kError) + 1)); }
  ~QuietLogs() { set_log_level(LogLevel::kInfo); }
};

struct Scan {
  bool ok = false;
  std::vector<Record> records;
  JournalScanReport report;
  std::string error;
};
Scan scan(const std::string& dir, Seq after_seq = 0, bool repair = true) {
  Scan s;
  s.ok = scan_journal(
      dir, after_seq,
      [&](Seq seq, std::span<const unsigned char> p) {
        s.records.push_back({seq, Bytes(p.begin(), p.end())});
      },
      repair, &s.report, &s.error);
  return s;
}

JournalOptions options(const std::string& dir, std::size_t segment_bytes = 64u << 20, bool fsync = true) {
  JournalOptions o;
  o.dir = dir;
  o.segment_bytes = segment_bytes;
  o.fsync = fsync;
  return o;
}

std::vector<Record> random_records(Seq first, std::size_t count, std::size_t max_size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Record> out;
  for (std::size_t i = 0; i < count; ++i) {
    Bytes p(std::uniform_int_distribution<std::size_t>(0, max_size)(rng));
    for (auto& c : p) c = static_cast<unsigned char>(rng());
    out.push_back({first + i, std::move(p)});
  }
  return out;
}

void write_journal(const JournalOptions& o, Seq last_seq, const std::vector<Record>& records) {
  std::string error;
  auto w = JournalWriter::open(o, last_seq, &error);
  ASSERT_NE(w, nullptr) << error;
  for (const auto& r : records) w->append(r.seq, r.payload);
  EXPECT_TRUE(w->flush());
  EXPECT_EQ(w->durable_seq(), records.empty() ? last_seq : records.back().seq);
  EXPECT_FALSE(w->failed());
}

std::vector<Record> head(const std::vector<Record>& v, std::size_t n) {
  return std::vector<Record>(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n));
}

// --- format ------------------------------------------------------------------

TEST(JournalFormat, BytesMatchTheDocument) {
  TempDir dir;
  write_journal(options(dir.str()), 0, {{1, {'a', 'b', 'c'}}, {2, {}}});
  auto files = segments(dir.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename(), "journal-00000000000000000001.log");
  Bytes expected = file_header();
  for (const Bytes& r : {encode_record(1, {'a', 'b', 'c'}), encode_record(2, {})}) {
    expected.insert(expected.end(), r.begin(), r.end());
  }
  EXPECT_EQ(read_bytes(files[0]), expected);
}

// --- round trips ---------------------------------------------------------------

TEST(Journal, RoundTripRandomSizes) {
  TempDir dir;
  auto records = random_records(1, 3000, 700, 1);
  records[10].payload.clear();
  records[20].payload.assign(kMaxJournalRecord, 0x5a);  // the largest allowed
  write_journal(options(dir.str()), 0, records);
  Scan s = scan(dir.str());
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_EQ(s.records, records);
  EXPECT_EQ(s.report.first_seq, 1u);
  EXPECT_EQ(s.report.last_seq, 3000u);
  EXPECT_EQ(s.report.records, 3000u);
  EXPECT_EQ(s.report.segments, 1u);
  EXPECT_EQ(s.report.truncated_bytes, 0u);
  EXPECT_FALSE(s.report.had_corruption);
  EXPECT_TRUE(s.report.detail.empty());
}

TEST(Journal, DestructorWritesEverything) {
  TempDir dir;
  auto records = random_records(1, 500, 100, 2);
  {
    std::string error;
    auto w = JournalWriter::open(options(dir.str()), 0, &error);
    ASSERT_NE(w, nullptr) << error;
    for (const auto& r : records) w->append(r.seq, r.payload);
  }
  EXPECT_EQ(scan(dir.str()).records, records);
}

TEST(Journal, SegmentsRollAndAreReadInOrder) {
  TempDir dir;
  auto records = random_records(1, 400, 60, 3);
  write_journal(options(dir.str(), 512), 0, records);
  auto files = segments(dir.path());
  ASSERT_GT(files.size(), 10u);
  Seq next = 1;
  for (const auto& f : files) {
    Bytes b = read_bytes(f);
    // Named after the first record; no segment past the limit unless it
    // holds a single record.
    EXPECT_EQ(f.filename(), segment_file(next));
    auto bounds = record_boundaries(b);
    ASSERT_EQ(bounds.back(), b.size());
    EXPECT_TRUE(b.size() <= 512 || bounds.size() == 2) << f;
    next += bounds.size() - 1;
  }
  EXPECT_EQ(next, 401u);
  Scan s = scan(dir.str());
  EXPECT_EQ(s.records, records);
  EXPECT_EQ(s.report.segments, files.size());
}

TEST(Journal, AfterSeqFilters) {
  TempDir dir;
  auto records = random_records(1, 200, 50, 4);
  write_journal(options(dir.str(), 700), 0, records);
  for (Seq after : {Seq{0}, Seq{1}, Seq{77}, Seq{199}, Seq{200}, Seq{1000}}) {
    Scan s = scan(dir.str(), after, false);
    std::size_t skip = std::min<std::size_t>(after, records.size());
    EXPECT_EQ(s.records, std::vector<Record>(records.begin() + static_cast<std::ptrdiff_t>(skip), records.end()));
    // The report always describes the whole journal.
    EXPECT_EQ(s.report.first_seq, 1u);
    EXPECT_EQ(s.report.last_seq, 200u);
    EXPECT_EQ(s.report.records, 200u);
  }
}

TEST(Journal, ReopenContinuesTheSequence) {
  TempDir dir;
  auto records = random_records(1, 300, 80, 5);
  write_journal(options(dir.str(), 1000), 0, head(records, 100));
  Scan first = scan(dir.str());
  ASSERT_EQ(first.report.last_seq, 100u);
  write_journal(options(dir.str(), 1000), first.report.last_seq,
                std::vector<Record>(records.begin() + 100, records.begin() + 200));
  write_journal(options(dir.str(), 1000), 200, std::vector<Record>(records.begin() + 200, records.end()));
  Scan s = scan(dir.str());
  EXPECT_EQ(s.records, records);
  EXPECT_TRUE(s.report.detail.empty());
}

TEST(Journal, OpenRefusesAWrongLastSeq) {
  TempDir dir;
  write_journal(options(dir.str()), 0, random_records(1, 10, 10, 6));
  for (Seq wrong : {Seq{0}, Seq{9}, Seq{11}}) {
    std::string error;
    EXPECT_EQ(JournalWriter::open(options(dir.str()), wrong, &error), nullptr) << wrong;
    EXPECT_NE(error.find("ends at seq 10"), std::string::npos) << error;
  }
  EXPECT_EQ(scan(dir.str()).report.last_seq, 10u);
}

TEST(Journal, StartsAfterASnapshot) {
  TempDir dir;
  std::string path = (dir.path() / "a" / "b").string();  // created with parents
  write_journal(options(path), 500, {{501, {1}}, {502, {2}}});
  EXPECT_EQ(segments(path)[0].filename(), segment_file(501));
  Scan s = scan(path);
  EXPECT_EQ(s.report.first_seq, 501u);
  EXPECT_EQ(s.report.last_seq, 502u);
  // An empty segment (opened, nothing appended) is valid and reused.
  TempDir empty;
  write_journal(options(empty.str()), 41, {});
  EXPECT_EQ(scan(empty.str()).report.records, 0u);
  EXPECT_EQ(scan(empty.str()).report.next_seq, 42u);  // from the empty segment's name
  write_journal(options(empty.str()), 41, {{42, {7}}});
  EXPECT_EQ(segments(empty.path()).size(), 1u);
  EXPECT_EQ(scan(empty.str()).records, (std::vector<Record>{{42, {7}}}));
}

TEST(Journal, SecondWriterIsLockedOut) {
  TempDir dir;
  std::string error;
  auto w = JournalWriter::open(options(dir.str()), 0, &error);
  ASSERT_NE(w, nullptr) << error;
  EXPECT_EQ(JournalWriter::open(options(dir.str()), 0, &error), nullptr);
  EXPECT_NE(error.find("another writer"), std::string::npos) << error;
  // Reading alongside the writer is fine; repairing under it is refused.
  EXPECT_TRUE(scan(dir.str(), 0, false).ok);
  EXPECT_FALSE(scan(dir.str(), 0, true).ok);
  w.reset();
  EXPECT_TRUE(scan(dir.str(), 0, true).ok);
  EXPECT_NE(JournalWriter::open(options(dir.str()), 0, &error), nullptr) << error;
}

TEST(Journal, MissingDirIsEmptyAndAFileIsAnError) {
  TempDir dir;
  Scan s = scan((dir.path() / "nope").string());
  EXPECT_TRUE(s.ok);
  EXPECT_EQ(s.report.records, 0u);
  EXPECT_EQ(s.report.next_seq, 0u);
  write_bytes(dir.path() / "file", {1, 2, 3});
  s = scan((dir.path() / "file").string());
  EXPECT_FALSE(s.ok);
  EXPECT_FALSE(s.error.empty());
}

// --- torn tails and corruption ---------------------------------------------------

// Cuts the last segment at every offset (including inside its file header),
// then checks what scan keeps and that appending afterwards is consistent.
TEST(Journal, TornTailAtEveryOffset) {
  QuietLogs quiet;
  TempDir root;
  std::string original = (root.path() / "original").string();
  auto records = random_records(1, 40, 40, 7);
  write_journal(options(original, 400, false), 0, records);
  auto files = segments(original);
  ASSERT_GE(files.size(), 3u);
  std::vector<Bytes> images;
  for (const auto& f : files) images.push_back(read_bytes(f));
  const Bytes& last = images.back();
  const auto bounds = record_boundaries(last);
  ASSERT_EQ(bounds.back(), last.size());
  const Seq last_first = records.size() - (bounds.size() - 1) + 1;  // first seq of the last segment
  ASSERT_EQ(files.back().filename(), segment_file(last_first));

  for (std::size_t cut = 0; cut <= last.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    fs::path dir = root.path() / ("cut" + std::to_string(cut));
    fs::create_directory(dir);
    for (std::size_t i = 0; i + 1 < files.size(); ++i) write_bytes(dir / files[i].filename(), images[i]);
    write_bytes(dir / files.back().filename(), slice(last, cut));

    std::size_t complete = 0;  // records of the last segment that survive
    while (complete + 1 < bounds.size() && bounds[complete + 1] <= cut) ++complete;
    const Seq expect_last = last_first - 1 + complete;
    const uint64_t dropped = cut < kJournalFileHeaderSize ? cut : cut - bounds[complete];

    Scan s = scan(dir.string());
    ASSERT_TRUE(s.ok) << s.error;
    EXPECT_EQ(s.records, head(records, expect_last));
    EXPECT_EQ(s.report.last_seq, expect_last);
    EXPECT_EQ(s.report.next_seq, expect_last + 1);
    EXPECT_EQ(s.report.truncated_bytes, dropped);
    EXPECT_FALSE(s.report.had_corruption) << s.report.detail;
    EXPECT_EQ(s.report.detail.empty(), cut >= kJournalFileHeaderSize && dropped == 0);  // cut at a boundary
    auto after = segments(dir);
    if (cut < kJournalFileHeaderSize) {
      EXPECT_EQ(after.size(), files.size() - 1);  // a segment without its header goes
      EXPECT_EQ(s.report.deleted_segments, 1u);
    } else {
      ASSERT_EQ(after.size(), files.size());
      EXPECT_EQ(fs::file_size(after.back()), bounds[complete]);
    }

    // Clean now, and appendable right after what survived.
    Scan again = scan(dir.string(), 0, false);
    EXPECT_TRUE(again.report.detail.empty()) << again.report.detail;
    std::vector<Record> expect = head(records, expect_last);
    expect.push_back({expect_last + 1, {0xee, 0xff}});
    write_journal(options(dir.string(), 400, false), expect_last, {expect.back()});
    Scan final_scan = scan(dir.string(), 0, false);
    EXPECT_EQ(final_scan.records, expect);
    EXPECT_TRUE(final_scan.report.detail.empty()) << final_scan.report.detail;
    fs::remove_all(dir);
  }
}

TEST(Journal, BitFlipsAreDetected) {
  QuietLogs quiet;
  TempDir root;
  std::string original = (root.path() / "original").string();
  auto records = random_records(1, 12, 30, 8);
  records[5].payload.resize(24, 0x11);
  write_journal(options(original, 1u << 20, false), 0, records);
  const fs::path file = segments(original)[0];
  const Bytes image = read_bytes(file);
  const auto bounds = record_boundaries(image);
  const std::size_t start = bounds[5], end = bounds[6];  // record seq 6

  for (std::size_t bit = start * 8; bit < end * 8; ++bit) {
    SCOPED_TRACE("bit " + std::to_string(bit));
    const std::size_t byte = bit / 8;
    Bytes b = image;
    b[byte] ^= static_cast<unsigned char>(1u << (bit % 8));
    fs::path dir = root.path() / "flip";
    fs::create_directory(dir);
    write_bytes(dir / file.filename(), b);
    Scan s = scan(dir.string());
    ASSERT_TRUE(s.ok);
    EXPECT_EQ(s.records, head(records, 5));
    EXPECT_EQ(s.report.truncated_bytes, image.size() - start);
    EXPECT_FALSE(s.report.detail.empty());
    // A length bent to point past the end of the file looks exactly like a
    // torn append; every other flip is corruption.
    const bool length_field = byte >= start + 4 && byte < start + 8;
    const std::size_t bent_length = read_u32(&b[start + 4]);
    if (!(length_field && start + kJournalRecordHeaderSize + bent_length > image.size() &&
          bent_length <= kMaxJournalRecord)) {
      EXPECT_TRUE(s.report.had_corruption) << s.report.detail;
    }
    EXPECT_EQ(fs::file_size(dir / file.filename()), start);
    fs::remove_all(dir);
  }
}

TEST(Journal, BadFileHeaderDeletesTheSegment) {
  QuietLogs quiet;
  TempDir dir;
  auto records = random_records(1, 100, 40, 9);
  write_journal(options(dir.str(), 600), 0, records);
  auto files = segments(dir.path());
  ASSERT_GT(files.size(), 4u);
  Bytes b = read_bytes(files[2]);
  b[3] ^= 1;  // magic
  write_bytes(files[2], b);
  Scan s = scan(dir.str());
  const Seq kept = std::stoull(files[2].filename().string().substr(8, 20)) - 1;
  EXPECT_EQ(s.records, head(records, kept));
  EXPECT_TRUE(s.report.had_corruption);
  EXPECT_EQ(s.report.deleted_segments, files.size() - 2);
  EXPECT_EQ(segments(dir.path()).size(), 2u);
  write_journal(options(dir.str(), 600), kept, {{kept + 1, {}}});
  EXPECT_EQ(scan(dir.str(), kept).records, (std::vector<Record>{{kept + 1, {}}}));
}

TEST(Journal, GarbageAfterValidData) {
  QuietLogs quiet;
  auto records = random_records(1, 20, 30, 10);
  struct Case {
    Bytes tail;
    bool corruption;
  };
  for (const Case& c : {Case{Bytes(100, 0xab), true}, Case{Bytes(10, 0xab), false}, Case{Bytes(5000, 0), false},
                        Case{Bytes(3, 0), false}}) {
    TempDir dir;
    write_journal(options(dir.str()), 0, records);
    fs::path f = segments(dir.path())[0];
    Bytes b = read_bytes(f);
    const std::size_t valid = b.size();
    b.insert(b.end(), c.tail.begin(), c.tail.end());
    write_bytes(f, b);
    Scan s = scan(dir.str());
    EXPECT_EQ(s.records, records);
    EXPECT_EQ(s.report.truncated_bytes, c.tail.size());
    EXPECT_EQ(s.report.had_corruption, c.corruption) << s.report.detail;
    EXPECT_EQ(fs::file_size(f), valid);
    write_journal(options(dir.str()), 20, {{21, {9}}});
    EXPECT_EQ(scan(dir.str(), 20).records, (std::vector<Record>{{21, {9}}}));
  }
}

TEST(Journal, CorruptMiddleSegmentDropsLaterSegments) {
  QuietLogs quiet;
  TempDir dir;
  auto records = random_records(1, 120, 30, 11);
  write_journal(options(dir.str(), 300), 0, records);
  auto files = segments(dir.path());
  ASSERT_GT(files.size(), 5u);
  Bytes b = read_bytes(files[2]);
  auto bounds = record_boundaries(b);
  ASSERT_GE(bounds.size(), 3u);
  b[bounds[1] + 12] ^= 0x40;  // the seq field of the segment's second record
  write_bytes(files[2], b);
  const Seq first = std::stoull(files[2].filename().string().substr(8, 20));

  Scan dry = scan(dir.str(), 0, false);  // reports, touches nothing
  EXPECT_EQ(dry.report.last_seq, first);
  EXPECT_EQ(segments(dir.path()).size(), files.size());

  Scan s = scan(dir.str());
  EXPECT_EQ(s.records, head(records, first));
  EXPECT_TRUE(s.report.had_corruption);
  EXPECT_EQ(s.report.deleted_segments, files.size() - 3);
  EXPECT_EQ(s.report.segments, 3u);
  EXPECT_EQ(dry.report.truncated_bytes, s.report.truncated_bytes);
  EXPECT_NE(s.report.detail.find(files[2].filename().string()), std::string::npos) << s.report.detail;
  EXPECT_NE(s.report.detail.find("offset " + std::to_string(bounds[1])), std::string::npos) << s.report.detail;
  EXPECT_EQ(segments(dir.path()).size(), 3u);
  EXPECT_EQ(fs::file_size(files[2]), bounds[1]);

  auto more = random_records(first + 1, 50, 30, 12);
  write_journal(options(dir.str(), 300), first, more);
  std::vector<Record> expect = head(records, first);
  expect.insert(expect.end(), more.begin(), more.end());
  Scan final_scan = scan(dir.str(), 0, false);
  EXPECT_EQ(final_scan.records, expect);
  EXPECT_TRUE(final_scan.report.detail.empty());
}

TEST(Journal, SequenceRulesWithValidCrcs) {
  QuietLogs quiet;
  auto image = [](Seq name, const std::vector<Seq>& seqs) {
    Bytes b = file_header();
    for (Seq q : seqs) {
      Bytes r = encode_record(q, {static_cast<unsigned char>(q)});
      b.insert(b.end(), r.begin(), r.end());
    }
    return std::make_pair(segment_file(name), b);
  };
  struct Case {
    std::vector<std::pair<std::string, Bytes>> files;
    Seq last;
    const char* reason;
  };
  const Case cases[] = {
      {{image(1, {1, 2, 4, 5})}, 2, "seq discontinuity"},
      {{image(1, {1, 2, 2})}, 2, "seq discontinuity"},
      {{image(5, {6, 7})}, 0, "!= segment name seq"},
      {{image(1, {1, 2}), image(4, {4, 5})}, 2, "segment name seq 4 != expected 3"},
      {{image(1, {1, 2}), image(3, {4, 5})}, 2, "first record seq 4"},
      {{image(0, {1})}, 0, "segment name seq 0"},
  };
  for (const Case& c : cases) {
    TempDir dir;
    for (const auto& [name, bytes] : c.files) write_bytes(dir.path() / name, bytes);
    Scan s = scan(dir.str());
    ASSERT_TRUE(s.ok);
    EXPECT_EQ(s.report.last_seq, c.last) << s.report.detail;
    EXPECT_EQ(s.records.size(), c.last);
    EXPECT_TRUE(s.report.had_corruption);
    EXPECT_NE(s.report.detail.find(c.reason), std::string::npos) << s.report.detail;
    EXPECT_TRUE(scan(dir.str(), 0, false).report.detail.empty());
  }
}

// --- the writer's threading ----------------------------------------------------

TEST(JournalWriter, DurableSeqIsMonotonicAndWaitDurableWorks) {
  TempDir dir;
  std::string error;
  auto w = JournalWriter::open(options(dir.str()), 0, &error);
  ASSERT_NE(w, nullptr) << error;
  constexpr Seq kCount = 20000;
  Seq listener_last = 0;
  bool listener_ok = true;
  // The raw pointer: w.reset() nulls the unique_ptr while the flusher still runs.
  w->set_durable_listener([&, raw = w.get()](Seq first, Seq last) {
    listener_ok = listener_ok && first == listener_last + 1 && last >= first && raw->durable_seq() >= last;
    listener_last = last;
  });
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    Seq prev = 0;
    while (!done.load()) {
      Seq d = w->durable_seq();
      EXPECT_GE(d, prev);
      EXPECT_LE(d, w->appended_seq());
      prev = d;
    }
  });
  std::thread waiter([&] {
    for (Seq target = 1; target <= kCount; target += 997) {
      EXPECT_TRUE(w->wait_durable(target));
      EXPECT_GE(w->durable_seq(), target);
    }
  });
  Bytes payload(40, 0x33);
  for (Seq s = 1; s <= kCount; ++s) w->append(s, payload);
  waiter.join();
  EXPECT_TRUE(w->flush());
  done = true;
  watcher.join();
  EXPECT_EQ(w->durable_seq(), kCount);
  w.reset();  // joins the flusher: the listener runs after durable_seq is published
  EXPECT_EQ(listener_last, kCount);
  EXPECT_TRUE(listener_ok);
  EXPECT_EQ(scan(dir.str()).report.last_seq, kCount);
}

TEST(JournalWriter, OneRecordPerBatchWhenIdle) {
  TempDir dir;
  std::string error;
  auto w = JournalWriter::open(options(dir.str()), 0, &error);
  ASSERT_NE(w, nullptr) << error;
  for (Seq s = 1; s <= 20; ++s) {
    w->append(s, Bytes{1, 2, 3});
    EXPECT_TRUE(w->wait_durable(s));
  }
  auto st = w->stats();
  EXPECT_EQ(st.batches, 20u);
  EXPECT_EQ(st.records, 20u);
  EXPECT_EQ(st.bytes, 20u * (kJournalRecordHeaderSize + 3));
}

TEST(JournalWriter, ManyRecordsPerBatchUnderLoad) {
  TempDir dir;
  std::string error;
  auto w = JournalWriter::open(options(dir.str(), 1u << 20), 0, &error);
  ASSERT_NE(w, nullptr) << error;
  uint64_t biggest = 0;
  w->set_durable_listener([&](Seq first, Seq last) { biggest = std::max<uint64_t>(biggest, last - first + 1); });
  constexpr Seq kCount = 50000;
  Bytes payload(100, 0x44);
  for (Seq s = 1; s <= kCount; ++s) w->append(s, payload);
  EXPECT_TRUE(w->flush());
  auto st = w->stats();
  EXPECT_EQ(st.records, kCount);
  EXPECT_EQ(st.bytes, kCount * (kJournalRecordHeaderSize + 100));
  EXPECT_LT(st.batches, kCount / 10);
  w.reset();
  EXPECT_GT(biggest, 10u);
  Scan s = scan(dir.str());
  EXPECT_EQ(s.report.records, kCount);
  EXPECT_GT(s.report.segments, 3u);
}

TEST(JournalWriter, AsyncModeAndBackPressure) {
  TempDir dir;
  JournalOptions o = options(dir.str(), 1u << 16, false);
  o.max_buffered_bytes = 1024;
  auto records = random_records(1, 5000, 200, 13);
  records[100].payload.assign(5000, 0x77);  // larger than the buffer limit: goes in alone
  std::string error;
  auto w = JournalWriter::open(o, 0, &error);
  ASSERT_NE(w, nullptr) << error;
  for (const auto& r : records) {
    w->append(r.seq, r.payload);
    // At most the batch being written and a full buffer are in flight, and a
    // record takes at least 16 bytes.
    ASSERT_LE(w->appended_seq() - w->durable_seq(), 2 * 1024 / kJournalRecordHeaderSize + 1);
  }
  EXPECT_TRUE(w->flush());
  w.reset();
  EXPECT_EQ(scan(dir.str()).records, records);
}

// An I/O error (here EFBIG from RLIMIT_FSIZE) stops durable_seq and sets
// failed(); what was written stays a valid prefix.
TEST(JournalWriter, WriteErrorMarksFailed) {
  QuietLogs quiet;
  TempDir dir;
  std::string error;
  JournalOptions o = options(dir.str(), 1u << 20, false);
  o.max_buffered_bytes = 4096;
  auto w = JournalWriter::open(o, 0, &error);
  ASSERT_NE(w, nullptr) << error;
  Bytes payload(100, 0x55);
  for (Seq s = 1; s <= 10; ++s) w->append(s, payload);
  ASSERT_TRUE(w->flush());

  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit{};
  ::getrlimit(RLIMIT_FSIZE, &old_limit);
  rlimit limit = old_limit;
  limit.rlim_cur = 4000;
  ::setrlimit(RLIMIT_FSIZE, &limit);
  for (Seq s = 11; s <= 200; ++s) w->append(s, payload);  // must not block for ever
  EXPECT_FALSE(w->wait_durable(200));
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_TRUE(w->failed());
  const Seq durable = w->durable_seq();
  EXPECT_LT(durable, 200u);
  EXPECT_GE(durable, 10u);
  w->append(201, payload);  // accepted and dropped
  EXPECT_EQ(w->durable_seq(), durable);
  w.reset();
  Scan s = scan(dir.str());
  EXPECT_TRUE(s.ok);
  EXPECT_GE(s.report.last_seq, durable);
  EXPECT_FALSE(s.report.had_corruption) << s.report.detail;
}

}  // namespace
}  // namespace bourse

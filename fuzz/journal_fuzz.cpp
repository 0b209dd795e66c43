// Fuzzes journal recovery: the input becomes one or two segment files, then
// scan_journal(repair) must not crash, must report only records that are
// really in the files with a valid CRC and contiguous seqs, must leave a
// journal that scans clean, and the writer must append after it.
//
// Input: byte 0 picks the mode, byte 1 the first segment's name seq and
// whether to run the writer check, the rest is the file content. In "structured" mode the rest is a program of
// (op, len) pairs that emit valid records (so the fuzzer gets past the CRC),
// records with a seq jump, or raw bytes.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "bourse/core/crc32c.h"
#include "bourse/core/log.h"
#include "bourse/sequencer/journal.h"

namespace {

using Bytes = std::vector<unsigned char>;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

// --- the format, written from docs/journal-format.md ----------------------------
uint32_t masked_crc(const unsigned char* p, std::size_t n) {
  uint32_t c = bourse::crc32c(p, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}
void put_u32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
}
void put_u64(Bytes& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
}
uint32_t get_u32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}
uint64_t get_u64(const unsigned char* p) { return get_u32(p) | static_cast<uint64_t>(get_u32(p + 4)) << 32; }
void put_header(Bytes& b) {
  const char magic[] = "BRSJRNL1";
  b.insert(b.end(), magic, magic + 8);
  put_u32(b, 1);
  put_u32(b, 0);
}
void put_record(Bytes& b, uint64_t seq, const unsigned char* payload, std::size_t n) {
  std::size_t start = b.size();
  put_u32(b, 0);
  put_u32(b, static_cast<uint32_t>(n));
  put_u64(b, seq);
  b.insert(b.end(), payload, payload + n);
  uint32_t crc = masked_crc(b.data() + start + 4, 12 + n);
  for (int i = 0; i < 4; ++i) b[start + i] = static_cast<unsigned char>(crc >> (8 * i));
}
std::string segment_name(uint64_t seq) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "journal-%020llu.log", static_cast<unsigned long long>(seq));
  return buf;
}

// --- scratch directory ------------------------------------------------------------
std::string g_dir;

void clear_dir() {
  if (DIR* d = ::opendir(g_dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
        ::unlink((g_dir + "/" + e->d_name).c_str());
      }
    }
    ::closedir(d);
  }
}
void remove_dir() {
  clear_dir();
  ::rmdir(g_dir.c_str());
}
void init() {
  // Repair fsyncs; on tmpfs that costs nothing, on a disk it dominates.
  const char* tmp = std::getenv("TMPDIR");
  for (std::string base : {std::string(tmp != nullptr ? tmp : ""), std::string("/dev/shm"), std::string("/tmp")}) {
    if (base.empty()) continue;
    std::string tmpl = base + "/journal_fuzz.XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) {
      g_dir = tmpl;
      break;
    }
  }
  FUZZ_CHECK(!g_dir.empty());
  std::atexit(remove_dir);
  // Every corrupt input would log a line; there is no level above kError.
  bourse::set_log_level(static_cast<bourse::LogLevel>(static_cast<int>(bourse::LogLevel::kError) + 1));
}
void write_file(const std::string& name, const Bytes& b) {
  FILE* f = std::fopen((g_dir + "/" + name).c_str(), "wb");
  FUZZ_CHECK(f != nullptr);
  if (!b.empty()) FUZZ_CHECK(std::fwrite(b.data(), 1, b.size(), f) == b.size());
  FUZZ_CHECK(std::fclose(f) == 0);
}
std::vector<std::string> segment_files() {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(g_dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (std::strncmp(e->d_name, "journal-", 8) == 0) out.push_back(e->d_name);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct Record {
  uint64_t seq;
  Bytes payload;
};

std::vector<Record> scan(bool repair, bourse::JournalScanReport* report) {
  std::vector<Record> out;
  std::string error;
  bool ok = bourse::scan_journal(
      g_dir, 0,
      [&](uint64_t seq, std::span<const unsigned char> p) {
        out.push_back({seq, Bytes(p.begin(), p.end())});
      },
      repair, report, &error);
  FUZZ_CHECK(ok);
  return out;
}

// Checks that `records` lie back to back, with valid CRCs, at the start of
// the given segment images (after their file headers).
void check_against_images(const std::vector<Record>& records, const std::vector<Bytes>& images,
                          uint64_t first_name_seq) {
  std::size_t image = 0;
  std::size_t off = bourse::kJournalFileHeaderSize;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    FUZZ_CHECK(r.seq == first_name_seq + i);  // contiguous from the journal's start
    // Scan only moves to the next segment after reading this one to its end.
    if (off == images[image].size()) {
      ++image;
      off = bourse::kJournalFileHeaderSize;
      FUZZ_CHECK(image < images.size());
    }
    const Bytes& b = images[image];
    FUZZ_CHECK(off + bourse::kJournalRecordHeaderSize + r.payload.size() <= b.size());
    FUZZ_CHECK(get_u32(&b[off + 4]) == r.payload.size());
    FUZZ_CHECK(get_u64(&b[off + 8]) == r.seq);
    FUZZ_CHECK(std::equal(r.payload.begin(), r.payload.end(), b.begin() + static_cast<std::ptrdiff_t>(off + 16)));
    FUZZ_CHECK(get_u32(&b[off]) == masked_crc(&b[off + 4], 12 + r.payload.size()));
    off += bourse::kJournalRecordHeaderSize + r.payload.size();
  }
}

// Turns the fuzz program into file bytes; returns the next seq it would use.
uint64_t build_structured(const uint8_t* data, std::size_t size, uint64_t seq, Bytes& out) {
  std::size_t i = 0;
  while (i + 2 <= size) {
    uint8_t op = data[i];
    std::size_t len = std::min<std::size_t>(data[i + 1], size - i - 2);
    const unsigned char* p = data + i + 2;
    i += 2 + len;
    switch (op % 8) {
      case 0:  // raw bytes
        out.insert(out.end(), p, p + len);
        break;
      case 1:  // a seq jump or repeat
        put_record(out, seq + (op >> 3) - 8, p, len);
        break;
      default:
        put_record(out, seq++, p, len);
        break;
    }
  }
  return seq;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (g_dir.empty()) init();
  if (size < 2) return 0;
  clear_dir();
  const uint8_t mode = data[0];
  const uint64_t name_seq = 1 + data[1] % 4;
  // Starting a writer (a thread) is by far the slowest step: one input in 8.
  const bool check_writer = (data[1] & 0xe0) == 0xe0;
  data += 2;
  size -= 2;
  const bool header = (mode & 1) != 0;
  const bool structured = (mode & 2) != 0;
  const bool two_segments = (mode & 4) != 0;
  const bool second_name_from_input = (mode & 8) != 0;

  // The second segment gets the bytes after a split point.
  std::size_t split = two_segments && size > 0 ? (static_cast<std::size_t>(mode >> 4) * size) / 16 : size;
  std::vector<Bytes> images(two_segments ? 2 : 1);
  std::vector<uint64_t> names = {name_seq};
  uint64_t next = name_seq;
  for (std::size_t s = 0; s < images.size(); ++s) {
    const uint8_t* p = s == 0 ? data : data + split;
    std::size_t n = s == 0 ? split : size - split;
    if (s == 1) names.push_back(second_name_from_input && n > 0 ? 1 + p[0] % 8 : next);
    if (header) put_header(images[s]);
    if (structured) {
      next = build_structured(p, n, s == 0 ? next : names[1], images[s]);
    } else {
      images[s].insert(images[s].end(), p, p + n);
    }
    if (s == 1 && names[1] == names[0]) {
      images.pop_back();  // same file name: keep one
      names.pop_back();
      break;
    }
  }
  for (std::size_t s = 0; s < images.size(); ++s) write_file(segment_name(names[s]), images[s]);
  if (images.size() == 2 && names[1] < names[0]) {
    std::swap(images[0], images[1]);
    std::swap(names[0], names[1]);
  }

  bourse::JournalScanReport report;
  std::vector<Record> records = scan(true, &report);
  check_against_images(records, images, names[0]);
  FUZZ_CHECK(report.records == records.size());
  if (!records.empty()) {
    FUZZ_CHECK(report.first_seq == records.front().seq);
    FUZZ_CHECK(report.last_seq == records.back().seq);
  }

  // Repair leaves a clean journal with the same records.
  bourse::JournalScanReport again;
  std::vector<Record> records2 = scan(false, &again);
  FUZZ_CHECK(again.detail.empty() && again.truncated_bytes == 0 && !again.had_corruption);
  FUZZ_CHECK(records2.size() == records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    FUZZ_CHECK(records2[i].seq == records[i].seq && records2[i].payload == records[i].payload);
  }

  const std::vector<std::string> left = segment_files();
  FUZZ_CHECK(report.segments == left.size());
  FUZZ_CHECK((report.next_seq == 0) == left.empty());
  if (!records.empty()) {
    FUZZ_CHECK(report.next_seq == report.last_seq + 1);
  } else if (!left.empty()) {
    // Only a header-only segment can be left, named after the next seq.
    FUZZ_CHECK(left.size() == 1 && report.next_seq == std::stoull(left[0].substr(8, 20)));
  }
  if (!check_writer) {
    clear_dir();
    return 0;
  }

  // The writer appends right after what is left.
  const uint64_t last = report.next_seq == 0 ? 0 : report.next_seq - 1;
  bourse::JournalOptions options;
  options.dir = g_dir;
  options.fsync = false;
  options.segment_bytes = 256;
  std::string error;
  {
    auto writer = bourse::JournalWriter::open(options, last, &error);
    if (writer == nullptr) std::fprintf(stderr, "open: %s\n", error.c_str());
    FUZZ_CHECK(writer != nullptr);
    const unsigned char payload[3] = {1, 2, 3};
    writer->append(last + 1, payload);
  }
  bourse::JournalScanReport final_report;
  std::vector<Record> records3 = scan(false, &final_report);
  FUZZ_CHECK(final_report.detail.empty());
  FUZZ_CHECK(records3.size() == records.size() + 1 && records3.back().seq == last + 1);
  clear_dir();  // libFuzzer may _exit() without running atexit: leave only an empty dir
  return 0;
}

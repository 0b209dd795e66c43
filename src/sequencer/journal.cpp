#include "bourse/sequencer/journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "bourse/core/crc32c.h"
#include "bourse/core/file_io.h"
#include "bourse/core/log.h"

namespace bourse {
namespace {

constexpr char kComponent[] = "journal";
constexpr unsigned char kMagic[8] = {'B', 'R', 'S', 'J', 'R', 'N', 'L', '1'};
constexpr char kPrefix[] = "journal-";
constexpr char kSuffix[] = ".log";
constexpr std::size_t kSeqDigits = 20;
constexpr std::size_t kNameLength = sizeof(kPrefix) - 1 + kSeqDigits + sizeof(kSuffix) - 1;
// Segments are read in chunks of about this size; the buffer grows for a
// larger record.
constexpr std::size_t kReadChunk = 256u << 10;

// leveldb's mask: a CRC computed over data that embeds CRCs is otherwise
// prone to trivial collisions.
constexpr uint32_t kMaskDelta = 0xa282ead8u;
uint32_t mask_crc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }

void put_u32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint32_t get_u32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t get_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// CRC of a record whose header starts at p: covers length, seq and payload.
uint32_t record_crc(const unsigned char* p, std::size_t payload_size) {
  return mask_crc(crc32c(p + 4, kJournalRecordHeaderSize - 4 + payload_size));
}

void encode_file_header(unsigned char* p) {
  std::memcpy(p, kMagic, sizeof(kMagic));
  put_u32(p + 8, kJournalVersion);
  put_u32(p + 12, 0);
}

std::string errno_text(const char* what, const std::string& path, int err) {
  return std::string(what) + " " + path + ": " + std::strerror(err);
}

std::string segment_name(Seq first_seq) {
  char buf[kNameLength + 1];
  std::snprintf(buf, sizeof(buf), "journal-%020" PRIu64 ".log", first_seq);
  return buf;
}

// Parses "journal-<20 digits>.log"; anything else is not a segment.
bool parse_segment_name(const char* name, Seq* seq) {
  std::size_t n = std::strlen(name);
  if (n != kNameLength) return false;
  if (std::memcmp(name, kPrefix, sizeof(kPrefix) - 1) != 0) return false;
  if (std::memcmp(name + n - (sizeof(kSuffix) - 1), kSuffix, sizeof(kSuffix) - 1) != 0) return false;
  const char* digits = name + sizeof(kPrefix) - 1;
  for (std::size_t i = 0; i < kSeqDigits; ++i) {
    if (digits[i] < '0' || digits[i] > '9') return false;
  }
  auto [end, ec] = std::from_chars(digits, digits + kSeqDigits, *seq);
  return ec == std::errc() && end == digits + kSeqDigits;
}

int open_retry(const char* path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path, flags, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// A failed fdatasync is never retried: the kernel may have dropped the dirty
// pages, so a later success would prove nothing.
bool sync_data(int fd) {
  int r;
  do {
    r = ::fdatasync(fd);
  } while (r < 0 && errno == EINTR);
  return r == 0;
}
bool sync_all(int fd) {
  int r;
  do {
    r = ::fsync(fd);
  } while (r < 0 && errno == EINTR);
  return r == 0;
}

bool sync_dir(const std::string& dir, std::string* error) {
  int fd = open_retry(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    *error = errno_text("open", dir, errno);
    return false;
  }
  bool ok = sync_all(fd);
  if (!ok) *error = errno_text("fsync", dir, errno);
  ::close(fd);
  return ok;
}

// flock on the directory itself: no lock file to manage, released by close,
// including when the process dies.
class DirLock {
 public:
  DirLock() = default;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  // A missing directory is not an error (fd() stays -1).
  bool acquire(const std::string& dir, std::string* error) {
    fd_ = open_retry(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) {
      if (errno == ENOENT) return true;
      *error = errno_text("open", dir, errno);
      return false;
    }
    int r;
    do {
      r = ::flock(fd_, LOCK_EX | LOCK_NB);
    } while (r < 0 && errno == EINTR);
    if (r != 0) {
      *error = errno == EWOULDBLOCK ? "journal " + dir + " is open by another writer" : errno_text("flock", dir, errno);
      return false;
    }
    return true;
  }
  int fd() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

struct Segment {
  Seq name_seq;
  std::string path;
};

// Lists segments sorted by the seq in their names. A missing directory is an
// empty journal.
bool list_segments(const std::string& dir, std::vector<Segment>* out, std::string* error) {
  out->clear();
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return true;
    *error = errno_text("opendir", dir, errno);
    return false;
  }
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    Seq seq = 0;
    if (parse_segment_name(e->d_name, &seq)) out->push_back({seq, dir + "/" + e->d_name});
    errno = 0;
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) {
    *error = errno_text("readdir", dir, err);
    return false;
  }
  std::sort(out->begin(), out->end(), [](const Segment& a, const Segment& b) { return a.name_seq < b.name_seq; });
  return true;
}

// Reused across the segments of one scan; not zeroed.
struct ReadBuffer {
  std::unique_ptr<unsigned char[]> data;
  std::size_t capacity = 0;
  void reserve(std::size_t n) {
    if (capacity >= n) return;
    data.reset(new unsigned char[n]);
    capacity = n;
  }
};

// Sequential reader over one file.
class FileReader {
 public:
  FileReader(int fd, ReadBuffer& buf) : fd_(fd), buf_(buf) { buf_.reserve(kReadChunk); }

  // Tries to make n bytes available at data(). False at end of file with
  // fewer; io_errno() tells a read failure apart.
  bool ensure(std::size_t n) {
    if (end_ - pos_ >= n) return true;
    if (pos_ + n > buf_.capacity) {
      if (2 * n > buf_.capacity) {
        // Room for n plus a chunk ahead: n is bounded by the record size limit.
        std::unique_ptr<unsigned char[]> bigger(new unsigned char[n + kReadChunk]);
        std::memcpy(bigger.get(), buf_.data.get() + pos_, end_ - pos_);
        buf_.data = std::move(bigger);
        buf_.capacity = n + kReadChunk;
      } else {
        std::memmove(buf_.data.get(), buf_.data.get() + pos_, end_ - pos_);
      }
      end_ -= pos_;
      pos_ = 0;
    }
    while (end_ - pos_ < n && !eof_) {
      ssize_t r = ::read(fd_, buf_.data.get() + end_, buf_.capacity - end_);
      if (r < 0) {
        if (errno == EINTR) continue;
        io_errno_ = errno;
        return false;
      }
      if (r == 0) eof_ = true;
      end_ += static_cast<std::size_t>(r);
    }
    return end_ - pos_ >= n;
  }
  const unsigned char* data() const { return buf_.data.get() + pos_; }
  std::size_t available() const { return end_ - pos_; }
  void consume(std::size_t n) {
    pos_ += n;
    offset_ += n;
  }
  uint64_t offset() const { return offset_; }
  int io_errno() const { return io_errno_; }

 private:
  int fd_;
  ReadBuffer& buf_;
  std::size_t pos_ = 0, end_ = 0;
  uint64_t offset_ = 0;
  bool eof_ = false;
  int io_errno_ = 0;
};

struct SegmentScan {
  std::string io_error;  // non-empty: the segment could not be read
  bool invalid = false;
  uint64_t bad_offset = 0;
  bool bad_header = false;  // file header or name wrong: the whole segment goes
  bool cut_short = false;   // the bad record or header runs into end of file
  std::string reason;
  uint64_t size = 0;
  uint64_t records = 0;
  Seq first = 0, last = 0;
};

// True when every byte of the file from `offset` on is zero: what a crash can
// leave when the file size was extended before the data reached the disk.
bool zero_tail(int fd, uint64_t offset, uint64_t size, ReadBuffer& buf) {
  buf.reserve(kReadChunk);
  while (offset < size) {
    std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(buf.capacity, size - offset));
    ssize_t r = ::pread(fd, buf.data.get(), n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    for (ssize_t i = 0; i < r; ++i) {
      if (buf.data[i] != 0) return false;
    }
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

// Validates one segment; `expected` is the seq its first record must carry
// and advances over each valid record.
SegmentScan scan_segment(const Segment& seg, Seq* expected, Seq after_seq,
                         const std::function<void(Seq, std::span<const unsigned char>)>& fn, ReadBuffer& buf) {
  SegmentScan s;
  int fd = open_retry(seg.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    s.io_error = errno_text("open", seg.path, errno);
    return s;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    s.io_error = errno_text("fstat", seg.path, errno);
    ::close(fd);
    return s;
  }
  s.size = static_cast<uint64_t>(st.st_size);
  auto invalid = [&](uint64_t offset, bool cut_short, std::string reason) {
    s.invalid = true;
    s.bad_offset = offset;
    s.cut_short = cut_short;
    s.reason = std::move(reason);
  };

  FileReader r(fd, buf);
  char msg[160];
  const bool name_ok = seg.name_seq == *expected;
  if (!name_ok) {
    std::snprintf(msg, sizeof(msg), "segment name seq %" PRIu64 " != expected %" PRIu64, seg.name_seq, *expected);
    invalid(0, false, msg);
    s.bad_header = true;
  } else if (!r.ensure(kJournalFileHeaderSize)) {
    if (r.io_errno() == 0) {
      std::snprintf(msg, sizeof(msg), "file header truncated (%zu of %zu bytes)", r.available(),
                    kJournalFileHeaderSize);
      invalid(0, true, msg);
      s.bad_header = true;
    }
  } else if (std::memcmp(r.data(), kMagic, sizeof(kMagic)) != 0) {
    invalid(0, false, "bad file magic");
    s.bad_header = true;
  } else if (get_u32(r.data() + 8) != kJournalVersion || get_u32(r.data() + 12) != 0) {
    std::snprintf(msg, sizeof(msg), "unsupported file header version %" PRIu32 " reserved %" PRIu32,
                  get_u32(r.data() + 8), get_u32(r.data() + 12));
    invalid(0, false, msg);
    s.bad_header = true;
  } else {
    r.consume(kJournalFileHeaderSize);
    for (;;) {
      if (!r.ensure(kJournalRecordHeaderSize)) {
        if (r.io_errno() != 0 || r.available() == 0) break;  // read error, or clean end
        std::snprintf(msg, sizeof(msg), "record header truncated (%zu of %zu bytes)", r.available(),
                      kJournalRecordHeaderSize);
        invalid(r.offset(), true, msg);
        break;
      }
      const unsigned char* p = r.data();
      uint32_t crc = get_u32(p);
      uint32_t length = get_u32(p + 4);
      Seq seq = get_u64(p + 8);
      if (length > kMaxJournalRecord) {
        std::snprintf(msg, sizeof(msg), "length %" PRIu32 " > max %zu", length, kMaxJournalRecord);
        invalid(r.offset(), false, msg);
        break;
      }
      if (!r.ensure(kJournalRecordHeaderSize + length)) {
        if (r.io_errno() != 0) break;
        std::snprintf(msg, sizeof(msg), "payload truncated (%zu of %" PRIu32 " bytes)",
                      r.available() - kJournalRecordHeaderSize, length);
        invalid(r.offset(), true, msg);
        break;
      }
      p = r.data();  // ensure() may have moved the bytes
      if (record_crc(p, length) != crc) {
        std::snprintf(msg, sizeof(msg), "crc mismatch (seq field %" PRIu64 ", length %" PRIu32 ")", seq, length);
        invalid(r.offset(), false, msg);
        break;
      }
      if (seq != *expected) {
        if (s.records == 0) {
          std::snprintf(msg, sizeof(msg), "first record seq %" PRIu64 " != segment name seq %" PRIu64, seq,
                        seg.name_seq);
        } else {
          std::snprintf(msg, sizeof(msg), "seq discontinuity: %" PRIu64 " after %" PRIu64, seq, *expected - 1);
        }
        invalid(r.offset(), false, msg);
        break;
      }
      if (s.records == 0) s.first = seq;
      s.last = seq;
      ++s.records;
      ++*expected;
      if (fn && seq > after_seq) fn(seq, std::span<const unsigned char>(p + kJournalRecordHeaderSize, length));
      r.consume(kJournalRecordHeaderSize + length);
    }
  }
  if (r.io_errno() != 0) s.io_error = errno_text("read", seg.path, r.io_errno());
  // Zeros after the last good record are a torn append on file systems that
  // extend the size before writing the data.
  if (s.invalid && !s.cut_short && s.io_error.empty() && name_ok && zero_tail(fd, s.bad_offset, s.size, buf)) {
    s.cut_short = true;
    s.reason += ", zeros to end of file";
  }
  ::close(fd);
  return s;
}

}  // namespace

bool scan_journal(const std::string& dir, Seq after_seq,
                  const std::function<void(Seq, std::span<const unsigned char>)>& fn, bool repair,
                  JournalScanReport* report, std::string* error) {
  JournalScanReport local;
  JournalScanReport& rep = report != nullptr ? *report : local;
  rep = JournalScanReport{};
  std::string local_error;
  std::string& err = error != nullptr ? *error : local_error;

  // Repair must not cut the tail a live writer is appending: it takes the
  // writer's lock.
  DirLock lock;
  if (repair && !lock.acquire(dir, &err)) return false;
  std::vector<Segment> segments;
  if (!list_segments(dir, &segments, &err)) return false;
  if (segments.empty()) return true;
  // The first segment's name says where the journal starts (older ones may
  // have been pruned); seq 0 is never used.
  Seq expected = segments[0].name_seq == 0 ? 1 : segments[0].name_seq;
  ReadBuffer buf;

  std::size_t bad = segments.size();
  SegmentScan fault;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    SegmentScan s = scan_segment(segments[i], &expected, after_seq, fn, buf);
    if (!s.io_error.empty()) {
      err = s.io_error;
      return false;
    }
    if (s.records > 0) {
      if (rep.records == 0) rep.first_seq = s.first;
      rep.last_seq = s.last;
      rep.records += s.records;
    }
    if (s.invalid) {
      bad = i;
      fault = std::move(s);
      break;
    }
    ++rep.segments;
  }
  if (bad == segments.size()) {
    rep.next_seq = expected;
    return true;
  }

  // Only the end of the last segment can be torn by a crash: the writer syncs
  // a segment before it starts the next one.
  const Segment& seg = segments[bad];
  bool last = bad + 1 == segments.size();
  rep.had_corruption = !(last && fault.cut_short);
  rep.deleted_segments = segments.size() - bad - 1 + (fault.bad_header ? 1 : 0);
  rep.truncated_bytes = fault.size - (fault.bad_header ? 0 : fault.bad_offset);
  if (!fault.bad_header) ++rep.segments;
  rep.next_seq = rep.segments > 0 ? expected : 0;
  for (std::size_t i = bad + 1; i < segments.size(); ++i) {
    struct stat st {};
    if (::stat(segments[i].path.c_str(), &st) == 0) rep.truncated_bytes += static_cast<uint64_t>(st.st_size);
  }
  char msg[512];
  std::snprintf(msg, sizeof(msg), "%s in %s at offset %" PRIu64 ": %s", rep.had_corruption ? "corruption" : "torn tail",
                seg.path.c_str(), fault.bad_offset, fault.reason.c_str());
  rep.detail = msg;
  const char* action = !repair ? "not repairing" : fault.bad_header ? "deleting the segment" : "truncating";
  log_line(rep.had_corruption ? LogLevel::kError : LogLevel::kWarn, kComponent,
           "%s; %s; %" PRIu64 " bytes and %zu later segment(s) %s", msg, action, rep.truncated_bytes,
           segments.size() - bad - 1, repair ? "dropped" : "would be dropped");
  if (!repair) return true;

  // Later segments go first: if we crash half way, the next scan still stops
  // at the same record and finishes the job.
  for (std::size_t i = segments.size(); i-- > bad + 1;) {
    if (::unlink(segments[i].path.c_str()) != 0) {
      err = errno_text("unlink", segments[i].path, errno);
      return false;
    }
    log_line(LogLevel::kWarn, kComponent, "deleted segment %s (after invalid record)", segments[i].path.c_str());
  }
  if (fault.bad_header) {
    if (::unlink(seg.path.c_str()) != 0) {
      err = errno_text("unlink", seg.path, errno);
      return false;
    }
  } else {
    int fd = open_retry(seg.path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      err = errno_text("open", seg.path, errno);
      return false;
    }
    int r;
    do {
      r = ::ftruncate(fd, static_cast<off_t>(fault.bad_offset));
    } while (r < 0 && errno == EINTR);
    bool ok = r == 0 && sync_all(fd);
    if (!ok) err = errno_text("truncate", seg.path, errno);
    ::close(fd);
    if (!ok) return false;
  }
  if (!sync_all(lock.fd())) {
    err = errno_text("fsync", dir, errno);
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------

unsigned char* JournalWriter::Buffer::grow_by(std::size_t n) {
  if (size + n > capacity) {
    std::size_t cap = std::max<std::size_t>({capacity * 2, size + n, 64u << 10});
    std::unique_ptr<unsigned char[]> bigger(new unsigned char[cap]);
    if (size > 0) std::memcpy(bigger.get(), data.get(), size);
    data = std::move(bigger);
    capacity = cap;
  }
  unsigned char* p = data.get() + size;
  size += n;
  return p;
}

JournalWriter::JournalWriter(const JournalOptions& options) : options_(options) {}

std::unique_ptr<JournalWriter> JournalWriter::open(const JournalOptions& options, Seq last_seq, std::string* error) {
  std::string local_error;
  std::string& err = error != nullptr ? *error : local_error;
  std::unique_ptr<JournalWriter> w(new JournalWriter(options));
  if (!w->open_files(last_seq, &err)) return nullptr;
  w->appended_.store(last_seq, std::memory_order_relaxed);
  w->durable_.store(last_seq, std::memory_order_relaxed);
  try {
    w->thread_ = std::thread([p = w.get()] { p->run(); });
  } catch (const std::system_error& e) {
    err = std::string("cannot start the journal flusher: ") + e.what();
    return nullptr;
  }
  return w;
}

bool JournalWriter::open_files(Seq last_seq, std::string* error) {
  const std::string& dir = options_.dir;
  if (dir.empty()) {
    *error = "journal dir not set";
    return false;
  }
  // mkdir -p, syncing each parent whose entries changed.
  for (std::size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), 0755) == 0) {
      std::size_t slash = part.find_last_of('/');
      std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : part.substr(0, slash);
      if (options_.fsync && !sync_dir(parent, error)) return false;
    } else {
      int err = errno;
      struct stat st {};
      if (err != EEXIST && !(::stat(part.c_str(), &st) == 0 && S_ISDIR(st.st_mode))) {
        *error = errno_text("mkdir", part, err);
        return false;
      }
    }
  }
  DirLock lock;
  if (!lock.acquire(dir, error)) return false;
  if (lock.fd() < 0) {
    *error = "journal " + dir + " vanished";
    return false;
  }
  dir_fd_ = lock.release();

  std::vector<Segment> segments;
  if (!list_segments(dir, &segments, error)) return false;
  if (segments.empty()) return roll_segment(last_seq + 1, error);

  // Appending after a seq other than the journal's last would write a gap or
  // a duplicate that the next scan cuts off with everything after it.
  const Segment& seg = segments.back();
  Seq expected = seg.name_seq;
  ReadBuffer buf;
  SegmentScan s = scan_segment(seg, &expected, 0, nullptr, buf);
  if (!s.io_error.empty()) {
    *error = s.io_error;
    return false;
  }
  if (s.invalid) {
    *error = seg.path + " has an invalid record at offset " + std::to_string(s.bad_offset) + " (" + s.reason +
             "); scan_journal with repair first";
    return false;
  }
  if (seg.name_seq == 0 || expected - 1 != last_seq) {
    *error = "journal " + dir + " ends at seq " + std::to_string(expected - 1) + " but last_seq is " +
             std::to_string(last_seq);
    return false;
  }
  segment_fd_ = open_retry(seg.path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (segment_fd_ < 0) {
    *error = errno_text("open", seg.path, errno);
    return false;
  }
  segment_path_ = seg.path;
  segment_size_ = s.size;
  return true;
}

JournalWriter::~JournalWriter() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_one();
    thread_.join();
  }
  if (segment_fd_ >= 0) ::close(segment_fd_);
  if (dir_fd_ >= 0) ::close(dir_fd_);  // releases the flock
}

void JournalWriter::set_durable_listener(std::function<void(Seq first, Seq last)> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listener_ = std::move(listener);
}

void JournalWriter::append(Seq seq, std::span<const unsigned char> payload) {
  Seq prev = appended_.load(std::memory_order_relaxed);
  if (seq != prev + 1 || payload.size() > kMaxJournalRecord) {
    log_line(LogLevel::kError, kComponent, "append: seq %" PRIu64 " after %" PRIu64 ", size %zu (max %zu); aborting",
             seq, prev, payload.size(), kMaxJournalRecord);
    std::abort();
  }
  const std::size_t n = kJournalRecordHeaderSize + payload.size();
  bool wake = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    // A record larger than the limit still goes in alone, else it would wait
    // for ever.
    while (active_.size > 0 && active_.size + n > options_.max_buffered_bytes) {
      producer_waiting_ = true;
      space_cv_.wait(lock);
    }
    if (active_.size == 0) active_first_ = seq;
    unsigned char* p = active_.grow_by(n);
    put_u32(p, 0);  // the flusher fills in the crc, off this thread
    put_u32(p + 4, static_cast<uint32_t>(payload.size()));
    put_u64(p + 8, seq);
    if (!payload.empty()) std::memcpy(p + kJournalRecordHeaderSize, payload.data(), payload.size());
    appended_.store(seq, std::memory_order_release);
    if (flusher_idle_) {
      flusher_idle_ = false;  // one wake-up per idle period
      wake = true;
    }
  }
  if (wake) work_cv_.notify_one();
}

bool JournalWriter::wait_durable(Seq seq) {
  if (durable_.load(std::memory_order_acquire) >= seq) return true;
  std::unique_lock<std::mutex> lock(mu_);
  durable_cv_.wait(lock, [&] { return durable_.load(std::memory_order_acquire) >= seq || failed(); });
  return durable_.load(std::memory_order_acquire) >= seq;
}

JournalWriter::Stats JournalWriter::stats() const {
  return {stat_batches_.load(std::memory_order_relaxed), stat_records_.load(std::memory_order_relaxed),
          stat_bytes_.load(std::memory_order_relaxed)};
}

void JournalWriter::fail(const std::string& what) {
  log_line(LogLevel::kError, kComponent, "%s; journal failed, durable_seq stays at %" PRIu64, what.c_str(),
           durable_.load(std::memory_order_relaxed));
  {
    std::lock_guard<std::mutex> lock(mu_);
    failed_.store(true, std::memory_order_release);
  }
  durable_cv_.notify_all();
}

void JournalWriter::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    while (active_.size == 0 && !stop_) {
      flusher_idle_ = true;
      work_cv_.wait(lock);
    }
    flusher_idle_ = false;
    if (active_.size == 0) break;  // stopping, and everything is written
    std::swap(active_, flushing_);
    active_.size = 0;
    const Seq first = active_first_;
    const Seq last = appended_.load(std::memory_order_relaxed);
    const bool producer_waiting = std::exchange(producer_waiting_, false);
    lock.unlock();
    if (producer_waiting) space_cv_.notify_one();

    // After a failure batches are dropped so that append() never blocks for
    // ever on a full buffer.
    if (!failed()) {
      std::string error;
      if (write_batch(flushing_, &error)) {
        stat_batches_.fetch_add(1, std::memory_order_relaxed);
        stat_records_.fetch_add(last - first + 1, std::memory_order_relaxed);
        stat_bytes_.fetch_add(flushing_.size, std::memory_order_relaxed);
        {
          // Under the lock so that a waiter cannot miss the notification.
          std::lock_guard<std::mutex> guard(mu_);
          durable_.store(last, std::memory_order_release);
        }
        durable_cv_.notify_all();
        if (listener_) listener_(first, last);
      } else {
        fail(error);
      }
    }
    flushing_.size = 0;
    lock.lock();
  }
}

bool JournalWriter::write_batch(Buffer& batch, std::string* error) {
  unsigned char* data = batch.data.get();
  std::size_t chunk = 0;  // start of the bytes not yet written
  for (std::size_t off = 0; off < batch.size;) {
    unsigned char* p = data + off;
    const std::size_t length = get_u32(p + 4);
    const std::size_t n = kJournalRecordHeaderSize + length;
    put_u32(p, record_crc(p, length));
    const uint64_t projected = segment_size_ + (off - chunk);
    if (projected > kJournalFileHeaderSize && projected + n > options_.segment_bytes) {
      if (!write_all(segment_fd_, data + chunk, off - chunk)) {
        *error = errno_text("write", segment_path_, errno);
        return false;
      }
      segment_size_ += off - chunk;
      chunk = off;
      if (!roll_segment(get_u64(p + 8), error)) return false;
    }
    off += n;
  }
  if (!write_all(segment_fd_, data + chunk, batch.size - chunk)) {
    *error = errno_text("write", segment_path_, errno);
    return false;
  }
  segment_size_ += batch.size - chunk;
  if (options_.fsync && !sync_data(segment_fd_)) {
    *error = errno_text("fdatasync", segment_path_, errno);
    return false;
  }
  return true;
}

bool JournalWriter::roll_segment(Seq first_seq, std::string* error) {
  if (segment_fd_ >= 0) {
    // The finished segment is made durable before the next one exists, so
    // that only the last segment can ever have a torn tail.
    if (options_.fsync && !sync_data(segment_fd_)) {
      *error = errno_text("fdatasync", segment_path_, errno);
      return false;
    }
    ::close(segment_fd_);
    segment_fd_ = -1;
  }
  segment_path_ = options_.dir + "/" + segment_name(first_seq);
  segment_fd_ = open_retry(segment_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (segment_fd_ < 0) {
    *error = errno_text("create", segment_path_, errno);
    return false;
  }
  unsigned char header[kJournalFileHeaderSize];
  encode_file_header(header);
  if (!write_all(segment_fd_, header, sizeof(header))) {
    *error = errno_text("write", segment_path_, errno);
    return false;
  }
  segment_size_ = kJournalFileHeaderSize;
  // The header itself is synced with the segment's first batch; a crash
  // before that leaves a short header in the last segment: a torn tail.
  if (options_.fsync && !sync_all(dir_fd_)) {
    *error = errno_text("fsync", options_.dir, errno);
    return false;
  }
  return true;
}

}  // namespace bourse

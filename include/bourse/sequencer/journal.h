// The sequencer's write-ahead journal: an append-only sequence of opaque byte
// records, each with its sequence number, split over segment files in one
// directory. It knows nothing about commands. Format and recovery rules:
// docs/journal-format.md.
//
// Writing: one JournalWriter per directory (an flock on the directory keeps a
// second writer out). One producer thread calls append(), which only copies
// the record into a buffer; a flusher thread owned by the writer writes
// whole batches and fdatasync()s them (group commit), then publishes
// durable_seq(). On an I/O error the flusher logs it, stops advancing
// durable_seq() and failed() turns true; the owner must stop accepting work.
//
// Reading: scan_journal() replays the valid prefix of the journal and, with
// `repair`, cuts off whatever follows the first invalid record, so that the
// writer can append after it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "bourse/core/types.h"

namespace bourse {

// Largest payload of one record. Also bounds what a corrupt length field can
// make the reader allocate.
constexpr std::size_t kMaxJournalRecord = 1u << 20;
// Segment file header: "BRSJRNL1", u32 version, u32 reserved.
constexpr std::size_t kJournalFileHeaderSize = 16;
// Record header: u32 masked crc32c, u32 length, u64 seq.
constexpr std::size_t kJournalRecordHeaderSize = 16;
constexpr uint32_t kJournalVersion = 1;

struct JournalOptions {
  std::string dir;                             // created if missing
  std::size_t segment_bytes = 64u << 20;       // a record that would take a segment past this starts a new one
  bool fsync = true;                           // false = "async" mode: write() but no fdatasync (benchmarks)
  std::size_t max_buffered_bytes = 64u << 20;  // append() blocks while this much is waiting (back-pressure)
};

struct JournalScanReport {
  Seq first_seq = 0, last_seq = 0;  // of the valid prefix, whatever after_seq is; 0 when it holds no record
  uint64_t records = 0;             // valid records (all of them, not only those passed to fn)
  // The seq the next record must carry: last_seq + 1, or the name of a
  // valid header-only segment; 0 when no segment is left. What to pass (minus
  // one) to JournalWriter::open when there is no snapshot to go by.
  Seq next_seq = 0;
  uint64_t segments = 0;  // segment files that hold the valid prefix
  // Bytes and files past the valid prefix: removed when repair is true, what
  // repair would remove otherwise.
  uint64_t truncated_bytes = 0;
  uint64_t deleted_segments = 0;
  // True when the invalid data is more than a torn tail, i.e. more than what a
  // crash while appending leaves: anything but a record (or file header) cut
  // short by the end of the last segment or followed only by zero bytes there.
  bool had_corruption = false;
  std::string detail;  // human-readable reason of a truncation; empty when the journal is clean
};

// Reads every segment in order, verifies each record (length bounds, CRC32C,
// seq == previous + 1, first seq of a segment == the seq in its name) and calls
// `fn` (if set) for each valid record with seq > after_seq; the payload span is
// valid during the call only. At the first invalid record it stops, logs one
// line naming file, offset and reason (kWarn for a torn tail, kError for
// corruption) and, when `repair` is true, deletes all later segments, then
// truncates that segment at the record start (deletes it when its file header
// or name is bad) and syncs. Never calls fn for anything at or after the bad
// record. A missing directory is an empty journal. With `repair` it takes the
// writer's lock on the directory, so it fails while a JournalWriter has it
// open; without, it reads alongside a writer (whose unfinished tail it may
// report as torn).
//
// Returns false, repairing nothing, on an I/O error (directory or a segment
// unreadable, repair failed, directory locked); the error is in *error. Records passed to fn
// before such an error were valid.
bool scan_journal(const std::string& dir, Seq after_seq,
                  const std::function<void(Seq, std::span<const unsigned char>)>& fn, bool repair,
                  JournalScanReport* report, std::string* error);

class JournalWriter {
 public:
  // Opens the journal for appending after `last_seq` (what recovery found; 0
  // for a new journal; the snapshot's seq when every segment was pruned).
  // Appends go to the last segment or, when there is none, to a new one.
  // Fails if the last segment does not end exactly at last_seq or has an
  // invalid tail (run scan_journal with repair first), or if another writer
  // holds the directory. Starts the flusher thread. Returns nullptr and
  // *error on failure.
  static std::unique_ptr<JournalWriter> open(const JournalOptions& options, Seq last_seq, std::string* error);

  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;
  // Writes (and in fsync mode syncs) everything appended, stops the thread.
  ~JournalWriter();

  // Producer thread only. Copies the record into the pending buffer; no
  // syscall unless the flusher is idle (one wake-up) or the buffer is full
  // (blocks). REQUIRES: seq == appended_seq() + 1 and payload.size() <=
  // kMaxJournalRecord; violating either aborts, since it would corrupt the
  // journal. After failed() records are accepted and dropped.
  void append(Seq seq, std::span<const unsigned char> payload);

  Seq appended_seq() const { return appended_.load(std::memory_order_acquire); }
  // Highest seq written (and fdatasync'ed in fsync mode). Any thread.
  Seq durable_seq() const { return durable_.load(std::memory_order_acquire); }
  // Blocks until durable_seq() >= seq. Returns false early, without waiting
  // for ever, when the journal has failed. Any thread.
  bool wait_durable(Seq seq);
  // wait_durable(appended_seq()).
  bool flush() { return wait_durable(appended_seq()); }

  // Set before the first append. Called on the flusher thread after each
  // batch became durable, with the first and last seq of the batch; it must
  // not call into this writer except the const accessors.
  void set_durable_listener(std::function<void(Seq first, Seq last)> listener);

  struct Stats {
    uint64_t batches, records, bytes;  // bytes: record headers + payloads written
  };
  Stats stats() const;
  bool failed() const { return failed_.load(std::memory_order_acquire); }

 private:
  // A growable byte buffer that does not zero what it allocates.
  struct Buffer {
    std::unique_ptr<unsigned char[]> data;
    std::size_t size = 0;
    std::size_t capacity = 0;
    unsigned char* grow_by(std::size_t n);  // returns where the n new bytes go
  };

  explicit JournalWriter(const JournalOptions& options);
  bool open_files(Seq last_seq, std::string* error);
  void run();
  bool write_batch(Buffer& batch, std::string* error);
  bool roll_segment(Seq first_seq, std::string* error);
  void fail(const std::string& what);

  const JournalOptions options_;
  // Owned by the flusher thread after open().
  int dir_fd_ = -1;  // also holds the flock
  int segment_fd_ = -1;
  std::string segment_path_;
  uint64_t segment_size_ = 0;
  Buffer flushing_;
  std::function<void(Seq, Seq)> listener_;  // set before the first append, read by the flusher

  mutable std::mutex mu_;
  std::condition_variable work_cv_;     // flusher waits for records or stop
  std::condition_variable space_cv_;    // producer waits for buffer space
  std::condition_variable durable_cv_;  // wait_durable() callers
  // Guarded by mu_.
  Buffer active_;
  Seq active_first_ = 0;
  bool flusher_idle_ = false;
  bool producer_waiting_ = false;
  bool stop_ = false;

  std::atomic<Seq> appended_{0};
  std::atomic<Seq> durable_{0};
  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> stat_batches_{0}, stat_records_{0}, stat_bytes_{0};
  std::thread thread_;
};

}  // namespace bourse

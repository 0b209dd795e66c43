// IdempotencyCache: POST requests with an Idempotency-Key header. The first
// request with a key runs; a retry with the same key and the same request
// (method, target, body) gets the first response again (never a second
// order); the same key with a different request, or while the first is
// still running, is 409 IDEMPOTENCY_CONFLICT.
//
// Scope: per account, 24 hours, at most kMaxEntries (oldest evicted first).
// Threads: any; one mutex (held for map operations only).
//
// Across restarts: a request with a key carries the key's tag (tag_of) and a
// 16-bit request fingerprint in its engine command's header, so the journal
// records them with the command; the history projector turns them into
// store::IdempotencyRow outcomes, which load_durable() takes at start. A
// retry of a request from before the restart is answered from that outcome
// (kReplayDurable), never executed again; a different request with the same
// key is a conflict (to 1 in 65,536, the fingerprint's width).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/store.h"

namespace bourse::gateway {

class IdempotencyCache {
 public:
  static constexpr std::size_t kMaxEntries = 200'000;
  static constexpr int64_t kTtlMs = store::kIdempotencyTtlMs;
  static constexpr std::size_t kMaxKeyLength = 64;

  struct Stored {
    int status = 0;
    std::string body;
    std::string content_type;
  };
  enum class Begin { kProceed, kReplay, kReplayDurable, kConflictDifferentRequest, kConflictInProgress };

  // The key's identity in the journal: never 0 (0 means "no key").
  static uint64_t tag_of(uint32_t account, const std::string& key);
  // The low 16 bits of the request fingerprint (hex SHA-256).
  static uint16_t fingerprint16(const std::string& fingerprint);

  // Outcomes of keyed commands from before this process started (newest
  // first, at most kMaxEntries kept).
  void load_durable(std::vector<store::IdempotencyRow> rows);

  // kReplay fills *stored; kReplayDurable fills *durable.
  Begin begin(uint32_t account, const std::string& key, const std::string& fingerprint, int64_t now_ms, Stored* stored,
              store::IdempotencyRow* durable = nullptr);
  void finish(uint32_t account, const std::string& key, Stored response);
  // The request failed before it reached the engine (e.g. validation): the
  // key may be used again.
  void abandon(uint32_t account, const std::string& key);

 private:
  struct Entry {
    std::string fingerprint;
    bool done = false;
    Stored response;
    int64_t created_ms = 0;
  };
  static std::string map_key(uint32_t account, const std::string& key) { return std::to_string(account) + ":" + key; }

  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::pair<int64_t, std::string>> by_age_;
  std::unordered_map<uint64_t, store::IdempotencyRow> durable_;  // by tag; read-only after load
};

}  // namespace bourse::gateway

// IdempotencyCache: POST requests with an Idempotency-Key header. The first
// request with a key runs; a retry with the same key and the same request
// (method, target, body) gets the first response again (never a second
// order); the same key with a different request, or while the first is
// still running, is 409 IDEMPOTENCY_CONFLICT.
//
// Scope: per account, 24 hours, at most kMaxEntries (oldest evicted first).
// Threads: any; one mutex (held for map operations only).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace bourse::gateway {

class IdempotencyCache {
 public:
  static constexpr std::size_t kMaxEntries = 200'000;
  static constexpr int64_t kTtlMs = 24 * 3600 * 1000;
  static constexpr std::size_t kMaxKeyLength = 64;

  struct Stored {
    int status = 0;
    std::string body;
    std::string content_type;
  };
  enum class Begin { kProceed, kReplay, kConflictDifferentRequest, kConflictInProgress };

  // kReplay fills *stored.
  Begin begin(uint32_t account, const std::string& key, const std::string& fingerprint, int64_t now_ms, Stored* stored);
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
};

}  // namespace bourse::gateway

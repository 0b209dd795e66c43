// Bounded lock-free queues between threads, and the doorbell a consumer
// sleeps on when its queue is empty.
//
// BoundedQueue is Dmitry Vyukov's bounded MPMC array queue: each cell has a
// sequence number that says whose turn it is, so producers and consumers
// claim cells with one CAS on their own counter and never touch a lock.
// Capacity is a power of two fixed at construction; a full queue refuses
// (try_push returns false) and the caller decides (the gateway answers 503).
//
// Doorbell lets a consumer block in the kernel (futex through
// std::atomic::wait) instead of spinning, while producers pay only one load
// when nobody sleeps. The consumer announces itself, re-checks its queue and
// then waits; producers publish, then look for sleepers. A seq_cst fence on
// both sides (the Dekker pattern) guarantees that one of the two sees the
// other, so no wake-up is lost.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

namespace bourse {

inline constexpr std::size_t kCacheLine = 64;

template <class T>
class BoundedQueue {
  static_assert(std::is_nothrow_move_assignable_v<T>);

 public:
  // REQUIRES: capacity is a power of two >= 2.
  explicit BoundedQueue(std::size_t capacity) : mask_(capacity - 1), cells_(new Cell[capacity]) {
    for (std::size_t i = 0; i < capacity; ++i) cells_[i].turn.store(i, std::memory_order_relaxed);
  }
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  std::size_t capacity() const { return mask_ + 1; }

  // Any thread. False when the queue is full.
  bool try_push(T value) {
    std::size_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& cell = cells_[pos & mask_];
      const std::size_t turn = cell.turn.load(std::memory_order_acquire);
      const auto diff = static_cast<std::ptrdiff_t>(turn) - static_cast<std::ptrdiff_t>(pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          cell.value = std::move(value);
          cell.turn.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // the cell still holds an element from one lap ago
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  // Any thread. False when the queue is empty.
  bool try_pop(T* out) {
    std::size_t pos = head_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& cell = cells_[pos & mask_];
      const std::size_t turn = cell.turn.load(std::memory_order_acquire);
      const auto diff = static_cast<std::ptrdiff_t>(turn) - static_cast<std::ptrdiff_t>(pos + 1);
      if (diff == 0) {
        if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          *out = std::move(cell.value);
          cell.turn.store(pos + mask_ + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;
      } else {
        pos = head_.load(std::memory_order_relaxed);
      }
    }
  }

  // Approximate (a snapshot of two counters): for metrics only.
  std::size_t size_approx() const {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    const std::size_t head = head_.load(std::memory_order_relaxed);
    return tail > head ? tail - head : 0;
  }

 private:
  struct alignas(kCacheLine) Cell {
    std::atomic<std::size_t> turn;
    T value;
  };
  const std::size_t mask_;
  std::unique_ptr<Cell[]> cells_;
  alignas(kCacheLine) std::atomic<std::size_t> tail_{0};
  alignas(kCacheLine) std::atomic<std::size_t> head_{0};
};

class Doorbell {
 public:
  // Consumer, before its last look at the queue: returns the ticket to wait on.
  uint32_t prepare() {
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return epoch_.load(std::memory_order_seq_cst);
  }
  // Consumer: the queue was still empty after prepare(); sleep until rung.
  void wait(uint32_t ticket) {
    epoch_.wait(ticket, std::memory_order_seq_cst);
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
  }
  // Consumer: found work after prepare().
  void cancel() { sleepers_.fetch_sub(1, std::memory_order_relaxed); }
  // Producer, after publishing.
  void ring() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) != 0) force();
  }
  // Wakes any sleeper unconditionally (shutdown).
  void force() {
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    epoch_.notify_all();
  }

 private:
  alignas(kCacheLine) std::atomic<uint32_t> epoch_{0};
  alignas(kCacheLine) std::atomic<uint32_t> sleepers_{0};
};

}  // namespace bourse

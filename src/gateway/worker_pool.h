// WorkerPool: a few threads for slow work that must not run on an I/O
// thread (argon2id password checks take ~30 ms; SQLite writes of user and
// key management). Bounded: a full queue refuses, and the caller answers 503.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace bourse::gateway {

class WorkerPool {
 public:
  WorkerPool(int threads, std::size_t max_queue) : max_queue_(max_queue) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
  }
  ~WorkerPool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();  // queued work still runs: every request gets its answer
  }
  bool post(std::function<void()> work) {
    {
      std::lock_guard lock(mutex_);
      if (queue_.size() >= max_queue_) return false;
      queue_.push_back(std::move(work));
    }
    cv_.notify_one();
    return true;
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> work;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        work = std::move(queue_.front());
        queue_.pop_front();
      }
      work();
    }
  }

  std::size_t max_queue_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace bourse::gateway

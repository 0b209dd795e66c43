// Market-data worker processes ([marketdata] workers = N): each is
// `bourse md-worker`, started by `bourse serve` with one end of a Unix
// socket pair as fd 3 (its link, gateway/md_link.h), listening on the
// market-data port with SO_REUSEPORT so the kernel spreads connections over
// them. A worker serves public channels only (no login, no orders); the
// main process renders and sequences every message once and the workers
// fan them out, so 100,000 connections fit under a per-process limit of
// 20,000 open files and every worker sends the same sequence numbers.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "serve_config.h"

namespace bourse::gateway { class MdSource; }

namespace bourse::app {

// What a worker needs from the server's configuration, passed as one
// argument (`--settings k=v,k=v`).
struct MdWorkerSettings {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  int io_threads = 1;
  int max_connections = 10'000;
  std::size_t max_message_bytes = 16 * 1024;
  std::size_t max_subscriptions = 100;
  std::size_t max_queued_messages = 4096;
  std::size_t conflate_after_messages = 256;
  int idle_timeout_ms = 30'000;
  int send_buffer_bytes = 0;
  std::size_t history_messages = 1000;
  std::size_t history_bytes = 512 * 1024;
  int heartbeat_ms = 5'000;
  std::string tls_cert_file, tls_key_file;
};
std::string encode_worker_settings(const MdWorkerSettings& s);
bool decode_worker_settings(std::string_view text, MdWorkerSettings* s, std::string* error);
MdWorkerSettings worker_settings_of(const ServeConfig& config, const std::string& host, uint16_t port);

// `bourse md-worker --link-fd 3 --settings …`: runs until the link ends or
// SIGTERM; returns the exit code.
int run_md_worker(int link_fd, const std::string& settings);

// The main process's pool: reserves the port, starts the workers, restarts
// one that exits or falls too far behind (its link broke), stops them all.
class MdWorkerPool {
 public:
  MdWorkerPool(gateway::MdSource& source, MdWorkerSettings settings, int workers)
      : source_(source), settings_(std::move(settings)), count_(workers) {}
  ~MdWorkerPool() { stop(); }

  bool start(std::string* error);
  uint16_t port() const { return settings_.port; }
  std::vector<pid_t> pids() const;
  uint64_t restarts() const { return restarts_.load(); }
  // SIGTERM to every worker, up to 5 s for them to close their clients, then SIGKILL.
  void stop();

 private:
  struct Worker {
    pid_t pid = -1;
    uint64_t link = 0;
    int64_t started_ns = 0;
  };
  bool spawn(Worker* w, std::string* error);
  void supervise();

  gateway::MdSource& source_;
  MdWorkerSettings settings_;
  int count_;
  std::string exe_;
  int port_fd_ = -1;  // holds the port (bound, not listening) so it stays ours across restarts
  mutable std::mutex mutex_;
  std::vector<Worker> workers_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> restarts_{0};
  std::thread supervisor_;
};

}  // namespace bourse::app

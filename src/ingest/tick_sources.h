// Where external ticks come from (docs/market-data.md "External ticks"),
// each a thread feeding TickIngest with lines (ingest/tick_line.h):
//
// * FileReplay: a CSV or NDJSON file, once, as fast as the engine takes it
//   (speed 0) or paced by the ticks' own times (speed 1 = as recorded,
//   10 = ten times faster). A full engine queue slows it down; nothing is
//   dropped.
// * LineFeed: a TCP listener (lines over any number of connections, up to
//   64; a refused line is answered "ERR <line> <CODE>\n", accepted ones
//   get no answer) and/or a UDP socket (one or more lines per datagram; no
//   answers; a full engine queue drops the tick and counts it OVERLOADED).
//   Bind them to loopback or a private network: the feed is not
//   authenticated.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "ingest/tick_ingest.h"

namespace bourse::ingest {

class FileReplay {
 public:
  FileReplay(TickIngest& ingest, std::string path, double speed) : ingest_(ingest), path_(std::move(path)), speed_(speed) {}
  ~FileReplay() { stop(); }
  bool start(std::string* error);  // false: the file cannot be opened
  void stop();
  bool finished() const { return finished_.load(); }
  uint64_t lines() const { return lines_.load(); }

 private:
  void run(std::FILE* file);

  TickIngest& ingest_;
  std::string path_;
  double speed_;
  std::atomic<bool> stop_{false}, finished_{false};
  std::atomic<uint64_t> lines_{0};
  std::thread thread_;
};

class LineFeed {
 public:
  explicit LineFeed(TickIngest& ingest) : ingest_(ingest) {}
  ~LineFeed() { stop(); }
  // "IP:PORT" each; either may be empty. Port 0 picks a free one.
  bool start(const std::string& tcp_listen, const std::string& udp_listen, std::string* error);
  uint16_t tcp_port() const { return tcp_port_; }
  uint16_t udp_port() const { return udp_port_; }
  void stop();

 private:
  void run();

  TickIngest& ingest_;
  int tcp_fd_ = -1, udp_fd_ = -1;
  uint16_t tcp_port_ = 0, udp_port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace bourse::ingest

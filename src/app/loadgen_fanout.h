// `bourse loadgen ws --channels …`: the market-data fan-out load generator.
// Opens N WebSocket connections to /v1/ws from several loopback source
// addresses (127.0.0.2, 127.0.0.3, … past the per-address port range),
// split over child processes (each under the 20,000 open-file limit), each
// an epoll loop with no WebSocket library. Every connection subscribes to
// the same channels, then the run measures messages delivered, sequence
// gaps (trades, book diffs, candles), publish-to-receive latency from each
// message's ts_us, and the server's RSS (--server-pid, summed over several).
// Optionally it drives the symbol itself (--drive-rate: signed REST orders
// that alternately rest and trade, from two accounts) and drops and resumes
// every connection at once with `since` (--reconnect-at) to measure a
// reconnect storm. Traffic goes only to the given URL (loopback in
// benchmarks); every loop is bounded by --duration.
#pragma once

#include <string>
#include <vector>

namespace bourse::app {

struct FanoutOptions {
  std::string url = "ws://127.0.0.1:8080/v1/ws";
  std::string api_url;         // where the driver places orders (default: url; set it for market-data workers)
  int connections = 1000;
  double duration_s = 10;
  std::vector<std::string> channels = {"ticker.BTC-USD"};
  std::vector<int> server_pids;
  int processes = 0;           // 0: one per 15,000 connections
  int per_address = 20'000;    // connections per loopback source address
  double drive_rate = 0;       // updates/s on `symbol` (0: someone else moves the market)
  std::string symbol = "BTC-USD";
  std::string price = "65000.00";
  std::string qty = "0.001";
  std::string key, secret;              // first trader (default BOURSE_API_KEY / BOURSE_API_SECRET)
  std::string taker_key, taker_secret;  // second trader (default BOURSE_TAKER_KEY / BOURSE_TAKER_SECRET)
  double reconnect_at_s = 0;   // > 0: every connection drops and resumes at this second
  double ramp_timeout_s = 120; // connecting and subscribing all of them must finish within this
  bool json = false;
};

int run_fanout(const FanoutOptions& options);

}  // namespace bourse::app

// `bourse loadgen rest|ws`: signed order place + cancel round trips against
// a running server, over REST keep-alive or WebSocket order entry, from N
// connections on one thread (Asio coroutines). With --rate, each connection
// sends on a fixed schedule and latency is measured from the scheduled send
// time (no coordinated omission); without it, connections run closed-loop
// (saturation). Traffic goes to the given URL only (loopback in benchmarks).
#pragma once

#include <cstdint>
#include <string>

namespace bourse::app {

struct LoadgenOptions {
  std::string mode = "rest";  // rest | ws
  std::string url = "http://127.0.0.1:8080";
  std::string key, secret;    // default: BOURSE_API_KEY / BOURSE_API_SECRET
  int connections = 8;
  int threads = 1;
  double rate = 0;            // orders per second over all connections; 0 = closed loop
  double duration_s = 10;
  std::string symbol = "BTC-USD";
  std::string price = "60000.00";  // a resting buy that never fills
  std::string qty = "0.001";
  bool json = false;
};

int run_loadgen(const LoadgenOptions& options);

}  // namespace bourse::app

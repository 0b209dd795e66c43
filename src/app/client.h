// The command-line client: `bourse balances`, `bourse book`, `bourse orders`,
// `bourse order place|amend|cancel|cancel-all`, `bourse alerts
// list|add|delete|history`, `bourse tail`. It uses the
// public API exactly as any user would: REST requests signed with the key in
// BOURSE_API_KEY / BOURSE_API_SECRET, against BOURSE_URL (default
// http://127.0.0.1:8080); `tail` streams WebSocket channels.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace bourse::app {

struct ClientRequest {
  std::string method;
  std::string target;  // path and query
  std::string body;
  bool sign = true;
};

// Prints the response body; returns 0 for 2xx, 1 otherwise (2 when the
// server cannot be reached or the environment is incomplete).
int run_client_request(const ClientRequest& request);
// Subscribes to `channels` and prints every message until interrupted or
// `max_messages` (0 = unlimited) have arrived.
int run_tail(const std::vector<std::string>& channels, int max_messages);

}  // namespace bourse::app

// Webhook URLs (user input stored with an alert rule): parsing never
// crashes; what it accepts has a host, a port, a target starting with '/',
// no control characters or spaces anywhere, and re-parses from its parts to
// the same result.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "alerts/webhook_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto url = bourse::alerts::parse_webhook_url(input, &error);
  if (!url) {
    if (error.empty()) std::abort();
    return 0;
  }
  if (url->host.empty() || url->port == 0 || url->target.empty() || url->target[0] != '/') std::abort();
  if (input.size() > bourse::alerts::kMaxWebhookUrlBytes) std::abort();
  for (const char c : input) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) std::abort();
  }
  const bool v6 = url->host.find(':') != std::string::npos;
  const std::string again = std::string(url->tls ? "https://" : "http://") + (v6 ? "[" + url->host + "]" : url->host) +
                            ":" + std::to_string(url->port) + url->target;
  const auto back = bourse::alerts::parse_webhook_url(again, &error);
  if (!back || back->tls != url->tls || back->host != url->host || back->port != url->port ||
      back->target != url->target) {
    std::abort();
  }
  return 0;
}

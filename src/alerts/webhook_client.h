// Outbound HTTP(S) POST for alert webhooks: one request per call on a fresh
// connection (Connection: close), bounded by one deadline, reading only the
// status line of the answer. Webhook URLs come from users, so by default the
// client refuses to reach private, loopback and link-local addresses, judged
// on the addresses the name resolved to (a DNS answer cannot smuggle them in).
//
// Blocking and stateless: any thread may call it, several at once (the only
// shared state is the TLS client context, created once on first use). Errors
// are values (WebhookResult::error), never exceptions; the body and header
// values are never logged nor copied into an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct sockaddr;

namespace bourse::alerts {

struct WebhookUrl {
  bool tls = false;    // https
  std::string host;    // as written (IPv6 without brackets)
  uint16_t port = 0;   // 80/443 by default
  std::string target;  // path + query, "/" if empty
};

inline constexpr std::size_t kMaxWebhookUrlBytes = 2048;

// http://host[:port][/path][?query] or https://…; no userinfo (@), no
// fragment (#), no spaces, control or non-ASCII characters; host non-empty
// (DNS name, IPv4, or [IPv6]), port 1..65535. Scheme case-insensitive.
// nullopt and *error (a short human sentence; error may be null) otherwise.
std::optional<WebhookUrl> parse_webhook_url(std::string_view url, std::string* error);

// True for addresses a webhook must not reach unless private destinations are
// allowed: loopback (127/8, ::1), RFC 1918 (10/8, 172.16/12, 192.168/16),
// link-local (169.254/16, fe80::/10), unspecified (0.0.0.0/8, ::), CGNAT
// 100.64/10, unique-local fc00::/7, multicast (224/4, ff00::/8), reserved and
// broadcast 240/4, the rest of ::/96, and the IPv4-mapped (::ffff:0:0/96) and
// NAT64 (64:ff9b::/96) forms of the IPv4 ones. Also true for null and for
// families other than AF_INET/AF_INET6.
bool is_private_address(const struct sockaddr* addr);

struct WebhookPost {
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (e.g. signature)
  std::string body;                                          // JSON, sent as application/json
  int timeout_ms = 5000;  // the whole exchange: resolve+connect+TLS+write+read status
  bool allow_private = false;  // tests and private networks
};

struct WebhookResult {
  int status = 0;      // HTTP status; 0: no response (error says why)
  std::string error;   // empty when a status was read; else e.g. "connect: Connection refused", "timeout",
                       // "private address refused", "tls: certificate verify failed (…)"
  int64_t duration_us = 0;
  bool delivered() const { return status >= 200 && status < 300; }
};

// One POST of post.body to url. Resolves the host (getaddrinfo, AF_UNSPEC),
// skips private addresses unless post.allow_private (none left: "private
// address refused"), and tries the others in order. https verifies the peer
// against the system trust store and the URL's host (TLS 1.2+, SNI). Headers
// sent: Host, User-Agent: bourse-webhooks/1, Content-Type: application/json,
// Content-Length, Connection: close, then post.headers in order. An extra
// header whose name or value holds CR or LF, whose name is not an HTTP token,
// or that repeats one of those the client sets, is refused before any
// connection. Interim 1xx answers are skipped; a final status line must come
// within the first 8 KiB ("malformed response" otherwise).
//
// The deadline bounds connect, TLS, write and read. getaddrinfo cannot be
// interrupted: a slow resolver is bounded by its own timeouts (resolv.conf),
// and the call then fails with "timeout" if the deadline has passed.
WebhookResult post_webhook(const WebhookUrl& url, const WebhookPost& post);

}  // namespace bourse::alerts

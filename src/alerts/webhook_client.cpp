#include "alerts/webhook_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <memory>
#include <system_error>

namespace bourse::alerts {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxResponseHead = 8192;  // bytes read while looking for the final status line

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'z'); }

// Spaces, controls, DEL and non-ASCII: nothing that could split or bend a request line.
bool has_unsafe_byte(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u >= 0x7f;
  });
}

// An HTTP header name (RFC 9110 token).
bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return is_alnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::generic_category().message(err);
}

uint32_t load_be32(const uint8_t* b) {
  return static_cast<uint32_t>(b[0]) << 24 | static_cast<uint32_t>(b[1]) << 16 | static_cast<uint32_t>(b[2]) << 8 |
         static_cast<uint32_t>(b[3]);
}

bool private_v4(uint32_t a) {
  const auto in = [a](uint32_t net, int bits) { return (a >> (32 - bits)) == (net >> (32 - bits)); };
  return in(0x00000000, 8) || in(0x0A000000, 8) || in(0x7F000000, 8) || in(0x64400000, 10) ||
         in(0xA9FE0000, 16) || in(0xAC100000, 12) || in(0xC0A80000, 16) || in(0xE0000000, 4) || in(0xF0000000, 4) ||
         in(0xC6120000, 15) /* benchmarking */ || in(0xC0000000, 24) /* IETF protocol assignments */;
}

bool private_v6(const uint8_t* b) {
  static constexpr uint8_t kZero[12] = {};
  static constexpr uint8_t kNat64[12] = {0x00, 0x64, 0xff, 0x9b};
  // ::/96 holds ::, ::1 and the deprecated IPv4-compatible forms: none is a public destination.
  if (std::memcmp(b, kZero, 12) == 0) return true;
  if (std::memcmp(b, kZero, 10) == 0 && b[10] == 0xff && b[11] == 0xff) return private_v4(load_be32(b + 12));
  if (std::memcmp(b, kNat64, 12) == 0) return private_v4(load_be32(b + 12));
  static constexpr uint8_t kLocalNat64[6] = {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01};  // 64:ff9b:1::/48
  if (std::memcmp(b, kLocalNat64, 6) == 0) return true;
  if (b[0] == 0x20 && b[1] == 0x02) return true;  // 6to4 (2002::/16): reaches any IPv4 address through a relay
  return b[0] == 0xff || (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
}

// --- TLS --------------------------------------------------------------------
// The serve process leaves SIGPIPE at its default (only the market-data
// workers ignore it, src/app/md_workers.cpp), and OpenSSL's socket BIO writes
// without MSG_NOSIGNAL: a peer that resets mid-handshake would kill the
// process. So TLS runs over this small BIO on send(MSG_NOSIGNAL)/recv. The
// BIO holds the fd and never closes it (the caller's socket owns it).

int fd_of(BIO* b) { return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b))); }

int bio_write(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  const ssize_t n = ::send(fd_of(b), data, static_cast<std::size_t>(len), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_write(b);
  return static_cast<int>(n);
}

int bio_read(BIO* b, char* data, int len) {
  BIO_clear_retry_flags(b);
  const ssize_t n = ::recv(fd_of(b), data, static_cast<std::size_t>(len), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_read(b);
  return static_cast<int>(n);
}

long bio_ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

struct TlsShared {
  SSL_CTX* ctx = nullptr;      // null if OpenSSL could not build it (then https fails cleanly)
  BIO_METHOD* bio = nullptr;
};

// Created once, thread-safely (a function-local static), and kept for the process's life.
const TlsShared& tls_shared() {
  static const TlsShared shared = [] {
    TlsShared s;
    s.ctx = SSL_CTX_new(TLS_client_method());
    if (s.ctx && (SSL_CTX_set_min_proto_version(s.ctx, TLS1_2_VERSION) != 1 ||
                  SSL_CTX_set_default_verify_paths(s.ctx) != 1)) {
      SSL_CTX_free(s.ctx);
      s.ctx = nullptr;
    }
    if (s.ctx) SSL_CTX_set_verify(s.ctx, SSL_VERIFY_PEER, nullptr);
    s.bio = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "bourse webhook socket");
    if (s.bio && (BIO_meth_set_write(s.bio, bio_write) != 1 || BIO_meth_set_read(s.bio, bio_read) != 1 ||
                  BIO_meth_set_ctrl(s.bio, bio_ctrl) != 1 || BIO_meth_set_create(s.bio, bio_create) != 1)) {
      BIO_meth_free(s.bio);
      s.bio = nullptr;
    }
    ERR_clear_error();
    return s;
  }();
  return shared;
}

// "tls: <reason>", with the certificate check's verdict when it failed.
std::string tls_error_text(SSL* ssl) {
  const unsigned long e = ERR_peek_last_error();
  const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
  std::string text = std::string("tls: ") + (reason ? reason : "protocol error");
  if (const long v = SSL_get_verify_result(ssl); v != X509_V_OK) {
    text += std::string(" (") + X509_verify_cert_error_string(v) + ")";
  }
  ERR_clear_error();
  return text;
}

class Fd {
 public:
  Fd() = default;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(-1); }
  int get() const { return fd_; }
  void reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// One connection's I/O against the deadline; every failure sets *error.
class Exchange {
 public:
  Exchange(Clock::time_point deadline, std::string* error) : deadline_(deadline), error_(error) {}

  bool connect(const addrinfo& a) {
    fd_.reset(-1);  // before socket(): close() must not clobber its errno
    const int fd = ::socket(a.ai_family, a.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a.ai_protocol);
    if (fd < 0) return fail(errno_text("socket", errno));
    fd_.reset(fd);
    if (::connect(fd, a.ai_addr, a.ai_addrlen) == 0) return true;
    if (errno != EINPROGRESS && errno != EINTR) return fail(errno_text("connect", errno));
    if (!wait(POLLOUT)) return false;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    return err == 0 || fail(errno_text("connect", err));
  }

  bool start_tls(const std::string& host) {
    const TlsShared& shared = tls_shared();
    if (!shared.ctx || !shared.bio) return fail("tls: no client context");
    ssl_.reset(SSL_new(shared.ctx));
    BIO* bio = ssl_ ? BIO_new(shared.bio) : nullptr;
    if (!bio) return fail("tls: out of memory");
    BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd_.get())));
    SSL_set_bio(ssl_.get(), bio, bio);  // one reference, owned by the SSL
    in_addr v4;
    in6_addr v6;
    const bool ip = inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
    if (ip) {  // no SNI for addresses (RFC 6066); the certificate must name the IP
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_.get()), host.c_str()) != 1) return fail("tls: bad host");
    } else {  // SSL_set_tlsext_host_name, without its C-style cast
      if (SSL_ctrl(ssl_.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                   const_cast<char*>(host.c_str())) != 1 ||
          SSL_set1_host(ssl_.get(), host.c_str()) != 1) {
        return fail("tls: bad host");
      }
    }
    for (;;) {
      ERR_clear_error();
      errno = 0;
      const int r = SSL_connect(ssl_.get());
      if (r == 1) return true;
      if (!tls_wait(r)) return false;
    }
  }

  bool write_all(std::string_view data) {
    while (!data.empty()) {
      if (ssl_) {  // after WANT_*, SSL_write is retried with the same arguments, as OpenSSL requires
        ERR_clear_error();
        errno = 0;
        const int len = static_cast<int>(std::min<std::size_t>(data.size(), INT_MAX));
        const int r = SSL_write(ssl_.get(), data.data(), len);
        if (r > 0) {
          data.remove_prefix(static_cast<std::size_t>(r));
        } else if (!tls_wait(r)) {
          return false;
        }
        continue;
      }
      const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n >= 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
      } else if (!socket_wait("send", POLLOUT)) {
        return false;
      }
    }
    return true;
  }

  // Bytes read into buf, 0 at the end of the stream, -1 on error.
  ssize_t read_some(char* buf, std::size_t n) {
    for (;;) {
      if (ssl_) {
        ERR_clear_error();
        errno = 0;
        const int r = SSL_read(ssl_.get(), buf, static_cast<int>(std::min<std::size_t>(n, INT_MAX)));
        if (r > 0) return r;
        if (SSL_get_error(ssl_.get(), r) == SSL_ERROR_ZERO_RETURN) return 0;
        if (!tls_wait(r)) return -1;
        continue;
      }
      const ssize_t r = ::recv(fd_.get(), buf, n, 0);
      if (r >= 0) return r;
      if (!socket_wait("recv", POLLIN)) return -1;
    }
  }

  bool timed_out() const { return timed_out_; }

 private:
  bool fail(std::string e) {
    *error_ = std::move(e);
    return false;
  }

  // Waits until the socket is ready for `events` (or in error: the next call says which).
  bool wait(short events) {
    for (;;) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
      if (left > 0) {
        pollfd p{fd_.get(), events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, INT_MAX)));
        if (n > 0) return true;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(errno_text("poll", errno));
      }
      timed_out_ = true;
      return fail("timeout");
    }
  }

  // After send/recv failed: retry now (EINTR), wait (would block), or report errno.
  bool socket_wait(const char* what, short events) {
    if (errno == EINTR) return true;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(errno_text(what, errno));
    return wait(events);
  }

  // After an SSL call returned r <= 0: waits for the I/O it wants, or reports why it failed.
  bool tls_wait(int r) {
    const int saved_errno = errno;
    switch (SSL_get_error(ssl_.get(), r)) {
      case SSL_ERROR_WANT_READ:
        return wait(POLLIN);
      case SSL_ERROR_WANT_WRITE:
        return wait(POLLOUT);
      case SSL_ERROR_ZERO_RETURN:
        return fail("tls: connection closed");
      case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        return fail(saved_errno != 0 ? errno_text("tls", saved_errno) : "tls: connection closed");
      default:
        return fail(tls_error_text(ssl_.get()));
    }
  }

  Clock::time_point deadline_;
  std::string* error_;
  bool timed_out_ = false;
  Fd fd_;  // declared before ssl_: the SSL (and its BIO) goes first
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl_{nullptr, &SSL_free};
};

// "HTTP/1.x NNN[ reason]" → NNN, or -1.
int parse_status_line(std::string_view s) {
  if (s.size() < 12 || s.substr(0, 7) != "HTTP/1." || !is_digit(s[7]) || s[8] != ' ') return -1;
  if (s.size() > 12 && s[12] != ' ') return -1;
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (!is_digit(s[i])) return -1;
    status = status * 10 + (s[i] - '0');
  }
  return status >= 100 ? status : -1;
}

// The final status, skipping interim 1xx answers (with their header blocks); -1 with *error set.
int read_status(Exchange& x, std::string* error) {
  std::string got;
  char chunk[2048];
  std::size_t total = 0;
  for (;;) {
    if (const std::size_t eol = got.find("\r\n"); eol != std::string::npos) {
      const int status = parse_status_line(std::string_view(got).substr(0, eol));
      if (status < 0) break;
      if (status >= 200) return status;
      if (const std::size_t end = got.find("\r\n\r\n"); end != std::string::npos) {
        got.erase(0, end + 4);
        continue;
      }
    }
    if (total >= kMaxResponseHead) break;
    const ssize_t n = x.read_some(chunk, std::min(sizeof chunk, kMaxResponseHead - total));
    if (n < 0) return -1;
    if (n == 0) {
      *error = "connection closed before the status line";
      return -1;
    }
    got.append(chunk, static_cast<std::size_t>(n));
    total += static_cast<std::size_t>(n);
  }
  *error = "malformed response";
  return -1;
}

// Why the request cannot be sent as given, or null. Names and values stay out of the message.
const char* refusal(const WebhookUrl& url, const WebhookPost& post) {
  if (url.host.empty() || url.port == 0 || has_unsafe_byte(url.host) || has_unsafe_byte(url.target) ||
      (!url.target.empty() && url.target.front() != '/')) {
    return "invalid URL";
  }
  for (const auto& [name, value] : post.headers) {
    if (name.find_first_of("\r\n") != std::string::npos || value.find_first_of("\r\n") != std::string::npos) {
      return "header contains CR or LF";
    }
    if (!is_token(name) || value.find('\0') != std::string::npos) return "invalid header";
    for (const char* own :
         {"Host", "User-Agent", "Content-Type", "Content-Length", "Connection", "Transfer-Encoding"}) {
      if (iequals(name, own)) return "header reserved by the webhook client";
    }
  }
  return nullptr;
}

std::string request_text(const WebhookUrl& url, const WebhookPost& post) {
  std::string r;
  r.reserve(256 + url.target.size() + post.body.size());
  r += "POST ";
  r += url.target.empty() ? "/" : url.target;
  r += " HTTP/1.1\r\nHost: ";
  r += url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  if (url.port != (url.tls ? 443 : 80)) r += ":" + std::to_string(url.port);
  r += "\r\nUser-Agent: bourse-webhooks/1\r\nContent-Type: application/json\r\nContent-Length: ";
  r += std::to_string(post.body.size());
  r += "\r\nConnection: close\r\n";
  for (const auto& [name, value] : post.headers) r += name + ": " + value + "\r\n";
  r += "\r\n";
  r += post.body;
  return r;
}

void post_once(const WebhookUrl& url, const WebhookPost& post, Clock::time_point deadline, WebhookResult* result) {
  std::string& error = result->error;
  if (const char* why = refusal(url, post)) {
    error = why;
    return;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(url.host.c_str(), std::to_string(url.port).c_str(), &hints, &found);
  if (rc != 0) {
    error = rc == EAI_SYSTEM ? errno_text("resolve", errno) : std::string("resolve: ") + ::gai_strerror(rc);
    return;
  }
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  if (Clock::now() >= deadline) {
    error = "timeout";
    return;
  }
  Exchange x(deadline, &error);
  bool allowed = false;
  bool connected = false;
  for (const addrinfo* a = found; a && !connected && !x.timed_out(); a = a->ai_next) {
    if (!post.allow_private && is_private_address(a->ai_addr)) continue;  // checked after resolution: no rebinding
    allowed = true;
    connected = x.connect(*a);
  }
  if (!allowed) error = "private address refused";
  if (!connected) return;
  error.clear();  // an earlier address may have failed
  if (url.tls && !x.start_tls(url.host)) return;
  // A server may answer (e.g. 413) and close before taking the whole body:
  // its status still counts; the write error is reported only if none came.
  const bool written = x.write_all(request_text(url, post));
  if (!written && x.timed_out()) return;
  std::string write_error = std::move(error);
  error.clear();
  const int status = read_status(x, &error);
  if (status < 0) {
    if (!written) error = std::move(write_error);
    return;
  }
  result->status = status;
  error.clear();
}

}  // namespace

std::optional<WebhookUrl> parse_webhook_url(std::string_view url, std::string* error) {
  const auto fail = [error](const char* why) -> std::optional<WebhookUrl> {
    if (error) *error = why;
    return std::nullopt;
  };
  if (url.empty()) return fail("the URL is empty");
  if (url.size() > kMaxWebhookUrlBytes) return fail("the URL is longer than 2048 bytes");
  if (has_unsafe_byte(url)) return fail("the URL contains a space, a control or a non-ASCII character");
  if (url.find('#') != std::string_view::npos) return fail("the URL has a fragment (#)");
  const std::size_t sep = url.find("://");
  if (sep == std::string_view::npos) return fail("the URL has no http:// or https:// scheme");
  WebhookUrl out;
  const std::string_view scheme = url.substr(0, sep);
  out.tls = iequals(scheme, "https");
  if (!out.tls && !iequals(scheme, "http")) return fail("the scheme must be http or https");
  const std::string_view rest = url.substr(sep + 3);
  const std::size_t path_at = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, path_at);
  const std::string_view target = path_at == std::string_view::npos ? std::string_view() : rest.substr(path_at);
  if (authority.find('@') != std::string_view::npos) return fail("the URL has user information (@)");
  std::string_view host = authority;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t bracket = authority.find(']');
    if (bracket == std::string_view::npos) return fail("the IPv6 address has no closing bracket");
    host = authority.substr(1, bracket - 1);
    const std::string_view after = authority.substr(bracket + 1);
    if (!after.empty() && after.front() != ':') return fail("unexpected characters after the IPv6 address");
    has_port = !after.empty();
    if (has_port) port = after.substr(1);
    in6_addr v6;
    if (!host.empty() && inet_pton(AF_INET6, std::string(host).c_str(), &v6) != 1) {
      return fail("the host is not a valid IPv6 address");
    }
  } else {
    if (const std::size_t colon = authority.find(':'); colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      has_port = true;
    }
    for (char c : host) {
      if (!is_alnum(c) && c != '-' && c != '.' && c != '_') return fail("the host has an invalid character");
    }
  }
  if (host.empty()) return fail("the URL has no host");
  out.port = static_cast<uint16_t>(out.tls ? 443 : 80);
  if (has_port) {
    uint32_t value = 0;
    if (port.empty() || port.size() > 5) return fail("the port must be a number from 1 to 65535");
    for (char c : port) {
      if (!is_digit(c)) return fail("the port must be a number from 1 to 65535");
      value = value * 10 + static_cast<uint32_t>(c - '0');
    }
    if (value < 1 || value > 65535) return fail("the port must be a number from 1 to 65535");
    out.port = static_cast<uint16_t>(value);
  }
  out.host = std::string(host);
  out.target = (target.empty() || target.front() == '?') ? "/" : "";  // a bare query still needs a path
  out.target += target;
  return out;
}

bool is_private_address(const struct sockaddr* addr) {
  if (!addr) return true;
  if (addr->sa_family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, addr, sizeof sin);  // no aliasing assumptions about the caller's storage
    return private_v4(ntohl(sin.sin_addr.s_addr));
  }
  if (addr->sa_family == AF_INET6) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, addr, sizeof sin6);
    return private_v6(sin6.sin6_addr.s6_addr);
  }
  return true;
}

WebhookResult post_webhook(const WebhookUrl& url, const WebhookPost& post) {
  WebhookResult result;
  const Clock::time_point start = Clock::now();
  try {
    post_once(url, post, start + std::chrono::milliseconds(std::max(post.timeout_ms, 0)), &result);
  } catch (...) {  // only allocation can throw here; the message fits without allocating
    result.status = 0;
    result.error = "out of memory";
  }
  if (url.tls) ERR_clear_error();  // leave this thread's OpenSSL error queue as we found it
  result.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
  return result;
}

}  // namespace bourse::alerts

// Test harness for end-to-end tests: starts the real `bourse serve` binary
// on a free loopback port with its own temporary data directory, and talks
// to it over real sockets (HttpClient: Boost.Beast, keep-alive; raw_exchange:
// bytes in, bytes out, for malformed input).
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace bourse::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct ServerOptions {
  std::string data_dir;
  std::vector<std::string> extra_args;             // e.g. {"--simulate"}
  std::map<std::string, std::string> environment;  // added to the child's environment
  std::string config_toml;                         // non-empty: written to a file and passed as --config
};

class ServerProcess {
 public:
  // Starts the server and waits (up to 20 s) until it prints its address.
  explicit ServerProcess(ServerOptions options);
  ~ServerProcess();  // SIGKILL if still running

  bool started() const { return port_ != 0; }
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& output() const { return output_; }
  // SIGTERM and wait; returns the exit status (or -signal).
  int stop();
  // SIGKILL (a crash) and wait.
  void kill_hard();
  // Everything the server printed so far on stdout/stderr (reads what is available).
  std::string drain_output();

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string log_path_;  // the server's stdout and stderr
  std::string output_;
  std::string config_path_;
};

// Runs `bourse` with arguments and returns its exit status; output in *out.
int run_bourse(const std::vector<std::string>& args, std::string* out,
               const std::map<std::string, std::string>& environment = {});

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// A keep-alive HTTP/1.1 client on one connection (reconnects if closed).
class HttpClient {
 public:
  explicit HttpClient(uint16_t port);
  ~HttpClient();
  HttpResult request(const std::string& method, const std::string& target, const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {});
  HttpResult get(const std::string& target, const std::map<std::string, std::string>& headers = {}) {
    return request("GET", target, "", headers);
  }

 private:
  struct Impl;
  Impl* impl_;
};

// Sends raw bytes on a fresh connection, then reads until the server closes
// or `timeout_ms` passes. Returns what was read.
std::string raw_exchange(uint16_t port, const std::string& bytes, int timeout_ms = 3000);

}  // namespace bourse::testing

namespace bourse::testing {

// API credentials and a client that signs every request with them
// (docs/authentication.md).
struct ApiKey {
  std::string key_id;
  std::string secret;
};
// The demo keys `bourse serve` prints at start, by user name.
std::map<std::string, ApiKey> demo_keys(const std::string& server_output);

class SignedClient {
 public:
  SignedClient(uint16_t port, ApiKey key) : http_(port), key_(std::move(key)) {}
  // Signs with the current time (each call a fresh millisecond, so no two
  // requests share a signature).
  HttpResult call(const std::string& method, const std::string& target, const std::string& body = "",
                  std::map<std::string, std::string> headers = {});
  HttpClient& http() { return http_; }
  const ApiKey& key() const { return key_; }

 private:
  HttpClient http_;
  ApiKey key_;
  int64_t last_ms_ = 0;
};

}  // namespace bourse::testing

namespace bourse::testing {

// A WebSocket client for /v1/ws (Boost.Beast), with timeouts on reads.
class WsClient {
 public:
  // Connects and upgrades; extra headers go on the upgrade request.
  // receive_buffer > 0 shrinks the socket's receive buffer (slow-consumer tests).
  WsClient(uint16_t port, const std::map<std::string, std::string>& headers = {}, const std::string& target = "/v1/ws",
           int receive_buffer = 0);
  ~WsClient();
  bool connected() const;
  void send(const std::string& text);
  // The next message (an array frame is split into its messages), or ""
  // after timeout_ms / when the connection closed.
  std::string receive(int timeout_ms = 3000);
  // Receives until a message contains `needle` (or the time is up).
  std::string receive_until(const std::string& needle, int timeout_ms = 5000);
  // Close code and reason once the server closed the connection (0 if not).
  int close_code() const;
  std::string close_reason() const;
  uint64_t frames() const;  // frames received so far
  // Stops reading: the server's queue for us fills up (slow consumer tests).
  void close();

 private:
  struct Impl;
  Impl* impl_;
};

// The login message for a key: signs "<ts>\nGET\n/v1/ws\n".
std::string ws_login_message(const ApiKey& key, const std::string& id = "login");

}  // namespace bourse::testing

// End to end: the real `bourse serve` binary on a free port, driven over
// real sockets. Public REST, errors, limits, graceful shutdown and restart.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <thread>

#include "integration/server_process.h"

namespace bourse::testing {
namespace {

simdjson::dom::element parse(simdjson::dom::parser& parser, const std::string& body) {
  auto result = parser.parse(body);
  EXPECT_FALSE(result.error()) << "not JSON: " << body;
  return result.value_unsafe();
}

std::string str(simdjson::dom::element e, const char* pointer) {
  auto v = e.at_pointer(pointer).get_string();
  if (v.error()) return "<missing " + std::string(pointer) + ">";
  return std::string(v.value_unsafe());
}

// Checks an RFC 9457 problem with the given status and code.
void expect_problem(const HttpResult& r, int status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
  simdjson::dom::parser parser;
  auto doc = parse(parser, r.body);
  EXPECT_EQ(str(doc, "/code"), code);
  EXPECT_EQ(str(doc, "/request_id"), r.header("x-request-id"));
  EXPECT_FALSE(str(doc, "/detail").empty());
}

class ServePublic : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    ServerOptions o;
    o.data_dir = dir_->path() + "/data";
    o.config_toml = "[server]\nrequest_timeout_ms = 800\nmax_body_bytes = 4096\nmax_header_bytes = 2048\n";
    o.extra_args = {"--simulate", "--simulate-rate", "500"};
    server_ = new ServerProcess(o);
    ASSERT_TRUE(server_->started()) << server_->output();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }
  static TempDir* dir_;
  static ServerProcess* server_;
  simdjson::dom::parser parser_;
};
TempDir* ServePublic::dir_ = nullptr;
ServerProcess* ServePublic::server_ = nullptr;

TEST_F(ServePublic, TimeInstrumentsAndHealth) {
  HttpClient c(server_->port());
  auto r = c.get("/v1/time");
  ASSERT_EQ(r.status, 200);
  auto doc = parse(parser_, r.body);
  int64_t ms = 0;
  ASSERT_FALSE(doc["time"].get(ms));
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LT(std::abs(now - ms), 5'000);

  r = c.get("/v1/instruments");
  ASSERT_EQ(r.status, 200);
  doc = parse(parser_, r.body);
  std::vector<std::string> symbols;
  for (auto i : doc["instruments"].get_array()) symbols.emplace_back(std::string(i["symbol"].get_string().value()));
  EXPECT_EQ(symbols, (std::vector<std::string>{"BTC-USD", "ETH-USD", "RELIANCE-INR", "TCS-INR"}));

  r = c.get("/v1/instruments/RELIANCE-INR");
  ASSERT_EQ(r.status, 200);
  doc = parse(parser_, r.body);
  EXPECT_EQ(str(doc, "/quote"), "INR");
  EXPECT_EQ(str(doc, "/tick_size"), "0.05");
  EXPECT_EQ(str(doc, "/lot_size"), "1");

  expect_problem(c.get("/v1/instruments/NOPE-USD"), 404, "UNKNOWN_SYMBOL");
  r = c.get("/v1/openapi.json");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(str(parse(parser_, r.body), "/openapi"), "3.1.0");
  r = c.get("/docs");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("/v1/openapi.json"), std::string::npos);
  EXPECT_EQ(c.get("/healthz").status, 200);
  r = c.get("/readyz");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(ServePublic, BookTradesTickerFromTheSimulatedMarket) {
  HttpClient c(server_->port());
  // The simulator needs a moment to build a book and trade.
  HttpResult trades;
  for (int i = 0; i < 100; ++i) {
    trades = c.get("/v1/trades/BTC-USD?limit=5");
    if (trades.status == 200 && trades.body.find("\"id\"") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(trades.status, 200);
  auto doc = parse(parser_, trades.body);
  auto list = doc["trades"].get_array().value();
  ASSERT_GT(list.size(), 0u);
  EXPECT_LE(list.size(), 5u);
  uint64_t previous = UINT64_MAX;
  for (auto t : list) {  // newest first
    const uint64_t id = t["id"].get_uint64().value();
    EXPECT_LT(id, previous);
    previous = id;
    const std::string side(t["side"].get_string().value());
    EXPECT_TRUE(side == "BUY" || side == "SELL");
  }

  auto r = c.get("/v1/book/BTC-USD?depth=3");
  ASSERT_EQ(r.status, 200);
  doc = parse(parser_, r.body);
  auto bids = doc["bids"].get_array().value();
  auto asks = doc["asks"].get_array().value();
  EXPECT_LE(bids.size(), 3u);
  EXPECT_LE(asks.size(), 3u);
  if (bids.size() > 0 && asks.size() > 0) {  // never crossed
    const double bid = std::stod(std::string(bids.at(0).at(0).get_string().value()));
    const double ask = std::stod(std::string(asks.at(0).at(0).get_string().value()));
    EXPECT_LT(bid, ask);
  }
  expect_problem(c.get("/v1/book/BTC-USD?depth=0"), 400, "INVALID_PARAMETER");
  expect_problem(c.get("/v1/book/BTC-USD?depth=abc"), 400, "INVALID_PARAMETER");
  expect_problem(c.get("/v1/book/BTC-USD?depth=%zz"), 400, "INVALID_PARAMETER");
  expect_problem(c.get("/v1/book/XXX"), 404, "UNKNOWN_SYMBOL");

  r = c.get("/v1/ticker/BTC-USD");
  ASSERT_EQ(r.status, 200);
  doc = parse(parser_, r.body);
  EXPECT_EQ(str(doc, "/symbol"), "BTC-USD");
  EXPECT_NE(str(doc, "/last").find('.'), std::string::npos);
  uint64_t count = 0;
  EXPECT_FALSE(doc["trades"].get(count));
  EXPECT_GT(count, 0u);

  r = c.get("/v1/ticker");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(parse(parser_, r.body)["tickers"].get_array().value().size(), 4u);
}

TEST_F(ServePublic, EtagAndRequestIds) {
  HttpClient c(server_->port());
  // The simulator keeps changing last prices, so an unchanged body may take
  // a few tries; every 304 must answer an ETag that is still current.
  HttpResult r;
  bool got_304 = false;
  for (int attempt = 0; attempt < 50 && !got_304; ++attempt) {
    r = c.get("/v1/instruments/TCS-INR");
    const std::string etag = r.header("etag");
    ASSERT_FALSE(etag.empty());
    const auto again = c.get("/v1/instruments/TCS-INR", {{"If-None-Match", etag}});
    if (again.status == 304) {
      got_304 = true;
      EXPECT_TRUE(again.body.empty());
      EXPECT_EQ(again.header("etag"), etag);
    } else {
      EXPECT_EQ(again.status, 200);
      EXPECT_NE(again.header("etag"), etag);
    }
  }
  EXPECT_TRUE(got_304);
  EXPECT_EQ(c.get("/v1/instruments", {{"If-None-Match", "\"other\""}}).status, 200);

  r = c.get("/v1/time", {{"X-Request-Id", "client-abc.1"}});
  EXPECT_EQ(r.header("x-request-id"), "client-abc.1");
  r = c.get("/v1/time", {{"X-Request-Id", "bad id with spaces"}});
  EXPECT_EQ(r.header("x-request-id").size(), 16u);  // replaced by a generated one
}

TEST_F(ServePublic, ErrorsAreProblemsAndTheServerKeepsServing) {
  HttpClient c(server_->port());
  expect_problem(c.get("/v1/nothing-here"), 404, "NOT_FOUND");
  auto r = c.request("DELETE", "/v1/time");
  expect_problem(r, 405, "METHOD_NOT_ALLOWED");
  EXPECT_EQ(r.header("allow"), "GET");

  // Oversized body, oversized headers, garbage: each gets its status.
  const std::string big(8192, 'x');
  std::string out = raw_exchange(server_->port(), "POST /v1/time HTTP/1.1\r\nHost: x\r\nContent-Length: 8192\r\n\r\n" + big);
  EXPECT_NE(out.find("413"), std::string::npos) << out;
  EXPECT_NE(out.find("BODY_TOO_LARGE"), std::string::npos);
  out = raw_exchange(server_->port(), "GET /v1/time HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n");
  EXPECT_NE(out.find("431"), std::string::npos) << out;
  out = raw_exchange(server_->port(), "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_NE(out.find("400"), std::string::npos) << out;

  // Slowloris: headers that never finish are cut off after the request
  // timeout (800 ms here) while everyone else is served.
  const auto start = std::chrono::steady_clock::now();
  std::thread slow([&] { out = raw_exchange(server_->port(), "GET /v1/time HTTP/1.1\r\nHost: x\r\nX-Slow: ", 5000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(c.get("/v1/time").status, 200);
  slow.join();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::milliseconds(4000));  // closed by the server, not by our 5 s timeout
  EXPECT_EQ(c.get("/healthz").status, 200);
}

TEST_F(ServePublic, MetricsCountRoutesAndStatuses) {
  HttpClient c(server_->port());
  c.get("/v1/ticker/ETH-USD");
  c.get("/v1/ticker/NOPE");
  const auto r = c.get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("bourse_http_requests_total{route=\"/v1/ticker/{symbol}\",method=\"GET\",status=\"200\"}"),
            std::string::npos);
  EXPECT_NE(r.body.find("bourse_http_requests_total{route=\"/v1/ticker/{symbol}\",method=\"GET\",status=\"404\"}"),
            std::string::npos);
  EXPECT_NE(r.body.find("bourse_http_request_duration_seconds_bucket{route=\"/v1/ticker/{symbol}\""), std::string::npos);
  EXPECT_NE(r.body.find("bourse_engine_queue_depth"), std::string::npos);
  EXPECT_NE(r.body.find("bourse_http_connections"), std::string::npos);
}

TEST(Serve, GracefulShutdownAndRestartKeepTheMarket) {
  TempDir dir;
  ServerOptions o;
  o.data_dir = dir.path() + "/data";
  o.extra_args = {"--simulate", "--simulate-rate", "1000"};
  std::string first_book;
  {
    ServerProcess server(o);
    ASSERT_TRUE(server.started()) << server.output();
    EXPECT_NE(server.output().find("new demo market"), std::string::npos);
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    EXPECT_EQ(server.stop(), 0) << server.output();
    EXPECT_NE(server.output().find("draining"), std::string::npos);
  }
  o.extra_args.clear();  // no simulator: the book must be exactly what was left
  ServerProcess server(o);
  ASSERT_TRUE(server.started()) << server.output();
  EXPECT_NE(server.output().find("recovered market"), std::string::npos) << server.output();
  HttpClient c(server.port());
  const auto r = c.get("/v1/book/BTC-USD?depth=1000");
  ASSERT_EQ(r.status, 200);
  simdjson::dom::parser parser;
  auto doc = parse(parser, r.body);
  EXPECT_GT(doc["bids"].get_array().value().size() + doc["asks"].get_array().value().size(), 0u) << r.body;
  EXPECT_EQ(server.stop(), 0);
}

TEST(Serve, ConfigurationSourcesAndErrors) {
  TempDir dir;
  std::string out;
  // An unknown key in the file is an error, not a silent default.
  const std::string bad = dir.path() + "/bad.toml";
  FILE* f = std::fopen(bad.c_str(), "w");
  std::fputs("[server]\nlisten = \"127.0.0.1:0\"\nlisen = 1\n", f);
  std::fclose(f);
  EXPECT_EQ(run_bourse({"serve", "--config", bad, "--data-dir", dir.path() + "/d"}, &out), 2);
  EXPECT_NE(out.find("unknown key server.lisen"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(run_bourse({"serve", "--data-dir", dir.path() + "/d"}, &out, {{"BOURSE_LISTEN", "nonsense"}}), 2);
  EXPECT_NE(out.find("HOST:PORT"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(run_bourse({"serve", "--help"}, &out), 0);
  EXPECT_NE(out.find("--listen"), std::string::npos);
  EXPECT_NE(out.find("--simulate"), std::string::npos);
  // The flag beats the environment.
  ServerOptions o;
  o.data_dir = dir.path() + "/d2";
  o.environment = {{"BOURSE_LISTEN", "127.0.0.1:1"}};  // would fail: port 1 is privileged
  ServerProcess server(o);                              // passes --listen 127.0.0.1:0
  EXPECT_TRUE(server.started()) << server.output();
}

}  // namespace
}  // namespace bourse::testing

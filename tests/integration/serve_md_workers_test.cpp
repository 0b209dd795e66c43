// End to end: market-data worker processes (`--md-workers`). Public
// channels on the market-data port carry the same messages and sequence
// numbers as the API port, whichever worker a connection lands on; resume
// with `since` works across workers (and after a worker restarts); a slow
// consumer's book is refreshed from the main process; the port refuses
// anything private. Real server, real worker processes, real sockets.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <set>
#include <thread>

#include "integration/client_book.h"
#include "integration/json_view.h"
#include "integration/server_process.h"

namespace bourse::testing {
namespace {

class ServeMdWorkers : public ::testing::Test {
 protected:
  void start(const std::string& toml = "", std::vector<std::string> args = {}) {
    options_.data_dir = dir_.path() + "/data";
    options_.config_toml = toml;
    options_.extra_args = {"--md-workers", "2", "--md-listen", "127.0.0.1:0"};
    options_.extra_args.insert(options_.extra_args.end(), args.begin(), args.end());
    server_ = std::make_unique<ServerProcess>(options_);
    ASSERT_TRUE(server_->started()) << server_->output();
    keys_ = demo_keys(server_->output());
    // "  market data: 2 workers on ws://127.0.0.1:PORT/v1/ws (public channels; pids A,B)"
    const std::string& out = server_->output();
    const std::size_t at = out.find("market data: ");
    ASSERT_NE(at, std::string::npos) << out;
    const std::size_t colon = out.find(':', out.find("ws://", at) + 5);
    md_port_ = static_cast<uint16_t>(std::stoi(out.substr(colon + 1)));
    const std::size_t pids = out.find("pids ", at) + 5;
    std::string list = out.substr(pids, out.find(')', pids) - pids);
    for (std::size_t p = 0; p < list.size();) {
      const std::size_t comma = std::min(list.find(',', p), list.size());
      worker_pids_.push_back(static_cast<pid_t>(std::stoi(list.substr(p, comma - p))));
      p = comma + 1;
    }
    ASSERT_EQ(worker_pids_.size(), 2u);
  }
  void order(const std::string& user, const std::string& side, const std::string& price, const std::string& qty) {
    auto& client = clients_[user];
    if (!client) client = std::make_unique<SignedClient>(server_->port(), keys_[user]);
    const auto r = client->call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":")" + side + R"(","price":")" +
                                                          price + R"(","qty":")" + qty + R"("})");
    ASSERT_EQ(r.status, 201) << r.body;
  }
  void subscribe(WsClient& c, const std::string& body) {
    c.send(body);
    Json ack(c.receive_until("\"op\":\"subscribe\""));
    ASSERT_TRUE(ack.ok);
    ASSERT_EQ(ack.s("/error/code"), "<none>") << ack.s("/error/detail");
  }

  TempDir dir_;
  ServerOptions options_;
  std::unique_ptr<ServerProcess> server_;
  uint16_t md_port_ = 0;
  std::vector<pid_t> worker_pids_;
  std::map<std::string, ApiKey> keys_;
  std::map<std::string, std::unique_ptr<SignedClient>> clients_;
};

TEST_F(ServeMdWorkers, EveryConnectionGetsTheSameStreamAsTheApiPort) {
  start("", {"--simulate", "--simulate-rate", "400"});
  const std::string channels = R"({"op":"subscribe","id":"s","channels":["book.BTC-USD","trades.BTC-USD"]})";
  // Several connections: the kernel spreads them over both workers.
  std::vector<std::unique_ptr<WsClient>> md;
  for (int i = 0; i < 6; ++i) {
    md.push_back(std::make_unique<WsClient>(md_port_));
    ASSERT_TRUE(md.back()->connected());
    subscribe(*md.back(), channels);
  }
  WsClient api(server_->port());
  subscribe(api, channels);
  // One reader thread per connection (a timed-out read ends a test client).
  std::vector<ClientBook> books(md.size() + 1);
  std::vector<std::map<int64_t, std::string>> trades(md.size() + 1);  // trade seq → the message's trade data
  std::vector<std::string> errors(md.size() + 1);
  std::vector<std::thread> readers;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  for (std::size_t k = 0; k <= md.size(); ++k) {
    readers.emplace_back([&, k] {
      WsClient& c = k < md.size() ? *md[k] : api;
      while (std::chrono::steady_clock::now() < until && errors[k].empty()) {
        const std::string text = c.receive(2000);
        if (text.empty()) {
          errors[k] = "connection ended";
          return;
        }
        Json m(text);
        if (m.s("/channel") == "book.BTC-USD") {
          books[k].apply(m, &errors[k]);
        } else if (m.s("/channel") == "trades.BTC-USD" && m.s("/type") == "trades") {
          const std::size_t data = text.find("\"data\"");
          trades[k][m.i("/seq")] = text.substr(data, text.find("\"time\"", data) - data);
        }
      }
    });
  }
  for (auto& t : readers) t.join();
  for (std::size_t k = 0; k <= md.size(); ++k) EXPECT_EQ(errors[k], "") << "connection " << k;
  for (std::size_t k = 0; k <= md.size(); ++k) {
    EXPECT_EQ(books[k].snapshots(), 1) << k;
    EXPECT_GT(books[k].diffs(), 10) << k;
  }
  // The same trades under the same sequence numbers everywhere they overlap.
  std::size_t compared = 0;
  for (std::size_t k = 0; k < md.size(); ++k) {
    for (const auto& [seq, body] : trades[k]) {
      auto it = trades.back().find(seq);
      if (it == trades.back().end()) continue;
      EXPECT_EQ(body, it->second) << "trade seq " << seq;
      ++compared;
    }
  }
  EXPECT_GT(compared, 10u);
}

TEST_F(ServeMdWorkers, ResumeWorksOnWhicheverWorkerTheClientLands) {
  start();
  int64_t trades_seq = -1;
  {
    WsClient c(md_port_);
    subscribe(c, R"({"op":"subscribe","id":"s","channels":["trades.BTC-USD"]})");
    order("alice", "SELL", "65000.00", "0.050");
    order("bob", "BUY", "65000.00", "0.001");
    trades_seq = Json(c.receive_until("\"trades.BTC-USD\"")).i("/seq");
    ASSERT_GT(trades_seq, 0);
  }
  // Each round: two trades while away, then resume on a new connection
  // (which the kernel may give to either worker, one that has the channel
  // in its own history or one that must ask the main process).
  for (int round = 0; round < 6; ++round) {
    order("bob", "BUY", "65000.00", "0.001");
    order("bob", "BUY", "65000.00", "0.001");
    WsClient c(md_port_);
    subscribe(c, R"({"op":"subscribe","id":"r","channels":["trades.BTC-USD"],"since":{"trades.BTC-USD":)" +
                     std::to_string(trades_seq) + "}}");
    for (int k = 1; k <= 2; ++k) {
      Json m(c.receive_until("\"trades.BTC-USD\""));
      ASSERT_TRUE(m.ok) << "round " << round;
      EXPECT_EQ(m.s("/type"), "trades") << "history covers the gap: no snapshot";
      EXPECT_EQ(m.i("/seq"), trades_seq + k) << "round " << round;
    }
    trades_seq += 2;
  }
}

TEST_F(ServeMdWorkers, ResumeBeyondHistoryGetsAFlaggedSnapshotFromTheMainProcess) {
  start("[websocket]\nhistory_messages = 2\n");
  int64_t book_seq = -1;
  {
    WsClient c(md_port_);
    subscribe(c, R"({"op":"subscribe","id":"s","channels":["book.BTC-USD"]})");
    Json snap(c.receive_until("\"snapshot\""));
    EXPECT_EQ(snap.s("/reason"), "subscribe");
    book_seq = snap.i("/seq");
    ASSERT_GE(book_seq, 0);
  }
  for (int k = 0; k < 5; ++k) order("alice", "SELL", std::to_string(65100 + k) + ".00", "0.001");
  WsClient c(md_port_);
  subscribe(c, R"({"op":"subscribe","id":"r","channels":["book.BTC-USD","ticker.*"],"since":{"book.BTC-USD":)" +
                   std::to_string(book_seq) + "}}");
  Json book(c.receive_until("\"book.BTC-USD\""));
  EXPECT_EQ(book.s("/type"), "snapshot");
  EXPECT_EQ(book.s("/reason"), "since_too_old");
  EXPECT_EQ(book.i("/seq"), book_seq + 5);
  EXPECT_EQ(book.size("/asks"), 5u);
  // ticker.*: one snapshot per instrument (each on its ticker.{symbol}), then live.
  std::set<std::string> symbols;
  for (int k = 0; k < 4; ++k) {
    Json t(c.receive_until("\"channel\":\"ticker."));
    EXPECT_EQ(t.s("/type"), "snapshot");
    symbols.insert(t.s("/channel"));
  }
  EXPECT_EQ(symbols.size(), 4u);
  order("alice", "SELL", "65200.00", "0.001");
  Json diff(c.receive_until("\"book.BTC-USD\""));
  EXPECT_EQ(diff.s("/type"), "update");
  EXPECT_EQ(diff.i("/seq"), book_seq + 6);
}

TEST_F(ServeMdWorkers, SlowConsumerGetsFreshBooksFromTheMainProcess) {
  start("[websocket]\nconflate_after_messages = 8\nmax_queued_messages = 100000\nsend_buffer_bytes = 4096\n",
        {"--simulate", "--simulate-rate", "5000"});
  WsClient slow(md_port_, {}, "/v1/ws", 4096);
  subscribe(slow, R"({"op":"subscribe","id":"s","channels":["book.BTC-USD"]})");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ClientBook book;
  std::string why;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < until) {
    Json m(slow.receive(1000));
    if (!m.ok) break;
    if (m.s("/channel") == "book.BTC-USD") {
      ASSERT_TRUE(book.apply(m, &why)) << why;
    }
  }
  EXPECT_TRUE(slow.connected());
  EXPECT_GT(book.diffs(), 0);
  int resyncs = 0;
  for (const auto& r : book.reasons()) resyncs += r == "slow_consumer";
  EXPECT_GE(resyncs, 1);
}

TEST_F(ServeMdWorkers, ThePortServesPublicMarketDataOnly) {
  start();
  WsClient c(md_port_);
  c.send(R"({"op":"login","id":"l","args":{"token":"x"}})");
  EXPECT_EQ(Json(c.receive_until("\"l\"")).s("/error/code"), "MARKET_DATA_ONLY");
  c.send(R"({"op":"place","id":"p","args":{"symbol":"BTC-USD"}})");
  EXPECT_EQ(Json(c.receive_until("\"p\"")).s("/error/code"), "MARKET_DATA_ONLY");
  c.send(R"({"op":"subscribe","id":"o","channels":["orders"]})");
  EXPECT_EQ(Json(c.receive_until("\"o\"")).s("/error/code"), "MARKET_DATA_ONLY");
  c.send(R"({"op":"subscribe","id":"u","channels":["trades.NOPE-USD"]})");
  EXPECT_EQ(Json(c.receive_until("\"u\"")).s("/error/code"), "UNKNOWN_CHANNEL");
  EXPECT_TRUE(c.connected());
  HttpClient http(md_port_);
  const auto r = http.get("/v1/ticker");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("NOT_FOUND"), std::string::npos);
}

TEST_F(ServeMdWorkers, KilledWorkersAreReplacedAndTheirClientsResume) {
  start();
  order("alice", "SELL", "65000.00", "0.050");
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<WsClient>(md_port_));
    subscribe(*clients.back(), R"({"op":"subscribe","id":"s","channels":["trades.BTC-USD"]})");
  }
  order("bob", "BUY", "65000.00", "0.001");
  int64_t trades_seq = -1;
  for (auto& c : clients) {
    const int64_t seq = Json(c->receive_until("\"trades.BTC-USD\"")).i("/seq");
    ASSERT_GT(seq, 0);
    if (trades_seq >= 0) {
      EXPECT_EQ(seq, trades_seq) << "the same sequence on every worker";
    }
    trades_seq = seq;
  }
  // Both workers die: every client loses its connection, and the new
  // workers have no history of their own, so each resume below is served
  // by the main process's history.
  for (pid_t pid : worker_pids_) ASSERT_EQ(::kill(pid, SIGKILL), 0);
  for (auto& c : clients) {
    EXPECT_EQ(c->receive(3000), "");
    EXPECT_FALSE(c->connected());
  }
  order("bob", "BUY", "65000.00", "0.001");
  order("bob", "BUY", "65000.00", "0.001");
  HttpClient http(server_->port());
  bool restarted = false;
  for (int i = 0; i < 60 && !restarted; ++i) {
    const auto m = http.get("/metrics");
    restarted = m.body.find("bourse_md_worker_restarts 2") != std::string::npos &&
                m.body.find("bourse_md_workers 2") != std::string::npos;
    if (!restarted) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(restarted);
  for (std::size_t k = 0; k < clients.size(); ++k) {
    WsClient c(md_port_);
    ASSERT_TRUE(c.connected());
    subscribe(c, R"({"op":"subscribe","id":"r","channels":["trades.BTC-USD"],"since":{"trades.BTC-USD":)" +
                     std::to_string(trades_seq) + "}}");
    for (int64_t n = 1; n <= 2; ++n) {
      Json m(c.receive_until("\"trades.BTC-USD\""));
      EXPECT_EQ(m.s("/type"), "trades");
      EXPECT_EQ(m.i("/seq"), trades_seq + n) << "client " << k;
    }
  }
}

// Subscriptions that come and go while the book moves: after each
// subscribe reply the first book message is its snapshot and the diffs
// that follow are contiguous with matching checksums; connections that
// subscribe and vanish at once never take a worker down.
TEST_F(ServeMdWorkers, SubscriptionChurnKeepsEveryBookExact) {
  start("", {"--simulate", "--simulate-rate", "1000"});
  for (int i = 0; i < 40; ++i) {
    WsClient gone(md_port_);
    gone.send(R"({"op":"subscribe","id":"g","channels":["book.BTC-USD","trades.BTC-USD","ticker.*"]})");
  }
  WsClient c(md_port_);
  for (int round = 0; round < 15; ++round) {
    c.send(R"({"op":"subscribe","id":"s)" + std::to_string(round) + R"(","channels":["book.BTC-USD","bbo.BTC-USD"]})");
    // Messages of the previous subscription may come first; after the reply, the snapshot.
    ASSERT_TRUE(Json(c.receive_until("\"id\":\"s" + std::to_string(round) + "\"")).ok) << round;
    ClientBook book;
    std::string why;
    bool first = true;
    int diffs = 0;
    for (int n = 0; n < 400 && diffs < 5; ++n) {
      Json m(c.receive(3000));
      ASSERT_TRUE(m.ok) << "round " << round;
      if (m.s("/channel") != "book.BTC-USD") continue;
      if (first) {
        ASSERT_EQ(m.s("/type"), "snapshot") << "round " << round << ": a diff before the snapshot";
        first = false;
      }
      ASSERT_TRUE(book.apply(m, &why)) << "round " << round << ": " << why;
      diffs = book.diffs();
    }
    EXPECT_GE(diffs, 5) << round;
    c.send(R"({"op":"unsubscribe","id":"u)" + std::to_string(round) + R"(","channels":["book.BTC-USD","bbo.BTC-USD"]})");
    ASSERT_TRUE(Json(c.receive_until("\"id\":\"u" + std::to_string(round) + "\"")).ok) << round;
  }
  HttpClient http(server_->port());
  const auto m = http.get("/metrics");
  EXPECT_NE(m.body.find("bourse_md_worker_restarts 0"), std::string::npos);
  EXPECT_NE(m.body.find("bourse_md_workers 2"), std::string::npos);
}

}  // namespace
}  // namespace bourse::testing

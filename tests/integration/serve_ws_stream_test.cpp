// End to end over WebSocket, market-data streaming: per-channel sequences,
// resume with `since` (replay from history, or a flagged snapshot when the
// history does not reach back), book resync with checksums, conflation for a
// slow consumer, heartbeats on quiet channels, bbo / top-N / ticker.*.
// Real server, real sockets, small scale.
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "integration/client_book.h"
#include "integration/json_view.h"
#include "integration/server_process.h"

namespace bourse::testing {
namespace {

class ServeWsStream : public ::testing::Test {
 protected:
  void start(const std::string& toml = "", std::vector<std::string> args = {}) {
    options_.data_dir = dir_.path() + "/data";
    options_.config_toml = toml;
    options_.extra_args = std::move(args);
    server_ = std::make_unique<ServerProcess>(options_);
    ASSERT_TRUE(server_->started()) << server_->output();
    keys_ = demo_keys(server_->output());
  }
  // A resting sell that changes the BTC-USD book (and, at a crossing price, trades).
  void order(const std::string& user, const std::string& side, const std::string& price, const std::string& qty) {
    // One client per user: it never signs two requests with the same
    // millisecond (identical orders would otherwise be replays).
    auto& client = clients_[user];
    if (!client) client = std::make_unique<SignedClient>(server_->port(), keys_[user]);
    SignedClient& c = *client;
    const auto r = c.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":")" + side + R"(","price":")" + price +
                                                    R"(","qty":")" + qty + R"("})");
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
  std::map<std::string, ApiKey> keys_;
  std::map<std::string, std::unique_ptr<SignedClient>> clients_;
};

TEST_F(ServeWsStream, ResumeReplaysExactlyTheMissedMessages) {
  start();
  int64_t trades_seq = -1, book_seq = -1;
  {
    WsClient c(server_->port());
    subscribe(c, R"({"op":"subscribe","id":"s","channels":["trades.BTC-USD","book.BTC-USD"]})");
    Json snap(c.receive_until("\"snapshot\""));
    book_seq = snap.i("/seq");
    order("alice", "SELL", "65000.00", "0.010");
    order("bob", "BUY", "65000.00", "0.002");
    for (int i = 0; i < 10 && trades_seq < 0; ++i) {
      Json m(c.receive());
      if (m.s("/channel") == "trades.BTC-USD") trades_seq = m.i("/seq");
      if (m.s("/channel") == "book.BTC-USD") book_seq = m.i("/seq");
    }
    ASSERT_GT(trades_seq, 0);
    // Drain the last book diff of the trade, then disconnect.
    Json last(c.receive(500));
    if (last.s("/channel") == "book.BTC-USD") book_seq = last.i("/seq");
  }
  // While away: three trades and their book changes.
  for (int k = 0; k < 3; ++k) order("bob", "BUY", "65000.00", "0.001");
  WsClient c(server_->port());
  subscribe(c, R"({"op":"subscribe","id":"r","channels":["trades.BTC-USD","book.BTC-USD"],"since":{"trades.BTC-USD":)" +
                   std::to_string(trades_seq) + R"(,"book.BTC-USD":)" + std::to_string(book_seq) + "}}");
  std::vector<int64_t> trades, books;
  for (int i = 0; i < 20 && (trades.size() < 3 || books.size() < 3); ++i) {
    Json m(c.receive(1000));
    if (!m.ok) break;
    EXPECT_NE(m.s("/type"), "snapshot") << "history covers the gap: no snapshot";
    if (m.s("/channel") == "trades.BTC-USD") trades.push_back(m.i("/seq"));
    if (m.s("/channel") == "book.BTC-USD") books.push_back(m.i("/seq"));
  }
  ASSERT_EQ(trades.size(), 3u);
  ASSERT_EQ(books.size(), 3u);
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(trades[k], trades_seq + 1 + k);
    EXPECT_EQ(books[k], book_seq + 1 + k);
  }
  // And live after the replay, still contiguous.
  order("bob", "BUY", "65000.00", "0.001");
  Json live(c.receive_until("\"trades.BTC-USD\""));
  EXPECT_EQ(live.i("/seq"), trades_seq + 4);
}

TEST_F(ServeWsStream, ResumeBeyondHistoryGetsAFlaggedSnapshot) {
  start("[websocket]\nhistory_messages = 2\n");
  int64_t book_seq = -1;
  {
    WsClient c(server_->port());
    subscribe(c, R"({"op":"subscribe","id":"s","channels":["book.BTC-USD"]})");
    book_seq = Json(c.receive_until("\"snapshot\"")).i("/seq");
    ASSERT_GE(book_seq, 0);
  }
  for (int k = 0; k < 5; ++k) order("alice", "SELL", std::to_string(65100 + k) + ".00", "0.001");
  WsClient c(server_->port());
  subscribe(c, R"({"op":"subscribe","id":"r","channels":["book.BTC-USD","trades.BTC-USD"],"since":{"book.BTC-USD":)" +
                   std::to_string(book_seq) + R"(,"trades.BTC-USD":999999999999}})");
  Json book(c.receive_until("\"book.BTC-USD\""));
  EXPECT_EQ(book.s("/type"), "snapshot");
  EXPECT_EQ(book.s("/reason"), "since_too_old");
  EXPECT_EQ(book.i("/seq"), book_seq + 5);
  EXPECT_EQ(book.size("/asks"), 5u);
  // A sequence the channel never reached (e.g. from before a restart): unknown.
  Json trades(c.receive_until("\"trades.BTC-USD\""));
  EXPECT_EQ(trades.s("/type"), "snapshot");
  EXPECT_EQ(trades.s("/reason"), "since_unknown");
  // Bad `since` values are rejected whole, the connection stays.
  c.send(R"({"op":"subscribe","id":"x","channels":["book.ETH-USD"],"since":{"book.BTC-USD":1}})");
  EXPECT_EQ(Json(c.receive_until("\"x\"")).s("/error/code"), "INVALID_FIELD");
  c.send(R"({"op":"subscribe","id":"y","channels":["book.ETH-USD"],"since":{"book.ETH-USD":-1}})");
  EXPECT_EQ(Json(c.receive_until("\"y\"")).s("/error/code"), "INVALID_FIELD");
}

TEST_F(ServeWsStream, SlowConsumerGetsTheLatestBookNotABacklog) {
  // The simulator moves the book fast; the slow client does not read for a
  // while. Its book diffs give way to snapshots and its ticker is conflated;
  // when it reads again, the book it rebuilds has no gap and every checksum
  // matches, and it was never disconnected.
  start("[websocket]\nconflate_after_messages = 8\nmax_queued_messages = 100000\nsend_buffer_bytes = 4096\n",
        {"--simulate", "--simulate-rate", "5000"});
  WsClient slow(server_->port(), {}, "/v1/ws", 4096);
  subscribe(slow, R"({"op":"subscribe","id":"s","channels":["book.BTC-USD","ticker.BTC-USD"]})");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ClientBook book;
  std::string why;
  int64_t last_ticker = -1, ticker_jumps = 0, messages = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < until) {
    Json m(slow.receive(1000));
    if (!m.ok) break;
    ++messages;
    if (m.s("/channel") == "book.BTC-USD") {
      ASSERT_TRUE(book.apply(m, &why)) << why;
    } else if (m.s("/channel") == "ticker.BTC-USD" && m.s("/type") == "ticker") {
      if (last_ticker >= 0 && m.i("/seq") > last_ticker + 1) ++ticker_jumps;
      last_ticker = m.i("/seq");
    }
  }
  EXPECT_TRUE(slow.connected());
  EXPECT_GT(book.diffs(), 0);
  int resyncs = 0;
  for (const auto& r : book.reasons()) resyncs += r == "slow_consumer";
  EXPECT_GE(resyncs, 1) << messages << " messages";
  EXPECT_GE(ticker_jumps, 1) << "tickers that waited were replaced by newer ones";
  EXPECT_LT(slow.frames(), static_cast<uint64_t>(messages)) << "a backlog goes out several messages to a frame";
}

TEST_F(ServeWsStream, QuietChannelsSendHeartbeats) {
  start("[websocket]\nheartbeat_ms = 1000\n");
  WsClient c(server_->port());
  subscribe(c, R"({"op":"subscribe","id":"s","channels":["trades.ETH-USD"]})");
  Json hb(c.receive_until("\"heartbeat\"", 4000));
  ASSERT_TRUE(hb.ok);
  EXPECT_EQ(hb.s("/channel"), "trades.ETH-USD");
  EXPECT_TRUE(hb.is_null("/seq"));  // nothing published on it yet
  EXPECT_GT(hb.i("/ts_us"), 0);
}

TEST_F(ServeWsStream, SilentClientsTimeOutAndPongingOnesStay) {
  // The server pings at half the idle timeout; a client that reads answers
  // (Beast's client pongs while reading) and stays, one that never reads is
  // cut off after the timeout.
  start("[websocket]\nidle_timeout_ms = 1000\nheartbeat_ms = 1000\n");
  WsClient silent(server_->port()), alive(server_->port());
  ASSERT_TRUE(silent.connected());
  ASSERT_TRUE(alive.connected());
  subscribe(alive, R"({"op":"subscribe","id":"s","channels":["trades.ETH-USD"]})");
  // Reading heartbeats for 3 s (three idle timeouts); pings are answered meanwhile.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < until && alive.connected()) alive.receive_until("heartbeat", 2500);
  EXPECT_TRUE(alive.connected());
  alive.send(R"({"op":"ping","id":"p"})");
  EXPECT_NE(alive.receive_until("pong", 2000).find("pong"), std::string::npos);
  // The silent one: its connection is gone by now (the read ends at once
  // with the server's EOF, well before its own 2 s timeout).
  const auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(silent.receive(2000), "");
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(1500));
  EXPECT_FALSE(silent.connected());
  EXPECT_EQ(silent.close_code(), 0);  // cut off, not closed politely: it was not listening
}

TEST_F(ServeWsStream, BboTopOfBookAndTickerWildcard) {
  start();
  WsClient c(server_->port());
  subscribe(c, R"({"op":"subscribe","id":"s","channels":["bbo.BTC-USD","book10.BTC-USD","ticker.*"]})");
  // Snapshots first: the bbo, the top 10, and one ticker per instrument.
  std::set<std::string> tickers;
  bool bbo = false, top = false;
  for (int i = 0; i < 20 && !(bbo && top && tickers.size() >= 4); ++i) {
    Json m(c.receive(1000));
    if (!m.ok) break;
    EXPECT_EQ(m.s("/type"), "snapshot");
    if (m.s("/channel") == "bbo.BTC-USD") bbo = true;
    if (m.s("/channel") == "book10.BTC-USD") top = true;
    if (m.s("/channel").rfind("ticker.", 0) == 0) tickers.insert(m.s("/channel"));
  }
  EXPECT_TRUE(bbo);
  EXPECT_TRUE(top);
  EXPECT_GE(tickers.size(), 4u);
  order("alice", "SELL", "66000.00", "0.003");
  bool got_bbo = false, got_top = false, got_ticker = false;
  for (int i = 0; i < 20 && !(got_bbo && got_top && got_ticker); ++i) {
    Json m(c.receive(1000));
    if (!m.ok) break;
    if (m.s("/channel") == "bbo.BTC-USD" && m.s("/type") == "bbo") {
      got_bbo = true;
      EXPECT_EQ(m.s("/data/ask/0"), "66000.00");
      EXPECT_EQ(m.s("/data/ask/1"), "0.00300000");
    }
    if (m.s("/channel") == "book10.BTC-USD" && m.s("/type") == "book") {
      got_top = true;
      EXPECT_EQ(m.s("/asks/0/0"), "66000.00");
      EXPECT_LE(m.size("/asks"), 10u);
    }
    if (m.s("/channel") == "ticker.BTC-USD" && m.s("/type") == "ticker") got_ticker = true;
  }
  EXPECT_TRUE(got_bbo);
  EXPECT_TRUE(got_top);
  EXPECT_TRUE(got_ticker);
  // A level deeper than the top 10 changes neither bbo nor book10.
  for (int k = 1; k <= 10; ++k) order("alice", "SELL", std::to_string(66000 + k) + ".00", "0.001");
  while (c.receive(500) != "") {
  }
  order("alice", "SELL", "66500.00", "0.001");
  EXPECT_EQ(c.receive(700), "");
}

}  // namespace
}  // namespace bourse::testing

namespace bourse::testing {
namespace {

int64_t json_int(const std::string& text, const char* pointer) {
  Json j(text.substr(text.find('{')));
  return j.i(pointer);
}

// The fan-out load generator at small scale: it holds its connections,
// sees every update with no gap, and after every connection drops at once
// and resumes with `since`, still no gap (the missed messages come from the
// server's history).
TEST_F(ServeWsStream, LoadGeneratorFanOutAndReconnectStorm) {
  start();
  const std::map<std::string, std::string> env = {
      {"BOURSE_API_KEY", keys_["alice"].key_id}, {"BOURSE_API_SECRET", keys_["alice"].secret},
      {"BOURSE_TAKER_KEY", keys_["bob"].key_id}, {"BOURSE_TAKER_SECRET", keys_["bob"].secret}};
  const std::string url = "ws://127.0.0.1:" + std::to_string(server_->port()) + "/v1/ws";
  std::string out;
  ASSERT_EQ(run_bourse({"loadgen", "ws", "--url", url, "--connections", "40", "--duration", "3", "--channels",
                        "trades.BTC-USD,book.BTC-USD", "--drive-rate", "20", "--reconnect-at", "1.5", "--per-address",
                        "15", "--server-pid", std::to_string(server_->pid()), "--json"},
                       &out, env),
            0)
      << out;
  EXPECT_EQ(json_int(out, "/connections_held"), 40) << out;
  EXPECT_EQ(json_int(out, "/gaps"), 0) << out;
  EXPECT_EQ(json_int(out, "/closed_by_server"), 0) << out;
  EXPECT_EQ(json_int(out, "/reconnected"), 40) << out;
  EXPECT_GE(json_int(out, "/reconnect_ms"), 0) << out;
  EXPECT_GT(json_int(out, "/driven_updates"), 30) << out;
  // Every connection saw every update: 40 × (book diffs + trade messages).
  EXPECT_GE(json_int(out, "/updates_received"), 40 * 30) << out;
  EXPECT_GT(json_int(out, "/server_rss_bytes"), 0) << out;
}

}  // namespace
}  // namespace bourse::testing

// End to end over WebSocket: public channels with book snapshot + diffs,
// private streams showing partial fills on both accounts, order entry with
// request ids, cancel-on-disconnect, errors and limits, slow consumers,
// going-away on shutdown.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <thread>

#include "auth/auth_service.h"
#include "auth/crypto.h"
#include "integration/json_view.h"
#include "integration/server_process.h"

namespace bourse::testing {
namespace {

class ServeWs : public ::testing::Test {
 protected:
  void start(const std::string& toml = "", std::vector<std::string> args = {}) {
    options_.data_dir = dir_.path() + "/data";
    options_.config_toml = toml;
    options_.extra_args = std::move(args);
    server_ = std::make_unique<ServerProcess>(options_);
    ASSERT_TRUE(server_->started()) << server_->output();
    keys_ = demo_keys(server_->output());
  }
  std::unique_ptr<WsClient> logged_in(const std::string& user) {
    auto c = std::make_unique<WsClient>(server_->port());
    EXPECT_TRUE(c->connected());
    c->send(ws_login_message(keys_[user]));
    const std::string reply = c->receive_until("\"op\":\"login\"");
    EXPECT_NE(reply.find("\"result\""), std::string::npos) << reply;
    return c;
  }

  TempDir dir_;
  ServerOptions options_;
  std::unique_ptr<ServerProcess> server_;
  std::map<std::string, ApiKey> keys_;
};

TEST_F(ServeWs, BookSnapshotThenDiffsAndTrades) {
  start();
  WsClient c(server_->port());
  ASSERT_TRUE(c.connected());
  c.send(R"({"op":"subscribe","id":"s1","channels":["book.BTC-USD","trades.BTC-USD","ticker.BTC-USD"]})");
  Json ack(c.receive());
  EXPECT_EQ(ack.s("/id"), "s1");
  EXPECT_EQ(ack.s("/op"), "subscribe");
  Json snap(c.receive_until("\"snapshot\""));
  ASSERT_TRUE(snap.ok);
  const int64_t snap_seq = snap.i("/seq");
  EXPECT_GE(snap_seq, 0);
  EXPECT_EQ(snap.s("/reason"), "subscribe");

  SignedClient alice(server_->port(), keys_["alice"]), bob(server_->port(), keys_["bob"]);
  ASSERT_EQ(alice.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"SELL","price":"65000.00","qty":"0.010"})").status, 201);
  Json diff(c.receive_until("\"update\""));
  ASSERT_TRUE(diff.ok);
  EXPECT_EQ(diff.i("/seq"), snap_seq + 1);  // the book's own sequence: contiguous
  EXPECT_GE(diff.i("/checksum"), 0);
  EXPECT_EQ(diff.s("/asks/0/0"), "65000.00");
  EXPECT_EQ(diff.s("/asks/0/1"), "0.01000000");

  ASSERT_EQ(bob.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"BUY","price":"65000.00","qty":"0.004"})").status, 201);
  // The trade, the level shrinking, and a ticker, in some order.
  bool got_trade = false, got_level = false, got_ticker = false;
  for (int i = 0; i < 20 && !(got_trade && got_level && got_ticker); ++i) {
    Json m(c.receive());
    if (!m.ok) break;
    const std::string channel = m.s("/channel");
    if (channel == "trades.BTC-USD") {
      got_trade = true;
      EXPECT_EQ(m.s("/data/0/side"), "BUY");
      EXPECT_EQ(m.s("/data/0/qty"), "0.00400000");
    } else if (channel == "book.BTC-USD") {
      got_level = true;
      EXPECT_EQ(m.s("/asks/0/1"), "0.00600000");
    } else if (channel == "ticker.BTC-USD" && m.s("/data/last") == "65000.00") {
      got_ticker = true;  // (the ticker after alice's order, before any trade, had no last price)
    }
  }
  EXPECT_TRUE(got_trade && got_level && got_ticker);
}

TEST_F(ServeWs, CandleChannelShowsTheBarsTradesTouched) {
  start();
  WsClient c(server_->port());
  ASSERT_TRUE(c.connected());
  c.send(R"({"op":"subscribe","id":"s","channels":["candles.1s.ETH-USD","candles.1m.ETH-USD"]})");
  EXPECT_NE(c.receive_until("\"op\":\"subscribe\"").find("\"s\""), std::string::npos);
  c.send(R"({"op":"subscribe","id":"bad","channels":["candles.2m.ETH-USD"]})");
  EXPECT_NE(c.receive_until("\"bad\"").find("UNKNOWN_CHANNEL"), std::string::npos);
  SignedClient alice(server_->port(), keys_["alice"]), bob(server_->port(), keys_["bob"]);
  auto trade = [&](const char* price) {
    ASSERT_EQ(alice.call("POST", "/v1/orders", std::string(R"({"symbol":"ETH-USD","side":"SELL","price":")") + price +
                                                   R"(","qty":"0.1"})").status, 201);
    ASSERT_EQ(bob.call("POST", "/v1/orders", std::string(R"({"symbol":"ETH-USD","side":"BUY","price":")") + price +
                                                 R"(","qty":"0.1","time_in_force":"IOC"})").status, 201);
  };
  trade("3500.00");
  Json first(c.receive_until("candles.1s.ETH-USD"));
  ASSERT_TRUE(first.ok);
  EXPECT_EQ(first.s("/type"), "candles");
  EXPECT_EQ(first.s("/data/0/close"), "3500.00");
  EXPECT_EQ(first.b("/data/0/closed"), 0);
  // A trade in a later second closes the first 1s bar: it arrives again, closed.
  std::this_thread::sleep_for(std::chrono::milliseconds(1'100));
  trade("3510.00");
  bool closed_seen = false;
  for (int i = 0; i < 10 && !closed_seen; ++i) {
    Json m(c.receive());
    if (!m.ok) break;
    if (m.s("/channel") != "candles.1s.ETH-USD") continue;
    ASSERT_EQ(m.size("/data"), 2u) << m.s("/channel");
    EXPECT_EQ(m.s("/data/0/close"), "3500.00");
    EXPECT_EQ(m.b("/data/0/closed"), 1);
    EXPECT_EQ(m.s("/data/1/open"), "3510.00");
    EXPECT_EQ(m.b("/data/1/closed"), 0);
    closed_seen = true;
  }
  EXPECT_TRUE(closed_seen);
}

TEST_F(ServeWs, PrivateStreamsShowPartialFillsOnBothAccounts) {
  start();
  auto alice = logged_in("alice");
  auto bob = logged_in("bob");
  alice->send(R"({"op":"subscribe","id":"a","channels":["orders","fills","balances"]})");
  EXPECT_NE(alice->receive_until("\"op\":\"subscribe\"").find("orders"), std::string::npos);
  bob->send(R"({"op":"subscribe","id":"b","channels":["orders","fills"]})");
  bob->receive_until("\"op\":\"subscribe\"");

  alice->send(R"({"op":"place","id":"p1","args":{"symbol":"RELIANCE-INR","side":"SELL","price":"2900.00","qty":"10"}})");
  Json placed(alice->receive_until("\"id\":\"p1\""));
  EXPECT_EQ(placed.i("/status"), 201);
  EXPECT_EQ(placed.s("/result/status"), "NEW");
  const int64_t ask_id = placed.i("/result/id");

  bob->send(R"({"op":"place","id":"p2","args":{"symbol":"RELIANCE-INR","side":"BUY","price":"2900.00","qty":"4"}})");
  // Stream messages of a batch precede the replies of the same batch.
  bool reply = false, bob_fill = false;
  for (int i = 0; i < 12 && !(reply && bob_fill); ++i) {
    Json m(bob->receive());
    if (!m.ok) break;
    if (m.s("/id") == "p2") {
      reply = true;
      EXPECT_EQ(m.s("/result/status"), "FILLED");
      EXPECT_TRUE(bob_fill) << "the fill is published before the reply";
    }
    if (m.s("/channel") == "fills") {
      bob_fill = true;
      EXPECT_EQ(m.s("/data/liquidity"), "TAKER");
      EXPECT_EQ(m.s("/data/qty"), "4");
    }
  }
  EXPECT_TRUE(reply && bob_fill);

  // Alice sees her order partially filled and her maker fill.
  bool partial = false, fill = false;
  for (int i = 0; i < 12 && !(partial && fill); ++i) {
    Json m(alice->receive());
    if (!m.ok) break;
    if (m.s("/channel") == "orders" && m.i("/data/id") == ask_id && m.s("/data/status") == "PARTIALLY_FILLED") {
      partial = true;
      EXPECT_EQ(m.s("/data/filled_qty"), "4");
    }
    if (m.s("/channel") == "fills") {
      fill = true;
      EXPECT_EQ(m.s("/data/liquidity"), "MAKER");
      EXPECT_EQ(m.s("/data/fee"), "2.32");
    }
  }
  EXPECT_TRUE(partial);
  EXPECT_TRUE(fill);

  // Amend and cancel over WebSocket; replies carry the request id.
  alice->send(R"({"op":"amend","id":"m1","args":{"order_id":)" + std::to_string(ask_id) + R"(,"qty":"8"}})");
  Json amended(alice->receive_until("\"id\":\"m1\""));
  EXPECT_EQ(amended.i("/status"), 200);
  EXPECT_EQ(amended.s("/result/qty"), "8");
  alice->send(R"({"op":"cancel","id":"c1","args":{"order_id":)" + std::to_string(ask_id) + R"(}})");
  Json cancelled(alice->receive_until("\"id\":\"c1\""));
  EXPECT_EQ(cancelled.s("/result/status"), "CANCELLED");
  // Errors come back as problems with the request id.
  alice->send(R"({"op":"place","id":"bad","args":{"symbol":"RELIANCE-INR","side":"SELL","price":"2900.01","qty":"1"}})");
  Json bad(alice->receive_until("\"id\":\"bad\""));
  EXPECT_EQ(bad.i("/status"), 422);
  EXPECT_EQ(bad.s("/error/code"), "INVALID_TICK");
}

TEST_F(ServeWs, ProtocolErrorsKeepTheConnection) {
  start("[websocket]\nmax_subscriptions = 3\nmax_message_bytes = 1024\n");
  WsClient c(server_->port());
  c.send("not json");
  EXPECT_EQ(Json(c.receive()).s("/error/code"), "MALFORMED_JSON");
  c.send(R"({"op":"fly","id":"x"})");
  EXPECT_EQ(Json(c.receive()).s("/error/code"), "UNKNOWN_OP");
  c.send(R"({"op":"subscribe","id":"x","channels":["orders"]})");
  EXPECT_EQ(Json(c.receive()).s("/error/code"), "UNAUTHENTICATED");
  c.send(R"({"op":"subscribe","id":"x","channels":["book.NOPE"]})");
  EXPECT_EQ(Json(c.receive()).s("/error/code"), "UNKNOWN_CHANNEL");
  c.send(R"({"op":"subscribe","id":"x","channels":["book.BTC-USD","book.ETH-USD","trades.BTC-USD","trades.ETH-USD"]})");
  EXPECT_EQ(Json(c.receive()).s("/error/code"), "TOO_MANY_SUBSCRIPTIONS");
  c.send(R"({"op":"place","id":"x","args":{}})");
  EXPECT_EQ(Json(c.receive()).s("/error/code"), "UNAUTHENTICATED");
  ApiKey forged{keys_["alice"].key_id, std::string(64, 'f')};
  c.send(ws_login_message(forged));
  EXPECT_EQ(Json(c.receive()).s("/error/code"), "INVALID_SIGNATURE");
  c.send(R"({"op":"ping","id":"still-here"})");
  EXPECT_EQ(Json(c.receive()).s("/op"), "pong");
  // A message over the limit closes the connection with 1009.
  c.send(std::string(2000, ' ') + "{}");
  EXPECT_EQ(c.receive(), "");
  EXPECT_EQ(c.close_code(), 1009);
  // Plain HTTP to /v1/ws is 426; the server keeps serving.
  EXPECT_EQ(HttpClient(server_->port()).get("/v1/ws").status, 426);
  EXPECT_TRUE(WsClient(server_->port()).connected());
}

TEST_F(ServeWs, CredentialsOnTheUpgradeRequest) {
  start();
  const std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch()).count());
  const ApiKey& k = keys_["bob"];
  WsClient c(server_->port(), {{"BOURSE-API-KEY", k.key_id}, {"BOURSE-TIMESTAMP", ts},
                               {"BOURSE-SIGNATURE", auth::hmac_sha256_hex(k.secret, auth::signing_payload(ts, "GET", "/v1/ws", ""))}});
  ASSERT_TRUE(c.connected());
  EXPECT_NE(c.receive().find("\"username\":\"bob\""), std::string::npos);
  WsClient bad(server_->port(), {{"BOURSE-API-KEY", k.key_id}, {"BOURSE-TIMESTAMP", ts}, {"BOURSE-SIGNATURE", std::string(64, '0')}});
  bad.receive_until("never", 3000);
  EXPECT_EQ(bad.close_code(), 1008);
}

TEST_F(ServeWs, CancelOnDisconnect) {
  start();
  SignedClient rest(server_->port(), keys_["alice"]);
  std::string id;
  {
    auto c = logged_in("alice");
    c->send(R"({"op":"cancel_on_disconnect","id":"cod","enabled":true})");
    EXPECT_NE(c->receive_until("\"id\":\"cod\"").find("\"enabled\":true"), std::string::npos);
    c->send(R"({"op":"place","id":"p","args":{"symbol":"TCS-INR","side":"BUY","price":"4000.00","qty":"1"}})");
    id = std::to_string(Json(c->receive_until("\"id\":\"p\"")).i("/result/id"));
  }  // the connection drops
  std::string status;
  for (int i = 0; i < 100 && status != "CANCELLED"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    simdjson::dom::parser p;
    status = std::string(p.parse(rest.call("GET", "/v1/orders/" + id).body)["status"].get_string().value());
  }
  EXPECT_EQ(status, "CANCELLED");
  // Without the opt-in, orders stay.
  {
    auto c = logged_in("alice");
    c->send(R"({"op":"place","id":"q","args":{"symbol":"TCS-INR","side":"BUY","price":"4000.00","qty":"1"}})");
    id = std::to_string(Json(c->receive_until("\"id\":\"q\"")).i("/result/id"));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  simdjson::dom::parser p;
  EXPECT_EQ(std::string(p.parse(rest.call("GET", "/v1/orders/" + id).body)["status"].get_string().value()), "NEW");
}

TEST_F(ServeWs, SlowConsumerIsDisconnectedOthersAreNot) {
  start("[websocket]\nmax_queued_messages = 8\n", {"--simulate", "--simulate-rate", "5000"});
  // A client that never reads, on a tiny receive window.
  WsClient slow(server_->port(), {}, "/v1/ws", 4096);
  slow.send(R"({"op":"subscribe","id":"s","channels":["book.BTC-USD","book.ETH-USD","book.RELIANCE-INR","book.TCS-INR","trades.BTC-USD","trades.ETH-USD","ticker.BTC-USD","ticker.ETH-USD"]})");
  WsClient fast(server_->port());
  fast.send(R"({"op":"subscribe","id":"f","channels":["ticker.BTC-USD"]})");
  // Keep the fast one reading for a while as the slow one's queue fills.
  // (The server then sends the slow one a close frame; it can only arrive
  // once the client reads its backlog, which is what the drain below does.)
  int fast_messages = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  while (std::chrono::steady_clock::now() < until) {
    if (!fast.receive(1000).empty()) ++fast_messages;
  }
  EXPECT_GT(fast_messages, 5);
  EXPECT_TRUE(fast.connected());
  // Now drain the slow one: somewhere in its backlog the server closed it.
  std::string m;
  int drained = 0;
  while (!(m = slow.receive(2000)).empty() && drained < 1'000'000) ++drained;
  EXPECT_EQ(slow.close_code(), 1008) << "drained " << drained;
  EXPECT_NE(slow.close_reason().find("slow consumer"), std::string::npos);
}

TEST_F(ServeWs, ShutdownClosesWithGoingAway) {
  start();
  WsClient c(server_->port());
  ASSERT_TRUE(c.connected());
  std::thread stopper([&] { server_->stop(); });
  c.receive_until("never", 5000);
  stopper.join();
  EXPECT_EQ(c.close_code(), 1001);
}

}  // namespace
}  // namespace bourse::testing

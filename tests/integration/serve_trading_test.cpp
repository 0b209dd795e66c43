// End to end, private API: the real binary, signed requests over real
// sockets. Order lifecycle across two accounts, pagination, idempotent
// retries, amend and cancel-all, restart, admin, and every negative path
// the API documents.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <set>
#include <thread>

#include "auth/auth_service.h"
#include "auth/crypto.h"
#include "integration/json_view.h"
#include "integration/server_process.h"

namespace bourse::testing {
namespace {

std::string code_of(const HttpResult& r) { return Json(r.body).s("/code"); }

class ServeTrading : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.data_dir = dir_.path() + "/data";
    server_ = std::make_unique<ServerProcess>(options_);
    ASSERT_TRUE(server_->started()) << server_->output();
    keys_ = demo_keys(server_->output());
    ASSERT_EQ(keys_.size(), 3u) << server_->output();
    alice_ = std::make_unique<SignedClient>(server_->port(), keys_["alice"]);
    bob_ = std::make_unique<SignedClient>(server_->port(), keys_["bob"]);
    admin_ = std::make_unique<SignedClient>(server_->port(), keys_["admin"]);
  }

  HttpResult place(SignedClient& c, const std::string& body, std::map<std::string, std::string> headers = {}) {
    return c.call("POST", "/v1/orders", body, std::move(headers));
  }
  std::string balance(SignedClient& c, const std::string& asset, const char* field = "available") {
    const auto r = c.call("GET", "/v1/balances");
    Json j(r.body);
    for (auto b : j.root["balances"].get_array()) {
      if (std::string_view(b["asset"].get_string().value()) == asset) return std::string(b[field].get_string().value());
    }
    return "<none>";
  }

  TempDir dir_;
  ServerOptions options_;
  std::unique_ptr<ServerProcess> server_;
  std::map<std::string, ApiKey> keys_;
  std::unique_ptr<SignedClient> alice_, bob_, admin_;
};

TEST_F(ServeTrading, OrderLifecycleAcrossTwoAccounts) {
  EXPECT_EQ(balance(*alice_, "INR"), "10000000.00");
  auto r = place(*alice_, R"({"symbol":"RELIANCE-INR","side":"SELL","type":"LIMIT","price":"2900.00","qty":"10","client_order_id":"ask-1"})");
  ASSERT_EQ(r.status, 201) << r.body;
  Json ask(r.body);
  const int64_t ask_id = ask.i("/id");
  EXPECT_EQ(ask.s("/status"), "NEW");
  EXPECT_EQ(ask.s("/remaining_qty"), "10");
  EXPECT_EQ(balance(*alice_, "RELIANCE", "locked"), "10");

  // Bob takes 4: a partial fill for alice, a full fill for bob.
  r = place(*bob_, R"({"symbol":"RELIANCE-INR","side":"BUY","type":"LIMIT","price":"2900.00","qty":"4"})");
  ASSERT_EQ(r.status, 201) << r.body;
  Json bid(r.body);
  EXPECT_EQ(bid.s("/status"), "FILLED");
  EXPECT_EQ(bid.s("/filled_qty"), "4");
  EXPECT_EQ(bid.s("/avg_price"), "2900.00");
  EXPECT_EQ(bid.s("/filled_quote"), "11600.00");
  EXPECT_EQ(bid.s("/fees"), "5.80");  // taker 500 ppm of 11,600.00

  r = alice_->call("GET", "/v1/orders/" + std::to_string(ask_id));
  ASSERT_EQ(r.status, 200);
  Json after(r.body);
  EXPECT_EQ(after.s("/status"), "PARTIALLY_FILLED");
  EXPECT_EQ(after.s("/filled_qty"), "4");
  EXPECT_EQ(after.s("/remaining_qty"), "6");
  r = alice_->call("GET", "/v1/orders/by-client-id/ask-1");
  EXPECT_EQ(Json(r.body).i("/id"), ask_id);

  // Both sides see their fill: maker for alice, taker for bob.
  Json af(alice_->call("GET", "/v1/fills").body);
  EXPECT_EQ(af.size("/fills"), 1u);
  EXPECT_EQ(af.s("/fills/0/liquidity"), "MAKER");
  EXPECT_EQ(af.s("/fills/0/fee"), "2.32");  // maker 200 ppm
  Json bf(bob_->call("GET", "/v1/fills").body);
  EXPECT_EQ(bf.s("/fills/0/liquidity"), "TAKER");
  EXPECT_EQ(bf.s("/fills/0/side"), "BUY");
  EXPECT_EQ(balance(*alice_, "INR"), "10011597.68");  // + 11,600.00 − 2.32
  EXPECT_EQ(balance(*bob_, "RELIANCE"), "1004");
  EXPECT_EQ(balance(*bob_, "INR"), "9988394.20");     // − 11,600.00 − 5.80

  // A market order takes the rest.
  r = place(*bob_, R"({"symbol":"RELIANCE-INR","side":"BUY","type":"MARKET","qty":"6"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Json(r.body).s("/status"), "FILLED");
  EXPECT_EQ(Json(alice_->call("GET", "/v1/orders/" + std::to_string(ask_id)).body).s("/status"), "FILLED");
  EXPECT_EQ(balance(*alice_, "RELIANCE", "locked"), "0");

  // Public views agree.
  HttpClient pub(server_->port());
  Json trades(pub.get("/v1/trades/RELIANCE-INR").body);
  EXPECT_EQ(trades.size("/trades"), 2u);
  EXPECT_EQ(trades.s("/trades/0/side"), "BUY");
}

TEST_F(ServeTrading, PaginationWalksEveryOrderOnce) {
  for (int i = 0; i < 23; ++i) {
    const auto r = place(*alice_, R"({"symbol":"ETH-USD","side":"BUY","price":")" + std::to_string(2900 + i) + R"(.00","qty":"0.01"})");
    ASSERT_EQ(r.status, 201) << r.body;
  }
  std::set<int64_t> seen;
  std::string cursor;
  int pages = 0;
  int64_t previous = INT64_MAX;
  do {
    const auto r = alice_->call("GET", "/v1/orders?status=open&limit=10" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200) << r.body;
    Json j(r.body);
    for (auto o : j.root["orders"].get_array()) {
      const int64_t id = o["id"].get_int64().value();
      EXPECT_LT(id, previous);  // newest first, strictly
      previous = id;
      EXPECT_TRUE(seen.insert(id).second);
    }
    cursor = j.is_null("/next_cursor") ? "" : j.s("/next_cursor");
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(seen.size(), 23u);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(code_of(alice_->call("GET", "/v1/orders?cursor=garbage")), "INVALID_CURSOR");
  EXPECT_EQ(code_of(alice_->call("GET", "/v1/orders?limit=501")), "INVALID_PARAMETER");
  // Bob sees none of them.
  EXPECT_EQ(Json(bob_->call("GET", "/v1/orders").body).size("/orders"), 0u);
}

TEST_F(ServeTrading, IdempotentRetryNeverPlacesTwice) {
  const std::string body = R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.01"})";
  const auto first = place(*alice_, body, {{"Idempotency-Key", "order-7"}});
  ASSERT_EQ(first.status, 201) << first.body;
  const auto retry = place(*alice_, body, {{"Idempotency-Key", "order-7"}});  // new timestamp, same request
  EXPECT_EQ(retry.status, 201);
  EXPECT_EQ(retry.body, first.body);
  EXPECT_EQ(retry.header("idempotent-replayed"), "true");
  EXPECT_EQ(Json(alice_->call("GET", "/v1/orders?status=open").body).size("/orders"), 1u);
  const auto other = place(*alice_, R"({"symbol":"BTC-USD","side":"BUY","price":"60001.00","qty":"0.01"})",
                           {{"Idempotency-Key", "order-7"}});
  EXPECT_EQ(other.status, 409);
  EXPECT_EQ(code_of(other), "IDEMPOTENCY_CONFLICT");
  // Keys are per account: bob may use the same key.
  EXPECT_EQ(place(*bob_, body, {{"Idempotency-Key", "order-7"}}).status, 201);
}

TEST_F(ServeTrading, IdempotentRetriesAcrossACrashNeverExecuteTwice) {
  // Three keyed requests just before a crash: an order that rests, one the
  // engine rejects, and a deposit.
  const std::string order = R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.02"})";
  const std::string too_big = R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"9000"})";
  const auto placed = place(*alice_, order, {{"Idempotency-Key", "crash-1"}});
  ASSERT_EQ(placed.status, 201) << placed.body;
  const int64_t id = Json(placed.body).i("/id");
  const auto rejected = place(*alice_, too_big, {{"Idempotency-Key", "crash-2"}});
  ASSERT_EQ(rejected.status, 422) << rejected.body;
  const std::string deposit = R"({"user_id":3,"asset":"USD","amount":"5.00"})";  // to bob
  const auto credited = admin_->call("POST", "/v1/admin/deposits", deposit, {{"Idempotency-Key", "crash-3"}});
  ASSERT_EQ(credited.status, 200) << credited.body;
  const std::string usd = balance(*bob_, "USD", "available");
  server_->kill_hard();  // no clean shutdown: the history catches up from the journal at the next start
  server_ = std::make_unique<ServerProcess>(options_);
  ASSERT_TRUE(server_->started()) << server_->output();
  SignedClient alice(server_->port(), keys_["alice"]), bob(server_->port(), keys_["bob"]),
      admin(server_->port(), keys_["admin"]);

  const auto again = alice.call("POST", "/v1/orders", order, {{"Idempotency-Key", "crash-1"}});
  EXPECT_EQ(again.status, 201) << again.body;
  EXPECT_EQ(again.header("idempotent-replayed"), "true");
  EXPECT_EQ(Json(again.body).i("/id"), id);
  EXPECT_EQ(Json(alice.call("GET", "/v1/orders?status=open").body).size("/orders"), 1u);
  const auto again_rejected = alice.call("POST", "/v1/orders", too_big, {{"Idempotency-Key", "crash-2"}});
  EXPECT_EQ(again_rejected.status, 422);
  EXPECT_EQ(code_of(again_rejected), code_of(rejected));
  EXPECT_EQ(again_rejected.header("idempotent-replayed"), "true");
  const auto again_credited = admin.call("POST", "/v1/admin/deposits", deposit, {{"Idempotency-Key", "crash-3"}});
  EXPECT_EQ(again_credited.status, 200);
  EXPECT_EQ(again_credited.body, credited.body);
  EXPECT_EQ(balance(bob, "USD", "available"), usd);  // credited once
  // The same key for another request is still a conflict; other keys work.
  const auto other = alice.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"BUY","price":"60001.00","qty":"0.02"})",
                                {{"Idempotency-Key", "crash-1"}});
  EXPECT_EQ(other.status, 409);
  EXPECT_EQ(code_of(other), "IDEMPOTENCY_CONFLICT");
  EXPECT_EQ(alice.call("POST", "/v1/orders", order, {{"Idempotency-Key", "after-1"}}).status, 201);
  // Once the order closed, a retry still answers with it (from the history).
  ASSERT_EQ(alice.call("DELETE", "/v1/orders/" + std::to_string(id)).status, 200);
  ASSERT_EQ(server_->stop(), 0);
  server_ = std::make_unique<ServerProcess>(options_);
  ASSERT_TRUE(server_->started()) << server_->output();
  SignedClient alice2(server_->port(), keys_["alice"]);
  const auto closed = alice2.call("POST", "/v1/orders", order, {{"Idempotency-Key", "crash-1"}});
  EXPECT_EQ(closed.status, 201) << closed.body;
  EXPECT_EQ(Json(closed.body).i("/id"), id);
  EXPECT_EQ(Json(closed.body).s("/status"), "CANCELLED");
}

TEST_F(ServeTrading, CandlesAndIndicatorsFromTrades) {
  // Two trades at least a second apart: the first 1s candle closes.
  auto trade = [&](const char* price, const char* qty) {
    ASSERT_EQ(place(*bob_, std::string(R"({"symbol":"TCS-INR","side":"SELL","price":")") + price + R"(","qty":")" + qty +
                               R"("})").status,
              201);
    ASSERT_EQ(place(*alice_, std::string(R"({"symbol":"TCS-INR","side":"BUY","price":")") + price + R"(","qty":")" +
                                 qty + R"(","time_in_force":"IOC"})")
                  .status,
              201);
  };
  trade("4100.00", "3");
  trade("4110.00", "1");
  std::this_thread::sleep_for(std::chrono::milliseconds(1'100));
  trade("4090.00", "2");
  HttpClient http(server_->port());
  auto r = http.get("/v1/candles/TCS-INR?interval=1s");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j(r.body);
  ASSERT_EQ(j.size("/candles"), 2u) << r.body;
  EXPECT_EQ(j.s("/interval"), "1s");
  EXPECT_EQ(j.s("/candles/0/open"), "4100.00");
  EXPECT_EQ(j.s("/candles/0/high"), "4110.00");
  EXPECT_EQ(j.s("/candles/0/close"), "4110.00");
  EXPECT_EQ(j.s("/candles/0/volume"), "4");
  EXPECT_EQ(j.s("/candles/0/vwap"), "4102.5000000000");  // (3·4100 + 4110) / 4
  EXPECT_EQ(j.i("/candles/0/trades"), 2);
  EXPECT_EQ(j.b("/candles/0/closed"), 1);
  EXPECT_EQ(j.b("/candles/1/closed"), 0);
  EXPECT_EQ(j.i("/candles/1/close_time") - j.i("/candles/1/open_time"), 1'000);
  // Paging: limit 1 gives the newest and where the older page ends.
  r = http.get("/v1/candles/TCS-INR?interval=1s&limit=1");
  EXPECT_EQ(Json(r.body).size("/candles"), 1u);
  const int64_t next_end = Json(r.body).i("/next_end");
  r = http.get("/v1/candles/TCS-INR?interval=1s&end=" + std::to_string(next_end));
  EXPECT_EQ(Json(r.body).s("/candles/0/open"), "4100.00") << r.body;
  EXPECT_TRUE(Json(r.body).is_null("/next_end")) << r.body;  // the oldest page
  EXPECT_TRUE(Json(http.get("/v1/candles/TCS-INR?interval=1s&limit=2").body).is_null("/next_end"));
  // HEAD: the headers a GET gets, no body (the next response on the connection stays in step).
  EXPECT_EQ(http.request("HEAD", "/v1/candles/TCS-INR").body, "");
  EXPECT_EQ(http.get("/v1/time").status, 200);
  // One minute bar so far, open (two if the trades happened to straddle a
  // minute boundary); the 1s indicators see one closed candle.
  const bool same_minute = j.i("/candles/0/open_time") / 60'000 == j.i("/candles/1/open_time") / 60'000;
  EXPECT_EQ(Json(http.get("/v1/candles/TCS-INR").body).size("/candles"), same_minute ? 1u : 2u);
  r = http.get("/v1/indicators/TCS-INR?interval=1s");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r.body).s("/vwap"), "4102.5000000000") << r.body;
  EXPECT_TRUE(Json(r.body).is_null("/sma_20"));  // 20 closed candles needed
  EXPECT_GT(Json(r.body).i("/as_of"), 0);
  r = http.get("/v1/indicators/TCS-INR?interval=1s&name=rsi");
  EXPECT_EQ(r.body.find("vwap"), std::string::npos) << r.body;
  EXPECT_EQ(code_of(http.get("/v1/candles/TCS-INR?interval=2m")), "INVALID_PARAMETER");
  EXPECT_EQ(code_of(http.get("/v1/indicators/TCS-INR?name=kama")), "INVALID_PARAMETER");
  EXPECT_EQ(http.get("/v1/candles/NOPE").status, 404);
}

TEST_F(ServeTrading, TradesAndCandlesSurviveARestartAndPageBackThroughHistory) {
  for (int k = 0; k < 5; ++k) {
    const std::string price = std::to_string(4100 + k) + ".00";
    ASSERT_EQ(place(*bob_, R"({"symbol":"TCS-INR","side":"SELL","price":")" + price + R"(","qty":"2"})").status, 201);
    ASSERT_EQ(place(*alice_, R"({"symbol":"TCS-INR","side":"BUY","price":")" + price +
                                 R"(","qty":"2","time_in_force":"IOC"})").status,
              201);
  }
  HttpClient before_http(server_->port());
  const std::string bars_before = Json(before_http.get("/v1/candles/TCS-INR?interval=1m").body).s("/candles/0/close");
  const std::string vwap_before = before_http.get("/v1/indicators/TCS-INR?interval=1s").body;
  EXPECT_EQ(bars_before, "4104.00");
  // A clean stop (history written through) and a fresh process: memory starts empty.
  ASSERT_EQ(server_->stop(), 0);
  server_ = std::make_unique<ServerProcess>(options_);
  ASSERT_TRUE(server_->started()) << server_->output();
  HttpClient http(server_->port());
  // Candles come back from the store: the same bar, the same indicators.
  auto r = http.get("/v1/candles/TCS-INR?interval=1m");
  ASSERT_EQ(r.status, 200) << r.body;
  Json bars(r.body);
  ASSERT_EQ(bars.size("/candles"), 1u) << r.body;
  EXPECT_EQ(bars.s("/candles/0/open"), "4100.00");
  EXPECT_EQ(bars.s("/candles/0/close"), "4104.00");
  EXPECT_EQ(bars.s("/candles/0/volume"), "10");
  EXPECT_EQ(bars.i("/candles/0/trades"), 5);
  EXPECT_EQ(http.get("/v1/indicators/TCS-INR?interval=1s").body, vwap_before);
  // The 24-hour ticker and the recent trades came back too.
  Json ticker(http.get("/v1/ticker/TCS-INR").body);
  EXPECT_EQ(ticker.s("/volume"), "10");
  EXPECT_EQ(ticker.i("/trades"), 5);
  EXPECT_EQ(ticker.s("/open"), "4100.00");
  EXPECT_EQ(ticker.s("/last"), "4104.00");
  // Trades: newest first, paged with next_cursor.
  r = http.get("/v1/trades/TCS-INR?limit=2");
  ASSERT_EQ(r.status, 200) << r.body;
  Json page1(r.body);
  ASSERT_EQ(page1.size("/trades"), 2u) << r.body;
  EXPECT_EQ(page1.s("/trades/0/price"), "4104.00");
  EXPECT_EQ(page1.s("/trades/1/price"), "4103.00");
  const std::string cursor = page1.s("/next_cursor");
  ASSERT_NE(cursor, "<none>");
  r = http.get("/v1/trades/TCS-INR?limit=2&cursor=" + cursor);
  Json page2(r.body);
  EXPECT_EQ(page2.s("/trades/0/price"), "4102.00") << r.body;
  EXPECT_EQ(page2.s("/trades/1/price"), "4101.00");
  r = http.get("/v1/trades/TCS-INR?limit=2&cursor=" + page2.s("/next_cursor"));
  Json page3(r.body);
  EXPECT_EQ(page3.size("/trades"), 1u) << r.body;
  EXPECT_EQ(page3.s("/trades/0/price"), "4100.00");
  EXPECT_TRUE(page3.is_null("/next_cursor"));
  // A new trade after the restart: memory and store meet without a seam.
  SignedClient alice(server_->port(), keys_["alice"]), bob(server_->port(), keys_["bob"]);
  ASSERT_EQ(place(bob, R"({"symbol":"TCS-INR","side":"SELL","price":"4099.00","qty":"1"})").status, 201);
  ASSERT_EQ(place(alice, R"({"symbol":"TCS-INR","side":"BUY","price":"4099.00","qty":"1","time_in_force":"IOC"})").status, 201);
  r = http.get("/v1/trades/TCS-INR?limit=3");
  Json mixed(r.body);
  EXPECT_EQ(mixed.s("/trades/0/price"), "4099.00") << r.body;  // from memory
  EXPECT_EQ(mixed.s("/trades/1/price"), "4104.00");             // from the store
  EXPECT_EQ(mixed.s("/trades/2/price"), "4103.00");
  EXPECT_EQ(code_of(http.get("/v1/trades/TCS-INR?cursor=zz")), "INVALID_CURSOR");
  EXPECT_EQ(code_of(http.get("/v1/trades/TCS-INR?cursor=t11111111111111111")), "INVALID_CURSOR");  // > 64 bits
  // A time window: only the trades inside it, still newest first.
  const int64_t newest_ms = mixed.i("/trades/1/time");
  r = http.get("/v1/trades/TCS-INR?start=" + std::to_string(newest_ms) + "&end=" + std::to_string(newest_ms + 1));
  EXPECT_GE(Json(r.body).size("/trades"), 1u) << r.body;
  EXPECT_EQ(Json(r.body).s("/trades/0/price"), "4104.00") << r.body;
  EXPECT_EQ(code_of(http.get("/v1/trades/TCS-INR?limit=0")), "INVALID_PARAMETER");
}

TEST_F(ServeTrading, AmendAndCancelAll) {
  auto r = place(*alice_, R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.05"})");
  const std::string id = std::to_string(Json(r.body).i("/id"));
  r = alice_->call("PATCH", "/v1/orders/" + id, R"({"qty":"0.03"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r.body).s("/qty"), "0.03000000");
  r = alice_->call("PATCH", "/v1/orders/" + id, R"({"price":"60100.00"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r.body).s("/price"), "60100.00");
  EXPECT_EQ(code_of(alice_->call("PATCH", "/v1/orders/" + id, "{}")), "INVALID_AMEND");
  place(*alice_, R"({"symbol":"ETH-USD","side":"BUY","price":"3000.00","qty":"0.10"})");
  place(*alice_, R"({"symbol":"BTC-USD","side":"BUY","price":"59000.00","qty":"0.01"})");
  r = alice_->call("DELETE", "/v1/orders?symbol=BTC-USD");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r.body).size("/cancelled"), 2u);
  Json cancelled(alice_->call("GET", "/v1/orders/" + id).body);
  EXPECT_EQ(cancelled.s("/status"), "CANCELLED");
  EXPECT_EQ(cancelled.s("/reason"), "CANCEL_ALL");
  EXPECT_EQ(Json(alice_->call("GET", "/v1/orders?status=open").body).size("/orders"), 1u);  // the ETH one
  r = alice_->call("DELETE", "/v1/orders");
  EXPECT_EQ(Json(r.body).size("/cancelled"), 1u);
  r = alice_->call("DELETE", "/v1/orders");  // nothing left: still an answer
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json(r.body).size("/cancelled"), 0u);
  EXPECT_EQ(code_of(alice_->call("DELETE", "/v1/orders/" + id)), "ORDER_NOT_FOUND");
}

TEST_F(ServeTrading, RestartPreservesOrdersAndBalances) {
  auto r = place(*alice_, R"({"symbol":"TCS-INR","side":"SELL","price":"4100.00","qty":"7"})");
  ASSERT_EQ(r.status, 201);
  const std::string id = std::to_string(Json(r.body).i("/id"));
  const std::string before = alice_->call("GET", "/v1/balances").body;
  EXPECT_EQ(server_->stop(), 0);
  server_ = std::make_unique<ServerProcess>(options_);
  ASSERT_TRUE(server_->started()) << server_->output();
  EXPECT_EQ(demo_keys(server_->output())["alice"].secret, keys_["alice"].secret);  // same keys after restart
  SignedClient alice(server_->port(), keys_["alice"]);
  EXPECT_EQ(alice.call("GET", "/v1/balances").body, before);
  r = alice.call("GET", "/v1/orders/" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r.body).s("/status"), "NEW");
  EXPECT_EQ(Json(r.body).s("/remaining_qty"), "7");
}

// Order, fill and ledger history from the store: complete after trades,
// after a crash (caught up from the journal at the next start), and after
// `bourse rebuild-store`, which yields the same rows.
TEST_F(ServeTrading, HistorySurvivesACrashAndRebuildsFromTheJournal) {
  // Bob rests a sell; Alice takes part of it: a fill on each side.
  auto r = place(*bob_, R"({"symbol":"TCS-INR","side":"SELL","price":"4100.00","qty":"10"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const int64_t bob_order = Json(r.body).i("/id");
  r = place(*alice_, R"({"symbol":"TCS-INR","side":"BUY","price":"4100.00","qty":"4","time_in_force":"IOC"})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto history = [&](SignedClient& c, const std::string& what, const char* array) {
    // The projector runs behind the acks: poll briefly.
    for (int i = 0; i < 100; ++i) {
      auto h = c.call("GET", "/v1/history/" + what);
      if (h.status == 200 && Json(h.body).size(array) > 0) return h;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return c.call("GET", "/v1/history/" + what);
  };
  auto fills = history(*bob_, "fills", "/fills");
  ASSERT_EQ(fills.status, 200) << fills.body;
  EXPECT_EQ(Json(fills.body).s("/fills/0/qty"), "4");
  EXPECT_EQ(Json(fills.body).s("/fills/0/liquidity"), "MAKER");
  auto orders = history(*bob_, "orders", "/orders");
  EXPECT_EQ(Json(orders.body).i("/orders/0/id"), bob_order);
  EXPECT_EQ(Json(orders.body).s("/orders/0/status"), "PARTIALLY_FILLED");
  const std::string metrics = HttpClient(server_->port()).get("/metrics").body;
  EXPECT_NE(metrics.find("bourse_history_stalled 0"), std::string::npos) << metrics.substr(0, 2000);
  EXPECT_NE(metrics.find("bourse_history_projected_seq"), std::string::npos);
  auto ledger = history(*alice_, "ledger", "/entries");
  ASSERT_EQ(ledger.status, 200) << ledger.body;
  EXPECT_GT(Json(ledger.body).size("/entries"), 0u);
  // Bad cursors are refused; another account sees none of this.
  EXPECT_EQ(code_of(alice_->call("GET", "/v1/history/fills?cursor=zz")), "INVALID_CURSOR");

  // A crash: acknowledged work is in the journal; the next start fills the history.
  r = place(*alice_, R"({"symbol":"TCS-INR","side":"BUY","price":"4100.00","qty":"3","time_in_force":"IOC"})");
  ASSERT_EQ(r.status, 201) << r.body;
  server_->kill_hard();
  server_ = std::make_unique<ServerProcess>(options_);
  ASSERT_TRUE(server_->started()) << server_->output();
  SignedClient bob(server_->port(), keys_["bob"]);
  fills = bob.call("GET", "/v1/history/fills");
  ASSERT_EQ(Json(fills.body).size("/fills"), 2u) << fills.body;
  orders = bob.call("GET", "/v1/history/orders");
  EXPECT_EQ(Json(orders.body).s("/orders/0/filled_qty"), "7") << orders.body;
  const std::string ledger_before = bob.call("GET", "/v1/history/ledger?limit=500").body;
  const std::string orders_before = orders.body;

  // Rebuild: refused while the server runs, the same rows after it stops.
  std::string out;
  EXPECT_NE(run_bourse({"rebuild-store", "--data-dir", options_.data_dir}, &out), 0);
  EXPECT_NE(out.find("open by another writer"), std::string::npos) << out;
  ASSERT_EQ(server_->stop(), 0);
  ASSERT_EQ(run_bourse({"rebuild-store", "--data-dir", options_.data_dir}, &out), 0) << out;
  EXPECT_NE(out.find("rebuilt order, fill and ledger history"), std::string::npos);
  server_ = std::make_unique<ServerProcess>(options_);
  ASSERT_TRUE(server_->started()) << server_->output();
  SignedClient bob2(server_->port(), keys_["bob"]);
  EXPECT_EQ(bob2.call("GET", "/v1/history/ledger?limit=500").body, ledger_before);
  EXPECT_EQ(bob2.call("GET", "/v1/history/orders").body, orders_before);
}

TEST_F(ServeTrading, AuthenticationFailures) {
  HttpClient raw(server_->port());
  // No credentials, bad signature, expired timestamp, replay.
  auto r = raw.get("/v1/balances");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(code_of(r), "UNAUTHENTICATED");
  EXPECT_FALSE(r.header("www-authenticate").empty());
  SignedClient forged(server_->port(), ApiKey{keys_["alice"].key_id, std::string(64, 'a')});
  r = forged.call("GET", "/v1/balances");
  EXPECT_EQ(code_of(r), "INVALID_SIGNATURE");
  const std::string ts = "1000000000000";
  r = raw.get("/v1/balances", {{"BOURSE-API-KEY", keys_["alice"].key_id}, {"BOURSE-TIMESTAMP", ts},
                               {"BOURSE-SIGNATURE", std::string(64, '0')}});
  EXPECT_EQ(code_of(r), "TIMESTAMP_OUT_OF_WINDOW");
  // Replay: capture one signed request and send it twice.
  const std::string now = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch()).count());
  const std::map<std::string, std::string> h = {
      {"BOURSE-API-KEY", keys_["alice"].key_id}, {"BOURSE-TIMESTAMP", now},
      {"BOURSE-SIGNATURE", auth::hmac_sha256_hex(keys_["alice"].secret, auth::signing_payload(now, "GET", "/v1/account", ""))}};
  EXPECT_EQ(raw.get("/v1/account", h).status, 200);
  r = raw.get("/v1/account", h);
  EXPECT_EQ(code_of(r), "REPLAYED_REQUEST");
  // Trader keys cannot use admin routes.
  r = alice_->call("POST", "/v1/admin/deposits", R"({"user_id":2,"asset":"USD","amount":"1"})");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(code_of(r), "FORBIDDEN");
}

TEST_F(ServeTrading, ScopesKeysAndSignUp) {
  // Alice makes a read-only key; it cannot trade.
  auto r = alice_->call("POST", "/v1/api-keys", R"({"label":"ro","scopes":["read"]})");
  ASSERT_EQ(r.status, 201) << r.body;
  Json k(r.body);
  SignedClient ro(server_->port(), ApiKey{k.s("/key_id"), k.s("/secret")});
  EXPECT_EQ(ro.call("GET", "/v1/balances").status, 200);
  r = ro.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"BUY","price":"1.00","qty":"0.001"})");
  EXPECT_EQ(r.status, 403);
  // ...nor grant more than it has.
  EXPECT_EQ(ro.call("POST", "/v1/api-keys", R"({"scopes":["trade"]})").status, 403);
  // Listing shows no secrets; another user's key is 404 to delete.
  r = alice_->call("GET", "/v1/api-keys");
  EXPECT_EQ(r.body.find(k.s("/secret")), std::string::npos);
  EXPECT_EQ(Json(r.body).size("/api_keys"), 2u);
  EXPECT_EQ(bob_->call("DELETE", "/v1/api-keys/" + k.s("/key_id")).status, 404);
  EXPECT_EQ(alice_->call("DELETE", "/v1/api-keys/" + k.s("/key_id")).status, 204);
  EXPECT_EQ(ro.call("GET", "/v1/balances").status, 401);

  // Sign up, then a key through Basic auth, then trade after an admin deposit.
  HttpClient pub(server_->port());
  r = pub.request("POST", "/v1/users", R"({"username":"carol","password":"a long passphrase"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const int64_t carol_id = Json(r.body).i("/id");
  EXPECT_EQ(code_of(pub.request("POST", "/v1/users", R"({"username":"carol","password":"another passphrase"})")), "USERNAME_TAKEN");
  EXPECT_EQ(code_of(pub.request("POST", "/v1/users", R"({"username":"dave","password":"short"})")), "WEAK_PASSWORD");
  const std::string basic = "Basic Y2Fyb2w6YSBsb25nIHBhc3NwaHJhc2U=";  // carol:a long passphrase
  r = pub.request("POST", "/v1/api-keys", R"({"scopes":["read","trade"]})", {{"Authorization", basic}});
  ASSERT_EQ(r.status, 201) << r.body;
  Json ck(r.body);
  SignedClient carol(server_->port(), ApiKey{ck.s("/key_id"), ck.s("/secret")});
  r = pub.request("POST", "/v1/api-keys", R"({"scopes":["admin"]})", {{"Authorization", basic}});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(pub.request("GET", "/v1/account", "", {{"Authorization", "Basic Y2Fyb2w6d3Jvbmc="}}).status, 401);
  r = carol.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.01"})");
  EXPECT_EQ(code_of(r), "INSUFFICIENT_FUNDS");
  r = admin_->call("POST", "/v1/admin/deposits", R"({"user_id":)" + std::to_string(carol_id) + R"(,"asset":"USD","amount":"1000.50"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(balance(carol, "USD"), "1000.500000");
  r = carol.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.01"})");
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST_F(ServeTrading, BadInputGetsItsDocumentedError) {
  auto expect = [&](const std::string& body, int status, const std::string& code) {
    const auto r = place(*alice_, body);
    EXPECT_EQ(r.status, status) << body << " → " << r.body;
    EXPECT_EQ(code_of(r), code) << body;
  };
  expect("{\"symbol\":", 400, "MALFORMED_JSON");
  expect(R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.01","colour":"red"})", 400, "UNKNOWN_FIELD");
  expect(R"({"symbol":"BTC-USD","side":"BUY","price":"60000.001","qty":"0.01"})", 400, "INVALID_DECIMAL");
  expect(R"({"symbol":"BTC-USD","side":"BUY","price":"-60000.00","qty":"0.01"})", 400, "INVALID_DECIMAL");
  expect(R"({"symbol":"BTC-USD","side":"BUY","price":"99999999999999999999999","qty":"0.01"})", 400, "INVALID_DECIMAL");
  expect(R"({"symbol":"BTC-USD","side":"BUY","price":"1e5","qty":"0.01"})", 400, "INVALID_DECIMAL");
  expect(R"({"symbol":"BTC-USD","side":"BUY","price":60000,"qty":"0.01"})", 400, "INVALID_FIELD");
  expect(R"({"symbol":"BTC-USD","side":"BUY","qty":"0.01"})", 400, "MISSING_FIELD");
  expect(R"({"symbol":"NOPE","side":"BUY","price":"1.00","qty":"1"})", 422, "UNKNOWN_SYMBOL");
  expect(R"({"symbol":"BTC-USD","side":"UP","price":"1.00","qty":"1"})", 422, "INVALID_SIDE");
  expect(R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.0015"})", 422, "INVALID_LOT");
  expect(R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.0005"})", 422, "QTY_BELOW_MIN");
  expect(R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"20"})", 422, "INSUFFICIENT_FUNDS");
  expect(R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"100000"})", 422, "QTY_ABOVE_MAX");
  expect(R"({"symbol":"RELIANCE-INR","side":"BUY","price":"2900.03","qty":"1"})", 422, "INVALID_TICK");
  expect(R"({"symbol":"BTC-USD","side":"BUY","type":"MARKET","price":"1.00","qty":"0.01"})", 422, "INVALID_ORDER");
  auto r = alice_->call("POST", "/v1/orders", R"({"symbol":"BTC-USD"})", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(r.status, 415);
  // Another account's order is not found, never forbidden.
  r = place(*bob_, R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.01"})");
  const std::string bobs = std::to_string(Json(r.body).i("/id"));
  EXPECT_EQ(alice_->call("GET", "/v1/orders/" + bobs).status, 404);
  EXPECT_EQ(alice_->call("DELETE", "/v1/orders/" + bobs).status, 404);
  EXPECT_EQ(alice_->call("PATCH", "/v1/orders/" + bobs, R"({"qty":"0.005"})").status, 404);
  EXPECT_EQ(alice_->call("GET", "/v1/orders/not-a-number").status, 404);
  EXPECT_EQ(bob_->call("GET", "/v1/orders/" + bobs).status, 200);
  // The server still serves everyone.
  EXPECT_EQ(HttpClient(server_->port()).get("/healthz").status, 200);
}

TEST_F(ServeTrading, AdminHaltAndKillSwitch) {
  auto r = place(*bob_, R"({"symbol":"ETH-USD","side":"BUY","price":"3000.00","qty":"0.10"})");
  const std::string id = std::to_string(Json(r.body).i("/id"));
  // Halt: no new orders on ETH-USD.
  r = admin_->call("POST", "/v1/admin/instruments/ETH-USD/status", R"({"status":"HALTED"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(HttpClient(server_->port()).get("/v1/instruments/ETH-USD").body).s("/status"), "HALTED");
  EXPECT_EQ(code_of(place(*alice_, R"({"symbol":"ETH-USD","side":"BUY","price":"3000.00","qty":"0.10"})")), "INSTRUMENT_HALTED");
  admin_->call("POST", "/v1/admin/instruments/ETH-USD/status", R"({"status":"TRADING"})");
  // Kill switch on bob (user 3): his orders are cancelled, new ones refused.
  const int64_t bob_id = Json(bob_->call("GET", "/v1/account").body).i("/user_id");
  r = admin_->call("POST", "/v1/admin/accounts/" + std::to_string(bob_id) + "/status", R"({"enabled":false})");
  ASSERT_EQ(r.status, 200) << r.body;
  Json o(bob_->call("GET", "/v1/orders/" + id).body);
  EXPECT_EQ(o.s("/status"), "CANCELLED");
  EXPECT_EQ(o.s("/reason"), "ACCOUNT_DISABLED");
  r = place(*bob_, R"({"symbol":"ETH-USD","side":"BUY","price":"3000.00","qty":"0.10"})");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(code_of(r), "ACCOUNT_DISABLED");
  admin_->call("POST", "/v1/admin/accounts/" + std::to_string(bob_id) + "/status", R"({"enabled":true})");
  EXPECT_EQ(place(*bob_, R"({"symbol":"ETH-USD","side":"BUY","price":"3000.00","qty":"0.10"})").status, 201);
  // Withdrawals beyond the balance are refused by the engine.
  r = admin_->call("POST", "/v1/admin/withdrawals", R"({"user_id":)" + std::to_string(bob_id) + R"(,"asset":"USD","amount":"99999999"})");
  EXPECT_EQ(code_of(r), "INSUFFICIENT_FUNDS");
  EXPECT_EQ(admin_->call("POST", "/v1/admin/deposits", R"({"user_id":999,"asset":"USD","amount":"1"})").status, 404);
}

TEST(ServeLimits, RateLimitHeadersAnd429) {
  TempDir dir;
  ServerOptions o;
  o.data_dir = dir.path() + "/data";
  // The address bucket refills slowly enough that the flood below empties
  // it however slowly a loaded CI machine sends (400 + 100/s never keeps up
  // with a sequential client for 1,100 requests unless each takes > 6 ms).
  o.config_toml = "[limits]\nip_per_second = 100\nip_burst = 400\nuser_per_second = 1000\nuser_burst = 1000\n"
                  "orders_per_second = 2\norders_burst = 5\n";
  ServerProcess server(o);
  ASSERT_TRUE(server.started()) << server.output();
  SignedClient alice(server.port(), demo_keys(server.output())["alice"]);
  auto r = alice.call("GET", "/v1/balances");
  EXPECT_EQ(r.header("ratelimit-limit"), "1000");
  EXPECT_FALSE(r.header("ratelimit-remaining").empty());
  EXPECT_FALSE(r.header("ratelimit-reset").empty());
  EXPECT_FALSE(HttpClient(server.port()).get("/v1/time").header("ratelimit-remaining").empty());
  // Order entry: a burst of 5, then 429 with Retry-After; reads still pass.
  int accepted = 0, limited = 0;
  for (int i = 0; i < 8; ++i) {
    r = alice.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.001"})");
    if (r.status == 201) ++accepted;
    if (r.status == 429) {
      ++limited;
      EXPECT_EQ(Json(r.body).s("/code"), "RATE_LIMITED");
      EXPECT_EQ(r.header("retry-after"), "1");
    }
  }
  EXPECT_EQ(accepted, 5);
  EXPECT_EQ(limited, 3);
  EXPECT_EQ(alice.call("GET", "/v1/orders").status, 200);
  // A flood from one address past its bucket is refused; the server stays up.
  HttpClient flood(server.port());
  int refused = 0;
  for (int i = 0; i < 1100 && refused == 0; ++i) {
    if (flood.get("/v1/time").status == 429) ++refused;
  }
  EXPECT_EQ(refused, 1);
  // The bucket refills at 100/s: a moment later the address is served again.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(HttpClient(server.port()).get("/healthz").status, 200);
}

// The dead-man's switch for REST clients: arm a countdown; while it is
// refreshed nothing happens; once it runs out (the server's heartbeat
// carries the clock) every live order of the account is cancelled.
TEST_F(ServeTrading, CancelAfterCancelsOrdersWhenNotRefreshed) {
  auto r = place(*alice_, R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.010"})");
  ASSERT_EQ(r.status, 201) << r.body;
  const int64_t id = Json(r.body).i("/id");
  ASSERT_EQ(place(*bob_, R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.010"})").status, 201);

  r = alice_->call("POST", "/v1/orders/cancel-after", R"({"timeout_ms":1500})");
  ASSERT_EQ(r.status, 200) << r.body;
  const int64_t cancel_at = Json(r.body).i("/cancel_at");
  EXPECT_GT(cancel_at, 0);
  EXPECT_EQ(Json(alice_->call("GET", "/v1/account").body).i("/cancel_at"), cancel_at);
  EXPECT_EQ(alice_->call("POST", "/v1/orders/cancel-after", R"({"timeout_ms":-1})").status, 422);
  EXPECT_EQ(alice_->call("POST", "/v1/orders/cancel-after", R"({"timeout_ms":86400001})").status, 422);
  // Refreshed twice within its timeout: still live.
  for (int i = 0; i < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    ASSERT_EQ(alice_->call("POST", "/v1/orders/cancel-after", R"({"timeout_ms":1500})").status, 200);
  }
  EXPECT_EQ(Json(alice_->call("GET", "/v1/orders/" + std::to_string(id)).body).s("/status"), "NEW");
  // Not refreshed: cancelled within the timeout plus a heartbeat.
  std::string status;
  for (int i = 0; i < 40 && status != "CANCELLED"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = Json(alice_->call("GET", "/v1/orders/" + std::to_string(id)).body).s("/status");
  }
  Json order(alice_->call("GET", "/v1/orders/" + std::to_string(id)).body);
  EXPECT_EQ(order.s("/status"), "CANCELLED");
  EXPECT_EQ(order.s("/reason"), "DEAD_MANS_SWITCH");
  Json account(alice_->call("GET", "/v1/account").body);
  EXPECT_TRUE(account.is_null("/cancel_at"));
  // Bob's order is his own: untouched.
  Json bobs(bob_->call("GET", "/v1/orders?status=open").body);
  EXPECT_EQ(bobs.size("/orders"), 1u);
}

}  // namespace
}  // namespace bourse::testing

// End to end: an admin sets an instrument's margin terms and an account's
// tier; the account opens a MARGIN short over REST, its position arrives on
// the private `positions` channel and from GET /v1/positions, a too-large
// order is refused with INSUFFICIENT_MARGIN, and the position survives a
// restart.
#include <gtest/gtest.h>

#include "integration/json_view.h"
#include "integration/server_process.h"

namespace bourse::testing {
namespace {

class ServeMargin : public ::testing::Test {
 protected:
  void start() {
    options_.data_dir = dir_.path() + "/data";
    server_ = std::make_unique<ServerProcess>(options_);
    ASSERT_TRUE(server_->started()) << server_->output();
    if (keys_.empty()) keys_ = demo_keys(server_->output());
  }

  TempDir dir_;
  ServerOptions options_;
  std::unique_ptr<ServerProcess> server_;
  std::map<std::string, ApiKey> keys_;
};

TEST_F(ServeMargin, ShortPositionOverRestAndWebSocket) {
  start();
  SignedClient admin(server_->port(), keys_["admin"]), alice(server_->port(), keys_["alice"]),
      bob(server_->port(), keys_["bob"]);
  const std::string short_order = R"({"symbol":"BTC-USD","side":"SELL","price":"65000.00","qty":"0.010","product":"MARGIN"})";

  // Cash-only until an admin grants a tier, and the instrument has no rate yet.
  auto r = alice.call("POST", "/v1/orders", short_order);
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Json(r.body).s("/code"), "MARGIN_NOT_ALLOWED");
  r = alice.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"SELL","price":"65000.00","qty":"0.010","product":"LOAN"})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Json(r.body).s("/code"), "INVALID_PRODUCT");

  r = admin.call("POST", "/v1/admin/instruments/BTC-USD/margin",
                 R"({"mark_source":"LAST","tier":1,"initial_ppm":500000,"maintenance_ppm":250000})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = admin.call("POST", "/v1/admin/instruments/BTC-USD/margin", R"({"tier":1,"initial_ppm":100,"maintenance_ppm":200})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Json(r.body).s("/code"), "INVALID_MARGIN_PARAMS");
  EXPECT_EQ(alice.call("POST", "/v1/admin/accounts/2/margin", R"({"tier":1})").status, 403);  // admins only
  r = admin.call("POST", "/v1/admin/accounts/2/margin", R"({"tier":1})");
  ASSERT_EQ(r.status, 200) << r.body;
  Json instrument(alice.call("GET", "/v1/instruments/BTC-USD").body);
  EXPECT_EQ(instrument.s("/margin/mark_source"), "LAST");
  EXPECT_EQ(instrument.i("/margin/tiers/0/tier"), 1);
  EXPECT_EQ(instrument.i("/margin/tiers/0/initial_ppm"), 500000);

  WsClient ws(server_->port());
  ASSERT_TRUE(ws.connected());
  ws.send(ws_login_message(keys_["alice"]));
  ASSERT_NE(ws.receive_until("\"op\":\"login\"").find("\"result\""), std::string::npos);
  ws.send(R"({"op":"subscribe","id":"s","channels":["positions"]})");
  ASSERT_NE(ws.receive_until("\"op\":\"subscribe\"").find("positions"), std::string::npos);

  // 50% initial margin on 100 BTC (3,250,000.00 USD) is more than alice has.
  r = alice.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"SELL","price":"65000.00","qty":"100","product":"MARGIN"})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Json(r.body).s("/code"), "INSUFFICIENT_MARGIN");

  ASSERT_EQ(bob.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"BUY","price":"65000.00","qty":"0.010"})").status, 201);
  r = alice.call("POST", "/v1/orders", short_order);
  ASSERT_EQ(r.status, 201) << r.body;
  Json order(r.body);
  EXPECT_EQ(order.s("/status"), "FILLED");
  EXPECT_EQ(order.s("/product"), "MARGIN");

  Json pushed(ws.receive_until("\"channel\":\"positions\""));
  ASSERT_TRUE(pushed.ok);
  EXPECT_EQ(pushed.s("/data/symbol"), "BTC-USD");
  EXPECT_EQ(pushed.s("/data/side"), "SHORT");
  EXPECT_EQ(pushed.s("/data/qty"), "-0.01000000");
  EXPECT_EQ(pushed.s("/data/avg_entry_price"), "65000.00");
  EXPECT_EQ(pushed.s("/data/cost"), "-650.000000");

  auto check_position = [&](SignedClient& c) {
    Json p(c.call("GET", "/v1/positions").body);
    ASSERT_EQ(p.size("/positions"), 1u);
    EXPECT_EQ(p.s("/positions/0/side"), "SHORT");
    EXPECT_EQ(p.s("/positions/0/qty"), "-0.01000000");
    EXPECT_EQ(p.s("/positions/0/mark_price"), "65000.00");
    EXPECT_EQ(p.s("/positions/0/market_value"), "-650.000000");
    EXPECT_EQ(p.s("/positions/0/unrealized_pnl"), "0.000000");
    EXPECT_EQ(p.s("/positions/0/realized_pnl"), "0.000000");
    EXPECT_EQ(p.s("/positions/0/fees"), "0.325000");  // the demo taker fee, 0.05% of 650.00
    EXPECT_EQ(p.s("/positions/0/currency"), "USD");
  };
  check_position(alice);
  // Bob bought with cash: BTC in his balances, no position.
  EXPECT_EQ(Json(bob.call("GET", "/v1/positions").body).size("/positions"), 0u);

  // The engine's snapshot and journal bring the position back.
  server_.reset();
  start();
  SignedClient alice2(server_->port(), keys_["alice"]);
  check_position(alice2);
  Json history(alice2.call("GET", "/v1/history/orders?symbol=BTC-USD").body);
  ASSERT_GE(history.size("/orders"), 1u);
  EXPECT_EQ(history.s("/orders/0/product"), "MARGIN");
}

}  // namespace
}  // namespace bourse::testing

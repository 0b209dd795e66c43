// End to end: an admin sets an instrument's margin terms and an account's
// tier; the account opens a MARGIN short over REST, its position arrives on
// the private `positions` channel and from GET /v1/positions, a too-large
// order is refused with INSUFFICIENT_MARGIN, and the position survives a
// restart. Then a short under water: the price moves, the margin call and
// the liquidation arrive on the `margin` channel; GET /v1/margin and the
// pre-trade calculator answer with the engine's arithmetic.
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

TEST_F(ServeMargin, MarginCallAndLiquidationArriveOnTheWebSocket) {
  start();
  SignedClient admin(server_->port(), keys_["admin"]), alice(server_->port(), keys_["alice"]),
      bob(server_->port(), keys_["bob"]);
  ASSERT_EQ(admin.call("POST", "/v1/admin/instruments/BTC-USD/margin",
                       R"({"tier":1,"initial_ppm":50000,"maintenance_ppm":25000})").status, 200);
  ASSERT_EQ(admin.call("POST", "/v1/admin/accounts/2/margin", R"({"tier":1})").status, 200);
  // Alice keeps 10,000 USD of collateral; the admin account (user 1) gets
  // funds to move the price and to be the liquidation's counterparty.
  ASSERT_EQ(admin.call("POST", "/v1/admin/withdrawals", R"({"user_id":2,"asset":"USD","amount":"990000"})").status, 200);
  ASSERT_EQ(admin.call("POST", "/v1/admin/deposits", R"({"user_id":1,"asset":"USD","amount":"1000000"})").status, 200);
  ASSERT_EQ(admin.call("POST", "/v1/admin/deposits", R"({"user_id":1,"asset":"BTC","amount":"10"})").status, 200);

  WsClient ws(server_->port());
  ASSERT_TRUE(ws.connected());
  ws.send(ws_login_message(keys_["alice"]));
  ASSERT_NE(ws.receive_until("\"op\":\"login\"").find("\"result\""), std::string::npos);
  ws.send(R"({"op":"subscribe","id":"s","channels":["positions","margin"]})");
  ASSERT_NE(ws.receive_until("\"op\":\"subscribe\"").find("margin"), std::string::npos);

  ASSERT_EQ(bob.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"BUY","price":"65000.00","qty":"1"})").status, 201);
  auto r = alice.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"SELL","price":"65000.00","qty":"1","product":"MARGIN"})");
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(Json(r.body).s("/status"), "FILLED");

  Json margin(alice.call("GET", "/v1/margin").body);
  ASSERT_EQ(margin.size("/margin"), 1u);
  EXPECT_EQ(margin.s("/margin/0/currency"), "USD");
  EXPECT_EQ(margin.s("/margin/0/initial_margin"), "3250.000000");      // 5% of 65,000
  EXPECT_EQ(margin.s("/margin/0/maintenance_margin"), "1625.000000");  // 2.5%
  EXPECT_EQ(margin.s("/margin/0/unrealized_pnl"), "0.000000");
  EXPECT_EQ(margin.b("/margin/0/in_call"), 0);

  // The calculator: another short adds margin; a CASH buy holds cash.
  r = alice.call("POST", "/v1/margins/orders",
                 R"({"orders":[{"symbol":"BTC-USD","side":"SELL","price":"66000.00","qty":"0.1","product":"MARGIN"},)"
                 R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.01"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  Json calc(r.body);
  ASSERT_EQ(calc.size("/orders"), 2u);
  EXPECT_EQ(calc.s("/orders/0/notional"), "6600.000000");
  // 5% of the worst side's growth (65,000 → 71,600) plus the 0.05% fee reserve on 6,600.
  EXPECT_EQ(calc.s("/orders/0/initial_margin"), "333.300000");
  EXPECT_EQ(calc.s("/orders/1/hold_asset"), "USD");
  EXPECT_EQ(calc.s("/orders/1/initial_margin"), "0.000000");
  EXPECT_EQ(calc.s("/margin/0/initial_margin_before"), "3250.000000");
  EXPECT_EQ(calc.b("/margin/0/sufficient"), 1);
  r = alice.call("POST", "/v1/margins/orders", R"({"orders":[]})");
  EXPECT_EQ(r.status, 400);
  r = alice.call("POST", "/v1/margins/orders", R"({"orders":[{"symbol":"BTC-USD","side":"SELL","qty":"1","oops":1}]})");
  EXPECT_EQ(Json(r.body).s("/code"), "UNKNOWN_FIELD");

  // The price climbs in steps inside the ±10% band until alice's short is
  // under water (at 74,000: equity ~967 < maintenance 1,850); then the
  // admin's ask, which the liquidation buys from (a sweep before it arrives
  // finds nothing to buy and tries again once the book changed).
  for (const char* px : {"68000.00", "71000.00", "74000.00"}) {
    ASSERT_EQ(admin.call("POST", "/v1/orders", std::string(R"({"symbol":"BTC-USD","side":"SELL","qty":"0.001","price":")") + px + "\"}").status, 201);
    ASSERT_EQ(bob.call("POST", "/v1/orders", std::string(R"({"symbol":"BTC-USD","side":"BUY","qty":"0.001","time_in_force":"IOC","price":")") + px + "\"}").status, 201);
  }
  ASSERT_EQ(admin.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"SELL","price":"80000.00","qty":"1"})").status, 201);
  // Within a heartbeat or two, in one batch: the call, the liquidation, the
  // all-clear once flat, then the flat position.
  Json call(ws.receive_until("\"margin_call\"", 10'000));
  ASSERT_TRUE(call.ok);
  EXPECT_EQ(call.b("/data/in_call"), 1);
  EXPECT_EQ(call.s("/data/currency"), "USD");
  Json liquidation(ws.receive_until("\"liquidation\"", 10'000));
  ASSERT_TRUE(liquidation.ok);
  EXPECT_EQ(liquidation.s("/data/symbol"), "BTC-USD");
  EXPECT_EQ(liquidation.s("/data/qty"), "-1.00000000");
  EXPECT_EQ(liquidation.s("/data/reason"), "MARGIN_CALL");
  Json cleared(ws.receive_until("\"margin_call\"", 10'000));
  ASSERT_TRUE(cleared.ok);
  EXPECT_EQ(cleared.b("/data/in_call"), 0);
  Json flat(ws.receive_until("\"FLAT\"", 10'000));
  ASSERT_TRUE(flat.ok);
  EXPECT_EQ(flat.s("/data/realized_pnl"), "-15000.000000");  // sold at 65,000, bought back at 80,000

  // The loss outran the collateral: alice owes the pool.
  Json balances(alice.call("GET", "/v1/balances").body);
  bool owes = false;
  for (std::size_t i = 0; i < balances.size("/balances"); ++i) {
    const std::string at = "/balances/" + std::to_string(i);
    if (balances.s((at + "/asset").c_str()) == "USD") owes = balances.s((at + "/available").c_str())[0] == '-';
  }
  EXPECT_TRUE(owes);
  Json after(alice.call("GET", "/v1/margin").body);
  EXPECT_EQ(after.b("/margin/0/in_call"), 0);
  EXPECT_EQ(after.s("/margin/0/maintenance_margin"), "0.000000");
}

TEST_F(ServeMargin, AccountLimitsAreSetByAnAdminAndEnforced) {
  start();
  SignedClient admin(server_->port(), keys_["admin"]), alice(server_->port(), keys_["alice"]);
  auto r = admin.call("POST", "/v1/admin/accounts/2/limits",
                      R"({"symbol":"BTC-USD","max_order_qty":"0.5","max_order_notional":"20000"})");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(admin.call("POST", "/v1/admin/accounts/2/loss-limit", R"({"asset":"USD","max_daily_loss":"1000"})").status, 200);
  EXPECT_EQ(admin.call("POST", "/v1/admin/accounts/2/limits", R"({"symbol":"NOPE-USD"})").status, 422);
  EXPECT_EQ(admin.call("POST", "/v1/admin/accounts/99/limits", R"({"symbol":"BTC-USD"})").status, 404);
  EXPECT_EQ(alice.call("POST", "/v1/admin/accounts/2/limits", R"({"symbol":"BTC-USD"})").status, 403);

  Json account(alice.call("GET", "/v1/account").body);
  ASSERT_EQ(account.size("/limits"), 1u);
  EXPECT_EQ(account.s("/limits/0/symbol"), "BTC-USD");
  EXPECT_EQ(account.s("/limits/0/max_order_qty"), "0.50000000");
  EXPECT_EQ(account.s("/limits/0/max_order_notional"), "20000.000000");
  EXPECT_TRUE(account.is_null("/limits/0/max_position"));
  EXPECT_EQ(account.s("/loss_limits/0/max_daily_loss"), "1000.000000");

  r = alice.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.6"})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Json(r.body).s("/code"), "ORDER_LIMIT_EXCEEDED");
  r = alice.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.4"})");
  EXPECT_EQ(Json(r.body).s("/code"), "ORDER_LIMIT_EXCEEDED");  // 24,000 > 20,000
  EXPECT_EQ(alice.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"BUY","price":"60000.00","qty":"0.3"})").status, 201);
  // Another instrument is not limited.
  EXPECT_EQ(alice.call("POST", "/v1/orders", R"({"symbol":"ETH-USD","side":"BUY","price":"3000.00","qty":"10"})").status, 201);
  // Cleared: no limits left.
  ASSERT_EQ(admin.call("POST", "/v1/admin/accounts/2/limits", R"({"symbol":"BTC-USD"})").status, 200);
  EXPECT_EQ(Json(alice.call("GET", "/v1/account").body).size("/limits"), 0u);
}

}  // namespace
}  // namespace bourse::testing

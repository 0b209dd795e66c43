// End to end: an admin sets BTC-USD's circuits over REST; an order outside
// them is refused with PRICE_OUTSIDE_CIRCUIT; a trade that would move the
// price past the breaker halts the instrument (shown with halted_until), the
// order is cancelled with reason CIRCUIT_BREAKER, and the server's heartbeat
// resumes trading after the cool-off; the circuits survive a restart.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "integration/json_view.h"
#include "integration/server_process.h"

namespace bourse::testing {
namespace {

TEST(ServeCircuits, StaticLimitsAndTheBreakerOverRest) {
  TempDir dir;
  ServerOptions options;
  options.data_dir = dir.path() + "/data";
  auto server = std::make_unique<ServerProcess>(options);
  ASSERT_TRUE(server->started()) << server->output();
  auto keys = demo_keys(server->output());
  SignedClient admin(server->port(), keys["admin"]), alice(server->port(), keys["alice"]),
      bob(server->port(), keys["bob"]);

  const std::string limits =
      R"({"lower":"60000.00","upper":"70000.00","breaker_bps":200,"window_s":60,"cooloff_s":2})";
  EXPECT_EQ(alice.call("POST", "/v1/admin/instruments/BTC-USD/circuits", limits).status, 403);
  auto r = admin.call("POST", "/v1/admin/instruments/BTC-USD/circuits", R"({"lower":"70000.00","upper":"60000.00"})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Json(r.body).s("/code"), "INVALID_CIRCUIT");
  r = admin.call("POST", "/v1/admin/instruments/BTC-USD/circuits", limits);
  ASSERT_EQ(r.status, 200) << r.body;
  Json instrument(alice.call("GET", "/v1/instruments/BTC-USD").body);
  EXPECT_EQ(instrument.s("/circuits/lower"), "60000.00");
  EXPECT_EQ(instrument.s("/circuits/upper"), "70000.00");
  EXPECT_EQ(instrument.i("/circuits/breaker_bps"), 200);
  EXPECT_TRUE(instrument.is_null("/halted_until"));

  // Inside the 10% band, outside the circuit.
  r = alice.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"BUY","price":"70500.00","qty":"0.010"})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Json(r.body).s("/code"), "PRICE_OUTSIDE_CIRCUIT");

  // 67,000.00 is 3.1% from the reference 65,000.00: the breaker (2%) halts.
  ASSERT_EQ(bob.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"SELL","price":"67000.00","qty":"0.010"})").status, 201);
  r = alice.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"BUY","price":"67000.00","qty":"0.010"})");
  ASSERT_EQ(r.status, 201) << r.body;
  Json order(r.body);
  EXPECT_EQ(order.s("/status"), "CANCELLED");
  EXPECT_EQ(order.s("/reason"), "CIRCUIT_BREAKER");
  EXPECT_EQ(order.s("/filled_qty"), "0.00000000");
  Json halted(alice.call("GET", "/v1/instruments/BTC-USD").body);
  EXPECT_EQ(halted.s("/status"), "HALTED");
  EXPECT_GT(halted.i("/halted_until"), 0);
  r = alice.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"BUY","price":"65000.00","qty":"0.010"})");
  EXPECT_EQ(Json(r.body).s("/code"), "INSTRUMENT_HALTED");

  // The heartbeat (once a second) resumes it after the 2 s cool-off.
  std::string status;
  for (int i = 0; i < 50 && status != "TRADING"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = Json(alice.call("GET", "/v1/instruments/BTC-USD").body).s("/status");
  }
  ASSERT_EQ(status, "TRADING");
  // The first trade after the halt re-anchors the window.
  r = alice.call("POST", "/v1/orders", R"({"symbol":"BTC-USD","side":"BUY","price":"67000.00","qty":"0.010"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Json(r.body).s("/status"), "FILLED");

  // Circuits are engine state: a restart keeps them.
  server.reset();
  server = std::make_unique<ServerProcess>(options);
  ASSERT_TRUE(server->started()) << server->output();
  SignedClient alice2(server->port(), keys["alice"]);
  Json after(alice2.call("GET", "/v1/instruments/BTC-USD").body);
  EXPECT_EQ(after.s("/circuits/upper"), "70000.00");
  EXPECT_EQ(after.i("/circuits/cooloff_s"), 2);
}

}  // namespace
}  // namespace bourse::testing

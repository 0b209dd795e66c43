// End to end: a [[sessions]] calendar in the config file puts its
// instruments in the phase it says at start (here: between sessions), orders
// then get SESSION_CLOSED, other instruments trade as before, and a broken
// calendar stops the server from starting with a clear message.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <thread>

#include "integration/json_view.h"
#include "integration/server_process.h"

namespace bourse::testing {
namespace {

TEST(ServeSessions, AnInstrumentOutsideItsSessionRefusesOrders) {
  // A one-hour session twelve hours away from now (UTC), every day.
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  const int open_hour = (utc.tm_hour + 12) % 24;
  char toml[512];
  std::snprintf(toml, sizeof toml,
                "[[sessions]]\nsymbols = [\"RELIANCE-INR\"]\nutc_offset_minutes = 0\nopen = \"%02d:00\"\n"
                "close = \"%02d:59\"\ndays = [\"MON\",\"TUE\",\"WED\",\"THU\",\"FRI\",\"SAT\",\"SUN\"]\n"
                "holidays = [\"2026-12-25\"]\n",
                open_hour, open_hour);
  TempDir dir;
  ServerOptions options;
  options.data_dir = dir.path() + "/data";
  options.config_toml = toml;
  ServerProcess server(options);
  ASSERT_TRUE(server.started()) << server.output();
  auto keys = demo_keys(server.output());
  SignedClient alice(server.port(), keys["alice"]);
  std::string status;
  for (int i = 0; i < 50 && status != "SESSION_CLOSED"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = Json(alice.call("GET", "/v1/instruments/RELIANCE-INR").body).s("/status");
  }
  ASSERT_EQ(status, "SESSION_CLOSED");
  auto r = alice.call("POST", "/v1/orders", R"({"symbol":"RELIANCE-INR","side":"BUY","price":"2900.00","qty":"1"})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(Json(r.body).s("/code"), "SESSION_CLOSED");
  // Instruments without a calendar trade around the clock.
  EXPECT_EQ(Json(alice.call("GET", "/v1/instruments/BTC-USD").body).s("/status"), "TRADING");
}

TEST(ServeSessions, ABrokenCalendarIsRefusedAtStart) {
  TempDir dir;
  const std::string bad = dir.path() + "/bad.toml";
  for (const char* body : {"[[sessions]]\nsymbols = [\"X\"]\nopen = \"10:00\"\nclose = \"09:00\"\n",
                           "[[sessions]]\nsymbols = [\"X\"]\nopen = \"09:00\"\nclose = \"10:00\"\nholidays = [\"2026-02-30\"]\n",
                           "[[sessions]]\nsymbols = [\"X\"]\nopen = \"09:00\"\nclose = \"10:00\"\ndays = [\"FUNDAY\"]\n",
                           "[[sessions]]\nsymbols = [\"X\"]\nopen = \"09:00\"\nclose = \"10:00\"\nlunch = \"12:00\"\n"}) {
    std::FILE* f = std::fopen(bad.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(body, f);
    std::fclose(f);
    std::string output;
    EXPECT_NE(run_bourse({"serve", "--config", bad, "--data-dir", dir.path() + "/d", "--listen", "127.0.0.1:0"}, &output), 0)
        << body;
    EXPECT_NE(output.find("sessions"), std::string::npos) << output;
  }
}

}  // namespace
}  // namespace bourse::testing

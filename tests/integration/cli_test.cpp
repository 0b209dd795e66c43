// The command-line client against the real server, as a user runs it.
#include <gtest/gtest.h>

#include "integration/server_process.h"

namespace bourse::testing {
namespace {

TEST(Cli, PlaceListCancelBalancesBookTail) {
  TempDir dir;
  ServerOptions o;
  o.data_dir = dir.path() + "/data";
  ServerProcess server(o);
  ASSERT_TRUE(server.started()) << server.output();
  const ApiKey alice = demo_keys(server.output())["alice"];
  const std::map<std::string, std::string> env = {{"BOURSE_URL", "http://127.0.0.1:" + std::to_string(server.port())},
                                                  {"BOURSE_API_KEY", alice.key_id},
                                                  {"BOURSE_API_SECRET", alice.secret}};
  std::string out;
  ASSERT_EQ(run_bourse({"order", "place", "BTC-USD", "BUY", "0.01", "--price", "60000.00", "--client-id", "cli-1"}, &out, env), 0) << out;
  EXPECT_NE(out.find("\"status\":\"NEW\""), std::string::npos) << out;
  const std::size_t at = out.find("\"id\":");
  const std::string id = out.substr(at + 5, out.find(',', at) - at - 5);

  out.clear();
  EXPECT_EQ(run_bourse({"orders"}, &out, env), 0);
  EXPECT_NE(out.find("cli-1"), std::string::npos);
  out.clear();
  EXPECT_EQ(run_bourse({"order", "amend", id, "--qty", "0.005"}, &out, env), 0) << out;
  EXPECT_NE(out.find("\"qty\":\"0.00500000\""), std::string::npos);
  out.clear();
  EXPECT_EQ(run_bourse({"book", "BTC-USD", "--depth", "5"}, &out, env), 0);
  EXPECT_NE(out.find("60000.00"), std::string::npos);
  out.clear();
  EXPECT_EQ(run_bourse({"order", "cancel", id}, &out, env), 0);
  EXPECT_NE(out.find("CANCELLED"), std::string::npos);
  out.clear();
  EXPECT_EQ(run_bourse({"balances"}, &out, env), 0);
  EXPECT_NE(out.find("\"asset\":\"USD\""), std::string::npos);
  // Errors exit non-zero with the problem printed.
  out.clear();
  EXPECT_EQ(run_bourse({"order", "place", "BTC-USD", "BUY", "0.01", "--price", "60000.001"}, &out, env), 1);
  EXPECT_NE(out.find("INVALID_DECIMAL"), std::string::npos);
  out.clear();
  EXPECT_EQ(run_bourse({"balances"}, &out, {{"BOURSE_URL", env.at("BOURSE_URL")}}), 2);  // no key
  // tail: logs in, subscribes, prints the first messages.
  out.clear();
  EXPECT_EQ(run_bourse({"tail", "orders", "trades.BTC-USD", "--count", "2"}, &out, env), 0) << out;
  EXPECT_NE(out.find("\"op\":\"login\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"op\":\"subscribe\""), std::string::npos) << out;
  // An OAuth access token instead of the key: REST and the WebSocket login.
  HttpClient http(server.port());
  const auto token = http.request("POST", "/v1/oauth/token",
                                  "grant_type=client_credentials&client_id=" + alice.key_id + "&client_secret=" + alice.secret,
                                  {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(token.status, 200) << token.body;
  const std::size_t token_at = token.body.find("\"access_token\":\"") + 16;
  const std::map<std::string, std::string> with_token = {{"BOURSE_URL", env.at("BOURSE_URL")},
                                                         {"BOURSE_TOKEN", token.body.substr(token_at, token.body.find('"', token_at) - token_at)}};
  out.clear();
  EXPECT_EQ(run_bourse({"balances"}, &out, with_token), 0) << out;
  EXPECT_NE(out.find("\"asset\":\"USD\""), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(run_bourse({"tail", "orders", "--count", "2"}, &out, with_token), 0) << out;
  EXPECT_NE(out.find("\"username\":\"alice\""), std::string::npos) << out;
}

}  // namespace
}  // namespace bourse::testing

// The OpenAPI document and the router agree: every route is documented and
// every documented operation is routed. Also checks that the document is
// OpenAPI 3.1, that every operation answers problems for errors, and that
// every $ref resolves.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "accounts/account_read_model.h"
#include "auth/auth_service.h"
#include "gateway/rest_api.h"

namespace bourse::gateway {
namespace {

TEST(OpenApi, EveryRouteIsDocumentedAndEveryDocumentedRouteExists) {
  char tmpl[] = "/tmp/bourse-openapi-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  std::string error;
  EngineServiceOptions eo;
  eo.exchange.data_dir = dir;
  auto service = EngineService::open(eo, &error);
  ASSERT_TRUE(service) << error;
  auto store = store::open_sqlite_store(dir + "/store.sqlite", &error);
  ASSERT_TRUE(store) << error;
  SystemClock clock;
  auth::AuthService auth(*store, std::string(32, 'k'), clock);
  auto signing_key = auth::SigningKey::from_seed(std::string(32, 's'));
  auth::OAuthService oauth(auth::OAuthConfig{}, *store, auth, *signing_key, clock);
  marketdata::MarketView market;
  accounts::AccountReadModel accounts;
  Metrics metrics;
  RestApi api(*service, market, clock, metrics, PrivateServices{&accounts, &auth, store.get(), &oauth, "USD", ""});

  std::set<std::string> routed;
  for (const Route& r : api.router().routes()) routed.insert(r.method + " " + r.pattern);

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(openapi_document()).get(doc), simdjson::SUCCESS);
  std::string_view version;
  ASSERT_EQ(doc["openapi"].get_string().get(version), simdjson::SUCCESS);
  EXPECT_EQ(version, "3.1.0");
  std::set<std::string> documented;
  for (auto [path, item] : doc["paths"].get_object()) {
    for (auto [method, op] : item.get_object()) {
      std::string m(method);
      for (char& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert(m + " " + std::string(path));
      simdjson::dom::object responses;
      ASSERT_EQ(op["responses"].get_object().get(responses), simdjson::SUCCESS) << path;
      EXPECT_EQ(responses["429"].error(), simdjson::SUCCESS) << m << " " << path << ": rate limits apply everywhere";
    }
  }
  for (const std::string& r : routed) EXPECT_TRUE(documented.count(r)) << "undocumented route: " << r;
  for (const std::string& d : documented) EXPECT_TRUE(routed.count(d)) << "documented but not routed: " << d;

  // Every $ref points at an existing component.
  const std::string text(openapi_document());
  std::size_t pos = 0;
  while ((pos = text.find("\"$ref\": \"#/components/", pos)) != std::string::npos) {
    const std::size_t start = pos + 22;
    const std::size_t end = text.find('"', start);
    const std::string pointer = "/components/" + text.substr(start, end - start);
    EXPECT_EQ(doc.at_pointer(pointer).error(), simdjson::SUCCESS) << pointer;
    pos = end;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bourse::gateway

// What the gateway reads from a request besides the HTTP framing (which is
// Beast's): JSON bodies through JsonBody with every getter, query
// parameters, and route matching with percent-decoded path parameters.
// None may crash; the first problem found is kept.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "gateway/http_types.h"
#include "gateway/json_body.h"
#include "gateway/router.h"

namespace {

using namespace bourse::gateway;

Router& router() {
  static Router r = [] {
    Router x;
    const Handler none = [](const std::shared_ptr<Call>&) {};
    x.add("GET", "/v1/orders/{id}", 0, none);
    x.add("GET", "/v1/orders/by-client-id/{client_order_id}", 1, none);
    x.add("POST", "/v1/orders", 2, none);
    x.add("GET", "/v1/book/{symbol}", 3, none);
    return x;
  }();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  static const std::string json = "application/json";
  JsonBody body(&json, input, {"symbol", "side", "price", "qty", "scopes", "post_only", "expire_at"});
  std::string s;
  bool b = false;
  int64_t i = 0;
  std::vector<std::string> list;
  body.string("symbol", &s, true);
  body.string("side", &s);
  body.boolean("post_only", &b);
  body.integer("expire_at", &i);
  body.string_list("scopes", &list);
  if (!body.ok() && body.problem().status < 400) std::abort();
  HttpRequest r;
  r.query = input;
  r.query_param("depth", &s);
  r.query_param("", &s);
  router().match("GET", input);
  router().match("GET", "/v1/orders/" + input);
  router().match("DELETE", "/v1/book/" + input);
  return 0;
}

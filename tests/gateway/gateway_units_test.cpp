// Gateway building blocks: router, strict JSON bodies, idempotency, JSON
// writing, problems, query parameters.
#include <gtest/gtest.h>

#include "gateway/idempotency.h"
#include "gateway/json_body.h"
#include "gateway/json_writer.h"
#include "gateway/problem.h"
#include "gateway/router.h"

namespace bourse::gateway {
namespace {

TEST(Router, MatchesPatternsAndReports405) {
  Router r;
  int hit = 0;
  r.add("GET", "/v1/orders", 1, [&](const std::shared_ptr<Call>&) { hit = 1; });
  r.add("GET", "/v1/orders/{id}", 2, [&](const std::shared_ptr<Call>&) { hit = 2; });
  r.add("DELETE", "/v1/orders/{id}", 3, [&](const std::shared_ptr<Call>&) { hit = 3; });
  auto m = r.match("GET", "/v1/orders/42");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.route->metrics_id, 2u);
  EXPECT_EQ(m.params, std::vector<std::string>{"42"});
  m = r.match("PUT", "/v1/orders/42");
  EXPECT_FALSE(m.route);
  EXPECT_EQ(m.allow, "GET, DELETE");
  EXPECT_FALSE(r.match("GET", "/v1/orders/42/x").route);
  EXPECT_TRUE(r.match("GET", "/v1/orders/42/x").allow.empty());
  EXPECT_FALSE(r.match("GET", "/v1/orders/").route);  // trailing slash is another resource
  m = r.match("GET", "/v1/orders/a%2Fb");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.params[0], "a/b");
  EXPECT_FALSE(r.match("GET", "/v1/orders/%zz").route);
}

TEST(HttpRequest, QueryParameters) {
  HttpRequest req;
  req.query = "symbol=BTC-USD&limit=5&empty=&bad=%G1&sp=a+b%21";
  std::string v;
  EXPECT_EQ(req.query_param("symbol", &v), QueryParam::kFound);
  EXPECT_EQ(v, "BTC-USD");
  EXPECT_EQ(req.query_param("empty", &v), QueryParam::kFound);
  EXPECT_EQ(v, "");
  EXPECT_EQ(req.query_param("bad", &v), QueryParam::kMalformed);
  EXPECT_EQ(req.query_param("sp", &v), QueryParam::kFound);
  EXPECT_EQ(v, "a b!");
  EXPECT_EQ(req.query_param("none", &v), QueryParam::kAbsent);
}

TEST(JsonBody, StrictTypesFieldsAndContentType) {
  const std::string ct = "application/json; charset=utf-8";
  JsonBody ok(&ct, R"({"symbol":"BTC-USD","qty":"1","post_only":true,"n":5,"tags":["a","b"]})",
              {"symbol", "qty", "post_only", "n", "tags"});
  ASSERT_TRUE(ok.ok());
  std::string s;
  bool b = false;
  int64_t n = 0;
  std::vector<std::string> tags;
  EXPECT_TRUE(ok.string("symbol", &s));
  EXPECT_EQ(s, "BTC-USD");
  EXPECT_TRUE(ok.boolean("post_only", &b));
  EXPECT_TRUE(b);
  EXPECT_TRUE(ok.integer("n", &n));
  EXPECT_EQ(n, 5);
  EXPECT_TRUE(ok.string_list("tags", &tags));
  EXPECT_EQ(tags.size(), 2u);
  EXPECT_FALSE(ok.string("price", &s));  // absent and optional
  EXPECT_TRUE(ok.ok());

  auto code_of = [](const std::string* type, const std::string& body, std::initializer_list<std::string_view> f) {
    JsonBody j(type, body, f);
    return j.ok() ? std::string("OK") : j.problem().code;
  };
  const std::string text = "text/plain";
  EXPECT_EQ(code_of(&text, "{}", {}), "UNSUPPORTED_MEDIA_TYPE");
  EXPECT_EQ(code_of(nullptr, "{}", {}), "UNSUPPORTED_MEDIA_TYPE");
  EXPECT_EQ(code_of(&ct, "{\"a\":", {"a"}), "MALFORMED_JSON");
  EXPECT_EQ(code_of(&ct, "[1,2]", {}), "MALFORMED_JSON");
  EXPECT_EQ(code_of(&ct, R"({"symbol":"x","sybmol":"y"})", {"symbol"}), "UNKNOWN_FIELD");

  JsonBody wrong(&ct, R"({"qty":1.5})", {"qty"});
  EXPECT_FALSE(wrong.string("qty", &s));  // a JSON number is not a decimal string
  EXPECT_EQ(wrong.problem().code, "INVALID_FIELD");
  JsonBody missing(&ct, R"({})", {"qty"});
  missing.string("qty", &s, true);
  EXPECT_EQ(missing.problem().code, "MISSING_FIELD");
}

TEST(Idempotency, ReplayConflictAndAbandon) {
  IdempotencyCache c;
  IdempotencyCache::Stored stored;
  EXPECT_EQ(c.begin(1, "k", "f1", 1000, &stored), IdempotencyCache::Begin::kProceed);
  EXPECT_EQ(c.begin(1, "k", "f1", 1001, &stored), IdempotencyCache::Begin::kConflictInProgress);
  EXPECT_EQ(c.begin(2, "k", "f1", 1001, &stored), IdempotencyCache::Begin::kProceed);  // per account
  c.finish(1, "k", {201, "{\"id\":1}", "application/json"});
  EXPECT_EQ(c.begin(1, "k", "f1", 1002, &stored), IdempotencyCache::Begin::kReplay);
  EXPECT_EQ(stored.status, 201);
  EXPECT_EQ(stored.body, "{\"id\":1}");
  EXPECT_EQ(c.begin(1, "k", "f2", 1003, &stored), IdempotencyCache::Begin::kConflictDifferentRequest);
  c.abandon(2, "k");
  EXPECT_EQ(c.begin(2, "k", "f9", 1004, &stored), IdempotencyCache::Begin::kProceed);
  // Expired after 24 hours.
  EXPECT_EQ(c.begin(1, "k", "f2", 1000 + IdempotencyCache::kTtlMs + 1, &stored), IdempotencyCache::Begin::kProceed);
}

TEST(Idempotency, DurableOutcomesFromBeforeARestart) {
  const uint64_t tag = IdempotencyCache::tag_of(7, "order-1");
  EXPECT_NE(tag, 0u);
  EXPECT_NE(tag, IdempotencyCache::tag_of(8, "order-1"));  // per account
  EXPECT_NE(tag, IdempotencyCache::tag_of(7, "order-2"));
  EXPECT_EQ(IdempotencyCache::fingerprint16("00ff12ab"), 0x12ab);
  const std::string fp = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
  IdempotencyCache c;
  const int64_t now = 10 * IdempotencyCache::kTtlMs;
  c.load_durable({store::IdempotencyRow{tag, IdempotencyCache::fingerprint16(fp), 41, 1, 9001, 0, now - 1'000},
                  store::IdempotencyRow{IdempotencyCache::tag_of(7, "old"), IdempotencyCache::fingerprint16(fp), 3, 1,
                                        5, 0, now - IdempotencyCache::kTtlMs - 1}});
  IdempotencyCache::Stored stored;
  store::IdempotencyRow row;
  ASSERT_EQ(c.begin(7, "order-1", fp, now, &stored, &row), IdempotencyCache::Begin::kReplayDurable);
  EXPECT_EQ(row.order_id, 9001u);
  EXPECT_EQ(row.seq, 41u);
  EXPECT_EQ(c.begin(7, "order-1", fp.substr(0, 60) + "0000", now, &stored, &row),
            IdempotencyCache::Begin::kConflictDifferentRequest);  // the same key for another request
  EXPECT_EQ(c.begin(8, "order-1", fp, now, &stored, &row), IdempotencyCache::Begin::kProceed);  // another account
  EXPECT_EQ(c.begin(7, "old", fp, now, &stored, &row), IdempotencyCache::Begin::kProceed);      // expired
}

TEST(JsonWriter, EscapesAndCommas) {
  std::string out;
  JsonWriter w(&out);
  w.begin_object().field("a", "q\"\\\n\x01").key("list").begin_array().value(int64_t{-1}).value(uint64_t{2}).null()
      .value(true).end_array().field("z", 0).end_object();
  EXPECT_EQ(out, R"({"a":"q\"\\\n\u0001","list":[-1,2,null,true],"z":0})");
}

TEST(Problem, RejectsMapToStatuses) {
  EXPECT_EQ(problem_from_reject(RejectReason::kInsufficientFunds).status, 422);
  EXPECT_EQ(problem_from_reject(RejectReason::kInsufficientFunds).code, "INSUFFICIENT_FUNDS");
  EXPECT_EQ(problem_from_reject(RejectReason::kOrderNotFound).status, 404);
  EXPECT_EQ(problem_from_reject(RejectReason::kDuplicateClientOrderId).status, 409);
  EXPECT_EQ(problem_from_reject(RejectReason::kUnavailable).status, 503);
  EXPECT_EQ(problem_from_reject(RejectReason::kAccountDisabled).status, 403);
  const HttpResponse r = problem_response(Problem{429, "RATE_LIMITED", "slow down"}, "rid");
  EXPECT_EQ(r.content_type, "application/problem+json");
  EXPECT_NE(r.body.find("\"request_id\":\"rid\""), std::string::npos);
}

}  // namespace
}  // namespace bourse::gateway

// Tick lines: both encodings, every time format, and each refusal with its code.
#include <gtest/gtest.h>

#include "ingest/tick_line.h"

namespace bourse::ingest {
namespace {

TEST(TickLine, CsvAndNdjsonGiveTheSameTick) {
  TickLine a, b;
  ASSERT_EQ(parse_tick_line("AAPL-USD,2026-12-02T14:30:00.125Z,189.25,100,sell\r\n", &a), TickError::kOk);
  ASSERT_EQ(parse_tick_line(R"({"symbol":"AAPL-USD","time":"2026-12-02T14:30:00.125Z","price":"189.25","qty":100,"side":"SELL"})",
                            &b),
            TickError::kOk);
  for (const TickLine* t : {&a, &b}) {
    EXPECT_EQ(t->symbol, "AAPL-USD");
    EXPECT_EQ(t->time_ns, 1'796'221'800'125'000'000);
    EXPECT_EQ(t->price, "189.25");
    EXPECT_EQ(t->qty, "100");
    EXPECT_EQ(t->side, Side::kSell);
  }
  ASSERT_EQ(parse_tick_line(" AAPL-USD , 1796221800 , 1.5 , 2 ", &a), TickError::kOk);
  EXPECT_EQ(a.side, Side::kBuy) << "no side: buy";
  EXPECT_EQ(a.price, "1.5");
  ASSERT_EQ(parse_tick_line(R"({ "qty": 3, "price": 1.25, "time": 1796221800000000, "symbol": "X" })", &b),
            TickError::kOk);
  EXPECT_EQ(b.price, "1.25") << "a JSON number keeps its exact text";
}

TEST(TickLine, TimesInEveryAcceptedFormat) {
  int64_t ns = 0;
  const int64_t expected = 1'796'221'800'000'000'000;
  for (const char* text : {"1796221800", "1796221800000", "1796221800000000", "1796221800000000000",
                           "2026-12-02T14:30:00Z", "2026-12-02 14:30:00Z", "1796221800.0"}) {
    ASSERT_TRUE(parse_tick_time(text, &ns)) << text;
    EXPECT_EQ(ns, expected) << text;
  }
  ASSERT_TRUE(parse_tick_time("1796221800.000000001", &ns));
  EXPECT_EQ(ns, expected + 1);
  ASSERT_TRUE(parse_tick_time("2024-02-29T23:59:59.999999999Z", &ns));
  EXPECT_EQ(ns, 1'709'251'199'999'999'999);
  for (const char* bad : {"", "x", "-5", "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-12-02T24:00:00Z",
                          "2026-12-02T14:30:00", "2026-12-02T14:30:00.Z", "2026-12-02T14:30:00.1234567890Z",
                          "1969-12-31T23:59:59Z", "99999999999999999999", "9999999999", "1.5.5", "17962218000.5",
                          "2300-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "0.0", "0"}) {
    EXPECT_FALSE(parse_tick_time(bad, &ns)) << bad;
  }
}

TEST(TickLine, RefusalsHaveStableCodes) {
  TickLine t;
  EXPECT_EQ(parse_tick_line("", &t), TickError::kSkip);
  EXPECT_EQ(parse_tick_line("  \r\n", &t), TickError::kSkip);
  EXPECT_EQ(parse_tick_line("symbol,time,price,qty,side", &t), TickError::kSkip);
  EXPECT_EQ(parse_tick_line("AAPL-USD,1796221800,1", &t), TickError::kMalformed);
  EXPECT_EQ(parse_tick_line("AAPL-USD,1796221800,1,2,buy,extra", &t), TickError::kMalformed);
  EXPECT_EQ(parse_tick_line(",1796221800,1,2", &t), TickError::kMalformed);
  EXPECT_EQ(parse_tick_line("AAPL-USD,noon,1,2", &t), TickError::kBadTime);
  EXPECT_EQ(parse_tick_line("AAPL-USD,1796221800,1,2,hold", &t), TickError::kBadSide);
  EXPECT_EQ(parse_tick_line(R"({"symbol":"A","time":1,"price":"1"})", &t), TickError::kMalformed) << "no qty";
  EXPECT_EQ(parse_tick_line(R"({"symbol":"A","symbol":"B","time":1,"price":"1","qty":"1"})", &t), TickError::kMalformed);
  EXPECT_EQ(parse_tick_line(R"({"symbol":"A\"B","time":1,"price":"1","qty":"1"})", &t), TickError::kMalformed);
  EXPECT_EQ(parse_tick_line(R"({"symbol":"A","time":1,"price":null,"qty":"1"})", &t), TickError::kMalformed);
  EXPECT_EQ(parse_tick_line(R"({"symbol":"A","time":1,"price":"1","qty":"1"} x)", &t), TickError::kMalformed);
  EXPECT_EQ(parse_tick_line(R"({"symbol":"A","time":1,"price":"1","qty":"1")", &t), TickError::kMalformed);
  EXPECT_EQ(parse_tick_line(std::string(kMaxTickLine + 1, 'A'), &t), TickError::kLineTooLong);
  EXPECT_NE(parse_tick_line(std::string(kMaxTickLine, 'A') + "\r\n", &t), TickError::kLineTooLong)
      << "the limit counts the line, not its terminator";
  EXPECT_EQ(parse_tick_line(std::string("AAPL-USD,1796221800,1,1\0junk", 29), &t), TickError::kMalformed);
  EXPECT_STREQ(tick_error_name(TickError::kLate), "LATE_TICK");
}

// Lines split from a stream: across reads, too long ones reported once and
// skipped to their newline, a last line without a newline on finish().
TEST(LineSplitter, SplitsAcrossReadsAndSkipsLongLinesOnce) {
  LineSplitter s;
  std::vector<std::string> lines;
  int too_long = 0;
  auto on_line = [&](std::string_view l) { lines.emplace_back(l); };
  auto on_long = [&] { ++too_long; };
  s.feed("a,1\nb,", on_line, on_long);
  s.feed("2\n", on_line, on_long);
  const std::string huge(3000, 'x');
  s.feed(huge.substr(0, 1500), on_line, on_long);
  s.feed(huge.substr(1500), on_line, on_long);
  s.feed("\nc,3\nd,4", on_line, on_long);
  EXPECT_EQ(too_long, 1);
  EXPECT_EQ(lines, (std::vector<std::string>{"a,1", "b,2", "c,3"}));
  s.finish(on_line);
  EXPECT_EQ(lines.back(), "d,4");
  const std::string exact(kMaxTickLine, 'y');
  s.feed(exact + "\r\n", on_line, on_long);
  EXPECT_EQ(too_long, 1) << "a line of exactly the limit (and its CRLF) is fine";
  EXPECT_EQ(lines.back(), exact + "\r");
}

}  // namespace
}  // namespace bourse::ingest

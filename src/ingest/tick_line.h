// One tick from outside the venue, as a line of text: the format every
// ingest source shares (file replay, TCP and UDP line feeds;
// docs/market-data.md "External ticks"). Two encodings, told apart by the
// first character:
//
//   CSV     symbol,time,price,qty[,side]          e.g. AAPL-USD,2026-12-02T14:30:00.125Z,189.25,100,buy
//   NDJSON  {"symbol":…,"time":…,"price":…,"qty":…,"side"?:…}   (price/qty as strings or numbers)
//
// time: ISO-8601 UTC ("YYYY-MM-DDTHH:MM:SS[.fraction]Z"), or a Unix epoch
// integer in seconds, ms, µs or ns by its number of digits (≤10, ≤13, ≤16,
// ≤19), or seconds with a fraction ("1733149800.125"). side: buy / sell
// (the aggressor; b / s and any case accepted); absent: buy. A CSV header
// line (starting with "symbol,") and blank lines are skipped. Prices and
// quantities stay text here: they are exact decimals checked against the
// instrument's scales by TickIngest. No allocation; views point into the line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "bourse/engine/types.h"

namespace bourse::ingest {

inline constexpr std::size_t kMaxTickLine = 1024;

// Stable codes (their names are what the feeds report; do not renumber).
enum class TickError : uint8_t {
  kOk = 0,
  kSkip = 1,           // blank line or CSV header
  kMalformed = 2,      // not CSV or a flat JSON object with the fields above
  kLineTooLong = 3,
  kBadTime = 4,
  kBadSide = 5,
  kBadPrice = 6,       // not an exact decimal at the instrument's price scale, or <= 0
  kBadQty = 7,         // not an exact decimal at the base asset's scale, or <= 0
  kUnknownSymbol = 8,
  kNotExternal = 9,    // the symbol trades on this venue: its trades come from its own book
  kLate = 10,          // older than the instrument's newest tick: candles only move forward
  kOverloaded = 11,    // the engine's queue stayed full
  kRejected = 12,      // the engine refused it (tick or lot size, overflow)
};
const char* tick_error_name(TickError e);

struct TickLine {
  std::string_view symbol;
  int64_t time_ns = 0;
  std::string_view price, qty;
  Side side = Side::kBuy;
};

TickError parse_tick_line(std::string_view line, TickLine* out);

// Splits a byte stream (a file, a TCP connection, a datagram) into lines for
// parse_tick_line: a line longer than kMaxTickLine is reported once as
// LINE_TOO_LONG and skipped up to its newline; finish() delivers a last
// line that has no newline. on_line(line) or on_too_long() per line, in order.
class LineSplitter {
 public:
  template <class OnLine, class OnTooLong>
  void feed(std::string_view data, OnLine&& on_line, OnTooLong&& on_too_long) {
    while (!data.empty()) {
      const std::size_t nl = data.find('\n');
      const std::string_view piece = data.substr(0, nl);
      if (!skipping_) {
        if (pending_.size() + piece.size() > kMaxTickLine + 1) {  // + 1: a '\r' before the newline
          pending_.clear();
          skipping_ = true;
          on_too_long();
        } else {
          pending_.append(piece);
        }
      }
      if (nl == std::string_view::npos) return;
      if (!skipping_) on_line(std::string_view(pending_));
      pending_.clear();
      skipping_ = false;
      data.remove_prefix(nl + 1);
    }
  }
  template <class OnLine>
  void finish(OnLine&& on_line) {
    if (!skipping_ && !pending_.empty()) on_line(std::string_view(pending_));
    pending_.clear();
    skipping_ = false;
  }

 private:
  std::string pending_;
  bool skipping_ = false;
};

// The time formats above; false if none fits (or before 1970 / after 2262).
bool parse_tick_time(std::string_view text, int64_t* ns);

}  // namespace bourse::ingest

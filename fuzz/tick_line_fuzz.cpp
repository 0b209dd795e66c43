// External tick lines (CSV or NDJSON) from files and network feeds: any
// bytes parse to a tick whose views lie inside the line, or to a refusal
// code; parse_tick_time never overflows.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ingest/tick_line.h"

using namespace bourse::ingest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  TickLine t;
  const TickError e = parse_tick_line(line, &t);
  if (e == TickError::kOk) {
    for (std::string_view part : {t.symbol, t.price, t.qty}) {
      if (part.empty() || part.data() < line.data() || part.data() + part.size() > line.data() + line.size()) std::abort();
    }
    if (t.time_ns <= 0) std::abort();
    if (t.side != bourse::Side::kBuy && t.side != bourse::Side::kSell) std::abort();
  }
  int64_t ns = 0;
  if (parse_tick_time(line, &ns) && ns < 0) std::abort();
  return 0;
}

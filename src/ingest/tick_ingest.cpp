#include "ingest/tick_ingest.h"

#include <chrono>
#include <thread>

#include "bourse/core/checked.h"
#include "bourse/core/decimal.h"

namespace bourse::ingest {

TickIngest::Instrument* TickIngest::resolve(std::string_view symbol) {
  auto it = instruments_.find(std::string(symbol));
  if (it != instruments_.end()) return &it->second;
  // First sight of the symbol (instruments are never removed, so a hit stays valid).
  const auto info = market_.instrument(symbol);
  if (!info) return nullptr;
  Instrument in;
  in.id = info->spec.id.value;
  in.price_scale = info->spec.price_scale;
  in.qty_scale = info->base.scale;
  in.external = info->spec.external != 0;
  in.tick = info->spec.tick_size.value;
  in.lot = info->spec.lot_size.value;
  // D = 10^(price scale + base scale - quote scale): the engine's notional divisor.
  const int exponent = info->spec.price_scale + info->base.scale - info->quote.scale;
  for (int k = 0; k < exponent && k < 18; ++k) in.divisor *= 10;
  const auto newest = market_.trades(info->spec.id, 1);
  if (!newest.empty()) in.newest_ns = newest.front().time;
  return &instruments_.emplace(std::string(symbol), in).first->second;
}

TickError TickIngest::submit_line(std::string_view line, int wait_ms) {
  TickLine tick;
  const TickError e = parse_tick_line(line, &tick);
  if (e == TickError::kSkip) return e;
  if (e != TickError::kOk) {
    counters_.refused.fetch_add(1, std::memory_order_relaxed);
    return e;
  }
  return submit(tick, wait_ms);
}

TickError TickIngest::submit(const TickLine& tick, int wait_ms) {
  auto refuse = [this](TickError e) {
    counters_.refused.fetch_add(1, std::memory_order_relaxed);
    return e;
  };
  constexpr int64_t kFutureToleranceNs = 300'000'000'000;  // 5 minutes of clock skew
  // Held through the submit: the engine receives each instrument's ticks in
  // the order they were checked, whichever source they came from.
  std::lock_guard lock(mutex_);
  Instrument* in = resolve(tick.symbol);
  if (!in) return refuse(TickError::kUnknownSymbol);
  if (!in->external) return refuse(TickError::kNotExternal);
  if (tick.time_ns > clock_.now() + kFutureToleranceNs) return refuse(TickError::kBadTime);
  const DecimalResult price = parse_decimal(tick.price, in->price_scale);
  if (!price.ok() || price.value <= 0 || price.value % in->tick != 0) return refuse(TickError::kBadPrice);
  const DecimalResult qty = parse_decimal(tick.qty, in->qty_scale);
  if (!qty.ok() || qty.value <= 0 || qty.value % in->lot != 0) return refuse(TickError::kBadQty);
  if (static_cast<Int128>(price.value) * qty.value / in->divisor > INT64_MAX) return refuse(TickError::kBadQty);
  if (tick.time_ns < in->newest_ns) return refuse(TickError::kLate);
  ExternalTrade t{};
  t.price = Price{price.value};
  t.qty = Qty{qty.value};
  t.time = tick.time_ns;
  t.instrument = InstrumentId{in->id};
  t.aggressor_side = tick.side;
  // A full queue: wait a little (the source slows down) rather than drop.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (!engine_.submit(Command::external_trade(t), this)) {
    if (!engine_.running() || std::chrono::steady_clock::now() >= deadline) return refuse(TickError::kOverloaded);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  in->newest_ns = tick.time_ns;
  counters_.accepted.fetch_add(1, std::memory_order_relaxed);
  return TickError::kOk;
}

void TickIngest::complete(const CommandOutcome& outcome) {
  bool rejected = !outcome.durable;
  for (const Event& e : outcome.events) rejected |= e.type == EventType::kOrderRejected;
  (rejected ? counters_.engine_rejected : counters_.applied).fetch_add(1, std::memory_order_relaxed);
}

}  // namespace bourse::ingest

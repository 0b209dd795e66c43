// Circuits (docs/engine.md, "Circuits"): an instrument's static lower and
// upper price limits, and its circuit breaker — a trade that would move the
// price more than breaker_bps from the last price window_s seconds earlier
// halts the instrument for cooloff_s instead of happening.
//
// The window is kept per second: breaker_prices[s % (window_s + 1)] is the
// last price at the end of second s, filled forward when seconds pass
// without trades, so the anchor is one array read and the memory is bounded
// by the window, not by the trade rate.
#include <algorithm>

#include "engine_impl.h"

namespace bourse {

using detail::InstrumentState;

namespace {
constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr uint32_t kMaxWindowS = 3'600;
constexpr uint32_t kMaxCooloffS = 86'400;

// Whole seconds, rounded down (also before the epoch).
int64_t seconds(Timestamp t) { return t / kNanosPerSecond - (t % kNanosPerSecond < 0 ? 1 : 0); }

// The window slot of second s (s may be negative early in a test's clock).
std::size_t slot(const InstrumentState& in, int64_t s) {
  const auto n = static_cast<int64_t>(in.breaker_prices.size());
  return static_cast<std::size_t>((s % n + n) % n);
}

// Fills the seconds after the newest written one, up to `second`, with the
// price they ended at (`price`: nothing traded in them).
void advance_window(InstrumentState& in, int64_t second, int64_t price) {
  if (second <= in.breaker_second) return;
  const auto n = static_cast<int64_t>(in.breaker_prices.size());
  const int64_t from = std::max(in.breaker_second + 1, second - n + 1);
  for (int64_t s = from; s <= second; ++s) in.breaker_prices[slot(in, s)] = price;
  in.breaker_second = second;
}
}  // namespace

RejectReason Engine::Impl::circuit_problem(const InstrumentState& in, const SetCircuitLimits& c) const {
  const int64_t tick = in.spec.tick_size.value;
  if (c.lower.value < 0 || c.upper.value < 0 || c.lower.value % tick != 0 || c.upper.value % tick != 0 ||
      (c.lower.value && c.upper.value && c.lower > c.upper)) {
    return RejectReason::kInvalidCircuit;
  }
  if (c.breaker_bps == 0) {
    if (c.window_s != 0 || c.cooloff_s != 0) return RejectReason::kInvalidCircuit;
  } else if (c.breaker_bps > 10'000 || c.window_s < 1 || c.window_s > kMaxWindowS || c.cooloff_s < 1 ||
             c.cooloff_s > kMaxCooloffS) {
    return RejectReason::kInvalidCircuit;
  }
  return RejectReason::kNone;
}

void Engine::Impl::set_circuit_limits(const SetCircuitLimits& c) {
  auto refuse = [&](RejectReason r) { reject(r, ClientOrderId{}, OrderId{}, AccountId{}, c.instrument); };
  InstrumentState* inp = instrument_state(c.instrument);
  if (inp == nullptr) return refuse(RejectReason::kUnknownInstrument);
  InstrumentState& in = *inp;
  if (in.spec.external) return refuse(RejectReason::kInstrumentExternal);
  if (const RejectReason r = circuit_problem(in, c); r != RejectReason::kNone) return refuse(r);
  // Limits that exclude the reference price would leave an empty band: nothing could ever trade.
  const Price ref = reference_price(in);
  if ((c.lower.value && ref < c.lower) || (c.upper.value && ref > c.upper)) return refuse(RejectReason::kInvalidCircuit);
  in.circuits = c;
  in.band_ref = Price{};  // the band is clipped to the new limits at its next use
  // A new window starts at the current price (a running halt keeps its end).
  in.breaker_prices.assign(c.breaker_bps ? c.window_s + 1 : 0, reference_price(in).value);
  in.breaker_second = seconds(cause_->timestamp);
  in.breaker_reopen = false;
  emit(EventType::kCircuitLimitsSet).circuit_limits = c;
  // Live orders priced outside the new limits could trade outside them.
  collect_instrument_orders(c.instrument, false);
  for (const uint32_t oi : scratch_) {
    const Order& o = orders_[oi];
    const bool limit_priced = o.type == OrderType::kLimit || o.type == OrderType::kStopLimit;
    if (limit_priced && outside_circuit(in, o.price)) cancel(oi, CancelReason::kOutsideCircuit);
  }
}

// The anchor: the last price at the end of the second window_s before now.
// Seconds after the newest one written ended at the current last price.
static int64_t anchor_of(const InstrumentState& in, int64_t now_s, int64_t last) {
  const int64_t s = now_s - in.circuits.window_s;
  return s > in.breaker_second ? last : in.breaker_prices[slot(in, s)];
}

bool Engine::Impl::within_breaker(const InstrumentState& in, Price price) const {
  if (in.breaker_reopen) return true;  // the first trade after a halt sets the new anchor
  return breaker_band_contains(anchor_of(in, seconds(cause_->timestamp), reference_price(in).value), price,
                               in.circuits.breaker_bps);
}

bool Engine::Impl::breaker_allows(InstrumentState& in, Price price) {
  if (within_breaker(in, price)) return true;
  const Int128 anchor = anchor_of(in, seconds(cause_->timestamp), reference_price(in).value);

  const Timestamp resume_at = cause_->timestamp + int64_t{in.circuits.cooloff_s} * kNanosPerSecond;
  Event& e = emit(EventType::kCircuitBreakerTripped);
  e.breaker.anchor = Price{static_cast<int64_t>(anchor)};
  e.breaker.price = price;
  e.breaker.resume_at = resume_at;
  e.breaker.instrument = in.spec.id;
  in.spec.status = InstrumentStatus::kHalted;
  in.resume_at = resume_at;
  in.mark_dirty = true;
  breaker_resumes_.insert({resume_at, in.spec.id.value});
  Event& s = emit(EventType::kInstrumentStatusChanged);
  s.instrument_status.instrument = in.spec.id;
  s.instrument_status.status = InstrumentStatus::kHalted;
  return false;
}

void Engine::Impl::record_breaker_price(InstrumentState& in) {
  const int64_t now_s = seconds(cause_->timestamp);
  if (in.breaker_reopen) {  // re-anchor the whole window at the reopening trade
    std::fill(in.breaker_prices.begin(), in.breaker_prices.end(), in.last_price.value);
    in.breaker_second = now_s;
    in.breaker_reopen = false;
    return;
  }
  // Seconds before this one ended at the previous price; this one ends at
  // this trade's (for now).
  if (now_s > in.breaker_second) {
    advance_window(in, now_s - 1, in.breaker_prices[slot(in, in.breaker_second)]);
    in.breaker_second = now_s;
  }
  in.breaker_prices[slot(in, now_s)] = in.last_price.value;
}

void Engine::Impl::resume_breaker_halts(Timestamp now) {
  while (!breaker_resumes_.empty() && breaker_resumes_.begin()->first <= now) {
    const uint32_t id = breaker_resumes_.begin()->second;
    breaker_resumes_.erase(breaker_resumes_.begin());
    InstrumentState& in = *instruments_[id];
    in.resume_at = 0;
    in.breaker_reopen = true;
    in.spec.status = InstrumentStatus::kTrading;
    in.mark_dirty = true;
    note_stop_check(in.spec.id);  // stops the fills before the trip crossed
    Event& e = emit(EventType::kInstrumentStatusChanged);
    e.instrument_status.instrument = in.spec.id;
    e.instrument_status.status = InstrumentStatus::kTrading;
  }
}

}  // namespace bourse

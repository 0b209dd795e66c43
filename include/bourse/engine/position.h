// Position and margin arithmetic, shared by the engine (margin checks and
// settlement) and the read models that show positions: one definition of
// average cost, realized and unrealized PnL and margin requirements.
// Exact: every value is an integer in quote minor units, computed in 128
// bits; rounding happens in one stated direction only (docs/engine.md,
// "Margin").
#pragma once

#include <algorithm>
#include <cstdint>

#include "bourse/core/checked.h"
#include "bourse/engine/types.h"

namespace bourse::position {

constexpr Int128 kPpm = 1'000'000;

// floor(a / b) for b > 0 (C++ division truncates toward zero).
inline Int128 floor_div(Int128 a, Int128 b) {
  const Int128 q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}
inline Int128 abs128(Int128 a) { return a < 0 ? -a : a; }

// N(p, q) for a signed quantity, floored: a long is never worth more, a
// short never costs less, than the exact value. Exact when p is on the tick.
inline Int128 value(int64_t qty, Price price, int64_t divisor) {
  return floor_div(static_cast<Int128>(qty) * price.value, divisor);
}

// ceil(x × ppm / 10^6) for x >= 0, without overflowing for any x that fits.
inline Int128 ppm_ceil(Int128 x, uint32_t ppm) {
  return x / kPpm * ppm + (x % kPpm * ppm + kPpm - 1) / kPpm;
}
// floor(x × ppm / 10^6) for x >= 0.
inline Int128 ppm_floor(Int128 x, uint32_t ppm) { return x / kPpm * ppm + x % kPpm * ppm / kPpm; }

// A position in one instrument: signed quantity and the signed entry value
// of that quantity (Σ buys − Σ sells at their fill notionals, for the open
// part), plus the realized PnL of everything closed so far.
struct Position {
  int64_t qty = 0;
  Int128 cost = 0;
  Int128 realized = 0;
};

// Applies a fill of `qty` (> 0) at `price`, notional N(price, qty) exact.
// Reducing releases cost in proportion (truncated toward zero, so a full
// close releases all of it); the closed part's proceeds minus the released
// cost is realized. A fill past flat opens the rest at the fill price.
// Returns the realized PnL of this fill.
inline Int128 apply_fill(Position& pos, Side side, int64_t qty, Price price, int64_t divisor) {
  const int64_t sign = side == Side::kBuy ? 1 : -1;
  if (pos.qty == 0 || (pos.qty > 0) == (sign > 0)) {
    pos.qty += sign * qty;
    pos.cost += sign * (static_cast<Int128>(price.value) * qty / divisor);
    return 0;
  }
  const int64_t open = pos.qty > 0 ? pos.qty : -pos.qty;
  const int64_t closed = std::min(qty, open);
  // cost × closed / open, truncated, without the 128-bit product: cost is
  // split as q × open + r (r has cost's sign), and r × closed < 2^126.
  const Int128 released = pos.cost / open * closed + pos.cost % open * closed / open;
  const Int128 proceeds = static_cast<Int128>(price.value) * closed / divisor;  // what the closing part trades for
  // Long closed by a sell: proceeds − released. Short closed by a buy:
  // released is negative (the entry value sold), so −proceeds − released.
  const Int128 realized = sign < 0 ? proceeds - released : -proceeds - released;
  pos.cost -= released;
  pos.qty += sign * closed;
  pos.realized += realized;
  if (closed < qty) {
    pos.qty += sign * (qty - closed);
    pos.cost += sign * (static_cast<Int128>(price.value) * (qty - closed) / divisor);
  }
  return realized;
}

inline Int128 unrealized(const Position& pos, Price mark, int64_t divisor) {
  return value(pos.qty, mark, divisor) - pos.cost;
}

// Initial margin of one instrument: the worst of "every open buy fills" and
// "every open sell fills" (open orders at their reserve notionals), at the
// initial rate, plus the fees those orders could cost at `fee_ppm`.
inline Int128 initial_requirement(Int128 position_value, Int128 buy_reserve, Int128 sell_reserve, uint32_t initial_ppm,
                                  uint32_t fee_ppm) {
  const Int128 worst = std::max(abs128(position_value + buy_reserve), abs128(position_value - sell_reserve));
  return ppm_ceil(worst, initial_ppm) + ppm_floor(buy_reserve + sell_reserve, fee_ppm);
}

inline Int128 maintenance_requirement(Int128 position_value, uint32_t maintenance_ppm) {
  return ppm_ceil(abs128(position_value), maintenance_ppm);
}

// A rate as applied: a position whose tier has no rate (terms changed, or
// the account was made cash-only) is held to 100%.
inline uint32_t effective_rate(uint32_t ppm) { return ppm ? ppm : static_cast<uint32_t>(kPpm); }

// One account's margin in one collateral asset, summed over its lines (the
// engine's check and the gateway's GET /v1/margin both use this).
struct MarginTotals {
  Int128 unrealized = 0;   // Σ (value − cost)
  Int128 initial = 0;      // Σ initial requirements (positions and open orders)
  Int128 maintenance = 0;  // Σ maintenance requirements (positions)
};

inline void add_line(MarginTotals& t, const Position& pos, Int128 buy_reserve, Int128 sell_reserve, Price mark,
                     int64_t divisor, uint32_t initial_ppm, uint32_t maintenance_ppm, uint32_t fee_ppm) {
  const Int128 v = value(pos.qty, mark, divisor);
  t.unrealized += v - pos.cost;
  t.initial += initial_requirement(v, buy_reserve, sell_reserve, effective_rate(initial_ppm), fee_ppm);
  t.maintenance += maintenance_requirement(v, effective_rate(maintenance_ppm));
}

}  // namespace bourse::position

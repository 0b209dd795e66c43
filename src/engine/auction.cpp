// The opening auction (docs/engine.md, "Sessions"): orders collected in
// pre-open may cross; when the instrument turns to TRADING the book is
// uncrossed at one price, the one that executes the most quantity, then
// leaves the smallest imbalance, then lies closest to the reference price,
// then the lower. Orders fill in price-time priority at that price; of each
// pair the newer order is the aggressor (it pays the taker fee).
#include <algorithm>

#include "engine_impl.h"

namespace bourse {

using detail::InstrumentState;
using detail::kNil;

void Engine::Impl::opening_auction(InstrumentState& in) {
  // Self-trade cancels can leave the book crossed at the chosen price: then
  // it is priced and uncrossed again. Each pass fills or cancels at least one
  // order (the price lies between the best ask and the best bid).
  bool traded = false;
  while (uncross_once(in, &traded)) {
  }
}

bool Engine::Impl::uncross_once(InstrumentState& in, bool* traded) {
  detail::PriceLadder& bids = in.book.bids;
  detail::PriceLadder& asks = in.book.asks;
  if (bids.empty() || asks.empty() || bids.best().price < asks.best().price) return false;
  const Price high = bids.best().price;
  const Price low = asks.best().price;

  // The crossing part of each side and every price in it.
  struct Level {
    int64_t price;
    Int128 qty;
  };
  std::vector<Level> buy, sell;  // buy descending, sell ascending
  std::vector<int64_t> prices;
  for (std::size_t r = 0; r < bids.size() && bids.at_rank(r).price >= low; ++r) {
    buy.push_back({bids.at_rank(r).price.value, levels_[bids.at_rank(r).level].total.value});
    prices.push_back(buy.back().price);
  }
  for (std::size_t r = 0; r < asks.size() && asks.at_rank(r).price <= high; ++r) {
    sell.push_back({asks.at_rank(r).price.value, levels_[asks.at_rank(r).level].total.value});
    prices.push_back(sell.back().price);
  }
  std::sort(prices.begin(), prices.end());
  prices.erase(std::unique(prices.begin(), prices.end()), prices.end());

  // demand(p) = Σ buy qty at >= p; supply(p) = Σ sell qty at <= p. With
  // prices ascending, supply only grows and demand only shrinks.
  Int128 demand = 0;
  for (const Level& l : buy) demand += l.qty;
  Int128 supply = 0;
  std::size_t b = buy.size(), s = 0;  // buy[b..] are below the price looked at (buy is descending)
  const Int128 ref = reference_price(in).value;
  int64_t best_price = 0;
  Int128 best_exec = -1, best_imbalance = 0, best_distance = 0;
  for (const int64_t p : prices) {
    while (s < sell.size() && sell[s].price <= p) supply += sell[s++].qty;
    while (b > 0 && buy[b - 1].price < p) demand -= buy[--b].qty;
    const Int128 exec = std::min(demand, supply);
    const Int128 imbalance = demand > supply ? demand - supply : supply - demand;
    const Int128 distance = p > ref ? p - ref : ref - p;
    if (exec > best_exec || (exec == best_exec && (imbalance < best_imbalance ||
                                                   (imbalance == best_imbalance && distance < best_distance)))) {
      best_price = p;
      best_exec = exec;
      best_imbalance = imbalance;
      best_distance = distance;
    }
  }
  const Price px{best_price};

  while (!bids.empty() && !asks.empty() && bids.best().price >= px && asks.best().price <= px) {
    const uint32_t bi = levels_[bids.best().level].head;
    const uint32_t si = levels_[asks.best().level].head;
    const bool buy_newer = orders_[bi].id > orders_[si].id;
    const uint32_t ai = buy_newer ? bi : si;
    const uint32_t pi = buy_newer ? si : bi;
    if (orders_[bi].account == orders_[si].account) {  // self-trade prevention: the newer one goes
      cancel(ai, CancelReason::kSelfTrade);
      continue;
    }
    const uint32_t aggressor_level = orders_[ai].level;
    const Qty f = std::min(orders_[ai].leaves(), orders_[pi].leaves());
    // The open's first trade re-anchors the breaker's window on its price.
    if (!*traded) in.breaker_reopen = in.circuits.breaker_bps != 0;
    *traded = true;
    trade(ai, pi, orders_[pi].level, px);
    // The aggressor rests too: its level and its side's open quantity.
    Order& a = orders_[ai];
    touch_level(a.instrument, a.side, aggressor_level);
    levels_[aggressor_level].total -= f;
    in.book.open(a.side) -= f.value;
    if (a.leaves() == Qty{}) {
      unlink_from_level(ai);
      finish(ai);
    }
  }
  return true;
}

}  // namespace bourse

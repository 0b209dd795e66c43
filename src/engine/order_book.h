// Order storage and the per-instrument book: the order pool, price levels
// (FIFO queues of orders, intrusive links), the two price ladders and the
// pending stop queues. Owned by the Engine; engine thread only. Nothing here
// allocates per command once the pools are sized: orders and levels are
// recycled through free lists, ladders are vectors with reserved capacity.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "bourse/core/checked.h"
#include "bourse/engine/engine.h"

namespace bourse::detail {

constexpr uint32_t kNil = UINT32_MAX;

enum class OrderState : uint8_t { kFree = 0, kActive = 1, kResting = 2, kPendingTrigger = 3 };

struct Order {
  OrderId id;
  Price price;        // limit price (0 for market types)
  Price stop_price;
  Price hold_price;   // buys: price the hold is computed at (docs/engine.md)
  Qty qty;
  Qty filled;
  Amount hold;
  Timestamp expire_at = 0;
  AccountId account;
  InstrumentId instrument;
  uint32_t prev = kNil, next = kNil;            // level queue
  uint32_t acct_prev = kNil, acct_next = kNil;  // account's live orders, ascending id
  uint32_t level = kNil;                        // level index while resting
  Side side = Side::kBuy;
  OrderType type = OrderType::kLimit;
  TimeInForce tif = TimeInForce::kGtc;
  StpMode stp = StpMode::kCancelNewest;
  uint8_t post_only = 0;
  Product product = Product::kCash;  // MARGIN: `hold` is the reserve notional, nothing is locked
  uint8_t has_client_id = 0;  // the id itself is cold: Engine::Impl::client_ids_
  OrderState state = OrderState::kFree;

  Qty leaves() const { return qty - filled; }
};

struct PriceLevel {
  Price price;
  Qty total;            // sum of leaves
  uint32_t count = 0;
  uint32_t head = kNil, tail = kNil;
  uint32_t next_free = kNil;
  uint32_t touch = kNil;  // index of this level's entry in the command's touch list
  uint64_t epoch = 0;     // command epoch of that entry
};

struct LevelRef {
  Price price;
  uint32_t level;
};

// One side of a book: levels sorted so that the best price is at the back
// (bids ascending, asks descending): the touch, where most activity is, is
// cheapest to insert into and erase from.
class PriceLadder {
 public:
  explicit PriceLadder(Side side) : side_(side) { refs_.reserve(1024); }

  bool empty() const { return refs_.empty(); }
  std::size_t size() const { return refs_.size(); }
  const LevelRef& best() const { return refs_.back(); }
  // i-th best (0 = best).
  const LevelRef& at_rank(std::size_t i) const { return refs_[refs_.size() - 1 - i]; }

  // Position where `price` is or would be inserted. Branchless (cmov)
  // binary search: level prices near the touch are not predictable.
  std::size_t lower_bound(Price price) const {
    return side_ == Side::kBuy ? search<true>(price.value) : search<false>(price.value);
  }
  uint32_t find(Price price) const {
    const std::size_t i = lower_bound(price);
    return i < refs_.size() && refs_[i].price == price ? refs_[i].level : kNil;
  }
  void insert(Price price, uint32_t level) {
    refs_.insert(refs_.begin() + static_cast<std::ptrdiff_t>(lower_bound(price)), LevelRef{price, level});
  }
  void erase(Price price) {
    const std::size_t i = lower_bound(price);
    refs_.erase(refs_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  void clear() { refs_.clear(); }

 private:
  template <bool kAscending>
  std::size_t search(int64_t p) const {
    std::size_t len = refs_.size();
    if (len == 0) return 0;
    const LevelRef* base = refs_.data();
    while (len > 1) {
      const std::size_t half = len / 2;
      const int64_t v = base[half - 1].price.value;
      base = (kAscending ? v < p : v > p) ? base + half : base;
      len -= half;
    }
    const int64_t v = base->price.value;
    return static_cast<std::size_t>(base - refs_.data()) + ((kAscending ? v < p : v > p) ? 1 : 0);
  }

  Side side_;
  std::vector<LevelRef> refs_;
};

struct StopRef {
  Price stop_price;
  OrderId id;
  uint32_t order;
};

// Pending stop orders of one side, sorted so that the ones a moving last
// price triggers first are at the back: buy stops by descending stop price
// (lowest at the back), sell stops ascending (highest at the back).
class StopQueue {
 public:
  explicit StopQueue(Side side) : side_(side) { refs_.reserve(256); }

  bool empty() const { return refs_.empty(); }
  void insert(const StopRef& r) { refs_.insert(refs_.begin() + static_cast<std::ptrdiff_t>(position(r)), r); }
  void erase(const StopRef& r) { refs_.erase(refs_.begin() + static_cast<std::ptrdiff_t>(position(r))); }
  bool triggerable(const StopRef& r, Price last) const {
    return side_ == Side::kBuy ? r.stop_price <= last : r.stop_price >= last;
  }
  // Smallest order id among the stops that `last` triggers, or nullptr.
  const StopRef* first_triggered(Price last) const {
    const StopRef* best = nullptr;
    for (auto it = refs_.rbegin(); it != refs_.rend() && triggerable(*it, last); ++it) {
      if (best == nullptr || it->id < best->id) best = &*it;
    }
    return best;
  }
  template <class F>
  void for_each(F&& fn) const {
    for (const StopRef& r : refs_) fn(r);
  }
  void clear() { refs_.clear(); }

 private:
  bool before(const StopRef& a, const StopRef& b) const {
    if (a.stop_price != b.stop_price) {
      return side_ == Side::kBuy ? a.stop_price > b.stop_price : a.stop_price < b.stop_price;
    }
    return a.id > b.id;
  }
  std::size_t position(const StopRef& r) const {
    auto it = std::lower_bound(refs_.begin(), refs_.end(), r,
                               [this](const StopRef& a, const StopRef& b) { return before(a, b); });
    return static_cast<std::size_t>(it - refs_.begin());
  }

  Side side_;
  std::vector<StopRef> refs_;
};

struct Book {
  PriceLadder bids{Side::kBuy};
  PriceLadder asks{Side::kSell};
  StopQueue buy_stops{Side::kBuy};
  StopQueue sell_stops{Side::kSell};

  // Open quantity resting per side (wide: bid quantities are not bounded by
  // any supply). A cheap proof that no level of the side can overflow.
  Int128 bid_open = 0;
  Int128 ask_open = 0;

  Int128& open(Side s) { return s == Side::kBuy ? bid_open : ask_open; }
  PriceLadder& ladder(Side s) { return s == Side::kBuy ? bids : asks; }
  const PriceLadder& ladder(Side s) const { return s == Side::kBuy ? bids : asks; }
  StopQueue& stops(Side s) { return s == Side::kBuy ? buy_stops : sell_stops; }
};

}  // namespace bourse::detail

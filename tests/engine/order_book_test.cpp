// The engine's own containers against standard ones: PriceLadder against a
// std::map, StopQueue's trigger choice against a scan, OpenHashMap against
// std::unordered_map, under random operations.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <unordered_map>

#include "../../src/engine/open_hash_map.h"
#include "../../src/engine/order_book.h"

namespace bourse::detail {
namespace {

void ladder_against_map(Side side) {
  std::mt19937_64 rng(side == Side::kBuy ? 1 : 2);
  PriceLadder ladder(side);
  std::map<int64_t, uint32_t> model;
  for (int step = 0; step < 200'000; ++step) {
    const int64_t price = static_cast<int64_t>(rng() % 400) - 50;  // negative too: the search must not care
    if (rng() % 2 == 0) {
      if (model.count(price) == 0) {
        const auto level = static_cast<uint32_t>(step);
        ladder.insert(Price{price}, level);
        model[price] = level;
      }
    } else if (model.count(price) != 0) {
      ladder.erase(Price{price});
      model.erase(price);
    }
    const int64_t probe = static_cast<int64_t>(rng() % 420) - 60;
    const auto it = model.find(probe);
    ASSERT_EQ(ladder.find(Price{probe}), it == model.end() ? kNil : it->second) << "step " << step;
    ASSERT_EQ(ladder.size(), model.size());
    if (!model.empty()) {
      const int64_t best = side == Side::kBuy ? model.rbegin()->first : model.begin()->first;
      ASSERT_EQ(ladder.best().price.value, best);
      // at_rank walks from the best outwards.
      const std::size_t r = rng() % model.size();
      auto walk = model.begin();
      std::advance(walk, side == Side::kBuy ? model.size() - 1 - r : r);
      ASSERT_EQ(ladder.at_rank(r).price.value, walk->first);
    }
  }
}

TEST(PriceLadder, BidsMatchAMap) { ladder_against_map(Side::kBuy); }
TEST(PriceLadder, AsksMatchAMap) { ladder_against_map(Side::kSell); }

TEST(StopQueue, FirstTriggeredIsTheSmallestIdAmongTriggerable) {
  std::mt19937_64 rng(3);
  for (const Side side : {Side::kBuy, Side::kSell}) {
    StopQueue q(side);
    std::vector<StopRef> model;
    for (int step = 0; step < 20'000; ++step) {
      if (rng() % 3 != 0 || model.empty()) {
        const StopRef r{Price{static_cast<int64_t>(rng() % 100)}, OrderId{static_cast<uint64_t>(step + 1)}, 0};
        q.insert(r);
        model.push_back(r);
      } else {
        const std::size_t i = rng() % model.size();
        q.erase(model[i]);
        model.erase(model.begin() + static_cast<std::ptrdiff_t>(i));
      }
      const Price last{static_cast<int64_t>(rng() % 100)};
      const StopRef* want = nullptr;
      for (const StopRef& r : model) {
        const bool hit = side == Side::kBuy ? r.stop_price <= last : r.stop_price >= last;
        if (hit && (want == nullptr || r.id < want->id)) want = &r;
      }
      const StopRef* got = q.first_triggered(last);
      ASSERT_EQ(got == nullptr, want == nullptr) << "step " << step;
      if (got != nullptr) {
        ASSERT_EQ(got->id, want->id) << "step " << step;
      }
    }
  }
}

struct Mix {
  std::size_t operator()(uint64_t k) const { return static_cast<std::size_t>(mix64(k)); }
};
// A deliberately bad hash: long probe runs exercise backward-shift deletion.
struct Clustered {
  std::size_t operator()(uint64_t k) const { return static_cast<std::size_t>(k % 7); }
};

template <class Hash>
void map_against_unordered_map(uint64_t seed) {
  std::mt19937_64 rng(seed);
  OpenHashMap<uint64_t, uint32_t, Hash> map(8);
  std::unordered_map<uint64_t, uint32_t> model;
  for (int step = 0; step < 100'000; ++step) {
    const uint64_t key = rng() % 2'000;
    switch (rng() % 3) {
      case 0: {
        const auto v = static_cast<uint32_t>(step);
        ASSERT_EQ(map.insert(key, v), model.emplace(key, v).second);
        break;
      }
      case 1: ASSERT_EQ(map.erase(key), model.erase(key) == 1); break;
      default: {
        const uint32_t* got = map.find(key);
        const auto it = model.find(key);
        ASSERT_EQ(got == nullptr, it == model.end());
        if (got != nullptr) {
          ASSERT_EQ(*got, it->second);
        }
      }
    }
    ASSERT_EQ(map.size(), model.size());
  }
  std::size_t seen = 0;
  map.for_each([&](uint64_t k, uint32_t v) {
    ++seen;
    ASSERT_EQ(model.at(k), v);
  });
  EXPECT_EQ(seen, model.size());
}

TEST(OpenHashMap, MatchesUnorderedMap) { map_against_unordered_map<Mix>(4); }
TEST(OpenHashMap, MatchesUnorderedMapWithCollisions) { map_against_unordered_map<Clustered>(5); }

}  // namespace
}  // namespace bourse::detail

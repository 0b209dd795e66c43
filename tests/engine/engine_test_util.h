// A small market for unit tests: USD (scale 2) and XYZ (scale 0); instrument
// 1 "XYZ-USD" with price_scale 2, tick 0.01, lot 1 (so notional = price × qty
// in cents), reference 100.00, band ±10%, maker 0.1%, taker 0.2%; accounts
// 1..4 with 1,000,000.00 USD and 10,000 XYZ each.
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "bourse/engine/engine.h"

namespace bourse::testing {

constexpr AssetId kUsd{1};
constexpr AssetId kXyz{2};
constexpr InstrumentId kXyzUsd{1};
constexpr int64_t kUsdFunds = 100'000'000;  // cents
constexpr int64_t kXyzFunds = 10'000;

InstrumentSpec xyz_usd_spec();

struct OrderArgs {
  uint32_t account = 1;
  Side side = Side::kBuy;
  int64_t price = 0;
  int64_t qty = 1;
  OrderType type = OrderType::kLimit;
  TimeInForce tif = TimeInForce::kGtc;
  int64_t stop_price = 0;
  StpMode stp = StpMode::kAccountDefault;
  bool post_only = false;
  Timestamp expire_at = 0;
  const char* client_order_id = "";
  uint32_t instrument = 1;
  Product product = Product::kCash;
};

PlaceOrder to_place_order(const OrderArgs& a);

class Market {
 public:
  explicit Market(EngineConfig config = {256, 8, 8, 1u << 16, 1000}, bool setup = true);

  std::vector<Event> run(Command c);
  std::vector<Event> place(const OrderArgs& a);
  std::vector<Event> cancel(uint32_t account, uint64_t order_id);
  std::vector<Event> amend(uint32_t account, uint64_t order_id, int64_t new_price, int64_t new_qty,
                           int64_t new_stop = 0);
  void advance(Timestamp ns) { now_ += ns; }
  Timestamp now() const { return now_; }

  Balance bal(uint32_t account, AssetId asset) const { return engine.balance(AccountId{account}, asset); }
  OrderView order(uint64_t id) const;
  bool live(uint64_t id) const;

  Engine engine;

 private:
  Timestamp now_ = 1'000'000'000'000;
};

// Filters.
std::vector<Event> of_type(const std::vector<Event>& events, EventType type);
const Event* first(const std::vector<Event>& events, EventType type);
// The reject reason of the only OrderRejected in `events`, or kNone.
RejectReason rejected(const std::vector<Event>& events);
// Order id of the OrderAccepted in `events` (0 if none).
uint64_t accepted_id(const std::vector<Event>& events);

}  // namespace bourse::testing

#include "engine/reference_engine.h"

#include <algorithm>
#include <climits>
#include <stdexcept>

namespace bourse::testing {
namespace {

__extension__ using I128 = __int128;

constexpr int64_t kBpsDenominator = 10000;
constexpr int64_t kPpmDenominator = 1000000;

bool fits_int64(I128 v) { return v >= INT64_MIN && v <= INT64_MAX; }

I128 pow10_wide(int n) {
  I128 r = 1;
  for (int i = 0; i < n; ++i) r *= 10;
  return r;
}

// Floor / ceiling division for a non-negative numerator and positive divisor.
I128 floor_div(I128 a, I128 d) { return a / d; }
I128 ceil_div(I128 a, I128 d) { return (a + d - 1) / d; }

bool valid_side(Side s) { return s == Side::kBuy || s == Side::kSell; }
bool valid_type(OrderType t) {
  const auto v = static_cast<uint8_t>(t);
  return v >= 1 && v <= 4;
}
bool valid_tif(TimeInForce t) {
  const auto v = static_cast<uint8_t>(t);
  return v >= 1 && v <= 5;
}
bool valid_status(InstrumentStatus s) {
  const auto v = static_cast<uint8_t>(s);
  return v >= 1 && v <= 3;
}
bool resting_tif(TimeInForce t) { return t == TimeInForce::kGtc || t == TimeInForce::kDay || t == TimeInForce::kGtd; }
bool has_limit_price(OrderType t) { return t == OrderType::kLimit || t == OrderType::kStopLimit; }
bool is_stop(OrderType t) { return t == OrderType::kStopLimit || t == OrderType::kStopMarket; }

// Is a resting price acceptable to an aggressor of `side` with limit `limit`?
bool acceptable(Side aggressor_side, int64_t resting_price, int64_t limit) {
  return aggressor_side == Side::kBuy ? resting_price <= limit : resting_price >= limit;
}
// Is price a better than price b for resting orders of `side`?
bool better(Side side, int64_t a, int64_t b) { return side == Side::kBuy ? a > b : a < b; }

}  // namespace

ReferenceEngine::ReferenceEngine(const EngineConfig& config) : config_(config) {}

// --- arithmetic ---------------------------------------------------------------

std::optional<int64_t> ReferenceEngine::notional(const Instrument& inst, int64_t price, int64_t qty) {
  const I128 n = static_cast<I128>(price) * qty / inst.divisor;
  if (!fits_int64(n)) return std::nullopt;
  return static_cast<int64_t>(n);
}

int64_t ReferenceEngine::fee(int64_t notional_value, int32_t ppm) {
  return static_cast<int64_t>(static_cast<I128>(notional_value) * ppm / kPpmDenominator);
}

std::optional<int64_t> ReferenceEngine::buy_hold(const Instrument& inst, int64_t price, int64_t leaves) {
  const auto n = notional(inst, price, leaves);
  if (!n) return std::nullopt;
  const int32_t rate = std::max(inst.spec.maker_fee_ppm, inst.spec.taker_fee_ppm);
  const I128 h = static_cast<I128>(*n) + fee(*n, rate);
  if (!fits_int64(h)) return std::nullopt;
  return static_cast<int64_t>(h);
}

int64_t ReferenceEngine::reference_price(const Instrument& inst) {
  return inst.last_price.value != 0 ? inst.last_price.value : inst.spec.reference_price.value;
}

// ceil_to_tick(ref * (10000 - band) / 10000), at least one tick; the division
// is exact (rational), only the final tick rounding rounds.
int64_t ReferenceEngine::band_low(const Instrument& inst) {
  const I128 tick = inst.spec.tick_size.value;
  const I128 num = static_cast<I128>(reference_price(inst)) * (kBpsDenominator - inst.spec.band_bps);
  const I128 low = ceil_div(num, tick * kBpsDenominator) * tick;
  return static_cast<int64_t>(std::max(low, tick));
}

// floor_to_tick(ref * (10000 + band) / 10000), saturated at the largest
// tick multiple that fits in int64.
int64_t ReferenceEngine::band_high(const Instrument& inst) {
  const I128 tick = inst.spec.tick_size.value;
  const I128 num = static_cast<I128>(reference_price(inst)) * (kBpsDenominator + inst.spec.band_bps);
  I128 high = floor_div(num, tick * kBpsDenominator) * tick;
  if (high > INT64_MAX) high = floor_div(INT64_MAX, tick) * tick;
  return static_cast<int64_t>(high);
}

std::optional<int64_t> ReferenceEngine::stop_market_hold_price(const Instrument& inst, int64_t stop_price) {
  const I128 tick = inst.spec.tick_size.value;
  const I128 num = static_cast<I128>(stop_price) * (kBpsDenominator + inst.spec.band_bps);
  const I128 p = floor_div(num, tick * kBpsDenominator) * tick;
  if (!fits_int64(p)) return std::nullopt;
  return static_cast<int64_t>(p);
}

// --- state helpers --------------------------------------------------------------

ReferenceEngine::Order* ReferenceEngine::find_order(uint64_t id) {
  for (auto& o : orders_) {
    if (o.view.id.value == id) return &o;
  }
  return nullptr;
}

Balance& ReferenceEngine::bal(uint32_t account, uint32_t asset) { return balances_[{account, asset}]; }

uint32_t ReferenceEngine::live_orders_of(uint32_t account) const {
  uint32_t n = 0;
  for (const auto& o : orders_) {
    if (o.view.account.value == account) ++n;
  }
  return n;
}

// Best resting price on one side of an instrument (pending stops are not on the book).
std::optional<int64_t> ReferenceEngine::best_price(uint32_t instrument, Side side) const {
  std::optional<int64_t> best;
  for (const auto& o : orders_) {
    if (o.view.instrument.value != instrument || o.view.side != side || o.view.pending_trigger) continue;
    if (!best || better(side, o.view.price.value, *best)) best = o.view.price.value;
  }
  return best;
}

ReferenceEngine::LevelMap ReferenceEngine::levels() const {
  LevelMap m;
  for (const auto& o : orders_) {
    if (o.view.pending_trigger) continue;
    auto& level = m[{o.view.instrument.value, static_cast<uint8_t>(o.view.side), o.view.price.value}];
    level.first += o.view.leaves().value;
    level.second += 1;
  }
  return m;
}

void ReferenceEngine::remove_order(uint64_t id) {
  orders_.erase(std::remove_if(orders_.begin(), orders_.end(), [id](const Order& o) { return o.view.id.value == id; }),
                orders_.end());
}

// --- event helpers --------------------------------------------------------------

Event ReferenceEngine::make_event(EventType type) const {
  Event e;
  e.cause = cause_;
  e.type = type;
  return e;
}

void ReferenceEngine::reject(RejectReason reason, const ClientOrderId& client_order_id, OrderId order_id,
                             AccountId account, InstrumentId instrument) {
  Event e = make_event(EventType::kOrderRejected);
  e.rejected.client_order_id = client_order_id;
  e.rejected.order_id = order_id;
  e.rejected.account = account;
  e.rejected.instrument = instrument;
  e.rejected.reason = reason;
  e.rejected.command = cause_.type;
  out_->push_back(e);
}

// Releases the whole remaining hold and removes the order.
void ReferenceEngine::cancel_order(uint64_t id, CancelReason reason) {
  Order* o = find_order(id);
  Balance& b = bal(o->view.account.value, o->view.hold_asset.value);
  b.locked -= o->view.hold;
  b.available += o->view.hold;
  Event e = make_event(EventType::kOrderCancelled);
  e.cancelled.order_id = o->view.id;
  e.cancelled.leaves = o->view.leaves();
  e.cancelled.filled = o->view.filled;
  e.cancelled.account = o->view.account;
  e.cancelled.instrument = o->view.instrument;
  e.cancelled.reason = reason;
  out_->push_back(e);
  remove_order(id);
}

void ReferenceEngine::expire_order(uint64_t id, ExpireReason reason) {
  Order* o = find_order(id);
  Balance& b = bal(o->view.account.value, o->view.hold_asset.value);
  b.locked -= o->view.hold;
  b.available += o->view.hold;
  Event e = make_event(EventType::kOrderExpired);
  e.expired.order_id = o->view.id;
  e.expired.leaves = o->view.leaves();
  e.expired.filled = o->view.filled;
  e.expired.account = o->view.account;
  e.expired.instrument = o->view.instrument;
  e.expired.reason = reason;
  out_->push_back(e);
  remove_order(id);
}

// --- apply ----------------------------------------------------------------------

std::vector<Event> ReferenceEngine::apply(const Command& command) {
  std::vector<Event> events;
  cause_ = command.header;
  out_ = &events;
  traded_.clear();

  // Snapshots for the BalanceChanged / BookLevelChanged diffs.
  const auto balances_before = balances_;
  const LevelMap levels_before = levels();

  expire_gtd();
  dispatch(command);

  // BalanceChanged, sorted by (account, asset); a missing entry is (0, 0).
  std::set<std::pair<uint32_t, uint32_t>> balance_keys;
  for (const auto& [k, v] : balances_before) balance_keys.insert(k);
  for (const auto& [k, v] : balances_) balance_keys.insert(k);
  for (const auto& k : balance_keys) {
    Balance before{}, after{};
    if (auto it = balances_before.find(k); it != balances_before.end()) before = it->second;
    if (auto it = balances_.find(k); it != balances_.end()) after = it->second;
    if (before.available == after.available && before.locked == after.locked) continue;
    Event e = make_event(EventType::kBalanceChanged);
    e.balance.available = after.available;
    e.balance.locked = after.locked;
    e.balance.account = AccountId{k.first};
    e.balance.asset = AssetId{k.second};
    events.push_back(e);
  }

  // BookLevelChanged, sorted by (instrument, side, price); qty 0 = level gone.
  const LevelMap levels_after = levels();
  std::set<LevelKey> level_keys;
  for (const auto& [k, v] : levels_before) level_keys.insert(k);
  for (const auto& [k, v] : levels_after) level_keys.insert(k);
  for (const auto& k : level_keys) {
    std::pair<int64_t, uint32_t> before{0, 0}, after{0, 0};
    if (auto it = levels_before.find(k); it != levels_before.end()) before = it->second;
    if (auto it = levels_after.find(k); it != levels_after.end()) after = it->second;
    if (before == after) continue;
    Event e = make_event(EventType::kBookLevelChanged);
    e.book_level.price = Price{std::get<2>(k)};
    e.book_level.qty = Qty{after.first};
    e.book_level.order_count = after.second;
    e.book_level.instrument = InstrumentId{std::get<0>(k)};
    e.book_level.side = static_cast<Side>(std::get<1>(k));
    events.push_back(e);
  }

  out_ = nullptr;
  return events;
}

// Every live GTD order with expire_at <= timestamp, in (expire_at, id) order.
void ReferenceEngine::expire_gtd() {
  std::vector<std::pair<int64_t, uint64_t>> due;
  for (const auto& o : orders_) {
    if (o.view.tif == TimeInForce::kGtd && o.view.expire_at <= cause_.timestamp) {
      due.emplace_back(o.view.expire_at, o.view.id.value);
    }
  }
  std::sort(due.begin(), due.end());
  for (const auto& [at, id] : due) expire_order(id, ExpireReason::kGtd);
}

void ReferenceEngine::dispatch(const Command& command) {
  const auto& p = command.payload;
  switch (command.header.type) {
    case CommandType::kPlaceOrder:
      place(p.place);
      return;
    case CommandType::kCancelOrder:
      cancel(p.cancel);
      return;
    case CommandType::kAmendOrder:
      amend(p.amend);
      return;
    case CommandType::kCancelAll:
      cancel_all(p.cancel_all);
      return;
    case CommandType::kDeposit:
      transfer(p.transfer, true);
      return;
    case CommandType::kWithdraw:
      transfer(p.transfer, false);
      return;
    case CommandType::kAddAsset:
      add_asset(p.add_asset);
      return;
    case CommandType::kAddInstrument:
      add_instrument(p.add_instrument);
      return;
    case CommandType::kSetInstrumentStatus:
      set_instrument_status(p.set_instrument_status);
      return;
    case CommandType::kConfigureAccount:
      configure_account(p.configure_account);
      return;
    case CommandType::kSetAccountEnabled:
      set_account_enabled(p.set_account_enabled);
      return;
    case CommandType::kExpireDayOrders:
      expire_day_orders(p.expire_day_orders);
      return;
    case CommandType::kHeartbeat:
      return;
    case CommandType::kExternalTrade:
      external_trade(p.external_trade);
      return;
    case CommandType::kSetMarginParams:
    case CommandType::kSquareOff:
    case CommandType::kCancelAfter:
    case CommandType::kSetAccountLimits:
    case CommandType::kSetLossLimit:
    case CommandType::kSetCircuitLimits:
      // The reference models CASH trading and its rules (what the random
      // generator sends); margin, the dead-man's switch, limits and circuits
      // have their own tests (margin_test.cpp, risk_test.cpp, circuit_test.cpp).
      throw std::logic_error("reference engine: margin, CancelAfter, limits and circuits are not modelled");
  }
  reject(RejectReason::kInvalidCommand, {}, {}, {}, {});
}

// --- PlaceOrder -----------------------------------------------------------------

void ReferenceEngine::place(const PlaceOrder& p) {
  auto fail = [&](RejectReason r) { reject(r, p.client_order_id, OrderId{0}, p.account, p.instrument); };

  // 1. account
  if (p.account.value == 0 || p.account.value >= config_.max_accounts) return fail(RejectReason::kInvalidAccount);
  const auto acct_it = accounts_.find(p.account.value);
  if (acct_it == accounts_.end()) return fail(RejectReason::kUnknownAccount);
  const Account& acct = acct_it->second;
  if (!acct.enabled) return fail(RejectReason::kAccountDisabled);
  // 2. instrument
  const auto inst_it = instruments_.find(p.instrument.value);
  if (inst_it == instruments_.end()) return fail(RejectReason::kUnknownInstrument);
  const Instrument& inst = inst_it->second;
  if (inst.spec.external) return fail(RejectReason::kInstrumentExternal);
  if (inst.spec.status == InstrumentStatus::kHalted) return fail(RejectReason::kInstrumentHalted);
  if (inst.spec.status == InstrumentStatus::kClosed) return fail(RejectReason::kInstrumentClosed);
  // 3. enums
  if (!valid_side(p.side) || !valid_type(p.type) || !valid_tif(p.tif) || static_cast<uint8_t>(p.stp) > 3 ||
      p.post_only > 1) {
    return fail(RejectReason::kInvalidOrder);
  }
  // 4. type / TIF
  if (p.type == OrderType::kMarket && p.tif != TimeInForce::kIoc && p.tif != TimeInForce::kFok) {
    return fail(RejectReason::kInvalidTimeInForce);
  }
  if (p.type == OrderType::kStopMarket && !resting_tif(p.tif)) return fail(RejectReason::kInvalidTimeInForce);
  // 5. post-only
  if (p.post_only == 1 && !(p.type == OrderType::kLimit && resting_tif(p.tif))) {
    return fail(RejectReason::kPostOnlyNotAllowed);
  }
  // 6. prices present / absent
  const bool priced = has_limit_price(p.type);
  const bool stop = is_stop(p.type);
  if (priced && p.price.value <= 0) return fail(RejectReason::kInvalidPrice);
  if (stop && p.stop_price.value <= 0) return fail(RejectReason::kInvalidPrice);
  if (!priced && p.price.value != 0) return fail(RejectReason::kInvalidOrder);
  if (!stop && p.stop_price.value != 0) return fail(RejectReason::kInvalidOrder);
  // 7. expiry
  if (p.tif == TimeInForce::kGtd ? p.expire_at <= cause_.timestamp : p.expire_at != 0) {
    return fail(RejectReason::kInvalidExpireTime);
  }
  // 8. tick
  const int64_t tick = inst.spec.tick_size.value;
  if (p.price.value % tick != 0 || p.stop_price.value % tick != 0) return fail(RejectReason::kInvalidTick);
  // 9. quantity
  if (p.qty < inst.spec.min_qty) return fail(RejectReason::kQtyBelowMin);
  if (p.qty > inst.spec.max_qty) return fail(RejectReason::kQtyAboveMax);
  if (p.qty.value % inst.spec.lot_size.value != 0) return fail(RejectReason::kInvalidLot);
  // 10. band
  if (priced && (p.price.value < band_low(inst) || p.price.value > band_high(inst))) {
    return fail(RejectReason::kPriceOutOfBand);
  }
  // 11. stop would trigger now
  const int64_t ref = reference_price(inst);
  if (stop && (p.side == Side::kBuy ? p.stop_price.value <= ref : p.stop_price.value >= ref)) {
    return fail(RejectReason::kStopWouldTriggerImmediately);
  }
  // 12. notional, and the level's open quantity
  if (priced) {
    const auto n = notional(inst, p.price.value, p.qty.value);
    if (!n) return fail(RejectReason::kOverflow);
    if (resting_qty(p.instrument.value, p.side, p.price.value, 0) + p.qty.value > INT64_MAX) {
      return fail(RejectReason::kOverflow);
    }
    if (*n < inst.spec.min_notional.value) return fail(RejectReason::kNotionalBelowMin);
  }
  // 13. duplicate client order id
  if (!p.client_order_id.empty()) {
    for (const auto& o : orders_) {
      if (o.view.account == p.account && o.view.client_order_id == p.client_order_id) {
        return fail(RejectReason::kDuplicateClientOrderId);
      }
    }
  }
  // 14. open orders
  if (live_orders_of(p.account.value) >= acct.max_open_orders) return fail(RejectReason::kTooManyOpenOrders);
  // 15. post-only would take
  if (p.post_only == 1) {
    const auto opp = best_price(p.instrument.value, opposite(p.side));
    if (opp && acceptable(p.side, *opp, p.price.value)) return fail(RejectReason::kPostOnlyWouldTake);
  }
  // 16. hold
  int64_t hold_price = 0;
  int64_t hold = p.qty.value;
  AssetId hold_asset = inst.spec.base;
  if (p.side == Side::kBuy) {
    hold_asset = inst.spec.quote;
    switch (p.type) {
      case OrderType::kLimit:
      case OrderType::kStopLimit:
        hold_price = p.price.value;
        break;
      case OrderType::kMarket:
        hold_price = band_high(inst);
        break;
      case OrderType::kStopMarket: {
        const auto hp = stop_market_hold_price(inst, p.stop_price.value);
        if (!hp) return fail(RejectReason::kOverflow);
        hold_price = *hp;
        break;
      }
    }
    const auto h = buy_hold(inst, hold_price, p.qty.value);
    if (!h) return fail(RejectReason::kOverflow);
    hold = *h;
  }
  Balance& b = bal(p.account.value, hold_asset.value);
  if (b.available.value < hold) return fail(RejectReason::kInsufficientFunds);
  // 17. capacity
  if (orders_.size() >= config_.order_capacity) return fail(RejectReason::kCapacityExceeded);

  // Accepted.
  b.available -= Amount{hold};
  b.locked += Amount{hold};
  Order o;
  o.view.id = OrderId{next_order_id_++};
  o.view.account = p.account;
  o.view.instrument = p.instrument;
  o.view.side = p.side;
  o.view.type = p.type;
  o.view.tif = p.tif;
  o.view.stp = p.stp == StpMode::kAccountDefault ? acct.default_stp : p.stp;
  o.view.post_only = p.post_only == 1;
  o.view.pending_trigger = stop;
  o.view.price = p.price;
  o.view.stop_price = p.stop_price;
  o.view.qty = p.qty;
  o.view.filled = Qty{0};
  o.view.hold = Amount{hold};
  o.view.hold_asset = hold_asset;
  o.view.expire_at = p.expire_at;
  o.view.client_order_id = p.client_order_id;
  o.hold_price = Price{hold_price};
  orders_.push_back(o);

  Event e = make_event(EventType::kOrderAccepted);
  e.accepted.client_order_id = p.client_order_id;
  e.accepted.order_id = o.view.id;
  e.accepted.price = p.price;
  e.accepted.stop_price = p.stop_price;
  e.accepted.qty = p.qty;
  e.accepted.expire_at = p.expire_at;
  e.accepted.hold = Amount{hold};
  e.accepted.hold_price = o.hold_price;
  e.accepted.account = p.account;
  e.accepted.instrument = p.instrument;
  e.accepted.side = p.side;
  e.accepted.type = p.type;
  e.accepted.tif = p.tif;
  e.accepted.stp = o.view.stp;
  e.accepted.post_only = p.post_only;
  e.accepted.pending_trigger = stop ? 1 : 0;
  out_->push_back(e);

  if (stop) return;  // waits for its trigger
  if (p.type == OrderType::kMarket) {
    const int64_t protection = p.side == Side::kBuy ? band_high(inst) : band_low(inst);
    aggress(o.view.id.value, protection, true);
  } else {
    aggress(o.view.id.value, p.price.value, false);
  }
  process_triggers();
}

// --- matching -------------------------------------------------------------------

void ReferenceEngine::aggress(uint64_t id, int64_t limit, bool market) {
  Order* agg = find_order(id);
  const Side side = agg->view.side;
  const uint32_t instrument = agg->view.instrument.value;
  const AccountId account = agg->view.account;
  const StpMode stp = agg->view.stp;
  const TimeInForce tif = agg->view.tif;

  // The acceptable opposite resting orders in priority order (best price, then arrival).
  auto candidates = [&]() {
    std::vector<const Order*> c;
    for (const auto& o : orders_) {
      if (o.view.instrument.value != instrument || o.view.side == side || o.view.pending_trigger) continue;
      if (!acceptable(side, o.view.price.value, limit)) continue;
      c.push_back(&o);
    }
    std::sort(c.begin(), c.end(), [](const Order* a, const Order* b) {
      if (a->view.price != b->view.price) return better(a->view.side, a->view.price.value, b->view.price.value);
      return a->arrival < b->arrival;
    });
    return c;
  };

  if (tif == TimeInForce::kFok) {
    const int64_t needed = agg->view.leaves().value;
    I128 sum = 0;  // bid totals are not bounded by a supply: keep the sum wide
    for (const Order* o : candidates()) {
      if (o->view.account == account) {
        if (stp == StpMode::kCancelOldest) continue;
        break;
      }
      sum += o->view.leaves().value;
      if (sum >= needed) break;
    }
    if (sum < needed) {
      cancel_order(id, CancelReason::kFillOrKill);
      return;
    }
  }

  for (;;) {
    agg = find_order(id);
    if (agg == nullptr) return;  // fully filled
    const auto c = candidates();
    if (c.empty()) break;
    const uint64_t passive_id = c.front()->view.id.value;
    if (c.front()->view.account == account) {
      switch (stp) {
        case StpMode::kCancelOldest:
          cancel_order(passive_id, CancelReason::kSelfTrade);
          continue;
        case StpMode::kCancelBoth:
          cancel_order(passive_id, CancelReason::kSelfTrade);
          cancel_order(id, CancelReason::kSelfTrade);
          return;
        case StpMode::kCancelNewest:
        case StpMode::kAccountDefault:
          cancel_order(id, CancelReason::kSelfTrade);
          return;
      }
    }
    execute_trade(id, passive_id, std::min(agg->view.leaves().value, c.front()->view.leaves().value));
  }

  // Remainder: IOC / FOK / market cancel, resting TIFs join the back of the level.
  agg = find_order(id);
  if (market || tif == TimeInForce::kIoc || tif == TimeInForce::kFok) {
    cancel_order(id, CancelReason::kUnfilledImmediate);
  } else if (resting_qty(agg->view.instrument.value, agg->view.side, agg->view.price.value, id) +
                 agg->view.leaves().value >
             INT64_MAX) {
    cancel_order(id, CancelReason::kBookLevelFull);
  } else {
    agg->arrival = next_arrival_++;
  }
}

void ReferenceEngine::execute_trade(uint64_t aggressor_id, uint64_t passive_id, int64_t qty) {
  Order& agg = *find_order(aggressor_id);
  Order& pas = *find_order(passive_id);
  Instrument& inst = instruments_.at(agg.view.instrument.value);
  const uint32_t base = inst.spec.base.value;
  const uint32_t quote = inst.spec.quote.value;
  const int64_t price = pas.view.price.value;
  const int64_t n = *notional(inst, price, qty);
  const int64_t taker_fee = fee(n, inst.spec.taker_fee_ppm);
  const int64_t maker_fee = fee(n, inst.spec.maker_fee_ppm);

  Order& buyer = agg.view.side == Side::kBuy ? agg : pas;
  Order& seller = agg.view.side == Side::kBuy ? pas : agg;
  const int64_t buyer_fee = &buyer == &agg ? taker_fee : maker_fee;
  const int64_t seller_fee = &seller == &agg ? taker_fee : maker_fee;

  // Buyer: the hold drops to H(P, L - f); the difference pays N + fee, the rest returns.
  const int64_t new_hold = *buy_hold(inst, buyer.hold_price.value, buyer.view.leaves().value - qty);
  const int64_t released = buyer.view.hold.value - new_hold;
  Balance& buyer_quote = bal(buyer.view.account.value, quote);
  buyer_quote.locked -= Amount{released};
  buyer_quote.available += Amount{released - n - buyer_fee};
  bal(buyer.view.account.value, base).available += Amount{qty};
  buyer.view.hold = Amount{new_hold};
  // Seller.
  bal(seller.view.account.value, base).locked -= Amount{qty};
  bal(seller.view.account.value, quote).available += Amount{n - seller_fee};
  seller.view.hold -= Amount{qty};
  // Fees.
  bal(kFeeAccount.value, quote).available += Amount{taker_fee + maker_fee};

  agg.view.filled += Qty{qty};
  pas.view.filled += Qty{qty};
  inst.last_price = Price{price};
  traded_.insert(inst.spec.id.value);

  Event e = make_event(EventType::kTrade);
  e.trade.trade_id = TradeId{next_trade_id_++};
  e.trade.price = Price{price};
  e.trade.qty = Qty{qty};
  e.trade.notional = Amount{n};
  e.trade.aggressor.order_id = agg.view.id;
  e.trade.aggressor.fee = Amount{taker_fee};
  e.trade.aggressor.leaves = agg.view.leaves();
  e.trade.aggressor.filled = agg.view.filled;
  e.trade.aggressor.account = agg.view.account;
  e.trade.passive.order_id = pas.view.id;
  e.trade.passive.fee = Amount{maker_fee};
  e.trade.passive.leaves = pas.view.leaves();
  e.trade.passive.filled = pas.view.filled;
  e.trade.passive.account = pas.view.account;
  e.trade.instrument = inst.spec.id;
  e.trade.aggressor_side = agg.view.side;
  out_->push_back(e);

  const bool agg_done = agg.view.leaves().value == 0;
  const bool pas_done = pas.view.leaves().value == 0;
  if (pas_done) remove_order(passive_id);  // invalidates the references above
  if (agg_done) remove_order(aggressor_id);
}

// While a pending stop of an instrument that traded in this command is
// triggerable, trigger the one with the smallest id and match it.
void ReferenceEngine::process_triggers() {
  for (;;) {
    Order* hit = nullptr;
    for (auto& o : orders_) {  // ascending id: the first hit is the smallest
      if (!o.view.pending_trigger || traded_.count(o.view.instrument.value) == 0) continue;
      const int64_t last = instruments_.at(o.view.instrument.value).last_price.value;
      const bool triggerable =
          o.view.side == Side::kBuy ? o.view.stop_price.value <= last : o.view.stop_price.value >= last;
      if (triggerable) {
        hit = &o;
        break;
      }
    }
    if (hit == nullptr) return;
    const Instrument& inst = instruments_.at(hit->view.instrument.value);
    hit->view.pending_trigger = false;
    Event e = make_event(EventType::kOrderTriggered);
    e.triggered.order_id = hit->view.id;
    e.triggered.last_price = inst.last_price;
    e.triggered.account = hit->view.account;
    e.triggered.instrument = hit->view.instrument;
    out_->push_back(e);
    const uint64_t id = hit->view.id.value;
    if (hit->view.type == OrderType::kStopLimit) {
      aggress(id, hit->view.price.value, false);
    } else {
      const int64_t protection =
          hit->view.side == Side::kBuy ? std::min(hit->hold_price.value, band_high(inst)) : band_low(inst);
      aggress(id, protection, true);
    }
  }
}

// --- CancelOrder / AmendOrder / CancelAll ----------------------------------------

void ReferenceEngine::cancel(const CancelOrder& c) {
  auto fail = [&](RejectReason r) { reject(r, c.client_order_id, c.order_id, c.account, InstrumentId{0}); };
  if (c.account.value == 0 || c.account.value >= config_.max_accounts) return fail(RejectReason::kInvalidAccount);
  if (accounts_.count(c.account.value) == 0) return fail(RejectReason::kUnknownAccount);
  const Order* found = nullptr;
  for (const auto& o : orders_) {
    if (o.view.account != c.account) continue;
    if (c.order_id.value != 0 ? o.view.id == c.order_id
                              : (!c.client_order_id.empty() && o.view.client_order_id == c.client_order_id)) {
      found = &o;
      break;
    }
  }
  if (found == nullptr) return fail(RejectReason::kOrderNotFound);
  cancel_order(found->view.id.value, CancelReason::kUserRequested);
}

void ReferenceEngine::amend(const AmendOrder& a) {
  Order* o = find_order(a.order_id.value);
  if (o != nullptr && o->view.account != a.account) o = nullptr;  // never reveal another account's order
  const InstrumentId rejected_instrument = o != nullptr ? o->view.instrument : InstrumentId{0};
  auto fail = [&](RejectReason r) { reject(r, {}, a.order_id, a.account, rejected_instrument); };

  // 1. account
  if (a.account.value == 0 || a.account.value >= config_.max_accounts) return fail(RejectReason::kInvalidAccount);
  const auto acct_it = accounts_.find(a.account.value);
  if (acct_it == accounts_.end()) return fail(RejectReason::kUnknownAccount);
  if (!acct_it->second.enabled) return fail(RejectReason::kAccountDisabled);
  // 2. order
  if (o == nullptr) return fail(RejectReason::kOrderNotFound);
  // 3. instrument status
  const Instrument& inst = instruments_.at(o->view.instrument.value);
  if (inst.spec.status == InstrumentStatus::kHalted) return fail(RejectReason::kInstrumentHalted);
  if (inst.spec.status == InstrumentStatus::kClosed) return fail(RejectReason::kInstrumentClosed);
  // 4. field shape
  if (a.new_price.value < 0 || a.new_stop_price.value < 0) return fail(RejectReason::kInvalidPrice);
  if (a.new_qty.value < 0) return fail(RejectReason::kQtyBelowMin);
  if (a.new_price.value != 0 && o->view.type == OrderType::kStopMarket) return fail(RejectReason::kInvalidAmend);
  if (a.new_stop_price.value != 0 && !o->view.pending_trigger) return fail(RejectReason::kInvalidAmend);
  const int64_t price = a.new_price.value != 0 ? a.new_price.value : o->view.price.value;
  const int64_t stop_price = a.new_stop_price.value != 0 ? a.new_stop_price.value : o->view.stop_price.value;
  const int64_t qty = a.new_qty.value != 0 ? a.new_qty.value : o->view.qty.value;
  const bool price_changed = price != o->view.price.value;
  const bool stop_changed = stop_price != o->view.stop_price.value;
  const bool qty_changed = qty != o->view.qty.value;
  if (!price_changed && !stop_changed && !qty_changed) return fail(RejectReason::kInvalidAmend);
  // 5. tick
  const int64_t tick = inst.spec.tick_size.value;
  if (price % tick != 0 || stop_price % tick != 0) return fail(RejectReason::kInvalidTick);
  // 6. quantity
  if (qty <= o->view.filled.value) return fail(RejectReason::kInvalidAmend);
  if (qty < inst.spec.min_qty.value) return fail(RejectReason::kQtyBelowMin);
  if (qty > inst.spec.max_qty.value) return fail(RejectReason::kQtyAboveMax);
  if (qty % inst.spec.lot_size.value != 0) return fail(RejectReason::kInvalidLot);
  // 7. band
  if (price_changed && (price < band_low(inst) || price > band_high(inst))) {
    return fail(RejectReason::kPriceOutOfBand);
  }
  // 8. stop would trigger now
  const int64_t ref = reference_price(inst);
  if (stop_changed && (o->view.side == Side::kBuy ? stop_price <= ref : stop_price >= ref)) {
    return fail(RejectReason::kStopWouldTriggerImmediately);
  }
  // 9. notional
  if (has_limit_price(o->view.type)) {
    const auto n = notional(inst, price, qty);
    if (!n) return fail(RejectReason::kOverflow);
    if (resting_qty(o->view.instrument.value, o->view.side, price, o->view.id.value) + (qty - o->view.filled.value) >
        INT64_MAX) {
      return fail(RejectReason::kOverflow);
    }
    if (*n < inst.spec.min_notional.value) return fail(RejectReason::kNotionalBelowMin);
  }
  // 10. post-only
  if (o->view.post_only && price_changed) {
    const auto opp = best_price(o->view.instrument.value, opposite(o->view.side));
    if (opp && acceptable(o->view.side, *opp, price)) return fail(RejectReason::kPostOnlyWouldTake);
  }
  // 11. hold
  const int64_t leaves = qty - o->view.filled.value;
  int64_t hold = leaves;
  int64_t hold_price = 0;
  if (o->view.side == Side::kBuy) {
    if (o->view.type == OrderType::kStopMarket) {
      const auto hp = stop_market_hold_price(inst, stop_price);
      if (!hp) return fail(RejectReason::kOverflow);
      hold_price = *hp;
    } else {
      hold_price = price;
    }
    const auto h = buy_hold(inst, hold_price, leaves);
    if (!h) return fail(RejectReason::kOverflow);
    hold = *h;
  }
  Balance& b = bal(o->view.account.value, o->view.hold_asset.value);
  const int64_t delta = hold - o->view.hold.value;
  if (delta > b.available.value) return fail(RejectReason::kInsufficientFunds);

  // Applied.
  const bool priority_kept = !price_changed && !stop_changed && qty < o->view.qty.value;
  b.available -= Amount{delta};
  b.locked += Amount{delta};
  o->view.price = Price{price};
  o->view.stop_price = Price{stop_price};
  o->view.qty = Qty{qty};
  o->view.hold = Amount{hold};
  o->hold_price = Price{hold_price};
  Event e = make_event(EventType::kOrderAmended);
  e.amended.order_id = o->view.id;
  e.amended.price = o->view.price;
  e.amended.stop_price = o->view.stop_price;
  e.amended.qty = o->view.qty;
  e.amended.leaves = o->view.leaves();
  e.amended.hold = o->view.hold;
  e.amended.hold_price = o->hold_price;
  e.amended.account = o->view.account;
  e.amended.instrument = o->view.instrument;
  e.amended.priority_kept = priority_kept ? 1 : 0;
  out_->push_back(e);

  // A pending stop stays pending; a resting order that lost its place
  // re-enters as an aggressor at its (new) price.
  if (o->view.pending_trigger || priority_kept) return;
  aggress(o->view.id.value, price, false);
  process_triggers();
}

void ReferenceEngine::cancel_all(const CancelAll& c) {
  auto fail = [&](RejectReason r) { reject(r, {}, OrderId{0}, c.account, c.instrument); };
  if (c.account.value == 0 || c.account.value >= config_.max_accounts) return fail(RejectReason::kInvalidAccount);
  if (accounts_.count(c.account.value) == 0) return fail(RejectReason::kUnknownAccount);
  if (c.instrument.value != 0 && instruments_.count(c.instrument.value) == 0) {
    return fail(RejectReason::kUnknownInstrument);
  }
  std::vector<uint64_t> ids;
  for (const auto& o : orders_) {
    if (o.view.account == c.account && (c.instrument.value == 0 || o.view.instrument == c.instrument)) {
      ids.push_back(o.view.id.value);
    }
  }
  for (uint64_t id : ids) cancel_order(id, CancelReason::kCancelAll);
}

// --- Deposit / Withdraw ------------------------------------------------------------

void ReferenceEngine::transfer(const Transfer& t, bool deposit) {
  auto fail = [&](RejectReason r) { reject(r, {}, OrderId{0}, t.account, InstrumentId{0}); };
  if (t.account.value >= config_.max_accounts) return fail(RejectReason::kInvalidAccount);
  if (t.account != kFeeAccount && accounts_.count(t.account.value) == 0) return fail(RejectReason::kUnknownAccount);
  if (assets_.count(t.asset.value) == 0) return fail(RejectReason::kUnknownAsset);
  if (t.amount.value <= 0) return fail(RejectReason::kInvalidAmount);
  int64_t& supply = supply_[t.asset.value];
  Balance& b = bal(t.account.value, t.asset.value);
  if (deposit) {
    if (supply > INT64_MAX - t.amount.value) return fail(RejectReason::kOverflow);
    supply += t.amount.value;
    b.available += t.amount;
  } else {
    if (t.amount > b.available) return fail(RejectReason::kInsufficientFunds);
    supply -= t.amount.value;
    b.available -= t.amount;
  }
  Event e = make_event(EventType::kTransferCompleted);
  e.transfer.amount = t.amount;
  e.transfer.account = t.account;
  e.transfer.asset = t.asset;
  e.transfer.is_deposit = deposit ? 1 : 0;
  out_->push_back(e);
}

// --- admin -----------------------------------------------------------------------------

void ReferenceEngine::add_asset(const AssetSpec& a) {
  auto fail = [&](RejectReason r) { reject(r, {}, OrderId{0}, AccountId{0}, InstrumentId{0}); };
  if (a.id.value == 0 || a.id.value >= config_.max_assets) return fail(RejectReason::kCapacityExceeded);
  if (assets_.count(a.id.value) != 0) return fail(RejectReason::kDuplicateAsset);
  if (a.code.empty() || a.scale < 0 || a.scale > 18) return fail(RejectReason::kInvalidCommand);
  assets_[a.id.value] = a;
  Event e = make_event(EventType::kAssetAdded);
  e.asset_added = a;
  out_->push_back(e);
}

void ReferenceEngine::add_instrument(const InstrumentSpec& s) {
  auto fail = [&](RejectReason r) { reject(r, {}, OrderId{0}, AccountId{0}, s.id); };
  if (s.id.value == 0 || s.id.value >= config_.max_instruments) return fail(RejectReason::kCapacityExceeded);
  if (instruments_.count(s.id.value) != 0) return fail(RejectReason::kDuplicateInstrument);
  for (const auto& [id, inst] : instruments_) {
    if (inst.spec.symbol == s.symbol) return fail(RejectReason::kDuplicateInstrument);
  }
  const auto base_it = assets_.find(s.base.value);
  const auto quote_it = assets_.find(s.quote.value);
  if (base_it == assets_.end() || quote_it == assets_.end()) return fail(RejectReason::kUnknownAsset);

  const int exponent = s.price_scale + base_it->second.scale - quote_it->second.scale;
  bool ok = !s.symbol.empty() && s.base != s.quote && s.tick_size.value > 0 && s.lot_size.value > 0 &&
            s.min_qty >= s.lot_size && s.min_qty.value % s.lot_size.value == 0 && s.max_qty >= s.min_qty &&
            s.min_notional.value >= 0 && s.price_scale >= 0 && s.price_scale <= 18 && exponent >= 0 && exponent <= 18;
  if (ok) {
    const I128 product = static_cast<I128>(s.tick_size.value) * s.lot_size.value;
    ok = product % pow10_wide(exponent) == 0;
  }
  ok = ok && s.reference_price.value > 0 && s.reference_price.value % s.tick_size.value == 0 && s.band_bps >= 1 &&
       s.band_bps <= 10000 && s.maker_fee_ppm >= 0 && s.maker_fee_ppm <= 100000 && s.taker_fee_ppm >= 0 &&
       s.taker_fee_ppm <= 100000 && valid_status(s.status) && s.external <= 1;
  if (!ok) return fail(RejectReason::kInvalidInstrument);

  Instrument inst;
  inst.spec = s;
  inst.divisor = static_cast<int64_t>(pow10_wide(exponent));
  instruments_[s.id.value] = inst;
  Event e = make_event(EventType::kInstrumentAdded);
  e.instrument_added = s;
  out_->push_back(e);
}

void ReferenceEngine::set_instrument_status(const SetInstrumentStatus& s) {
  auto fail = [&](RejectReason r) { reject(r, {}, OrderId{0}, AccountId{0}, s.instrument); };
  const auto it = instruments_.find(s.instrument.value);
  if (it == instruments_.end()) return fail(RejectReason::kUnknownInstrument);
  if (!valid_status(s.status)) return fail(RejectReason::kInvalidCommand);
  it->second.spec.status = s.status;
  Event e = make_event(EventType::kInstrumentStatusChanged);
  e.instrument_status.instrument = s.instrument;
  e.instrument_status.status = s.status;
  out_->push_back(e);
  if (s.status != InstrumentStatus::kClosed) return;
  std::vector<uint64_t> ids;
  for (const auto& o : orders_) {
    if (o.view.instrument == s.instrument) ids.push_back(o.view.id.value);
  }
  for (uint64_t id : ids) cancel_order(id, CancelReason::kInstrumentClosed);
}

void ReferenceEngine::configure_account(const ConfigureAccount& c) {
  auto fail = [&](RejectReason r) { reject(r, {}, OrderId{0}, c.account, InstrumentId{0}); };
  if (c.account.value == 0 || c.account.value >= config_.max_accounts) return fail(RejectReason::kInvalidAccount);
  const auto stp = static_cast<uint8_t>(c.default_stp);
  if (stp < 1 || stp > 3) return fail(RejectReason::kInvalidCommand);
  Account& acct = accounts_[c.account.value];  // created enabled, or updated (enabled unchanged)
  acct.default_stp = c.default_stp;
  acct.max_open_orders = c.max_open_orders != 0 ? c.max_open_orders : config_.default_max_open_orders;
  Event e = make_event(EventType::kAccountConfigured);
  e.account_configured.account = c.account;
  e.account_configured.max_open_orders = acct.max_open_orders;
  e.account_configured.default_stp = c.default_stp;
  out_->push_back(e);
}

void ReferenceEngine::set_account_enabled(const SetAccountEnabled& s) {
  auto fail = [&](RejectReason r) { reject(r, {}, OrderId{0}, s.account, InstrumentId{0}); };
  if (s.account.value == 0 || s.account.value >= config_.max_accounts) return fail(RejectReason::kInvalidAccount);
  const auto it = accounts_.find(s.account.value);
  if (it == accounts_.end()) return fail(RejectReason::kUnknownAccount);
  if (s.enabled > 1) return fail(RejectReason::kInvalidCommand);
  it->second.enabled = s.enabled == 1;
  Event e = make_event(EventType::kAccountStatusChanged);
  e.account_status.account = s.account;
  e.account_status.enabled = s.enabled;
  out_->push_back(e);
  if (s.enabled == 1) return;
  std::vector<uint64_t> ids;
  for (const auto& o : orders_) {
    if (o.view.account == s.account) ids.push_back(o.view.id.value);
  }
  for (uint64_t id : ids) cancel_order(id, CancelReason::kAccountDisabled);
}

// --- ExternalTrade ----------------------------------------------------------------

void ReferenceEngine::external_trade(const ExternalTrade& t) {
  auto fail = [&](RejectReason r) { reject(r, {}, OrderId{0}, AccountId{0}, t.instrument); };
  const auto it = instruments_.find(t.instrument.value);
  if (it == instruments_.end()) return fail(RejectReason::kUnknownInstrument);
  Instrument& inst = it->second;
  if (!inst.spec.external) return fail(RejectReason::kNotExternal);
  if (!valid_side(t.aggressor_side) || t.time <= 0) return fail(RejectReason::kInvalidExternalTrade);
  if (t.price.value <= 0) return fail(RejectReason::kInvalidPrice);
  if (t.price.value % inst.spec.tick_size.value != 0) return fail(RejectReason::kInvalidTick);
  if (t.qty.value <= 0 || t.qty.value % inst.spec.lot_size.value != 0) return fail(RejectReason::kInvalidLot);
  const auto n = notional(inst, t.price.value, t.qty.value);
  if (!n) return fail(RejectReason::kOverflow);
  Event e = make_event(EventType::kExternalTradeApplied);
  e.external_trade.trade_id = TradeId{next_trade_id_++};
  e.external_trade.price = t.price;
  e.external_trade.qty = t.qty;
  e.external_trade.notional = Amount{*n};
  e.external_trade.time = t.time;
  e.external_trade.instrument = t.instrument;
  e.external_trade.aggressor_side = t.aggressor_side;
  out_->push_back(e);
  inst.last_price = t.price;
}

void ReferenceEngine::expire_day_orders(const ExpireDayOrders& x) {
  auto fail = [&](RejectReason r) { reject(r, {}, OrderId{0}, AccountId{0}, x.instrument); };
  if (x.instrument.value != 0 && instruments_.count(x.instrument.value) == 0) {
    return fail(RejectReason::kUnknownInstrument);
  }
  std::vector<uint64_t> ids;
  for (const auto& o : orders_) {
    if (o.view.tif == TimeInForce::kDay && (x.instrument.value == 0 || o.view.instrument == x.instrument)) {
      ids.push_back(o.view.id.value);
    }
  }
  for (uint64_t id : ids) expire_order(id, ExpireReason::kDay);
}

// --- queries ------------------------------------------------------------------------------

Balance ReferenceEngine::balance(AccountId account, AssetId asset) const {
  const auto it = balances_.find({account.value, asset.value});
  return it == balances_.end() ? Balance{} : it->second;
}

std::vector<LevelView> ReferenceEngine::depth(InstrumentId instrument, Side side) const {
  std::map<int64_t, LevelView> by_price;
  for (const auto& o : orders_) {
    if (o.view.instrument != instrument || o.view.side != side || o.view.pending_trigger) continue;
    LevelView& l = by_price[o.view.price.value];
    l.price = o.view.price;
    l.qty += o.view.leaves();
    l.order_count += 1;
  }
  std::vector<LevelView> out;
  for (const auto& [price, level] : by_price) out.push_back(level);
  if (side == Side::kBuy) std::reverse(out.begin(), out.end());  // best (highest) bid first
  return out;
}

I128 ReferenceEngine::resting_qty(uint32_t instrument, Side side, int64_t price, uint64_t exclude_id) const {
  I128 sum = 0;
  for (const auto& o : orders_) {
    if (o.view.instrument.value != instrument || o.view.side != side || o.view.pending_trigger) continue;
    if (o.view.price.value != price || o.view.id.value == exclude_id) continue;
    sum += o.view.leaves().value;
  }
  return sum;
}

std::vector<OrderView> ReferenceEngine::orders() const {
  std::vector<OrderView> out;
  out.reserve(orders_.size());
  for (const auto& o : orders_) out.push_back(o.view);
  return out;
}

std::vector<AssetSpec> ReferenceEngine::assets() const {
  std::vector<AssetSpec> out;
  for (const auto& [id, a] : assets_) out.push_back(a);
  return out;
}

std::vector<InstrumentView> ReferenceEngine::instruments() const {
  std::vector<InstrumentView> out;
  for (const auto& [id, inst] : instruments_) {
    InstrumentView v{};
    v.spec = inst.spec;
    v.last_price = inst.last_price;
    v.band_low = Price{band_low(inst)};
    v.band_high = Price{band_high(inst)};
    v.notional_divisor = Amount{inst.divisor};
    out.push_back(v);
  }
  return out;
}

std::vector<AccountView> ReferenceEngine::accounts() const {
  std::vector<AccountView> out;
  for (const auto& [id, acct] : accounts_) {
    AccountView v{};
    v.id = AccountId{id};
    v.enabled = acct.enabled;
    v.default_stp = acct.default_stp;
    v.max_open_orders = acct.max_open_orders;
    v.open_orders = live_orders_of(id);
    out.push_back(v);
  }
  return out;
}

}  // namespace bourse::testing

#include "engine/random_commands.h"

#include <algorithm>
#include <climits>

namespace bourse::testing {
namespace {

__extension__ using I128 = __int128;

constexpr Timestamp kStartTime = 1'700'000'000'000'000'000;
constexpr int64_t kMillisecond = 1'000'000;
constexpr uint32_t kUnknownInstrument = 77;
constexpr uint32_t kUnknownAccount = 150;

uint64_t balance_key(uint32_t account, uint32_t asset) { return (static_cast<uint64_t>(account) << 32) | asset; }

AssetSpec make_asset(uint32_t id, const char* code, int32_t scale) {
  AssetSpec a;
  a.code = AssetCode::from(code);
  a.id = AssetId{id};
  a.scale = scale;
  return a;
}

struct InstrumentTemplate {
  const char* symbol;
  uint32_t base;
  uint32_t quote;
  int32_t price_scale;
  int64_t tick;
  int64_t lot;
  int64_t min_qty;
  int64_t max_qty;
  int64_t min_notional;
  int64_t reference_price;
  int32_t band_bps;
  int32_t maker_ppm;
  int32_t taker_ppm;
};

// Assets: 1 BTC (8), 2 USD (6), 3 ETH (18), 4 ACME (0), 5 EUR (2).
// D = 10^(price_scale + base_scale - quote_scale): BTC-USD 10^4, ETH-USD 10^14,
// ACME-EUR 1, ETH-BTC 10^16.
constexpr InstrumentTemplate kCatalogue[] = {
    // 0.001 BTC lots at 30000.00 USD, tick 0.50.
    {"BTC-USD", 1, 2, 2, 50, 100'000, 200'000, 1'000'000'000, 1'000'000, 3'000'000, 500, 100, 250},
    // 0.00001 ETH lots at 2000.00 USD, tick 1.00, no maker fee. max_qty is kept
    // small: a bid level's total quantity is not bounded by the ETH supply, and
    // a few orders near INT64_MAX at one price would overflow it (see the report).
    {"ETH-USD", 3, 2, 2, 100, 10'000'000'000'000, 10'000'000'000'000, 10'000'000'000'000'000, 0, 200'000, 1000, 0, 500},
    // Shares at 100.00 EUR, tick 0.05; max_qty large enough for notional overflow.
    {"ACME-EUR", 4, 5, 2, 5, 1, 1, 1'000'000'000'000'000, 30'000, 10'000, 1000, 250, 700},
    // 0.0001 ETH lots at 0.050000 BTC, tick 0.0001, narrow band; small max_qty as above.
    {"ETH-BTC", 3, 1, 6, 100, 100'000'000'000'000, 100'000'000'000'000, 20'000'000'000'000'000, 1'000, 50'000, 300,
     1000, 3000},
};

InstrumentSpec make_instrument(uint32_t id, const InstrumentTemplate& t) {
  InstrumentSpec s;
  s.symbol = Symbol::from(t.symbol);
  s.tick_size = Price{t.tick};
  s.lot_size = Qty{t.lot};
  s.min_qty = Qty{t.min_qty};
  s.max_qty = Qty{t.max_qty};
  s.min_notional = Amount{t.min_notional};
  s.reference_price = Price{t.reference_price};
  s.id = InstrumentId{id};
  s.base = AssetId{t.base};
  s.quote = AssetId{t.quote};
  s.price_scale = t.price_scale;
  s.band_bps = t.band_bps;
  s.maker_fee_ppm = t.maker_ppm;
  s.taker_fee_ppm = t.taker_ppm;
  s.status = InstrumentStatus::kTrading;
  return s;
}

bool resting_tif(TimeInForce t) { return t == TimeInForce::kGtc || t == TimeInForce::kDay || t == TimeInForce::kGtd; }

}  // namespace

RandomCommandGenerator::RandomCommandGenerator(uint64_t seed, RandomCommandConfig config)
    : config_(config), rng_(seed), now_(kStartTime) {
  config_.instruments = std::clamp<uint32_t>(config_.instruments, 1, 4);
  config_.accounts = std::clamp<uint32_t>(config_.accounts, 2, 100);
}

// --- randomness ------------------------------------------------------------------------

uint64_t RandomCommandGenerator::below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
int64_t RandomCommandGenerator::range(int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
}
bool RandomCommandGenerator::chance(double p) { return static_cast<double>(rng_() >> 11) * 0x1.0p-53 < p; }

// --- helpers ------------------------------------------------------------------------------

Command RandomCommandGenerator::stamp(Command c) {
  c.header.seq = ++seq_;
  // Small steps; now and then a longer pause so that many GTD orders expire at once.
  now_ += chance(0.005) ? range(1, 1000 * kMillisecond) : range(1, 2 * kMillisecond);
  c.header.timestamp = now_;
  c.header.correlation = rng_();
  c.header.source = static_cast<uint16_t>(below(4));
  return c;
}

uint32_t RandomCommandGenerator::pick_account() {
  if (chance(0.97)) return static_cast<uint32_t>(range(1, config_.accounts));
  switch (below(3)) {
    case 0:
      return 0;
    case 1:
      return kUnknownAccount;
    default:
      return config_.engine.max_accounts + static_cast<uint32_t>(below(3));
  }
}

uint32_t RandomCommandGenerator::pick_instrument() {
  if (chance(0.985)) return static_cast<uint32_t>(range(1, static_cast<int64_t>(instruments_.size())));
  return chance(0.5) ? 0 : kUnknownInstrument;
}

const RandomCommandGenerator::InstrumentInfo* RandomCommandGenerator::instrument(uint32_t id) const {
  for (const auto& i : instruments_) {
    if (i.spec.id.value == id) return &i;
  }
  return nullptr;
}

int64_t RandomCommandGenerator::reference(const InstrumentInfo& inst) const {
  return inst.last_price != 0 ? inst.last_price : inst.spec.reference_price.value;
}

// The band as docs/engine.md defines it (only used to aim prices).
int64_t RandomCommandGenerator::band_low(const InstrumentInfo& inst) const {
  const I128 tick = inst.spec.tick_size.value;
  const I128 num = static_cast<I128>(reference(inst)) * (10000 - inst.spec.band_bps);
  const I128 d = tick * 10000;
  return static_cast<int64_t>(std::max((num + d - 1) / d * tick, tick));
}
int64_t RandomCommandGenerator::band_high(const InstrumentInfo& inst) const {
  const I128 tick = inst.spec.tick_size.value;
  const I128 num = static_cast<I128>(reference(inst)) * (10000 + inst.spec.band_bps);
  return static_cast<int64_t>(std::min<I128>(num / (tick * 10000) * tick, INT64_MAX / 2));
}

// Quantity in lots: mostly small, sometimes large enough to exhaust funds.
int64_t RandomCommandGenerator::lots(const InstrumentInfo& inst) {
  const int64_t min_lots = inst.spec.min_qty.value / inst.spec.lot_size.value;
  const uint64_t r = below(100);
  int64_t n = 0;
  if (r < 60) {
    n = range(1, 10);
  } else if (r < 90) {
    n = range(10, 60);
  } else if (r < 98) {
    n = range(60, 300);
  } else {
    n = range(1000, 100000);
  }
  return std::max(n, min_lots);
}

const RandomCommandGenerator::LiveOrder* RandomCommandGenerator::best_opposite(uint32_t instrument_id,
                                                                               Side side) const {
  const LiveOrder* best = nullptr;
  for (const auto& o : live_) {
    if (o.instrument != instrument_id || o.side == side || o.pending) continue;
    if (best == nullptr) {
      best = &o;
      continue;
    }
    const bool better = o.side == Side::kBuy ? o.price > best->price : o.price < best->price;
    if (better || (o.price == best->price && o.id < best->id)) best = &o;
  }
  return best;
}

const RandomCommandGenerator::LiveOrder* RandomCommandGenerator::random_live(bool same_account_only, uint32_t account) {
  if (live_.empty()) return nullptr;
  if (!same_account_only) return &live_[below(live_.size())];
  std::vector<const LiveOrder*> mine;
  for (const auto& o : live_) {
    if (o.account == account) mine.push_back(&o);
  }
  return mine.empty() ? nullptr : mine[below(mine.size())];
}

ClientOrderId RandomCommandGenerator::fresh_client_id(AccountInfo& account) {
  return ClientOrderId::from("c" + std::to_string(account.id) + "-" + std::to_string(account.next_client_id++));
}

// A balance an account can trade comfortably with (several orders' worth).
int64_t RandomCommandGenerator::comfortable_balance(uint32_t asset) const {
  switch (asset) {
    case 1:
      return 50'000'000;  // 0.5 BTC
    case 2:
      return 20'000'000'000;  // 20,000 USD
    case 3:
      return 50'000'000'000'000'000;  // 0.05 ETH
    case 4:
      return 20'000;  // shares
    case 5:
      return 50'000'000;  // 500,000 EUR
    default:
      return 1'000'000;
  }
}

int64_t RandomCommandGenerator::available(uint32_t account, uint32_t asset) const {
  const auto it = available_.find(balance_key(account, asset));
  return it == available_.end() ? 0 : it->second;
}

void RandomCommandGenerator::remove_live(uint64_t id) {
  const auto it = live_index_.find(id);
  if (it == live_index_.end()) return;
  const std::size_t i = it->second;
  const LiveOrder& o = live_[i];
  if (!o.client_order_id.empty()) {
    for (auto& a : accounts_) {
      if (a.id != o.account) continue;
      a.dead_client_ids.push_back(o.client_order_id);
      if (a.dead_client_ids.size() > 16) a.dead_client_ids.erase(a.dead_client_ids.begin());
    }
  }
  live_index_.erase(it);
  if (i + 1 != live_.size()) {
    live_[i] = live_.back();
    live_index_[live_[i].id] = i;
  }
  live_.pop_back();
}

// --- setup -------------------------------------------------------------------------------

std::vector<Command> RandomCommandGenerator::setup() {
  std::vector<Command> out;
  assets_ = {make_asset(1, "BTC", 8), make_asset(2, "USD", 6), make_asset(3, "ETH", 18), make_asset(4, "ACME", 0),
             make_asset(5, "EUR", 2)};
  for (const auto& a : assets_) out.push_back(stamp(Command::add_asset(a)));

  for (uint32_t i = 0; i < config_.instruments; ++i) {
    InstrumentInfo info;
    info.spec = make_instrument(i + 1, kCatalogue[i]);
    instruments_.push_back(info);
    out.push_back(stamp(Command::add_instrument(info.spec)));
  }
  // An external instrument (ACME shares traded elsewhere): no orders, its
  // trades arrive as ExternalTrade commands.
  InstrumentSpec external = make_instrument(kExternalInstrument, kCatalogue[2]);
  external.symbol = Symbol::from("ACME-EXT");
  external.external = 1;
  out.push_back(stamp(Command::add_instrument(external)));

  for (uint32_t id = 1; id <= config_.accounts; ++id) {
    AccountInfo a;
    a.id = id;
    a.default_stp = static_cast<StpMode>(1 + id % 3);
    // The last account (last two when there are many) has a tiny limit, the
    // first three use the engine default.
    const uint32_t tiny = config_.accounts >= 6 ? 2 : 1;
    a.max_open_orders = id + tiny > config_.accounts ? 3 : (id <= 3 ? 0 : 30);
    accounts_.push_back(a);
    ConfigureAccount c;
    c.account = AccountId{id};
    c.max_open_orders = a.max_open_orders;
    c.default_stp = a.default_stp;
    out.push_back(stamp(Command::configure_account(c)));
  }

  for (uint32_t id = 1; id <= config_.accounts; ++id) {
    for (const auto& asset : assets_) {
      // Every fifth account is poor: insufficient funds happen naturally.
      const int64_t c = comfortable_balance(asset.id.value);
      Transfer t;
      t.account = AccountId{id};
      t.asset = asset.id;
      t.amount = Amount{id % 5 == 0 ? c / 20 : range(c / 2, c * 2)};
      out.push_back(stamp(Command::deposit(t)));
    }
  }
  return out;
}

// --- next ---------------------------------------------------------------------------------

Command RandomCommandGenerator::next() {
  // Halts and disabled accounts do not last long.
  for (auto& inst : instruments_) {
    if (inst.status != InstrumentStatus::kTrading && chance(0.04)) {
      SetInstrumentStatus s;
      s.instrument = inst.spec.id;
      s.status = InstrumentStatus::kTrading;
      return stamp(Command::set_instrument_status(s));
    }
  }
  for (auto& a : accounts_) {
    if (!a.enabled && chance(0.03)) {
      SetAccountEnabled s;
      s.account = AccountId{a.id};
      s.enabled = 1;
      return stamp(Command::set_account_enabled(s));
    }
  }

  // Weights per 10,000; the order matches the switch below.
  // Cancels grow with the book up to the target, then dominate.
  const int target = static_cast<int>(std::max<uint32_t>(config_.target_live_orders, 1));
  const int live = static_cast<int>(live_.size());
  int cancel_weight = live > target ? 2800 : 300 + 700 * live / target;
  int place_weight = 7440 - cancel_weight;
  const int weights[] = {place_weight, cancel_weight, 1300, 60, 450, 300, 350, 15, 30, 10, 25, 20, 120};
  int total = 0;
  for (int w : weights) total += w;
  int r = static_cast<int>(below(static_cast<uint64_t>(total)));
  int kind = 0;
  while (r >= weights[kind]) r -= weights[kind++];

  switch (kind) {
    case 0:
      return stamp(gen_place());
    case 1:
      return stamp(gen_cancel());
    case 2:
      return stamp(gen_amend());
    case 3:
      return stamp(gen_cancel_all());
    case 4:
      return stamp(gen_deposit());
    case 5:
      return stamp(gen_withdraw());
    case 6:
      return stamp(Command::heartbeat());
    case 7: {
      ExpireDayOrders e;
      e.instrument = InstrumentId{chance(0.5) ? 0 : pick_instrument()};
      return stamp(Command::expire_day_orders(e));
    }
    case 8:
      return stamp(gen_status());
    case 9: {
      SetAccountEnabled s;
      s.account = AccountId{pick_account()};
      s.enabled = chance(0.9) ? 0 : (chance(0.5) ? 1 : 2);
      return stamp(Command::set_account_enabled(s));
    }
    case 10:
      return stamp(gen_configure());
    case 11:
      return stamp(gen_admin());
    default:
      return stamp(gen_external_trade());
  }
}

// Mostly valid ticks of the external instrument; now and then each rule broken.
Command RandomCommandGenerator::gen_external_trade() {
  ExternalTrade t{};
  const uint64_t where = below(100);
  t.instrument = InstrumentId{where < 88 ? kExternalInstrument : where < 94 ? pick_instrument() : kUnknownInstrument};
  const uint64_t price_roll = below(100);
  t.price = Price{price_roll < 90 ? range(1'000, 3'000) * 5 : price_roll < 94 ? range(1'000, 3'000) * 5 + 1
                  : price_roll < 97 ? -range(0, 5) * 5 : INT64_MAX / 5 * 5};
  const uint64_t qty_roll = below(100);
  t.qty = Qty{qty_roll < 92 ? range(1, 500) : qty_roll < 96 ? -range(0, 2) : INT64_MAX / 2};
  // In time order, as the ingest service delivers them (the engine itself takes any order).
  external_time_ += range(0, 2'000'000'000);
  t.time = chance(0.97) ? external_time_ : -range(0, 5);
  t.aggressor_side = chance(0.98) ? (chance(0.5) ? Side::kBuy : Side::kSell) : static_cast<Side>(range(0, 3) * 3);
  return Command::external_trade(t);
}

Command RandomCommandGenerator::gen_place() {
  PlaceOrder p;
  p.account = AccountId{pick_account()};
  p.instrument = InstrumentId{pick_instrument()};
  p.side = chance(0.5) ? Side::kBuy : Side::kSell;
  const bool buy = p.side == Side::kBuy;

  const uint64_t type_roll = below(100);
  p.type = type_roll < 52   ? OrderType::kLimit
           : type_roll < 67 ? OrderType::kMarket
           : type_roll < 83 ? OrderType::kStopLimit
                            : OrderType::kStopMarket;
  const uint64_t tif_roll = below(100);
  switch (p.type) {
    case OrderType::kLimit:
      p.tif = tif_roll < 35   ? TimeInForce::kGtc
              : tif_roll < 50 ? TimeInForce::kIoc
              : tif_roll < 62 ? TimeInForce::kFok
              : tif_roll < 80 ? TimeInForce::kDay
                              : TimeInForce::kGtd;
      break;
    case OrderType::kMarket:
      p.tif = tif_roll < 65 ? TimeInForce::kIoc : TimeInForce::kFok;
      break;
    case OrderType::kStopLimit:
      p.tif = tif_roll < 35   ? TimeInForce::kGtc
              : tif_roll < 55 ? TimeInForce::kDay
              : tif_roll < 80 ? TimeInForce::kGtd
              : tif_roll < 90 ? TimeInForce::kIoc
                              : TimeInForce::kFok;
      break;
    case OrderType::kStopMarket:
      p.tif = tif_roll < 40 ? TimeInForce::kGtc : tif_roll < 65 ? TimeInForce::kDay : TimeInForce::kGtd;
      break;
  }
  if (chance(0.015)) p.tif = static_cast<TimeInForce>(range(1, 5));  // may not suit the type

  // Prices are aimed with the instrument's parameters (instrument 1 for unknown ids).
  if (chance(0.01)) p.instrument = InstrumentId{kExternalInstrument};  // INSTRUMENT_EXTERNAL
  const InstrumentInfo* known = instrument(p.instrument.value);
  const InstrumentInfo& inst = known != nullptr ? *known : instruments_.front();
  const int64_t tick = inst.spec.tick_size.value;
  const int64_t last = reference(inst);
  // Mean reversion towards the spec's reference keeps prices positive and in range for long runs.
  const int64_t pull = (inst.spec.reference_price.value - last) / 10 / tick * tick;
  const int64_t center = std::max(last + pull, tick);
  auto clamp_price = [&](int64_t v) { return std::max(v, tick); };

  if (p.type == OrderType::kLimit) {
    // Passive prices spread over `price_spread_ticks` behind the center, aggressive ones cross it.
    const int64_t spread = std::max<int64_t>(config_.price_spread_ticks, 1);
    const int64_t ahead = spread * 3 / 10;
    const int64_t reach = std::max<int64_t>(spread * 8 / 10, 1);
    const bool aggressive = chance(0.18);
    const int64_t offset =
        aggressive ? (buy ? range(0, reach) : range(-reach, 0)) : (buy ? range(-spread, ahead) : range(-ahead, spread));
    p.price = Price{clamp_price(center + offset * tick)};
  }
  if (p.type == OrderType::kStopLimit || p.type == OrderType::kStopMarket) {
    int64_t distance = range(1, 6);
    if (chance(0.04)) distance = -range(0, 3);  // would trigger immediately
    p.stop_price = Price{clamp_price(buy ? last + distance * tick : last - distance * tick)};
    if (p.type == OrderType::kStopLimit) {
      const int64_t slack = range(-2, 4);
      p.price = Price{clamp_price(buy ? p.stop_price.value + slack * tick : p.stop_price.value - slack * tick)};
    }
  }
  // Capped at max_qty: 100,000 lots of 0.001 ETH would not fit in int64.
  const I128 wanted = static_cast<I128>(lots(inst)) * inst.spec.lot_size.value;
  p.qty = Qty{static_cast<int64_t>(std::min<I128>(wanted, inst.spec.max_qty.value))};

  // Aim at the best opposite order, often with the same account: trades and self-trade prevention.
  if ((p.type == OrderType::kLimit || p.type == OrderType::kMarket) && chance(0.12)) {
    if (const LiveOrder* target = best_opposite(p.instrument.value, p.side)) {
      if (chance(0.6)) p.account = AccountId{target->account};
      if (p.type == OrderType::kLimit) p.price = Price{target->price};
    }
  }

  // Deliberate mistakes, each rare.
  const InstrumentSpec& spec = inst.spec;
  if (chance(0.015) && tick > 1) {
    if (p.price.value != 0) {
      p.price.value += tick / 2;
    } else if (p.stop_price.value != 0) {
      p.stop_price.value += 1;
    }
  }
  if (chance(0.015) && p.price.value != 0) {
    p.price = Price{chance(0.5) ? band_high(inst) + tick * range(1, 20)
                                : std::max(band_low(inst) - tick * range(1, 20), tick)};
  }
  if (chance(0.008) && p.price.value != 0) p.price = Price{chance(0.5) ? 0 : -tick};
  if (chance(0.008)) p.stop_price = Price{chance(0.5) ? -tick : 0};
  if (chance(0.008) && p.type == OrderType::kMarket) p.price = Price{center};
  if (chance(0.008) && p.type == OrderType::kLimit) p.stop_price = Price{center};
  if (chance(0.01) && spec.lot_size.value > 1) p.qty.value += spec.lot_size.value / 2;
  if (chance(0.01)) p.qty = Qty{chance(0.5) ? spec.min_qty.value - spec.lot_size.value : -spec.lot_size.value};
  if (chance(0.005)) p.qty = Qty{spec.max_qty.value + spec.lot_size.value};
  if (chance(0.004)) p.qty = spec.max_qty;  // notional or hold overflow where the catalogue allows it
  if (chance(0.004)) p.side = static_cast<Side>(3);
  if (chance(0.003)) p.type = static_cast<OrderType>(range(5, 9));
  if (chance(0.003)) p.tif = static_cast<TimeInForce>(range(6, 9));

  // Post-only mostly where it is allowed.
  if (p.type == OrderType::kLimit && resting_tif(p.tif) && chance(0.12)) p.post_only = 1;
  if (chance(0.006)) p.post_only = static_cast<uint8_t>(chance(0.7) ? 1 : 2);

  const uint64_t stp_roll = below(100);
  p.stp = stp_roll < 65 ? StpMode::kAccountDefault : static_cast<StpMode>(range(1, 3));
  if (chance(0.003)) p.stp = static_cast<StpMode>(range(4, 7));

  if (p.tif == TimeInForce::kGtd) {
    p.expire_at = chance(0.02) ? now_ - range(0, kMillisecond) : now_ + range(kMillisecond, 3000 * kMillisecond);
    // stamp() moves the clock after this: expire_at <= now_ is refused, > now_ + 2 ms accepted.
  } else if (chance(0.01)) {
    p.expire_at = now_ + range(1, 1000) * kMillisecond;
  }

  // Client order ids: fresh, empty, a live one (duplicate) or a finished one (reusable).
  AccountInfo* acct = nullptr;
  for (auto& a : accounts_) {
    if (a.id == p.account.value) acct = &a;
  }
  const uint64_t cid_roll = below(100);
  if (cid_roll < 20 || acct == nullptr) {
    // empty
  } else if (cid_roll < 28) {
    const LiveOrder* mine = random_live(true, acct->id);
    p.client_order_id = mine != nullptr ? mine->client_order_id : fresh_client_id(*acct);
  } else if (cid_roll < 32 && !acct->dead_client_ids.empty()) {
    p.client_order_id = acct->dead_client_ids[below(acct->dead_client_ids.size())];
  } else {
    p.client_order_id = fresh_client_id(*acct);
  }
  return Command::place_order(p);
}

Command RandomCommandGenerator::gen_cancel() {
  CancelOrder c;
  const uint64_t roll = below(100);
  const LiveOrder* o = random_live(false, 0);
  if (o != nullptr && roll < 65) {
    c.account = AccountId{o->account};
    c.order_id = OrderId{o->id};
  } else if (o != nullptr && roll < 80) {
    // By client order id (an empty one is not found).
    c.account = AccountId{o->account};
    c.client_order_id = o->client_order_id;
  } else if (o != nullptr && roll < 87) {
    // Somebody else's order: ORDER_NOT_FOUND.
    c.account = AccountId{static_cast<uint32_t>(o->account % config_.accounts + 1)};
    c.order_id = OrderId{o->id};
  } else if (roll < 94) {
    c.account = AccountId{pick_account()};
    c.order_id = OrderId{chance(0.5) ? highest_order_id_ + range(1, 100)
                                     : static_cast<uint64_t>(range(1, static_cast<int64_t>(highest_order_id_) + 1))};
  } else {
    c.account = AccountId{pick_account()};
    c.client_order_id = ClientOrderId::from(chance(0.5) ? "nope" : "c1-1");
  }
  return Command::cancel_order(c);
}

Command RandomCommandGenerator::gen_amend() {
  AmendOrder a;
  const LiveOrder* o = random_live(false, 0);
  if (o == nullptr || chance(0.04)) {
    a.account = AccountId{pick_account()};
    a.order_id = OrderId{highest_order_id_ + range(0, 5)};
    a.new_qty = Qty{range(1, 10)};
    return Command::amend_order(a);
  }
  const InstrumentInfo* inst = instrument(o->instrument);
  const int64_t tick = inst->spec.tick_size.value;
  const int64_t lot = inst->spec.lot_size.value;
  const int64_t leaves_lots = (o->qty - o->filled) / lot;
  a.account = AccountId{chance(0.96) ? o->account : o->account % config_.accounts + 1};
  a.order_id = OrderId{o->id};
  const bool priced = o->type == OrderType::kLimit || o->type == OrderType::kStopLimit;

  const uint64_t roll = below(100);
  if (roll < 28) {
    // Quantity down: keeps priority.
    a.new_qty = Qty{o->filled + lot * std::max<int64_t>(1, range(1, std::max<int64_t>(1, leaves_lots - 1)))};
    if (a.new_qty.value >= o->qty) a.new_qty = Qty{o->qty - lot};
  } else if (roll < 46) {
    a.new_qty = Qty{o->qty + lot * range(1, 20)};
  } else if (roll < 70 && priced) {
    const int64_t step = range(1, 6) * tick;
    a.new_price = Price{std::max(tick, chance(0.5) ? o->price + step : o->price - step)};
    if (chance(0.3)) a.new_qty = Qty{o->qty + lot * range(-2, 3)};
  } else if (roll < 82 && o->pending) {
    const InstrumentInfo& info = *inst;
    const int64_t last = reference(info);
    const int64_t distance = chance(0.9) ? range(1, 6) : -range(0, 2);
    a.new_stop_price = Price{std::max(tick, o->side == Side::kBuy ? last + distance * tick : last - distance * tick)};
    if (o->type == OrderType::kStopLimit && chance(0.5)) {
      a.new_price = Price{std::max(tick, o->side == Side::kBuy ? a.new_stop_price.value + tick * range(0, 3)
                                                               : a.new_stop_price.value - tick * range(0, 3))};
    }
  } else {
    // Invalid amends of several kinds.
    switch (below(8)) {
      case 0:
        a.new_price = Price{o->price};
        a.new_stop_price = Price{o->stop_price};
        break;  // no change
      case 1:
        a.new_qty = Qty{-lot};
        break;
      case 2:
        a.new_qty = Qty{std::max<int64_t>(o->filled, lot)};
        break;  // <= filled, or equal to a 1-lot qty
      case 3:
        a.new_price = Price{o->price + tick};
        break;  // on a STOP_MARKET: invalid
      case 4:
        a.new_stop_price = Price{o->stop_price + tick};
        break;  // on a non-pending order: invalid
      case 5:
        a.new_price = Price{o->price + (tick > 1 ? tick / 2 : tick)};
        break;
      case 6:
        a.new_price = Price{band_high(*inst) + tick * range(1, 10)};
        break;
      default:
        a.new_price = Price{-tick};
        break;
    }
  }
  return Command::amend_order(a);
}

Command RandomCommandGenerator::gen_cancel_all() {
  CancelAll c;
  c.account = AccountId{pick_account()};
  const uint64_t roll = below(100);
  c.instrument = InstrumentId{roll < 50 ? 0 : roll < 95 ? pick_instrument() : kUnknownInstrument};
  return Command::cancel_all(c);
}

Command RandomCommandGenerator::gen_deposit() {
  Transfer t;
  const uint64_t roll = below(100);
  if (roll < 70) {
    // Top up the poorest (account, asset) relative to a comfortable balance;
    // nobody is topped up past it, so the supply stays far from INT64_MAX.
    double worst = 1e300;
    for (const auto& a : accounts_) {
      for (const auto& asset : assets_) {
        if (asset.id.value > 5) continue;
        const double ratio = static_cast<double>(available(a.id, asset.id.value)) /
                             static_cast<double>(comfortable_balance(asset.id.value));
        if (ratio < worst) {
          worst = ratio;
          t.account = AccountId{a.id};
          t.asset = asset.id;
        }
      }
    }
    const int64_t c = comfortable_balance(t.asset.value);
    t.amount = Amount{worst < 0.5 ? range(c / 4, c / 2) : range(1, c / 10)};
  } else {
    t.account = AccountId{chance(0.03) ? 0 : pick_account()};
    t.asset = AssetId{chance(0.97) ? static_cast<uint32_t>(range(1, static_cast<int64_t>(assets_.size()))) : 42u};
    const int64_t c = comfortable_balance(t.asset.value);
    t.amount = Amount{range(1, c / 10)};
  }
  if (chance(0.03)) t.amount = Amount{chance(0.5) ? 0 : -range(1, 1000)};
  if (chance(0.01)) {
    // Past the supply limit: OVERFLOW.
    const auto it = supply_.find(t.asset.value);
    const int64_t supply = it == supply_.end() ? 0 : it->second;
    if (supply > 0) t.amount = Amount{INT64_MAX - static_cast<int64_t>(below(static_cast<uint64_t>(supply)))};
  }
  return Command::deposit(t);
}

Command RandomCommandGenerator::gen_withdraw() {
  Transfer t;
  t.account = AccountId{chance(0.15) ? 0 : pick_account()};
  t.asset = AssetId{chance(0.98) ? static_cast<uint32_t>(range(1, static_cast<int64_t>(assets_.size()))) : 42u};
  const int64_t avail = available(t.account.value, t.asset.value);
  const uint64_t roll = below(100);
  if (roll < 80) {
    t.amount = Amount{range(1, avail / 4 + 1)};
  } else if (roll < 95) {
    t.amount = Amount{avail + range(1, 1000)};  // more than available
  } else {
    t.amount = Amount{chance(0.5) ? 0 : -1};
  }
  return Command::withdraw(t);
}

Command RandomCommandGenerator::gen_status() {
  SetInstrumentStatus s;
  s.instrument = InstrumentId{chance(0.95) ? pick_instrument() : kUnknownInstrument};
  const uint64_t roll = below(100);
  s.status = roll < 70   ? InstrumentStatus::kHalted
             : roll < 85 ? InstrumentStatus::kClosed
             : roll < 95 ? InstrumentStatus::kTrading
                         : static_cast<InstrumentStatus>(chance(0.5) ? 0 : 6);  // 4, 5: sessions (not modelled)
  return Command::set_instrument_status(s);
}

Command RandomCommandGenerator::gen_configure() {
  ConfigureAccount c;
  AccountInfo& a = accounts_[below(accounts_.size())];
  c.account = AccountId{a.id};
  c.default_stp = static_cast<StpMode>(range(1, 3));
  c.max_open_orders = a.max_open_orders;
  if (chance(0.1)) c.default_stp = static_cast<StpMode>(chance(0.5) ? 0 : 4);
  if (chance(0.05)) c.account = AccountId{chance(0.5) ? 0 : config_.engine.max_accounts};
  return Command::configure_account(c);
}

Command RandomCommandGenerator::gen_admin() {
  switch (below(12)) {
    case 0:
      return Command::add_asset(assets_[below(assets_.size())]);  // DUPLICATE_ASSET
    case 1:
      return Command::add_asset(make_asset(chance(0.5) ? 0 : config_.engine.max_assets, "BAD", 2));
    case 2:
      return Command::add_asset(make_asset(40, chance(0.5) ? "" : "BIG", chance(0.5) ? 19 : -1));
    case 3: {
      // A new valid asset (never traded).
      if (extra_assets_added_ >= 8) return Command::heartbeat();
      const uint32_t id = 6 + extra_assets_added_++;
      AssetSpec a = make_asset(id, ("X" + std::to_string(id)).c_str(), static_cast<int32_t>(range(0, 18)));
      return Command::add_asset(a);
    }
    case 4:
      return Command::add_instrument(instruments_[below(instruments_.size())].spec);  // DUPLICATE_INSTRUMENT
    case 5: {
      InstrumentSpec s = instruments_.front().spec;
      s.id = InstrumentId{chance(0.5) ? 0 : config_.engine.max_instruments};
      return Command::add_instrument(s);
    }
    case 6: {
      InstrumentSpec s = instruments_.front().spec;
      s.id = InstrumentId{31};
      s.symbol = Symbol::from("NEW-1");
      s.base = AssetId{chance(0.5) ? 0u : 42u};
      return Command::add_instrument(s);
    }
    case 7:
    case 8: {
      // One broken rule each: INVALID_INSTRUMENT.
      InstrumentSpec s = instruments_.front().spec;
      s.id = InstrumentId{32};
      s.symbol = Symbol::from("BROKEN");
      switch (below(12)) {
        case 0:
          s.symbol = Symbol{};
          break;
        case 1:
          s.quote = s.base;
          break;
        case 2:
          s.tick_size = Price{0};
          break;
        case 3:
          s.lot_size = Qty{-1};
          break;
        case 4:
          s.min_qty = Qty{s.lot_size.value / 2};
          break;
        case 5:
          s.max_qty = Qty{s.min_qty.value - 1};
          break;
        case 6:
          s.min_notional = Amount{-1};
          break;
        case 7:
          s.price_scale = chance(0.5) ? 19 : 12;
          break;  // 12: D exponent 14 breaks tick*lot
        case 8:
          s.reference_price = Price{s.tick_size.value + 1};
          break;
        case 9:
          s.band_bps = chance(0.5) ? 0 : 10001;
          break;
        case 10:
          s.taker_fee_ppm = chance(0.5) ? -1 : 100001;
          break;
        default:
          s.status = static_cast<InstrumentStatus>(chance(0.5) ? 0 : 9);
          break;
      }
      return Command::add_instrument(s);
    }
    case 9:
    case 10: {
      // A new valid instrument on existing assets (never traded), at most a few.
      if (extra_instruments_added_ >= 4) return Command::heartbeat();
      const uint32_t id = 40 + extra_instruments_added_++;
      InstrumentSpec s = instruments_.front().spec;
      s.id = InstrumentId{id};
      s.symbol = Symbol::from("EXTRA-" + std::to_string(id));
      s.status = chance(0.5) ? InstrumentStatus::kTrading : InstrumentStatus::kHalted;
      return Command::add_instrument(s);
    }
    default:
      return Command::make(static_cast<CommandType>(chance(0.5) ? 0 : 99));  // INVALID_COMMAND
  }
}

// --- observe -------------------------------------------------------------------------------

void RandomCommandGenerator::observe(std::span<const Event> events) {
  for (const Event& e : events) {
    switch (e.type) {
      case EventType::kOrderAccepted: {
        const auto& x = e.accepted;
        LiveOrder o;
        o.id = x.order_id.value;
        o.account = x.account.value;
        o.instrument = x.instrument.value;
        o.side = x.side;
        o.type = x.type;
        o.tif = x.tif;
        o.price = x.price.value;
        o.stop_price = x.stop_price.value;
        o.qty = x.qty.value;
        o.pending = x.pending_trigger != 0;
        o.client_order_id = x.client_order_id;
        highest_order_id_ = std::max(highest_order_id_, o.id);
        live_index_[o.id] = live_.size();
        live_.push_back(o);
        break;
      }
      case EventType::kTrade: {
        const auto& x = e.trade;
        for (const TradeLeg* leg : {&x.aggressor, &x.passive}) {
          const auto it = live_index_.find(leg->order_id.value);
          if (it == live_index_.end()) continue;
          live_[it->second].filled = leg->filled.value;
          if (leg->leaves.value == 0) remove_live(leg->order_id.value);
        }
        for (auto& inst : instruments_) {
          if (inst.spec.id == x.instrument) inst.last_price = x.price.value;
        }
        break;
      }
      case EventType::kOrderCancelled:
        remove_live(e.cancelled.order_id.value);
        break;
      case EventType::kOrderExpired:
        remove_live(e.expired.order_id.value);
        break;
      case EventType::kOrderAmended: {
        const auto it = live_index_.find(e.amended.order_id.value);
        if (it == live_index_.end()) break;
        LiveOrder& o = live_[it->second];
        o.price = e.amended.price.value;
        o.stop_price = e.amended.stop_price.value;
        o.qty = e.amended.qty.value;
        break;
      }
      case EventType::kOrderTriggered: {
        const auto it = live_index_.find(e.triggered.order_id.value);
        if (it != live_index_.end()) live_[it->second].pending = false;
        break;
      }
      case EventType::kBalanceChanged:
        available_[balance_key(e.balance.account.value, e.balance.asset.value)] = e.balance.available.value;
        break;
      case EventType::kTransferCompleted: {
        int64_t& s = supply_[e.transfer.asset.value];
        s += e.transfer.is_deposit != 0 ? e.transfer.amount.value : -e.transfer.amount.value;
        break;
      }
      case EventType::kInstrumentStatusChanged:
        for (auto& inst : instruments_) {
          if (inst.spec.id == e.instrument_status.instrument) inst.status = e.instrument_status.status;
        }
        break;
      case EventType::kAccountStatusChanged:
        for (auto& a : accounts_) {
          if (a.id == e.account_status.account.value) a.enabled = e.account_status.enabled != 0;
        }
        break;
      case EventType::kAccountConfigured:
        for (auto& a : accounts_) {
          if (a.id == e.account_configured.account.value) a.default_stp = e.account_configured.default_stp;
        }
        break;
      default:
        break;
    }
  }
}

}  // namespace bourse::testing

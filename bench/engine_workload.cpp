#include "bench/engine_workload.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <unordered_map>

namespace bourse::bench {
namespace {

constexpr int64_t kMid = 1'000'000;  // price in ticks (10,000.00 at price_scale 2)
constexpr int64_t kLot = 10'000;     // base minor units per lot (0.0001 BTC)

struct LiveOrder {
  uint64_t id;
  uint32_t account;
  uint32_t instrument;
  Side side;
  int64_t price;
  int64_t qty;
};

// Live orders with O(1) random pick, insert and erase.
class LiveSet {
 public:
  void upsert(const LiveOrder& o) {
    auto it = index_.find(o.id);
    if (it == index_.end()) {
      index_.emplace(o.id, orders_.size());
      orders_.push_back(o);
    } else {
      orders_[it->second] = o;
    }
  }
  void erase(uint64_t id) {
    auto it = index_.find(id);
    if (it == index_.end()) return;
    const std::size_t i = it->second;
    index_.erase(it);
    if (i != orders_.size() - 1) {
      orders_[i] = orders_.back();
      index_[orders_[i].id] = i;
    }
    orders_.pop_back();
  }
  bool empty() const { return orders_.empty(); }
  std::size_t size() const { return orders_.size(); }
  const LiveOrder& pick(std::mt19937_64& rng) const {
    return orders_[std::uniform_int_distribution<std::size_t>(0, orders_.size() - 1)(rng)];
  }

 private:
  std::vector<LiveOrder> orders_;
  std::unordered_map<uint64_t, std::size_t> index_;
};

class Generator {
 public:
  explicit Generator(const WorkloadConfig& c) : cfg_(c), rng_(c.seed), shadow_(engine_config(c)) {}

  static EngineConfig engine_config(const WorkloadConfig& c) {
    EngineConfig e;
    e.max_accounts = c.accounts + 1;
    e.max_assets = 4 + c.symbols;
    e.max_instruments = c.symbols + 1;
    e.order_capacity = 1u << 22;
    // Size the pools for the book the stream builds: the exchange-core mix
    // holds ~levels × orders per level; place-only grows by about half its
    // commands. Oversizing costs cache misses on every index probe.
    const uint64_t book = 2ull * c.symbols * c.levels_per_side * c.orders_per_level;
    const uint64_t want = c.mix == Mix::kPlaceOnly ? book + c.commands / 2 + 1024 : book * 2;
    e.preallocated_orders = static_cast<uint32_t>(std::min<uint64_t>(want, e.order_capacity));
    e.default_max_open_orders = 1'000'000;
    return e;
  }

  Workload run() {
    Workload w;
    w.engine_config = engine_config(cfg_);
    setup(&w.setup);
    w.commands.reserve(cfg_.commands);
    for (uint64_t i = 0; i < cfg_.commands; ++i) w.commands.push_back(emit(next()));
    return w;
  }

 private:
  Command emit(Command c) {
    c.header.seq = ++seq_;
    now_ += 1'000;  // 1 µs apart
    c.header.timestamp = now_;
    observe(shadow_.apply(c));
    return c;
  }

  void setup(std::vector<Command>* out) {
    const AssetId quote{1};
    out->push_back(emit(Command::add_asset({AssetCode::from("USD"), quote, 6})));
    for (uint32_t s = 0; s < cfg_.symbols; ++s) {
      const AssetId base{2 + s};
      char name[16];
      std::snprintf(name, sizeof(name), "B%u", s);  // (GCC 12 -Wrestrict misfires on string +)
      out->push_back(emit(Command::add_asset({AssetCode::from(name), base, 8})));
      InstrumentSpec spec;
      std::snprintf(name, sizeof(name), "B%u-USD", s);
      spec.symbol = Symbol::from(name);
      spec.id = InstrumentId{1 + s};
      spec.base = base;
      spec.quote = quote;
      spec.price_scale = 2;
      spec.tick_size = Price{1};
      spec.lot_size = Qty{kLot};  // D = 10^(2+8-6) = 10^4 divides tick × lot
      spec.min_qty = Qty{kLot};
      spec.max_qty = Qty{kLot * 1'000'000};
      spec.reference_price = Price{kMid};
      spec.band_bps = 5'000;
      spec.maker_fee_ppm = 100;
      spec.taker_fee_ppm = 200;
      out->push_back(emit(Command::add_instrument(spec)));
    }
    for (uint32_t a = 1; a <= cfg_.accounts; ++a) {
      out->push_back(emit(Command::configure_account({AccountId{a}, 0, StpMode::kCancelNewest, {}})));
      // Total supply must fit in int64: 10,000 accounts × 2^48 < 2^63.
      out->push_back(emit(Command::deposit({Amount{int64_t{1} << 48}, AccountId{a}, quote})));
      for (uint32_t s = 0; s < cfg_.symbols; ++s) {
        out->push_back(emit(Command::deposit({Amount{int64_t{1} << 46}, AccountId{a}, AssetId{2 + s}})));
      }
    }
    // Pre-fill each book: levels_per_side on each side, orders_per_level each.
    for (uint32_t s = 0; s < cfg_.symbols; ++s) {
      for (uint32_t l = 1; l <= cfg_.levels_per_side; ++l) {
        for (uint32_t k = 0; k < cfg_.orders_per_level; ++k) {
          out->push_back(emit(limit(1 + s, Side::kBuy, kMid - l, TimeInForce::kGtc)));
          out->push_back(emit(limit(1 + s, Side::kSell, kMid + l, TimeInForce::kGtc)));
        }
      }
    }
  }

  uint32_t account() { return std::uniform_int_distribution<uint32_t>(1, cfg_.accounts)(rng_); }
  uint32_t symbol() { return 1 + std::uniform_int_distribution<uint32_t>(0, cfg_.symbols - 1)(rng_); }
  int64_t lots(int64_t max) { return kLot * std::uniform_int_distribution<int64_t>(1, max)(rng_); }
  int64_t offset(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }
  Side side() { return (rng_() & 1) ? Side::kBuy : Side::kSell; }

  Command limit(uint32_t instrument, Side s, int64_t price, TimeInForce tif) {
    PlaceOrder p;
    p.account = AccountId{account()};
    p.instrument = InstrumentId{instrument};
    p.side = s;
    p.type = OrderType::kLimit;
    p.tif = tif;
    p.price = Price{price};
    p.qty = Qty{lots(10)};
    return Command::place_order(p);
  }

  // A resting price on side s, 1..levels_per_side ticks away from the mid.
  int64_t passive_price(Side s) {
    const int64_t d = offset(1, cfg_.levels_per_side);
    return s == Side::kBuy ? kMid - d : kMid + d;
  }

  Command next() {
    if (cfg_.mix == Mix::kPlaceOnly) {
      const Side s = side();
      // 5 levels around the touch: 2 passive, the touch, 2 crossing.
      const int64_t price = s == Side::kBuy ? kMid - 1 + offset(-2, 2) : kMid + 1 + offset(-2, 2);
      return limit(symbol(), s, price, TimeInForce::kGtc);
    }
    const uint32_t roll = std::uniform_int_distribution<uint32_t>(0, 99)(rng_);
    // 35%: keep the book at its initial size: add a GTC order when below it,
    // cancel one when above (about half each). 10% IOC, 10% reduce, 45% move.
    const std::size_t target = 2ull * cfg_.symbols * cfg_.levels_per_side * cfg_.orders_per_level;
    if (live_.empty() || (roll < 35 && live_.size() < target)) {
      const Side s = side();
      return limit(symbol(), s, passive_price(s), TimeInForce::kGtc);
    }
    if (roll >= 35 && roll < 45) {  // aggressive IOC a few levels through the touch
      const Side s = side();
      const int64_t price = s == Side::kBuy ? kMid + offset(1, 5) : kMid - offset(1, 5);
      return limit(symbol(), s, price, TimeInForce::kIoc);
    }
    const LiveOrder& o = live_.pick(rng_);
    if (roll < 35) {  // cancel
      CancelOrder c;
      c.account = AccountId{o.account};
      c.order_id = OrderId{o.id};
      return Command::cancel_order(c);
    }
    AmendOrder a;
    a.account = AccountId{o.account};
    a.order_id = OrderId{o.id};
    if (roll < 55 && o.qty > kLot) {  // reduce: keeps priority
      a.new_qty = Qty{o.qty - kLot};
      return Command::amend_order(a);
    }
    // Move: a new price on the same side; ~3% cross the touch and trade.
    int64_t price = passive_price(o.side);
    if (offset(0, 99) < 3) price = o.side == Side::kBuy ? kMid + 1 : kMid - 1;
    if (price == o.price) price += o.side == Side::kBuy ? -1 : 1;
    a.new_price = Price{price};
    return Command::amend_order(a);
  }

  void refresh(uint64_t id) {
    OrderView v;
    if (shadow_.find_order(OrderId{id}, &v) && !v.pending_trigger) {
      live_.upsert({id, v.account.value, v.instrument.value, v.side, v.price.value, v.leaves().value});
    } else {
      live_.erase(id);
    }
  }

  void observe(std::span<const Event> events) {
    for (const Event& e : events) {
      switch (e.type) {
        case EventType::kOrderAccepted: refresh(e.accepted.order_id.value); break;
        case EventType::kTrade:
          refresh(e.trade.aggressor.order_id.value);
          refresh(e.trade.passive.order_id.value);
          break;
        case EventType::kOrderCancelled: live_.erase(e.cancelled.order_id.value); break;
        case EventType::kOrderExpired: live_.erase(e.expired.order_id.value); break;
        case EventType::kOrderAmended: refresh(e.amended.order_id.value); break;
        default: break;
      }
    }
  }

  WorkloadConfig cfg_;
  std::mt19937_64 rng_;
  Engine shadow_;
  LiveSet live_;
  Seq seq_ = 0;
  Timestamp now_ = 1'700'000'000'000'000'000;
};

}  // namespace

Workload make_workload(const WorkloadConfig& config) { return Generator(config).run(); }

const char* mix_name(Mix m) { return m == Mix::kExchangeCore ? "exchange-core" : "place-only"; }

}  // namespace bourse::bench

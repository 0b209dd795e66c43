#include "engine/engine_test_util.h"

namespace bourse::testing {

InstrumentSpec xyz_usd_spec() {
  InstrumentSpec s;
  s.symbol = Symbol::from("XYZ-USD");
  s.id = kXyzUsd;
  s.base = kXyz;
  s.quote = kUsd;
  s.price_scale = 2;
  s.tick_size = Price{1};
  s.lot_size = Qty{1};
  s.min_qty = Qty{1};
  s.max_qty = Qty{1'000'000};
  s.min_notional = Amount{0};
  s.reference_price = Price{10'000};
  s.band_bps = 1'000;
  s.maker_fee_ppm = 1'000;
  s.taker_fee_ppm = 2'000;
  return s;
}

Market::Market(EngineConfig config, bool setup) : engine(config) {
  if (!setup) return;
  run(Command::add_asset({AssetCode::from("USD"), kUsd, 2}));
  run(Command::add_asset({AssetCode::from("XYZ"), kXyz, 0}));
  run(Command::add_instrument(xyz_usd_spec()));
  for (uint32_t a = 1; a <= 4; ++a) {
    run(Command::configure_account({AccountId{a}, 0, StpMode::kCancelNewest, {}}));
    run(Command::deposit({Amount{kUsdFunds}, AccountId{a}, kUsd}));
    run(Command::deposit({Amount{kXyzFunds}, AccountId{a}, kXyz}));
  }
}

std::vector<Event> Market::run(Command c) {
  c.header.seq = engine.last_seq() + 1;
  c.header.timestamp = now_;
  const auto span = engine.apply(c);
  return {span.begin(), span.end()};
}

std::vector<Event> Market::place(const OrderArgs& a) { return run(Command::place_order(to_place_order(a))); }

PlaceOrder to_place_order(const OrderArgs& a) {
  PlaceOrder p;
  p.account = AccountId{a.account};
  p.instrument = InstrumentId{a.instrument};
  p.side = a.side;
  p.type = a.type;
  p.tif = a.tif;
  p.price = Price{a.price};
  p.stop_price = Price{a.stop_price};
  p.qty = Qty{a.qty};
  p.stp = a.stp;
  p.post_only = a.post_only ? 1 : 0;
  p.expire_at = a.expire_at;
  p.client_order_id = ClientOrderId::from(a.client_order_id);
  p.product = a.product;
  return p;
}

std::vector<Event> Market::cancel(uint32_t account, uint64_t order_id) {
  CancelOrder c;
  c.account = AccountId{account};
  c.order_id = OrderId{order_id};
  return run(Command::cancel_order(c));
}

std::vector<Event> Market::amend(uint32_t account, uint64_t order_id, int64_t new_price, int64_t new_qty,
                                 int64_t new_stop) {
  AmendOrder a;
  a.account = AccountId{account};
  a.order_id = OrderId{order_id};
  a.new_price = Price{new_price};
  a.new_qty = Qty{new_qty};
  a.new_stop_price = Price{new_stop};
  return run(Command::amend_order(a));
}

OrderView Market::order(uint64_t id) const {
  OrderView v{};
  EXPECT_TRUE(engine.find_order(OrderId{id}, &v)) << "order " << id << " not live";
  return v;
}

bool Market::live(uint64_t id) const {
  OrderView v;
  return engine.find_order(OrderId{id}, &v);
}

std::vector<Event> of_type(const std::vector<Event>& events, EventType type) {
  std::vector<Event> out;
  for (const Event& e : events)
    if (e.type == type) out.push_back(e);
  return out;
}

const Event* first(const std::vector<Event>& events, EventType type) {
  for (const Event& e : events)
    if (e.type == type) return &e;
  return nullptr;
}

RejectReason rejected(const std::vector<Event>& events) {
  const Event* e = first(events, EventType::kOrderRejected);
  return e ? e->rejected.reason : RejectReason::kNone;
}

uint64_t accepted_id(const std::vector<Event>& events) {
  const Event* e = first(events, EventType::kOrderAccepted);
  return e ? e->accepted.order_id.value : 0;
}

}  // namespace bourse::testing

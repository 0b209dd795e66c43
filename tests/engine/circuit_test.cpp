// Circuits: static lower and upper limits (orders refused, live orders
// outside new limits cancelled, MARKET orders never execute past them) and
// the circuit breaker (a fill that would move the price more than the
// breaker allows from the price a window ago halts the instrument instead;
// trading resumes after the cool-off and the first trade re-anchors).
#include "engine/engine_test_util.h"

namespace bourse::testing {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

SetCircuitLimits circuits(int64_t lower, int64_t upper, uint32_t bps = 0, uint32_t window_s = 0,
                          uint32_t cooloff_s = 0) {
  SetCircuitLimits c{};
  c.instrument = kXyzUsd;
  c.lower = Price{lower};
  c.upper = Price{upper};
  c.breaker_bps = bps;
  c.window_s = window_s;
  c.cooloff_s = cooloff_s;
  return c;
}

CancelReason cancel_reason(const std::vector<Event>& events, uint64_t order_id) {
  for (const Event& e : events) {
    if (e.type == EventType::kOrderCancelled && e.cancelled.order_id.value == order_id) return e.cancelled.reason;
  }
  return CancelReason{};
}

std::size_t trades(const std::vector<Event>& events) { return of_type(events, EventType::kTrade).size(); }

// Whether a fill at `price` now would pass the breaker: a FOK buy at that
// price against an ask there says so without tripping it (a FOK the
// breaker would refuse is killed), and leaves the book as it was.
bool within(Market& m, int64_t price) {
  const uint64_t ask = accepted_id(m.place({.account = 1, .side = Side::kSell, .price = price, .qty = 1}));
  const auto events = m.place({.account = 2, .side = Side::kBuy, .price = price, .qty = 1, .tif = TimeInForce::kFok});
  const bool filled = of_type(events, EventType::kTrade).size() == 1;
  if (!filled) m.cancel(1, ask);
  return filled;
}

TEST(Circuits, StaticLimitsRefuseOrdersAndCancelThoseOutside) {
  Market m;
  const uint64_t far_ask = accepted_id(m.place({.account = 1, .side = Side::kSell, .price = 10'700, .qty = 2}));
  const uint64_t near_ask = accepted_id(m.place({.account = 1, .side = Side::kSell, .price = 10'400, .qty = 1}));
  ASSERT_NE(far_ask, 0u);
  // 95.00 .. 105.00: the ask at 107.00 can no longer trade and is cancelled.
  auto events = m.run(Command::set_circuit_limits(circuits(9'500, 10'500)));
  ASSERT_EQ(rejected(events), RejectReason::kNone);
  ASSERT_NE(first(events, EventType::kCircuitLimitsSet), nullptr);
  EXPECT_EQ(cancel_reason(events, far_ask), CancelReason::kOutsideCircuit);
  EXPECT_TRUE(m.live(near_ask));

  // Inside the ±10% band but outside the circuit: refused with its own code.
  EXPECT_EQ(rejected(m.place({.account = 2, .side = Side::kBuy, .price = 10'600})), RejectReason::kPriceOutsideCircuit);
  EXPECT_EQ(rejected(m.place({.account = 2, .side = Side::kSell, .price = 9'400})), RejectReason::kPriceOutsideCircuit);
  EXPECT_EQ(rejected(m.amend(1, near_ask, 10'600, 1)), RejectReason::kPriceOutsideCircuit);
  // A MARKET buy takes what is inside, never past the upper circuit.
  m.place({.account = 1, .side = Side::kSell, .price = 10'500, .qty = 1});
  events = m.place({.account = 2, .side = Side::kBuy, .qty = 5, .type = OrderType::kMarket, .tif = TimeInForce::kIoc});
  ASSERT_EQ(trades(events), 2u);
  EXPECT_EQ(of_type(events, EventType::kTrade).back().trade.price.value, 10'500);
  EXPECT_EQ(m.engine.instrument(kXyzUsd)->band_high.value, 10'500);  // the band is clipped to the circuit

  // Clearing the limits restores the band.
  ASSERT_EQ(rejected(m.run(Command::set_circuit_limits(circuits(0, 0)))), RejectReason::kNone);
  EXPECT_GT(m.engine.instrument(kXyzUsd)->band_high.value, 10'500);
}

TEST(Circuits, BadParametersAreRefused) {
  Market m;
  for (const SetCircuitLimits& c : {circuits(10'500, 9'500), circuits(-1, 0), circuits(0, 0, 10'001, 60, 30),
                                    circuits(0, 0, 500, 0, 30), circuits(0, 0, 500, 3'601, 30),
                                    circuits(0, 0, 500, 60, 0), circuits(0, 0, 0, 60, 30)}) {
    EXPECT_EQ(rejected(m.run(Command::set_circuit_limits(c))), RejectReason::kInvalidCircuit);
  }
  SetCircuitLimits unknown = circuits(0, 0);
  unknown.instrument = InstrumentId{7};
  EXPECT_EQ(rejected(m.run(Command::set_circuit_limits(unknown))), RejectReason::kUnknownInstrument);
}

TEST(Circuits, TheBreakerHaltsInsteadOfTradingAndResumesAfterTheCoolOff) {
  Market m;
  // 5% in 60 s halts for 30 s. The window starts at the reference, 100.00.
  ASSERT_EQ(rejected(m.run(Command::set_circuit_limits(circuits(0, 0, 500, 60, 30)))), RejectReason::kNone);
  m.place({.account = 1, .side = Side::kSell, .price = 10'100, .qty = 1});
  const uint64_t high_ask = accepted_id(m.place({.account = 1, .side = Side::kSell, .price = 10'600, .qty = 1}));
  m.advance(10 * kSecond);
  // Fills 1 at 101.00 (1%), then 106.00 would be 6% from 100.00: halt.
  auto events = m.place({.account = 2, .side = Side::kBuy, .price = 10'600, .qty = 2});
  ASSERT_EQ(trades(events), 1u);
  const Event* tripped = first(events, EventType::kCircuitBreakerTripped);
  ASSERT_NE(tripped, nullptr);
  EXPECT_EQ(tripped->breaker.anchor.value, 10'000);
  EXPECT_EQ(tripped->breaker.price.value, 10'600);
  EXPECT_EQ(tripped->breaker.resume_at, m.now() + 30 * kSecond);
  const Event* halted = first(events, EventType::kInstrumentStatusChanged);
  ASSERT_NE(halted, nullptr);
  EXPECT_EQ(halted->instrument_status.status, InstrumentStatus::kHalted);
  const uint64_t buy = accepted_id(events);
  EXPECT_EQ(cancel_reason(events, buy), CancelReason::kCircuitBreaker);
  EXPECT_TRUE(m.live(high_ask));  // the resting side is untouched
  EXPECT_EQ(rejected(m.place({.account = 2, .side = Side::kBuy, .price = 10'600})), RejectReason::kInstrumentHalted);

  // Still halted just before the cool-off ends; the command at its end resumes.
  m.advance(30 * kSecond - 1);
  EXPECT_EQ(first(m.run(Command::heartbeat()), EventType::kInstrumentStatusChanged), nullptr);
  m.advance(1);
  events = m.run(Command::heartbeat());
  const Event* resumed = first(events, EventType::kInstrumentStatusChanged);
  ASSERT_NE(resumed, nullptr);
  EXPECT_EQ(resumed->instrument_status.status, InstrumentStatus::kTrading);

  // The reopening trade is allowed and re-anchors: 106.00 is now the window.
  ASSERT_EQ(trades(m.place({.account = 2, .side = Side::kBuy, .price = 10'600, .qty = 1})), 1u);
  m.place({.account = 1, .side = Side::kSell, .price = 11'000, .qty = 1});
  m.advance(kSecond);
  // 110.00 is 3.8% from 106.00: allowed (it would be 10% from the old anchor).
  ASSERT_EQ(trades(m.place({.account = 2, .side = Side::kBuy, .price = 11'000, .qty = 1})), 1u);
  EXPECT_EQ(m.engine.instrument(kXyzUsd)->spec.status, InstrumentStatus::kTrading);
}

TEST(Circuits, TheAnchorIsThePriceOneWindowAgo) {
  Market m;
  ASSERT_EQ(rejected(m.run(Command::set_circuit_limits(circuits(0, 0, 500, 60, 30)))), RejectReason::kNone);
  auto trade_at = [&](int64_t price) {
    m.place({.account = 1, .side = Side::kSell, .price = price, .qty = 1});
    return m.place({.account = 2, .side = Side::kBuy, .price = price, .qty = 1});
  };
  ASSERT_EQ(trades(trade_at(10'400)), 1u);  // 4% from 100.00
  m.advance(20 * kSecond);
  // 106.00: 6% from 100.00, which is still the price a window ago. Halts.
  auto events = trade_at(10'600);
  EXPECT_NE(first(events, EventType::kCircuitBreakerTripped), nullptr);
  m.run(Command::set_instrument_status({kXyzUsd, InstrumentStatus::kTrading}));  // an operator resumes
  EXPECT_EQ(m.engine.instrument(kXyzUsd)->spec.status, InstrumentStatus::kTrading);
  // The operator's resume re-anchors too: the ask left at 106.00 trades now.
  ASSERT_EQ(trades(m.place({.account = 2, .side = Side::kBuy, .price = 10'600, .qty = 1})), 1u);
  // 61 s later the window's oldest second ended at 106.00: 111.00 is 4.7% away.
  m.advance(61 * kSecond);
  events = trade_at(11'100);
  EXPECT_EQ(first(events, EventType::kCircuitBreakerTripped), nullptr);
  EXPECT_EQ(trades(events), 1u);
}

TEST(Circuits, AHaltSurvivesASnapshotAndResumesTheSame) {
  Market m;
  ASSERT_EQ(rejected(m.run(Command::set_circuit_limits(circuits(9'000, 11'000, 300, 10, 5)))), RejectReason::kNone);
  m.place({.account = 1, .side = Side::kSell, .price = 10'400, .qty = 1});
  ASSERT_NE(first(m.place({.account = 2, .side = Side::kBuy, .price = 10'400}), EventType::kCircuitBreakerTripped),
            nullptr);
  std::vector<unsigned char> bytes;
  m.engine.serialize(&bytes);
  Market copy(EngineConfig{256, 8, 8, 1u << 16, 1000}, false);
  ASSERT_TRUE(copy.engine.restore(bytes));
  EXPECT_EQ(copy.engine.state_hash(), m.engine.state_hash());
  EXPECT_EQ(copy.engine.instrument(kXyzUsd)->spec.status, InstrumentStatus::kHalted);
  // The same commands from here give the same events: the resume included.
  copy.advance(m.now() - copy.now());
  for (int step = 0; step < 8; ++step) {
    m.advance(kSecond);
    copy.advance(kSecond);
    const auto a = m.run(Command::heartbeat());
    const auto b = copy.run(Command::heartbeat());
    ASSERT_EQ(a.size(), b.size()) << "step " << step;
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(std::memcmp(&a[i], &b[i], sizeof(Event)), 0);
  }
  EXPECT_EQ(m.engine.instrument(kXyzUsd)->spec.status, InstrumentStatus::kTrading);
  EXPECT_EQ(copy.engine.state_hash(), m.engine.state_hash());
}

TEST(Circuits, TheWindowBoundaryIsExact) {
  Market m;
  ASSERT_EQ(rejected(m.run(Command::set_circuit_limits(circuits(0, 0, 500, 10, 5)))), RejectReason::kNone);
  auto trade_at = [&](int64_t price) {
    m.place({.account = 1, .side = Side::kSell, .price = price, .qty = 1});
    return m.place({.account = 2, .side = Side::kBuy, .price = price, .qty = 1});
  };
  // Second s: a trade at 104.00 (4% from the reference 100.00).
  ASSERT_EQ(trades(trade_at(10'400)), 1u);
  // At s + 9 the anchor is still the end of second s − 1 (100.00): 106.00 is 6%.
  m.advance(9 * kSecond);
  EXPECT_FALSE(within(m, 10'600));
  EXPECT_TRUE(within(m, 10'500));
  // At s + 10 it is the end of second s: 104.00, and 109.00 is 4.8% away.
  m.advance(kSecond);
  EXPECT_TRUE(within(m, 10'900));
  // (Each probe that fills is a trade: the last price is now 109.00.) After
  // an idle gap longer than the window the anchor is that last price.
  m.advance(100 * kSecond);
  EXPECT_TRUE(within(m, 11'400));   // 4.6% from 109.00
  EXPECT_FALSE(within(m, 11'500));  // 5.5%, even after the 114.00 trade this second
}

TEST(Circuits, AFillOrKillIsKilledRatherThanFilledInPartBeforeATrip) {
  Market m;
  ASSERT_EQ(rejected(m.run(Command::set_circuit_limits(circuits(0, 0, 500, 60, 30)))), RejectReason::kNone);
  m.place({.account = 1, .side = Side::kSell, .price = 10'100, .qty = 1});
  m.place({.account = 1, .side = Side::kSell, .price = 10'600, .qty = 1});
  const auto events =
      m.place({.account = 2, .side = Side::kBuy, .price = 10'600, .qty = 2, .tif = TimeInForce::kFok});
  EXPECT_EQ(trades(events), 0u);
  EXPECT_EQ(first(events, EventType::kCircuitBreakerTripped), nullptr);
  EXPECT_EQ(cancel_reason(events, accepted_id(events)), CancelReason::kFillOrKill);
  EXPECT_EQ(m.engine.instrument(kXyzUsd)->spec.status, InstrumentStatus::kTrading);
}

TEST(Circuits, AFillOrKillRightAfterAHaltIsHeldToItsFirstFill) {
  Market m;
  ASSERT_EQ(rejected(m.run(Command::set_circuit_limits(circuits(0, 0, 200, 60, 30)))), RejectReason::kNone);
  m.place({.account = 1, .side = Side::kSell, .price = 10'600, .qty = 1});
  ASSERT_NE(first(m.place({.account = 2, .side = Side::kBuy, .price = 10'600}), EventType::kCircuitBreakerTripped),
            nullptr);
  m.advance(30 * kSecond);
  m.run(Command::heartbeat());  // resumes; the next fill re-anchors
  m.place({.account = 1, .side = Side::kSell, .price = 10'700, .qty = 1});
  m.place({.account = 3, .side = Side::kSell, .price = 10'900, .qty = 1});
  // A FOK for 3 would fill 106.00 (the new anchor), 107.00, then 109.00,
  // 2.8% from 106.00 with a 2% breaker: killed whole, nothing filled or tripped.
  const auto events =
      m.place({.account = 2, .side = Side::kBuy, .price = 10'900, .qty = 3, .tif = TimeInForce::kFok});
  EXPECT_EQ(trades(events), 0u);
  EXPECT_EQ(first(events, EventType::kCircuitBreakerTripped), nullptr);
  EXPECT_EQ(cancel_reason(events, accepted_id(events)), CancelReason::kFillOrKill);
  // For 2 it fills: 106.00 and 107.00.
  EXPECT_EQ(trades(m.place({.account = 2, .side = Side::kBuy, .price = 10'700, .qty = 2, .tif = TimeInForce::kFok})), 2u);
}

TEST(Circuits, StopsCrossedBeforeATripFireWhenTradingResumes) {
  Market m;
  ASSERT_EQ(rejected(m.run(Command::set_circuit_limits(circuits(0, 0, 500, 60, 30)))), RejectReason::kNone);
  // A buy stop at 101.00; its trigger comes from a fill at 102.00 just before a trip.
  const uint64_t stop = accepted_id(m.place({.account = 3, .side = Side::kBuy, .price = 10'300, .qty = 1,
                                             .type = OrderType::kStopLimit, .stop_price = 10'100}));
  ASSERT_NE(stop, 0u);
  m.place({.account = 1, .side = Side::kSell, .price = 10'200, .qty = 1});
  m.place({.account = 1, .side = Side::kSell, .price = 10'700, .qty = 1});
  auto events = m.place({.account = 2, .side = Side::kBuy, .price = 10'700, .qty = 2});
  ASSERT_EQ(trades(events), 1u);
  ASSERT_NE(first(events, EventType::kCircuitBreakerTripped), nullptr);
  EXPECT_EQ(first(events, EventType::kOrderTriggered), nullptr);  // halted: the stop waits
  m.place({.account = 1, .side = Side::kSell, .price = 10'300, .qty = 1});  // refused (halted), nothing changes
  m.advance(30 * kSecond);
  events = m.run(Command::heartbeat());
  const Event* triggered = first(events, EventType::kOrderTriggered);
  ASSERT_NE(triggered, nullptr);
  EXPECT_EQ(triggered->triggered.order_id.value, stop);
  // The resume itself trips nothing.
  EXPECT_EQ(of_type(events, EventType::kCircuitBreakerTripped).size(), 0u);
}

TEST(Circuits, LimitsMustContainTheReferencePrice) {
  Market m;  // reference 100.00
  EXPECT_EQ(rejected(m.run(Command::set_circuit_limits(circuits(5'000, 8'000)))), RejectReason::kInvalidCircuit);
  EXPECT_EQ(rejected(m.run(Command::set_circuit_limits(circuits(10'100, 0)))), RejectReason::kInvalidCircuit);
  EXPECT_EQ(rejected(m.run(Command::set_circuit_limits(circuits(10'000, 10'000)))), RejectReason::kNone);
}

}  // namespace
}  // namespace bourse::testing

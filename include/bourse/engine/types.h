// Enumerations and specs of the trading domain. Every enum here reaches the
// journal or the event stream: values are explicit and must not be renumbered.
#pragma once

#include <cstdint>

#include "bourse/core/checked.h"
#include "bourse/core/types.h"

namespace bourse {

enum class Side : uint8_t { kBuy = 1, kSell = 2 };
enum class OrderType : uint8_t { kLimit = 1, kMarket = 2, kStopLimit = 3, kStopMarket = 4 };
enum class TimeInForce : uint8_t { kGtc = 1, kIoc = 2, kFok = 3, kDay = 4, kGtd = 5 };
// kAccountDefault on an order means "use the account's configured mode".
enum class StpMode : uint8_t { kAccountDefault = 0, kCancelNewest = 1, kCancelOldest = 2, kCancelBoth = 3 };
// kPreOpen: orders are collected (resting ones only) without matching; the
// change to kTrading runs the opening auction. kSessionClosed: between
// sessions, like kHalted for order entry but its own code (docs/engine.md,
// "Sessions"). kClosed cancels every order (the instrument is retired).
enum class InstrumentStatus : uint8_t { kTrading = 1, kHalted = 2, kClosed = 3, kPreOpen = 4, kSessionClosed = 5 };
// CASH: fully funded, settles in the assets (holds on entry). MARGIN:
// leveraged and may short; settles as a position per instrument against the
// venue's margin pool, backed by the account's collateral in the quote asset.
enum class Product : uint8_t { kCash = 0, kMargin = 1 };
// What an instrument's positions are marked at (docs/engine.md, "Margin").
enum class MarkSource : uint8_t { kLast = 1, kMid = 2, kReference = 3 };
// Account margin tiers 1..kMarginTiers; tier 0 = cash only.
constexpr int kMarginTiers = 4;

constexpr Side opposite(Side s) { return s == Side::kBuy ? Side::kSell : Side::kBuy; }

// Why a command was refused. Stable codes; do not renumber.
enum class RejectReason : uint8_t {
  kNone = 0,
  kUnknownInstrument = 1,
  kUnknownAccount = 2,
  kAccountDisabled = 3,
  kInstrumentHalted = 4,
  kInstrumentClosed = 5,
  kInvalidOrder = 6,          // malformed combination: bad enum, missing/extra price, ...
  kInvalidTimeInForce = 7,    // TIF not allowed for this order type
  kInvalidPrice = 8,          // price or stop price <= 0 where one is required
  kInvalidTick = 9,           // price not a multiple of the tick size
  kInvalidLot = 10,           // quantity not a multiple of the lot size
  kQtyBelowMin = 11,
  kQtyAboveMax = 12,
  kNotionalBelowMin = 13,
  kPriceOutOfBand = 14,
  kInsufficientFunds = 15,
  kTooManyOpenOrders = 16,
  kDuplicateClientOrderId = 17,
  kPostOnlyWouldTake = 18,
  kPostOnlyNotAllowed = 19,   // post-only on a market, stop, IOC or FOK order
  kStopWouldTriggerImmediately = 20,
  kInvalidExpireTime = 21,    // GTD without a future expiry, or expiry on a non-GTD order
  kOrderNotFound = 22,        // also for another account's order: never reveal it exists
  kInvalidAmend = 23,         // nothing to change, or new quantity <= filled quantity
  kInvalidAmount = 24,        // deposit/withdrawal amount <= 0
  kOverflow = 25,             // a notional, hold or supply would not fit in int64
  kUnknownAsset = 26,
  kInvalidInstrument = 27,    // instrument definition breaks a rule (see docs/engine.md)
  kDuplicateInstrument = 28,
  kDuplicateAsset = 29,
  kCapacityExceeded = 30,     // order pool, account table or asset table is full
  kInvalidAccount = 31,       // account id out of range, or the fee account
  kInvalidCommand = 32,       // unknown command type
  kUnavailable = 33,          // not applied: the venue cannot make commands durable (journal failure)
  kInstrumentExternal = 34,   // an order on an external instrument (its prices come from another market)
  kNotExternal = 35,          // an external trade for an instrument traded here
  kInvalidExternalTrade = 36, // an external trade without a time or with a bad side
  kInsufficientMargin = 37,   // the order, hold or withdrawal would leave free margin negative
  kMarginNotAllowed = 38,     // MARGIN order: the account is cash-only or the instrument has no rate for its tier
  kInvalidMarginParams = 39,  // SetMarginParams breaks a rule (rates, mark source or reference)
  kOrderLimitExceeded = 40,   // above the account's max order quantity or notional for the instrument
  kPositionLimitExceeded = 41,// the MARGIN position could pass the account's max position
  kDailyLossLimit = 42,       // the account lost its max daily loss today: MARGIN orders must reduce
  kPriceOutsideCircuit = 43,  // the price is below the instrument's lower or above its upper circuit
  kInvalidCircuit = 44,       // SetCircuitLimits breaks a rule (order of limits, tick, breaker ranges)
  kSessionClosed = 45,        // the instrument's market is between sessions
  kPreOpenOrderType = 46,     // in pre-open only orders that can rest are taken (no MARKET, IOC or FOK)
};

// Why a live order stopped being live without filling. Stable codes.
enum class CancelReason : uint8_t {
  kUserRequested = 1,      // CancelOrder
  kCancelAll = 2,          // CancelAll
  kUnfilledImmediate = 3,  // IOC or MARKET remainder after matching (incl. price protection)
  kFillOrKill = 4,         // FOK that could not fill entirely
  kSelfTrade = 5,          // self-trade prevention
  kAccountDisabled = 6,    // kill switch
  kInstrumentClosed = 7,
  kBookLevelFull = 8,      // resting would take its level's open quantity past INT64_MAX
  kMarginCall = 9,         // an open MARGIN order of an account being liquidated
  kSquareOff = 10,         // an open MARGIN order at the intraday square-off
  kDeadMansSwitch = 11,    // the account's CancelAfter countdown ran out
  kDailyLossLimit = 12,    // an open MARGIN order when the account's max daily loss was reached
  kCircuitBreaker = 13,    // its next fill would have tripped the circuit breaker (the instrument halts)
  kOutsideCircuit = 14,    // live when new circuits put its price outside them
};

// Why the engine closed a MARGIN position itself. Stable codes.
enum class LiquidationReason : uint8_t { kMarginCall = 1, kSquareOff = 2 };

enum class ExpireReason : uint8_t { kDay = 1, kGtd = 2 };

// Static definition of an asset. Amounts are integers in units of 10^-scale.
struct AssetSpec {
  AssetCode code;      // e.g. "BTC"
  AssetId id;          // dense, 1..max_assets-1
  int32_t scale = 0;   // 0..18 decimal places of the minor unit
};
static_assert(sizeof(AssetSpec) == 16);

// Static definition of an instrument (see docs/engine.md for every rule).
// Layout is journaled: fields ordered to leave no padding; do not reorder.
struct InstrumentSpec {
  Symbol symbol;              // e.g. "BTC-USD"
  Price tick_size;            // > 0
  Qty lot_size;               // > 0
  Qty min_qty;                // >= lot_size, multiple of lot_size
  Qty max_qty;                // >= min_qty
  Amount min_notional;        // >= 0, in quote minor units
  Price reference_price;      // price band anchor until the first trade; multiple of tick
  InstrumentId id;            // dense, 1..max_instruments-1
  AssetId base;
  AssetId quote;
  int32_t price_scale = 0;    // decimal places of a price
  int32_t band_bps = 0;       // half-width of the price band, 1..10000 basis points
  int32_t maker_fee_ppm = 0;  // 0..100000 (10%), parts per million of notional
  int32_t taker_fee_ppm = 0;  // 0..100000
  InstrumentStatus status = InstrumentStatus::kTrading;
  // 1: traded elsewhere. No orders here; its trades arrive as ExternalTrade
  // commands (ticks from a feed) and feed the same market data.
  uint8_t external = 0;
  uint8_t reserved[2] = {};
};
static_assert(sizeof(InstrumentSpec) == 96);

// A signed 128-bit integer in two 64-bit halves, for events and views:
// keeps their structs 8-byte aligned and padding-free.
struct Wide {
  uint64_t lo = 0;
  int64_t hi = 0;
  static Wide of(Int128 v) { return {static_cast<uint64_t>(static_cast<UInt128>(v)), static_cast<int64_t>(v >> 64)}; }
  Int128 get() const { return static_cast<Int128>((static_cast<UInt128>(static_cast<uint64_t>(hi)) << 64) | lo); }
};
static_assert(sizeof(Wide) == 16);

}  // namespace bourse

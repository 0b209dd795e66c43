// Strong integer types shared by every domain.
//
// Prices, quantities and amounts are int64 fixed point in the minor units of
// their asset or instrument; they are distinct types so that a price and a
// quantity can never be swapped silently. No floating point anywhere.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace bourse {

template <class Tag, class Rep>
struct StrongInt {
  using rep = Rep;
  Rep value{};

  constexpr StrongInt() = default;
  constexpr explicit StrongInt(Rep v) : value(v) {}
  constexpr auto operator<=>(const StrongInt&) const = default;
  constexpr explicit operator bool() const { return value != 0; }
};

// Price in units of 10^-price_scale quote asset per one whole base unit.
struct PriceTag {};
using Price = StrongInt<PriceTag, int64_t>;
// Quantity in minor units of the instrument's base asset.
struct QtyTag {};
using Qty = StrongInt<QtyTag, int64_t>;
// An amount of one asset in its minor units (balances, fees, notionals).
struct AmountTag {};
using Amount = StrongInt<AmountTag, int64_t>;

struct OrderIdTag {};
using OrderId = StrongInt<OrderIdTag, uint64_t>;
struct TradeIdTag {};
using TradeId = StrongInt<TradeIdTag, uint64_t>;
struct AccountIdTag {};
using AccountId = StrongInt<AccountIdTag, uint32_t>;
struct InstrumentIdTag {};
using InstrumentId = StrongInt<InstrumentIdTag, uint32_t>;
struct AssetIdTag {};
using AssetId = StrongInt<AssetIdTag, uint32_t>;

// Sequence number the sequencer gives each command (1, 2, 3, ...).
using Seq = uint64_t;
// Nanoseconds since the Unix epoch, stamped by the sequencer.
using Timestamp = int64_t;

constexpr Qty operator+(Qty a, Qty b) { return Qty{a.value + b.value}; }
constexpr Qty operator-(Qty a, Qty b) { return Qty{a.value - b.value}; }
constexpr Qty& operator+=(Qty& a, Qty b) { a.value += b.value; return a; }
constexpr Qty& operator-=(Qty& a, Qty b) { a.value -= b.value; return a; }
constexpr Amount operator+(Amount a, Amount b) { return Amount{a.value + b.value}; }
constexpr Amount operator-(Amount a, Amount b) { return Amount{a.value - b.value}; }
constexpr Amount& operator+=(Amount& a, Amount b) { a.value += b.value; return a; }
constexpr Amount& operator-=(Amount& a, Amount b) { a.value -= b.value; return a; }

// Fixed-size, zero-padded text used in binary records (symbols, asset codes,
// client order ids). Never holds a terminating NUL when full.
template <std::size_t N>
struct FixedString {
  std::array<char, N> bytes{};

  static constexpr std::size_t capacity() { return N; }
  // Returns false (and leaves the value empty) if `s` is longer than N.
  constexpr bool assign(std::string_view s) {
    bytes.fill('\0');
    if (s.size() > N) return false;
    for (std::size_t i = 0; i < s.size(); ++i) bytes[i] = s[i];
    return true;
  }
  static constexpr FixedString from(std::string_view s) {
    FixedString f;
    f.assign(s);
    return f;
  }
  constexpr std::string_view view() const {
    std::size_t n = 0;
    while (n < N && bytes[n] != '\0') ++n;
    return {bytes.data(), n};
  }
  constexpr bool empty() const { return bytes[0] == '\0'; }
  constexpr auto operator<=>(const FixedString&) const = default;
};

using Symbol = FixedString<16>;
using AssetCode = FixedString<8>;
// Client order id: up to 32 characters, unique per account among live orders.
using ClientOrderId = FixedString<32>;

}  // namespace bourse

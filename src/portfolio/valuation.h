// Portfolio valuation: an account's holdings and MARGIN positions valued in
// one currency at the venue's mark prices (docs/portfolio.md).
//
// PriceBook copies the instruments and their marks once (MarketView::
// mark_price: the last trade, mid or reference price, the spec's reference
// price before any trade), so one valuation uses one set of prices. An asset
// converts to a currency through an instrument between the two (either way
// round) or, failing that, through one intermediate asset (the lowest id with
// both legs); each step rounds down. An asset with no such route has no value
// and makes the valuation incomplete rather than wrong.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "accounts/account_read_model.h"
#include "marketdata/market_view.h"

namespace bourse::portfolio {

class PriceBook {
 public:
  explicit PriceBook(const marketdata::MarketView& market);

  // `amount` minor units of `from` in minor units of `to`; nullopt when no
  // route is priced or the value does not fit in 127 bits.
  std::optional<Int128> convert(AssetId from, Int128 amount, AssetId to) const;
  const marketdata::InstrumentInfo* instrument(InstrumentId id) const;
  // The instrument trading base against quote (nullptr: none).
  const marketdata::InstrumentInfo* pair(AssetId base, AssetId quote) const;
  Price mark(InstrumentId id) const;
  const AssetSpec* asset(AssetId id) const;

 private:
  struct Leg {
    std::size_t instrument;  // index into instruments_
    bool base_to_quote;
  };
  std::optional<Leg> leg(AssetId from, AssetId to) const;
  std::optional<Int128> through(const Leg& leg, Int128 amount) const;

  std::vector<marketdata::InstrumentInfo> instruments_;
  std::vector<Price> marks_;
  std::map<uint32_t, AssetSpec> assets_;
  std::map<std::pair<uint32_t, uint32_t>, std::size_t> pairs_;  // (base, quote) → lowest instrument id with a mark
};

struct CostLineValue {
  accounts::CostLine line;
  Price average_price{0};          // cost × D / qty in the (asset, quote) instrument's price units (0: none held)
  std::optional<Int128> unrealized;  // N(mark, qty) − cost, quote minor units
};

struct HoldingValue {
  AssetId asset{0};
  int64_t available = 0;
  int64_t locked = 0;
  Int128 total = 0;
  std::vector<CostLineValue> cost;   // by quote currency
  int64_t net_flow_today = 0;        // deposits − withdrawals today
  std::optional<Int128> value;       // in the valuation currency
};

struct PositionValue {
  accounts::PositionRecord position;
  AssetId quote{0};
  Price mark{0};
  Int128 unrealized = 0;             // quote minor units
  std::optional<Int128> value;       // unrealized in the valuation currency
};

struct Valuation {
  AssetId currency{0};
  Int128 holdings_value = 0;         // Σ holdings' values (a negative balance counts as a debt)
  Int128 unrealized_value = 0;       // Σ MARGIN positions' unrealized PnL
  Int128 net_flow_value = 0;         // today's net transfers at today's prices
  bool complete = true;              // every holding and position had a price
  std::vector<HoldingValue> holdings;
  std::vector<PositionValue> positions;
  Int128 total() const { return holdings_value + unrealized_value; }
};

// `today`: the UTC day (ns / 86,400 s) whose transfers count as today's.
Valuation value_account(const accounts::AccountHoldings& holdings, const PriceBook& prices, AssetId currency,
                        int64_t today);

}  // namespace bourse::portfolio

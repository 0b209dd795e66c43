// An account's cross margin as the engine computes it, rebuilt from the read
// models (positions, open MARGIN orders with their hold prices, balances,
// the account's tier, each instrument's terms and mark): what
// GET /v1/margin shows and what the pre-trade calculator
// (POST /v1/margins/orders) adds hypothetical orders to. The arithmetic is
// bourse/engine/position.h, the engine's own.
#pragma once

#include <span>
#include <vector>

#include "accounts/account_read_model.h"
#include "marketdata/market_view.h"

namespace bourse::gateway {

using marketdata::notional_divisor;

// A MARGIN order that is not placed: its reserve on one side of an instrument.
struct HypotheticalReserve {
  InstrumentId instrument;
  Side side = Side::kBuy;
  Int128 reserve = 0;  // N(hold price, qty)
};

struct CollateralMargin {
  AssetId asset;
  Int128 available = 0;     // the collateral asset's available balance (may be negative: a debt)
  Int128 unrealized = 0;
  Int128 initial = 0;
  Int128 maintenance = 0;
  bool in_call = false;
  Int128 equity() const { return available + unrealized; }
  Int128 free() const { return equity() - initial; }
};

// Per collateral asset with a position, an open MARGIN order or an `extra`
// reserve, ascending asset id.
std::vector<CollateralMargin> compute_margin(const accounts::AccountReadModel& accounts,
                                             const marketdata::MarketView& market, AccountId account,
                                             std::span<const HypotheticalReserve> extra = {});

}  // namespace bourse::gateway

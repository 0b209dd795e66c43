#include "accounts/account_read_model.h"

#include <algorithm>
#include <mutex>

#include "bourse/core/checked.h"

namespace bourse::accounts {

const char* order_status_name(OrderStatus s) {
  switch (s) {
    case OrderStatus::kNew: return "NEW";
    case OrderStatus::kPartiallyFilled: return "PARTIALLY_FILLED";
    case OrderStatus::kFilled: return "FILLED";
    case OrderStatus::kCancelled: return "CANCELLED";
    case OrderStatus::kExpired: return "EXPIRED";
    case OrderStatus::kPendingTrigger: return "PENDING_TRIGGER";
  }
  return "UNKNOWN";
}

bool is_terminal(OrderStatus s) {
  return s == OrderStatus::kFilled || s == OrderStatus::kCancelled || s == OrderStatus::kExpired;
}

void AccountReadModel::load(const Engine& engine) {
  std::unique_lock lock(mutex_);
  std::vector<AssetId> assets;
  engine.for_each_instrument(
      [&](const InstrumentView& i) { cost_basis_.add_instrument(i.spec.id, i.spec.base, i.spec.quote); });
  engine.for_each_asset([&](const AssetSpec& a) { assets.push_back(a.id); });
  engine.for_each_account([&](const bourse::AccountView& v) {
    Account& a = accounts_[v.id.value];
    a.summary = AccountSummary{true, v.enabled, v.max_open_orders, v.open_orders, v.default_stp, v.margin_tier,
                               v.cancel_at, {}, {}, {}};
    for (uint32_t asset = 0; asset < 64; ++asset) {
      if (v.margin_calls & (uint64_t{1} << asset)) a.margin_calls.insert(asset);
    }
    engine.account_limits(v.id, &a.summary.limits, &a.summary.loss_limits, &a.summary.loss_reached_day);
    for (AssetId asset : assets) {
      const Balance b = engine.balance(v.id, asset);
      if (b.available.value != 0 || b.locked.value != 0) a.balances[asset.value] = BalanceRecord{asset, b.available, b.locked};
    }
  });
  engine.for_each_position([&](const PositionView& p) {
    if (p.qty == 0 && p.cost == 0 && p.realized == 0 && p.fees == 0) return;  // only reserves: nothing to show
    accounts_[p.account.value].positions[p.instrument.value] =
        PositionRecord{p.instrument, p.qty, p.cost, p.realized, p.fees, engine.last_timestamp()};
  });
  engine.for_each_order([&](const OrderView& o) {
    OrderRecord r;
    r.id = o.id;
    r.account = o.account;
    r.instrument = o.instrument;
    r.side = o.side;
    r.type = o.type;
    r.tif = o.tif;
    r.post_only = o.post_only;
    r.price = o.price;
    r.stop_price = o.stop_price;
    r.qty = o.qty;
    r.filled = o.filled;
    r.expire_at = o.expire_at;
    r.client_order_id = o.client_order_id;
    r.product = o.product;
    r.hold_price = o.hold_price;
    r.status = o.pending_trigger ? OrderStatus::kPendingTrigger
               : o.filled.value > 0 ? OrderStatus::kPartiallyFilled : OrderStatus::kNew;
    // Creation time and fill notionals of orders from before the restart are
    // not engine state; they come back with the store's order history.
    accounts_[o.account.value].live[o.id.value] = r;
  });
}

void AccountReadModel::restore_details(const std::vector<OrderDetails>& details) {
  std::unique_lock lock(mutex_);
  for (const OrderDetails& d : details) {
    auto a = accounts_.find(d.account.value);
    if (a == accounts_.end()) continue;
    auto it = a->second.live.find(d.id.value);
    if (it == a->second.live.end()) continue;
    it->second.created = d.created;
    it->second.notional_filled = d.notional_filled;
    it->second.fees = d.fees;
  }
}

void AccountReadModel::on_durable_batch(std::span<const Event> events) {
  std::unique_lock lock(mutex_);
  for (const Event& e : events) apply(e);
}

void AccountReadModel::close_order(Account& a, uint64_t id, OrderStatus status, uint8_t reason, Timestamp t) {
  auto it = a.live.find(id);
  if (it == a.live.end()) return;
  OrderRecord r = it->second;
  a.live.erase(it);
  r.status = status;
  r.end_reason = reason;
  r.updated = t;
  a.closed[id] = r;
  a.closing_order.push_back(id);
  while (a.closing_order.size() > kClosedPerAccount) {
    a.closed.erase(a.closing_order.front());
    a.closing_order.pop_front();
  }
}

void AccountReadModel::on_trade_leg(const Event& e, const TradeLeg& leg, Side side, bool maker) {
  Account& a = accounts_[leg.account.value];
  const Trade& t = e.trade;
  FillRecord f{t.trade_id, leg.order_id, t.instrument, side, t.price, t.qty, t.notional, leg.fee, maker,
               e.cause.timestamp, a.next_fill_seq++};
  a.fills.push_back(f);
  if (a.fills.size() > kFillsPerAccount) a.fills.pop_front();
  auto it = a.live.find(leg.order_id.value);
  if (it == a.live.end()) return;
  OrderRecord& r = it->second;
  if (r.product == Product::kCash) {
    cost_basis_.on_cash_fill(leg.account, t.instrument, side, t.qty.value, t.notional.value, leg.fee.value);
  }
  r.filled = leg.filled;
  r.notional_filled = Amount{sat_add(r.notional_filled.value, t.notional.value)};
  r.fees = Amount{sat_add(r.fees.value, leg.fee.value)};
  r.updated = e.cause.timestamp;
  if (leg.leaves.value == 0) {
    close_order(a, leg.order_id.value, OrderStatus::kFilled, 0, e.cause.timestamp);
  } else {
    r.status = OrderStatus::kPartiallyFilled;
  }
}

void AccountReadModel::apply(const Event& e) {
  switch (e.type) {
    case EventType::kOrderAccepted: {
      const OrderAccepted& o = e.accepted;
      Account& a = accounts_[o.account.value];
      OrderRecord r;
      r.id = o.order_id;
      r.account = o.account;
      r.instrument = o.instrument;
      r.side = o.side;
      r.type = o.type;
      r.tif = o.tif;
      r.post_only = o.post_only != 0;
      r.price = o.price;
      r.stop_price = o.stop_price;
      r.qty = o.qty;
      r.expire_at = o.expire_at;
      r.client_order_id = o.client_order_id;
      r.product = o.product;
      r.hold_price = o.hold_price;
      r.status = o.pending_trigger ? OrderStatus::kPendingTrigger : OrderStatus::kNew;
      r.created = r.updated = e.cause.timestamp;
      a.live[o.order_id.value] = r;
      ++a.summary.open_orders;
      break;
    }
    case EventType::kTrade: {
      const Trade& t = e.trade;
      const Side passive_side = t.aggressor_side == Side::kBuy ? Side::kSell : Side::kBuy;
      on_trade_leg(e, t.aggressor, t.aggressor_side, false);
      on_trade_leg(e, t.passive, passive_side, true);
      break;
    }
    case EventType::kOrderCancelled: {
      Account& a = accounts_[e.cancelled.account.value];
      close_order(a, e.cancelled.order_id.value, OrderStatus::kCancelled, static_cast<uint8_t>(e.cancelled.reason),
                  e.cause.timestamp);
      break;
    }
    case EventType::kOrderExpired: {
      Account& a = accounts_[e.expired.account.value];
      close_order(a, e.expired.order_id.value, OrderStatus::kExpired, static_cast<uint8_t>(e.expired.reason),
                  e.cause.timestamp);
      break;
    }
    case EventType::kOrderAmended: {
      Account& a = accounts_[e.amended.account.value];
      auto it = a.live.find(e.amended.order_id.value);
      if (it == a.live.end()) break;
      it->second.price = e.amended.price;
      it->second.stop_price = e.amended.stop_price;
      it->second.qty = e.amended.qty;
      it->second.hold_price = e.amended.hold_price;
      it->second.updated = e.cause.timestamp;
      break;
    }
    case EventType::kOrderTriggered: {
      Account& a = accounts_[e.triggered.account.value];
      auto it = a.live.find(e.triggered.order_id.value);
      if (it != a.live.end()) {
        it->second.status = it->second.filled.value > 0 ? OrderStatus::kPartiallyFilled : OrderStatus::kNew;
        it->second.updated = e.cause.timestamp;
      }
      break;
    }
    case EventType::kBalanceChanged: {
      const BalanceChanged& b = e.balance;
      accounts_[b.account.value].balances[b.asset.value] = BalanceRecord{b.asset, b.available, b.locked};
      cost_basis_.on_total(b.account, b.asset, sat_add(b.available.value, b.locked.value));
      break;
    }
    case EventType::kTransferCompleted: {
      const TransferCompleted& t = e.transfer;
      cost_basis_.on_transfer(t.account, t.asset, t.amount.value, t.is_deposit != 0, e.cause.timestamp);
      break;
    }
    case EventType::kInstrumentAdded: {
      const InstrumentSpec& i = e.instrument_added;
      cost_basis_.add_instrument(i.id, i.base, i.quote);
      break;
    }
    case EventType::kAccountConfigured: {
      Account& a = accounts_[e.account_configured.account.value];
      a.summary.exists = true;
      a.summary.max_open_orders = e.account_configured.max_open_orders;
      a.summary.default_stp = e.account_configured.default_stp;
      a.summary.margin_tier = e.account_configured.margin_tier;
      break;
    }
    case EventType::kAccountLimitsSet: {
      const SetAccountLimits& l = e.account_limits;
      auto& list = accounts_[l.account.value].summary.limits;
      auto it = std::lower_bound(list.begin(), list.end(), l.instrument,
                                 [](const SetAccountLimits& x, InstrumentId id) { return x.instrument < id; });
      if (it != list.end() && it->instrument == l.instrument) it = list.erase(it);
      if (l.max_order_qty.value || l.max_order_notional.value || l.max_position.value) list.insert(it, l);
      break;
    }
    case EventType::kLossLimitSet: {
      const SetLossLimit& l = e.loss_limit;
      AccountSummary& s = accounts_[l.account.value].summary;
      auto it = std::lower_bound(s.loss_limits.begin(), s.loss_limits.end(), l.asset,
                                 [](const SetLossLimit& x, AssetId id) { return x.asset < id; });
      const auto at = it - s.loss_limits.begin();
      const int64_t reached = it != s.loss_limits.end() && it->asset == l.asset ? s.loss_reached_day[at] : -1;
      if (it != s.loss_limits.end() && it->asset == l.asset) {
        s.loss_limits.erase(it);
        s.loss_reached_day.erase(s.loss_reached_day.begin() + at);
      }
      if (l.max_daily_loss.value) {
        s.loss_limits.insert(s.loss_limits.begin() + at, l);
        s.loss_reached_day.insert(s.loss_reached_day.begin() + at, reached);  // a block stays for the day
      }
      break;
    }
    case EventType::kDailyLossLimitReached: {
      AccountSummary& s = accounts_[e.daily_loss.account.value].summary;
      for (std::size_t i = 0; i < s.loss_limits.size(); ++i) {
        if (s.loss_limits[i].asset == e.daily_loss.asset) s.loss_reached_day[i] = e.cause.timestamp / 86'400'000'000'000;
      }
      break;
    }
    case EventType::kCancelAfterSet:
      accounts_[e.cancel_after.account.value].summary.cancel_at = e.cancel_after.fired ? 0 : e.cancel_after.cancel_at;
      break;
    case EventType::kMarginStatusChanged: {
      auto& calls = accounts_[e.margin_status.account.value].margin_calls;
      if (e.margin_status.in_call) calls.insert(e.margin_status.asset.value);
      else calls.erase(e.margin_status.asset.value);
      break;
    }
    case EventType::kPositionChanged: {
      const PositionChanged& p = e.position;
      PositionRecord& r = accounts_[p.account.value].positions[p.instrument.value];
      r = PositionRecord{p.instrument, p.qty.value, p.cost.get(), p.realized.get(), p.fees.get(), e.cause.timestamp};
      break;
    }
    case EventType::kAccountStatusChanged: {
      Account& a = accounts_[e.account_status.account.value];
      a.summary.exists = true;
      a.summary.enabled = e.account_status.enabled != 0;
      break;
    }
    default:
      break;
  }
  // Keep the open-order count equal to the live map (cheaper than tracking
  // every path that closes an order).
  switch (e.type) {
    case EventType::kOrderAccepted:
    case EventType::kTrade:
    case EventType::kOrderCancelled:
    case EventType::kOrderExpired: {
      auto fix = [&](AccountId id) {
        auto it = accounts_.find(id.value);
        if (it != accounts_.end()) it->second.summary.open_orders = static_cast<uint32_t>(it->second.live.size());
      };
      if (e.type == EventType::kTrade) {
        fix(e.trade.aggressor.account);
        fix(e.trade.passive.account);
      } else if (e.type == EventType::kOrderAccepted) {
        fix(e.accepted.account);
      } else if (e.type == EventType::kOrderCancelled) {
        fix(e.cancelled.account);
      } else {
        fix(e.expired.account);
      }
      break;
    }
    default:
      break;
  }
}

AccountSummary AccountReadModel::summary(AccountId account) const {
  std::shared_lock lock(mutex_);
  auto it = accounts_.find(account.value);
  return it == accounts_.end() ? AccountSummary{} : it->second.summary;
}

std::vector<BalanceRecord> AccountReadModel::balances(AccountId account) const {
  std::shared_lock lock(mutex_);
  std::vector<BalanceRecord> out;
  auto it = accounts_.find(account.value);
  if (it == accounts_.end()) return out;
  for (const auto& [asset, b] : it->second.balances) out.push_back(b);
  return out;
}

std::vector<PositionRecord> AccountReadModel::positions(AccountId account) const {
  std::shared_lock lock(mutex_);
  std::vector<PositionRecord> out;
  auto it = accounts_.find(account.value);
  if (it == accounts_.end()) return out;
  for (const auto& [instrument, p] : it->second.positions) out.push_back(p);
  return out;
}

std::vector<HoldingCost> AccountReadModel::holding_costs(AccountId account) const {
  std::shared_lock lock(mutex_);
  return cost_basis_.of(account);
}

AccountHoldings AccountReadModel::holdings(AccountId account) const {
  std::shared_lock lock(mutex_);
  AccountHoldings out;
  auto it = accounts_.find(account.value);
  if (it == accounts_.end()) return out;
  for (const auto& [asset, b] : it->second.balances) out.balances.push_back(b);
  for (const auto& [instrument, p] : it->second.positions) out.positions.push_back(p);
  out.costs = cost_basis_.of(account);
  return out;
}

std::vector<HoldingCost> AccountReadModel::all_holding_costs() const {
  std::shared_lock lock(mutex_);
  std::vector<HoldingCost> out;
  cost_basis_.for_each([&](const HoldingCost& h) { out.push_back(h); });
  return out;
}

void AccountReadModel::restore_holding_costs(const std::vector<HoldingCost>& rows) {
  std::unique_lock lock(mutex_);
  for (const HoldingCost& h : rows) cost_basis_.put(h);
}

void AccountReadModel::track_holding_changes() {
  std::unique_lock lock(mutex_);
  cost_basis_.track_changes(true);
}

std::vector<HoldingCost> AccountReadModel::drain_holding_changes() {
  std::unique_lock lock(mutex_);
  return cost_basis_.drain_changes();
}

std::vector<AccountId> AccountReadModel::account_ids() const {
  std::shared_lock lock(mutex_);
  std::vector<AccountId> out;
  out.reserve(accounts_.size());
  for (const auto& [id, a] : accounts_) out.push_back(AccountId{id});
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<uint32_t> AccountReadModel::margin_calls(AccountId account) const {
  std::shared_lock lock(mutex_);
  auto it = accounts_.find(account.value);
  if (it == accounts_.end()) return {};
  return {it->second.margin_calls.begin(), it->second.margin_calls.end()};
}

std::optional<OrderRecord> AccountReadModel::order(AccountId account, OrderId id) const {
  std::shared_lock lock(mutex_);
  auto it = accounts_.find(account.value);
  if (it == accounts_.end()) return std::nullopt;
  if (auto o = it->second.live.find(id.value); o != it->second.live.end()) return o->second;
  if (auto o = it->second.closed.find(id.value); o != it->second.closed.end()) return o->second;
  return std::nullopt;
}

std::optional<OrderRecord> AccountReadModel::order_by_client_id(AccountId account, const ClientOrderId& id) const {
  std::shared_lock lock(mutex_);
  auto it = accounts_.find(account.value);
  if (it == accounts_.end() || id.empty()) return std::nullopt;
  // Live orders first (client ids are unique among them), then the newest closed one.
  for (const auto& [oid, o] : it->second.live) {
    if (o.client_order_id == id) return o;
  }
  for (auto o = it->second.closed.rbegin(); o != it->second.closed.rend(); ++o) {
    if (o->second.client_order_id == id) return o->second;
  }
  return std::nullopt;
}

std::vector<OrderRecord> AccountReadModel::orders(AccountId account, const OrderFilter& f) const {
  std::shared_lock lock(mutex_);
  std::vector<OrderRecord> out;
  auto it = accounts_.find(account.value);
  if (it == accounts_.end()) return out;
  const Account& a = it->second;
  // Merge live and closed by descending id, starting below the cursor.
  auto live = std::make_reverse_iterator(a.live.lower_bound(f.before.value));
  auto closed = std::make_reverse_iterator(a.closed.lower_bound(f.before.value));
  while (out.size() < f.limit && (live != a.live.rend() || closed != a.closed.rend())) {
    const OrderRecord* next;
    if (closed == a.closed.rend() || (live != a.live.rend() && live->first > closed->first)) {
      next = &(live++)->second;
    } else {
      next = &(closed++)->second;
    }
    if (f.instrument && next->instrument != *f.instrument) continue;
    if (f.open && *f.open == is_terminal(next->status)) continue;
    if (next->created < f.created_from || next->created >= f.created_to) continue;
    out.push_back(*next);
  }
  return out;
}

std::vector<FillRecord> AccountReadModel::fills(AccountId account, std::optional<InstrumentId> instrument, uint64_t before,
                                           std::size_t limit) const {
  std::shared_lock lock(mutex_);
  std::vector<FillRecord> out;
  auto it = accounts_.find(account.value);
  if (it == accounts_.end()) return out;
  for (auto f = it->second.fills.rbegin(); f != it->second.fills.rend() && out.size() < limit; ++f) {
    if (f->seq_no >= before) continue;
    if (instrument && f->instrument != *instrument) continue;
    out.push_back(*f);
  }
  return out;
}

}  // namespace bourse::accounts

// Per-account risk limits: max order quantity and notional and max MARGIN
// position per instrument, max daily loss per collateral asset (then
// MARGIN orders must reduce). Rules: docs/engine.md, "Account limits".
#include <algorithm>

#include "engine_impl.h"

namespace bourse {

namespace {

constexpr int64_t kDayNs = 86'400'000'000'000;

}  // namespace

void Engine::Impl::set_account_limits(const SetAccountLimits& l) {
  auto refuse = [&](RejectReason r) { reject(r, ClientOrderId{}, OrderId{}, l.account, l.instrument); };
  if (l.account.value == 0 || l.account.value >= cfg_.max_accounts) return refuse(RejectReason::kInvalidAccount);
  AccountState& a = accounts_[l.account.value];
  if (!a.exists) return refuse(RejectReason::kUnknownAccount);
  if (instrument_state(l.instrument) == nullptr) return refuse(RejectReason::kUnknownInstrument);
  if (l.max_order_qty < Qty{} || l.max_order_notional < Amount{} || l.max_position < Qty{}) {
    return refuse(RejectReason::kInvalidCommand);
  }
  auto it = std::lower_bound(a.limits.begin(), a.limits.end(), l.instrument,
                             [](const SetAccountLimits& x, InstrumentId id) { return x.instrument < id; });
  const bool none = !l.max_order_qty && !l.max_order_notional && !l.max_position;
  if (it != a.limits.end() && it->instrument == l.instrument) {
    if (none) a.limits.erase(it); else *it = l;
  } else if (!none) {
    a.limits.insert(it, l);
  }
  emit(EventType::kAccountLimitsSet).account_limits = l;
}

void Engine::Impl::set_loss_limit(const SetLossLimit& l) {
  auto refuse = [&](RejectReason r) { reject(r, ClientOrderId{}, OrderId{}, l.account, InstrumentId{}); };
  if (l.account.value == 0 || l.account.value >= cfg_.max_accounts) return refuse(RejectReason::kInvalidAccount);
  AccountState& a = accounts_[l.account.value];
  if (!a.exists) return refuse(RejectReason::kUnknownAccount);
  if (asset(l.asset) == nullptr) return refuse(RejectReason::kUnknownAsset);
  if (l.max_daily_loss < Amount{}) return refuse(RejectReason::kInvalidCommand);
  auto it = std::lower_bound(a.loss.begin(), a.loss.end(), l.asset,
                             [](const detail::LossTracker& x, AssetId id) { return x.asset < id; });
  const bool exists = it != a.loss.end() && it->asset == l.asset;
  if (!l.max_daily_loss) {
    if (exists) a.loss.erase(it);
  } else if (exists) {
    it->max_daily_loss = l.max_daily_loss;
    // A lower limit applies at once (a higher one does not lift a block
    // already reached today: that ends with the day).
    if (!it->reached && it->day == cause_->timestamp / kDayNs && -it->today > l.max_daily_loss.value) {
      loss_limit_reached(l.account, *it);
    }
  } else {
    // Today's result counts from now: fills before the limit existed were not tracked.
    a.loss.insert(it, detail::LossTracker{l.asset, l.max_daily_loss, cause_->timestamp / kDayNs, 0, false});
  }
  emit(EventType::kLossLimitSet).loss_limit = l;
}

RejectReason Engine::Impl::check_account_limits(const AccountState& a, const InstrumentState& in, Side side,
                                                Product product, Qty qty, Qty new_leaves, Qty old_leaves,
                                                int64_t notional) const {
  if (a.limits.empty() || liquidating_) return RejectReason::kNone;
  const auto it = std::lower_bound(a.limits.begin(), a.limits.end(), in.spec.id,
                                   [](const SetAccountLimits& x, InstrumentId id) { return x.instrument < id; });
  if (it == a.limits.end() || it->instrument != in.spec.id) return RejectReason::kNone;
  if (it->max_order_qty && qty > it->max_order_qty) return RejectReason::kOrderLimitExceeded;
  if (it->max_order_notional && notional > it->max_order_notional.value) return RejectReason::kOrderLimitExceeded;
  if (product == Product::kMargin && it->max_position) {
    // The position if every open MARGIN order on this side (with this one,
    // and without the amended order's current leaves) filled. An order
    // that leaves it no further from flat than it is now passes.
    const detail::MarginLine* l = find_line(a, in.spec.id);
    const Int128 position = l == nullptr ? 0 : l->pos.qty;
    const Int128 open = l == nullptr ? 0 : (side == Side::kBuy ? l->buy_open : l->sell_open);
    const Int128 more = open - old_leaves.value + new_leaves.value;
    const Int128 projected = side == Side::kBuy ? position + more : position - more;
    if (position::abs128(projected) > it->max_position.value &&
        position::abs128(projected) > position::abs128(position)) {
      return RejectReason::kPositionLimitExceeded;
    }
  }
  return RejectReason::kNone;
}

bool Engine::Impl::daily_loss_blocks(const AccountState& a, AssetId asset) const {
  for (const detail::LossTracker& t : a.loss) {
    if (t.asset == asset) return t.reached && t.day == cause_->timestamp / kDayNs;
  }
  return false;
}

void Engine::Impl::record_margin_result(AccountId account, AssetId asset, Int128 result) {
  AccountState& a = accounts_[account.value];
  for (detail::LossTracker& t : a.loss) {
    if (t.asset != asset) continue;
    const int64_t day = cause_->timestamp / kDayNs;
    if (day != t.day) {
      t.day = day;
      t.today = 0;
      t.reached = false;
    }
    t.today += result;
    if (!t.reached && -t.today > t.max_daily_loss.value) loss_limit_reached(account, t);
    return;
  }
}

void Engine::Impl::loss_limit_reached(AccountId account, detail::LossTracker& t) {
  t.reached = true;
  Event& e = emit(EventType::kDailyLossLimitReached);
  e.daily_loss.loss = Wide::of(-t.today);
  e.daily_loss.account = account;
  e.daily_loss.asset = t.asset;
  loss_blocks_.push_back({account.value, t.asset.value});
}

void Engine::Impl::cancel_for_loss_limits() {
  std::sort(loss_blocks_.begin(), loss_blocks_.end());
  for (const auto& [account, asset] : loss_blocks_) {
    AccountState& a = accounts_[account];
    for (uint32_t oi = a.head; oi != detail::kNil;) {
      const uint32_t next = orders_[oi].acct_next;
      if (orders_[oi].product == Product::kMargin &&
          instrument_state(orders_[oi].instrument)->spec.quote.value == asset) {
        cancel(oi, CancelReason::kDailyLossLimit);
      }
      oi = next;
    }
  }
}

void Engine::Impl::account_limits(AccountId account, std::vector<SetAccountLimits>* limits,
                                  std::vector<SetLossLimit>* loss_limits, std::vector<int64_t>* reached_days) const {
  limits->clear();
  loss_limits->clear();
  reached_days->clear();
  if (account.value == 0 || account.value >= accounts_.size()) return;
  const AccountState& a = accounts_[account.value];
  *limits = a.limits;
  for (const detail::LossTracker& t : a.loss) {
    loss_limits->push_back({t.max_daily_loss, account, t.asset});
    reached_days->push_back(t.reached ? t.day : -1);
  }
}

}  // namespace bourse

#include "ledger.h"

#include <cstdio>
#include <cstdlib>

#include "bourse/core/checked.h"

namespace bourse::detail {
namespace {
// A broken ledger invariant is our bug, never the client's: stop rather than
// move money wrongly. Costs one predictable branch.
[[noreturn]] void ledger_panic(const char* what) {
  std::fprintf(stderr, "ledger invariant violated: %s\n", what);
  std::abort();
}
}  // namespace

Ledger::Ledger(uint32_t max_accounts, uint32_t max_assets)
    : max_assets_(max_assets),
      slots_(static_cast<std::size_t>(max_accounts) * max_assets),
      supply_(max_assets),
      pool_(max_assets) {
  touched_.reserve(4096);
}

void Ledger::clear() {
  for (Slot& s : slots_) s = Slot{};
  for (Amount& a : supply_) a = Amount{};
  for (Amount& a : pool_) a = Amount{};
  touched_.clear();
}

Ledger::Slot& Ledger::touch(AccountId account, AssetId asset) {
  Slot& s = slots_[index(account, asset)];
  if (s.epoch != epoch_) {
    s.epoch = epoch_;
    touched_.push_back({account, asset, {s.available, s.locked}});
  }
  return s;
}

bool Ledger::deposit(AccountId account, AssetId asset, Amount amount) {
  int64_t new_supply;
  if (!checked_add(supply_[asset.value].value, amount.value, &new_supply)) return false;
  supply_[asset.value] = Amount{new_supply};
  touch(account, asset).available += amount;
  return true;
}

bool Ledger::withdraw(AccountId account, AssetId asset, Amount amount) {
  Slot& s = slots_[index(account, asset)];
  if (s.available < amount) return false;
  touch(account, asset).available -= amount;
  supply_[asset.value] -= amount;
  return true;
}

bool Ledger::lock(AccountId account, AssetId asset, Amount amount) {
  Slot& s = slots_[index(account, asset)];
  if (s.available < amount) return false;
  touch(account, asset);
  s.available -= amount;
  s.locked += amount;
  return true;
}

void Ledger::unlock(AccountId account, AssetId asset, Amount amount) {
  Slot& s = touch(account, asset);
  if (s.locked < amount) ledger_panic("unlock more than locked");
  s.locked -= amount;
  s.available += amount;
}

void Ledger::spend_locked(AccountId account, AssetId asset, Amount amount) {
  Slot& s = touch(account, asset);
  if (s.locked < amount) ledger_panic("spend more than locked");
  s.locked -= amount;
}

void Ledger::credit(AccountId account, AssetId asset, Amount amount) {
  // With a margin pool that can go negative, Σ balances is no longer capped
  // by the supply: check rather than wrap (bounded in practice by the
  // margin bounds, docs/engine.md).
  Slot& s = touch(account, asset);
  if (!checked_add(s.available.value, amount.value, &s.available.value)) ledger_panic("credit overflows a balance");
}

void Ledger::debit_available(AccountId account, AssetId asset, Amount amount) {
  Slot& s = touch(account, asset);
  if (s.available < amount) ledger_panic("debit more than available");
  s.available -= amount;
}

void Ledger::adjust_available(AccountId account, AssetId asset, int64_t delta) {
  Slot& s = touch(account, asset);
  if (!checked_add(s.available.value, delta, &s.available.value)) ledger_panic("margin settlement overflows a balance");
}

void Ledger::adjust_pool(AssetId asset, int64_t delta) {
  Amount& p = pool_[asset.value];
  if (!checked_add(p.value, delta, &p.value)) ledger_panic("margin settlement overflows the pool");
}

}  // namespace bourse::detail

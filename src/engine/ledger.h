// Balances per (account, asset): available and locked, plus each asset's
// total supply (deposits − withdrawals) and the margin pool's signed balance
// (Σ balances + pool = supply). Owned by the Engine; engine thread
// only. Every mutation records the balance's value at the start of the
// command so that the engine can emit one BalanceChanged per changed
// balance. Overflow is impossible by construction: deposits are refused past
// the supply limit and every balance is part of the supply.
#pragma once

#include <cstdint>
#include <vector>

#include "bourse/engine/engine.h"

namespace bourse::detail {

class Ledger {
 public:
  Ledger(uint32_t max_accounts, uint32_t max_assets);

  Balance get(AccountId account, AssetId asset) const {
    const Slot& s = slots_[index(account, asset)];
    return {s.available, s.locked};
  }
  Amount supply(AssetId asset) const { return supply_[asset.value]; }

  // Returns false (nothing changed) if the supply would overflow.
  bool deposit(AccountId account, AssetId asset, Amount amount);
  // Returns false (nothing changed) if available < amount.
  bool withdraw(AccountId account, AssetId asset, Amount amount);
  // available -> locked. Returns false (nothing changed) if available < amount.
  bool lock(AccountId account, AssetId asset, Amount amount);
  // locked -> available.
  void unlock(AccountId account, AssetId asset, Amount amount);
  // Removes `amount` from locked (paid away in a settlement).
  void spend_locked(AccountId account, AssetId asset, Amount amount);
  void credit(AccountId account, AssetId asset, Amount amount);
  void debit_available(AccountId account, AssetId asset, Amount amount);
  // MARGIN settlement: available may go below zero (the account owes the
  // pool) and the pool may hold either sign. Aborts only if int64 would
  // wrap, which the supply bound makes unreachable in practice.
  void adjust_available(AccountId account, AssetId asset, int64_t delta);
  void adjust_pool(AssetId asset, int64_t delta);
  Amount pool(AssetId asset) const { return pool_[asset.value]; }

  // Starts a new command: forgets the previous command's touches.
  void begin_command() {
    ++epoch_;
    touched_.clear();
  }
  struct Touched {
    AccountId account;
    AssetId asset;
    Balance before;
  };
  // (account, asset) pairs touched since begin_command, unsorted.
  std::vector<Touched>& touched() { return touched_; }

  // Snapshot support.
  void set_raw(AccountId account, AssetId asset, Balance b) {
    Slot& s = slots_[index(account, asset)];
    s.available = b.available;
    s.locked = b.locked;
  }
  void set_supply(AssetId asset, Amount a) { supply_[asset.value] = a; }
  void set_pool(AssetId asset, Amount a) { pool_[asset.value] = a; }
  void clear();
  uint32_t max_assets() const { return max_assets_; }

 private:
  struct Slot {
    Amount available;
    Amount locked;
    uint64_t epoch = 0;  // command epoch of the last touch
  };
  std::size_t index(AccountId a, AssetId s) const {
    return static_cast<std::size_t>(a.value) * max_assets_ + s.value;
  }
  Slot& touch(AccountId account, AssetId asset);

  uint32_t max_assets_;
  std::vector<Slot> slots_;
  std::vector<Amount> supply_;
  std::vector<Amount> pool_;  // margin pool per asset (signed)
  std::vector<Touched> touched_;
  uint64_t epoch_ = 1;
};

}  // namespace bourse::detail

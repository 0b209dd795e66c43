// Open-addressing hash map (linear probing, backward-shift deletion, no
// tombstones) for the engine's indexes. Capacity is fixed at construction
// for the expected size; it only grows (and allocates) when the load factor
// passes 1/2, which a correctly sized engine never reaches in steady state.
// Single-threaded, owned by the engine thread. Tested against
// std::unordered_map in tests/engine/order_book_test.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace bourse::detail {

inline uint64_t mix64(uint64_t x) {
  // splitmix64 finalizer: sequential ids spread over all slots.
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

template <class K, class V, class Hash>
class OpenHashMap {
 public:
  explicit OpenHashMap(std::size_t expected = 16) { reset(expected); }

  void reset(std::size_t expected) {
    std::size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    size_ = 0;
  }

  std::size_t size() const { return size_; }

  V* find(const K& key) {
    for (std::size_t i = Hash{}(key) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (s.key == key) return &s.value;
    }
  }
  const V* find(const K& key) const { return const_cast<OpenHashMap*>(this)->find(key); }

  // Returns false if the key is already present (value unchanged).
  bool insert(const K& key, const V& value) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    for (std::size_t i = Hash{}(key) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (!s.used) {
        s.key = key;
        s.value = value;
        s.used = true;
        ++size_;
        return true;
      }
      if (s.key == key) return false;
    }
  }

  bool erase(const K& key) {
    std::size_t i = Hash{}(key) & mask_;
    for (;; i = (i + 1) & mask_) {
      if (!slots_[i].used) return false;
      if (slots_[i].key == key) break;
    }
    // Backward-shift: move later entries of the probe run into the hole.
    std::size_t hole = i;
    for (std::size_t j = (hole + 1) & mask_; slots_[j].used; j = (j + 1) & mask_) {
      const std::size_t home = Hash{}(slots_[j].key) & mask_;
      // Can slot j move to the hole? Only if its home is not in (hole, j].
      const bool home_between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (!home_between) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = Slot{};
    --size_;
    return true;
  }

  template <class F>
  void for_each(F&& fn) const {
    for (const Slot& s : slots_)
      if (s.used) fn(s.key, s.value);
  }

 private:
  struct Slot {
    K key{};
    V value{};
    bool used = false;
  };

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    size_ = 0;
    for (const Slot& s : old)
      if (s.used) insert(s.key, s.value);
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace bourse::detail

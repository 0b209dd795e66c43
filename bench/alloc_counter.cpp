// Counts global heap allocations (see alloc_counter.h).
#include "bench/alloc_counter.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace {
std::atomic<uint64_t> g_allocations{0};
}

// GCC sees gtest's inlined `new T` / sized delete pairs through these
// replacements and misreports them as mismatched; they are not.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace bourse::bench {
uint64_t allocation_count() { return g_allocations.load(std::memory_order_relaxed); }
}  // namespace bourse::bench

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

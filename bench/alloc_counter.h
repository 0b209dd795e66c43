// A counting global operator new for the benchmark and the allocation tests.
// Linking bench/alloc_counter.cpp (the bourse_alloc_counter object library)
// replaces operator new for that whole binary.
#pragma once

#include <cstdint>

namespace bourse::bench {

// Heap allocations through operator new since the program started.
uint64_t allocation_count();

}  // namespace bourse::bench

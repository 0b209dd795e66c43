// Engine::restore on arbitrary bytes: never crashes; a failed restore leaves
// an empty engine; a successful one re-serializes to bytes that restore to
// the same state.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "bourse/engine/engine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bourse::Engine engine(bourse::EngineConfig{64, 8, 8, 1024, 100});
  if (!engine.restore({data, size})) {
    if (engine.live_order_count() != 0 || engine.last_seq() != 0) std::abort();
    return 0;
  }
  std::vector<unsigned char> first, second;
  engine.serialize(&first);
  bourse::Engine other(bourse::EngineConfig{64, 8, 8, 1024, 100});
  if (!other.restore(first)) std::abort();
  other.serialize(&second);
  if (first != second) std::abort();
  return 0;
}

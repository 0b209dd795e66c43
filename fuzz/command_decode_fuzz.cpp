// decode_command on arbitrary bytes: never crashes; anything it accepts
// re-encodes to the same bytes and the engine survives applying it.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "bourse/engine/engine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bourse::Command c;
  if (!bourse::decode_command(data, size, &c)) return 0;
  unsigned char again[bourse::kMaxEncodedCommand];
  const std::size_t n = bourse::encode_command(c, again);
  if (n != size || std::memcmp(again, data, n) != 0) std::abort();
  static bourse::Engine engine(bourse::EngineConfig{64, 8, 8, 1024, 100});
  c.header.seq = engine.last_seq() + 1;
  engine.apply(c);
  return 0;
}

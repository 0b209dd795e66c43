// Bounded random-input driver for the fuzz targets when libFuzzer is not in
// use: N inputs of random length built from random bytes, mutated prefixes of
// earlier inputs and printable decimal-ish text. Deterministic seed so a
// failure reproduces; prints the failing input's index.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  const long runs = argc > 1 ? std::atol(argv[1]) : 10000;
  std::mt19937_64 rng(0xB0025E);
  std::vector<uint8_t> previous;
  const char alphabet[] = "0123456789.-+e ";
  for (long i = 0; i < runs; ++i) {
    std::vector<uint8_t> input;
    const std::size_t len = rng() % (i % 10 == 0 ? 4096 : 64);
    switch (rng() % 3) {
      case 0:
        for (std::size_t k = 0; k < len; ++k) input.push_back(static_cast<uint8_t>(rng()));
        break;
      case 1:
        for (std::size_t k = 0; k < len; ++k) input.push_back(static_cast<uint8_t>(alphabet[rng() % (sizeof(alphabet) - 1)]));
        break;
      default:
        input = previous;
        if (!input.empty()) {
          for (int m = 0; m < 4; ++m) input[rng() % input.size()] = static_cast<uint8_t>(rng());
          input.resize(rng() % (input.size() + 1));
        }
        break;
    }
    LLVMFuzzerTestOneInput(input.data(), input.size());
    if (!input.empty()) previous = input;
  }
  std::printf("%ld inputs, no crash\n", runs);
  return 0;
}

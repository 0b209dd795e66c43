// The device floor for the journal's durability figures: append CHUNK bytes
// and fdatasync, N times, in DIR; prints percentiles. Usage:
//   build/release/bench/fsync_probe DIR [CHUNK=70000] [N=2000]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bourse/core/clock.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fsync_probe DIR [CHUNK] [N]\n");
    return 2;
  }
  const std::string path = std::string(argv[1]) + "/fsync-probe.bin";
  const std::size_t chunk = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 70'000;
  const int n = argc > 3 ? std::atoi(argv[3]) : 2000;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || n <= 0) return 1;
  std::vector<char> buf(chunk, 'x');
  std::vector<int64_t> lat;
  for (int i = 0; i < n; ++i) {
    const int64_t t = bourse::monotonic_ns();
    if (::write(fd, buf.data(), chunk) != static_cast<ssize_t>(chunk) || ::fdatasync(fd) != 0) return 1;
    lat.push_back(bourse::monotonic_ns() - t);
  }
  ::close(fd);
  ::unlink(path.c_str());
  std::sort(lat.begin(), lat.end());
  auto at = [&](double q) { return lat[static_cast<std::size_t>(q * static_cast<double>(lat.size() - 1))] / 1000; };
  std::printf("{\"chunk_bytes\":%zu,\"appends\":%d,\"p50_us\":%ld,\"p99_us\":%ld,\"p999_us\":%ld}\n", chunk, n,
              static_cast<long>(at(0.5)), static_cast<long>(at(0.99)), static_cast<long>(at(0.999)));
  return 0;
}

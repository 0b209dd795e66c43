#include "bourse/sequencer/snapshot_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "bourse/core/crc32c.h"
#include "bourse/core/file_io.h"
#include "bourse/core/log.h"

namespace bourse {
namespace {

constexpr char kMagic[8] = {'B', 'R', 'S', 'S', 'N', 'A', 'P', 'F'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kMaxBody = uint64_t{1} << 36;  // 64 GiB: anything larger is corrupt

struct FileHeader {
  char magic[8];
  uint32_t version;
  uint32_t crc;  // crc32c of the body
  uint64_t seq;
  uint64_t body_bytes;
};
static_assert(sizeof(FileHeader) == 32);

bool fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

bool parse_name(const std::string& name, Seq* seq) {
  unsigned long long v = 0;
  char tail[8] = {};
  if (std::sscanf(name.c_str(), "snapshot-%20llu.%5s", &v, tail) != 2 || std::strcmp(tail, "snap") != 0) return false;
  *seq = v;
  return true;
}

}  // namespace

std::string snapshot_path(const std::string& dir, Seq seq) {
  char name[64];
  std::snprintf(name, sizeof(name), "snapshot-%020" PRIu64 ".snap", seq);
  return dir + "/" + name;
}

std::vector<Seq> list_snapshots(const std::string& dir) {
  std::vector<Seq> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    Seq s;
    if (parse_name(entry.path().filename().string(), &s)) out.push_back(s);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool write_snapshot(const std::string& dir, Seq seq, std::span<const unsigned char> body, int keep,
                    std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string final_path = snapshot_path(dir, seq);
  const std::string tmp_path = final_path + ".tmp";
  FileHeader h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.version = kVersion;
  h.crc = crc32c(body.data(), body.size());
  h.seq = seq;
  h.body_bytes = body.size();
  const int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "open " + tmp_path + ": " + std::strerror(errno);
    return false;
  }
  const bool ok = write_all(fd, &h, sizeof(h)) && write_all(fd, body.data(), body.size()) && ::fdatasync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp_path.c_str(), final_path.c_str()) != 0 || !fsync_dir(dir)) {
    *error = "write " + final_path + ": " + std::strerror(ok ? errno : saved);
    ::unlink(tmp_path.c_str());
    return false;
  }
  const std::vector<Seq> all = list_snapshots(dir);
  const auto kept = static_cast<std::size_t>(std::max(keep, 1));  // never the one just written
  for (std::size_t i = 0; i + kept < all.size(); ++i) {
    ::unlink(snapshot_path(dir, all[i]).c_str());
  }
  return true;
}

LoadedSnapshot load_latest_snapshot(const std::string& dir, Seq max_seq) {
  LoadedSnapshot out;
  std::vector<Seq> all = list_snapshots(dir);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (*it > max_seq) continue;
    const std::string path = snapshot_path(dir, *it);
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) continue;
    FileHeader h{};
    std::vector<unsigned char> body;
    const char* problem = nullptr;
    if (std::fread(&h, sizeof(h), 1, f) != 1) {
      problem = "truncated header";
    } else if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0 || h.version != kVersion) {
      problem = "bad magic or version";
    } else if (h.seq != *it || h.body_bytes > kMaxBody) {
      problem = "header does not match file name";
    } else if (std::error_code ec; h.body_bytes != std::filesystem::file_size(path, ec) - sizeof(h) || ec) {
      problem = "length mismatch";  // checked before allocating: the length is not under the CRC
    } else {
      body.resize(h.body_bytes);
      if (std::fread(body.data(), 1, body.size(), f) != body.size() || std::fgetc(f) != EOF) {
        problem = "length mismatch";
      } else if (crc32c(body.data(), body.size()) != h.crc) {
        problem = "crc mismatch";
      }
    }
    std::fclose(f);
    if (problem != nullptr) {
      log_line(LogLevel::kWarn, "snapshot", "skipping invalid snapshot %s: %s", path.c_str(), problem);
      continue;
    }
    out.found = true;
    out.seq = h.seq;
    out.body = std::move(body);
    out.path = path;
    return out;
  }
  return out;
}

}  // namespace bourse

// Snapshot files: the engine's canonical serialization wrapped in a header
// with a CRC32C (docs/snapshot-format.md). Written to a temporary name,
// fsync'ed, renamed, directory fsync'ed: a crash leaves either the old set of
// snapshots or the new one, never a half-written file under a real name.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bourse/core/types.h"

namespace bourse {

// Writes snapshot-<seq>.snap in `dir` and deletes all but the newest `keep`.
// Returns false with *error on I/O failure (the previous snapshots remain).
bool write_snapshot(const std::string& dir, Seq seq, std::span<const unsigned char> body, int keep,
                    std::string* error);

struct LoadedSnapshot {
  bool found = false;
  Seq seq = 0;
  std::vector<unsigned char> body;
  std::string path;
};

// Loads the newest snapshot whose header and CRC are valid and whose seq is
// at most `max_seq`; invalid files are reported with a log line and skipped.
LoadedSnapshot load_latest_snapshot(const std::string& dir, Seq max_seq = UINT64_MAX);

// Every snapshot file's seq in `dir`, ascending (valid or not).
std::vector<Seq> list_snapshots(const std::string& dir);
std::string snapshot_path(const std::string& dir, Seq seq);

}  // namespace bourse

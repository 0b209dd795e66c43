// The market-data worker link's decoder: any bytes decode to frames whose
// views lie inside the input, or to an error, never past the end; a decoded
// frame re-encodes to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/md_link.h"

using namespace bourse::gateway;

namespace {

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

std::string reencode(const LinkFrame& f) {
  std::string out;
  switch (f.type) {
    case LinkType::kDirectory: {
      std::vector<std::pair<uint32_t, std::string>> entries;
      for (const auto& [id, symbol] : f.directory) entries.emplace_back(id, std::string(symbol));
      encode_directory(out, entries);
      break;
    }
    case LinkType::kMessage: encode_message(out, f.seq, f.key, f.channel, f.message); break;
    case LinkType::kBatchEnd: encode_batch_end(out); break;
    case LinkType::kReplay: encode_replay(out, f.request, f.seq, f.key, f.channel, f.message); break;
    case LinkType::kSnapshot: encode_snapshot(out, f.request, f.key, f.channel, f.message); break;
    case LinkType::kAttached: encode_attached(out, f.request, f.seq, f.channel); break;
    case LinkType::kAttach: encode_attach(out, f.request, f.flags, f.seq, f.channel); break;
    case LinkType::kReady: encode_ready(out); break;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (!in.empty()) {
    LinkFrame f;
    std::size_t used = 0;
    const LinkDecode d = decode_link_frame(in, &f, &used);
    if (d != LinkDecode::kFrame) break;
    if (used == 0 || used > in.size() || !inside(f.channel, in) || !inside(f.message, in)) std::abort();
    for (const auto& entry : f.directory) {
      if (!inside(entry.second, in)) std::abort();
    }
    if (reencode(f) != in.substr(0, used)) std::abort();
    in.remove_prefix(used);
  }
  return 0;
}

// A WebSocket client's view of one book channel, kept by the documented
// resync procedure (docs/websocket.md), for end-to-end tests.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "bourse/core/crc32c.h"
#include "integration/json_view.h"

namespace bourse::testing {

// A client-side book kept by the documented procedure (docs/websocket.md):
// a snapshot replaces it; a diff at or below the snapshot's seq is dropped;
// otherwise it must be exactly the next seq. Prices are compared as scaled
// integers; the checksum is recomputed from the texts.
class ClientBook {
 public:
  // Returns false on a gap or a checksum mismatch.
  bool apply(Json& m, std::string* why) {
    const std::string type = m.s("/type");
    const int64_t seq = m.i("/seq");
    if (type == "snapshot") {
      bids_.clear();
      asks_.clear();
      seq_ = seq;
      ++snapshots_;
      reasons_.push_back(m.s("/reason"));
    } else if (type == "update") {
      if (seq_ < 0) return true;  // before the first snapshot: buffered and dropped in this test
      if (seq <= seq_) return true;
      if (seq != seq_ + 1) {
        *why = "gap: had " + std::to_string(seq_) + ", got " + std::to_string(seq);
        return false;
      }
      seq_ = seq;
      ++diffs_;
    } else {
      return true;  // heartbeats
    }
    set_levels(m, "/bids", bids_);
    set_levels(m, "/asks", asks_);
    const int64_t expected = m.i("/checksum");
    if (expected >= 0 && expected != checksum()) {
      *why = "checksum mismatch at seq " + std::to_string(seq);
      return false;
    }
    return true;
  }
  int64_t seq() const { return seq_; }
  int snapshots() const { return snapshots_; }
  int diffs() const { return diffs_; }
  const std::vector<std::string>& reasons() const { return reasons_; }

 private:
  static int64_t scaled(const std::string& price) {
    std::string digits;
    for (char c : price) {
      if (c != '.') digits += c;
    }
    return std::stoll(digits);
  }
  static void set_levels(Json& m, const std::string& side, std::map<int64_t, std::pair<std::string, std::string>>& book) {
    for (std::size_t k = 0; k < m.size(side.c_str()); ++k) {
      const std::string at = side + "/" + std::to_string(k);
      const std::string price = m.s((at + "/0").c_str()), qty = m.s((at + "/1").c_str());
      bool zero = true;
      for (char c : qty) zero &= (c == '0' || c == '.');
      if (zero) book.erase(scaled(price)); else book[scaled(price)] = {price, qty};
    }
  }
  int64_t checksum() const {
    std::string text;
    int n = 0;
    for (auto it = bids_.rbegin(); it != bids_.rend() && n < 10; ++it, ++n) {
      if (n > 0) text += ',';
      text += it->second.first + ":" + it->second.second;
    }
    text += '|';
    n = 0;
    for (auto it = asks_.begin(); it != asks_.end() && n < 10; ++it, ++n) {
      if (n > 0) text += ',';
      text += it->second.first + ":" + it->second.second;
    }
    return crc32c(text.data(), text.size());
  }

  std::map<int64_t, std::pair<std::string, std::string>> bids_, asks_;  // scaled price → texts
  int64_t seq_ = -1;
  int snapshots_ = 0, diffs_ = 0;
  std::vector<std::string> reasons_;
};

}  // namespace bourse::testing

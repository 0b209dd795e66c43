// Clients split server frames (one message or a JSON array of them) with
// split_ws_frame: any bytes must give views inside the frame, in order and
// non-overlapping, and a well-formed array of the pieces must split back
// into the same pieces.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/ws_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  bourse::gateway::split_ws_frame(frame, &parts);
  const char* previous_end = frame.data();
  for (std::string_view p : parts) {
    if (p.data() < previous_end || p.data() + p.size() > frame.data() + frame.size()) std::abort();
    previous_end = p.data() + p.size();
  }
  // Objects taken from the input, wrapped as the server wraps them.
  std::vector<std::string_view> objects;
  for (std::string_view p : parts) {
    if (!p.empty() && p.front() == '{' && p.back() == '}') objects.push_back(p);
  }
  if (objects.size() >= 2 && frame.size() > 0 && frame.front() == '[') {
    std::string wrapped = "[";
    for (std::size_t i = 0; i < objects.size(); ++i) wrapped += (i ? "," : "") + std::string(objects[i]);
    wrapped += "]";
    std::vector<std::string_view> again;
    if (!bourse::gateway::split_ws_frame(wrapped, &again) || again.size() != objects.size()) std::abort();
    for (std::size_t i = 0; i < again.size(); ++i) {
      if (again[i] != objects[i]) std::abort();
    }
  }
  return 0;
}

#include "gateway/ws_frame.h"

namespace bourse::gateway {

bool split_ws_frame(std::string_view frame, std::vector<std::string_view>* messages) {
  messages->clear();
  std::size_t i = 0;
  while (i < frame.size() && (frame[i] == ' ' || frame[i] == '\n' || frame[i] == '\r' || frame[i] == '\t')) ++i;
  if (i == frame.size() || frame[i] != '[') {
    messages->push_back(frame);
    return true;
  }
  int depth = 0;
  bool in_string = false;
  std::size_t start = 0;
  for (++i; i < frame.size(); ++i) {
    const char c = frame[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (depth++ == 0) start = i;
    } else if (c == '}' || c == ']') {
      if (depth == 0) return c == ']';  // the frame's closing bracket
      if (--depth == 0) messages->push_back(frame.substr(start, i + 1 - start));
    }
  }
  return false;
}

}  // namespace bourse::gateway

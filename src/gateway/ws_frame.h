// A server frame on /v1/ws carries one JSON message (an object) or, when
// several were waiting for the connection, a JSON array of them in order
// (docs/websocket.md). Clients split frames with this.
#pragma once

#include <string_view>
#include <vector>

namespace bourse::gateway {

// The messages of one frame, as views into it. A frame that is not an array
// is one message. Scans brackets and strings only (no full parse); an
// unbalanced array yields what was complete and returns false.
bool split_ws_frame(std::string_view frame, std::vector<std::string_view>* messages);

}  // namespace bourse::gateway

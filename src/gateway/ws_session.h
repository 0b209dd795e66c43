// WebSocket sessions on /v1/ws (protocol: docs/websocket.md). Internal to
// the gateway: this header includes Boost.Beast and is included only by
// http_server.cpp (which hands upgrades over) and ws_session.cpp.
//
// A session lives on its connection's I/O thread. Reads are processed one at a
// time; writes come from a bounded queue fed by any thread (the hub's
// publisher, replies from the dispatcher). Past the queue bound the session
// closes with 1008 "slow consumer" and the publisher moves on.
#pragma once

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "gateway/ws_context.h"

namespace bourse::gateway {

// Takes over an upgraded connection (plain or TLS). `request` is the HTTP
// upgrade request.
void start_ws_session(WsContext& context, boost::beast::tcp_stream&& stream,
                      boost::beast::http::request<boost::beast::http::string_body>&& request);
void start_ws_session(WsContext& context, boost::beast::ssl_stream<boost::beast::tcp_stream>&& stream,
                      boost::beast::http::request<boost::beast::http::string_body>&& request);

}  // namespace bourse::gateway

// RFC 9457 problem details: every error the API returns is one of these,
// with a stable machine `code` (docs/api.md lists them), a human `detail`
// and the request id.
#pragma once

#include <string>
#include <string_view>

#include "bourse/engine/types.h"
#include "gateway/http_types.h"

namespace bourse::gateway {

struct Problem {
  int status = 400;
  std::string code;    // stable, e.g. "INSUFFICIENT_FUNDS"
  std::string detail;  // for humans; never contains secrets
};

// application/problem+json with type, title, status, code, detail, request_id.
HttpResponse problem_response(const Problem& problem, std::string_view request_id);

// How an engine reject reaches a client: the engine's stable name as the
// code, and the HTTP status that fits it.
Problem problem_from_reject(RejectReason reason);

// Standard reason phrase ("Not Found").
const char* status_text(int status);

}  // namespace bourse::gateway

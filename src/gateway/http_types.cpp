#include "gateway/http_types.h"

namespace bourse::gateway {

QueryParam HttpRequest::query_param(std::string_view name, std::string* value) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    const std::string_view k = pair.substr(0, eq);
    if (k != name) continue;
    const std::string_view v = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    return percent_decode(v, value) ? QueryParam::kFound : QueryParam::kMalformed;
  }
  return QueryParam::kAbsent;
}

}  // namespace bourse::gateway

// Percent-encoding (RFC 3986) and application/x-www-form-urlencoded bodies
// (WHATWG URL §5): query strings, OAuth forms, redirect URIs.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace bourse {

// Decodes %XX escapes and '+' as a space. False on a bad escape.
bool percent_decode(std::string_view in, std::string* out);
// Encodes everything but the RFC 3986 unreserved characters.
std::string percent_encode(std::string_view in);

using FormFields = std::map<std::string, std::string, std::less<>>;

enum class FormError { kOk, kBadEscape, kDuplicate };
// Parses "a=1&b=2". A name given twice is an error (OAuth forbids it, and a
// silent first-or-last choice invites confusion); empty pairs are skipped.
FormError parse_form(std::string_view body, FormFields* fields, std::string* bad_name);

}  // namespace bourse

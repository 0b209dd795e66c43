#include "ingest/tick_line.h"

#include <array>

namespace bourse::ingest {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// Unsigned decimal digits of exactly `n` characters.
bool digits(std::string_view s, std::size_t n, int64_t* out) {
  if (s.size() != n) return false;
  int64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// ".fff…" (1 to 9 digits) as nanoseconds.
bool fraction_ns(std::string_view f, int64_t* ns) {
  if (f.empty() || f.size() > 9) return false;
  int64_t v = 0;
  for (char c : f) {
    if (!is_digit(c)) return false;
    v = v * 10 + (c - '0');
  }
  for (std::size_t k = f.size(); k < 9; ++k) v *= 10;
  *ns = v;
  return true;
}

constexpr int64_t kMaxSeconds = 9'223'372'036;  // int64 ns run out in 2262

bool iso_time(std::string_view s, int64_t* ns) {
  // YYYY-MM-DDTHH:MM:SS[.f]Z
  if (s.size() < 20 || s.back() != 'Z' || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':') {
    return false;
  }
  int64_t y, mo, d, h, mi, se, frac = 0;
  if (!digits(s.substr(0, 4), 4, &y) || !digits(s.substr(5, 2), 2, &mo) || !digits(s.substr(8, 2), 2, &d) ||
      !digits(s.substr(11, 2), 2, &h) || !digits(s.substr(14, 2), 2, &mi) || !digits(s.substr(17, 2), 2, &se)) {
    return false;
  }
  const std::string_view rest = s.substr(19, s.size() - 20);
  if (!rest.empty() && (rest[0] != '.' || !fraction_ns(rest.substr(1), &frac))) return false;
  static constexpr std::array<int, 12> kDays = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > kDays[static_cast<std::size_t>(mo - 1)] || h > 23 || mi > 59 ||
      se > 59) {
    return false;
  }
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo == 2 && d == 29 && !leap) return false;
  const int64_t seconds = days_from_civil(y, mo, d) * 86'400 + h * 3'600 + mi * 60 + se;
  if (seconds >= kMaxSeconds) return false;
  *ns = seconds * 1'000'000'000 + frac;
  return *ns > 0;
}

// A flat JSON object's value for `key`: a string's contents or a scalar's
// text. Escapes are not supported (no field here needs them).
struct FlatJson {
  std::string_view symbol, time, price, qty, side;
  bool has_symbol = false, has_time = false, has_price = false, has_qty = false, has_side = false;
};

bool parse_flat_json(std::string_view s, FlatJson* out) {
  std::size_t i = 0;
  auto ws = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  auto string_at = [&](std::string_view* v) {
    if (i >= s.size() || s[i] != '"') return false;
    const std::size_t start = ++i;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\' || static_cast<unsigned char>(s[i]) < 0x20) return false;
      ++i;
    }
    if (i >= s.size()) return false;
    *v = s.substr(start, i - start);
    ++i;
    return true;
  };
  ws();
  if (i >= s.size() || s[i] != '{') return false;
  ++i;
  ws();
  if (i < s.size() && s[i] == '}') return false;  // no fields
  while (true) {
    ws();
    std::string_view key, value;
    if (!string_at(&key)) return false;
    ws();
    if (i >= s.size() || s[i] != ':') return false;
    ++i;
    ws();
    if (i < s.size() && s[i] == '"') {
      if (!string_at(&value)) return false;
    } else {
      const std::size_t start = i;
      while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ' ' && s[i] != '\t') ++i;
      value = s.substr(start, i - start);
      if (value.empty() || value == "null") return false;
    }
    auto take = [&](std::string_view name, std::string_view* field, bool* has) {
      if (key != name) return true;
      if (*has) return false;  // a field twice
      *field = value;
      *has = true;
      return true;
    };
    if (!take("symbol", &out->symbol, &out->has_symbol) || !take("time", &out->time, &out->has_time) ||
        !take("price", &out->price, &out->has_price) || !take("qty", &out->qty, &out->has_qty) ||
        !take("side", &out->side, &out->has_side)) {
      return false;
    }
    ws();
    if (i >= s.size()) return false;
    if (s[i] == ',') {
      ++i;
      continue;
    }
    if (s[i] != '}') return false;
    ++i;
    ws();
    return i == s.size();
  }
}

bool parse_side(std::string_view s, Side* side) {
  if (s.empty()) return true;
  auto lower = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); };
  std::array<char, 5> buf{};
  if (s.size() > buf.size()) return false;
  for (std::size_t k = 0; k < s.size(); ++k) buf[k] = lower(s[k]);
  const std::string_view l(buf.data(), s.size());
  if (l == "buy" || l == "b") *side = Side::kBuy;
  else if (l == "sell" || l == "s") *side = Side::kSell;
  else return false;
  return true;
}

}  // namespace

const char* tick_error_name(TickError e) {
  switch (e) {
    case TickError::kOk: return "OK";
    case TickError::kSkip: return "SKIPPED";
    case TickError::kMalformed: return "MALFORMED_LINE";
    case TickError::kLineTooLong: return "LINE_TOO_LONG";
    case TickError::kBadTime: return "BAD_TIME";
    case TickError::kBadSide: return "BAD_SIDE";
    case TickError::kBadPrice: return "BAD_PRICE";
    case TickError::kBadQty: return "BAD_QTY";
    case TickError::kUnknownSymbol: return "UNKNOWN_SYMBOL";
    case TickError::kNotExternal: return "NOT_EXTERNAL";
    case TickError::kLate: return "LATE_TICK";
    case TickError::kOverloaded: return "OVERLOADED";
    case TickError::kRejected: return "REJECTED";
  }
  return "UNKNOWN";
}

bool parse_tick_time(std::string_view s, int64_t* ns) {
  s = trim(s);
  if (s.empty()) return false;
  if (s.size() >= 20 && s[4] == '-') return iso_time(s, ns);
  const std::size_t dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  if (whole.empty() || whole.size() > 19) return false;
  int64_t v = 0;
  for (char c : whole) {
    if (!is_digit(c)) return false;
    if (v > (INT64_MAX - 9) / 10) return false;
    v = v * 10 + (c - '0');
  }
  if (dot != std::string_view::npos) {  // seconds with a fraction
    int64_t frac = 0;
    if (whole.size() > 10 || v >= kMaxSeconds || !fraction_ns(s.substr(dot + 1), &frac)) return false;
    *ns = v * 1'000'000'000 + frac;
    return *ns > 0;
  }
  const std::size_t n = whole.size();
  int64_t scale = n <= 10 ? 1'000'000'000 : n <= 13 ? 1'000'000 : n <= 16 ? 1'000 : 1;
  if (v > INT64_MAX / scale) return false;
  *ns = v * scale;
  return *ns > 0;
}

TickError parse_tick_line(std::string_view line, TickLine* out) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.size() > kMaxTickLine) return TickError::kLineTooLong;
  if (line.find('\0') != std::string_view::npos) return TickError::kMalformed;
  line = trim(line);
  if (line.empty()) return TickError::kSkip;
  *out = TickLine{};
  std::string_view time_text, side_text;
  if (line.front() == '{') {
    FlatJson j;
    if (!parse_flat_json(line, &j) || !j.has_symbol || !j.has_time || !j.has_price || !j.has_qty) {
      return TickError::kMalformed;
    }
    out->symbol = j.symbol;
    time_text = j.time;
    out->price = j.price;
    out->qty = j.qty;
    side_text = j.side;
  } else {
    if (line.starts_with("symbol,")) return TickError::kSkip;
    std::array<std::string_view, 5> f;
    std::size_t count = 0, start = 0;
    while (true) {
      const std::size_t comma = line.find(',', start);
      if (count == f.size()) return TickError::kMalformed;
      f[count++] = trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (count < 4) return TickError::kMalformed;
    out->symbol = f[0];
    time_text = f[1];
    out->price = f[2];
    out->qty = f[3];
    if (count == 5) side_text = f[4];
  }
  if (out->symbol.empty() || out->price.empty() || out->qty.empty()) return TickError::kMalformed;
  if (!parse_tick_time(time_text, &out->time_ns)) return TickError::kBadTime;
  if (!parse_side(side_text, &out->side)) return TickError::kBadSide;
  return TickError::kOk;
}

}  // namespace bourse::ingest

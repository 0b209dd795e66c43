// A market's trading calendar ([[sessions]] in docs/configuration.md): local
// time as a UTC offset, trading days, holidays, pre-open, open and close;
// and the phase it gives any moment. Pure: the scheduler (sessions.h) acts
// on it.
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "bourse/core/types.h"

namespace bourse::app {

struct SessionSchedule {
  std::vector<std::string> symbols;
  int utc_offset_minutes = 0;      // local time = UTC + this (-720..840)
  int pre_open_minute = -1;        // minutes after local midnight; -1: no pre-open
  int open_minute = 0;
  int close_minute = 24 * 60;      // open < close, the same local day
  std::array<bool, 7> days{};      // trading days, [0] = Monday
  std::set<int64_t> holidays;      // local dates as days since 1970-01-01
};

enum class SessionPhase : uint8_t { kClosed, kPreOpen, kOpen };

// The phase at `utc` (ns since the epoch).
SessionPhase session_phase(const SessionSchedule& s, Timestamp utc);
// Days since 1970-01-01 of "YYYY-MM-DD", or false.
bool parse_date(const std::string& text, int64_t* days);
// 0 = Monday for "MON".."SUN", or -1.
int weekday_index(const std::string& name);

}  // namespace bourse::app

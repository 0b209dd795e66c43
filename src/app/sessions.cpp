#include "app/sessions.h"

#include <chrono>

#include "bourse/core/log.h"

namespace bourse::app {
namespace {

constexpr int64_t kNanosPerMinute = 60'000'000'000;
constexpr int64_t kMinutesPerDay = 24 * 60;
constexpr Timestamp kAskAgainAfter = 5'000'000'000;  // a lost or refused command is asked for again

int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0) ? 1 : 0); }

}  // namespace

bool parse_date(const std::string& t, int64_t* days) {
  if (t.size() != 10 || t[4] != '-' || t[7] != '-') return false;
  for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u}) {
    if (t[i] < '0' || t[i] > '9') return false;
  }
  const std::chrono::year_month_day date{std::chrono::year{std::stoi(t.substr(0, 4))},
                                         std::chrono::month{static_cast<unsigned>(std::stoi(t.substr(5, 2)))},
                                         std::chrono::day{static_cast<unsigned>(std::stoi(t.substr(8, 2)))}};
  if (!date.ok()) return false;  // no 30 February, no month 13
  *days = std::chrono::sys_days{date}.time_since_epoch().count();
  return true;
}

int weekday_index(const std::string& name) {
  static const char* kNames[] = {"MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"};
  for (int i = 0; i < 7; ++i) {
    if (name == kNames[i]) return i;
  }
  return -1;
}

SessionPhase session_phase(const SessionSchedule& s, Timestamp utc) {
  const int64_t local_minutes = floor_div(utc, kNanosPerMinute) + s.utc_offset_minutes;
  const int64_t day = floor_div(local_minutes, kMinutesPerDay);
  const int64_t minute = local_minutes - day * kMinutesPerDay;
  const auto weekday = static_cast<std::size_t>(  // 0 = Monday
      std::chrono::weekday{std::chrono::sys_days{std::chrono::days{day}}}.iso_encoding() - 1);
  if (!s.days[weekday] || s.holidays.count(day)) return SessionPhase::kClosed;
  if (minute >= s.open_minute && minute < s.close_minute) return SessionPhase::kOpen;
  if (s.pre_open_minute >= 0 && minute >= s.pre_open_minute && minute < s.open_minute) return SessionPhase::kPreOpen;
  return SessionPhase::kClosed;
}

SessionScheduler::SessionScheduler(EngineService& service, const marketdata::MarketView& market, Clock& clock,
                                   std::vector<SessionSchedule> schedules)
    : service_(service), market_(market), clock_(clock), schedules_(std::move(schedules)) {}

SessionScheduler::~SessionScheduler() { stop(); }

void SessionScheduler::start() {
  if (schedules_.empty()) return;
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      tick();
      lock.lock();
      wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
    }
  });
}

void SessionScheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t SessionScheduler::tick() {
  const Timestamp now = clock_.now();
  std::size_t submitted = 0;
  for (const SessionSchedule& s : schedules_) {
    const SessionPhase phase = session_phase(s, now);
    const InstrumentStatus want = phase == SessionPhase::kOpen      ? InstrumentStatus::kTrading
                                  : phase == SessionPhase::kPreOpen ? InstrumentStatus::kPreOpen
                                                                    : InstrumentStatus::kSessionClosed;
    for (const std::string& symbol : s.symbols) {
      const auto info = market_.instrument(symbol);
      if (!info) {
        if (unknown_.insert(symbol).second) {
          log_line(LogLevel::kWarn, "sessions", "%s: no such instrument (yet); its calendar waits for it", symbol.c_str());
        }
        continue;
      }
      const InstrumentStatus is = info->spec.status;
      const uint32_t id = info->spec.id.value;
      const bool leaving_session = want != InstrumentStatus::kTrading;
      // A breaker halt is the calendar's to end at the close; an operator's
      // halt is left alone (only its DAY orders go), and CLOSED too.
      const bool breaker_halt = is == InstrumentStatus::kHalted && info->halted_until != 0;
      const bool managed = is == InstrumentStatus::kTrading || is == InstrumentStatus::kPreOpen ||
                           is == InstrumentStatus::kSessionClosed || (breaker_halt && leaving_session);
      const bool operator_halt_over_close = leaving_session && is == InstrumentStatus::kHalted && !breaker_halt;
      if (is == want || (!managed && !operator_halt_over_close)) continue;
      auto& [asked, at] = asked_[id];
      if (asked == want && now - at < kAskAgainAfter) continue;  // on its way
      if (operator_halt_over_close && asked == want) continue;    // its DAY orders already went
      bool ok = true;
      // SESSION_CLOSED expires DAY orders itself (in the engine, atomically);
      // a new pre-open after a close this process did not see, and a close
      // during an operator's halt, send the expiry on their own.
      const bool expire_first = (want == InstrumentStatus::kPreOpen && is == InstrumentStatus::kTrading) ||
                                operator_halt_over_close;
      if (expire_first) {
        ok &= service_.submit(Command::expire_day_orders({info->spec.id, 0}), nullptr);
        ++submitted;
      }
      if (managed && ok) {
        ok &= service_.submit(Command::set_instrument_status({info->spec.id, want}), nullptr);
        ++submitted;
        log_line(LogLevel::kInfo, "sessions", "%s: %s", symbol.c_str(),
                 want == InstrumentStatus::kTrading ? "open" : want == InstrumentStatus::kPreOpen ? "pre-open" : "closed");
      }
      if (!ok) continue;  // the queue was full: asked again at the next tick
      asked = want;
      at = now;
    }
  }
  return submitted;
}

}  // namespace bourse::app

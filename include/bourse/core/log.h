// Structured one-line logs to stderr: `ts level component: message key=value`.
// Secrets never go through here.
#pragma once

namespace bourse {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// printf-style; thread-safe (one write(2) per line).
void log_line(LogLevel level, const char* component, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

// Lines below this level are dropped (default kInfo).
void set_log_level(LogLevel level);

}  // namespace bourse

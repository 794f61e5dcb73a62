// Minimal leveled logging to stderr. The CLI sets the level from --verbose/--quiet.
#pragma once

#include <string>

namespace kiln {

enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();
void log(LogLevel level, const std::string& message);
inline void log_warning(const std::string& m) { log(LogLevel::kWarning, m); }
inline void log_info(const std::string& m) { log(LogLevel::kInfo, m); }
inline void log_debug(const std::string& m) { log(LogLevel::kDebug, m); }

}  // namespace kiln

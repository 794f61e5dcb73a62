#include "core/logging.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace kiln {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kWarning)};
std::mutex g_mutex;
}  // namespace

void set_log_level(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }

void log(LogLevel level, const std::string& message) {
  if (static_cast<int>(level) > g_level.load()) return;
  static const char* kPrefix[] = {"error", "warning", "info", "debug"};
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fprintf(stderr, "kiln: %s: %s\n", kPrefix[static_cast<int>(level)], message.c_str());
}

}  // namespace kiln

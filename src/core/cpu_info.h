// The host CPU's name, for benchmark reports and the tactic timing cache's key.
#pragma once

#include <string>

namespace kiln {

/// The "model name" of /proc/cpuinfo (e.g. "AMD EPYC"); "unknown" where there is none.
std::string cpu_model_name();

}  // namespace kiln

// Parsing of the command line's value syntaxes (sizes, ranges, shape lists).
#pragma once

#include <map>
#include <string>

#include "kiln/kiln.h"

namespace kiln::tools {

/// "1G", "512M", "64K", "1000" → bytes.
Result<uint64_t> parse_size(const std::string& text);
/// "1:16:32" → {1, 16, 32}; "8" → {8, 8, 8}.
Result<DimRange> parse_batch_range(const std::string& text);
/// trtexec's "name:1x3x224x224,other:1x10" lists for min/opt/max → per-input profiles. An input named in
/// one list must be named in all three.
Result<std::map<std::string, InputProfile>> parse_shape_profiles(const std::string& min, const std::string& opt,
                                                                 const std::string& max);
/// 1536 → "1.5 KiB".
std::string format_bytes(uint64_t bytes);

}  // namespace kiln::tools

// Small file helpers with errors as values.
#pragma once

#include <string>

#include "kiln/status.h"

namespace kiln {

/// Reads a whole file; a missing file gives kNotFound naming `what` and the path.
Result<std::string> read_file(const std::string& path, const std::string& what = "file");
/// Writes atomically: to a temporary file in the same folder, then rename over `path`.
Status write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace kiln

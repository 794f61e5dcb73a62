#include "core/file_util.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace kiln {

Result<std::string> read_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::not_found(fmt::format("{} not found: {}", what, path));
  if (std::filesystem::is_directory(path, ec))
    return Status::invalid_argument(fmt::format("{} is a directory, expected a file: {}", what, path));
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error(fmt::format("cannot open {} {}: {}", what, path, std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::io_error(fmt::format("error reading {} {}", what, path));
  return ss.str();
}

Status write_file_atomic(const std::string& path, const std::string& bytes) {
  std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::io_error(fmt::format("cannot create {}: {}", tmp, std::strerror(errno)));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return Status::io_error(fmt::format("error writing {}", tmp));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return Status::io_error(fmt::format("cannot move {} to {}: {}", tmp, path, why));
  }
  return {};
}

}  // namespace kiln

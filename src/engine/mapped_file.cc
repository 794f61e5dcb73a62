// MappedFile: the whole file mapped once; tensors wrap pieces of it and share ownership of the mapping.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/engine_file.h"

namespace kiln {

Result<std::shared_ptr<MappedFile>> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::not_found(fmt::format("engine file not found: {}", path));
    return Status::io_error(fmt::format("cannot open engine file {}: {}", path, std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::invalid_argument(fmt::format("engine file {} is not a regular file", path));
  }
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<size_t>(st.st_size);
  if (file->size_ > 0) {
    // Private and writable: copy-on-write pages, so a kernel that writes into a weight view gets its own
    // copy of that page and neither crashes nor changes the file.
    void* p = ::mmap(nullptr, file->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      std::string why = std::strerror(errno);
      ::close(fd);
      return Status::io_error(fmt::format("cannot map engine file {}: {}", path, why));
    }
    file->data_ = static_cast<std::byte*>(p);
  }
  ::close(fd);  // the mapping stays valid without the descriptor
  return file;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

bool MappedFile::contains(const void* p, size_t bytes) const {
  auto* b = static_cast<const std::byte*>(p);
  return data_ && b >= data_ && b <= data_ + size_ && bytes <= static_cast<size_t>(data_ + size_ - b);
}

}  // namespace kiln

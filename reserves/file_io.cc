#include "reserves/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/text.h"

namespace ringfence::reserves {

Fd::~Fd() {
  if (fd_ >= 0) close(fd_);
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

absl::Status ErrnoError(std::string_view what) {
  return absl::UnavailableError(base::Cat(what, ": ", std::strerror(errno)));
}

bool PReadAll(int fd, void* data, size_t len, uint64_t offset) {
  char* p = static_cast<char*>(data);
  while (len > 0) {
    ssize_t r = pread(fd, p, len, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    len -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

bool PWriteAll(int fd, const void* data, size_t len, uint64_t offset) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t w = pwrite(fd, p, len, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    len -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return true;
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) {
    return errno == ENOENT ? absl::UnavailableError(base::Cat(path, ": no such file")) : ErrnoError(path);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoError(path);
  if (!S_ISREG(st.st_mode)) return absl::UnavailableError(base::Cat(path, ": not a regular file"));
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return absl::InvalidArgumentError(base::Cat(path, ": larger than ", max_bytes, " bytes"));
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  if (!out.empty() && !PReadAll(fd.get(), out.data(), out.size(), 0)) return ErrnoError(path);
  return out;
}

absl::Status WriteNewFile(const std::string& path, std::string_view data, mode_t mode) {
  Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd.ok()) return ErrnoError(path);
  if (!PWriteAll(fd.get(), data.data(), data.size(), 0) || fdatasync(fd.get()) != 0) return ErrnoError(path);
  return absl::OkStatus();
}

}  // namespace ringfence::reserves

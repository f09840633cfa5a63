// The file plumbing the exporter, the prover and the readers of package files share: an owned
// descriptor, whole reads and writes at an offset (retried on EINTR and short transfers), a
// bounded whole-file read, and a create-only write that reaches the disk before it returns.
//
// Fd owns its descriptor (closed on destruction; move-only). The functions are thread-safe
// for distinct descriptors, and for one descriptor at disjoint offsets (pread/pwrite).
#ifndef RINGFENCE_RESERVES_FILE_IO_H_
#define RINGFENCE_RESERVES_FILE_IO_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringfence::reserves {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

// Unavailable "<what>: <strerror(errno)>", for a failed system call.
absl::Status ErrnoError(std::string_view what);

// Reads or writes exactly `len` bytes at `offset`. False on an error or an early end of file.
bool PReadAll(int fd, void* data, size_t len, uint64_t offset);
bool PWriteAll(int fd, const void* data, size_t len, uint64_t offset);

// The whole regular file at `path`. Unavailable if it is missing, unreadable or not a regular
// file; InvalidArgument if it is larger than `max_bytes` (nothing is allocated then).
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes);

// Creates `path` (it must not exist) with `mode`, writes `data` and fdatasyncs it.
absl::Status WriteNewFile(const std::string& path, std::string_view data, mode_t mode);

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_FILE_IO_H_

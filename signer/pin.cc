#include "signer/pin.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ringfence::signer {
namespace {

// Drops one trailing line ending and checks what is left.
absl::StatusOr<base::SecretBytes> Finish(base::SecretBytes pin, const std::string& what) {
  size_t n = pin.size();
  if (n > 0 && pin.data()[n - 1] == '\n') --n;
  if (n > 0 && pin.data()[n - 1] == '\r') --n;
  pin.Truncate(n);
  if (pin.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " holds an empty PIN"));
  for (size_t i = 0; i < pin.size(); ++i) {
    uint8_t c = pin.data()[i];
    if (c == '\0' || c == '\n' || c == '\r') {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": the PIN contains a NUL or line break before its end"));
    }
  }
  return pin;
}

}  // namespace

absl::StatusOr<base::SecretBytes> ReadPinFile(const std::string& path) {
  const std::string what = absl::StrCat("pin_file '", path, "'");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat(what, " does not exist"));
    return absl::InvalidArgumentError(absl::StrCat(what, " cannot be opened: ", std::strerror(err)));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrFormat("%s is accessible by group or others (mode %04o); it must be 0600 or 0400",
                        what, static_cast<unsigned>(st.st_mode & 0777)));
  }
  // Read one byte more than allowed (plus a line ending) to detect an oversized file.
  base::SecretBytes buf(kMaxPinLength + 3);
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t r = read(fd, buf.data() + got, buf.size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return absl::InvalidArgumentError(absl::StrCat(what, " cannot be read: ", std::strerror(err)));
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  close(fd);
  buf.Truncate(got);
  absl::StatusOr<base::SecretBytes> pin = Finish(std::move(buf), what);
  if (pin.ok() && pin->size() > kMaxPinLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " holds a PIN longer than ", kMaxPinLength, " bytes"));
  }
  return pin;
}

absl::StatusOr<base::SecretBytes> ReadPinEnv(const std::string& name) {
  const std::string what = absl::StrCat("pin_env variable '", name, "'");
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return absl::NotFoundError(absl::StrCat(what, " is not set"));
  size_t n = std::strlen(value);
  if (n > kMaxPinLength + 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " holds a PIN longer than ", kMaxPinLength, " bytes"));
  }
  absl::StatusOr<base::SecretBytes> pin = Finish(base::SecretBytes::CopyOf(std::string_view(value, n)), what);
  if (pin.ok() && pin->size() > kMaxPinLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " holds a PIN longer than ", kMaxPinLength, " bytes"));
  }
  return pin;
}

}  // namespace ringfence::signer

// Reading the token's user PIN from a file or an environment variable.
//
// A PIN never comes from the command line (it would show in the process list). The PIN is
// returned in wiped-on-free memory; the caller wipes it as soon as it has logged in.
// Thread-compatible free functions.
#ifndef RINGFENCE_SIGNER_PIN_H_
#define RINGFENCE_SIGNER_PIN_H_

#include <string>

#include "absl/status/statusor.h"
#include "base/secret.h"

namespace ringfence::signer {

// Longest PIN accepted; PKCS#11 tokens allow far less, this only bounds what is read.
inline constexpr size_t kMaxPinLength = 256;

// Reads the PIN from `path`: the whole file minus one trailing "\n" or "\r\n".
// Fails with InvalidArgument if the file is not a regular file, is readable or writable by
// group or others, is empty, is longer than kMaxPinLength, or contains a NUL or newline
// inside the PIN; NotFound if it does not exist. Messages name the path, never the PIN.
absl::StatusOr<base::SecretBytes> ReadPinFile(const std::string& path);

// Reads the PIN from the environment variable `name`. Fails with NotFound if it is unset and
// InvalidArgument if it is empty or longer than kMaxPinLength.
absl::StatusOr<base::SecretBytes> ReadPinEnv(const std::string& name);

}  // namespace ringfence::signer

#endif  // RINGFENCE_SIGNER_PIN_H_

// Where quorum reads a passphrase and a confirmation from: a file descriptor, a file or the
// controlling terminal (/dev/tty, so that stdin and stdout stay free for scripts), never the
// command line, where any user of the machine can read it in /proc.
//
// Passphrases are read unbuffered, byte by byte, straight into guarded memory
// (base::SecretBytes: sodium_malloc'ed, wiped when freed), so no stdio buffer or std::string
// keeps a copy. Not thread-safe (the terminal's echo setting is process-wide state).
#ifndef RINGFENCE_TOOLS_QUORUM_TERMINAL_H_
#define RINGFENCE_TOOLS_QUORUM_TERMINAL_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/secret.h"

namespace ringfence::quorum {

// The most passphrase bytes read from any source; more is refused, never truncated.
inline constexpr size_t kMaxPassphraseBytes = 4096;

// Everything `fd` gives until end of input, with one trailing line feed dropped. `source`
// names it in errors ("--passphrase-fd 3"). InvalidArgument when it cannot be read or holds
// more than kMaxPassphraseBytes. The caller keeps `fd` open and closes it.
absl::StatusOr<base::SecretBytes> ReadSecretFromFd(int fd, std::string_view source);

// The file at `path` as ReadSecretFromFd reads a descriptor. InvalidArgument naming `flag`.
absl::StatusOr<base::SecretBytes> ReadSecretFile(const std::string& path, std::string_view flag);

// Prompts on the controlling terminal and reads one line with echo off (the line feed is not
// part of it). InvalidArgument when there is no terminal (`fallback` says what to give
// instead), the line is longer than kMaxPassphraseBytes or input ends first.
absl::StatusOr<base::SecretBytes> ReadPassphraseFromTerminal(std::string_view prompt, std::string_view fallback);

// Asks `question` on the controlling terminal; true only for an answer of exactly "yes".
// InvalidArgument when there is no terminal (`fallback` says what to give instead).
absl::StatusOr<bool> ConfirmOnTerminal(std::string_view question, std::string_view fallback);

}  // namespace ringfence::quorum

#endif  // RINGFENCE_TOOLS_QUORUM_TERMINAL_H_

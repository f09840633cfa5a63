#include "tools/quorum/terminal.h"

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <iterator>

#include "base/text.h"

namespace ringfence::quorum {
namespace {

using base::Cat;
using base::SecretBytes;

// The controlling terminal, closed on destruction; fd() < 0 when the process has none.
class Tty {
 public:
  Tty() : fd_(open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) {}
  ~Tty() {
    if (fd_ >= 0) close(fd_);
  }
  Tty(const Tty&) = delete;
  Tty& operator=(const Tty&) = delete;
  int fd() const { return fd_; }

  void Write(std::string_view text) const {
    while (!text.empty()) {
      const ssize_t n = write(fd_, text.data(), text.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      text.remove_prefix(static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
};

// While echo is off: the terminal and its settings to put back if a signal ends the process
// (Ctrl-C at the prompt must not leave the approver's terminal silent).
volatile sig_atomic_t g_echo_fd = -1;
termios g_saved_termios{};
constexpr int kRestoreSignals[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGTSTP};

void RestoreAndReraise(int sig) {
  if (g_echo_fd >= 0) tcsetattr(g_echo_fd, TCSAFLUSH, &g_saved_termios);  // async-signal-safe
  signal(sig, SIG_DFL);
  raise(sig);
}

// One byte; 1 read, 0 end of input, -1 error.
int ReadByte(int fd, uint8_t* byte) {
  for (;;) {
    const ssize_t n = read(fd, byte, 1);
    if (n < 0 && errno == EINTR) continue;
    return n > 0 ? 1 : (n == 0 ? 0 : -1);
  }
}

// Reads a line from the terminal into guarded memory, up to kMaxPassphraseBytes.
absl::StatusOr<SecretBytes> ReadLine(int fd) {
  SecretBytes line(kMaxPassphraseBytes + 1);
  size_t size = 0;
  for (;;) {
    uint8_t byte = 0;
    const int got = ReadByte(fd, &byte);
    if (got < 0) return absl::InvalidArgumentError("cannot read from the terminal");
    if (got == 0) return absl::InvalidArgumentError("the terminal's input ended before a line feed");
    if (byte == '\n') break;
    if (size == line.size()) {
      return absl::InvalidArgumentError(Cat("terminal: the line is longer than ", kMaxPassphraseBytes, " bytes"));
    }
    line.data()[size++] = byte;
  }
  line.Truncate(size);
  return line;
}

}  // namespace

absl::StatusOr<SecretBytes> ReadSecretFromFd(int fd, std::string_view source) {
  SecretBytes secret(kMaxPassphraseBytes + 1);
  size_t size = 0;
  while (size < secret.size()) {
    const ssize_t n = read(fd, secret.data() + size, secret.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InvalidArgumentError(Cat(source, ": cannot read (", errno == EBADF ? "not an open descriptor" : "read error", ")"));
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  if (size > kMaxPassphraseBytes) {
    return absl::InvalidArgumentError(Cat(source, ": larger than ", kMaxPassphraseBytes, " bytes"));
  }
  secret.Truncate(size > 0 && secret.data()[size - 1] == '\n' ? size - 1 : size);
  return secret;
}

absl::StatusOr<SecretBytes> ReadSecretFile(const std::string& path, std::string_view flag) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InvalidArgumentError(Cat(flag, ": cannot open ", base::Clip(path, 200)));
  absl::StatusOr<SecretBytes> secret = ReadSecretFromFd(fd, Cat(flag, " ", base::Clip(path, 200)));
  close(fd);
  return secret;
}

absl::StatusOr<SecretBytes> ReadPassphraseFromTerminal(std::string_view prompt, std::string_view fallback) {
  Tty tty;
  if (tty.fd() < 0) return absl::InvalidArgumentError(Cat("no terminal to read the passphrase from: ", fallback));
  termios saved{};
  if (tcgetattr(tty.fd(), &saved) != 0) {
    return absl::InvalidArgumentError(Cat("no terminal to read the passphrase from: ", fallback));
  }
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  quiet.c_lflag |= ECHONL;
  tty.Write(prompt);
  g_saved_termios = saved;
  g_echo_fd = tty.fd();
  struct sigaction restore {}, previous[std::size(kRestoreSignals)];
  restore.sa_handler = RestoreAndReraise;
  sigemptyset(&restore.sa_mask);
  for (size_t i = 0; i < std::size(kRestoreSignals); ++i) sigaction(kRestoreSignals[i], &restore, &previous[i]);
  absl::StatusOr<SecretBytes> line = absl::InvalidArgumentError("cannot turn the terminal's echo off");
  if (tcsetattr(tty.fd(), TCSAFLUSH, &quiet) == 0) line = ReadLine(tty.fd());
  tcsetattr(tty.fd(), TCSAFLUSH, &saved);
  g_echo_fd = -1;
  for (size_t i = 0; i < std::size(kRestoreSignals); ++i) sigaction(kRestoreSignals[i], &previous[i], nullptr);
  return line;
}

absl::StatusOr<bool> ConfirmOnTerminal(std::string_view question, std::string_view fallback) {
  Tty tty;
  if (tty.fd() < 0) return absl::InvalidArgumentError(Cat("no terminal to confirm on: ", fallback));
  tty.Write(Cat(question, " Type yes to go on: "));
  absl::StatusOr<SecretBytes> answer = ReadLine(tty.fd());
  if (!answer.ok()) return answer.status();
  return answer->view() == "yes";
}

}  // namespace ringfence::quorum

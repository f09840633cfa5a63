// ChainsimProcess: a real chainsim process for tests (and any test that needs a chain, such as
// custodyd's end-to-end tests): started on a state file, ready once it has printed its
// "listening <address>" line, which Start reads from its stdout (no sleeping, no polling of the
// port). stderr goes to a file in the log directory, for failure messages.
//
// One owner; not thread-safe. The destructor kills a process still running.
#ifndef RINGFENCE_TESTS_CHAINSIM_CHAINSIM_PROCESS_H_
#define RINGFENCE_TESTS_CHAINSIM_CHAINSIM_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace ringfence::chainsim::testing {

class ChainsimProcess {
 public:
  // The chainsim binary named by the CHAINSIM environment variable (ctest sets it); aborts
  // with a message when it is unset.
  static std::string BinaryFromEnv();

  // Starts `binary --state <state> --listen <listen>` and waits, at most `timeout`, for its
  // listening line. On failure (the process exits, prints something else, or times out) the
  // error carries the process's stderr, and no process is left running.
  static absl::StatusOr<std::unique_ptr<ChainsimProcess>> Start(
      const std::string& binary, const std::filesystem::path& state, const std::filesystem::path& log_dir,
      const std::string& listen = "127.0.0.1:0", std::chrono::milliseconds timeout = std::chrono::seconds(60));

  ~ChainsimProcess();
  ChainsimProcess(const ChainsimProcess&) = delete;
  ChainsimProcess& operator=(const ChainsimProcess&) = delete;

  // The gRPC target it listens on ("127.0.0.1:PORT" or "unix:/path").
  const std::string& address() const { return address_; }
  // SIGTERM, then waits; returns the exit code (128 + signal if it died of one).
  int Stop();
  // SIGKILL, then waits: a crash, as far as the state file can tell.
  void Kill();
  std::string Stderr() const;

 private:
  ChainsimProcess() = default;
  int Wait();

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
  std::string address_;
  std::filesystem::path stderr_path_;
};

}  // namespace ringfence::chainsim::testing

#endif  // RINGFENCE_TESTS_CHAINSIM_CHAINSIM_PROCESS_H_

#include "tests/chainsim/chainsim_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "base/text.h"

extern char** environ;

namespace ringfence::chainsim::testing {

std::string ChainsimProcess::BinaryFromEnv() {
  const char* path = std::getenv("CHAINSIM");
  if (path == nullptr || *path == '\0') {
    std::fprintf(stderr, "CHAINSIM is not set: run this test through ctest\n");
    std::abort();
  }
  return path;
}

absl::StatusOr<std::unique_ptr<ChainsimProcess>> ChainsimProcess::Start(const std::string& binary,
                                                                         const std::filesystem::path& state,
                                                                         const std::filesystem::path& log_dir,
                                                                         const std::string& listen,
                                                                         std::chrono::milliseconds timeout) {
  static std::atomic<int> starts{0};
  std::unique_ptr<ChainsimProcess> p(new ChainsimProcess());
  p->stderr_path_ = log_dir / base::Cat("chainsim", ++starts, ".err");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError(base::Cat("pipe: ", std::strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, p->stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> args = {binary, "--state", state.string(), "--listen", listen};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int rc = posix_spawn(&p->pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  p->stdout_fd_ = fds[0];
  if (rc != 0) {
    p->pid_ = -1;
    return absl::InternalError(base::Cat("posix_spawn ", binary, ": ", std::strerror(rc)));
  }

  // Read the first line, waiting at most `timeout` in all.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string line;
  while (line.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      p->Kill();
      return absl::DeadlineExceededError(base::Cat("chainsim printed no listening line in time; stderr:\n", p->Stderr()));
    }
    pollfd pfd{p->stdout_fd_, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buf[256];
    const ssize_t n = read(p->stdout_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int code = p->Wait();
      return absl::FailedPreconditionError(
          base::Cat("chainsim exited with ", code, " before listening; stderr:\n", p->Stderr()));
    }
    line.append(buf, static_cast<size_t>(n));
  }
  line.resize(line.find('\n'));
  constexpr std::string_view kPrefix = "listening ";
  if (!line.starts_with(kPrefix)) {
    p->Kill();
    return absl::FailedPreconditionError(base::Cat("chainsim's first line is ", base::Clip(line, 200)));
  }
  p->address_ = line.substr(kPrefix.size());
  return p;
}

int ChainsimProcess::Wait() {
  if (!exited_ && pid_ > 0) {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exited_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return exit_code_;
}

int ChainsimProcess::Stop() {
  if (!exited_ && pid_ > 0) kill(pid_, SIGTERM);
  return Wait();
}

void ChainsimProcess::Kill() {
  if (!exited_ && pid_ > 0) kill(pid_, SIGKILL);
  Wait();
}

ChainsimProcess::~ChainsimProcess() {
  Kill();
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

std::string ChainsimProcess::Stderr() const {
  std::ifstream in(stderr_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace ringfence::chainsim::testing

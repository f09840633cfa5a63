#include "reserves/progress.h"

#include <unistd.h>

#include <cstdio>

namespace ringfence::reserves {

namespace {
std::atomic<bool> g_enabled{true};
}  // namespace

void Progress::SetEnabled(bool enabled) { g_enabled.store(enabled); }

Progress::Progress(std::string label, uint64_t total)
    : label_(std::move(label)),
      total_(total),
      active_(g_enabled.load() && total >= kMinUnits),
      tty_(isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() {
  if (active_) Draw(total_, true);
}

void Progress::Add(uint64_t units) {
  if (!active_) return;
  uint64_t done = done_.fetch_add(units) + units;
  Draw(done > total_ ? total_ : done, false);
}

void Progress::Draw(uint64_t done, bool final_line) {
  int pct = static_cast<int>(static_cast<unsigned __int128>(done) * 100 / total_);
  std::lock_guard<std::mutex> lock(mu_);
  if (tty_) {
    if (pct == shown_ && !final_line) return;
    shown_ = pct;
    char bar[41];
    int filled = pct * 40 / 100;
    for (int i = 0; i < 40; ++i) bar[i] = i < filled ? '#' : '.';
    bar[40] = '\0';
    std::fprintf(stderr, "\r%-28s [%s] %3d%%%s", label_.c_str(), bar, pct, final_line ? "\n" : "");
  } else {
    int step = pct / 10 * 10;
    if (step <= shown_) return;
    shown_ = step;
    std::fprintf(stderr, "reserves: %s %d%%\n", label_.c_str(), step);
  }
  std::fflush(stderr);
}

}  // namespace ringfence::reserves

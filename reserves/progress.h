// Progress of a long step on stderr: a redrawn bar when stderr is a terminal, otherwise a
// plain line every 10%. Steps smaller than kMinUnits print nothing, so small runs and tests
// stay quiet.
//
// Add() may be called from several threads at once; the object must outlive them.
#ifndef RINGFENCE_RESERVES_PROGRESS_H_
#define RINGFENCE_RESERVES_PROGRESS_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace ringfence::reserves {

class Progress {
 public:
  static constexpr uint64_t kMinUnits = uint64_t{1} << 21;

  Progress(std::string label, uint64_t total);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Add(uint64_t units);

  // Turns all progress output off (tests, --quiet).
  static void SetEnabled(bool enabled);

 private:
  void Draw(uint64_t done, bool final_line);

  std::string label_;
  uint64_t total_;
  bool active_;
  bool tty_;
  std::atomic<uint64_t> done_{0};
  std::mutex mu_;
  int shown_ = -1;  // last percentage drawn; guarded by mu_
};

// Adds to a Progress that may be null.
inline void AddProgress(Progress* p, uint64_t units) {
  if (p != nullptr) p->Add(units);
}

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_PROGRESS_H_

// Env: custodyd's clock and randomness, the two inputs tests must control (leveldb's Env).
//
// Every part of custodyd that needs "now" or random bytes (client ids, timestamps on journal and
// audit entries) takes an Env& from its owner instead of calling the system directly. RealEnv()
// is the process-wide system implementation; FixedEnv gives a settable clock and a
// deterministic byte stream so that a test can predict ids and times.
//
// Ownership: RealEnv() is a static that lives for the whole process; a FixedEnv is owned by the
// test that made it and must outlive every user. Thread-safety: both are thread-safe.
#ifndef RINGFENCE_CUSTODY_ENV_H_
#define RINGFENCE_CUSTODY_ENV_H_

#include <cstdint>
#include <mutex>
#include <span>

namespace ringfence::custody {

class Env {
 public:
  virtual ~Env() = default;
  // Wall-clock time as Unix milliseconds.
  virtual int64_t NowUnixMs() = 0;
  // Fills `out` with random bytes (cryptographically strong for RealEnv()). Never fails.
  virtual void RandomBytes(std::span<uint8_t> out) = 0;
};

// The system clock and libsodium's randombytes_buf. Aborts at first use if libsodium cannot
// initialise (no source of randomness is not a state to continue in).
Env& RealEnv();

// A clock that moves only when told, and a reproducible byte stream: SHA-256(seed || u64be(n))
// for n = 0, 1, ..., concatenated. Two FixedEnvs with the same seed hand out the same bytes.
class FixedEnv : public Env {
 public:
  explicit FixedEnv(int64_t now_unix_ms, uint64_t seed = 0);

  int64_t NowUnixMs() override;
  void RandomBytes(std::span<uint8_t> out) override;

  void SetNowUnixMs(int64_t now_unix_ms);
  void AdvanceMs(int64_t delta_ms);

 private:
  std::mutex mu_;
  int64_t now_unix_ms_;
  const uint64_t seed_;
  uint64_t block_counter_ = 0;
  uint8_t block_[32] = {};
  size_t block_used_ = sizeof(block_);  // bytes of block_ already handed out
};

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_ENV_H_

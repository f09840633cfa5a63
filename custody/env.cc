#include "custody/env.h"

#include <sodium.h>

#include <chrono>

#include "base/check.h"

namespace ringfence::custody {
namespace {

class SystemEnv : public Env {
 public:
  SystemEnv() { RF_CHECK(sodium_init() >= 0, "libsodium failed to initialise: no source of randomness"); }

  int64_t NowUnixMs() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  void RandomBytes(std::span<uint8_t> out) override { randombytes_buf(out.data(), out.size()); }
};

}  // namespace

Env& RealEnv() {
  static SystemEnv* env = new SystemEnv();  // never destroyed: threads may still use it at exit
  return *env;
}

FixedEnv::FixedEnv(int64_t now_unix_ms, uint64_t seed) : now_unix_ms_(now_unix_ms), seed_(seed) {}

int64_t FixedEnv::NowUnixMs() {
  std::lock_guard<std::mutex> lock(mu_);
  return now_unix_ms_;
}

void FixedEnv::SetNowUnixMs(int64_t now_unix_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  now_unix_ms_ = now_unix_ms;
}

void FixedEnv::AdvanceMs(int64_t delta_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  now_unix_ms_ += delta_ms;
}

void FixedEnv::RandomBytes(std::span<uint8_t> out) {
  std::lock_guard<std::mutex> lock(mu_);
  for (uint8_t& byte : out) {
    if (block_used_ == sizeof(block_)) {
      uint8_t input[16];
      for (int i = 0; i < 8; ++i) {
        input[i] = static_cast<uint8_t>(seed_ >> (56 - 8 * i));
        input[8 + i] = static_cast<uint8_t>(block_counter_ >> (56 - 8 * i));
      }
      crypto_hash_sha256(block_, input, sizeof(input));
      ++block_counter_;
      block_used_ = 0;
    }
    byte = block_[block_used_++];
  }
}

}  // namespace ringfence::custody

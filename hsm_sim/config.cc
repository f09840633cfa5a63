#include "hsm_sim/config.h"

#include <sodium.h>

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ringfence::hsm_sim {
namespace {

// An unset variable keeps `*out`; a set one must be a decimal integer in [min, max].
absl::Status ReadNumber(const char* name, uint64_t min, uint64_t max, uint64_t* out) {
  const char* raw = std::getenv(name);
  if (raw == nullptr) return absl::OkStatus();
  uint64_t v = 0;
  if (!absl::SimpleAtoi(raw, &v) || v < min || v > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, "=\"", raw, "\": must be an integer from ", min, " to ", max));
  }
  *out = v;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Config> Config::FromEnvironment() {
  Config c;
  const char* dir = std::getenv("HSM_SIM_DIR");
  if (dir == nullptr || dir[0] == '\0') {
    return absl::InvalidArgumentError("HSM_SIM_DIR is not set: it must name the token directory");
  }
  c.dir = dir;
  uint64_t ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  uint64_t mem_kib = crypto_pwhash_MEMLIMIT_INTERACTIVE / 1024;
  uint64_t tries = c.max_pin_tries;
  if (absl::Status s = ReadNumber("HSM_SIM_ARGON2_OPSLIMIT", crypto_pwhash_OPSLIMIT_MIN, 64, &ops);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ReadNumber("HSM_SIM_ARGON2_MEMLIMIT_KIB", crypto_pwhash_MEMLIMIT_MIN / 1024,
                                  4 * 1024 * 1024, &mem_kib);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ReadNumber("HSM_SIM_MAX_PIN_TRIES", 1, 1000, &tries); !s.ok()) return s;
  if (absl::Status s = ReadNumber("HSM_SIM_LATENCY_US", 0, 10'000'000, &c.latency_us); !s.ok()) {
    return s;
  }
  if (absl::Status s = ReadNumber("HSM_SIM_FAIL_SIGN_EVERY", 0, UINT32_MAX, &c.fail_sign_every);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          ReadNumber("HSM_SIM_FAIL_OPEN_SESSION", 0, UINT32_MAX, &c.fail_open_session_every);
      !s.ok()) {
    return s;
  }
  c.kdf_cost = KdfCost{ops, mem_kib * 1024};
  c.max_pin_tries = static_cast<uint32_t>(tries);
  return c;
}

}  // namespace ringfence::hsm_sim

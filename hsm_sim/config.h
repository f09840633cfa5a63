// hsm_sim's settings, read from the environment at C_Initialize (see hsm_sim/README.md for
// every variable). A Config is a plain value; copy it freely.
#ifndef RINGFENCE_HSM_SIM_CONFIG_H_
#define RINGFENCE_HSM_SIM_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "hsm_sim/crypto.h"

namespace ringfence::hsm_sim {

struct Config {
  std::string dir;               // HSM_SIM_DIR
  KdfCost kdf_cost;              // HSM_SIM_ARGON2_OPSLIMIT, HSM_SIM_ARGON2_MEMLIMIT_KIB
  uint32_t max_pin_tries = 5;    // HSM_SIM_MAX_PIN_TRIES, stored in the token at C_InitToken
  uint64_t latency_us = 0;       // HSM_SIM_LATENCY_US, added to every C_Sign that signs
  uint64_t fail_sign_every = 0;  // HSM_SIM_FAIL_SIGN_EVERY: every Nth C_Sign fails
  uint64_t fail_open_session_every = 0;  // HSM_SIM_FAIL_OPEN_SESSION: every Nth open fails

  // Reads the variables. Fails with kInvalidArgument naming the variable and its rule when
  // HSM_SIM_DIR is unset or empty, or a number is malformed or out of range.
  static absl::StatusOr<Config> FromEnvironment();
};

}  // namespace ringfence::hsm_sim

#endif  // RINGFENCE_HSM_SIM_CONFIG_H_

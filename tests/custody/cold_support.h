// Test support for the cold tier's files: an Ed25519 identity from a fixed seed that stands in
// for the offline signer's identity key (the test holds it, so it can sign files custodyd then
// trusts and reach custodyd's own content checks behind the signature), and the writers of
// cold-key files and signed bundles signed by it. Test-only.
#ifndef RINGFENCE_TESTS_CUSTODY_COLD_SUPPORT_H_
#define RINGFENCE_TESTS_CUSTODY_COLD_SUPPORT_H_

#include <array>
#include <cstdint>
#include <string>

#include "offline/bundle.h"

namespace ringfence::custody::testing {

struct Identity {
  std::array<uint8_t, 32> public_key{};
  std::array<uint8_t, 64> secret_key{};
  // The key pair of the seed of 32 bytes equal to `seed_byte`.
  explicit Identity(uint8_t seed_byte);
  ~Identity();
  Identity(const Identity&) = delete;
  Identity& operator=(const Identity&) = delete;
  std::string Hex() const;
};

// The file of `keys` / `bundle` with its signer_key and signature replaced by `by`'s (a test
// failure and "" when it cannot be written).
std::string ColdKeysSignedBy(offline::ColdKeys keys, const Identity& by);
std::string SignedBundleSignedBy(offline::SignedBundle bundle, const Identity& by);

}  // namespace ringfence::custody::testing

#endif  // RINGFENCE_TESTS_CUSTODY_COLD_SUPPORT_H_

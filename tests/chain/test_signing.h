// Test-only signing with raw private keys through libsecp256k1 (RFC 6979 nonces, low S).
// Production keys never leave the token; tests use fixed, published keys so results are
// reproducible byte for byte.
#ifndef RINGFENCE_TESTS_CHAIN_TEST_SIGNING_H_
#define RINGFENCE_TESTS_CHAIN_TEST_SIGNING_H_

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace ringfence::chain::testing {

struct RecoverableSignature {
  std::array<uint8_t, 64> rs;  // r||s, low S
  int recid;
};

// REQUIRES: `secret` is a valid secp256k1 secret key (aborts otherwise).
RecoverableSignature SignDigest(std::span<const uint8_t> secret, const std::array<uint8_t, 32>& digest);
std::array<uint8_t, 33> CompressedPubkey(std::span<const uint8_t> secret);
std::array<uint8_t, 65> UncompressedPubkey(std::span<const uint8_t> secret);

}  // namespace ringfence::chain::testing

#endif  // RINGFENCE_TESTS_CHAIN_TEST_SIGNING_H_

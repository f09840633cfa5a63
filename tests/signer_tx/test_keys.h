// Deterministic secp256k1 keys for signer_tx tests (private key = 32 copies of a seed byte),
// used where the test plays signerd's token or a foreign party. Test-only; thread-safe.
#ifndef RINGFENCE_TESTS_SIGNER_TX_TEST_KEYS_H_
#define RINGFENCE_TESTS_SIGNER_TX_TEST_KEYS_H_

#include <array>
#include <cstdint>

namespace ringfence::signer::tx::testing {

std::array<uint8_t, 32> TestPrivateKey(uint8_t seed_byte);
std::array<uint8_t, 33> TestPublicKey(uint8_t seed_byte);
// Low-S compact signature and recovery id over `digest`.
void TestSign(uint8_t seed_byte, const std::array<uint8_t, 32>& digest, std::array<uint8_t, 64>* compact,
              int* recovery_id);

}  // namespace ringfence::signer::tx::testing

#endif  // RINGFENCE_TESTS_SIGNER_TX_TEST_KEYS_H_

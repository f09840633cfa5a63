#include "tests/signer_tx/test_keys.h"

#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <cstdlib>

namespace ringfence::signer::tx::testing {
namespace {
secp256k1_context* Ctx() {
  static secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  return ctx;
}
}  // namespace

std::array<uint8_t, 32> TestPrivateKey(uint8_t seed_byte) {
  std::array<uint8_t, 32> k;
  k.fill(seed_byte);
  return k;
}

std::array<uint8_t, 33> TestPublicKey(uint8_t seed_byte) {
  const auto priv = TestPrivateKey(seed_byte);
  secp256k1_pubkey pk;
  if (!secp256k1_ec_pubkey_create(Ctx(), &pk, priv.data())) std::abort();
  std::array<uint8_t, 33> out;
  size_t len = out.size();
  secp256k1_ec_pubkey_serialize(Ctx(), out.data(), &len, &pk, SECP256K1_EC_COMPRESSED);
  return out;
}

void TestSign(uint8_t seed_byte, const std::array<uint8_t, 32>& digest, std::array<uint8_t, 64>* compact,
              int* recovery_id) {
  const auto priv = TestPrivateKey(seed_byte);
  secp256k1_ecdsa_recoverable_signature sig;
  if (!secp256k1_ecdsa_sign_recoverable(Ctx(), &sig, digest.data(), priv.data(), nullptr, nullptr)) {
    std::abort();
  }
  secp256k1_ecdsa_recoverable_signature_serialize_compact(Ctx(), compact->data(), recovery_id, &sig);
}

}  // namespace ringfence::signer::tx::testing

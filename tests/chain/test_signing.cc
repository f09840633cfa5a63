#include "tests/chain/test_signing.h"

#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <cstdio>
#include <cstdlib>

namespace ringfence::chain::testing {
namespace {

secp256k1_context* Context() {
  static secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  return ctx;
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "test signing: %s failed\n", what);
    std::abort();
  }
}

secp256k1_pubkey Pubkey(std::span<const uint8_t> secret) {
  Check(secret.size() == 32, "secret length");
  secp256k1_pubkey pk;
  Check(secp256k1_ec_pubkey_create(Context(), &pk, secret.data()) == 1, "pubkey create");
  return pk;
}

}  // namespace

RecoverableSignature SignDigest(std::span<const uint8_t> secret, const std::array<uint8_t, 32>& digest) {
  Check(secret.size() == 32, "secret length");
  secp256k1_ecdsa_recoverable_signature sig;
  Check(secp256k1_ecdsa_sign_recoverable(Context(), &sig, digest.data(), secret.data(), nullptr, nullptr) == 1,
        "sign");
  RecoverableSignature out;
  Check(secp256k1_ecdsa_recoverable_signature_serialize_compact(Context(), out.rs.data(), &out.recid, &sig) == 1,
        "serialize");
  return out;
}

std::array<uint8_t, 33> CompressedPubkey(std::span<const uint8_t> secret) {
  secp256k1_pubkey pk = Pubkey(secret);
  std::array<uint8_t, 33> out;
  size_t len = out.size();
  secp256k1_ec_pubkey_serialize(Context(), out.data(), &len, &pk, SECP256K1_EC_COMPRESSED);
  return out;
}

std::array<uint8_t, 65> UncompressedPubkey(std::span<const uint8_t> secret) {
  secp256k1_pubkey pk = Pubkey(secret);
  std::array<uint8_t, 65> out;
  size_t len = out.size();
  secp256k1_ec_pubkey_serialize(Context(), out.data(), &len, &pk, SECP256K1_EC_UNCOMPRESSED);
  return out;
}

}  // namespace ringfence::chain::testing

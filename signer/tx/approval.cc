#include "signer/tx/approval.h"

#include <sodium.h>

#include "base/check.h"

namespace ringfence::signer::tx {

bool VerifyApprovalSignature(std::span<const uint8_t> public_key, std::span<const uint8_t> signature,
                             const policy::ApprovalDigestBytes& digest) {
  // Cheap after the first call (it returns 1 once initialised) and thread-safe.
  RF_CHECK(sodium_init() >= 0, "libsodium failed to initialise");
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) {
    return false;
  }
  return crypto_sign_verify_detached(signature.data(), digest.data(), digest.size(), public_key.data()) == 0;
}

}  // namespace ringfence::signer::tx

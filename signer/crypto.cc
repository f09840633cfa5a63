#include "signer/crypto.h"

#include <sodium.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace ringfence::signer {

absl::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kSecp256k1:
      return "secp256k1";
    case KeyType::kEd25519:
      return "ed25519";
  }
  return "unknown";
}

absl::StatusOr<KeyType> ParseKeyTypeName(absl::string_view name) {
  if (name == "secp256k1") return KeyType::kSecp256k1;
  if (name == "ed25519") return KeyType::kEd25519;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown key type '", name, "' (expected secp256k1 or ed25519)"));
}

absl::StatusOr<chain::FinishedSignature> CheckTokenEcdsa(std::span<const uint8_t> raw,
                                                         const std::array<uint8_t, 32>& digest,
                                                         std::span<const uint8_t> public_key,
                                                         chain::RecoveryId recovery) {
  absl::StatusOr<chain::FinishedSignature> sig = chain::FinishSignature(raw, digest, public_key, recovery);
  RF_CHECK(sig.status().code() != absl::StatusCode::kPermissionDenied,
           "token's ECDSA signature does not verify under the key's registered public key");
  if (!sig.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the token's ECDSA signature cannot be used: ", sig.status().message()));
  }
  return sig;
}

absl::Status CheckEd25519(std::span<const uint8_t> signature, std::span<const uint8_t> message,
                          std::span<const uint8_t> public_key) {
  if (signature.size() != kSignatureSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token returned a ", signature.size(), "-byte Ed25519 signature, expected 64"));
  }
  if (public_key.size() != kEd25519PublicKeySize) {
    return absl::InvalidArgumentError("registered Ed25519 public key is not 32 bytes");
  }
  RF_CHECK(sodium_init() >= 0, "libsodium failed to initialise");
  RF_CHECK(
      crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                  public_key.data()) == 0,
      "token's Ed25519 signature does not verify under the key's registered public key");
  return absl::OkStatus();
}

}  // namespace ringfence::signer

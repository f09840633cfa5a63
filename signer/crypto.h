// Key types, and the software checks the signer runs on every signature a token returns.
//
// A PKCS#11 token returns bare ECDSA (r, s), possibly with a high S (SoftHSM2 does about
// half the time) and never with a recovery id. CheckTokenEcdsa makes it canonical through
// chain::FinishSignature (low S, the recovery id when asked for) and checks it against the
// key's registered public key; CheckEd25519 verifies an EdDSA signature with libsodium. A
// well-formed signature that fails that check is a broken invariant and aborts (RF_CHECK): it
// is never passed on. Stateless free functions, thread-safe.
#ifndef RINGFENCE_SIGNER_CRYPTO_H_
#define RINGFENCE_SIGNER_CRYPTO_H_

#include <array>
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chain/ecdsa.h"

namespace ringfence::signer {

enum class KeyType { kSecp256k1 = 1, kEd25519 = 2 };

// "secp256k1" or "ed25519": the names used in the database, the log and the docs.
absl::string_view KeyTypeName(KeyType type);
// Inverse of KeyTypeName; InvalidArgument for any other string.
absl::StatusOr<KeyType> ParseKeyTypeName(absl::string_view name);

inline constexpr size_t kSecp256k1CompressedSize = 33;
inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kSignatureSize = 64;

// The token's raw r || s over `digest`, finished by chain::FinishSignature against the key's
// registered `public_key` (33-byte compressed). Unavailable, naming the rule, if the token's
// output is malformed (length, r or s out of range) or the registered key is not a point.
// Aborts if the well-formed signature is not the key's over `digest`.
absl::StatusOr<chain::FinishedSignature> CheckTokenEcdsa(std::span<const uint8_t> raw,
                                                         const std::array<uint8_t, 32>& digest,
                                                         std::span<const uint8_t> public_key,
                                                         chain::RecoveryId recovery);

// InvalidArgument if `signature` is not 64 bytes; aborts if it does not verify for
// `message` under the 32-byte `public_key`.
absl::Status CheckEd25519(std::span<const uint8_t> signature, std::span<const uint8_t> message,
                          std::span<const uint8_t> public_key);

}  // namespace ringfence::signer

#endif  // RINGFENCE_SIGNER_CRYPTO_H_

// Key types and the software checks the signer runs on every token output.
//
// A PKCS#11 token returns bare ECDSA (r, s), possibly with a high S (SoftHSM2 does about
// half the time) and never with a recovery id. FinishEcdsa turns that into the canonical
// low-S form with its recovery id and verifies it against the key's known public key with
// libsecp256k1; CheckEd25519 verifies an EdDSA signature with libsodium. A signature that
// fails that re-check is a broken invariant and aborts (RF_CHECK): it is never
// passed on. Stateless free functions, thread-safe.
#ifndef RINGFENCE_SIGNER_CRYPTO_H_
#define RINGFENCE_SIGNER_CRYPTO_H_

#include <array>
#include <cstdint>
#include <span>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"

namespace ringfence::signer {

enum class KeyType { kSecp256k1 = 1, kEd25519 = 2 };

// "secp256k1" or "ed25519": the names used in the database, the log and the docs.
absl::string_view KeyTypeName(KeyType type);
// Inverse of KeyTypeName; InvalidArgument for any other string.
absl::StatusOr<KeyType> ParseKeyTypeName(absl::string_view name);

inline constexpr size_t kSecp256k1CompressedSize = 33;
inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kSignatureSize = 64;

struct EcdsaSignature {
  std::array<uint8_t, 64> compact{};  // r || s, 32 bytes each, big-endian, s <= n/2.
  int recovery_id = 0;                // 0..3, as Bitcoin's and Ethereum's recovery expects.
  bool normalized = false;            // True if the token's S was high and was replaced by n - S.
};

// Parses a SEC1 point (33-byte compressed or 65-byte uncompressed) and returns its 33-byte
// compressed form. InvalidArgument if it is not a point on secp256k1.
absl::StatusOr<std::array<uint8_t, 33>> CompressSecp256k1(std::span<const uint8_t> sec1);

// Normalises the token's 64-byte r || s to low S, finds the recovery id by recovering the
// public key from `digest` and comparing it with `public_key` (33-byte compressed), and
// verifies the result. InvalidArgument if `raw` is not 64 bytes or r or s is zero or not
// below the group order (the token produced garbage). Aborts if the well-formed signature
// does not verify or no recovery id yields the key.
absl::StatusOr<EcdsaSignature> FinishEcdsa(std::span<const uint8_t> raw,
                                           std::span<const uint8_t, 32> digest,
                                           std::span<const uint8_t> public_key);

// InvalidArgument if `signature` is not 64 bytes; aborts if it does not verify for
// `message` under the 32-byte `public_key`.
absl::Status CheckEd25519(std::span<const uint8_t> signature, std::span<const uint8_t> message,
                          std::span<const uint8_t> public_key);

// SHA-256 (libsodium).
std::array<uint8_t, 32> Sha256(std::span<const uint8_t> data);

std::string HexEncode(std::span<const uint8_t> data);

}  // namespace ringfence::signer

#endif  // RINGFENCE_SIGNER_CRYPTO_H_

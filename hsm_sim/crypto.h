// The cryptography beneath hsm_sim's PKCS#11 surface: secp256k1 ECDSA (libsecp256k1) and
// Ed25519 (libsodium), the strict encodings the token accepts (DER ECDSA signatures,
// CKA_EC_PARAMS, CKA_EC_POINT) and the token's sealing primitives (XChaCha20-Poly1305,
// Argon2id). These are free functions over caller-owned buffers; nothing here keeps state
// except the process-wide secp256k1 context, which is created once and then only read, so
// every function is thread-safe. Tests link this through hsm_sim_core to check it against the
// public conformance vectors.
#ifndef RINGFENCE_HSM_SIM_CRYPTO_H_
#define RINGFENCE_HSM_SIM_CRYPTO_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/secret.h"

namespace ringfence::hsm_sim {

inline constexpr size_t kSecp256k1SecretSize = 32;
inline constexpr size_t kSecp256k1UncompressedSize = 65;
inline constexpr size_t kEcdsaCompactSize = 64;
inline constexpr size_t kEd25519SeedSize = 32;
inline constexpr size_t kEd25519PublicSize = 32;
inline constexpr size_t kEd25519SecretSize = 64;  // libsodium's seed || public key
inline constexpr size_t kEd25519SignatureSize = 64;

enum class Curve { kSecp256k1, kEd25519 };

// Returns false (once, at first use) if libsodium cannot be initialised or the secp256k1
// context cannot be created and randomised; every other function here requires it returned true.
bool InitCrypto();

struct EcdsaSignature {
  std::array<uint8_t, kEcdsaCompactSize> compact{};  // r || s, big-endian, s <= n/2
  int recovery_id = 0;                               // 0..3, as libsecp256k1 computes it
};

// True if `secret` is a valid secp256k1 secret key (0 < d < n).
bool Secp256k1SecretValid(std::span<const uint8_t, kSecp256k1SecretSize> secret);
// Writes the uncompressed SEC1 public key (04 || X || Y). Returns false for an invalid secret.
bool Secp256k1PublicKey(std::span<const uint8_t, kSecp256k1SecretSize> secret,
                        std::span<uint8_t, kSecp256k1UncompressedSize> out);
// RFC 6979 deterministic ECDSA over a 32-byte digest, low S, with the recovery id.
// `extra_entropy`, when given, is RFC 6979 section 3.6 additional data (32 bytes).
// Returns false for an invalid secret key.
bool EcdsaSign(std::span<const uint8_t, kSecp256k1SecretSize> secret,
               std::span<const uint8_t, 32> digest, const uint8_t* extra_entropy,
               EcdsaSignature* out);
// The RFC 6979 nonce candidate number `attempt` (0 = the first) that EcdsaSign draws for
// this key and digest; exposed so tests can check the nonce derivation itself.
bool Rfc6979Nonce(std::span<const uint8_t, kSecp256k1SecretSize> secret,
                  std::span<const uint8_t, 32> digest, unsigned attempt,
                  std::span<uint8_t, 32> out);
// Strict verification of r || s: 0 < r, s < n, s <= n/2, against a 33- or 65-byte SEC1 key.
// False for any malformed input.
bool EcdsaVerifyCompact(std::span<const uint8_t> public_key, std::span<const uint8_t> digest32,
                        std::span<const uint8_t> signature);
// Strict DER ECDSA-Sig-Value parser (minimal lengths and integers, no BER, nothing trailing)
// into r || s. Returns nullopt if the encoding is not strict DER or r or s needs more than
// 32 bytes; range checks against n are left to EcdsaVerifyCompact.
std::optional<std::array<uint8_t, kEcdsaCompactSize>> ParseDerSignature(
    std::span<const uint8_t> der);

// Ed25519 key pair from a 32-byte seed: `secret` receives seed || public key.
void Ed25519KeyPair(std::span<const uint8_t, kEd25519SeedSize> seed,
                    std::span<uint8_t, kEd25519PublicSize> public_key,
                    std::span<uint8_t, kEd25519SecretSize> secret);
// Pure Ed25519 (RFC 8032, no context, no prehash).
void Ed25519Sign(std::span<const uint8_t, kEd25519SecretSize> secret,
                 std::span<const uint8_t> message, std::span<uint8_t, kEd25519SignatureSize> out);
// libsodium's verification: rejects non-canonical S, small-order keys and R, and any
// signature that is not exactly 64 bytes.
bool Ed25519Verify(std::span<const uint8_t> public_key, std::span<const uint8_t> message,
                   std::span<const uint8_t> signature);

// CKA_EC_PARAMS: the curve named by a DER OID (secp256k1 1.3.132.0.10, Ed25519 1.3.101.112 or
// GnuPG's 1.3.6.1.4.1.11591.15.1) or the PrintableString "edwards25519" that OpenSC's
// pkcs11-tool sends. nullopt for anything else.
std::optional<Curve> CurveFromEcParams(std::span<const uint8_t> ec_params);
// The DER of secp256k1's OID, which the token stores when a template omits nothing but uses
// another accepted spelling.
std::vector<uint8_t> Secp256k1EcParams();
// CKA_EC_POINT: the raw point wrapped in a DER OCTET STRING.
std::vector<uint8_t> EncodeEcPoint(std::span<const uint8_t> point);

// Sealing: XChaCha20-Poly1305 with a random 24-byte nonce; output nonce || ciphertext || tag.
inline constexpr size_t kSealKeySize = 32;
inline constexpr size_t kSealOverhead = 24 + 16;
std::vector<uint8_t> Seal(std::span<const uint8_t, kSealKeySize> key,
                          std::span<const uint8_t> plaintext, std::span<const uint8_t> ad);
// Opens a Seal() output into `out` (which must be exactly sealed.size() - kSealOverhead
// bytes). Returns false if the key, associated data or ciphertext do not match.
bool Open(std::span<const uint8_t, kSealKeySize> key, std::span<const uint8_t> sealed,
          std::span<const uint8_t> ad, std::span<uint8_t> out);

struct KdfCost {
  uint64_t opslimit = 0;
  uint64_t memlimit = 0;  // bytes
};
inline constexpr size_t kKdfSaltSize = 16;
// Argon2id13 over `pin` into a 32-byte key. Returns false if libsodium refuses the cost
// (out of memory or outside its limits).
bool DerivePinKey(std::span<const uint8_t> pin, std::span<const uint8_t, kKdfSaltSize> salt,
                  KdfCost cost, base::SecretBytes* out);

}  // namespace ringfence::hsm_sim

#endif  // RINGFENCE_HSM_SIM_CRYPTO_H_

// secp256k1 ECDSA signature handling that both chains share, for signatures produced
// elsewhere (an HSM through PKCS#11, which returns r||s that may be high-S and carries no
// recovery id): range checks, low-S normalisation, strict DER, recovery id, verification,
// public key (de)compression. No private key ever passes through this header.
//
// Pure functions on caller-owned bytes, using libsecp256k1's static context (which needs no
// randomisation because nothing here touches a secret); thread-safe.
#ifndef RINGFENCE_CHAIN_ECDSA_H_
#define RINGFENCE_CHAIN_ECDSA_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringfence::chain {

// A compact signature: r (32 bytes, big-endian) followed by s (32 bytes, big-endian).
using CompactSignature = std::array<uint8_t, 64>;

// Checks 0 < r, s < n and returns the signature with s replaced by n - s when s > n/2.
// On failure returns InvalidArgument ("r is zero", "s is not below the group order", ...).
absl::StatusOr<CompactSignature> NormalizeLowS(std::span<const uint8_t> rs64);

// True when s <= n/2. REQUIRES: `sig` passed NormalizeLowS's range checks.
bool IsLowS(const CompactSignature& sig);

// Strict DER (minimal integers, no padding, nothing after) of a compact signature.
std::vector<uint8_t> EncodeDerSignature(const CompactSignature& sig);

// Parses strict DER only (BIP-66 rules); returns InvalidArgument naming the rule broken.
// Does not require low S: check with IsLowS where that matters.
absl::StatusOr<CompactSignature> ParseDerSignature(std::span<const uint8_t> der);

// Parses a 33-byte compressed or 65-byte uncompressed public key and returns it in the
// other forms. InvalidArgument when not a point on the curve or of another length.
absl::StatusOr<std::array<uint8_t, 33>> CompressPublicKey(std::span<const uint8_t> pubkey);
absl::StatusOr<std::array<uint8_t, 65>> UncompressPublicKey(std::span<const uint8_t> pubkey);

// Verifies `sig` over the 32-byte `digest` with `pubkey` (33 or 65 bytes). High-S
// signatures are rejected (both chains require low S). Returns OK, or InvalidArgument /
// PermissionDenied ("signature does not verify").
absl::Status VerifyEcdsa(const std::array<uint8_t, 32>& digest, const CompactSignature& sig,
                         std::span<const uint8_t> pubkey);

// The recovery id (0 or 1; 2 or 3 only when r + n < p, about 2^-128 of r values) for which
// recovery from (digest, sig) yields `pubkey`, found with one public-key recovery that
// computes verification's nonce point itself (see FinishSignature). NotFound if there is
// none, meaning the signature is not by this key over this digest; InvalidArgument if `sig`
// is out of range or high S, or `pubkey` is not a point.
absl::StatusOr<int> ComputeRecoveryId(const std::array<uint8_t, 32>& digest, const CompactSignature& sig,
                                      std::span<const uint8_t> pubkey);

// What FinishSignature made of a token's raw output.
struct FinishedSignature {
  CompactSignature compact{};      // low S
  std::optional<int> recovery_id;  // set when it was asked for
  bool normalized = false;         // the input's S was high and was replaced by n - S
};

// Whether FinishSignature also finds the recovery id (Ethereum needs it, a Bitcoin witness
// does not).
enum class RecoveryId { kSkip, kCompute };

// Turns r || s as an HSM returns it through PKCS#11 (S possibly high, no recovery id) into
// the canonical low-S signature, and proves it is `pubkey`'s signature over `digest`.
// kSkip: one libsecp256k1 verification. kCompute: one public-key recovery run on `pubkey`
// itself, which yields verification's nonce point R' = (e/s)G + (r/s)Q as an affine point:
// x(R') = r mod n is the verification, and R''s y parity (with whether x(R') is r + n) is the
// recovery id, so the id costs about one verification too, not a verification and up to
// four recoveries. Returns InvalidArgument if `rs64` is malformed (not 64 bytes, r or s zero
// or not below the group order) or `pubkey` is not a point; PermissionDenied if the
// well-formed signature is not `pubkey`'s over `digest`.
absl::StatusOr<FinishedSignature> FinishSignature(std::span<const uint8_t> rs64,
                                                  const std::array<uint8_t, 32>& digest,
                                                  std::span<const uint8_t> pubkey, RecoveryId recovery);

// Recovers the 65-byte uncompressed public key. Rejects high S and recid outside 0..3.
absl::StatusOr<std::array<uint8_t, 65>> RecoverPublicKey(const std::array<uint8_t, 32>& digest,
                                                         const CompactSignature& sig, int recid);

namespace internal {

// a^-1 mod n (the group order), variable time: for public values only. InvalidArgument if a
// is zero or not below n. Exposed for its tests.
absl::StatusOr<std::array<uint8_t, 32>> InvertModOrder(const std::array<uint8_t, 32>& a);

}  // namespace internal

}  // namespace ringfence::chain

#endif  // RINGFENCE_CHAIN_ECDSA_H_

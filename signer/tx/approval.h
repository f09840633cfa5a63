// Approvals of a transaction intent: the canonical, domain-separated digest that approvers
// sign with Ed25519 (written up byte by byte in docs/approval-digest.md), and its verification.
//
// Pure functions over caller-owned values; thread-safe (libsodium must have been initialised,
// which VerifyApprovalSignature does on first use).
#ifndef RINGFENCE_SIGNER_TX_APPROVAL_H_
#define RINGFENCE_SIGNER_TX_APPROVAL_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "base/amount.h"

namespace ringfence::signer::tx {

inline constexpr char kApprovalTag[] = "ringfence/approval/v1";
// Longest text field accepted in the digest; longer text is refused, never truncated.
inline constexpr size_t kMaxApprovalFieldBytes = 256;

// Everything an approval binds. A change to any field gives another digest.
struct ApprovalSubject {
  std::string request_id;
  std::string chain;    // "bitcoin", "ethereum"
  std::string network;  // as in the request
  std::string asset;
  base::Amount amount;
  std::string destination;  // canonical address text
  base::Amount fee_cap;
};

// The 32-byte approval digest. Returns InvalidArgument naming the field when a text field is
// empty or longer than kMaxApprovalFieldBytes.
absl::StatusOr<std::array<uint8_t, 32>> ApprovalDigest(const ApprovalSubject& subject);

// True when `signature` (64 bytes) is a valid Ed25519 signature by `public_key` (32 bytes) over
// `digest`. Non-canonical signatures and small-order keys are rejected (libsodium's rules).
bool VerifyApprovalSignature(std::span<const uint8_t> public_key,
                             std::span<const uint8_t> signature,
                             const std::array<uint8_t, 32>& digest);

}  // namespace ringfence::signer::tx

#endif  // RINGFENCE_SIGNER_TX_APPROVAL_H_

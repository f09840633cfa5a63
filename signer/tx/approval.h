// Verification of approvals in signerd: an approver's Ed25519 signature over the approval
// digest that signerd computed itself (policy/approval_digest.h, the one copy of the digest
// shared with the quorum tool and custodyd), under the key in signerd's own approver registry.
//
// Pure functions over caller-owned values; thread-safe (libsodium is initialised on first use).
#ifndef RINGFENCE_SIGNER_TX_APPROVAL_H_
#define RINGFENCE_SIGNER_TX_APPROVAL_H_

#include <cstdint>
#include <span>

#include "policy/approval_digest.h"

namespace ringfence::signer::tx {

// True when `signature` (64 bytes) is a valid Ed25519 signature by `public_key` (32 bytes) over
// `digest`. Non-canonical signatures and small-order keys are rejected (libsodium's rules).
bool VerifyApprovalSignature(std::span<const uint8_t> public_key, std::span<const uint8_t> signature,
                             const policy::ApprovalDigestBytes& digest);

}  // namespace ringfence::signer::tx

#endif  // RINGFENCE_SIGNER_TX_APPROVAL_H_

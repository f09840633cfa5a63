// The approval digest: the canonical, domain-separated 32-byte digest of one request (a
// withdrawal or a cold move) and its intent, which approvers sign with Ed25519. Written up
// byte by byte in docs/approval-digest.md.
//
// signerd recomputes it to verify approvals against its own approver registry, the quorum tool
// computes it to make them, and custodyd will compute it to collect them: one copy, in the
// lowest module all three may use, so that they cannot disagree. Verifying signatures is not
// here; each party does that against its own keys (signerd: signer/tx/approval.h).
//
// Pure functions over caller-owned values; thread-safe.
#ifndef RINGFENCE_POLICY_APPROVAL_DIGEST_H_
#define RINGFENCE_POLICY_APPROVAL_DIGEST_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "base/amount.h"

namespace ringfence::policy {

inline constexpr char kApprovalTag[] = "ringfence/approval/v1";
// Longest text field accepted in the digest; longer text is refused, never truncated.
inline constexpr size_t kMaxApprovalFieldBytes = 256;

using ApprovalDigestBytes = std::array<uint8_t, 32>;

// Everything an approval binds. A change to any field gives another digest.
//
// A later version of the digest (v2, with its own tag) will bind more of the request, such as
// its kind and source wallet: it adds members here and one line per member to the body in
// approval_digest.cc, and v1's bytes stay as documented.
struct ApprovalSubject {
  std::string request_id;
  std::string chain;    // "bitcoin", "ethereum"
  std::string network;  // as configured in signerd
  std::string asset;
  base::Amount amount;      // what the destination receives, in the asset's base units
  std::string destination;  // canonical address text
  base::Amount fee_cap;     // in the chain's native base units
};

// The 32-byte approval digest (v1). Returns InvalidArgument naming the field
// ("intent.destination: ...") when a text field is empty or longer than
// kMaxApprovalFieldBytes; nothing is truncated.
absl::StatusOr<ApprovalDigestBytes> ApprovalDigest(const ApprovalSubject& subject);

}  // namespace ringfence::policy

#endif  // RINGFENCE_POLICY_APPROVAL_DIGEST_H_

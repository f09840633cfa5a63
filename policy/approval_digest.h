// The approval digests: canonical, domain-separated 32-byte digests of what approvers sign with
// Ed25519. Two kinds, each with its own tag (written up byte by byte in docs/approval-digest.md):
//  - the approval digest (v2) of one request that moves funds (a withdrawal, a sweep, a top-up,
//    a fee reimbursement): ApprovalDigest;
//  - the whitelist-change digest of one whitelist addition: WhitelistChangeDigest;
//  - the freeze-lift digest of one asset freeze the reconciler raised: FreezeLiftDigest.
//
// signerd recomputes the approval digest to verify approvals against its own approver registry
// (from the request and the bindings of the keys it signs with, never from a passed field), the
// quorum tool computes both to make approvals, and custodyd computes both to collect them: one
// copy, in the lowest module all three may use, so that they cannot disagree. Verifying
// signatures is not here; each party does that against its own keys (signerd:
// signer/tx/approval.h).
//
// Pure functions over caller-owned values; thread-safe.
#ifndef RINGFENCE_POLICY_APPROVAL_DIGEST_H_
#define RINGFENCE_POLICY_APPROVAL_DIGEST_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/amount.h"
#include "base/digest.h"

namespace ringfence::policy {

// v1 ("ringfence/approval/v1") is gone: a v1 approval never verifies against a v2 digest
// (docs/approval-digest.md, "Versions").
inline constexpr char kApprovalTag[] = "ringfence/approval/v2";
inline constexpr char kWhitelistChangeTag[] = "ringfence/whitelist/v1";
inline constexpr char kFreezeLiftTag[] = "ringfence/freeze-lift/v1";
// Longest text field accepted in a digest; longer text is refused, never truncated.
inline constexpr size_t kMaxApprovalFieldBytes = base::kMaxDigestTextBytes;

using ApprovalDigestBytes = std::array<uint8_t, 32>;

// What a request that moves funds does. Its name (RequestKindName) is what enters the digest.
enum class RequestKind {
  kWithdrawal,         // a client wallet pays an approved outside destination
  kSweep,              // client hot -> the same asset's client cold
  kTopUp,              // client cold -> the same asset's client hot
  kFeeReimbursement,   // house hot -> the same asset's client hot
  kGasFunding,         // a chain's native client hot -> an account of a token's client hot, for gas
};

// "withdrawal", "sweep", "top_up", "fee_reimbursement", "gas_funding".
std::string_view RequestKindName(RequestKind kind);
// Inverse of RequestKindName; nullopt for any other text (unknown kinds are refused).
std::optional<RequestKind> ParseRequestKind(std::string_view name);

// Everything an approval binds. A change to any field gives another digest.
struct ApprovalSubject {
  std::string request_id;
  RequestKind kind = RequestKind::kWithdrawal;
  std::string source_wallet;  // the wallet id whose keys own the inputs (or the sender key)
  std::string chain;          // "bitcoin", "ethereum"
  std::string network;        // as configured in signerd
  std::string asset;
  base::Amount amount;      // what the destination receives, in the asset's base units
  std::string destination;  // canonical address text
  base::Amount fee_cap;     // in the chain's native base units
  int64_t expires_at = 0;   // Unix seconds, 0..policy::kMaxTimestamp
};

// The 32-byte approval digest (v2). Returns InvalidArgument naming the field
// ("intent.destination: ...") when a text field is empty or longer than
// kMaxApprovalFieldBytes, or expires_at is outside 0..kMaxTimestamp; nothing is truncated.
absl::StatusOr<ApprovalDigestBytes> ApprovalDigest(const ApprovalSubject& subject);

// One whitelist addition, as approvers see it. The action is always "add" (a removal is
// immediate and needs no approval).
struct WhitelistChangeSubject {
  std::string change_id;
  std::string client_id;
  std::string asset;
  std::string address;    // canonical address text
  int64_t expires_at = 0; // Unix seconds, 0..policy::kMaxTimestamp
};

// The 32-byte whitelist-change digest (tag kWhitelistChangeTag). InvalidArgument naming the
// field as ApprovalDigest does.
absl::StatusOr<ApprovalDigestBytes> WhitelistChangeDigest(const WhitelistChangeSubject& subject);

// Lifting one asset freeze, as approvers see it: the freeze, the asset, why it was raised and
// the SHA-256 (64 lowercase hex digits) of its details (the differences and unknown transfers
// it froze on, whose acceptance lifting it records).
struct FreezeLiftSubject {
  std::string freeze_id;
  std::string asset;
  std::string reason;
  std::string details_sha256;
  uint64_t height = 0;     // the block height it was raised at
};

// The 32-byte freeze-lift digest (tag kFreezeLiftTag). InvalidArgument naming the field as
// ApprovalDigest does.
absl::StatusOr<ApprovalDigestBytes> FreezeLiftDigest(const FreezeLiftSubject& subject);

}  // namespace ringfence::policy

#endif  // RINGFENCE_POLICY_APPROVAL_DIGEST_H_

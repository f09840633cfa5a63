// The approver registry as custodyd uses it: who may act for an approver id, and whether an
// approval's Ed25519 signature verifies over the digest custodyd computed itself from the
// stored request (never a digest it was sent). Also the principal a caller stands for when it
// requests something (the requester an approval may not come from).
//
// Refusals are PERMISSION_DENIED naming the rule ("approver_id: ... is not in the approver
// registry", "signature: does not verify ..."), so that the service can audit them.
//
// Stateless functions over the immutable Config; thread-safe.
#ifndef RINGFENCE_CUSTODY_APPROVERS_H_
#define RINGFENCE_CUSTODY_APPROVERS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "custody/auth.h"
#include "custody/config.h"
#include "custody/store/store.h"
#include "policy/approval_digest.h"
#include "policy/config.h"

namespace ringfence::custody {

inline constexpr size_t kEd25519SignatureLength = 64;
inline constexpr size_t kMaxPrincipalLength = 128;

// The approver `approver_id` if it is in the registry and `caller` may act for it (the
// approver's subject/san, when configured, matches the caller's certificate).
// PERMISSION_DENIED otherwise.
absl::StatusOr<const ApproverConfig*> ApproverFor(const Config& config, const Caller& caller,
                                                  std::string_view approver_id);

// OK if `signature` (64 bytes) is approver's Ed25519 signature over `digest`;
// PERMISSION_DENIED "signature: ..." otherwise.
absl::Status VerifyApproval(const ApproverConfig& approver, const policy::ApprovalDigestBytes& digest,
                            std::string_view signature);

// Records `approver`'s approval of `target_id` (a `target_kind`, store::ApprovalRow) over
// `digest`: PERMISSION_DENIED unless the approver is a member of approver group `group` of
// `policy` and `signature` verifies (VerifyApproval); ALREADY_EXISTS for a second approval of
// the target by the same approver. Writes nothing on error.
absl::Status RecordApproval(store::Txn& txn, const policy::Policy& policy, std::string_view group,
                            const ApproverConfig& approver, const policy::ApprovalDigestBytes& digest,
                            std::string_view signature, std::string_view target_id, std::string_view target_kind,
                            int64_t now_unix_ms);

// The principal id a caller stands for as a requester: `requested_by` when given (already
// validated), else the caller's identity with every byte outside [A-Za-z0-9._:@-] replaced by
// '_' and clipped to kMaxPrincipalLength ("CN=platform-1,O=Ringfence" -> "CN_platform-1_O_Ringfence").
std::string RequesterPrincipal(const Caller& caller, std::string_view requested_by);

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_APPROVERS_H_

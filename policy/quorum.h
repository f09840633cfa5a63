// Quorum and whitelist-change decisions.
//
// DecideQuorum counts the approvals that satisfy the separation-of-duties rules: distinct
// approvers, members of the required group, not the requester, given no later than `now` and
// not expired (an approval counts during [approved_at, approved_at + group ttl)). Every
// approval that does not count is listed with its reason.
//
// DecideWhitelistChange: adding an address needs its own quorum (the asset's
// whitelist.approvals rule) and, once effective, starts a cooling-off period; removing an
// address is effective at once and needs no approvals.
//
// Pure functions of their arguments; a quorum not met is a value, a Status error means
// malformed input (unknown group or asset, k out of range, time out of range).
#ifndef RINGFENCE_POLICY_QUORUM_H_
#define RINGFENCE_POLICY_QUORUM_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "policy/config.h"
#include "policy/ids.h"

namespace ringfence::policy {

struct Approval {
  PrincipalId approver;
  int64_t approved_at = 0;
};

struct QuorumInput {
  ApprovalRule rule;  // k of group
  PrincipalId requester;
  std::vector<Approval> approvals;
  int64_t now = 0;
};

enum class ApprovalRejection {
  kRequester,   // separation of duties: the requester cannot approve
  kNotMember,   // not in the required group
  kFuture,      // approved_at is after now
  kExpired,     // now >= approved_at + ttl
  kDuplicate,   // this approver already counted
};

std::string_view ApprovalRejectionCode(ApprovalRejection rejection);
std::optional<ApprovalRejection> ApprovalRejectionFromCode(std::string_view code);

struct RejectedApproval {
  size_t index = 0;  // position in QuorumInput::approvals
  PrincipalId approver;
  ApprovalRejection reason;
};

struct QuorumDecision {
  std::string policy_hash;  // the policy version this was decided under
  bool met = false;
  ApprovalRule rule;
  std::vector<PrincipalId> counted;  // in input order
  std::vector<RejectedApproval> rejected;
};

// Returns NotFound if the rule's group is not in the policy; InvalidArgument if k is 0 or
// larger than the group, or a time is out of range.
absl::StatusOr<QuorumDecision> DecideQuorum(const Policy& policy, const QuorumInput& input);

enum class WhitelistChangeKind { kAdd, kRemove };

struct WhitelistChangeInput {
  WhitelistChangeKind kind = WhitelistChangeKind::kAdd;
  ClientId client;
  AssetId asset;
  Address address;
  PrincipalId requester;
  std::vector<Approval> approvals;  // ignored for a removal
  int64_t now = 0;
};

struct WhitelistChangeDecision {
  std::string policy_hash;  // the policy version this was decided under
  bool effective = false;  // a removal always; an addition once its quorum is met
  std::optional<QuorumDecision> quorum;   // additions only
  std::optional<int64_t> added_at;        // additions that are effective: now
  std::optional<int64_t> usable_from;     // added_at + cooling-off
};

// Returns NotFound if the asset is not in the policy; otherwise as DecideQuorum.
absl::StatusOr<WhitelistChangeDecision> DecideWhitelistChange(const Policy& policy,
                                                              const WhitelistChangeInput& input);

}  // namespace ringfence::policy

#endif  // RINGFENCE_POLICY_QUORUM_H_

#include "policy/quorum.h"

#include <algorithm>
#include <array>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "policy/text.h"
#include "policy/withdrawal.h"

namespace ringfence::policy {
namespace {

constexpr std::array<std::pair<ApprovalRejection, std::string_view>, 5> kCodes = {{
    {ApprovalRejection::kRequester, "requester"},
    {ApprovalRejection::kNotMember, "not_member"},
    {ApprovalRejection::kFuture, "future"},
    {ApprovalRejection::kExpired, "expired"},
    {ApprovalRejection::kDuplicate, "duplicate"},
}};

}  // namespace

std::string_view ApprovalRejectionCode(ApprovalRejection rejection) {
  for (const auto& [r, code] : kCodes) {
    if (r == rejection) return code;
  }
  return "unknown";
}

std::optional<ApprovalRejection> ApprovalRejectionFromCode(std::string_view code) {
  for (const auto& [r, c] : kCodes) {
    if (c == code) return r;
  }
  return std::nullopt;
}

absl::StatusOr<QuorumDecision> DecideQuorum(const Policy& policy, const QuorumInput& input) {
  const ApproverGroup* group = policy.FindGroup(input.rule.group);
  if (group == nullptr) {
    return absl::NotFoundError(
        internal::Cat("rule.group: approver group \"", input.rule.group.value(), "\" is not in the policy"));
  }
  if (input.rule.k == 0 || input.rule.k > group->members.size()) {
    return absl::InvalidArgumentError(internal::Cat("rule.k: k (", input.rule.k, ") must be in 1..n (",
                                                   group->members.size(), ")"));
  }
  if (absl::Status s = ValidateTimestamp(input.now, "now"); !s.ok()) return s;
  for (size_t i = 0; i < input.approvals.size(); ++i) {
    if (absl::Status s = ValidateTimestamp(input.approvals[i].approved_at,
                                           internal::Cat("approvals[", i, "].approved_at"));
        !s.ok()) {
      return s;
    }
  }
  QuorumDecision d;
  d.policy_hash = policy.hash;
  d.rule = input.rule;
  std::set<PrincipalId> counted;
  for (size_t i = 0; i < input.approvals.size(); ++i) {
    const Approval& a = input.approvals[i];
    std::optional<ApprovalRejection> why;
    if (a.approver == input.requester) {
      why = ApprovalRejection::kRequester;
    } else if (!std::binary_search(group->members.begin(), group->members.end(), a.approver)) {
      why = ApprovalRejection::kNotMember;
    } else if (a.approved_at > input.now) {
      why = ApprovalRejection::kFuture;
    } else if (input.now >= a.approved_at + group->approval_ttl_seconds) {
      why = ApprovalRejection::kExpired;
    } else if (counted.contains(a.approver)) {
      why = ApprovalRejection::kDuplicate;
    }
    if (why) {
      d.rejected.push_back(RejectedApproval{i, a.approver, *why});
    } else {
      counted.insert(a.approver);
      d.counted.push_back(a.approver);
    }
  }
  d.met = d.counted.size() >= input.rule.k;
  return d;
}

absl::StatusOr<WhitelistChangeDecision> DecideWhitelistChange(const Policy& policy,
                                                              const WhitelistChangeInput& input) {
  const AssetPolicy* asset = policy.FindAsset(input.asset);
  if (asset == nullptr) {
    return absl::NotFoundError(internal::Cat("asset: asset \"", input.asset.value(), "\" is not in the policy"));
  }
  if (absl::Status s = ValidateTimestamp(input.now, "now"); !s.ok()) return s;
  WhitelistChangeDecision d;
  d.policy_hash = policy.hash;
  if (input.kind == WhitelistChangeKind::kRemove) {
    d.effective = true;
    return d;
  }
  QuorumInput q;
  q.rule = asset->whitelist_add_approvals;
  q.requester = input.requester;
  q.approvals = input.approvals;
  q.now = input.now;
  absl::StatusOr<QuorumDecision> quorum = DecideQuorum(policy, q);
  if (!quorum.ok()) return quorum.status();
  d.quorum = *std::move(quorum);
  d.effective = d.quorum->met;
  if (d.effective) {
    d.added_at = input.now;
    d.usable_from = input.now + asset->whitelist_cooling_off_seconds;
  }
  return d;
}

}  // namespace ringfence::policy

// Policy: the validated, in-memory form of a policy file (TOML, format described in
// docs/policy.md), plus its canonical serialisation and hash.
//
// ParsePolicy is the only way to build a Policy from outside text. It checks every field and
// fills every default, so the decision functions never meet an invalid configuration. The
// caller reads the file; this module only sees the text.
//
// A Policy is an immutable value after parsing; it may be shared between threads for reading.
#ifndef RINGFENCE_POLICY_CONFIG_H_
#define RINGFENCE_POLICY_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/amount.h"
#include "policy/ids.h"
#include "policy/ratio.h"

namespace ringfence::policy {

// The only policy file version this code reads.
inline constexpr int64_t kPolicyVersion = 1;
// Policy text larger than this is refused before parsing.
inline constexpr size_t kMaxPolicyBytes = 1 << 20;

// k approvals out of an approver group.
struct ApprovalRule {
  GroupId group;
  uint32_t k = 0;
  friend bool operator==(const ApprovalRule&, const ApprovalRule&) = default;
};

// Outflows within the last `seconds` (the half-open interval (now - seconds, now]) plus the
// requested amount may not exceed `limit`.
struct RollingWindow {
  int64_t seconds = 0;
  base::Amount limit;
};

// Withdrawals of at least `min_amount` need `approvals`. Tiers are kept sorted by min_amount,
// strictly increasing; the highest tier the amount reaches applies.
struct ApprovalTier {
  base::Amount min_amount;
  ApprovalRule approvals;
};

// Withdrawals of at least `min_amount` wait `seconds` after the decision.
struct DelayRule {
  base::Amount min_amount;
  int64_t seconds = 0;
};

struct AssetPolicy {
  AssetId id;
  int decimals = 0;
  // Withdrawal rules.
  base::Amount per_request_limit;
  std::vector<RollingWindow> client_windows;  // sorted by seconds, unique
  std::vector<RollingWindow> asset_windows;   // sorted by seconds, unique
  std::vector<ApprovalTier> approval_tiers;
  std::optional<DelayRule> delay;
  // Whitelist rules.
  int64_t whitelist_cooling_off_seconds = 0;
  ApprovalRule whitelist_add_approvals;
  // Allocation rules.
  Ratio hot_cap;      // default 0.02
  Ratio hot_target;   // default hot_cap / 2 (rounded down to a whole ppm); <= hot_cap
  base::Amount hot_floor;   // default 0
  base::Amount min_sweep;   // default 0
  ApprovalRule top_up_approvals;
  // Coverage rules.
  Ratio cold_cover_share;  // default 0.5
  base::Amount configured_cover;  // default 0
};

struct ApproverGroup {
  GroupId id;
  std::vector<PrincipalId> members;  // sorted, unique; n = members.size()
  int64_t approval_ttl_seconds = 0;  // an approval counts during [at, at + ttl)
};

struct Policy {
  int64_t version = kPolicyVersion;
  Ratio aggregate_hot_cap;  // default 0.02
  std::map<GroupId, ApproverGroup> groups;
  std::map<AssetId, AssetPolicy> assets;
  // Lower-case hex SHA-256 of CanonicalPolicyJson(*this); set by ParsePolicy.
  std::string hash;

  // Returns nullptr if the asset or group is not configured.
  const AssetPolicy* FindAsset(const AssetId& id) const;
  const ApproverGroup* FindGroup(const GroupId& id) const;
};

// Parses and validates policy text. On failure returns InvalidArgument whose message starts
// with the field path ("assets.BTC.withdrawal.approval_tiers[1].k") followed by the rule
// broken; TOML syntax errors (including duplicate keys) carry the line and column.
absl::StatusOr<Policy> ParsePolicy(std::string_view toml_text);

// The canonical serialisation the policy hash is taken over (docs/policy.md): compact JSON,
// sorted keys, every default filled in, amounts as base-unit decimal strings, ratios as ppm.
std::string CanonicalPolicyJson(const Policy& policy);

// Lower-case hex SHA-256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);

}  // namespace ringfence::policy

#endif  // RINGFENCE_POLICY_CONFIG_H_

// Allocation and coverage: how an asset's client holdings sit between the hot and the cold
// tier against the allocation policy, and the insurance or compensation cover they require
// against the cover configured (docs/custody-api.md, "Allocation and coverage").
//
// The allocation rules (hot cap, hot target, hot floor, minimum sweep, top-up quorum, the
// aggregate cap) come from one place: the policy file (docs/policy.md), through
// policy::DecideAllocation. ComputeAllocation reads the figures from the ledger in the
// caller's transaction (one snapshot), builds the policy's AllocationInput for every
// configured asset (the aggregate cap needs them all), decides, and reports the decision's
// sweep or top-up as what the executor plans. Without a [withdrawals] policy every asset gets
// the policy engine's defaults (AllocationPolicy). Every share is computed in integer
// arithmetic on base units, never in floating point.
//
// Stateless; thread-safe as far as the Txn is.
#ifndef RINGFENCE_CUSTODY_ALLOCATION_H_
#define RINGFENCE_CUSTODY_ALLOCATION_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "base/amount.h"
#include "custody/config.h"
#include "custody/store/store.h"
#include "policy/allocation.h"
#include "policy/config.h"

namespace ringfence::custody {

// What one allocation decision was taken on: the policy, the input (every configured asset,
// in asset id order) and the decision. Recorded with every sweep or top-up it plans
// (RecordAllocationDecision), so that `custodyd policy replay` can re-run it.
struct AllocationEvidence {
  std::shared_ptr<const policy::Policy> policy;
  policy::AllocationInput input;
  policy::AllocationDecision decision;
};

struct AssetAllocation {
  const AssetConfig* asset = nullptr;
  base::Amount hot;              // client-hot holdings less in flight
  base::Amount cold;             // client-cold holdings less in flight
  base::Amount total;            // hot + cold
  uint32_t hot_share_bps = 0;    // floor(hot * 10,000 / total); 0 when total is 0
  // The policy's rules for the asset and its decision (evidence->decision.assets[i]).
  std::shared_ptr<const AllocationEvidence> evidence;
  const policy::AssetPolicy* rules = nullptr;          // points into evidence->policy
  const policy::AssetAllocation* decision = nullptr;   // points into evidence->decision
  uint32_t hot_cap_bps = 0;      // the policy's hot_cap in basis points, rounded down
  base::Amount hot_cap;          // the decision's cap_amount: floor(policy total * hot_cap)
  bool over_cap = false;         // the decision's hot_projected > hot_cap
  // Hot coins clients' withdrawals will still spend: amount + fee cap of each withdrawal of the
  // asset pending approval, approved, signing or signed (from broadcast on, its coins are in
  // flight and out of `hot` already). The policy input's pending_withdrawals.
  base::Amount reserved_for_withdrawals;
  // Sweeps of the asset in flight (approved, signing, signed or broadcast): their amounts.
  base::Amount sweeping;
  // What a sweep would move now: the decision's sweep (to the target, the minimum, or further
  // for the aggregate cap); zero when the decision is no sweep or a sweep is already in flight.
  base::Amount planned_sweep;
  // Top-ups of the asset not yet settled (pending approval to broadcast): their amounts.
  base::Amount topping_up;
  // What a top-up would move now: the decision's top-up, at most cold less its fee cap; zero
  // when the decision is no top-up, one is already on its way, no cold key is imported or the
  // asset has no withdrawal_fee_cap.
  base::Amount planned_top_up;
  uint32_t cold_addresses = 0;   // addresses of the client-cold wallet (imported cold keys)
  // Coverage.
  uint32_t cold_share_bps = 0;   // the policy's cold_share in basis points, rounded down
  base::Amount cover_required;   // hot + ceil(cold * cold_cover_share) (policy::DecideCoverage)
  base::Amount cover_configured; // sum of [[coverage.cover]] amounts for the asset
  base::Amount cover_shortfall;  // required - configured when positive, else 0
  // In base units of [allocation] reference; absent without a price (or a reference).
  std::optional<base::Amount> hot_value, cold_value, cover_required_value, cover_configured_value;
};

struct AllocationReport {
  uint64_t ledger_seq = 0;
  std::vector<AssetAllocation> assets;  // config order
  // Aggregates in the reference asset over the priced assets; complete when every asset of
  // the report has a price.
  bool aggregate_complete = false;
  base::Amount hot_value, cold_value;
  uint32_t aggregate_hot_share_bps = 0;
  // hot_value > floor(total value * the policy's aggregate_hot_cap); the decision's
  // kAggregateSweep sweeps are what bring it back under.
  bool aggregate_over_cap = false;
  uint32_t aggregate_hot_cap_bps = 0;  // the policy's aggregate_hot_cap in basis points, rounded down
  std::string policy_hash;             // the policy the decision was taken under
  base::Amount cover_required_value, cover_configured_value;
  // The sum of the assets' shortfalls: cover held for one asset does not cover another.
  base::Amount cover_shortfall_value;
};

// floor(part * 10,000 / total) in basis points; 0 when total is 0. REQUIRES: part <= total.
uint32_t ShareBps(base::Amount part, base::Amount total);

// The policy the allocation rules come from: the [withdrawals] policy when one is attached,
// otherwise a policy that gives every configured asset the policy engine's defaults (hot_cap
// 2%, hot_target 1%, hot_floor 0, min_sweep 0, aggregate_hot_cap 2%). InvalidArgument only if
// the defaults cannot be written for the configured assets (never for a parsed config).
absl::StatusOr<std::shared_ptr<const policy::Policy>> AllocationPolicy(const Config& config);

// Inserts the allocation decision that planned internal move `move_id` into policy_decisions
// (kind "allocation", subject the move, the canonical record of policy/record.h) in `txn`, the
// transaction that inserts the move. Returns the decision id.
absl::StatusOr<uint64_t> RecordAllocationDecision(store::Txn& txn, const AllocationEvidence& evidence,
                                                  const std::string& move_id, int64_t now_unix_ms);

// The report for every configured asset, or only `asset_id` when it is not empty (NOT_FOUND
// if it is not configured). OUT_OF_RANGE when a sum exceeds 2^128 - 1.
absl::StatusOr<AllocationReport> ComputeAllocation(store::Txn& txn, const Config& config, std::string_view asset_id);

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_ALLOCATION_H_

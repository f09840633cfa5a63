// Allocation (hot/cold rebalancing) and coverage decisions.
//
// DecideAllocation plans, per asset, a sweep (hot -> cold, automatic) or a top-up need
// (cold -> hot, needs the asset's top_up_approvals quorum) so that client holdings in hot stay
// at or under the asset's cap, and checks the aggregate cap across assets when every asset
// carries a price. The exact rules and rounding directions are in docs/policy.md.
//
// DecideCoverage computes, per asset, the insurance/compensation cover required (100% of hot
// plus the asset's cold_share of cold, rounded up), the cover configured and the shortfall.
//
// Pure functions of their arguments. Status errors mean malformed input: an asset not in the
// policy, assets not in strictly increasing id order, pending withdrawals larger than the
// holdings, or a sum that does not fit in 128 bits (never wrapped, never rounded away).
#ifndef RINGFENCE_POLICY_ALLOCATION_H_
#define RINGFENCE_POLICY_ALLOCATION_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/amount.h"
#include "policy/config.h"
#include "policy/ids.h"

namespace ringfence::policy {

// The value of one base unit of an asset in a common unit (say US cents), as the exact
// fraction numerator / denominator. Only used for the aggregate cap. REQUIRES: denominator > 0.
struct Price {
  uint64_t numerator = 0;
  uint64_t denominator = 1;
};

struct AssetHoldings {
  AssetId asset;
  base::Amount hot;                  // settled client holdings in hot wallets
  base::Amount cold;                 // settled client holdings in cold wallets
  base::Amount in_flight_to_cold;    // hot -> cold moves broadcast, not yet settled
  base::Amount in_flight_to_hot;     // cold -> hot moves broadcast, not yet settled
  base::Amount pending_withdrawals;  // approved client withdrawals that hot will pay
  std::optional<Price> price;
};

struct AllocationInput {
  std::vector<AssetHoldings> assets;  // strictly increasing asset id
};

enum class AllocationAction { kNone, kSweep, kTopUp };

enum class AllocationReason {
  kWithinCap,               // floor <= hot <= cap: nothing to do
  kSweepToTarget,           // swept down to max(target, floor)
  kSweepMinimum,            // the needed sweep was under min_sweep; swept min_sweep instead
  kSweepLimitedBySettled,   // part of the excess is still in flight to hot; swept what is settled
  kBelowMinimumSweep,       // above cap, but no sweep of at least min_sweep keeps the floor
  kFloorPreventsSweep,      // above cap, but hot is at or below the floor
  kTopUpToTarget,           // below the floor: top up to max(target, floor)
  kTopUpLimitedByCold,      // below the floor, and settled cold cannot supply all of it
  kAggregateSweep,          // swept further (down to the floor at most) for the aggregate cap
};

std::string_view AllocationActionCode(AllocationAction action);
std::string_view AllocationReasonCode(AllocationReason reason);

struct AssetAllocation {
  AssetId asset;
  AllocationAction action = AllocationAction::kNone;
  AllocationReason reason = AllocationReason::kWithinCap;
  base::Amount amount;         // sweep or top-up amount; zero for kNone
  base::Amount total;          // client holdings once pending withdrawals are paid
  base::Amount hot_projected;  // hot once in-flight moves settle and pending withdrawals are paid
  base::Amount hot_after;      // hot_projected after this plan
  base::Amount cap_amount;     // floor(total * hot_cap)
  base::Amount target_amount;  // floor(total * hot_target)
  bool within_cap = false;  // hot_after <= cap_amount
  ApprovalRule approvals;   // top-ups only
};

struct AllocationDecision {
  std::string policy_hash;  // the policy version this was decided under
  std::vector<AssetAllocation> assets;
  // Aggregate cap, evaluated only when every asset has a price.
  bool aggregate_evaluated = false;
  base::Amount aggregate_hot_value;    // sum of ceil(hot_after * price)
  base::Amount aggregate_total_value;  // sum of floor(total * price)
  base::Amount aggregate_cap_value;    // floor(aggregate_total_value * aggregate_hot_cap)
  bool aggregate_within_cap = false;
};

absl::StatusOr<AllocationDecision> DecideAllocation(const Policy& policy, const AllocationInput& input);

struct CoverageHoldings {
  AssetId asset;
  base::Amount hot;   // the caller counts amounts in flight on the hot side (covered in full)
  base::Amount cold;
};

struct CoverageInput {
  std::vector<CoverageHoldings> assets;  // strictly increasing asset id
};

struct AssetCoverage {
  AssetId asset;
  base::Amount hot_part;             // = hot
  base::Amount cold_part;            // ceil(cold * cold_share)
  bool cold_part_rounded = false;  // the exact product was fractional and was rounded up
  base::Amount required;             // hot_part + cold_part
  base::Amount configured;           // the policy's configured_cover
  base::Amount shortfall;            // required - configured when positive, else 0
  bool covered = false;        // shortfall == 0
};

struct CoverageDecision {
  std::string policy_hash;  // the policy version this was decided under
  std::vector<AssetCoverage> assets;
  bool all_covered = false;
};

absl::StatusOr<CoverageDecision> DecideCoverage(const Policy& policy, const CoverageInput& input);

}  // namespace ringfence::policy

#endif  // RINGFENCE_POLICY_ALLOCATION_H_

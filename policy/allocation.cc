#include "policy/allocation.h"

#include <utility>

#include "absl/status/status.h"
#include "policy/text.h"

namespace ringfence::policy {
namespace {

absl::Status Overflow(const AssetId& asset, std::string_view what) {
  return absl::OutOfRangeError(
      internal::Cat("assets[", asset.value(), "]: ", what, " exceeds 2^128-1 base units"));
}

template <typename T>
absl::Status CheckOrder(const std::vector<T>& assets, const Policy& policy) {
  for (size_t i = 0; i < assets.size(); ++i) {
    if (policy.FindAsset(assets[i].asset) == nullptr) {
      return absl::NotFoundError(internal::Cat("assets[", i, "].asset: asset \"", assets[i].asset.value(),
                                              "\" is not in the policy"));
    }
    if (i > 0 && !(assets[i - 1].asset < assets[i].asset)) {
      return absl::InvalidArgumentError(
          internal::Cat("assets[", i, "].asset: assets must be listed once each, in increasing id order"));
    }
  }
  return absl::OkStatus();
}

// Per-asset plan; also returns the hot amount that is settled and free to sweep.
absl::StatusOr<AssetAllocation> PlanAsset(const AssetPolicy& policy, const AssetHoldings& h,
                                          base::Amount* settled_free) {
  AssetAllocation a;
  a.asset = h.asset;
  std::optional<base::Amount> hot_eff = h.hot.CheckedAdd(h.in_flight_to_hot);
  std::optional<base::Amount> cold_eff = h.cold.CheckedAdd(h.in_flight_to_cold);
  if (!hot_eff || !cold_eff) return Overflow(h.asset, "hot or cold holdings with amounts in flight");
  std::optional<base::Amount> all = hot_eff->CheckedAdd(*cold_eff);
  if (!all) return Overflow(h.asset, "total holdings");
  const base::Amount pending = h.pending_withdrawals;
  if (pending > *all) {
    return absl::InvalidArgumentError(internal::Cat(
        "assets[", h.asset.value(), "].pending_withdrawals: exceeds the asset's client holdings"));
  }
  a.total = base::AmountOrDie(all->CheckedSub(pending));
  base::Amount deficit;  // what pending withdrawals need beyond everything hot will hold
  if (pending > *hot_eff) {
    deficit = base::AmountOrDie(pending.CheckedSub(*hot_eff));
    a.hot_projected = base::Amount::Zero();
  } else {
    a.hot_projected = base::AmountOrDie(hot_eff->CheckedSub(pending));
  }
  *settled_free = h.hot > pending ? base::AmountOrDie(h.hot.CheckedSub(pending)) : base::Amount::Zero();
  // Rounded down: the cap and target are the largest whole amounts not above the exact share.
  a.cap_amount = policy.hot_cap.Apply(a.total, base::Rounding::kDown);
  a.target_amount = policy.hot_target.Apply(a.total, base::Rounding::kDown);
  const base::Amount floor = policy.hot_floor;
  const base::Amount desired = base::MaxAmount(a.target_amount, floor);
  a.hot_after = a.hot_projected;

  if (!deficit.is_zero() || a.hot_projected < floor) {
    std::optional<base::Amount> need = desired.CheckedAdd(deficit);
    if (!need) return Overflow(h.asset, "top-up need");
    // desired >= floor > hot_projected, or hot_projected == 0.
    need = base::AmountOrDie(need->CheckedSub(a.hot_projected));
    const base::Amount amount = base::MinAmount(*need, h.cold);
    a.reason = *need > h.cold ? AllocationReason::kTopUpLimitedByCold : AllocationReason::kTopUpToTarget;
    if (!amount.is_zero()) {
      a.action = AllocationAction::kTopUp;
      a.amount = amount;
      a.approvals = policy.top_up_approvals;
    }
    // hot_projected is zero whenever deficit is not.
    const base::Amount raised = base::AmountOrDie(a.hot_projected.CheckedAdd(amount));
    a.hot_after = raised > deficit ? base::AmountOrDie(raised.CheckedSub(deficit)) : base::Amount::Zero();
  } else if (a.hot_projected > a.cap_amount) {
    if (a.hot_projected <= floor) {
      a.reason = AllocationReason::kFloorPreventsSweep;
    } else {
      // desired <= max(cap, floor) < hot_projected, so the subtraction cannot fail.
      base::Amount sweep = base::AmountOrDie(a.hot_projected.CheckedSub(desired));
      a.reason = AllocationReason::kSweepToTarget;
      if (sweep < policy.min_sweep) {
        if (base::AmountOrDie(a.hot_projected.CheckedSub(floor)) >= policy.min_sweep) {
          sweep = policy.min_sweep;
          a.reason = AllocationReason::kSweepMinimum;
        } else {
          sweep = base::Amount::Zero();
          a.reason = AllocationReason::kBelowMinimumSweep;
        }
      }
      if (sweep > *settled_free) {
        sweep = *settled_free < policy.min_sweep ? base::Amount::Zero() : *settled_free;
        a.reason = AllocationReason::kSweepLimitedBySettled;
      }
      if (!sweep.is_zero()) {
        a.action = AllocationAction::kSweep;
        a.amount = sweep;
        a.hot_after = base::AmountOrDie(a.hot_projected.CheckedSub(sweep));
      }
    }
  } else {
    a.reason = AllocationReason::kWithinCap;
  }
  a.within_cap = a.hot_after <= a.cap_amount;
  return a;
}

// Sums hot (rounded up) and total (rounded down) values; rounding both the conservative way
// makes the aggregate share look larger, never smaller.
absl::Status AggregateValues(const std::vector<AssetAllocation>& plans, const std::vector<AssetHoldings>& in,
                             base::Amount* hot_value, base::Amount* total_value) {
  *hot_value = base::Amount::Zero();
  *total_value = base::Amount::Zero();
  for (size_t i = 0; i < plans.size(); ++i) {
    const Price& p = *in[i].price;
    std::optional<base::Amount> hv = plans[i].hot_after.CheckedMulRatio(p.numerator, p.denominator, base::Rounding::kUp);
    std::optional<base::Amount> tv = plans[i].total.CheckedMulRatio(p.numerator, p.denominator, base::Rounding::kDown);
    if (!hv || !tv) return Overflow(plans[i].asset, "value at the given price");
    std::optional<base::Amount> hs = hot_value->CheckedAdd(*hv);
    std::optional<base::Amount> ts = total_value->CheckedAdd(*tv);
    if (!hs || !ts) return Overflow(plans[i].asset, "aggregate value");
    *hot_value = *hs;
    *total_value = *ts;
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view AllocationActionCode(AllocationAction action) {
  switch (action) {
    case AllocationAction::kNone: return "none";
    case AllocationAction::kSweep: return "sweep";
    case AllocationAction::kTopUp: return "top_up";
  }
  return "unknown";
}

std::string_view AllocationReasonCode(AllocationReason reason) {
  switch (reason) {
    case AllocationReason::kWithinCap: return "within_cap";
    case AllocationReason::kSweepToTarget: return "sweep_to_target";
    case AllocationReason::kSweepMinimum: return "sweep_minimum";
    case AllocationReason::kSweepLimitedBySettled: return "sweep_limited_by_settled";
    case AllocationReason::kBelowMinimumSweep: return "below_minimum_sweep";
    case AllocationReason::kFloorPreventsSweep: return "floor_prevents_sweep";
    case AllocationReason::kTopUpToTarget: return "top_up_to_target";
    case AllocationReason::kTopUpLimitedByCold: return "top_up_limited_by_cold";
    case AllocationReason::kAggregateSweep: return "aggregate_sweep";
  }
  return "unknown";
}

absl::StatusOr<AllocationDecision> DecideAllocation(const Policy& policy, const AllocationInput& input) {
  if (absl::Status s = CheckOrder(input.assets, policy); !s.ok()) return s;
  AllocationDecision d;
  d.policy_hash = policy.hash;
  std::vector<base::Amount> settled_free(input.assets.size());
  bool all_priced = !input.assets.empty();
  for (size_t i = 0; i < input.assets.size(); ++i) {
    const AssetHoldings& h = input.assets[i];
    if (h.price && h.price->denominator == 0) {
      return absl::InvalidArgumentError(internal::Cat("assets[", i, "].price.denominator: must not be zero"));
    }
    all_priced = all_priced && h.price.has_value();
    absl::StatusOr<AssetAllocation> a = PlanAsset(*policy.FindAsset(h.asset), h, &settled_free[i]);
    if (!a.ok()) return a.status();
    d.assets.push_back(*std::move(a));
  }
  if (!all_priced) return d;

  d.aggregate_evaluated = true;
  if (absl::Status s = AggregateValues(d.assets, input.assets, &d.aggregate_hot_value, &d.aggregate_total_value);
      !s.ok()) {
    return s;
  }
  d.aggregate_cap_value = policy.aggregate_hot_cap.Apply(d.aggregate_total_value, base::Rounding::kDown);
  // Over the aggregate cap: sweep further, asset by asset in id order, never below an asset's
  // floor, never more than is settled, never a sweep under the asset's minimum.
  for (size_t i = 0; i < d.assets.size() && d.aggregate_hot_value > d.aggregate_cap_value; ++i) {
    AssetAllocation& a = d.assets[i];
    const AssetPolicy& ap = *policy.FindAsset(a.asset);
    const Price& p = *input.assets[i].price;
    if (a.action == AllocationAction::kTopUp || p.numerator == 0 || a.hot_after <= ap.hot_floor) continue;
    const base::Amount swept = a.action == AllocationAction::kSweep ? a.amount : base::Amount::Zero();
    const base::Amount settled_left =
        settled_free[i] > swept ? base::AmountOrDie(settled_free[i].CheckedSub(swept)) : base::Amount::Zero();
    const base::Amount room = base::MinAmount(base::AmountOrDie(a.hot_after.CheckedSub(ap.hot_floor)), settled_left);
    const base::Amount excess = base::AmountOrDie(d.aggregate_hot_value.CheckedSub(d.aggregate_cap_value));
    // Rounded up: sweeping a base unit too much keeps the cap; one too few would not.
    const base::Amount need = excess.CheckedMulRatio(p.denominator, p.numerator, base::Rounding::kUp).value_or(base::Amount::Max());
    base::Amount extra = base::MinAmount(need, room);
    const base::Amount total_sweep = base::AmountOrDie(swept.CheckedAdd(extra));  // <= settled_free
    if (total_sweep < ap.min_sweep) {
      if (base::AmountOrDie(swept.CheckedAdd(room)) < ap.min_sweep) continue;
      extra = base::AmountOrDie(ap.min_sweep.CheckedSub(swept));
    }
    if (extra.is_zero()) continue;
    a.action = AllocationAction::kSweep;
    a.amount = base::AmountOrDie(swept.CheckedAdd(extra));
    a.hot_after = base::AmountOrDie(a.hot_after.CheckedSub(extra));
    a.reason = AllocationReason::kAggregateSweep;
    a.within_cap = a.hot_after <= a.cap_amount;
    if (absl::Status s = AggregateValues(d.assets, input.assets, &d.aggregate_hot_value, &d.aggregate_total_value);
        !s.ok()) {
      return s;
    }
  }
  d.aggregate_within_cap = d.aggregate_hot_value <= d.aggregate_cap_value;
  return d;
}

absl::StatusOr<CoverageDecision> DecideCoverage(const Policy& policy, const CoverageInput& input) {
  if (absl::Status s = CheckOrder(input.assets, policy); !s.ok()) return s;
  CoverageDecision d;
  d.policy_hash = policy.hash;
  d.all_covered = true;
  for (const CoverageHoldings& h : input.assets) {
    const AssetPolicy& ap = *policy.FindAsset(h.asset);
    AssetCoverage c;
    c.asset = h.asset;
    c.hot_part = h.hot;
    // Rounded up: the cover required is never understated.
    c.cold_part = ap.cold_cover_share.Apply(h.cold, base::Rounding::kUp, &c.cold_part_rounded);
    std::optional<base::Amount> required = c.hot_part.CheckedAdd(c.cold_part);
    if (!required) return Overflow(h.asset, "required cover");
    c.required = *required;
    c.configured = ap.configured_cover;
    c.shortfall = c.required > c.configured ? base::AmountOrDie(c.required.CheckedSub(c.configured)) : base::Amount::Zero();
    c.covered = c.shortfall.is_zero();
    d.all_covered = d.all_covered && c.covered;
    d.assets.push_back(std::move(c));
  }
  return d;
}

}  // namespace ringfence::policy

// Allocation and coverage: how an asset's client holdings sit between the hot and the cold
// tier against the configured cap, and the insurance or compensation cover they require
// against the cover configured (docs/custody-api.md, "Allocation and coverage").
//
// Figures come from the ledger in the caller's transaction (one snapshot): the client-hot and
// client-cold wallets' holdings net of what is in flight out of them. Every share is computed
// in integer arithmetic on base units (basis points, rounded down; a cap amount rounded down,
// a cover requirement rounded up), never in floating point.
//
// Stateless; thread-safe as far as the Txn is.
#ifndef RINGFENCE_CUSTODY_ALLOCATION_H_
#define RINGFENCE_CUSTODY_ALLOCATION_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/amount.h"
#include "custody/config.h"
#include "custody/store/store.h"

namespace ringfence::custody {

struct AssetAllocation {
  const AssetConfig* asset = nullptr;
  base::Amount hot;              // client-hot holdings less in flight
  base::Amount cold;             // client-cold holdings less in flight
  base::Amount total;            // hot + cold
  uint32_t hot_share_bps = 0;    // floor(hot * 10,000 / total); 0 when total is 0
  base::Amount hot_cap;          // floor(total * hot_cap_bps / 10,000)
  bool over_cap = false;         // hot > hot_cap
  // Hot coins clients' withdrawals will still spend: amount + fee cap of each withdrawal of the
  // asset pending approval, approved, signing or signed (from broadcast on, its coins are in
  // flight and out of `hot` already).
  base::Amount reserved_for_withdrawals;
  // Sweeps of the asset in flight (approved, signing, signed or broadcast): their amounts.
  base::Amount sweeping;
  // What a sweep would move now: down to the larger of half the cap (so that the next deposits
  // do not cross it at once) and what withdrawals have reserved; zero when not over the cap,
  // when a sweep is already in flight, or when less than the asset's min_sweep.
  base::Amount planned_sweep;
  // Top-ups of the asset not yet settled (pending approval to broadcast): their amounts.
  base::Amount topping_up;
  // What a top-up would move now: when withdrawals have reserved more than hot holds, that
  // difference plus half the cap, at most cold less its fee cap; zero when no top-up is needed,
  // one is already on its way, or no cold key is imported.
  base::Amount planned_top_up;
  uint32_t cold_addresses = 0;   // addresses of the client-cold wallet (imported cold keys)
  // Coverage.
  base::Amount cover_required;   // hot + ceil(cold * cold_share_bps / 10,000)
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
  bool aggregate_over_cap = false;  // hot_value > floor(total value * aggregate_hot_cap_bps / 10,000)
  base::Amount cover_required_value, cover_configured_value;
  // The sum of the assets' shortfalls: cover held for one asset does not cover another.
  base::Amount cover_shortfall_value;
};

// floor(part * 10,000 / total) in basis points; 0 when total is 0. REQUIRES: part <= total.
uint32_t ShareBps(base::Amount part, base::Amount total);

// The report for every configured asset, or only `asset_id` when it is not empty (NOT_FOUND
// if it is not configured). OUT_OF_RANGE when a sum exceeds 2^128 - 1.
absl::StatusOr<AllocationReport> ComputeAllocation(store::Txn& txn, const Config& config, std::string_view asset_id);

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_ALLOCATION_H_

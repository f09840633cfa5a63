#include "custody/allocation.h"

#include "base/status.h"
#include "base/text.h"
#include "custody/ledger.h"

namespace ringfence::custody {

using base::Amount;
using base::Cat;

namespace {

constexpr uint64_t kBps = 10'000;

absl::StatusOr<Amount> Sum(Amount a, Amount b, std::string_view what) {
  std::optional<Amount> s = a.CheckedAdd(b);
  if (!s) return absl::OutOfRangeError(Cat(what, " exceeds 2^128 - 1"));
  return *s;
}

// A wallet's holdings less what is in flight out of it.
absl::StatusOr<Amount> NetHolding(store::Txn& txn, const std::string& wallet_id) {
  RF_ASSIGN_OR_RETURN(const Amount holding, Ledger::WalletHolding(txn, wallet_id));
  RF_ASSIGN_OR_RETURN(const store::AccountBalance inflight, txn.GetBalance(InflightAccount(wallet_id)));
  const Amount out = NormalBalance(NormalSide::kCredit, inflight, InflightAccount(wallet_id));
  std::optional<Amount> net = holding.CheckedSub(out);
  if (!net) return absl::DataLossError(Cat("wallet ", wallet_id, " has more in flight than it holds"));
  return *net;
}

// amount * price / 10^decimals, rounded down; nullopt on overflow.
std::optional<Amount> Value(Amount amount, const AssetConfig& asset) {
  if (!asset.price) return std::nullopt;
  uint64_t unit = 1;
  for (uint32_t i = 0; i < asset.decimals; ++i) unit *= 10;  // decimals <= 19 with a price (config)
  return amount.CheckedMulRatio(*asset.price, unit, base::Rounding::kDown);
}

// The asset's live movements: what clients' withdrawals still need from hot, and the sweeps and
// top-ups in flight.
absl::Status ReadMovements(store::Txn& txn, const AssetConfig& asset, AssetAllocation* a) {
  using store::WithdrawalState;
  store::WithdrawalFilter live;
  live.asset_id = asset.id;
  live.states = {WithdrawalState::kPendingApproval, WithdrawalState::kApproved, WithdrawalState::kSigning,
                 WithdrawalState::kSigned, WithdrawalState::kBroadcast};
  for (store::Page page{"", 1000};;) {
    RF_ASSIGN_OR_RETURN(const std::vector<store::WithdrawalRow> rows, txn.ListWithdrawals(live, page));
    for (const store::WithdrawalRow& r : rows) {
      if (r.kind == "sweep") {
        if (r.state != WithdrawalState::kPendingApproval) {
          RF_ASSIGN_OR_RETURN(a->sweeping, Sum(a->sweeping, r.amount, Cat(asset.id, " sweeps in flight")));
        }
      } else if (r.kind == "top_up") {
        RF_ASSIGN_OR_RETURN(a->topping_up, Sum(a->topping_up, r.amount, Cat(asset.id, " top-ups in flight")));
      } else if (!store::IsInternalMove(r) && r.state != WithdrawalState::kBroadcast) {
        RF_ASSIGN_OR_RETURN(const Amount need, Sum(r.amount, r.fee_cap, Cat(asset.id, " withdrawal ", r.withdrawal_id)));
        RF_ASSIGN_OR_RETURN(a->reserved_for_withdrawals,
                            Sum(a->reserved_for_withdrawals, need, Cat(asset.id, " reserved for withdrawals")));
      }
    }
    if (rows.size() < page.limit) break;
    page.after = std::to_string(rows.back().ordinal);
  }
  return absl::OkStatus();
}

}  // namespace

uint32_t ShareBps(Amount part, Amount total) {
  if (total.is_zero()) return 0;
  const base::Uint128 p = part.base_units(), t = total.base_units();
  const base::Uint128 limit = ~base::Uint128{0} / kBps;
  const base::Uint128 share = p <= limit ? p * kBps / t : p / (t / kBps);
  return static_cast<uint32_t>(share > kBps ? kBps : share);
}

absl::StatusOr<AllocationReport> ComputeAllocation(store::Txn& txn, const Config& config, std::string_view asset_id) {
  if (!asset_id.empty() && config.FindAsset(asset_id) == nullptr) {
    return absl::NotFoundError(Cat("asset_id: no asset ", base::Clip(asset_id)));
  }
  AllocationReport report;
  RF_ASSIGN_OR_RETURN(report.ledger_seq, txn.LastJournalSeq());
  report.aggregate_complete = config.allocation.has_value();
  Amount total_value;
  for (const AssetConfig& asset : config.assets) {
    if (!asset_id.empty() && asset.id != asset_id) continue;
    AssetAllocation a;
    a.asset = &asset;
    const std::vector<store::WalletRow> wallets = WalletsOf(asset);
    RF_ASSIGN_OR_RETURN(a.hot, NetHolding(txn, wallets[0].wallet_id));
    RF_ASSIGN_OR_RETURN(a.cold, NetHolding(txn, wallets[1].wallet_id));
    RF_ASSIGN_OR_RETURN(a.total, Sum(a.hot, a.cold, Cat(asset.id, " client holdings")));
    a.hot_share_bps = ShareBps(a.hot, a.total);
    a.hot_cap = *a.total.CheckedMulRatio(asset.hot_cap_bps, kBps, base::Rounding::kDown);  // ratio <= 1
    a.over_cap = a.hot > a.hot_cap;
    RF_RETURN_IF_ERROR(ReadMovements(txn, asset, &a));
    if (a.over_cap && a.sweeping.is_zero()) {
      Amount keep = *a.total.CheckedMulRatio(asset.hot_cap_bps, 2 * kBps, base::Rounding::kDown);
      if (a.reserved_for_withdrawals > keep) keep = a.reserved_for_withdrawals;
      if (a.hot > keep) {
        const Amount move = *a.hot.CheckedSub(keep);
        if (move >= asset.min_sweep) a.planned_sweep = move;
      }
    }
    RF_ASSIGN_OR_RETURN(const std::vector<store::AddressRow> cold_rows, txn.ListAddressesOfWallet(wallets[1].wallet_id));
    a.cold_addresses = static_cast<uint32_t>(cold_rows.size());
    if (a.reserved_for_withdrawals > a.hot && a.topping_up.is_zero() && a.cold_addresses > 0 &&
        asset.withdrawal_fee_cap.has_value()) {
      // Enough for the withdrawals and half the cap besides (so that the next withdrawal does
      // not need another top-up at once), at most what cold holds beyond its own fee.
      const Amount half_cap = *a.total.CheckedMulRatio(asset.hot_cap_bps, 2 * kBps, base::Rounding::kDown);
      RF_ASSIGN_OR_RETURN(const Amount want,
                          Sum(*a.reserved_for_withdrawals.CheckedSub(a.hot), half_cap, Cat(asset.id, " top-up")));
      const Amount can = a.cold.CheckedSub(*asset.withdrawal_fee_cap).value_or(Amount::Zero());
      a.planned_top_up = want < can ? want : can;
    }

    const Amount cold_part = *a.cold.CheckedMulRatio(config.coverage.cold_share_bps, kBps, base::Rounding::kUp);
    RF_ASSIGN_OR_RETURN(a.cover_required, Sum(a.hot, cold_part, Cat(asset.id, " cover required")));
    for (const CoverConfig& c : config.coverage.covers) {
      if (c.asset_id != asset.id) continue;
      RF_ASSIGN_OR_RETURN(a.cover_configured, Sum(a.cover_configured, c.amount, Cat(asset.id, " cover configured")));
    }
    a.cover_shortfall = a.cover_required > a.cover_configured ? *a.cover_required.CheckedSub(a.cover_configured)
                                                              : Amount::Zero();

    if (config.allocation.has_value()) {
      a.hot_value = Value(a.hot, asset);
      a.cold_value = Value(a.cold, asset);
      a.cover_required_value = Value(a.cover_required, asset);
      a.cover_configured_value = Value(a.cover_configured, asset);
      const std::optional<Amount> shortfall_value = Value(a.cover_shortfall, asset);
      if (a.hot_value && a.cold_value && a.cover_required_value && a.cover_configured_value && shortfall_value) {
        RF_ASSIGN_OR_RETURN(report.hot_value, Sum(report.hot_value, *a.hot_value, "aggregate hot value"));
        RF_ASSIGN_OR_RETURN(report.cold_value, Sum(report.cold_value, *a.cold_value, "aggregate cold value"));
        RF_ASSIGN_OR_RETURN(report.cover_required_value,
                            Sum(report.cover_required_value, *a.cover_required_value, "aggregate cover required"));
        RF_ASSIGN_OR_RETURN(report.cover_configured_value,
                            Sum(report.cover_configured_value, *a.cover_configured_value, "aggregate cover configured"));
        RF_ASSIGN_OR_RETURN(report.cover_shortfall_value,
                            Sum(report.cover_shortfall_value, *shortfall_value, "aggregate cover shortfall"));
      } else {
        report.aggregate_complete = false;
      }
    }
    report.assets.push_back(std::move(a));
  }
  if (config.allocation.has_value()) {
    RF_ASSIGN_OR_RETURN(total_value, Sum(report.hot_value, report.cold_value, "aggregate value"));
    report.aggregate_hot_share_bps = ShareBps(report.hot_value, total_value);
    report.aggregate_over_cap =
        report.hot_value >
        *total_value.CheckedMulRatio(config.allocation->aggregate_hot_cap_bps, kBps, base::Rounding::kDown);
  }
  return report;
}

}  // namespace ringfence::custody

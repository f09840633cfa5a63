#include "custody/allocation.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "base/status.h"
#include "base/text.h"
#include "custody/ledger.h"
#include "policy/record.h"

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

// An asset's live movements: what clients' withdrawals still need from hot, and the sweeps and
// top-ups on their way. An internal move is booked once, at settlement (docs/ledger.md): until
// then its amount is still in its source wallet's holdings.
struct Movements {
  Amount reserved_for_withdrawals;
  Amount sweeping;
  Amount topping_up;
};

// Adds the withdrawals `live` lists to `m`.
absl::Status AddMovements(store::Txn& txn, const AssetConfig& asset, const store::WithdrawalFilter& live,
                          Movements& m);

absl::StatusOr<Movements> ReadMovements(store::Txn& txn, const AssetConfig& asset) {
  using store::WithdrawalState;
  Movements m;
  // Two listings: everything not yet broadcast, and of what is broadcast only the internal
  // moves. A client's broadcast withdrawal reserves nothing more (its coins have left), and
  // there may be very many of them waiting for their confirmations.
  store::WithdrawalFilter unsent;
  unsent.asset_id = asset.id;
  unsent.states = {WithdrawalState::kPendingApproval, WithdrawalState::kApproved, WithdrawalState::kSigning,
                   WithdrawalState::kSigned};
  store::WithdrawalFilter moving = unsent;
  moving.states = {WithdrawalState::kBroadcast};
  moving.kinds = {"sweep", "top_up"};
  for (const store::WithdrawalFilter& live : {unsent, moving}) {
    RF_RETURN_IF_ERROR(AddMovements(txn, asset, live, m));
  }
  return m;
}

absl::Status AddMovements(store::Txn& txn, const AssetConfig& asset, const store::WithdrawalFilter& live,
                          Movements& m) {
  using store::WithdrawalState;
  for (store::Page page{"", 1000};;) {
    RF_ASSIGN_OR_RETURN(const std::vector<store::WithdrawalRow> rows, txn.ListWithdrawals(live, page));
    for (const store::WithdrawalRow& r : rows) {
      if (r.kind == "sweep") {
        if (r.state == WithdrawalState::kPendingApproval) continue;
        RF_ASSIGN_OR_RETURN(m.sweeping, Sum(m.sweeping, r.amount, Cat(asset.id, " sweeps in flight")));
      } else if (r.kind == "top_up") {
        RF_ASSIGN_OR_RETURN(m.topping_up, Sum(m.topping_up, r.amount, Cat(asset.id, " top-ups in flight")));
      } else if (!store::IsInternalMove(r) && r.state != WithdrawalState::kBroadcast) {
        // A token's fee cap is ether, not the token: its withdrawals need the amount only.
        const Amount fee = r.fee_asset == asset.id ? r.fee_cap : Amount::Zero();
        RF_ASSIGN_OR_RETURN(const Amount need, Sum(r.amount, fee, Cat(asset.id, " withdrawal ", r.withdrawal_id)));
        RF_ASSIGN_OR_RETURN(m.reserved_for_withdrawals,
                            Sum(m.reserved_for_withdrawals, need, Cat(asset.id, " reserved for withdrawals")));
      }
    }
    if (rows.size() < page.limit) break;
    page.after = std::to_string(rows.back().ordinal);
  }
  return absl::OkStatus();
}

// a - b, or zero when b is larger.
Amount LessOrZero(Amount a, Amount b) { return a.CheckedSub(b).value_or(Amount::Zero()); }

// A policy that gives every configured asset the policy engine's defaults, written as policy
// text so that ParsePolicy fills them in (one source of the defaults) and the hash names them.
// Its one group serves only the rules the file format requires; without a [withdrawals]
// policy there are no withdrawals, whitelist changes or top-ups for it to approve.
std::string DefaultPolicyText(const Config& config) {
  std::string text = "version = 1\n[groups.custodyd-defaults]\nmembers = [\"custodyd\"]\n";
  for (const AssetConfig& asset : config.assets) {
    const std::string key = Cat("assets.\"", asset.id, "\"");
    text += Cat("[", key, "]\ndecimals = ", asset.decimals, "\n[", key, ".withdrawal]\nper_request_limit = 0\n[", key,
                ".whitelist]\ncooling_off_seconds = 0\napprovals = { group = \"custodyd-defaults\", k = 1 }\n[", key,
                ".allocation]\ntop_up_approvals = { group = \"custodyd-defaults\", k = 1 }\n");
  }
  return text;
}

uint32_t PpmToBps(uint32_t ppm) { return ppm / 100; }

// The price of one base unit: [[assets]] price is per whole unit (10^decimals base units).
std::optional<policy::Price> PolicyPrice(const Config& config, const AssetConfig& asset) {
  if (!config.allocation.has_value() || !asset.price.has_value()) return std::nullopt;
  uint64_t unit = 1;
  for (uint32_t i = 0; i < asset.decimals; ++i) unit *= 10;  // decimals <= 19 with a price (config)
  return policy::Price{*asset.price, unit};
}

}  // namespace

uint32_t ShareBps(Amount part, Amount total) {
  if (total.is_zero()) return 0;
  const base::Uint128 p = part.base_units(), t = total.base_units();
  const base::Uint128 limit = ~base::Uint128{0} / kBps;
  const base::Uint128 share = p <= limit ? p * kBps / t : p / (t / kBps);
  return static_cast<uint32_t>(share > kBps ? kBps : share);
}

absl::StatusOr<std::shared_ptr<const policy::Policy>> AllocationPolicy(const Config& config) {
  if (config.withdrawals.has_value() && config.withdrawals->policy != nullptr) return config.withdrawals->policy;
  absl::StatusOr<policy::Policy> defaults = policy::ParsePolicy(DefaultPolicyText(config));
  if (!defaults.ok()) {
    return absl::InvalidArgumentError(Cat("the default allocation policy: ", defaults.status().message()));
  }
  return std::make_shared<const policy::Policy>(*std::move(defaults));
}

absl::StatusOr<uint64_t> RecordAllocationDecision(store::Txn& txn, const AllocationEvidence& evidence,
                                                  const std::string& move_id, int64_t now_unix_ms) {
  RF_ASSIGN_OR_RETURN(std::string record, policy::MakeRecord(*evidence.policy, "allocation",
                                                             policy::AllocationInputJson(evidence.input), std::nullopt));
  store::PolicyDecisionRow d;
  d.kind = "allocation";
  d.subject_id = move_id;
  d.policy_hash = evidence.policy->hash;
  d.record_json = std::move(record);
  d.unix_ms = now_unix_ms;
  return txn.InsertPolicyDecision(d);
}

absl::StatusOr<AllocationReport> ComputeAllocation(store::Txn& txn, const Config& config, std::string_view asset_id) {
  if (!asset_id.empty() && config.FindAsset(asset_id) == nullptr) {
    return absl::NotFoundError(Cat("asset_id: no asset ", base::Clip(asset_id)));
  }
  auto evidence = std::make_shared<AllocationEvidence>();
  RF_ASSIGN_OR_RETURN(evidence->policy, AllocationPolicy(config));
  AllocationReport report;
  RF_ASSIGN_OR_RETURN(report.ledger_seq, txn.LastJournalSeq());
  report.policy_hash = evidence->policy->hash;
  report.aggregate_hot_cap_bps = PpmToBps(evidence->policy->aggregate_hot_cap.ppm());
  report.aggregate_complete = config.allocation.has_value();

  // Every configured asset's figures, whatever `asset_id` asks for: the aggregate cap can make
  // one asset's decision depend on all the others.
  std::vector<AssetAllocation> all;
  std::vector<Movements> moving;
  for (const AssetConfig& asset : config.assets) {
    AssetAllocation a;
    a.asset = &asset;
    const std::vector<store::WalletRow> wallets = WalletsOf(asset);
    RF_ASSIGN_OR_RETURN(a.hot, NetHolding(txn, wallets[0].wallet_id));
    RF_ASSIGN_OR_RETURN(a.cold, NetHolding(txn, wallets[1].wallet_id));
    RF_ASSIGN_OR_RETURN(a.total, Sum(a.hot, a.cold, Cat(asset.id, " client holdings")));
    a.hot_share_bps = ShareBps(a.hot, a.total);
    RF_ASSIGN_OR_RETURN(Movements m, ReadMovements(txn, asset));
    a.reserved_for_withdrawals = m.reserved_for_withdrawals;
    a.sweeping = m.sweeping;
    a.topping_up = m.topping_up;
    RF_ASSIGN_OR_RETURN(const std::vector<store::AddressRow> cold_rows, txn.ListAddressesOfWallet(wallets[1].wallet_id));
    a.cold_addresses = static_cast<uint32_t>(cold_rows.size());
    all.push_back(std::move(a));
    moving.push_back(m);
  }

  // The policy's input, in asset id order. A live sweep or top-up still sits in its source
  // wallet's holdings until it settles; the policy counts it in flight from the moment it is
  // planned, so that it is not planned twice. Pending withdrawals are capped at the holdings
  // (fee caps can make them exceed what clients hold, which the policy refuses as malformed).
  std::vector<size_t> order(all.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return policy::AssetId(all[x].asset->id) < policy::AssetId(all[y].asset->id);
  });
  for (size_t i : order) {
    const AssetAllocation& a = all[i];
    policy::AssetHoldings h;
    h.asset = policy::AssetId(a.asset->id);
    h.hot = LessOrZero(a.hot, moving[i].sweeping);
    h.cold = LessOrZero(a.cold, moving[i].topping_up);
    h.in_flight_to_cold = moving[i].sweeping;
    h.in_flight_to_hot = moving[i].topping_up;
    RF_ASSIGN_OR_RETURN(const Amount settled, Sum(h.hot, h.cold, Cat(a.asset->id, " client holdings")));
    RF_ASSIGN_OR_RETURN(const Amount in_flight,
                        Sum(h.in_flight_to_cold, h.in_flight_to_hot, Cat(a.asset->id, " moves in flight")));
    RF_ASSIGN_OR_RETURN(const Amount held, Sum(settled, in_flight, Cat(a.asset->id, " client holdings")));
    h.pending_withdrawals = base::MinAmount(a.reserved_for_withdrawals, held);
    h.price = PolicyPrice(config, *a.asset);
    evidence->input.assets.push_back(std::move(h));
  }
  RF_ASSIGN_OR_RETURN(evidence->decision, policy::DecideAllocation(*evidence->policy, evidence->input));
  // The cover required, by the policy's coverage rule, on the wallets' holdings (a move in
  // flight is still in its source wallet: covered where it is).
  policy::CoverageInput cover_input;
  for (size_t i : order) cover_input.assets.push_back({policy::AssetId(all[i].asset->id), all[i].hot, all[i].cold});
  RF_ASSIGN_OR_RETURN(const policy::CoverageDecision coverage, policy::DecideCoverage(*evidence->policy, cover_input));
  for (size_t k = 0; k < order.size(); ++k) {
    AssetAllocation& a = all[order[k]];
    a.evidence = evidence;
    a.decision = &evidence->decision.assets[k];
    a.rules = evidence->policy->FindAsset(a.decision->asset);
    a.cold_share_bps = PpmToBps(a.rules->cold_cover_share.ppm());
    a.cover_required = coverage.assets[k].required;
  }

  Amount total_value;
  for (AssetAllocation& a : all) {
    const AssetConfig& asset = *a.asset;
    if (!asset_id.empty() && asset.id != asset_id) continue;
    const policy::AssetAllocation& d = *a.decision;
    a.hot_cap_bps = PpmToBps(a.rules->hot_cap.ppm());
    a.hot_cap = d.cap_amount;
    a.over_cap = d.hot_projected > d.cap_amount;
    // One sweep and one top-up of an asset at a time: the next is decided on the books the
    // last one leaves.
    if (d.action == policy::AllocationAction::kSweep && a.sweeping.is_zero()) a.planned_sweep = d.amount;
    if (d.action == policy::AllocationAction::kTopUp && a.topping_up.is_zero() && a.cold_addresses > 0 &&
        asset.withdrawal_fee_cap.has_value()) {
      // Cold pays the top-up's own fee (a token's in ether, not out of its tokens).
      const Amount sendable =
          asset.erc20_contract.empty() ? LessOrZero(a.cold, *asset.withdrawal_fee_cap) : a.cold;
      // On Ethereum a top-up lands in one account and a withdrawal is paid from one account:
      // the top-up brings at least what the waiting withdrawals need, whatever else hot holds
      // in other accounts.
      const Amount wanted = asset.chain == "ethereum" ? std::max(d.amount, a.reserved_for_withdrawals) : d.amount;
      a.planned_top_up = base::MinAmount(wanted, sendable);
    }

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
        report.hot_value > evidence->policy->aggregate_hot_cap.Apply(total_value, base::Rounding::kDown);
  }
  return report;
}

}  // namespace ringfence::custody

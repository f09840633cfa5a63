#include "policy/withdrawal.h"

#include <array>
#include <utility>

#include "absl/status/status.h"
#include "policy/text.h"

namespace ringfence::policy {
namespace {

constexpr std::array<std::pair<DenyReason, std::string_view>, 8> kCodes = {{
    {DenyReason::kAssetFrozen, "asset_frozen"},
    {DenyReason::kClientFrozen, "client_frozen"},
    {DenyReason::kOverPerRequestLimit, "over_per_request_limit"},
    {DenyReason::kInsufficientFunds, "insufficient_funds"},
    {DenyReason::kNotWhitelisted, "not_whitelisted"},
    {DenyReason::kCoolingOff, "cooling_off"},
    {DenyReason::kOverClientRollingLimit, "over_client_rolling_limit"},
    {DenyReason::kOverAssetRollingLimit, "over_asset_rolling_limit"},
}};

// Sum of the outflows inside (now - seconds, now] plus `amount`, saturating at the maximum.
// Outflows stamped after `now` are counted too: a hold recorded by a clock slightly ahead
// must not escape the window.
base::Amount WindowTotal(const std::vector<Outflow>& outflows, int64_t now, int64_t seconds, base::Amount amount) {
  base::Amount total = amount;
  const int64_t start = now - seconds;
  for (const Outflow& o : outflows) {
    if (o.at <= start) continue;
    std::optional<base::Amount> sum = total.CheckedAdd(o.amount);
    if (!sum) return base::Amount::Max();
    total = *sum;
  }
  return total;
}

}  // namespace

std::string_view DenyReasonCode(DenyReason reason) {
  for (const auto& [r, code] : kCodes) {
    if (r == reason) return code;
  }
  return "unknown";
}

std::optional<DenyReason> DenyReasonFromCode(std::string_view code) {
  for (const auto& [r, c] : kCodes) {
    if (c == code) return r;
  }
  return std::nullopt;
}

absl::StatusOr<WithdrawalDecision> DecideWithdrawal(const Policy& policy, const WithdrawalInput& input) {
  const AssetPolicy* asset = policy.FindAsset(input.request.asset);
  if (asset == nullptr) {
    return absl::NotFoundError(
        internal::Cat("request.asset: asset \"", input.request.asset.value(), "\" is not in the policy"));
  }
  if (input.request.amount.is_zero()) {
    return absl::InvalidArgumentError("request.amount: must be greater than zero");
  }
  if (absl::Status s = ValidateTimestamp(input.now, "now"); !s.ok()) return s;
  if (input.whitelist_entry) {
    if (absl::Status s = ValidateTimestamp(input.whitelist_entry->added_at, "whitelist_entry.added_at"); !s.ok()) {
      return s;
    }
  }
  for (size_t i = 0; i < input.client_outflows.size(); ++i) {
    if (absl::Status s = ValidateTimestamp(input.client_outflows[i].at, internal::Cat("client_outflows[", i, "].at"));
        !s.ok()) {
      return s;
    }
  }
  for (size_t i = 0; i < input.asset_outflows.size(); ++i) {
    if (absl::Status s = ValidateTimestamp(input.asset_outflows[i].at, internal::Cat("asset_outflows[", i, "].at"));
        !s.ok()) {
      return s;
    }
  }

  const std::string base = internal::Cat("assets.", asset->id.value());
  const base::Amount amount = input.request.amount;
  WithdrawalDecision d;
  d.policy_hash = policy.hash;
  auto deny = [&](DenyReason reason, std::string rule, std::optional<int64_t> until = std::nullopt) {
    d.denials.push_back(Denial{reason, std::move(rule), until});
  };

  if (input.asset_frozen) deny(DenyReason::kAssetFrozen, "input.asset_frozen");
  if (input.client_frozen) deny(DenyReason::kClientFrozen, "input.client_frozen");

  const std::string per_request = base + ".withdrawal.per_request_limit";
  if (amount > asset->per_request_limit) {
    deny(DenyReason::kOverPerRequestLimit, per_request);
  } else {
    d.matched_rules.push_back(per_request);
  }

  if (amount > input.available_balance) deny(DenyReason::kInsufficientFunds, "input.available_balance");

  const std::string cooling = base + ".whitelist.cooling_off_seconds";
  if (!input.whitelist_entry || input.whitelist_entry->destination != input.request.destination) {
    deny(DenyReason::kNotWhitelisted, "input.whitelist_entry");
  } else {
    const int64_t usable_from = input.whitelist_entry->added_at + asset->whitelist_cooling_off_seconds;
    if (input.now < usable_from) {
      deny(DenyReason::kCoolingOff, cooling, usable_from);
    } else {
      d.matched_rules.push_back(cooling);
    }
  }

  for (size_t i = 0; i < asset->client_windows.size(); ++i) {
    const RollingWindow& w = asset->client_windows[i];
    const std::string rule = internal::Cat(base, ".withdrawal.client_windows[", i, "]");
    if (WindowTotal(input.client_outflows, input.now, w.seconds, amount) > w.limit) {
      deny(DenyReason::kOverClientRollingLimit, rule);
    } else {
      d.matched_rules.push_back(rule);
    }
  }
  for (size_t i = 0; i < asset->asset_windows.size(); ++i) {
    const RollingWindow& w = asset->asset_windows[i];
    const std::string rule = internal::Cat(base, ".withdrawal.asset_windows[", i, "]");
    if (WindowTotal(input.asset_outflows, input.now, w.seconds, amount) > w.limit) {
      deny(DenyReason::kOverAssetRollingLimit, rule);
    } else {
      d.matched_rules.push_back(rule);
    }
  }

  if (!d.denials.empty()) {
    d.allowed = false;
    d.matched_rules.clear();
    return d;
  }

  d.allowed = true;
  for (size_t i = asset->approval_tiers.size(); i-- > 0;) {
    if (amount >= asset->approval_tiers[i].min_amount) {
      d.approvals = asset->approval_tiers[i].approvals;
      d.matched_rules.push_back(internal::Cat(base, ".withdrawal.approval_tiers[", i, "]"));
      break;
    }
  }
  if (asset->delay && amount >= asset->delay->min_amount) {
    d.not_before = input.now + asset->delay->seconds;
    d.matched_rules.push_back(base + ".withdrawal.delay");
  }
  return d;
}

}  // namespace ringfence::policy

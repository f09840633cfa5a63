#include "custody/whitelist.h"

#include <nlohmann/json.hpp>

#include "base/hex.h"
#include "base/status.h"
#include "base/text.h"
#include "chain/bech32.h"
#include "chain/eth_address.h"
#include "custody/approvers.h"
#include "custody/audit_log.h"
#include "policy/quorum.h"
#include "policy/record.h"

namespace ringfence::custody {

using base::Cat;
using base::Clip;
using nlohmann::json;

absl::Status CheckCanonicalAddress(const AssetConfig& asset, std::string_view field, std::string_view address) {
  if (address.empty() || address.size() > kMaxAddressLength) {
    return absl::InvalidArgumentError(Cat(field, ": required, 1..", kMaxAddressLength, " bytes"));
  }
  if (asset.chain == "bitcoin") {
    absl::StatusOr<chain::SegwitAddress> decoded = chain::DecodeSegwitAddress(address);
    if (!decoded.ok()) {
      return absl::InvalidArgumentError(Cat(field, ": not a valid segwit address (", decoded.status().message(), ")"));
    }
    if (decoded->hrp != BitcoinHrp(asset.network)) {
      return absl::InvalidArgumentError(Cat(field, ": is an address of another network (prefix ", decoded->hrp,
                                            "; asset ", asset.id, " is on ", asset.network, ", prefix ",
                                            BitcoinHrp(asset.network), ")"));
    }
    absl::StatusOr<std::string> canonical = chain::EncodeSegwitAddress(*decoded);
    if (!canonical.ok() || *canonical != address) {
      return absl::InvalidArgumentError(
          Cat(field, ": not in canonical form (write it as ", canonical.ok() ? *canonical : "lowercase bech32", ")"));
    }
    return absl::OkStatus();
  }
  if (asset.chain == "ethereum") {
    absl::StatusOr<chain::EthAddress> parsed = chain::ParseEthAddress(address);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(Cat(field, ": not a valid Ethereum address (", parsed.status().message(), ")"));
    }
    const std::string canonical = chain::EthChecksumAddress(*parsed);
    if (canonical != address) {
      return absl::InvalidArgumentError(Cat(field, ": not in canonical EIP-55 form (write it as ", canonical, ")"));
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(Cat(field, ": asset ", asset.id, " is on an unknown chain"));
}

absl::StatusOr<const policy::Policy*> PolicyOf(const Config& config) {
  if (!config.withdrawals.has_value() || config.withdrawals->policy == nullptr) {
    return absl::FailedPreconditionError(
        "custodyd has no [withdrawals] policy configured; whitelists and withdrawals are unavailable");
  }
  return config.withdrawals->policy.get();
}

absl::StatusOr<policy::ApprovalDigestBytes> Whitelists::Digest(const store::WhitelistEntryRow& entry) {
  policy::WhitelistChangeSubject subject;
  subject.change_id = entry.entry_id;
  subject.client_id = entry.client_id;
  subject.asset = entry.asset_id;
  subject.address = entry.address;
  subject.expires_at = entry.expires_at_unix_s;
  return policy::WhitelistChangeDigest(subject);
}

absl::Status Whitelists::Record(store::Txn& txn, const store::WhitelistEntryRow& entry, std::string_view action,
                                std::string_view actor, const std::string& details_json, int64_t now_unix_ms) const {
  store::WhitelistChangeRow change;
  change.entry_id = entry.entry_id;
  change.action = std::string(action);
  change.actor = std::string(actor);
  change.details = details_json;
  change.unix_ms = now_unix_ms;
  RF_RETURN_IF_ERROR(txn.AppendWhitelistChange(change).status());
  return AuditLog::Append(txn, actor, Cat("whitelist.", action), entry.entry_id, details_json, now_unix_ms).status();
}

absl::StatusOr<store::WhitelistEntryRow> Whitelists::RequestAdd(store::Txn& txn, const WhitelistAddArgs& args,
                                                                std::string_view actor, const std::string& entry_id,
                                                                int64_t now_unix_ms) const {
  RF_ASSIGN_OR_RETURN(const policy::Policy* policy, PolicyOf(config_));
  const AssetConfig* asset = config_.FindAsset(args.asset_id);
  if (asset == nullptr) return absl::NotFoundError(Cat("asset_id: no asset ", Clip(args.asset_id), " is configured"));
  RF_RETURN_IF_ERROR(CheckCanonicalAddress(*asset, "address", args.address));
  const policy::AssetPolicy* rules = policy->FindAsset(policy::AssetId(asset->id));
  if (rules == nullptr) {
    return absl::FailedPreconditionError(Cat("asset_id: the policy has no rules for ", asset->id));
  }
  RF_ASSIGN_OR_RETURN(std::optional<store::ClientRow> client, txn.GetClient(args.client_id));
  if (!client) return absl::NotFoundError(Cat("client_id: no client ", Clip(args.client_id)));
  if (client->frozen) {
    return absl::FailedPreconditionError(Cat("client_id: client ", client->client_id, " is frozen (",
                                             Clip(client->frozen_reason, 100), "); its whitelist cannot change"));
  }
  // An address of Ringfence's own wallets (a deposit, house, cold or change address) is no
  // withdrawal destination: a client's coins would move between wallets under no kind that says
  // so (signerd refuses a client wallet paying a house wallet only at signing, after approvals),
  // or reappear as another client's deposit.
  RF_ASSIGN_OR_RETURN(std::optional<store::AddressRow> own, txn.GetAddress(args.address));
  if (own) {
    return absl::FailedPreconditionError(Cat("address: ", args.address, " is an address of Ringfence's own wallet ",
                                             own->wallet_id, "; a withdrawal cannot pay it"));
  }
  RF_ASSIGN_OR_RETURN(std::optional<store::WhitelistEntryRow> live,
                      txn.GetLiveWhitelistEntry(args.client_id, args.asset_id, args.address));
  if (live) {
    return absl::FailedPreconditionError(Cat("address: client ", args.client_id, " already has whitelist entry ",
                                             live->entry_id, " (", store::WhitelistStateName(live->state),
                                             ") for this address"));
  }
  store::WhitelistEntryRow row;
  row.entry_id = entry_id;
  row.client_id = args.client_id;
  row.asset_id = args.asset_id;
  row.address = args.address;
  row.label = args.label;
  row.state = store::WhitelistState::kPendingApproval;
  row.requester = args.requester;
  row.approvals_required = rules->whitelist_add_approvals.k;
  row.approval_group = rules->whitelist_add_approvals.group.value();
  row.expires_at_unix_s = now_unix_ms / 1000 + config_.withdrawals->approval_window_seconds;
  row.policy_hash = policy->hash;
  row.created_unix_ms = now_unix_ms;
  row.updated_unix_ms = now_unix_ms;
  RF_RETURN_IF_ERROR(txn.InsertWhitelistEntry(row));
  const json details = {{"client_id", row.client_id},       {"asset_id", row.asset_id},
                        {"address", row.address},           {"label", row.label},
                        {"requester", row.requester},       {"approvals_required", row.approvals_required},
                        {"approval_group", row.approval_group}, {"expires_at", row.expires_at_unix_s}};
  RF_RETURN_IF_ERROR(Record(txn, row, "requested", actor, details.dump(), now_unix_ms));
  return row;
}

absl::StatusOr<store::WhitelistEntryRow> Whitelists::Remove(store::Txn& txn, const std::string& entry_id,
                                                            const std::string& reason, std::string_view actor,
                                                            int64_t now_unix_ms) const {
  RF_ASSIGN_OR_RETURN(std::optional<store::WhitelistEntryRow> entry, txn.GetWhitelistEntry(entry_id));
  if (!entry) return absl::NotFoundError(Cat("entry_id: no whitelist entry ", Clip(entry_id)));
  if (entry->state != store::WhitelistState::kPendingApproval && entry->state != store::WhitelistState::kActive) {
    return absl::FailedPreconditionError(
        Cat("entry_id: whitelist entry ", entry_id, " is already ", store::WhitelistStateName(entry->state)));
  }
  const std::string was(store::WhitelistStateName(entry->state));
  entry->state = store::WhitelistState::kRemoved;
  entry->reason = reason;
  entry->updated_unix_ms = now_unix_ms;
  RF_RETURN_IF_ERROR(txn.UpdateWhitelistEntry(*entry));
  const json details = {{"reason", reason}, {"was", was}, {"address", entry->address}};
  RF_RETURN_IF_ERROR(Record(txn, *entry, "removed", actor, details.dump(), now_unix_ms));
  return *std::move(entry);
}

absl::StatusOr<store::WhitelistEntryRow> Whitelists::Approve(store::Txn& txn, const std::string& entry_id,
                                                             const ApproverConfig& approver,
                                                             std::string_view signature, std::string_view actor,
                                                             int64_t now_unix_ms) const {
  RF_ASSIGN_OR_RETURN(const policy::Policy* policy, PolicyOf(config_));
  RF_ASSIGN_OR_RETURN(std::optional<store::WhitelistEntryRow> entry, txn.GetWhitelistEntry(entry_id));
  if (!entry) return absl::NotFoundError(Cat("target_id: no whitelist entry ", Clip(entry_id)));
  if (entry->state != store::WhitelistState::kPendingApproval) {
    return absl::FailedPreconditionError(Cat("target_id: whitelist entry ", entry_id, " is ",
                                             store::WhitelistStateName(entry->state), ", not pending approval"));
  }
  const int64_t now = now_unix_ms / 1000;
  if (now >= entry->expires_at_unix_s) {
    return absl::FailedPreconditionError(
        Cat("target_id: the approval deadline of whitelist entry ", entry_id, " (", entry->expires_at_unix_s, ") has passed"));
  }
  if (approver.id == entry->requester) {
    return absl::PermissionDeniedError(
        Cat("approver_id: ", approver.id, " requested whitelist entry ", entry_id, " and cannot approve it"));
  }
  RF_ASSIGN_OR_RETURN(policy::ApprovalDigestBytes digest, Digest(*entry));
  RF_RETURN_IF_ERROR(RecordApproval(txn, *policy, entry->approval_group, approver, digest, signature, entry_id,
                                    "whitelist_add", now_unix_ms));
  RF_RETURN_IF_ERROR(Record(txn, *entry, "approval", actor,
                            json{{"approver_id", approver.id}, {"digest", base::HexEncode(digest)}}.dump(), now_unix_ms));

  policy::WhitelistChangeInput input;
  input.kind = policy::WhitelistChangeKind::kAdd;
  input.client = policy::ClientId(entry->client_id);
  input.asset = policy::AssetId(entry->asset_id);
  input.address = policy::Address(entry->address);
  input.requester = policy::PrincipalId(entry->requester);
  RF_ASSIGN_OR_RETURN(std::vector<store::ApprovalRow> approvals, txn.ListApprovals(entry_id));
  for (const store::ApprovalRow& a : approvals) {
    input.approvals.push_back({policy::PrincipalId(a.approver_id), a.unix_ms / 1000});
  }
  input.now = now;
  RF_ASSIGN_OR_RETURN(policy::WhitelistChangeDecision decision, policy::DecideWhitelistChange(*policy, input));
  RF_ASSIGN_OR_RETURN(std::string record, policy::MakeRecord(*policy, "whitelist_change",
                                                             policy::WhitelistChangeInputJson(input), std::nullopt));
  store::PolicyDecisionRow d;
  d.kind = "whitelist_change";
  d.subject_id = entry_id;
  d.policy_hash = policy->hash;
  d.record_json = std::move(record);
  d.unix_ms = now_unix_ms;
  RF_ASSIGN_OR_RETURN(uint64_t decision_id, txn.InsertPolicyDecision(d));
  if (decision.effective) {
    entry->state = store::WhitelistState::kActive;
    entry->approved_at_unix_s = decision.added_at.value_or(now);
    entry->usable_from_unix_s = decision.usable_from.value_or(now);
    entry->updated_unix_ms = now_unix_ms;
    RF_RETURN_IF_ERROR(txn.UpdateWhitelistEntry(*entry));
    const json details = {{"approved_at", entry->approved_at_unix_s},
                          {"usable_from", entry->usable_from_unix_s},
                          {"decision_id", decision_id}};
    RF_RETURN_IF_ERROR(Record(txn, *entry, "approved", actor, details.dump(), now_unix_ms));
  } else {
    entry->updated_unix_ms = now_unix_ms;
    RF_RETURN_IF_ERROR(txn.UpdateWhitelistEntry(*entry));
  }
  return *std::move(entry);
}

absl::StatusOr<store::WhitelistEntryRow> Whitelists::Reject(store::Txn& txn, const std::string& entry_id,
                                                            const ApproverConfig& approver, const std::string& reason,
                                                            std::string_view actor, int64_t now_unix_ms) const {
  RF_ASSIGN_OR_RETURN(std::optional<store::WhitelistEntryRow> entry, txn.GetWhitelistEntry(entry_id));
  if (!entry) return absl::NotFoundError(Cat("entry_id: no whitelist entry ", Clip(entry_id)));
  if (entry->state != store::WhitelistState::kPendingApproval) {
    return absl::FailedPreconditionError(Cat("entry_id: whitelist entry ", entry_id, " is ",
                                             store::WhitelistStateName(entry->state), ", not pending approval"));
  }
  entry->state = store::WhitelistState::kRejected;
  entry->reason = reason;
  entry->updated_unix_ms = now_unix_ms;
  RF_RETURN_IF_ERROR(txn.UpdateWhitelistEntry(*entry));
  RF_RETURN_IF_ERROR(Record(txn, *entry, "rejected", actor,
                            json{{"approver_id", approver.id}, {"reason", reason}}.dump(), now_unix_ms));
  return *std::move(entry);
}

}  // namespace ringfence::custody

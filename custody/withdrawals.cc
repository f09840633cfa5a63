#include "custody/withdrawals.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/hex.h"
#include "base/status.h"
#include "base/text.h"
#include "custody/approvers.h"
#include "custody/audit_log.h"
#include "custody/ledger.h"
#include "custody/reconciler.h"
#include "custody/store/sqlite_store.h"
#include "custody/whitelist.h"
#include "policy/quorum.h"
#include "policy/record.h"

namespace ringfence::custody {

using base::Amount;
using base::Cat;
using base::Clip;
using nlohmann::json;
using store::WithdrawalRow;
using store::WithdrawalState;

namespace {

absl::Status Audit(store::Txn& txn, std::string_view actor, std::string_view action, const WithdrawalRow& row,
                   json details, int64_t now_unix_ms) {
  details["state"] = std::string(store::WithdrawalStateName(row.state));
  details["client_id"] = row.client_id;
  return AuditLog::Append(txn, actor, Cat("withdrawal.", action), row.withdrawal_id, details.dump(), now_unix_ms)
      .status();
}

// Which rows an RPC may act on: a client's withdrawal, and for approvals and rejections also a
// top-up (the one internal move that needs approvers).
enum class Target { kWithdrawal, kApprovable };

absl::StatusOr<WithdrawalRow> Load(store::Txn& txn, std::string_view field, const std::string& withdrawal_id,
                                   Target target = Target::kWithdrawal) {
  RF_ASSIGN_OR_RETURN(std::optional<WithdrawalRow> row, txn.GetWithdrawal(withdrawal_id));
  if (!row) return absl::NotFoundError(Cat(field, ": no withdrawal ", Clip(withdrawal_id)));
  // Internal moves share the table but are the executor's: nobody cancels a sweep or a top-up,
  // and only a top-up is approved or rejected through the withdrawal RPCs.
  if (store::IsInternalMove(*row) && !(target == Target::kApprovable && row->kind == "top_up")) {
    return absl::FailedPreconditionError(Cat(field, ": ", withdrawal_id, " is an internal ", row->kind,
                                             ", not a client's withdrawal"));
  }
  return *std::move(row);
}

}  // namespace

policy::ApprovalSubject Withdrawals::Subject(const WithdrawalRow& row) {
  policy::ApprovalSubject s;
  s.request_id = row.withdrawal_id;
  s.kind = row.kind == "top_up" ? policy::RequestKind::kTopUp : policy::RequestKind::kWithdrawal;
  s.source_wallet = row.source_wallet_id;
  s.chain = row.chain;
  s.network = row.network;
  s.asset = row.asset_id;
  s.amount = row.amount;
  s.destination = row.destination;
  s.fee_cap = row.fee_cap;
  s.expires_at = row.expires_at_unix_s;
  return s;
}

absl::StatusOr<policy::ApprovalDigestBytes> Withdrawals::Digest(const WithdrawalRow& row) {
  return policy::ApprovalDigest(Subject(row));
}

absl::StatusOr<uint64_t> Withdrawals::ReleaseHold(store::Txn& txn, const WithdrawalRow& row, int64_t now_unix_ms) {
  RF_ASSIGN_OR_RETURN(std::optional<store::HoldRow> hold, txn.GetHold(row.withdrawal_id));
  if (!hold || hold->state != store::HoldState::kHeld) {
    return absl::FailedPreconditionError(Cat("withdrawal ", row.withdrawal_id, " has no open hold to release"));
  }
  store::JournalEntry entry;
  entry.asset_id = hold->asset_id;
  entry.kind = "withdrawal_release";
  entry.reference = row.withdrawal_id;
  entry.created_unix_ms = now_unix_ms;
  entry.postings = {{ClientHeldAccount(hold->client_id, hold->asset_id), true, hold->amount},
                    {ClientAvailableAccount(hold->client_id, hold->asset_id), false, hold->amount}};
  RF_ASSIGN_OR_RETURN(uint64_t seq, Ledger::Post(txn, std::move(entry)));
  RF_RETURN_IF_ERROR(txn.CloseHold(row.withdrawal_id, store::HoldState::kReleased, seq));
  return seq;
}

absl::StatusOr<uint64_t> Withdrawals::ReleaseIfHeld(store::Txn& txn, const WithdrawalRow& row, int64_t now_unix_ms) {
  if (store::IsInternalMove(row)) return 0;
  return ReleaseHold(txn, row, now_unix_ms);
}

absl::StatusOr<DecisionSummary> Withdrawals::Summarise(store::Txn& txn, uint64_t decision_id) {
  DecisionSummary out;
  RF_ASSIGN_OR_RETURN(std::optional<store::PolicyDecisionRow> d, txn.GetPolicyDecision(decision_id));
  if (!d) return out;
  const json record = json::parse(d->record_json, nullptr, /*allow_exceptions=*/false);
  if (!record.is_object() || !record.contains("output") || !record["output"].is_object()) {
    return absl::DataLossError(Cat("policy decision ", decision_id, " is not a decision record"));
  }
  const json& output = record["output"];
  if (output.contains("matched_rules") && output["matched_rules"].is_array()) {
    for (const json& r : output["matched_rules"]) {
      if (r.is_string()) out.matched_rules.push_back(r.get<std::string>());
    }
  }
  if (output.contains("denials") && output["denials"].is_array()) {
    for (const json& x : output["denials"]) {
      if (!x.is_object() || !x.contains("reason") || !x["reason"].is_string()) continue;
      std::optional<policy::DenyReason> reason = policy::DenyReasonFromCode(x["reason"].get<std::string>());
      if (!reason) continue;
      policy::Denial denial{*reason, x.value("rule", std::string()), std::nullopt};
      if (x.contains("until") && x["until"].is_number_integer()) denial.until = x["until"].get<int64_t>();
      out.denials.push_back(std::move(denial));
    }
  }
  return out;
}

absl::StatusOr<WithdrawalRow> Withdrawals::Create(store::Txn& txn, const CreateWithdrawalArgs& args,
                                                  std::string_view actor, const std::string& withdrawal_id,
                                                  int64_t now_unix_ms) const {
  RF_ASSIGN_OR_RETURN(const policy::Policy* policy, PolicyOf(config_));
  const AssetConfig* asset = config_.FindAsset(args.asset_id);
  if (asset == nullptr) return absl::NotFoundError(Cat("asset_id: no asset ", Clip(args.asset_id), " is configured"));
  if (args.amount.is_zero()) return absl::InvalidArgumentError("amount: must be above 0");
  RF_RETURN_IF_ERROR(CheckCanonicalAddress(*asset, "destination", args.destination));
  if (policy->FindAsset(policy::AssetId(asset->id)) == nullptr || !asset->withdrawal_fee_cap.has_value()) {
    return absl::FailedPreconditionError(
        Cat("asset_id: ", asset->id, " cannot be withdrawn (no policy rules or no withdrawal_fee_cap configured)"));
  }
  const std::string fee_asset = NativeAssetOf(config_, *asset);
  if (fee_asset.empty()) {
    return absl::FailedPreconditionError(Cat("asset_id: ", asset->id, "'s chain has no native asset configured"));
  }
  RF_ASSIGN_OR_RETURN(std::optional<store::ClientRow> client, txn.GetClient(args.client_id));
  if (!client) return absl::NotFoundError(Cat("client_id: no client ", Clip(args.client_id)));
  if (client->frozen) {
    return absl::FailedPreconditionError(Cat("client_id: client ", client->client_id, " is frozen (",
                                             Clip(client->frozen_reason, 100), "); nothing leaves it"));
  }

  // Serialise on the asset's outflows (asset windows span clients) and the client's balance.
  RF_RETURN_IF_ERROR(txn.LockAssetOutflows(asset->id));
  RF_RETURN_IF_ERROR(Reconciler::CheckNotFrozen(txn, asset->id));
  const std::string available_account = ClientAvailableAccount(client->client_id, asset->id);
  RF_ASSIGN_OR_RETURN(store::AccountBalance balance, txn.GetBalanceForUpdate(available_account));
  const Amount available = NormalBalance(NormalSide::kCredit, balance, available_account);
  const bool client_pays_fee = asset->erc20_contract.empty();
  const Amount fee_cap = *asset->withdrawal_fee_cap;
  // The policy compares the amount with what is available for it: for a native asset the
  // hold also takes the fee cap, so that much is not available for the amount.
  const Amount spendable = client_pays_fee ? available.CheckedSub(fee_cap).value_or(Amount::Zero()) : available;

  const int64_t now = now_unix_ms / 1000;
  policy::WithdrawalInput input;
  input.request.client = policy::ClientId(client->client_id);
  input.request.asset = policy::AssetId(asset->id);
  input.request.amount = args.amount;
  input.request.destination = policy::Address(args.destination);
  input.request.requester = policy::PrincipalId(args.requester);
  input.available_balance = spendable;
  input.now = now;
  RF_ASSIGN_OR_RETURN(std::optional<store::WhitelistEntryRow> entry,
                      txn.GetLiveWhitelistEntry(client->client_id, asset->id, args.destination));
  if (entry && entry->state == store::WhitelistState::kActive) {
    input.whitelist_entry = policy::WhitelistEntry{policy::Address(entry->address), entry->approved_at_unix_s};
  }
  // Outflows inside the longest window the policy looks at.
  const policy::AssetPolicy* rules = policy->FindAsset(policy::AssetId(asset->id));
  int64_t longest = 0;
  for (const policy::RollingWindow& w : rules->client_windows) longest = std::max(longest, w.seconds);
  for (const policy::RollingWindow& w : rules->asset_windows) longest = std::max(longest, w.seconds);
  if (longest > 0) {
    RF_ASSIGN_OR_RETURN(std::vector<WithdrawalRow> outflows,
                        txn.ListOutflows(asset->id, "", (now - longest) * 1000));
    for (const WithdrawalRow& o : outflows) {
      const policy::Outflow flow{o.amount, o.created_unix_ms / 1000};
      input.asset_outflows.push_back(flow);
      if (o.client_id == client->client_id) input.client_outflows.push_back(flow);
    }
  }
  RF_ASSIGN_OR_RETURN(policy::WithdrawalDecision decision, policy::DecideWithdrawal(*policy, input));
  RF_ASSIGN_OR_RETURN(std::string record,
                      policy::MakeRecord(*policy, "withdrawal", policy::WithdrawalInputJson(input), std::nullopt));
  store::PolicyDecisionRow d;
  d.kind = "withdrawal";
  d.subject_id = withdrawal_id;
  d.policy_hash = policy->hash;
  d.record_json = std::move(record);
  d.unix_ms = now_unix_ms;
  RF_ASSIGN_OR_RETURN(uint64_t decision_id, txn.InsertPolicyDecision(d));

  WithdrawalRow row;
  row.withdrawal_id = withdrawal_id;
  row.client_id = client->client_id;
  row.asset_id = asset->id;
  row.amount = args.amount;
  row.destination = args.destination;
  row.whitelist_entry_id = entry ? entry->entry_id : "";
  row.source_wallet_id = ClientHotWallet(asset->id);
  row.kind = "withdrawal";
  row.chain = asset->chain;
  row.network = asset->network;
  row.fee_cap = fee_cap;
  row.fee_asset = fee_asset;
  row.fee_charged_to_client = client_pays_fee;
  row.requester = args.requester;
  row.decision_id = decision_id;
  row.policy_hash = policy->hash;
  row.created_unix_ms = now_unix_ms;
  row.updated_unix_ms = now_unix_ms;
  if (!decision.allowed) {
    row.state = WithdrawalState::kDenied;
    for (const policy::Denial& denial : decision.denials) {
      row.reason += Cat(row.reason.empty() ? "" : ", ", policy::DenyReasonCode(denial.reason));
    }
    RF_ASSIGN_OR_RETURN(row.event_seq, txn.InsertWithdrawal(row));
    RF_RETURN_IF_ERROR(Audit(txn, actor, "denied", row, {{"reasons", row.reason}, {"decision_id", decision_id}},
                             now_unix_ms));
    return row;
  }
  Amount hold = args.amount;
  if (client_pays_fee) {
    std::optional<Amount> sum = hold.CheckedAdd(fee_cap);
    if (!sum) return absl::OutOfRangeError("amount: amount plus the fee cap exceeds 2^128 - 1");
    hold = *sum;
  }
  if (hold > available) {
    // The policy saw the fee-adjusted balance, so this only happens if it let an amount through
    // that the balance cannot cover: refuse rather than let the ledger do it.
    return absl::FailedPreconditionError("amount: the balance cannot cover the amount and the fee cap");
  }
  row.approvals_required = decision.approvals.k;
  row.approval_group = decision.approvals.group.value();
  row.not_before_unix_s = decision.not_before.value_or(0);
  row.expires_at_unix_s = std::max(now, row.not_before_unix_s) + config_.withdrawals->approval_window_seconds;
  row.state = decision.approvals.k == 0 ? WithdrawalState::kApproved : WithdrawalState::kPendingApproval;
  RF_ASSIGN_OR_RETURN(row.event_seq, txn.InsertWithdrawal(row));
  store::JournalEntry e;
  e.asset_id = asset->id;
  e.kind = "withdrawal_hold";
  e.reference = withdrawal_id;
  e.created_unix_ms = now_unix_ms;
  e.postings = {{available_account, true, hold}, {ClientHeldAccount(client->client_id, asset->id), false, hold}};
  RF_ASSIGN_OR_RETURN(uint64_t placed, Ledger::Post(txn, std::move(e)));
  RF_RETURN_IF_ERROR(txn.InsertHold({withdrawal_id, client->client_id, asset->id, hold, store::HoldState::kHeld, placed, 0}));
  RF_RETURN_IF_ERROR(Audit(txn, actor, "created", row,
                           {{"asset_id", row.asset_id},
                            {"amount", row.amount.ToBaseUnitString()},
                            {"destination", row.destination},
                            {"held", hold.ToBaseUnitString()},
                            {"approvals_required", row.approvals_required},
                            {"decision_id", decision_id},
                            {"requester", row.requester}},
                           now_unix_ms));
  return row;
}

absl::StatusOr<WithdrawalRow> Withdrawals::Approve(store::Txn& txn, const std::string& withdrawal_id,
                                                   const ApproverConfig& approver, std::string_view signature,
                                                   std::string_view actor, int64_t now_unix_ms) const {
  RF_ASSIGN_OR_RETURN(const policy::Policy* policy, PolicyOf(config_));
  RF_ASSIGN_OR_RETURN(WithdrawalRow row, Load(txn, "target_id", withdrawal_id, Target::kApprovable));
  if (row.state != WithdrawalState::kPendingApproval) {
    return absl::FailedPreconditionError(Cat("target_id: withdrawal ", withdrawal_id, " is ",
                                             store::WithdrawalStateName(row.state), ", not pending approval"));
  }
  const int64_t now = now_unix_ms / 1000;
  if (now >= row.expires_at_unix_s) {
    return absl::FailedPreconditionError(
        Cat("target_id: the approval deadline of withdrawal ", withdrawal_id, " (", row.expires_at_unix_s, ") has passed"));
  }
  if (approver.id == row.requester) {
    return absl::PermissionDeniedError(
        Cat("approver_id: ", approver.id, " requested withdrawal ", withdrawal_id, " and cannot approve it"));
  }
  RF_ASSIGN_OR_RETURN(policy::ApprovalDigestBytes digest, Digest(row));
  RF_RETURN_IF_ERROR(RecordApproval(txn, *policy, row.approval_group, approver, digest, signature, withdrawal_id,
                                    "withdrawal", now_unix_ms));

  policy::QuorumInput input;
  input.rule = policy::ApprovalRule{policy::GroupId(row.approval_group), row.approvals_required};
  input.requester = policy::PrincipalId(row.requester);
  RF_ASSIGN_OR_RETURN(std::vector<store::ApprovalRow> approvals, txn.ListApprovals(withdrawal_id));
  for (const store::ApprovalRow& a : approvals) input.approvals.push_back({policy::PrincipalId(a.approver_id), a.unix_ms / 1000});
  input.now = now;
  RF_ASSIGN_OR_RETURN(policy::QuorumDecision quorum, policy::DecideQuorum(*policy, input));
  RF_ASSIGN_OR_RETURN(std::string record, policy::MakeRecord(*policy, "quorum", policy::QuorumInputJson(input), std::nullopt));
  store::PolicyDecisionRow d;
  d.kind = "quorum";
  d.subject_id = withdrawal_id;
  d.policy_hash = policy->hash;
  d.record_json = std::move(record);
  d.unix_ms = now_unix_ms;
  RF_ASSIGN_OR_RETURN(uint64_t decision_id, txn.InsertPolicyDecision(d));
  RF_RETURN_IF_ERROR(Audit(txn, actor, "approval", row,
                           {{"approver_id", approver.id},
                            {"digest", base::HexEncode(digest)},
                            {"counted", quorum.counted.size()},
                            {"required", row.approvals_required},
                            {"decision_id", decision_id}},
                           now_unix_ms));
  if (quorum.met) {
    constexpr WithdrawalState kFrom[] = {WithdrawalState::kPendingApproval};
    RF_ASSIGN_OR_RETURN(row.event_seq,
                        txn.TransitionWithdrawal(withdrawal_id, kFrom, WithdrawalState::kApproved, "", now_unix_ms));
    row.state = WithdrawalState::kApproved;
    row.updated_unix_ms = now_unix_ms;
    RF_RETURN_IF_ERROR(Audit(txn, actor, "approved", row, {{"decision_id", decision_id}}, now_unix_ms));
  }
  return row;
}

absl::StatusOr<WithdrawalRow> Withdrawals::Reject(store::Txn& txn, const std::string& withdrawal_id,
                                                  const ApproverConfig& approver, const std::string& reason,
                                                  std::string_view actor, int64_t now_unix_ms) const {
  RF_ASSIGN_OR_RETURN(WithdrawalRow row, Load(txn, "withdrawal_id", withdrawal_id, Target::kApprovable));
  if (row.state != WithdrawalState::kPendingApproval) {
    return absl::FailedPreconditionError(Cat("withdrawal_id: withdrawal ", withdrawal_id, " is ",
                                             store::WithdrawalStateName(row.state), ", not pending approval"));
  }
  const std::string why = Cat("rejected by ", approver.id, ": ", reason);
  constexpr WithdrawalState kFrom[] = {WithdrawalState::kPendingApproval};
  RF_ASSIGN_OR_RETURN(row.event_seq,
                      txn.TransitionWithdrawal(withdrawal_id, kFrom, WithdrawalState::kRejected, why, now_unix_ms));
  row.state = WithdrawalState::kRejected;
  row.reason = why;
  row.updated_unix_ms = now_unix_ms;
  // A top-up holds nothing of a client's.
  RF_ASSIGN_OR_RETURN(uint64_t released, ReleaseIfHeld(txn, row, now_unix_ms));
  RF_RETURN_IF_ERROR(Audit(txn, actor, "rejected", row,
                           {{"approver_id", approver.id}, {"reason", reason}, {"release_seq", released}}, now_unix_ms));
  return row;
}

absl::StatusOr<WithdrawalRow> Withdrawals::Cancel(store::Txn& txn, const std::string& withdrawal_id,
                                                  const std::string& reason, std::string_view actor,
                                                  int64_t now_unix_ms) const {
  RF_ASSIGN_OR_RETURN(WithdrawalRow row, Load(txn, "withdrawal_id", withdrawal_id));
  if (row.state != WithdrawalState::kPendingApproval && row.state != WithdrawalState::kApproved) {
    return absl::FailedPreconditionError(Cat("withdrawal_id: withdrawal ", withdrawal_id, " is ",
                                             store::WithdrawalStateName(row.state),
                                             "; only a withdrawal pending approval or approved (not yet signing) can be cancelled"));
  }
  constexpr WithdrawalState kFrom[] = {WithdrawalState::kPendingApproval, WithdrawalState::kApproved};
  RF_ASSIGN_OR_RETURN(row.event_seq,
                      txn.TransitionWithdrawal(withdrawal_id, kFrom, WithdrawalState::kCancelled, reason, now_unix_ms));
  row.state = WithdrawalState::kCancelled;
  row.reason = reason;
  row.updated_unix_ms = now_unix_ms;
  RF_ASSIGN_OR_RETURN(uint64_t released, ReleaseHold(txn, row, now_unix_ms));
  RF_RETURN_IF_ERROR(Audit(txn, actor, "cancelled", row, {{"reason", reason}, {"release_seq", released}}, now_unix_ms));
  return row;
}

absl::StatusOr<size_t> Withdrawals::ExpireOverdue(store::Txn& txn, int64_t now_unix_ms, uint32_t limit) const {
  const int64_t now = now_unix_ms / 1000;
  size_t closed = 0;
  RF_ASSIGN_OR_RETURN(std::vector<WithdrawalRow> overdue, txn.ListOverdueWithdrawals(now, limit));
  for (WithdrawalRow& row : overdue) {
    const std::string why = Cat("approvals expired at ", row.expires_at_unix_s, " with ", row.approvals_required,
                                " required");
    constexpr WithdrawalState kFrom[] = {WithdrawalState::kPendingApproval};
    RF_ASSIGN_OR_RETURN(row.event_seq,
                        txn.TransitionWithdrawal(row.withdrawal_id, kFrom, WithdrawalState::kRejected, why, now_unix_ms));
    row.state = WithdrawalState::kRejected;
    row.reason = why;
    RF_ASSIGN_OR_RETURN(uint64_t released, ReleaseIfHeld(txn, row, now_unix_ms));
    RF_RETURN_IF_ERROR(Audit(txn, "system", "expired", row, {{"reason", why}, {"release_seq", released}}, now_unix_ms));
    ++closed;
  }
  RF_ASSIGN_OR_RETURN(std::vector<store::WhitelistEntryRow> entries, txn.ListOverdueWhitelistEntries(now, limit));
  for (store::WhitelistEntryRow& entry : entries) {
    entry.state = store::WhitelistState::kExpired;
    entry.reason = Cat("approvals expired at ", entry.expires_at_unix_s);
    entry.updated_unix_ms = now_unix_ms;
    RF_RETURN_IF_ERROR(txn.UpdateWhitelistEntry(entry));
    store::WhitelistChangeRow change{0, entry.entry_id, "expired", "system", json{{"reason", entry.reason}}.dump(),
                                     now_unix_ms};
    RF_RETURN_IF_ERROR(txn.AppendWhitelistChange(change).status());
    RF_RETURN_IF_ERROR(AuditLog::Append(txn, "system", "whitelist.expired", entry.entry_id, change.details, now_unix_ms)
                           .status());
    ++closed;
  }
  return closed;
}

absl::StatusOr<ReplayReport> ReplayDecisions(store::Txn& txn, std::string_view policy_text) {
  RF_ASSIGN_OR_RETURN(policy::Policy policy, policy::ParsePolicy(policy_text));
  ReplayReport report;
  uint64_t after = 0;
  for (;;) {
    RF_ASSIGN_OR_RETURN(std::vector<store::PolicyDecisionRow> rows, txn.ListPolicyDecisions(after, 1000));
    if (rows.empty()) break;
    for (const store::PolicyDecisionRow& row : rows) {
      after = row.decision_id;
      ++report.decisions;
      const std::string name = Cat(row.decision_id, " ", row.kind, " ", row.subject_id);
      json record = json::parse(row.record_json, nullptr, /*allow_exceptions=*/false);
      if (!record.is_object() || !record.contains("input") || !record.contains("output") ||
          !record.contains("decision") || !record["decision"].is_string()) {
        report.differences.push_back(Cat(name, ": the stored record is malformed"));
        continue;
      }
      absl::StatusOr<std::string> now =
          policy::EvaluateJson(policy, record["decision"].get<std::string>(), record["input"].dump());
      if (!now.ok()) {
        report.differences.push_back(Cat(name, ": cannot be evaluated now: ", now.status().message()));
        continue;
      }
      json then = record["output"];
      json again = json::parse(*now, nullptr, /*allow_exceptions=*/false);
      // The policy hash names the policy, not the outcome; compare outcomes.
      if (then.is_object()) then.erase("policy_hash");
      if (again.is_object()) again.erase("policy_hash");
      if (then.is_object() && then.contains("quorum") && then["quorum"].is_object()) then["quorum"].erase("policy_hash");
      if (again.is_object() && again.contains("quorum") && again["quorum"].is_object()) {
        again["quorum"].erase("policy_hash");
      }
      if (then == again) {
        ++report.same;
      } else {
        report.differences.push_back(Cat(name, ": recorded ", then.dump(), " under policy ",
                                         record.value("policy_hash", std::string("?")), "; now ", again.dump(),
                                         " under policy ", policy.hash));
      }
    }
  }
  return report;
}

absl::StatusOr<bool> RunPolicyReplay(const Config& config, const std::string& policy_path) {
  std::string text;
  if (!policy_path.empty()) {
    std::ifstream in(policy_path, std::ios::binary);
    if (!in) return absl::NotFoundError(Cat("--policy: cannot read ", Clip(policy_path, 200)));
    std::ostringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
    if (text.size() > policy::kMaxPolicyBytes) {
      return absl::InvalidArgumentError(Cat("--policy: larger than ", policy::kMaxPolicyBytes, " bytes"));
    }
  } else if (config.withdrawals.has_value() && config.withdrawals->policy != nullptr) {
    text = config.withdrawals->policy_text;
  } else {
    return absl::FailedPreconditionError("no [withdrawals] policy is configured; pass --policy FILE");
  }
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::SqliteStore> store, store::SqliteStore::Open(config.database_path));
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store->BeginRead());
  RF_ASSIGN_OR_RETURN(ReplayReport report, ReplayDecisions(*txn, text));
  for (const std::string& line : report.differences) std::printf("differs %s\n", line.c_str());
  std::printf("replayed %zu decisions: %zu same, %zu differ\n", report.decisions, report.same,
              report.differences.size());
  return report.differences.empty();
}

}  // namespace ringfence::custody

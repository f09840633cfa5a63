// Withdrawals, the request side (issue 12): creation with its policy decision and hold,
// approvals, rejection, cancellation, and the replay of recorded decisions. The executor
// (custody/executor.*) takes an approved withdrawal from there.
//
// Create does everything in the caller's one write Txn: it locks the asset's outflows and the
// client's available balance, reads the balance, the whitelist entry and the velocity windows,
// runs policy::DecideWithdrawal, records the decision with its inputs (policy_decisions,
// replayable), and either records the withdrawal as denied (no hold) or places the hold
// (journal entry withdrawal_hold, client available -> held: the amount, plus the fee cap when
// the client pays the fee, i.e. for native assets) and records it pending_approval, or
// approved when the policy asks for no approvals. So concurrent requests cannot together
// exceed a balance or a limit: each sees the holds of those committed before it.
//
// Approvals are Ed25519 signatures over policy::ApprovalDigest v2 of the stored withdrawal
// (kind withdrawal, source wallet = the asset's client-hot wallet, expires_at fixed at
// creation), computed here from the row, never taken from the caller. A top-up (kind top_up,
// source wallet the asset's client-cold wallet, planned by the executor) is approved and
// rejected the same way; it holds nothing of a client's, so nothing is released.
//
// Every method changes nothing on error (the caller drops the Txn). Stateless apart from the
// borrowed Config; thread-safe.
#ifndef RINGFENCE_CUSTODY_WITHDRAWALS_H_
#define RINGFENCE_CUSTODY_WITHDRAWALS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/amount.h"
#include "custody/config.h"
#include "custody/store/store.h"
#include "policy/approval_digest.h"
#include "policy/withdrawal.h"

namespace ringfence::custody {

struct CreateWithdrawalArgs {
  std::string client_id;
  std::string asset_id;
  base::Amount amount;
  std::string destination;
  std::string requester;  // principal id
};

// What a recorded withdrawal decision says (from its policy_decisions record).
struct DecisionSummary {
  std::vector<std::string> matched_rules;
  std::vector<policy::Denial> denials;
};

class Withdrawals {
 public:
  explicit Withdrawals(const Config& config) : config_(config) {}

  // Validates and decides a new withdrawal with id `withdrawal_id`, as described above.
  // INVALID_ARGUMENT for a zero amount or a non-canonical destination; NOT_FOUND for an
  // unknown client or asset; FAILED_PRECONDITION for a frozen client or an asset that cannot
  // be withdrawn (no policy rules, no fee cap). A policy denial is not an error: the
  // withdrawal is returned in state denied.
  absl::StatusOr<store::WithdrawalRow> Create(store::Txn& txn, const CreateWithdrawalArgs& args,
                                              std::string_view actor, const std::string& withdrawal_id,
                                              int64_t now_unix_ms) const;

  // Counts `approver`'s approval of a pending withdrawal (not expired, approver in its group,
  // not the requester, signature over Digest(row)); records the quorum decision; when met the
  // withdrawal becomes approved. PERMISSION_DENIED for a refused approver or signature,
  // FAILED_PRECONDITION for the state or deadline, ALREADY_EXISTS for a repeat approver.
  absl::StatusOr<store::WithdrawalRow> Approve(store::Txn& txn, const std::string& withdrawal_id,
                                               const ApproverConfig& approver, std::string_view signature,
                                               std::string_view actor, int64_t now_unix_ms) const;

  // pending_approval -> rejected, hold released.
  absl::StatusOr<store::WithdrawalRow> Reject(store::Txn& txn, const std::string& withdrawal_id,
                                              const ApproverConfig& approver, const std::string& reason,
                                              std::string_view actor, int64_t now_unix_ms) const;

  // pending_approval | approved -> cancelled, hold released. FAILED_PRECONDITION once signing.
  absl::StatusOr<store::WithdrawalRow> Cancel(store::Txn& txn, const std::string& withdrawal_id,
                                              const std::string& reason, std::string_view actor,
                                              int64_t now_unix_ms) const;

  // Withdrawals and whitelist additions still pending approval when their deadline passed:
  // withdrawals become rejected ("approvals expired", hold released), whitelist entries
  // expired; each with its audit entry (actor "system"). At most `limit` of each per call.
  // Returns how many it closed.
  absl::StatusOr<size_t> ExpireOverdue(store::Txn& txn, int64_t now_unix_ms, uint32_t limit) const;

  // The approval digest v2 subject and digest of a stored withdrawal.
  static policy::ApprovalSubject Subject(const store::WithdrawalRow& row);
  static absl::StatusOr<policy::ApprovalDigestBytes> Digest(const store::WithdrawalRow& row);

  // Posts withdrawal_release (held -> available, the hold's amount) and closes the hold as
  // released. REQUIRES: the withdrawal has a hold in state held whose amount sits in the
  // client's held account (i.e. it was not broadcast).
  static absl::StatusOr<uint64_t> ReleaseHold(store::Txn& txn, const store::WithdrawalRow& row, int64_t now_unix_ms);

  // ReleaseHold for a client's withdrawal; nothing (0) for an internal move, which holds nothing.
  static absl::StatusOr<uint64_t> ReleaseIfHeld(store::Txn& txn, const store::WithdrawalRow& row, int64_t now_unix_ms);

  // The matched rules and denials of a recorded withdrawal decision.
  static absl::StatusOr<DecisionSummary> Summarise(store::Txn& txn, uint64_t decision_id);

 private:
  const Config& config_;
};

// `custodyd policy replay`: every recorded decision re-evaluated under `policy_text`.
struct ReplayReport {
  size_t decisions = 0;
  size_t same = 0;
  // One line per decision that differs or cannot be replayed: "<id> <kind> <subject>: ...".
  std::vector<std::string> differences;
};
absl::StatusOr<ReplayReport> ReplayDecisions(store::Txn& txn, std::string_view policy_text);

// `custodyd policy replay --config F [--policy P]`: opens the database read-only-ish (a read
// snapshot), replays every decision under P (default: the configured policy), prints one line
// per difference and a summary to stdout. Returns whether every decision is the same;
// an error if the database or the policy cannot be read.
absl::StatusOr<bool> RunPolicyReplay(const Config& config, const std::string& policy_path);

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_WITHDRAWALS_H_

// Reconciler: compares, per wallet and per address, what the chain holds with what the ledger
// leads one to expect, at every new block, and freezes an asset's outgoing movements when they
// disagree (docs/custody-api.md, "Reconciliation"; tables in docs/ledger.md).
//
// A pass per chain (RunOnce, called by the withdrawal executor after each of its passes):
//   1. a snapshot of the store: the journal point (LastJournalSeq), the last block the deposit
//      ingestor stored, each wallet's addresses and ledger balance, the pending deposits, the
//      moves (withdrawals, sweeps, fee reimbursements) signed or broadcast and not settled, the
//      deposits with no client. The node's tip must be the block the ingestor stored (height
//      and hash); otherwise the pass is deferred (the ingestor is catching up). A tip already
//      reconciled is not reconciled again.
//   2. the chain at that height H: each address's balance (BalanceAt), and where each unsettled
//      move's transaction is (GetTransaction).
//   3. per wallet: expected = ledger + deposits the chain shows but the ledger has not credited
//      (pending, at or below H) + what unsettled moves confirmed at or below H brought it
//      - what they took from it (amount + network fee, the fee computed from the move's build
//      record). difference = chain - expected, signed. A wallet whose difference is not its
//      acknowledged difference (0 until approvers accept one) is a mismatch.
//   4. deposits with no client to a client wallet's own address (or of another asset than the
//      address's), which the ingestor booked to unattributed:<asset>, are unknown incoming
//      transfers: recorded once each.
//   5. one write transaction, only if the journal is still at the snapshot's point and the
//      stored block is the same (else deferred to the next pass): each wallet's reconciliation
//      row, the new unknown transfers, and, when the asset has a mismatch or an unacknowledged
//      unknown transfer and is not frozen, a freeze (asset_freezes, state frozen) with audit
//      entries reconciliation.mismatch / reconciliation.unknown_transfer and asset.frozen;
//      after the commit a log line starting "ALERT".
// A freeze is lifted by approvals (LiftApprove): the differences and unknown transfers it froze
// on become acknowledged, so the same difference does not freeze again and another one does.
//
// Exactness: Bitcoin is exact (fees from the build record's inputs). Ethereum is exact on
// chainsim, which charges gas_limit x max_fee_per_gas; a real node charges gas used x effective
// price, and the settlement itself books the cap (docs/withdrawal-executor.md), so a real
// Ethereum node would show the refund of unused gas as a difference until the executor books
// the receipt's fee.
//
// Thread-safety: RunOnce from one thread at a time (the executor's); LiftApprove is stateless
// over the caller's Txn. The config, store, env and adapters are borrowed and must outlive it.
#ifndef RINGFENCE_CUSTODY_RECONCILER_H_
#define RINGFENCE_CUSTODY_RECONCILER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"
#include "base/amount.h"
#include "custody/chain/adapter.h"
#include "custody/config.h"
#include "custody/env.h"
#include "custody/store/store.h"
#include "policy/approval_digest.h"

namespace ringfence::custody {

// A signed amount: a sign and a magnitude (never "-0").
struct SignedAmount {
  bool negative = false;
  base::Amount magnitude;

  // "-1500", "0", "42".
  std::string ToString() const;
  // Inverse of ToString; nullopt for anything else ("+1", "-0", "01", "").
  static std::optional<SignedAmount> Parse(std::string_view text);
  // a - b.
  static SignedAmount Minus(base::Amount a, base::Amount b);
  friend bool operator==(const SignedAmount&, const SignedAmount&) = default;
};

// One wallet's figures at one height.
struct WalletReconciliation {
  base::Amount chain_balance;
  base::Amount ledger_balance;
  base::Amount incoming;  // in flight towards the wallet that the chain already shows
  base::Amount outgoing;  // in flight out of the wallet that the chain already shows (amount + fee)
  SignedAmount expected;  // ledger + incoming - outgoing
  SignedAmount difference;  // chain - expected
};

// The arithmetic of step 3. OUT_OF_RANGE if ledger + incoming or chain + |expected| exceed
// 2^128 - 1.
absl::StatusOr<WalletReconciliation> ReconcileWallet(base::Amount chain_balance, base::Amount ledger_balance,
                                                     base::Amount incoming, base::Amount outgoing);

// The network fee a move paid, from its build record (the executor's NetworkFee over LoadBuild).
using MoveFeeFn = std::function<absl::StatusOr<base::Amount>(store::Txn& txn, const store::WithdrawalRow& row)>;

struct ReconcilePass {
  int reconciled = 0;  // chains reconciled at a new tip
  int deferred = 0;    // chains whose books or chain moved during the pass (tried again next pass)
  int mismatches = 0;  // wallets whose difference is not the acknowledged one
  int unknown = 0;     // unknown transfers recorded
  int frozen = 0;      // freezes raised
};

class Reconciler {
 public:
  Reconciler(const Config& config, store::Store& store, Env& env, std::map<std::string, chain::ChainAdapter*> adapters,
             MoveFeeFn move_fee);

  // One pass over every chain with an adapter. Store and node errors of one chain are returned
  // after the other chains had their pass; nothing is half-written.
  absl::StatusOr<ReconcilePass> RunOnce();

  // The hex SHA-256 of a freeze's details (what the freeze-lift digest binds of them).
  static std::string DetailsSha256(const std::string& details);
  // The freeze-lift digest of a stored freeze.
  static absl::StatusOr<policy::ApprovalDigestBytes> LiftDigest(const store::AssetFreezeRow& freeze);

  // An approval to lift freeze `freeze_id`: checks that it is frozen (NOT_FOUND,
  // FAILED_PRECONDITION), that the approver is a member of its approval group and that the
  // signature verifies over LiftDigest (PERMISSION_DENIED), records the approval
  // (ALREADY_EXISTS for a second one by the same approver) and an asset.freeze_approval audit
  // entry; at the quorum, lifts it: the wallets' differences and the unknown transfers it froze
  // on become acknowledged, and an asset.unfrozen audit entry. Returns the freeze as it is now.
  // REQUIRES: [reconciliation] and [withdrawals] are configured; `txn` is read-write.
  static absl::StatusOr<store::AssetFreezeRow> LiftApprove(store::Txn& txn, const Config& config,
                                                          const std::string& freeze_id, const ApproverConfig& approver,
                                                          std::string_view signature, std::string_view actor,
                                                          int64_t now_unix_ms);

  // FAILED_PRECONDITION "asset_frozen: <asset> is frozen by <freeze id> (<reason>) ..." when
  // the asset has a freeze in state frozen; OK otherwise.
  static absl::Status CheckNotFrozen(store::Txn& txn, const std::string& asset_id);

 private:
  struct ChainSnapshot;
  absl::StatusOr<bool> ReconcileChain(const std::string& chain, chain::ChainAdapter& adapter, ReconcilePass& pass);
  absl::StatusOr<std::optional<ChainSnapshot>> Snapshot(const std::string& chain, const chain::BlockRef& tip);

  const Config& config_;
  store::Store& store_;
  Env& env_;
  std::map<std::string, chain::ChainAdapter*> adapters_;
  MoveFeeFn move_fee_;
  std::map<std::string, std::pair<uint64_t, std::string>> done_;  // chain -> the tip last reconciled
};

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_RECONCILER_H_

// WithdrawalExecutor: custodyd's background worker that carries each approved withdrawal to
// the chain and settles it: approved -> signing -> signed -> broadcast -> confirmed, or failed
// with the hold released. docs/withdrawal-executor.md states the rules; in short:
//
//   claim+build  one store transaction: approved -> signing, and the build record (the exact
//                SignTransactionRequest, without approvals) saved with it. The transaction is
//                built (custody/txbuild.h) from the chain's view of the wallet, minus what other
//                unfinished withdrawals already spend. Nothing is asked of signerd before this
//                commit; a build that cannot be made (insufficient funds, fee above the cap)
//                fails the withdrawal at once (nothing was signed) and releases the hold.
//   sign         the saved request plus the stored approvals, to signerd. A crash or an
//                unreachable signerd means the same request again: signerd's replay rule returns
//                the same signed bytes. A refusal (signerd's verdict) fails the withdrawal and
//                releases the hold; nothing was signed. The answer is checked against the build
//                (the same transaction, a txid we compute ourselves) before it is recorded
//                (signing -> signed, with the bytes).
//   broadcast    the recorded bytes through the chain adapter; then held -> in flight in the
//                ledger and signed -> broadcast, in one transaction. Any broadcast failure is
//                retried later with the same bytes; a crash before the record broadcasts the
//                same bytes again (the node answers "already known").
//   confirm      when the chain shows the txid with the asset's confirmation count: the
//                settlement entry (in flight -> out of the wallet, the unused fee back to the
//                client) and broadcast -> confirmed, in one transaction. A transaction the node
//                no longer knows (dropped, or evicted by a reorganisation) is broadcast again
//                with the same bytes. It is never replaced by a second spend: replacing it
//                needs a new withdrawal with new approvals.
//
// Ethereum nonces: the sender's next nonce is the larger of the node's pending nonce and one
// past the highest nonce of this sender in any unfinished withdrawal's build record; a
// withdrawal fails only before anything is signed, so a failed withdrawal's nonce was never
// signed and the chain never saw it.
//
// Bitcoin change goes to the wallet's designated change key, made once through signerd (bound
// to the same wallet) and recorded in the store; its address is not a deposit address, so the
// deposit ingestor never mistakes change for a deposit.
//
// Frozen assets (custody/reconciler.h): a move of an asset with a freeze in state frozen is not
// claimed (it stays approved until the freeze is lifted), and no sweep or fee reimbursement of
// it is planned. A move claimed before the freeze (signing, signed, broadcast) is carried on:
// its transaction may already be signed or on the chain, and settling it keeps the books
// matching the chain.
//
// Thread-safety: Start/Stop from one thread; RunOnce may be called by tests instead of Start
// (never both). Claims and builds are serialised inside the executor; signing, broadcasting
// and watching run for up to `parallelism` withdrawals at once.
#ifndef RINGFENCE_CUSTODY_EXECUTOR_H_
#define RINGFENCE_CUSTODY_EXECUTOR_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "custody/chain/adapter.h"
#include "custody/config.h"
#include "custody/env.h"
#include "custody/reconciler.h"
#include "custody/signer_client.h"
#include "custody/store/store.h"
#include "custody/txbuild.h"
#include "offline/bundle.h"
#include "proto/signer_tx.pb.h"

namespace ringfence::custody {

// How long signerd accepts a sweep's request after it is planned (its expires_at).
inline constexpr int64_t kSweepExpirySeconds = 86400;
// After a top-up is rejected (or its approvals expire), how long before another is planned.
inline constexpr int64_t kTopUpRetrySeconds = 3600;
// After a sweep or fee reimbursement fails (signerd refused it, or no transaction could be
// built), how long before the next of its kind and asset is planned.
inline constexpr int64_t kInternalMoveRetrySeconds = 300;

struct ExecutorOptions {
  std::chrono::milliseconds poll_interval{250};
  // Withdrawals worked on at once (sign, broadcast, confirmation checks).
  int parallelism = 8;
  // Withdrawals read per pass.
  uint32_t batch = 256;
  // chainsim's Ethereum chain id; real nodes will report theirs through the adapter.
  uint64_t ethereum_chain_id = 1337;
  // Test hook: called at each step boundary with the withdrawal id and the step just made
  // durable ("planned" for a sweep the allocation policy made, "claimed", "signed", "broadcast",
  // "confirmed", "failed"), or just done outside the
  // store ("answered": signerd's answer checked, not yet recorded; "sent": the node accepted
  // the broadcast, not yet recorded; "settling": the node shows the confirmations, the
  // settlement not yet written). A hook that returns false stops the executor at once, as a
  // crash there would (nothing after that step is done).
  std::function<bool(const std::string& withdrawal_id, const std::string& step)> after_step;
  // Called after each committed step (claimed, signed, broadcast, confirmed, failed): custodyd
  // wakes its WatchWithdrawals streams with it, so that they see the executor's events at once.
  std::function<void()> on_commit;
};

// What one pass did, for tests and logs.
struct ExecutorPass {
  int claimed = 0;
  int signed_ = 0;
  int broadcast = 0;
  int confirmed = 0;
  int failed = 0;
  int retried = 0;  // steps that will be tried again (signerd or node unavailable, not yet confirmed)
  bool stopped = false;  // a test hook stopped the pass
};

// A top-up's signing bundle as exported (docs/signing-bundle.md).
struct ExportedBundle {
  store::WithdrawalRow row;  // the top-up, in state signing
  std::string file;          // the signing bundle's bytes
  base::Digest32 digest{};   // its digest
};

// A signed bundle's import: the top-up now signed, or as it was when the same signed
// transaction was imported before.
struct ImportedBundle {
  store::WithdrawalRow row;
  bool already_imported = false;
};

class WithdrawalExecutor {
 public:
  // `adapters` maps a chain name to its adapter. Everything passed in must outlive the executor.
  WithdrawalExecutor(const Config& config, store::Store& store, Env& env, SignerClient& keys, TxSignerClient& signer,
                     std::map<std::string, chain::ChainAdapter*> adapters, ExecutorOptions options = {});
  ~WithdrawalExecutor();
  WithdrawalExecutor(const WithdrawalExecutor&) = delete;
  WithdrawalExecutor& operator=(const WithdrawalExecutor&) = delete;

  // One pass over every executable withdrawal: each is moved as far as it can go now.
  // Errors of single withdrawals are logged and retried in a later pass; the pass itself fails
  // only if the store cannot be read.
  absl::StatusOr<ExecutorPass> RunOnce();

  // The polling thread (RunOnce every poll_interval, at once after Wake()).
  void Start();
  void Stop();
  void Wake();

  // The build record key of a withdrawal (an idempotency row of the store).
  static std::string BuildRecordKey(const std::string& withdrawal_id);
  // The exported signing bundle's record key of a top-up (an idempotency row of the store).
  static std::string BundleRecordKey(const std::string& withdrawal_id);

  // What an unfinished build spends, and what all of them spend (executor.cc).
  struct Spent;
  struct SpentIndex;
  // What the build needs from the chain, read before the claim's store transaction.
  struct ChainView {
    std::map<std::string, std::string> key_of;  // bitcoin: address -> key id (change key included)
    std::vector<chain::Utxo> utxos;             // bitcoin
    // bitcoin: utxos sorted as txbuild::BuildBitcoinSpend considers them (largest amount
    // first, then txid, then vout), so that a build passes it only the first kMaxInputs + 1
    // it can use instead of every coin of the wallet (ReadChainForClaim sorts them once).
    bool utxos_largest_first = false;
    chain::FeeEstimate fee;
    struct Account {
      std::string address;
      std::string key_id;
      base::Amount native;
      base::Amount token;
      uint64_t pending_nonce = 0;
    };
    std::vector<Account> accounts;  // ethereum
  };

  // Top-ups through the offline signer (docs/signing-bundle.md). An approved top-up is exported
  // once: ReadForExport reads the cold wallet's coins from the chain (outside any store
  // transaction; nullopt when the top-up was exported already), then ExportTopUp, in the
  // caller's write transaction, claims it (approved -> signing), builds its transaction from
  // those coins with the change to the cold wallet's first address, and records the build and
  // the bundle (the request with the approvals so far). Exporting an exported top-up returns the
  // recorded bundle unchanged. NOT_FOUND for an unknown id; FAILED_PRECONDITION for another kind
  // or state, or for a transaction that cannot be built (the top-up stays approved).
  absl::StatusOr<std::optional<ChainView>> ReadForExport(const std::string& withdrawal_id);
  absl::StatusOr<ExportedBundle> ExportTopUp(store::Txn& txn, const std::string& withdrawal_id,
                                             const std::optional<ChainView>& view);
  // The offline signer's answer, in the caller's write transaction: `signed_bundle` must already
  // be verified under the configured identity key (offline::VerifyIdentitySignature). Checks
  // that it answers the bundle exported for the top-up (same digest), that its transaction is
  // the exported one with a valid signature by each input's cold key, and records it (signing ->
  // signed); the executor broadcasts and settles it as any move. The same signed transaction
  // again: already_imported, nothing changed. FAILED_PRECONDITION when any check fails.
  absl::StatusOr<ImportedBundle> ImportSignedTopUp(store::Txn& txn, const offline::SignedBundle& signed_bundle);

 private:
  enum class Outcome { kProgress, kRetry, kFailed, kStopped };

  // The allocation policy (custody/allocation.h): for each asset over its hot cap (Bitcoin, ether,
  // ERC-20 tokens, whose accounts are funded with gas first: PlanGasFunding), with
  // an imported cold address and no sweep of its own still moving, a sweep of the planned amount
  // to the client-cold wallet, created approved (signerd's internal-sweep rule needs no
  // approvals to a cold address registered in its own configuration). Returns how many.
  absl::StatusOr<int> PlanSweeps();
  // Receivables: for each Bitcoin or ether asset with a receivable_threshold, once what the
  // house owes the client-hot wallet reaches it and house-hot holds it plus a fee cap, a
  // transfer of it house-hot -> the client-hot wallet's own change address (ether: its first
  // account) (kind fee_reimbursement, the one kind by which signerd lets a house wallet pay a
  // client wallet), one at a time.
  absl::StatusOr<int> PlanReimbursements();
  // What one sweep of an Ethereum asset can move (nullopt for other chains), read from the node:
  // ether, the most one client-hot account can send less the gas a transfer can cost at the
  // node's advice within the fee cap; a token, what its largest account holds, if that account
  // holds that gas in ether, else `needs_gas`: the account and the ether to send it (up to twice
  // that gas, at most the fee cap). UNAVAILABLE when the node cannot be read.
  struct EthSweepSource {
    base::Amount sendable;
    std::optional<std::pair<std::string, base::Amount>> needs_gas;
  };
  absl::StatusOr<std::optional<EthSweepSource>> EthSweepSourceOf(const AssetConfig& asset);
  // An Ethereum transfer at the node's fee advice in `view`.
  txbuild::EthereumSpend EthSpend(const ChainView& view, const std::string& destination, base::Amount amount,
                                  const std::string& token_contract, base::Amount fee_cap) const;
  // The ether to send an account holding `held` so that it can pay a transfer costing at most
  // `max_fee`: up to twice that, at most `fee_cap`.
  static base::Amount GasToSend(base::Amount max_fee, base::Amount fee_cap, base::Amount held);
  // Gas for a token sweep: `amount` of the chain's ether from its client-hot wallet to the
  // token's deposit account `account` (kind gas_funding, approved: signerd's amount tiers
  // apply), unless one is moving, one failed within kInternalMoveRetrySeconds, or either asset
  // is frozen. Returns whether it was planned.
  // `purpose` ("sweep" or "withdrawal") is recorded in its audit entry.
  absl::StatusOr<bool> PlanGasFunding(const AssetConfig& token, const std::string& account, base::Amount amount,
                                      std::string_view purpose);
  // Top-ups: for each Bitcoin asset whose clients' withdrawals need more than client-hot holds
  // (custody/allocation.h: planned_top_up), with none on its way, a top-up client-cold -> the
  // client-hot wallet's change address, pending the approvals of the policy's
  // top_up_approvals (approved at once when that asks for none). It is not signed here: ops
  // export it to the offline signer (ExportTopUp) and import the answer (ImportSignedTopUp).
  absl::StatusOr<int> PlanTopUps();
  // A client's withdrawal that hot cannot pay now and a top-up could: left approved, logged
  // once (under build_mu_).
  bool WaitsForTopUp(const store::WithdrawalRow& row, const AssetConfig& asset, const absl::Status& build);
  // A client's token withdrawal whose build found no account able to pay it alone, while an
  // account holds its tokens but not the gas: records that account in gas_needed_ (the next
  // pass funds it, PlanGasForWithdrawals) and leaves the withdrawal approved. Not when a gas
  // funding of the chain failed within kInternalMoveRetrySeconds: then the withdrawal fails
  // as any that cannot be built. Under build_mu_.
  bool WaitsForGas(const store::WithdrawalRow& row, const AssetConfig& asset, const ChainView& view,
                   const absl::Status& build);
  // Plans the gas fundings withdrawals wait for (PlanGasFunding); returns how many.
  absl::StatusOr<int> PlanGasForWithdrawals();
  // For each approved token top-up not yet exported whose cold account holding the amount has
  // no ether for the gas, a gas funding of that account (the export's build needs it).
  absl::StatusOr<int> PlanGasForTopUps();
  // The cold wallet's first address as (key id, address): the change of a top-up.
  absl::StatusOr<std::pair<std::string, std::string>> ColdChange(const std::string& cold_wallet);
  // With a [coverage] section: after each pass's moves, the cover each asset requires against
  // the cover configured (custody/allocation.h). When an asset's cover turns short (or is short
  // at start) an ALERT line and a `coverage.shortfall` audit entry; when it is restored, a
  // `coverage.restored` entry. Only the executor's thread calls it.
  absl::Status CheckCoverage();

  // Runs each(i, pass) for i in [0, n) on up to `parallelism` threads (this one and the
  // pool's), adding their counts to `total`; stops starting new ones once stopping_.
  void InParallel(size_t n, ExecutorPass& total, const std::function<void(size_t, ExecutorPass&)>& each);
  // A withdrawal in signing, signed by signerd and checked against its build, not yet recorded.
  struct SignedAnswer {
    store::WithdrawalRow row;
    std::string txid;
    std::string signed_tx;
    bool replayed = false;
  };
  // signerd's answer for a withdrawal in signing; nullopt when there is none to record (to be
  // retried, failed here, or stopped by a test hook).
  std::optional<SignedAnswer> Answer(const store::WithdrawalRow& row, ExecutorPass& pass);
  static std::nullopt_t Retry(ExecutorPass& pass);
  // Records each item with `record`: all in one transaction, or, if any fails, each in its own
  // (a failed one counted as retried). Returns those recorded.
  template <typename T>
  std::vector<const T*> CommitEach(const std::vector<T>& items, ExecutorPass& pass,
                                   const std::function<absl::Status(store::Txn&, const T&)>& record);
  void RecordSignedAll(const std::vector<SignedAnswer>& answers, ExecutorPass& pass);
  // Broadcasts a signed withdrawal's transaction; true when the node took it (not yet recorded).
  bool Send(const store::WithdrawalRow& row, ExecutorPass& pass);
  void RecordBroadcastAll(const std::vector<store::WithdrawalRow>& rows, ExecutorPass& pass);
  Outcome ClaimAndBuild(const store::WithdrawalRow& row, ExecutorPass& pass);
  Outcome Watch(const store::WithdrawalRow& row, ExecutorPass& pass);
  // The settlement entry's postings: a client's withdrawal (in flight out of the wallet, the
  // unused fee back to the client), or a sweep (hot -> cold, the fee a receivable from the house).
  absl::StatusOr<std::vector<store::Posting>> WithdrawalSettlement(store::Txn& txn, const store::WithdrawalRow& row,
                                                                   base::Amount fee);
  absl::StatusOr<std::vector<store::Posting>> SweepSettlement(const store::WithdrawalRow& row, const AssetConfig& asset,
                                                              base::Amount fee) const;
  absl::StatusOr<std::vector<store::Posting>> TopUpSettlement(const store::WithdrawalRow& row, base::Amount fee) const;
  absl::StatusOr<std::vector<store::Posting>> ReimbursementSettlement(const store::WithdrawalRow& row,
                                                                      base::Amount fee) const;
  absl::StatusOr<std::vector<store::Posting>> GasFundingSettlement(const store::WithdrawalRow& row,
                                                                   base::Amount fee) const;
  // Fails a withdrawal that was not signed: the release entry and signing -> failed.
  Outcome FailUnsigned(const store::WithdrawalRow& row, const std::string& reason, ExecutorPass& pass);
  bool Step(const std::string& withdrawal_id, const std::string& step);

  absl::StatusOr<signer::v1::SignTransactionRequest> LoadBuild(store::Txn& txn, const std::string& withdrawal_id);
  // UNAVAILABLE when the node or the store cannot be read (the claim is then not made).
  // `change` is the Bitcoin wallet's change (key id, address).
  absl::StatusOr<ChainView> ReadChain(const store::WithdrawalRow& row, const AssetConfig& asset,
                                      const std::pair<std::string, std::string>& change);
  // ReadChain for a claim (under build_mu_). A Bitcoin wallet's view is kept while the node's
  // tip is the block it was read at: the confirmed coins at the wallet's addresses change only
  // with a new block (an address made later cannot hold a coin confirmed before it), and what
  // unfinished withdrawals spend is subtracted by each build. Ethereum's nonces and balances
  // move with every broadcast: read each time.
  absl::StatusOr<std::shared_ptr<const ChainView>> ReadChainForClaim(const store::WithdrawalRow& row,
                                                                     const AssetConfig& asset);
  // Whether a broadcast withdrawal's transaction is due a look on the node: the first time,
  // when the chain's tip has moved since the last look, or kWatchRecheckMs after it (a node
  // that dropped the transaction gets it again then). Records the look when due.
  bool DueForWatch(const store::WithdrawalRow& row);
  // The request to sign for `row` from `view`, less what unfinished withdrawals spend (read in
  // `txn`; `spent` keeps each one's share between calls). FAILED_PRECONDITION or
  // INVALID_ARGUMENT when no transaction can be built (the withdrawal then fails).
  absl::StatusOr<signer::v1::SignTransactionRequest> BuildBitcoin(store::Txn& txn, const store::WithdrawalRow& row,
                                                                  const ChainView& view, const std::string& change_address,
                                                                  SpentIndex& spent);
  absl::StatusOr<signer::v1::SignTransactionRequest> BuildEthereum(store::Txn& txn, const store::WithdrawalRow& row,
                                                                   const AssetConfig& asset, const ChainView& view,
                                                                   SpentIndex& spent);
  // The designated change key of a Bitcoin wallet: (key id, address), made on first use.
  absl::StatusOr<std::pair<std::string, std::string>> ChangeKey(const std::string& wallet_id, const AssetConfig& asset);
  // The change address as one of the wallet's own addresses (no client), and its recording.
  store::AddressRow ChangeAddressRow(const std::string& wallet_id, const AssetConfig& asset, const std::string& key_id,
                                     const std::string& address) const;
  absl::Status RecordChangeAddress(const std::string& wallet_id, const AssetConfig& asset, const std::string& key_id,
                                   const std::string& address);
  // signerd's answer checked against the build: the same transaction, the txid we compute.
  absl::StatusOr<std::string> CheckSigned(const signer::v1::SignTransactionRequest& request,
                                          const signer::v1::SignTransactionResponse& response) const;
  absl::StatusOr<base::Amount> NetworkFee(const signer::v1::SignTransactionRequest& request) const;
  chain::ChainAdapter* AdapterFor(const std::string& chain) const;

  const Config& config_;
  store::Store& store_;
  Env& env_;
  SignerClient& keys_;
  TxSignerClient& signer_;
  std::map<std::string, chain::ChainAdapter*> adapters_;
  ExecutorOptions options_;

  std::mutex build_mu_;  // one claim+build at a time: each build sees the others' inputs
  std::pair<std::string, std::string> change_;  // under build_mu_: the wallet's change key and address
  // Under build_mu_: each wallet's change key and address once read or made with its address
  // row, so that a build reads neither again.
  std::map<std::string, std::pair<std::string, std::string>> change_keys_;
  std::unique_ptr<SpentIndex> spent_;  // under build_mu_: what the unfinished builds spend
  // Under build_mu_: each Bitcoin wallet's view for claims, the tip hash and change address it
  // was read with (ReadChainForClaim).
  struct CachedView {
    std::string tip_hash;
    std::string change_address;
    std::shared_ptr<const ChainView> view;
  };
  std::map<std::string, CachedView> claim_views_;
  // Each chain's tip, read once at the start of a pass (RunOnce) before its workers start, and
  // only read by them; a chain whose tip could not be read is absent.
  std::map<std::string, chain::BlockRef> pass_tips_;
  // Under watch_mu_: by withdrawal id, the tip hash and time of the last look at its
  // transaction on the node (DueForWatch).
  std::mutex watch_mu_;
  std::map<std::string, std::pair<std::string, int64_t>> watched_;
  std::set<std::string> waiting_for_top_up_;    // under build_mu_: withdrawals logged as waiting
  // Under build_mu_: token accounts a client withdrawal waits on for gas (WaitsForGas), by
  // token asset id: the account and the ether to send it; planned by PlanGasForWithdrawals.
  std::map<std::string, std::pair<std::string, base::Amount>> gas_needed_;
  std::set<std::string> waiting_for_gas_;  // under build_mu_: withdrawals logged as waiting for gas
  std::map<std::string, bool> coverage_short_;  // by asset: short at the last check (CheckCoverage)
  std::unique_ptr<Reconciler> reconciler_;      // with [reconciliation]: run after each pass
  std::string reconcile_error_;                 // the last error it returned ("" none)
  // Runs `job` on this thread and on `helpers` pool workers at once, and returns when all are
  // done (RunOnce's parallel steps).
  void RunOnWorkers(int helpers, const std::function<void()>& job);
  void StopWorkers();  // joins the pool (the destructor)
  std::mutex pool_mu_;
  std::condition_variable pool_wake_;  // a new job, or stop
  std::condition_variable pool_done_;  // the last helper finished
  std::vector<std::thread> workers_;
  const std::function<void()>* pool_job_ = nullptr;  // under pool_mu_
  int pool_helpers_ = 0;                             // under pool_mu_: workers 0..helpers-1 run the job
  int pool_running_ = 0;                             // under pool_mu_: helpers not yet done
  uint64_t pool_generation_ = 0;                     // under pool_mu_: one per job
  bool pool_stop_ = false;                           // under pool_mu_
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_EXECUTOR_H_

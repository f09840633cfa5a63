#include "custody/executor.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string_view>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "base/hex.h"
#include "base/status.h"
#include "base/text.h"
#include "chain/bech32.h"
#include "chain/ecdsa.h"
#include "chain/bitcoin_tx.h"
#include "chain/erc20.h"
#include "chain/eth_address.h"
#include "chain/eth_tx.h"
#include "chain/hashes.h"
#include "custody/allocation.h"
#include "custody/audit_log.h"
#include "custody/deposits.h"
#include "custody/ledger.h"
#include "custody/txbuild.h"
#include "custody/whitelist.h"

namespace ringfence::custody {

namespace {

// Bitcoin outpoints (display txid, vout), looked up by a txid the caller holds without a copy.
struct OutpointLess {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    const std::string_view at(a.first), bt(b.first);
    return at < bt || (at == bt && a.second < b.second);
  }
};
using OutpointView = std::pair<std::string_view, uint32_t>;

}  // namespace

// What an unfinished build spends: Bitcoin outpoints, or an Ethereum sender's nonce and
// commitments.
struct WithdrawalExecutor::Spent {
  std::set<std::pair<std::string, uint32_t>, OutpointLess> outpoints;  // display txid, vout
  std::map<std::string, uint64_t> next_nonce;            // ethereum key id -> one past its highest nonce
  std::map<std::string, base::Amount> native_committed;  // ethereum key id -> value + max fee
  std::map<std::string, base::Amount> token_committed;   // ethereum key id -> token amount
};

// What every unfinished build spends, kept between claims: each one's share, parsed once from
// its build record (immutable), and how many of them spend each Bitcoin outpoint. Refresh()
// brings it to the unfinished withdrawals a transaction sees; a claim then asks about the
// coins it considers, without merging every share into one set each time.
struct WithdrawalExecutor::SpentIndex {
  struct Share {
    Spent spent;
    uint64_t round = 0;  // the last Refresh that found it unfinished
  };
  std::map<std::string, Share> shares;  // unfinished withdrawal id -> its share
  std::map<std::pair<std::string, uint32_t>, int, OutpointLess> outpoints;  // -> shares spending it
  uint64_t round = 0;
  // The executor's own index lists the unfinished withdrawals once per pass (RunOnce clears
  // `listed`): within a pass the executor is the only one to start builds of hot wallets and
  // adds each one it commits (Add); withdrawals that finish meanwhile stay counted until the
  // next pass, which holds their coins back a little longer and never spends one twice. A
  // one-off index (once_per_pass false) lists at every Refresh.
  bool once_per_pass = false;
  bool listed = false;

  using Load = std::function<absl::StatusOr<signer::v1::SignTransactionRequest>(const std::string&)>;
  // Keeps exactly the shares of the withdrawals `txn` lists as unfinished. `except` (the
  // withdrawal being built, which has no build record yet) is not loaded.
  absl::Status Refresh(store::Txn& txn, const std::string& except, const Load& load);
  // A build just committed.
  void Add(const std::string& id, const signer::v1::SignTransactionRequest& request);
  // The share of `request` under `id`, its outpoints counted; the entry.
  std::map<std::string, Share>::iterator Insert(const std::string& id, const signer::v1::SignTransactionRequest& request);
  // Whether an unfinished build other than `except`'s spends `outpoint`.
  bool Spends(const OutpointView& outpoint, const std::string& except) const {
    auto it = outpoints.find(outpoint);
    if (it == outpoints.end()) return false;
    int holders = it->second;
    if (auto own = shares.find(except); own != shares.end() && own->second.spent.outpoints.contains(outpoint)) --holders;
    return holders > 0;
  }
  // The Ethereum nonces and commitments of every unfinished build but `except`'s, merged.
  Spent EthereumExcept(const std::string& except) const;
};

namespace {

// `have` less what `committed` holds for `key` (zero if that is more).
base::Amount LessCommitted(base::Amount have, const std::map<std::string, base::Amount>& committed,
                           const std::string& key) {
  auto it = committed.find(key);
  return it == committed.end() ? have : have.CheckedSub(it->second).value_or(base::Amount::Zero());
}

using Spent = WithdrawalExecutor::Spent;

using base::Cat;
using store::WithdrawalRow;
using store::WithdrawalState;
namespace sv1 = ringfence::signer::v1;
namespace codec = ::ringfence::chain;

constexpr char kBuildMethod[] = "ringfence.custody.executor/Build";
constexpr char kBundleMethod[] = "ringfence.custody.executor/SigningBundle";
constexpr char kChangeKeyMethod[] = "ringfence.custody.executor/ChangeKey";
constexpr uint32_t kMaxUnfinished = 10'000;
// Coins a Bitcoin build tries first, of the wallet's largest (see BuildBitcoin).
constexpr size_t kQuickCandidates = 8;
// A broadcast transaction whose chain tip has not moved is looked at again after this long (a
// node that dropped it gets the same bytes again then).
constexpr int64_t kWatchRecheckMs = 2'000;
constexpr size_t kUnspentChunk = 1'000;

void Log(const std::string& line) { std::fprintf(stderr, "custodyd executor: %s\n", line.c_str()); }

std::span<const uint8_t> Span(const std::string& s) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

sv1::RequestKind RequestKindOf(const WithdrawalRow& row) {
  if (row.kind == "sweep") return sv1::REQUEST_KIND_SWEEP;
  if (row.kind == "top_up") return sv1::REQUEST_KIND_TOP_UP;
  if (row.kind == "fee_reimbursement") return sv1::REQUEST_KIND_FEE_REIMBURSEMENT;
  if (row.kind == "gas_funding") return sv1::REQUEST_KIND_GAS_FUNDING;
  return sv1::REQUEST_KIND_WITHDRAWAL;
}

store::JournalEntry Entry(const WithdrawalRow& row, std::string kind, std::vector<store::Posting> postings,
                          int64_t now_ms) {
  store::JournalEntry e;
  e.asset_id = row.asset_id;
  e.kind = std::move(kind);
  e.reference = row.withdrawal_id;
  e.postings = std::move(postings);
  e.created_unix_ms = now_ms;
  return e;
}

// The audit entry of an executor step (invariant 6: every state change is in the log).
absl::Status Audit(store::Txn& txn, const WithdrawalRow& row, std::string_view step, nlohmann::json details,
                   int64_t now_ms) {
  details["client_id"] = row.client_id;
  details["asset_id"] = row.asset_id;
  return AuditLog::Append(txn, "system", Cat(row.kind, ".", step), row.withdrawal_id, details.dump(), now_ms).status();
}

// Moves the withdrawal's whole hold out of the client's held account to `to` in one entry of
// `kind`; returns the entry's seq.
absl::StatusOr<uint64_t> MoveHold(store::Txn& txn, const WithdrawalRow& row, std::string kind, const std::string& to,
                                  int64_t now_ms) {
  RF_ASSIGN_OR_RETURN(std::optional<store::HoldRow> hold, txn.GetHold(row.withdrawal_id));
  if (!hold.has_value()) return absl::FailedPreconditionError(Cat("withdrawal ", row.withdrawal_id, " has no hold"));
  return Ledger::Post(txn, Entry(row, std::move(kind),
                                 {{ClientHeldAccount(row.client_id, row.asset_id), true, hold->amount},
                                  {to, false, hold->amount}},
                                 now_ms));
}

void AddTo(std::map<std::string, base::Amount>& m, const std::string& k, base::Amount v) {
  std::optional<base::Amount> sum = m[k].CheckedAdd(v);
  m[k] = sum.value_or(base::Amount::Max());
}

void AccountSpent(const sv1::SignTransactionRequest& req, Spent& spent) {
  if (req.chain() == "bitcoin") {
    absl::StatusOr<codec::Transaction> tx = codec::ParseTransaction(Span(req.unsigned_tx()));
    if (!tx.ok()) return;
    for (const codec::TxIn& in : tx->inputs) spent.outpoints.emplace(codec::DisplayHex(in.prevout.txid), in.prevout.vout);
    return;
  }
  absl::StatusOr<codec::Eip1559Tx> tx = codec::DecodeUnsignedEip1559(Span(req.unsigned_tx()));
  if (!tx.ok()) return;
  const std::string& key = req.ethereum_key_id();
  spent.next_nonce[key] = std::max(spent.next_nonce[key], tx->nonce + 1);
  absl::StatusOr<unsigned __int128> fee = codec::MaxFeeWei(*tx);
  absl::StatusOr<unsigned __int128> value = tx->value.ToU128("value");
  AddTo(spent.native_committed, key, base::Amount(fee.ok() ? *fee : ~base::Uint128{0}));
  AddTo(spent.native_committed, key, base::Amount(value.ok() ? *value : ~base::Uint128{0}));
  if (!tx->data.empty()) {
    absl::StatusOr<codec::Erc20Transfer> call = codec::DecodeErc20Transfer(tx->data);
    absl::StatusOr<unsigned __int128> amount =
        call.ok() ? call->amount.ToU128("amount") : absl::StatusOr<unsigned __int128>(call.status());
    AddTo(spent.token_committed, key, base::Amount(amount.ok() ? *amount : ~base::Uint128{0}));
  }
}

}  // namespace

WithdrawalExecutor::WithdrawalExecutor(const Config& config, store::Store& store, Env& env, SignerClient& keys,
                                       TxSignerClient& signer, std::map<std::string, chain::ChainAdapter*> adapters,
                                       ExecutorOptions options)
    : config_(config),
      store_(store),
      env_(env),
      keys_(keys),
      signer_(signer),
      adapters_(std::move(adapters)),
      options_(std::move(options)),
      spent_(std::make_unique<SpentIndex>()) {
  spent_->once_per_pass = true;
  if (config_.reconciliation.has_value()) {
    reconciler_ = std::make_unique<Reconciler>(
        config_, store_, env_, adapters_,
        [this](store::Txn& txn, const WithdrawalRow& row) -> absl::StatusOr<base::Amount> {
          RF_ASSIGN_OR_RETURN(sv1::SignTransactionRequest request, LoadBuild(txn, row.withdrawal_id));
          return NetworkFee(request);
        });
  }
}

WithdrawalExecutor::~WithdrawalExecutor() {
  Stop();
  StopWorkers();
}

std::string WithdrawalExecutor::BuildRecordKey(const std::string& withdrawal_id) {
  return Cat("executor/build/", withdrawal_id);
}

std::string WithdrawalExecutor::BundleRecordKey(const std::string& withdrawal_id) {
  return Cat("executor/bundle/", withdrawal_id);
}

chain::ChainAdapter* WithdrawalExecutor::AdapterFor(const std::string& chain) const {
  auto it = adapters_.find(chain);
  return it == adapters_.end() ? nullptr : it->second;
}

bool WithdrawalExecutor::Step(const std::string& withdrawal_id, const std::string& step) {
  if (options_.on_commit &&
      (step == "planned" || step == "claimed" || step == "signed" || step == "broadcast" || step == "confirmed" ||
       step == "failed")) {
    options_.on_commit();
  }
  if (options_.after_step && !options_.after_step(withdrawal_id, step)) {
    stopping_ = true;
    return false;
  }
  return !stopping_;
}

void WithdrawalExecutor::RunOnWorkers(int helpers, const std::function<void()>& job) {
  // The workers live as long as the executor: a busy executor makes many short passes, and a
  // thread started and joined for each would cost more than the pass's own work.
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    while (static_cast<int>(workers_.size()) < helpers) {
      const int index = static_cast<int>(workers_.size());
      workers_.emplace_back([this, index] {
        uint64_t seen = 0;
        std::unique_lock<std::mutex> lock(pool_mu_);
        for (;;) {
          pool_wake_.wait(lock, [&] { return pool_stop_ || pool_generation_ != seen; });
          if (pool_stop_) return;
          seen = pool_generation_;
          if (index >= pool_helpers_) continue;
          const std::function<void()>* job = pool_job_;
          lock.unlock();
          (*job)();
          lock.lock();
          if (--pool_running_ == 0) pool_done_.notify_all();
        }
      });
    }
    pool_job_ = &job;
    pool_helpers_ = helpers;
    pool_running_ = helpers;
    ++pool_generation_;
  }
  pool_wake_.notify_all();
  job();
  std::unique_lock<std::mutex> lock(pool_mu_);
  pool_done_.wait(lock, [&] { return pool_running_ == 0; });
  pool_job_ = nullptr;
}

void WithdrawalExecutor::StopWorkers() {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    pool_stop_ = true;
  }
  pool_wake_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

void WithdrawalExecutor::Start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    while (!stopping_) {
      absl::StatusOr<ExecutorPass> pass = RunOnce();
      if (!pass.ok()) Log(Cat("pass failed: ", pass.status().message()));
      // A pass that moved something goes again at once: withdrawals approved meanwhile wait
      // for no timer while the executor is busy. An idle one waits for the interval or Wake().
      const bool moved = pass.ok() && pass->claimed + pass->signed_ + pass->broadcast + pass->confirmed + pass->failed > 0;
      std::unique_lock<std::mutex> lock(mu_);
      if (!moved) wake_.wait_for(lock, options_.poll_interval, [this] { return woken_ || stopping_.load(); });
      woken_ = false;
    }
  });
}

void WithdrawalExecutor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WithdrawalExecutor::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  wake_.notify_all();
}

namespace {

// Runs `plan` on a read snapshot and, only when that finds something to do, again in a write
// transaction (the books may have moved between the two), so that a pass with nothing to do
// never takes the writer. Returns the write transaction with the plan, or nullopt.
template <typename T>
absl::StatusOr<std::optional<std::pair<std::unique_ptr<store::Txn>, T>>> PlanTwice(
    store::Store& store, const std::function<absl::StatusOr<std::optional<T>>(store::Txn&)>& plan) {
  {
    RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> snapshot, store.BeginRead());
    RF_ASSIGN_OR_RETURN(std::optional<T> planned, plan(*snapshot));
    if (!planned) return std::nullopt;
  }
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store.Begin());
  RF_ASSIGN_OR_RETURN(std::optional<T> planned, plan(*txn));
  if (!planned) return std::nullopt;
  return std::make_pair(std::move(txn), *std::move(planned));
}

// Live internal moves of `kind` for the asset (one at a time per kind and asset).
absl::StatusOr<bool> MoveInFlight(store::Txn& txn, const std::string& asset_id, std::string_view kind) {
  store::WithdrawalFilter live;
  live.asset_id = asset_id;
  live.states = {WithdrawalState::kApproved, WithdrawalState::kSigning, WithdrawalState::kSigned,
                 WithdrawalState::kBroadcast};
  for (store::Page page{"", 1000};;) {
    RF_ASSIGN_OR_RETURN(std::vector<WithdrawalRow> rows, txn.ListWithdrawals(live, page));
    for (const WithdrawalRow& w : rows) {
      if (w.kind == kind) return true;
    }
    if (rows.size() < page.limit) return false;
    page.after = std::to_string(rows.back().ordinal);
  }
}

// Whether the asset has a freeze in state frozen (custody/reconciler.h).
absl::StatusOr<bool> IsFrozen(store::Txn& txn, const std::string& asset_id) {
  RF_ASSIGN_OR_RETURN(std::optional<store::AssetFreezeRow> freeze, txn.GetActiveFreeze(asset_id));
  return freeze.has_value();
}

// Whether an internal move of `kind` of the asset ended in `state` (failed, or rejected)
// less than `seconds` ago: the planners wait that long before making the next one, so that a
// move signerd refuses, or approvers reject, is not made again on every pass.
absl::StatusOr<bool> RecentlyRefused(store::Txn& txn, const std::string& asset_id, std::string_view kind,
                                     WithdrawalState state, int64_t seconds, int64_t now_ms) {
  // Newest first, of this kind only (client withdrawals refused in between do not hide one):
  // the most recent 100 are enough to find one within the window.
  RF_ASSIGN_OR_RETURN(std::vector<WithdrawalRow> ended,
                      txn.ListWithdrawals({"", asset_id, {state}, {std::string(kind)}}, {"", 100}));
  for (const WithdrawalRow& r : ended) {
    if (r.kind == kind && now_ms - r.updated_unix_ms < seconds * 1000) return true;
  }
  return false;
}

// Inserts an internal move with its audit entry and commits `txn`; returns its id. Approved at
// once unless `approvals` asks for some. A sweep or top-up passes the allocation decision that
// planned it (`evidence`), recorded in the same transaction (policy_decisions, replayable).
absl::StatusOr<std::string> RecordMove(Env& env, const Config& config, std::unique_ptr<store::Txn> txn,
                                       const AssetConfig& asset,
                                       const std::string& kind, base::Amount amount, const std::string& source_wallet,
                                       const std::string& destination, nlohmann::json details,
                                       const policy::ApprovalRule* approvals = nullptr,
                                       const AllocationEvidence* evidence = nullptr) {
  const int64_t now_ms = env.NowUnixMs();
  uint8_t id[8];
  env.RandomBytes(id);
  WithdrawalRow row;
  row.withdrawal_id = Cat("w_", base::HexEncode(id));
  row.kind = kind;
  row.asset_id = asset.id;
  row.amount = amount;
  row.destination = destination;
  row.source_wallet_id = source_wallet;
  row.chain = asset.chain;
  row.network = asset.network;
  row.fee_cap = *asset.withdrawal_fee_cap;
  row.fee_asset = NativeAssetOf(config, asset);  // a token's gas is paid in its chain's ether
  row.requester = "system";
  // Approved from the start: signerd decides for itself what an internal move needs (its
  // internal-sweep rule for a sweep to a registered cold address; its amount tiers otherwise).
  row.state = WithdrawalState::kApproved;
  if (approvals != nullptr && approvals->k > 0) {
    // A top-up: the policy's approvers decide, and the offline signer checks their approvals.
    row.state = WithdrawalState::kPendingApproval;
    row.approvals_required = approvals->k;
    row.approval_group = approvals->group.value();
    details["approvals_required"] = approvals->k;
    details["approval_group"] = row.approval_group;
  }
  row.expires_at_unix_s = now_ms / 1000 + kSweepExpirySeconds;
  row.created_unix_ms = now_ms;
  row.updated_unix_ms = now_ms;
  if (evidence != nullptr) row.policy_hash = evidence->policy->hash;
  RF_RETURN_IF_ERROR(txn->InsertWithdrawal(row).status());
  if (evidence != nullptr) {
    RF_ASSIGN_OR_RETURN(const uint64_t decision_id, RecordAllocationDecision(*txn, *evidence, row.withdrawal_id, now_ms));
    details["decision_id"] = decision_id;
    details["policy_hash"] = row.policy_hash;
  }
  details["amount"] = row.amount.ToBaseUnitString();
  details["destination"] = row.destination;
  details["from_wallet"] = row.source_wallet_id;
  RF_RETURN_IF_ERROR(Audit(*txn, row, "created", std::move(details), now_ms));
  RF_RETURN_IF_ERROR(txn->Commit());
  Log(Cat(row.withdrawal_id, ": ", kind, " of ", row.amount.ToBaseUnitString(), " base units of ", asset.id, " from ", source_wallet,
          " to ", destination));
  return row.withdrawal_id;
}

}  // namespace

absl::StatusOr<std::optional<WithdrawalExecutor::EthSweepSource>> WithdrawalExecutor::EthSweepSourceOf(
    const AssetConfig& asset) {
  if (asset.chain != "ethereum") return std::nullopt;
  WithdrawalRow probe;
  probe.source_wallet_id = ClientHotWallet(asset.id);
  RF_ASSIGN_OR_RETURN(ChainView view, ReadChain(probe, asset, {}));
  {
    // What unfinished moves will take from an account (a gas funding sent from it and not yet
    // mined) is not the sweep's: the build would find the account short and fail the sweep.
    RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> snapshot, store_.BeginRead());
    SpentIndex index;
    RF_RETURN_IF_ERROR(index.Refresh(*snapshot, "", [&](const std::string& id) { return LoadBuild(*snapshot, id); }));
    const Spent spent = index.EthereumExcept("");
    for (ChainView::Account& a : view.accounts) {
      a.native = LessCommitted(a.native, spent.native_committed, a.key_id);
      a.token = LessCommitted(a.token, spent.token_committed, a.key_id);
    }
  }
  // The most a transfer (of ether, or of the token) can cost in gas at the node's advice,
  // within the fee cap.
  RF_ASSIGN_OR_RETURN(txbuild::EthereumPlan plan,
                      txbuild::BuildEthereumSpend(EthSpend(view, "0x0000000000000000000000000000000000000001",
                                                           base::Amount(1), asset.erc20_contract,
                                                           *asset.withdrawal_fee_cap)));
  EthSweepSource out;
  if (asset.erc20_contract.empty()) {
    for (const ChainView::Account& a : view.accounts) {
      const std::optional<base::Amount> sendable = a.native.CheckedSub(plan.max_fee);
      if (sendable && *sendable > out.sendable) out.sendable = *sendable;
    }
    return out;
  }
  const ChainView::Account* largest = nullptr;
  for (const ChainView::Account& a : view.accounts) {
    if (!a.token.is_zero() && (largest == nullptr || a.token > largest->token)) largest = &a;
  }
  if (largest == nullptr) return out;  // no tokens on the chain yet: nothing to sweep
  if (largest->native >= plan.max_fee) {
    out.sendable = largest->token;
    return out;
  }
  out.needs_gas = std::make_pair(largest->address, GasToSend(plan.max_fee, *asset.withdrawal_fee_cap, largest->native));
  return out;
}

txbuild::EthereumSpend WithdrawalExecutor::EthSpend(const ChainView& view, const std::string& destination,
                                                    base::Amount amount, const std::string& token_contract,
                                                    base::Amount fee_cap) const {
  txbuild::EthereumSpend spend;
  spend.chain_id = options_.ethereum_chain_id;
  spend.destination = destination;
  spend.amount = amount;
  spend.token_contract = token_contract;
  spend.base_fee_per_gas = view.fee.base_fee_per_gas;
  spend.max_priority_fee_per_gas = view.fee.max_priority_fee_per_gas;
  spend.fee_cap = fee_cap;
  return spend;
}

base::Amount WithdrawalExecutor::GasToSend(base::Amount max_fee, base::Amount fee_cap, base::Amount held) {
  // Twice what the transfer can cost at today's advice (room for the base fee to rise before it
  // is signed), never beyond the fee cap, which bounds what it can ever cost.
  const base::Amount twice = max_fee.CheckedAdd(max_fee).value_or(fee_cap);
  const base::Amount target = std::min(twice, fee_cap);
  return target.CheckedSub(held).value_or(base::Amount::Zero());
}

absl::StatusOr<bool> WithdrawalExecutor::PlanGasFunding(const AssetConfig& token, const std::string& account,
                                                        base::Amount amount, std::string_view purpose) {
  const AssetConfig* native = config_.FindAsset(NativeAssetOf(config_, token));
  if (native == nullptr || !native->withdrawal_fee_cap.has_value()) {
    Log(Cat(token.id, ": sweep deferred: its deposit account ", account, " holds no ether for gas, and no ether asset ",
            "with a withdrawal_fee_cap is configured to fund it"));
    return false;
  }
  // One funding of the chain at a time: the account it funds is swept once it confirms.
  RF_ASSIGN_OR_RETURN(auto planned, PlanTwice<bool>(store_, [&](store::Txn& txn) -> absl::StatusOr<std::optional<bool>> {
    for (const std::string& id : {token.id, native->id}) {
      RF_ASSIGN_OR_RETURN(const bool frozen, IsFrozen(txn, id));
      if (frozen) return std::nullopt;
    }
    RF_ASSIGN_OR_RETURN(const bool moving, MoveInFlight(txn, native->id, "gas_funding"));
    if (moving) return std::nullopt;
    RF_ASSIGN_OR_RETURN(const bool failed, RecentlyRefused(txn, native->id, "gas_funding", WithdrawalState::kFailed,
                                                           kInternalMoveRetrySeconds, env_.NowUnixMs()));
    if (failed) return std::nullopt;
    return true;
  }));
  if (!planned) return false;
  RF_ASSIGN_OR_RETURN(const std::string id,
                      RecordMove(env_, config_, std::move(planned->first), *native, "gas_funding", amount,
                                 ClientHotWallet(native->id), account,
                                 {{"to_wallet", ClientHotWallet(token.id)},
                                  {"for", std::string(purpose)},
                                  {"token", token.id}}));
  Step(id, "planned");
  return true;
}

absl::StatusOr<int> WithdrawalExecutor::PlanSweeps() {
  int created = 0;
  for (const AssetConfig& asset : config_.assets) {
    if (!asset.withdrawal_fee_cap.has_value()) continue;
    // One sweep of an asset at a time (ComputeAllocation plans none while one is in flight):
    // the next is planned from the books the last one leaves.
    const std::string cold_wallet = WalletsOf(asset)[1].wallet_id;
    using Plan = std::pair<AssetAllocation, std::string>;  // the figures, the cold address
    auto plan = [&](store::Txn& txn) -> absl::StatusOr<std::optional<Plan>> {
      RF_ASSIGN_OR_RETURN(const bool frozen, IsFrozen(txn, asset.id));
      if (frozen) return std::nullopt;
      RF_ASSIGN_OR_RETURN(AllocationReport report, ComputeAllocation(txn, config_, asset.id));
      if (report.assets.at(0).planned_sweep.is_zero()) return std::nullopt;
      RF_ASSIGN_OR_RETURN(const bool failed, RecentlyRefused(txn, asset.id, "sweep", WithdrawalState::kFailed,
                                                             kInternalMoveRetrySeconds, env_.NowUnixMs()));
      if (failed) return std::nullopt;
      RF_ASSIGN_OR_RETURN(std::vector<store::AddressRow> cold, txn.ListAddressesOfWallet(cold_wallet));
      if (cold.empty()) return std::nullopt;  // no cold key imported yet: GetAllocation shows it over its cap
      return Plan(report.assets.at(0), cold.front().address);  // the first address in address order
    };
    // Ethereum: the wallet's ether (or tokens) sits in one account per deposit address and one
    // transaction sends from one account, so a sweep moves at most what the largest account can
    // send; the next pass sweeps the next account (each sweep consolidates one deposit account
    // into cold). A token account pays its sweep's gas in ether: one that holds too little is
    // funded first from the ether client-hot wallet (gas_funding) and swept once that confirms.
    std::optional<base::Amount> sendable;
    if (asset.chain == "ethereum") {
      {
        RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> snapshot, store_.BeginRead());
        RF_ASSIGN_OR_RETURN(std::optional<Plan> needed, plan(*snapshot));
        if (!needed) continue;
      }
      absl::StatusOr<std::optional<EthSweepSource>> read = EthSweepSourceOf(asset);
      if (!read.ok()) {
        Log(Cat(asset.id, ": sweep deferred: ", read.status().message()));
        continue;
      }
      if ((*read)->needs_gas) {
        RF_ASSIGN_OR_RETURN(const bool funding,
                            PlanGasFunding(asset, (*read)->needs_gas->first, (*read)->needs_gas->second, "sweep"));
        if (funding) ++created;
        continue;
      }
      sendable = (*read)->sendable;
    }
    RF_ASSIGN_OR_RETURN(auto planned, PlanTwice<Plan>(store_, [&](store::Txn& txn) -> absl::StatusOr<std::optional<Plan>> {
      RF_ASSIGN_OR_RETURN(std::optional<Plan> p, plan(txn));
      if (p && sendable && p->first.planned_sweep > *sendable) {
        if (*sendable < p->first.rules->min_sweep || sendable->is_zero()) return std::nullopt;
        p->first.planned_sweep = *sendable;
      }
      return p;
    }));
    if (!planned) continue;
    const AssetAllocation& a = planned->second.first;
    RF_ASSIGN_OR_RETURN(const std::string id,
                        RecordMove(env_, config_, std::move(planned->first), asset, "sweep", a.planned_sweep, ClientHotWallet(asset.id),
                                   planned->second.second,
                                   {{"to_wallet", cold_wallet},
                                    {"hot", a.hot.ToBaseUnitString()},
                                    {"hot_cap", a.hot_cap.ToBaseUnitString()},
                                    {"hot_share_bps", a.hot_share_bps},
                                    {"reason", std::string(policy::AllocationReasonCode(a.decision->reason))},
                                    {"reserved_for_withdrawals", a.reserved_for_withdrawals.ToBaseUnitString()}},
                                   nullptr, a.evidence.get()));
    ++created;
    if (!Step(id, "planned")) break;
  }
  return created;
}

absl::StatusOr<int> WithdrawalExecutor::PlanReimbursements() {
  int created = 0;
  for (const AssetConfig& asset : config_.assets) {
    // Bitcoin and ether (a token's receivables are in the chain's ether: ERC-20 gas).
    if (!asset.erc20_contract.empty() || !asset.receivable_threshold || !asset.withdrawal_fee_cap) continue;
    const std::string client_hot = ClientHotWallet(asset.id);
    const std::string house_hot = WalletsOf(asset)[2].wallet_id;
    if (asset.chain == "ethereum") {
      // The wallet's own account (no client's deposit address: a payment into one would read as
      // that client's deposit), made through signerd on first use, as a Bitcoin change key.
      std::lock_guard<std::mutex> lock(build_mu_);
      RF_RETURN_IF_ERROR(ChangeKey(client_hot, asset).status());
    }
    // The amount owed and where to pay it, if a reimbursement is due and none is moving: the
    // client-hot wallet's own address (Bitcoin, its change address; ether, its own account),
    // of a key signerd knows bound to that wallet.
    using Plan = std::pair<base::Amount, std::string>;
    RF_ASSIGN_OR_RETURN(auto planned, PlanTwice<Plan>(store_, [&](store::Txn& txn) -> absl::StatusOr<std::optional<Plan>> {
      RF_ASSIGN_OR_RETURN(const bool frozen, IsFrozen(txn, asset.id));
      if (frozen) return std::nullopt;
      RF_ASSIGN_OR_RETURN(const store::AccountBalance r, txn.GetBalance(ReceivableAccount(client_hot)));
      const base::Amount owed = NormalBalance(NormalSide::kDebit, r, ReceivableAccount(client_hot));
      if (owed < *asset.receivable_threshold) return std::nullopt;
      RF_ASSIGN_OR_RETURN(const bool moving, MoveInFlight(txn, asset.id, "fee_reimbursement"));
      if (moving) return std::nullopt;
      RF_ASSIGN_OR_RETURN(const bool failed, RecentlyRefused(txn, asset.id, "fee_reimbursement", WithdrawalState::kFailed,
                                                             kInternalMoveRetrySeconds, env_.NowUnixMs()));
      if (failed) return std::nullopt;
      // The house must be able to pay it and the fee.
      RF_ASSIGN_OR_RETURN(const base::Amount house, Ledger::WalletHolding(txn, house_hot));
      const std::optional<base::Amount> need = owed.CheckedAdd(*asset.withdrawal_fee_cap);
      if (!need || house < *need) return std::nullopt;
      RF_ASSIGN_OR_RETURN(std::vector<store::AddressRow> hot, txn.ListAddressesOfWallet(client_hot));
      for (const store::AddressRow& a : hot) {
        if (a.client_id.empty()) return Plan(owed, a.address);
      }
      return std::nullopt;  // no own address yet: made below, before the next pass
    }));
    if (!planned) continue;
    RF_ASSIGN_OR_RETURN(const std::string id,
                        RecordMove(env_, config_, std::move(planned->first), asset, "fee_reimbursement", planned->second.first,
                                   house_hot, planned->second.second,
                                   {{"to_wallet", client_hot},
                                    {"threshold", asset.receivable_threshold->ToBaseUnitString()}}));
    ++created;
    if (!Step(id, "planned")) break;
  }
  return created;
}

absl::StatusOr<int> WithdrawalExecutor::PlanTopUps() {
  int created = 0;
  if (!config_.withdrawals.has_value()) return 0;  // no policy, no approvers: no top-ups
  RF_ASSIGN_OR_RETURN(const policy::Policy* policy, PolicyOf(config_));
  for (const AssetConfig& asset : config_.assets) {
    // Bitcoin, ether and tokens (a token's top-up lands in an account without ether: the
    // withdrawal it serves waits for its gas, WaitsForGas; the cold account sending it is
    // funded first, PlanGasForTopUps).
    if (!asset.withdrawal_fee_cap.has_value()) continue;
    const policy::AssetPolicy* rules = policy->FindAsset(policy::AssetId(asset.id));
    if (rules == nullptr) continue;
    auto plan = [&](store::Txn& txn) -> absl::StatusOr<std::optional<AssetAllocation>> {
      RF_ASSIGN_OR_RETURN(const bool frozen, IsFrozen(txn, asset.id));
      if (frozen) return std::nullopt;
      RF_ASSIGN_OR_RETURN(AllocationReport report, ComputeAllocation(txn, config_, asset.id));
      if (report.assets.at(0).planned_top_up.is_zero()) return std::nullopt;
      // Approvers who rejected a top-up (or let it expire) are not asked again at once: the next
      // one waits kTopUpRetrySeconds after the last refusal.
      RF_ASSIGN_OR_RETURN(const bool refused, RecentlyRefused(txn, asset.id, "top_up", WithdrawalState::kRejected,
                                                              kTopUpRetrySeconds, env_.NowUnixMs()));
      if (refused) return std::nullopt;
      return report.assets.at(0);
    };
    {
      RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> snapshot, store_.BeginRead());
      RF_ASSIGN_OR_RETURN(std::optional<AssetAllocation> needed, plan(*snapshot));
      if (!needed) continue;
    }
    // The destination: the client-hot wallet's change address (ether: its own account; made
    // through signerd on first use, before the write transaction), which the offline signer's
    // configuration registers as the client-hot wallet's.
    std::pair<std::string, std::string> change;
    {
      std::lock_guard<std::mutex> lock(build_mu_);
      RF_ASSIGN_OR_RETURN(change, ChangeKey(ClientHotWallet(asset.id), asset));
    }
    RF_ASSIGN_OR_RETURN(auto planned, PlanTwice<AssetAllocation>(store_, plan));
    if (!planned) continue;
    const AssetAllocation& a = planned->second;
    RF_ASSIGN_OR_RETURN(const std::string id,
                        RecordMove(env_, config_, std::move(planned->first), asset, "top_up", a.planned_top_up,
                                   WalletsOf(asset)[1].wallet_id, change.second,
                                   {{"to_wallet", ClientHotWallet(asset.id)},
                                    {"hot", a.hot.ToBaseUnitString()},
                                    {"cold", a.cold.ToBaseUnitString()},
                                    {"reason", std::string(policy::AllocationReasonCode(a.decision->reason))},
                                    {"reserved_for_withdrawals", a.reserved_for_withdrawals.ToBaseUnitString()}},
                                   &rules->top_up_approvals, a.evidence.get()));
    ++created;
    if (!Step(id, "planned")) break;
  }
  return created;
}

bool WithdrawalExecutor::WaitsForTopUp(const WithdrawalRow& row, const AssetConfig& asset, const absl::Status& build) {
  // Under build_mu_ (ClaimAndBuild). Only a client's Bitcoin or ether withdrawal that lacks
  // funds, while the asset's cold wallet holds some: a top-up (planned by the next pass,
  // approved by ops) can bring them. Anything else that cannot be built fails as before.
  if (store::IsInternalMove(row) || !absl::IsFailedPrecondition(build) ||
      !absl::StartsWith(build.message(), "insufficient_funds")) {
    return false;
  }
  absl::StatusOr<std::unique_ptr<store::Txn>> snapshot = store_.BeginRead();
  if (!snapshot.ok()) return false;
  absl::StatusOr<AllocationReport> report = ComputeAllocation(**snapshot, config_, asset.id);
  if (!report.ok()) return false;
  const AssetAllocation& a = report->assets.at(0);
  if (a.cold_addresses == 0 || (a.cold.is_zero() && a.topping_up.is_zero())) return false;
  if (waiting_for_top_up_.insert(row.withdrawal_id).second) {
    Log(Cat(row.withdrawal_id, ": hot cannot pay it yet (", build.message(), "); left approved for a top-up from ",
            WalletsOf(asset)[1].wallet_id));
  }
  return true;
}

bool WithdrawalExecutor::WaitsForGas(const WithdrawalRow& row, const AssetConfig& asset, const ChainView& view,
                                     const absl::Status& build) {
  if (store::IsInternalMove(row) || asset.erc20_contract.empty() || !absl::IsFailedPrecondition(build) ||
      !absl::StartsWith(build.message(), "insufficient_funds")) {
    return false;
  }
  const AssetConfig* native = config_.FindAsset(NativeAssetOf(config_, asset));
  if (native == nullptr || !native->withdrawal_fee_cap.has_value()) return false;
  {
    absl::StatusOr<std::unique_ptr<store::Txn>> snapshot = store_.BeginRead();
    if (!snapshot.ok()) return false;
    absl::StatusOr<bool> failed = RecentlyRefused(**snapshot, native->id, "gas_funding", WithdrawalState::kFailed,
                                                  kInternalMoveRetrySeconds, env_.NowUnixMs());
    if (!failed.ok() || *failed) return false;
  }
  // The most the token transfer can cost in gas now, within its fee cap.
  absl::StatusOr<txbuild::EthereumPlan> plan =
      txbuild::BuildEthereumSpend(EthSpend(view, row.destination, row.amount, asset.erc20_contract, row.fee_cap));
  if (!plan.ok()) return false;
  const ChainView::Account* holder = nullptr;  // the largest account that holds the amount but not the gas
  for (const ChainView::Account& a : view.accounts) {
    if (a.token >= row.amount && a.native < plan->max_fee && (holder == nullptr || a.token > holder->token)) holder = &a;
  }
  if (holder == nullptr) return false;
  gas_needed_[asset.id] = {holder->address, GasToSend(plan->max_fee, row.fee_cap, holder->native)};
  if (waiting_for_gas_.insert(row.withdrawal_id).second) {
    Log(Cat(row.withdrawal_id, ": its tokens are in ", holder->address, ", which holds no ether for the gas; left ",
            "approved until ", native->id, " client-hot funds it"));
  }
  return true;
}

absl::StatusOr<int> WithdrawalExecutor::PlanGasForWithdrawals() {
  std::map<std::string, std::pair<std::string, base::Amount>> needed;
  {
    std::lock_guard<std::mutex> lock(build_mu_);
    needed.swap(gas_needed_);
  }
  int created = 0;
  for (const auto& [asset_id, need] : needed) {
    const AssetConfig* asset = config_.FindAsset(asset_id);
    if (asset == nullptr) continue;
    RF_ASSIGN_OR_RETURN(const bool planned, PlanGasFunding(*asset, need.first, need.second, "withdrawal"));
    created += planned;
  }
  return created;
}

absl::StatusOr<int> WithdrawalExecutor::PlanGasForTopUps() {
  int created = 0;
  for (const AssetConfig& asset : config_.assets) {
    if (asset.erc20_contract.empty() || !asset.withdrawal_fee_cap.has_value()) continue;
    // The approved top-ups of the token not yet exported.
    std::vector<WithdrawalRow> waiting;
    {
      RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> snapshot, store_.BeginRead());
      RF_ASSIGN_OR_RETURN(std::vector<WithdrawalRow> rows,
                          snapshot->ListWithdrawals({"", asset.id, {WithdrawalState::kApproved}, {"top_up"}}, {"", 100}));
      for (WithdrawalRow& r : rows) {
        if (r.kind == "top_up") waiting.push_back(std::move(r));
      }
    }
    for (const WithdrawalRow& row : waiting) {
      absl::StatusOr<ChainView> view = ReadChain(row, asset, {});  // the cold wallet's accounts
      if (!view.ok()) {
        Log(Cat(row.withdrawal_id, ": gas for its export deferred: ", view.status().message()));
        continue;
      }
      absl::StatusOr<txbuild::EthereumPlan> plan = txbuild::BuildEthereumSpend(
          EthSpend(*view, row.destination, row.amount, asset.erc20_contract, row.fee_cap));
      if (!plan.ok()) continue;
      const ChainView::Account* holder = nullptr;  // the largest cold account that holds the amount
      for (const ChainView::Account& a : view->accounts) {
        if (a.token >= row.amount && (holder == nullptr || a.token > holder->token)) holder = &a;
      }
      if (holder == nullptr || holder->native >= plan->max_fee) continue;  // none can, or it has its gas
      RF_ASSIGN_OR_RETURN(const bool planned, PlanGasFunding(asset, holder->address,
                                                             GasToSend(plan->max_fee, row.fee_cap, holder->native),
                                                             "top_up"));
      created += planned;
    }
  }
  return created;
}

absl::Status WithdrawalExecutor::CheckCoverage() {
  if (!config_.coverage.configured) return absl::OkStatus();
  AllocationReport report;
  {
    RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> snapshot, store_.BeginRead());
    RF_ASSIGN_OR_RETURN(report, ComputeAllocation(*snapshot, config_, ""));
  }
  for (const AssetAllocation& a : report.assets) {
    const bool short_now = !a.cover_shortfall.is_zero();
    auto [known, first] = coverage_short_.try_emplace(a.asset->id, short_now);
    // An alert when cover turns short (or is short when custodyd starts), and when it is
    // restored; nothing while it stays as it was.
    if (!first && known->second == short_now) continue;
    if (first && !short_now) continue;
    const std::string action = short_now ? "coverage.shortfall" : "coverage.restored";
    const nlohmann::json details = {{"required", a.cover_required.ToBaseUnitString()},
                                    {"configured", a.cover_configured.ToBaseUnitString()},
                                    {"shortfall", a.cover_shortfall.ToBaseUnitString()},
                                    {"hot", a.hot.ToBaseUnitString()},
                                    {"cold", a.cold.ToBaseUnitString()},
                                    {"ledger_seq", report.ledger_seq}};
    RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.Begin());
    RF_RETURN_IF_ERROR(
        AuditLog::Append(*txn, "system", action, a.asset->id, details.dump(), env_.NowUnixMs()).status());
    RF_RETURN_IF_ERROR(txn->Commit());
    known->second = short_now;
    Log(short_now ? Cat("ALERT coverage of ", a.asset->id, " is short by ", a.cover_shortfall.ToBaseUnitString(),
                        " (required ", a.cover_required.ToBaseUnitString(), ", configured ",
                        a.cover_configured.ToBaseUnitString(), ")")
                  : Cat("coverage of ", a.asset->id, " restored (required ", a.cover_required.ToBaseUnitString(),
                        ", configured ", a.cover_configured.ToBaseUnitString(), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ExecutorPass> WithdrawalExecutor::RunOnce() {
  {
    std::lock_guard<std::mutex> lock(build_mu_);
    spent_->listed = false;
  }
  // Sweeps first, so that this pass carries them as far as it carries withdrawals. A planning
  // error (the store) is logged; the withdrawals still move.
  if (absl::StatusOr<int> planned = PlanSweeps(); !planned.ok()) {
    Log(Cat("ERROR planning sweeps: ", planned.status().message()));
  }
  if (absl::StatusOr<int> planned = PlanReimbursements(); !planned.ok()) {
    Log(Cat("ERROR planning fee reimbursements: ", planned.status().message()));
  }
  if (absl::StatusOr<int> planned = PlanTopUps(); !planned.ok()) {
    Log(Cat("ERROR planning top-ups: ", planned.status().message()));
  }
  if (absl::StatusOr<int> planned = PlanGasForWithdrawals(); !planned.ok()) {
    Log(Cat("ERROR planning gas for withdrawals: ", planned.status().message()));
  }
  if (absl::StatusOr<int> planned = PlanGasForTopUps(); !planned.ok()) {
    Log(Cat("ERROR planning gas for top-ups: ", planned.status().message()));
  }
  // The withdrawals move through a pass in phases, each over all of them: claims (one at a
  // time: each build sees the inputs of those before it), signing (in parallel; the answers
  // recorded in one transaction), broadcasting (in parallel; recorded in one transaction),
  // then the look for confirmations. Each withdrawal still goes as far as it can in one pass,
  // but N of them make two commits for their signatures and broadcasts instead of 2N.
  auto list = [&]() -> absl::StatusOr<std::vector<WithdrawalRow>> {
    RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
    return txn->ListExecutable(env_.NowUnixMs() / 1000, options_.batch);
  };
  RF_ASSIGN_OR_RETURN(std::vector<WithdrawalRow> rows, list());
  // Each chain's tip once for the pass: the watch of broadcast transactions and the claims'
  // Bitcoin views are keyed by it.
  pass_tips_.clear();
  if (!rows.empty()) {
    for (const auto& [name, adapter] : adapters_) {
      if (absl::StatusOr<chain::BlockRef> tip = adapter->Tip(); tip.ok()) pass_tips_[name] = *tip;
    }
  }
  ExecutorPass total;
  auto in_state = [&](WithdrawalState state) {
    // An approved or signing top-up waits for ops to export it to the offline signer and to
    // import its signed answer (ExportTopUp, ImportSignedTopUp); from signed on it moves as any.
    std::vector<WithdrawalRow> of;
    for (const WithdrawalRow& r : rows) {
      const bool offline = r.kind == "top_up" && (state == WithdrawalState::kApproved || state == WithdrawalState::kSigning);
      if (r.state == state && !offline) of.push_back(r);
    }
    return of;
  };

  for (const WithdrawalRow& r : in_state(WithdrawalState::kApproved)) {
    if (stopping_) break;
    if (ClaimAndBuild(r, total) == Outcome::kRetry) ++total.retried;
  }
  if (!stopping_ && total.claimed > 0) {
    RF_ASSIGN_OR_RETURN(rows, list());
  }

  if (!stopping_) {
    const std::vector<WithdrawalRow> to_sign = in_state(WithdrawalState::kSigning);
    std::vector<std::optional<SignedAnswer>> answers(to_sign.size());
    InParallel(to_sign.size(), total, [&](size_t i, ExecutorPass& mine) { answers[i] = Answer(to_sign[i], mine); });
    std::vector<SignedAnswer> got;
    for (std::optional<SignedAnswer>& a : answers) {
      if (a.has_value()) got.push_back(*std::move(a));
    }
    if (!stopping_ && !got.empty()) RecordSignedAll(got, total);
    if (!stopping_ && total.signed_ > 0) {
      RF_ASSIGN_OR_RETURN(rows, list());
    }
  }

  if (!stopping_) {
    const std::vector<WithdrawalRow> to_send = in_state(WithdrawalState::kSigned);
    std::vector<char> sent(to_send.size(), 0);
    InParallel(to_send.size(), total, [&](size_t i, ExecutorPass& mine) { sent[i] = Send(to_send[i], mine) ? 1 : 0; });
    std::vector<WithdrawalRow> accepted;
    for (size_t i = 0; i < to_send.size(); ++i) {
      if (sent[i]) accepted.push_back(to_send[i]);
    }
    if (!stopping_ && !accepted.empty()) RecordBroadcastAll(accepted, total);
    if (!stopping_ && total.broadcast > 0) {
      RF_ASSIGN_OR_RETURN(rows, list());
    }
  }

  if (!stopping_) {
    const std::vector<WithdrawalRow> to_watch = in_state(WithdrawalState::kBroadcast);
    InParallel(to_watch.size(), total, [&](size_t i, ExecutorPass& mine) {
      if (Watch(to_watch[i], mine) == Outcome::kRetry) ++mine.retried;
    });
  }
  total.stopped = stopping_;
  // After the moves, so that a settlement and the coverage it changes are judged in one pass.
  if (!stopping_) {
    if (absl::Status checked = CheckCoverage(); !checked.ok()) {
      Log(Cat("ERROR checking coverage: ", checked.message()));
    }
    if (reconciler_ != nullptr) {
      // Logged once per distinct error: a node that stays away would otherwise fill the log.
      absl::StatusOr<ReconcilePass> reconciled = reconciler_->RunOnce();
      const std::string error = reconciled.ok() ? "" : std::string(reconciled.status().message());
      if (!error.empty() && error != reconcile_error_) Log(Cat("ERROR reconciling (retried each pass): ", error));
      reconcile_error_ = error;
    }
  }
  return total;
}

void WithdrawalExecutor::InParallel(size_t n, ExecutorPass& total,
                                    const std::function<void(size_t, ExecutorPass&)>& each) {
  if (n == 0) return;
  std::mutex total_mu;
  std::atomic<size_t> next{0};
  const std::function<void()> work = [&] {
    ExecutorPass mine;
    for (size_t i = next++; i < n && !stopping_; i = next++) each(i, mine);
    std::lock_guard<std::mutex> lock(total_mu);
    total.claimed += mine.claimed;
    total.signed_ += mine.signed_;
    total.broadcast += mine.broadcast;
    total.confirmed += mine.confirmed;
    total.failed += mine.failed;
    total.retried += mine.retried;
  };
  const size_t threads = std::min<size_t>(n, static_cast<size_t>(std::max(1, options_.parallelism)));
  RunOnWorkers(static_cast<int>(threads) - 1, work);
}

absl::StatusOr<sv1::SignTransactionRequest> WithdrawalExecutor::LoadBuild(store::Txn& txn,
                                                                          const std::string& withdrawal_id) {
  RF_ASSIGN_OR_RETURN(std::optional<store::IdempotencyRow> record, txn.GetIdempotency(BuildRecordKey(withdrawal_id)));
  if (!record.has_value() || record->method != kBuildMethod) {
    return absl::DataLossError(Cat("withdrawal ", withdrawal_id, " is past approved but has no build record"));
  }
  sv1::SignTransactionRequest request;
  if (!request.ParseFromString(record->response) ||
      base::HexEncode(codec::Sha256(Span(record->response))) != record->request_hash) {
    return absl::DataLossError(Cat("withdrawal ", withdrawal_id, ": its build record does not parse or match its hash"));
  }
  return request;
}

store::AddressRow WithdrawalExecutor::ChangeAddressRow(const std::string& wallet_id, const AssetConfig& asset,
                                                      const std::string& key_id, const std::string& address) const {
  // One of the wallet's own addresses (no client): watched by the deposit ingestor, which does
  // not count our own transactions' outputs as deposits, and summed into the wallet's
  // observed chain balance.
  return store::AddressRow{address, asset.id, wallet_id, "", key_id, env_.NowUnixMs()};
}

absl::Status WithdrawalExecutor::RecordChangeAddress(const std::string& wallet_id, const AssetConfig& asset,
                                                     const std::string& key_id, const std::string& address) {
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.Begin());
  absl::Status inserted = txn->InsertAddress(ChangeAddressRow(wallet_id, asset, key_id, address));
  if (absl::IsAlreadyExists(inserted)) return absl::OkStatus();  // another pass recorded it first
  RF_RETURN_IF_ERROR(inserted);
  RF_RETURN_IF_ERROR(txn->Commit());
  Log(Cat("change address ", address, " recorded as an address of wallet ", wallet_id));
  return absl::OkStatus();
}

absl::StatusOr<std::pair<std::string, std::string>> WithdrawalExecutor::ChangeKey(const std::string& wallet_id,
                                                                                 const AssetConfig& asset) {
  // Under build_mu_ (its one caller): read or made once per wallet, then kept.
  if (auto cached = change_keys_.find(wallet_id); cached != change_keys_.end()) return cached->second;
  const std::string key = Cat("executor/change-key/", wallet_id);
  std::optional<std::pair<std::string, std::string>> known;  // key id, address
  bool address_recorded = false;
  {
    RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
    RF_ASSIGN_OR_RETURN(std::optional<store::IdempotencyRow> row, txn->GetIdempotency(key));
    if (row.has_value()) {
      const size_t space = row->response.find(' ');
      if (row->method != kChangeKeyMethod || space == std::string::npos) {
        return absl::DataLossError(Cat("the change key record of ", wallet_id, " is malformed"));
      }
      known.emplace(row->response.substr(0, space), row->response.substr(space + 1));
      RF_ASSIGN_OR_RETURN(std::optional<store::AddressRow> address, txn->GetAddress(known->second));
      if (address.has_value()) {
        if (address->wallet_id != wallet_id || address->key_id != known->first || !address->client_id.empty()) {
          return absl::DataLossError(Cat("the change address ", known->second, " of ", wallet_id,
                                         " is recorded as another wallet's or client's address"));
        }
        address_recorded = true;
      }
    }
  }
  if (known.has_value()) {
    // A key made before change addresses were recorded as the wallet's own (schema 3) gets
    // its address row now, so that the chain observation and the ingestor see it.
    if (!address_recorded) RF_RETURN_IF_ERROR(RecordChangeAddress(wallet_id, asset, known->first, known->second));
    return change_keys_[wallet_id] = *std::move(known);
  }
  // Made once per wallet; a crash before the record below leaves an unused key in signerd.
  // client-hot, or house-hot for a reimbursement.
  RF_ASSIGN_OR_RETURN(const ringfence::custody::Account wallet, ParseWalletId(wallet_id));
  RF_ASSIGN_OR_RETURN(SignerKey made, keys_.CreateKey(Cat("change of ", wallet_id),
                                                      WalletBinding{wallet_id, asset.id, wallet.owner_class, wallet.tier}));
  // Bitcoin: a P2WPKH address; ether: the account's EIP-55 address.
  RF_ASSIGN_OR_RETURN(std::string address, DepositAddressFor(asset, made.public_key));
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.Begin());
  const std::string value = Cat(made.key_id, " ", address);
  absl::Status put = txn->PutIdempotency(
      store::IdempotencyRow{key, kChangeKeyMethod, base::HexEncode(codec::Sha256(Span(value))), value});
  if (absl::IsAlreadyExists(put)) return ChangeKey(wallet_id, asset);
  RF_RETURN_IF_ERROR(put);
  RF_RETURN_IF_ERROR(txn->InsertAddress(ChangeAddressRow(wallet_id, asset, made.key_id, address)));
  RF_RETURN_IF_ERROR(txn->Commit());
  Log(Cat("change key ", made.key_id, " (", address, ") made for wallet ", wallet_id));
  return change_keys_[wallet_id] = std::make_pair(made.key_id, address);
}

WithdrawalExecutor::Outcome WithdrawalExecutor::ClaimAndBuild(const WithdrawalRow& row, ExecutorPass& pass) {
  const AssetConfig* asset = config_.FindAsset(row.asset_id);
  if (asset == nullptr || AdapterFor(asset->chain) == nullptr) {
    Log(Cat(row.withdrawal_id, ": asset ", row.asset_id, " has no chain adapter; left approved"));
    return Outcome::kRetry;
  }
  std::lock_guard<std::mutex> lock(build_mu_);
  if (asset->chain == "bitcoin") {
    // Made (once) before the claim's transaction: the store has one writer at a time.
    absl::StatusOr<std::pair<std::string, std::string>> change = ChangeKey(row.source_wallet_id, *asset);
    if (!change.ok()) {
      Log(Cat(row.withdrawal_id, ": change key: ", change.status().message()));
      return Outcome::kRetry;
    }
    change_ = *change;
  }
  // The chain is read before the claim's transaction, so that no node call holds the store's
  // writer; what other unfinished withdrawals spend is subtracted inside it.
  absl::StatusOr<std::shared_ptr<const ChainView>> read = ReadChainForClaim(row, *asset);
  if (!read.ok()) {
    Log(Cat(row.withdrawal_id, ": build deferred: ", read.status().message()));
    return Outcome::kRetry;
  }
  const std::shared_ptr<const ChainView> view = *std::move(read);
  absl::StatusOr<std::unique_ptr<store::Txn>> txn = store_.Begin();
  if (!txn.ok()) return Outcome::kRetry;
  const int64_t now = env_.NowUnixMs();
  if (absl::StatusOr<bool> frozen = IsFrozen(**txn, row.asset_id); !frozen.ok() || *frozen) {
    return Outcome::kRetry;  // left approved until the freeze is lifted
  }
  absl::StatusOr<WithdrawalRow> claimed = (*txn)->ClaimWithdrawalForSigning(row.withdrawal_id, now);
  if (!claimed.ok()) {
    // Cancelled, or not yet due: nothing to do now.
    return Outcome::kRetry;
  }
  absl::StatusOr<sv1::SignTransactionRequest> request =
      asset->chain == "bitcoin" ? BuildBitcoin(**txn, *claimed, *view, change_.second, *spent_)
                                : BuildEthereum(**txn, *claimed, *asset, *view, *spent_);
  // Gas first: tokens a top-up brought sit in an account without ether, while cold may still
  // hold more.
  if (!request.ok() && (WaitsForGas(*claimed, *asset, *view, request.status()) ||
                        WaitsForTopUp(*claimed, *asset, request.status()))) {
    return Outcome::kRetry;  // dropped without Commit: still approved
  }
  if (!request.ok()) {
    if (absl::IsFailedPrecondition(request.status()) || absl::IsInvalidArgument(request.status())) {
      // Nothing can be built for it: committed as claimed, then failed, so the record shows both.
      if (!Audit(**txn, *claimed, "claimed", {{"build", "none"}}, now).ok() || !(*txn)->Commit().ok()) {
        return Outcome::kRetry;
      }
      txn->reset();  // the writer is free again for the failure's own transaction
      return FailUnsigned(*claimed, Cat("build: ", request.status().message()), pass);
    }
    Log(Cat(row.withdrawal_id, ": build deferred: ", request.status().message()));
    return Outcome::kRetry;  // dropped without Commit: still approved
  }
  std::string serialized;
  request->SerializeToString(&serialized);
  const std::string hash = base::HexEncode(codec::Sha256(Span(serialized)));
  absl::Status put =
      (*txn)->PutIdempotency(store::IdempotencyRow{BuildRecordKey(row.withdrawal_id), kBuildMethod, hash, serialized});
  if (put.ok()) put = Audit(**txn, *claimed, "claimed", {{"build_sha256", hash}}, now);
  if (!put.ok() || !(*txn)->Commit().ok()) return Outcome::kRetry;
  spent_->Add(row.withdrawal_id, *request);
  ++pass.claimed;
  return Step(row.withdrawal_id, "claimed") ? Outcome::kProgress : Outcome::kStopped;
}

std::map<std::string, WithdrawalExecutor::SpentIndex::Share>::iterator WithdrawalExecutor::SpentIndex::Insert(
    const std::string& id, const sv1::SignTransactionRequest& request) {
  Share share;
  AccountSpent(request, share.spent);
  share.round = round;
  for (const auto& o : share.spent.outpoints) ++outpoints[o];
  return shares.emplace(id, std::move(share)).first;
}

void WithdrawalExecutor::SpentIndex::Add(const std::string& id, const sv1::SignTransactionRequest& request) {
  if (!shares.contains(id)) Insert(id, request);
}

absl::Status WithdrawalExecutor::SpentIndex::Refresh(store::Txn& txn, const std::string& except, const Load& load) {
  if (once_per_pass && listed) return absl::OkStatus();
  listed = true;
  ++round;
  // Ids only: a share new to the index is parsed once from its build record.
  RF_ASSIGN_OR_RETURN(std::vector<std::string> ids, txn.ListUnfinishedIds(kMaxUnfinished));
  for (const std::string& id : ids) {
    auto it = shares.find(id);
    if (it == shares.end()) {
      if (id == except) continue;
      RF_ASSIGN_OR_RETURN(sv1::SignTransactionRequest req, load(id));
      it = Insert(id, req);
    }
    it->second.round = round;
  }
  for (auto it = shares.begin(); it != shares.end();) {
    if (it->second.round == round) {
      ++it;
      continue;
    }
    // Finished (or no longer listed): its coins and commitments are its own no more.
    for (const auto& o : it->second.spent.outpoints) {
      auto held = outpoints.find(o);
      if (held != outpoints.end() && --held->second <= 0) outpoints.erase(held);
    }
    it = shares.erase(it);
  }
  return absl::OkStatus();
}

Spent WithdrawalExecutor::SpentIndex::EthereumExcept(const std::string& except) const {
  Spent into;
  for (const auto& [id, share] : shares) {
    if (id == except) continue;
    const Spent& one = share.spent;
    for (const auto& [key, nonce] : one.next_nonce) into.next_nonce[key] = std::max(into.next_nonce[key], nonce);
    for (const auto& [key, value] : one.native_committed) AddTo(into.native_committed, key, value);
    for (const auto& [key, value] : one.token_committed) AddTo(into.token_committed, key, value);
  }
  return into;
}

absl::StatusOr<std::shared_ptr<const WithdrawalExecutor::ChainView>> WithdrawalExecutor::ReadChainForClaim(
    const WithdrawalRow& row, const AssetConfig& asset) {
  if (asset.chain != "bitcoin") {
    RF_ASSIGN_OR_RETURN(ChainView view, ReadChain(row, asset, change_));
    return std::make_shared<const ChainView>(std::move(view));
  }
  std::string tip_hash;
  if (auto tip = pass_tips_.find(asset.chain); tip != pass_tips_.end()) {
    tip_hash = tip->second.hash;
  } else {
    absl::StatusOr<chain::BlockRef> tip_now = AdapterFor(asset.chain)->Tip();
    if (!tip_now.ok()) return absl::UnavailableError(Cat("Tip: ", tip_now.status().message()));
    tip_hash = tip_now->hash;
  }
  CachedView& cached = claim_views_[row.source_wallet_id];
  if (cached.view != nullptr && cached.tip_hash == tip_hash && cached.change_address == change_.second) {
    return cached.view;
  }
  // Read before the tip it is kept under could move again: a block mined in between only makes
  // the view newer than its key, and the next claim after that block reads it again.
  RF_ASSIGN_OR_RETURN(ChainView view, ReadChain(row, asset, change_));
  std::sort(view.utxos.begin(), view.utxos.end(), txbuild::ConsideredBefore<chain::Utxo, chain::Utxo>);
  view.utxos_largest_first = true;
  cached = CachedView{tip_hash, change_.second, std::make_shared<const ChainView>(std::move(view))};
  return cached.view;
}

bool WithdrawalExecutor::DueForWatch(const WithdrawalRow& row) {
  auto tip = pass_tips_.find(row.chain);
  if (tip == pass_tips_.end()) return true;  // the tip could not be read: look every pass
  const int64_t now = env_.NowUnixMs();
  std::lock_guard<std::mutex> lock(watch_mu_);
  auto [it, first] = watched_.try_emplace(row.withdrawal_id, tip->second.hash, now);
  if (first) return true;
  if (it->second.first == tip->second.hash && now - it->second.second < kWatchRecheckMs) return false;
  it->second = {tip->second.hash, now};
  return true;
}

absl::StatusOr<WithdrawalExecutor::ChainView> WithdrawalExecutor::ReadChain(
    const WithdrawalRow& row, const AssetConfig& asset, const std::pair<std::string, std::string>& change) {
  chain::ChainAdapter& node = *AdapterFor(asset.chain);
  ChainView view;
  std::vector<store::AddressRow> addresses;
  {
    RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
    RF_ASSIGN_OR_RETURN(addresses, txn->ListAddressesOfWallet(row.source_wallet_id));
  }
  absl::StatusOr<chain::FeeEstimate> fee = node.EstimateFee();
  if (!fee.ok()) return absl::UnavailableError(Cat("EstimateFee: ", fee.status().message()));
  view.fee = *fee;
  if (asset.chain == "bitcoin") {
    for (const store::AddressRow& a : addresses) view.key_of[a.address] = a.key_id;
    view.key_of[change.second] = change.first;
    std::vector<std::string> all;
    for (const auto& [address, key] : view.key_of) all.push_back(address);
    for (size_t i = 0; i < all.size(); i += kUnspentChunk) {
      const std::span<const std::string> chunk(all.data() + i, std::min(kUnspentChunk, all.size() - i));
      absl::StatusOr<chain::UnspentSet> set = node.ListUnspent(chunk);
      if (!set.ok()) return absl::UnavailableError(Cat("ListUnspent: ", set.status().message()));
      view.utxos.insert(view.utxos.end(), set->outputs.begin(), set->outputs.end());
    }
    return view;
  }
  absl::StatusOr<chain::BlockRef> tip = node.Tip();
  if (!tip.ok()) return absl::UnavailableError(Cat("Tip: ", tip.status().message()));
  for (const store::AddressRow& a : addresses) {
    ChainView::Account account{a.address, a.key_id, {}, {}, 0};
    absl::StatusOr<base::Amount> native = node.BalanceAt(a.address, "", tip->height);
    if (!native.ok()) return absl::UnavailableError(Cat("BalanceAt: ", native.status().message()));
    account.native = *native;
    if (!asset.erc20_contract.empty()) {
      absl::StatusOr<base::Amount> held = node.BalanceAt(a.address, asset.erc20_contract, tip->height);
      if (!held.ok()) return absl::UnavailableError(Cat("BalanceAt: ", held.status().message()));
      account.token = *held;
    }
    absl::StatusOr<chain::AccountNonce> nonce = node.Nonce(a.address);
    if (!nonce.ok()) return absl::UnavailableError(Cat("Nonce: ", nonce.status().message()));
    account.pending_nonce = nonce->pending;
    view.accounts.push_back(std::move(account));
  }
  return view;
}

absl::StatusOr<sv1::SignTransactionRequest> WithdrawalExecutor::BuildBitcoin(store::Txn& txn, const WithdrawalRow& row,
                                                                             const ChainView& view,
                                                                             const std::string& change_address,
                                                                             SpentIndex& spent) {
  RF_RETURN_IF_ERROR(spent.Refresh(txn, row.withdrawal_id, [&](const std::string& id) { return LoadBuild(txn, id); }));
  std::vector<const chain::Utxo*> usable;
  for (const chain::Utxo& u : view.utxos) {
    // Confirmed coins only: an unconfirmed one can vanish with the transaction that made it.
    if (u.height == 0 || spent.Spends(OutpointView(u.txid, u.vout), row.withdrawal_id)) continue;
    usable.push_back(&u);
    // In BuildBitcoinSpend's own order, it considers no more than these (the one past them
    // keeps its "largest ... considered" note when funds fall short).
    if (view.utxos_largest_first && usable.size() > txbuild::kMaxInputs) break;
  }
  auto coins = [&](size_t n) {
    std::vector<txbuild::Coin> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const chain::Utxo& u = *usable[i];
      out.push_back(txbuild::Coin{u.txid, u.vout, u.amount, view.key_of.at(u.address), u.address});
    }
    return out;
  };
  if (row.amount.base_units() > codec::kMaxMoney) {
    return absl::FailedPreconditionError(Cat("amount: ", row.amount.ToBaseUnitString(), " satoshi is above 21,000,000 BTC"));
  }
  txbuild::BitcoinSpend spend;
  spend.destination = row.destination;
  spend.amount = static_cast<uint64_t>(row.amount.base_units());
  spend.change_address = change_address;
  spend.sat_per_vbyte = static_cast<uint64_t>(view.fee.sat_per_vbyte.base_units());
  spend.fee_cap = row.fee_cap;
  std::optional<txbuild::BitcoinPlan> quick;
  if (view.utxos_largest_first && usable.size() > kQuickCandidates) {
    // BuildBitcoinSpend takes the first coins, in this very order, that pay: when the first
    // few pay, the plan from them is the plan from all. Only when they do not is every
    // candidate decoded and sorted again.
    spend.candidates = coins(kQuickCandidates);
    absl::StatusOr<txbuild::BitcoinPlan> first = txbuild::BuildBitcoinSpend(spend);
    if (first.ok()) quick = *std::move(first);
  }
  if (!quick) {
    spend.candidates = coins(usable.size());
    RF_ASSIGN_OR_RETURN(quick, txbuild::BuildBitcoinSpend(spend));
  }
  const txbuild::BitcoinPlan& plan = *quick;
  const txbuild::SignRequestFields fields{row.withdrawal_id, row.chain,  row.network,           row.asset_id,
                                          row.amount,        row.destination, row.fee_cap, row.expires_at_unix_s,
                                          RequestKindOf(row)};
  return txbuild::BitcoinSignRequest(fields, plan);
}

absl::StatusOr<sv1::SignTransactionRequest> WithdrawalExecutor::BuildEthereum(store::Txn& txn, const WithdrawalRow& row,
                                                                              const AssetConfig& asset,
                                                                              const ChainView& view,
                                                                              SpentIndex& index) {
  RF_RETURN_IF_ERROR(index.Refresh(txn, row.withdrawal_id, [&](const std::string& id) { return LoadBuild(txn, id); }));
  const Spent spent = index.EthereumExcept(row.withdrawal_id);
  const bool token = !asset.erc20_contract.empty();
  txbuild::EthereumSpend spend = EthSpend(view, row.destination, row.amount, asset.erc20_contract, row.fee_cap);
  // The fee the sender must be able to pay: the most this transaction can cost.
  RF_ASSIGN_OR_RETURN(txbuild::EthereumPlan probe, txbuild::BuildEthereumSpend(spend));
  // What unfinished withdrawals of a sender will take is not this one's to spend.
  std::vector<txbuild::EthAccount> accounts;
  for (const ChainView::Account& a : view.accounts) {
    accounts.push_back(txbuild::EthAccount{a.address, a.key_id, LessCommitted(a.native, spent.native_committed, a.key_id),
                                           LessCommitted(a.token, spent.token_committed, a.key_id)});
  }
  RF_ASSIGN_OR_RETURN(size_t chosen, txbuild::ChooseEthSender(accounts, token, row.amount, probe.max_fee,
                                                              /*smallest=*/row.kind == "gas_funding"));
  spend.nonce = view.accounts[chosen].pending_nonce;
  if (auto it = spent.next_nonce.find(accounts[chosen].key_id); it != spent.next_nonce.end()) {
    spend.nonce = std::max(spend.nonce, it->second);
  }
  RF_ASSIGN_OR_RETURN(txbuild::EthereumPlan plan, txbuild::BuildEthereumSpend(spend));
  const txbuild::SignRequestFields fields{row.withdrawal_id, row.chain,  row.network,           row.asset_id,
                                          row.amount,        row.destination, row.fee_cap, row.expires_at_unix_s,
                                          RequestKindOf(row)};
  return txbuild::EthereumSignRequest(fields, plan, accounts[chosen].key_id);
}

absl::StatusOr<std::string> WithdrawalExecutor::CheckSigned(const sv1::SignTransactionRequest& request,
                                                            const sv1::SignTransactionResponse& response) const {
  if (response.signed_tx().empty()) return absl::DataLossError("signerd answered without a signed transaction");
  if (request.chain() == "bitcoin") {
    absl::StatusOr<codec::Transaction> tx = codec::ParseTransaction(Span(response.signed_tx()));
    absl::StatusOr<codec::Transaction> built = codec::ParseTransaction(Span(request.unsigned_tx()));
    if (!tx.ok() || !built.ok()) return absl::DataLossError("signerd's transaction does not parse");
    codec::Transaction stripped = *tx;
    for (codec::TxIn& in : stripped.inputs) in.witness.clear();
    if (stripped != *built) return absl::DataLossError("signerd signed another transaction than the one built");
    const std::string txid = codec::DisplayHex(codec::Txid(*tx));
    if (response.txid() != txid) return absl::DataLossError(Cat("signerd's txid is not the transaction's ", txid));
    return txid;
  }
  absl::StatusOr<codec::SignedEip1559Tx> tx = codec::DecodeSignedEip1559(Span(response.signed_tx()));
  absl::StatusOr<codec::Eip1559Tx> built = codec::DecodeUnsignedEip1559(Span(request.unsigned_tx()));
  if (!tx.ok() || !built.ok()) return absl::DataLossError("signerd's transaction does not decode");
  if (tx->tx != *built) return absl::DataLossError("signerd signed another transaction than the one built");
  const std::string txid = base::HexEncode(codec::EthTxHash(Span(response.signed_tx())));
  if (response.txid() != txid && response.txid() != "0x" + txid) {
    return absl::DataLossError(Cat("signerd's txid is not the transaction's ", txid));
  }
  return txid;
}

std::optional<WithdrawalExecutor::SignedAnswer> WithdrawalExecutor::Answer(const WithdrawalRow& row,
                                                                           ExecutorPass& pass) {
  sv1::SignTransactionRequest request;
  {
    absl::StatusOr<std::unique_ptr<store::Txn>> txn = store_.BeginRead();
    if (!txn.ok()) return Retry(pass);
    absl::StatusOr<sv1::SignTransactionRequest> built = LoadBuild(**txn, row.withdrawal_id);
    if (!built.ok()) {
      Log(Cat(row.withdrawal_id, ": ", built.status().message()));
      return Retry(pass);
    }
    request = *std::move(built);
    absl::StatusOr<std::vector<store::ApprovalRow>> approvals = (*txn)->ListApprovals(row.withdrawal_id);
    if (!approvals.ok()) return Retry(pass);
    for (const store::ApprovalRow& a : *approvals) {
      sv1::TransactionApproval* out = request.add_approvals();
      out->set_approver_id(a.approver_id);
      out->set_signature(a.signature);
    }
  }
  absl::StatusOr<sv1::SignTransactionResponse> response = signer_.SignTransaction(request);
  if (!response.ok()) {
    if (absl::IsUnavailable(response.status()) || absl::IsDeadlineExceeded(response.status())) {
      Log(Cat(row.withdrawal_id, ": signing deferred: ", response.status().message()));
      return Retry(pass);
    }
    FailUnsigned(row, Cat("signer: ", response.status().message()), pass);
    return std::nullopt;
  }
  absl::StatusOr<std::string> txid = CheckSigned(request, *response);
  if (!txid.ok()) {
    // Never broadcast what was not built; an operator must look (it stays in signing).
    Log(Cat("ERROR ", row.withdrawal_id, ": ", txid.status().message(), "; left in signing"));
    return Retry(pass);
  }
  if (!Step(row.withdrawal_id, "answered")) return std::nullopt;
  return SignedAnswer{row, *std::move(txid), response->signed_tx(), response->replayed()};
}

std::nullopt_t WithdrawalExecutor::Retry(ExecutorPass& pass) {
  ++pass.retried;
  return std::nullopt;
}

template <typename T>
std::vector<const T*> WithdrawalExecutor::CommitEach(const std::vector<T>& items, ExecutorPass& pass,
                                                     const std::function<absl::Status(store::Txn&, const T&)>& record) {
  // All in one transaction; if any record fails, that transaction is dropped whole and each
  // item is tried in a transaction of its own, so that one bad row holds up no other.
  std::vector<const T*> done;
  {
    absl::StatusOr<std::unique_ptr<store::Txn>> txn = store_.Begin();
    bool all = txn.ok();
    for (size_t i = 0; all && i < items.size(); ++i) all = record(**txn, items[i]).ok();
    if (all && (*txn)->Commit().ok()) {
      for (const T& item : items) done.push_back(&item);
      return done;
    }
  }
  for (const T& item : items) {
    absl::StatusOr<std::unique_ptr<store::Txn>> txn = store_.Begin();
    if (txn.ok() && record(**txn, item).ok() && (*txn)->Commit().ok()) {
      done.push_back(&item);
    } else {
      ++pass.retried;
    }
  }
  return done;
}

void WithdrawalExecutor::RecordSignedAll(const std::vector<SignedAnswer>& answers, ExecutorPass& pass) {
  const std::vector<const SignedAnswer*> done = CommitEach<SignedAnswer>(
      answers, pass, [&](store::Txn& txn, const SignedAnswer& a) -> absl::Status {
        const int64_t now = env_.NowUnixMs();
        RF_RETURN_IF_ERROR(txn.RecordSigned(a.row.withdrawal_id, a.txid, a.signed_tx, now));
        return Audit(txn, a.row, "signed", {{"txid", a.txid}, {"replayed", a.replayed}}, now);
      });
  for (const SignedAnswer* a : done) {
    ++pass.signed_;
    if (!Step(a->row.withdrawal_id, "signed")) return;
  }
}

bool WithdrawalExecutor::Send(const WithdrawalRow& row, ExecutorPass& pass) {
  chain::ChainAdapter* node = AdapterFor(row.chain);
  if (node == nullptr) {
    ++pass.retried;
    return false;
  }
  absl::StatusOr<std::string> sent = node->Broadcast(Span(row.signed_tx));
  if (!sent.ok()) {
    // Retried with the same bytes on a later pass, whatever the node said.
    Log(Cat(row.withdrawal_id, ": broadcast of ", row.txid, " deferred: ", sent.status().message()));
    ++pass.retried;
    return false;
  }
  return Step(row.withdrawal_id, "sent");
}

void WithdrawalExecutor::RecordBroadcastAll(const std::vector<WithdrawalRow>& rows, ExecutorPass& pass) {
  const std::vector<const WithdrawalRow*> done =
      CommitEach<WithdrawalRow>(rows, pass, [&](store::Txn& txn, const WithdrawalRow& row) -> absl::Status {
        const int64_t now = env_.NowUnixMs();
        // A client's withdrawal leaves the client's claims here (held -> in flight); a sweep
        // stays client money throughout and is booked once, at settlement.
        uint64_t seq = 0;
        if (!store::IsInternalMove(row)) {
          absl::StatusOr<uint64_t> moved = MoveHold(txn, row, "withdrawal_broadcast", InflightAccount(row.source_wallet_id), now);
          if (!moved.ok()) {
            Log(Cat(row.withdrawal_id, ": broadcast entry: ", moved.status().message()));
            return moved.status();
          }
          seq = *moved;
        }
        RF_RETURN_IF_ERROR(txn.RecordBroadcast(row.withdrawal_id, now));
        return Audit(txn, row, "broadcast", {{"txid", row.txid}, {"journal_seq", seq}}, now);
      });
  for (const WithdrawalRow* row : done) {
    ++pass.broadcast;
    // The node took it just now: as good as a look at this tip (DueForWatch).
    DueForWatch(*row);
    if (!Step(row->withdrawal_id, "broadcast")) return;
  }
}

absl::StatusOr<base::Amount> WithdrawalExecutor::NetworkFee(const sv1::SignTransactionRequest& request) const {
  if (request.chain() == "bitcoin") {
    RF_ASSIGN_OR_RETURN(codec::Transaction tx, codec::ParseTransaction(Span(request.unsigned_tx())));
    std::vector<uint64_t> amounts;
    for (const sv1::BitcoinInputSpend& in : request.bitcoin_inputs()) amounts.push_back(in.amount());
    RF_ASSIGN_OR_RETURN(uint64_t fee, codec::Fee(tx, amounts));
    return base::Amount(fee);
  }
  // chainsim charges gas_limit x max_fee_per_gas whatever the gas used (tools/chainsim/README.md);
  // a real node's receipt will give gas used x effective price.
  RF_ASSIGN_OR_RETURN(codec::Eip1559Tx tx, codec::DecodeUnsignedEip1559(Span(request.unsigned_tx())));
  RF_ASSIGN_OR_RETURN(unsigned __int128 fee, codec::MaxFeeWei(tx));
  return base::Amount(fee);
}

WithdrawalExecutor::Outcome WithdrawalExecutor::Watch(const WithdrawalRow& row, ExecutorPass& pass) {
  chain::ChainAdapter* node = AdapterFor(row.chain);
  const AssetConfig* asset = config_.FindAsset(row.asset_id);
  if (node == nullptr || asset == nullptr) return Outcome::kRetry;
  if (!DueForWatch(row)) return Outcome::kRetry;  // nothing can have changed on the node since the last look
  absl::StatusOr<chain::TxStatus> status = node->GetTransaction(row.txid);
  if (!status.ok()) return Outcome::kRetry;
  if (status->state == chain::TxState::kUnknown) {
    // Dropped or evicted: the same bytes again (a double spend of its inputs is refused by the
    // node and logged; replacing the transaction needs a new withdrawal with new approvals).
    absl::StatusOr<std::string> sent = node->Broadcast(Span(row.signed_tx));
    Log(Cat(row.withdrawal_id, ": ", row.txid, " is unknown to the node; broadcast again: ",
            sent.ok() ? "accepted" : std::string(sent.status().message())));
    return Outcome::kRetry;
  }
  if (status->state != chain::TxState::kConfirmed || status->confirmations < asset->confirmations) return Outcome::kRetry;
  if (!Step(row.withdrawal_id, "settling")) return Outcome::kStopped;

  // Not while a build is between reading the chain and its claim: a withdrawal that finishes
  // in that window would stop reserving inputs the build saw as unspent.
  std::lock_guard<std::mutex> lock(build_mu_);
  absl::StatusOr<std::unique_ptr<store::Txn>> txn = store_.Begin();
  if (!txn.ok()) return Outcome::kRetry;
  absl::StatusOr<sv1::SignTransactionRequest> request = LoadBuild(**txn, row.withdrawal_id);
  if (!request.ok()) return Outcome::kRetry;
  absl::StatusOr<base::Amount> fee = NetworkFee(*request);
  if (!fee.ok()) return Outcome::kRetry;
  absl::StatusOr<std::vector<store::Posting>> settlement =
      row.kind == "sweep"               ? SweepSettlement(row, *asset, *fee)
      : row.kind == "top_up"            ? TopUpSettlement(row, *fee)
      : row.kind == "fee_reimbursement" ? ReimbursementSettlement(row, *fee)
      : row.kind == "gas_funding"       ? GasFundingSettlement(row, *fee)
                                        : WithdrawalSettlement(**txn, row, *fee);
  if (!settlement.ok()) {
    Log(Cat("ERROR ", row.withdrawal_id, ": ", settlement.status().message(), "; not settled"));
    return Outcome::kRetry;
  }
  absl::StatusOr<uint64_t> seq =
      Ledger::Post(**txn, Entry(row, Cat(row.kind, "_settle"), *std::move(settlement), env_.NowUnixMs()));
  if (!seq.ok()) {
    Log(Cat(row.withdrawal_id, ": settlement entry: ", seq.status().message()));
    return Outcome::kRetry;
  }
  nlohmann::json details = {
      {"txid", row.txid}, {"network_fee", fee->ToBaseUnitString()}, {"height", status->height}, {"journal_seq", *seq}};
  if (row.fee_asset != row.asset_id && !fee->is_zero()) {
    // A token withdrawal's (or sweep's) gas left the sending account's ether, which the books
    // hold in the fee asset's client-hot wallet (docs/ledger.md): the house owes it back (a
    // receivable).
    const std::string gas_wallet = ClientHotWallet(row.fee_asset);
    store::JournalEntry gas =
        Entry(row, Cat(row.kind, "_gas"), {{ReceivableAccount(gas_wallet), true, *fee}, {WalletAccount(gas_wallet), false, *fee}},
              env_.NowUnixMs());
    gas.asset_id = row.fee_asset;
    absl::StatusOr<uint64_t> gas_seq = Ledger::Post(**txn, std::move(gas));
    if (!gas_seq.ok()) {
      Log(Cat("ERROR ", row.withdrawal_id, ": gas entry in ", row.fee_asset, ": ", gas_seq.status().message(),
              "; not settled"));
      return Outcome::kRetry;
    }
    details["gas_journal_seq"] = *gas_seq;
  }
  if (!(*txn)->SettleWithdrawal(row.withdrawal_id, *fee, status->height, *seq, env_.NowUnixMs()).ok() ||
      !Audit(**txn, row, "confirmed", std::move(details), env_.NowUnixMs()).ok() ||
      !(*txn)->Commit().ok()) {
    return Outcome::kRetry;
  }
  ++pass.confirmed;
  {
    std::lock_guard<std::mutex> watch_lock(watch_mu_);
    watched_.erase(row.withdrawal_id);
  }
  return Step(row.withdrawal_id, "confirmed") ? Outcome::kProgress : Outcome::kStopped;
}

absl::StatusOr<std::vector<store::Posting>> WithdrawalExecutor::WithdrawalSettlement(store::Txn& txn,
                                                                                    const WithdrawalRow& row,
                                                                                    base::Amount fee) {
  RF_ASSIGN_OR_RETURN(std::optional<store::HoldRow> hold, txn.GetHold(row.withdrawal_id));
  if (!hold.has_value()) return absl::FailedPreconditionError("the withdrawal has no hold");
  const base::Amount h = hold->amount;
  std::vector<store::Posting> postings = {{InflightAccount(row.source_wallet_id), true, h}};
  if (row.fee_charged_to_client) {
    std::optional<base::Amount> out = row.amount.CheckedAdd(fee);
    std::optional<base::Amount> back = out ? h.CheckedSub(*out) : std::nullopt;
    if (!back) return absl::FailedPreconditionError("amount + fee exceeds the hold");
    postings.push_back({WalletAccount(row.source_wallet_id), false, *out});
    if (!back->is_zero()) postings.push_back({ClientAvailableAccount(row.client_id, row.asset_id), false, *back});
  } else {
    // ERC-20: the hold is the amount; the gas is the house's (docs/withdrawal-executor.md).
    postings.push_back({WalletAccount(row.source_wallet_id), false, h});
  }
  return postings;
}

absl::StatusOr<std::vector<store::Posting>> WithdrawalExecutor::SweepSettlement(const WithdrawalRow& row,
                                                                               const AssetConfig& asset,
                                                                               base::Amount fee) const {
  // The amount moves to the cold wallet; the fee left the hot wallet's coins on the house's
  // account, so the house owes it to the client wallet until it pays it back (a receivable). A
  // token's gas is ether: booked by the caller's second entry in the ether asset.
  const base::Amount own_fee = row.fee_asset == row.asset_id ? fee : base::Amount::Zero();
  std::optional<base::Amount> out = row.amount.CheckedAdd(own_fee);
  if (!out) return absl::OutOfRangeError("amount + fee exceeds 2^128 - 1");
  std::vector<store::Posting> postings = {{WalletAccount(WalletsOf(asset)[1].wallet_id), true, row.amount},
                                          {WalletAccount(row.source_wallet_id), false, *out}};
  if (!own_fee.is_zero()) postings.push_back({ReceivableAccount(row.source_wallet_id), true, own_fee});
  return postings;
}

absl::StatusOr<std::vector<store::Posting>> WithdrawalExecutor::TopUpSettlement(const WithdrawalRow& row,
                                                                               base::Amount fee) const {
  // The amount arrives in the hot wallet; the fee left the cold wallet's coins on the house's
  // account: the house owes it to the client wallets, and pays it back into client-hot (a
  // receivable of client-hot, settled by a fee reimbursement like a sweep's fee).
  // A token's gas is ether: booked by the caller's second entry in the ether asset.
  const base::Amount own_fee = row.fee_asset == row.asset_id ? fee : base::Amount::Zero();
  std::optional<base::Amount> out = row.amount.CheckedAdd(own_fee);
  if (!out) return absl::OutOfRangeError("amount + fee exceeds 2^128 - 1");
  const std::string client_hot = ClientHotWallet(row.asset_id);
  std::vector<store::Posting> postings = {{WalletAccount(client_hot), true, row.amount},
                                          {WalletAccount(row.source_wallet_id), false, *out}};
  if (!own_fee.is_zero()) postings.push_back({ReceivableAccount(client_hot), true, own_fee});
  return postings;
}

absl::StatusOr<std::vector<store::Posting>> WithdrawalExecutor::GasFundingSettlement(const WithdrawalRow& row,
                                                                                    base::Amount fee) const {
  // The ether stays in the books' ETH client-hot wallet, which holds the chain's ether at every
  // client-hot address of the chain, token accounts included (docs/ledger.md); only the fee
  // left it, on the house's account: a receivable, as a sweep's fee.
  if (fee.is_zero()) return absl::FailedPreconditionError("a gas_funding with no network fee moves nothing on the books");
  return std::vector<store::Posting>{{ReceivableAccount(row.source_wallet_id), true, fee},
                                     {WalletAccount(row.source_wallet_id), false, fee}};
}

absl::StatusOr<std::vector<store::Posting>> WithdrawalExecutor::ReimbursementSettlement(const WithdrawalRow& row,
                                                                                       base::Amount fee) const {
  // The house pays back what it owed the client-hot wallet (the receivable is cleared by the
  // coins that arrive) and bears this transfer's fee; both are the house's expense.
  std::optional<base::Amount> out = row.amount.CheckedAdd(fee);
  if (!out) return absl::OutOfRangeError("amount + fee exceeds 2^128 - 1");
  const std::string client_hot = ClientHotWallet(row.asset_id);
  return std::vector<store::Posting>{{WalletAccount(client_hot), true, row.amount},
                                     {ReceivableAccount(client_hot), false, row.amount},
                                     {FeesAccount(row.asset_id), true, *out},
                                     {WalletAccount(row.source_wallet_id), false, *out}};
}

WithdrawalExecutor::Outcome WithdrawalExecutor::FailUnsigned(const WithdrawalRow& row, const std::string& reason,
                                                             ExecutorPass& pass) {
  absl::StatusOr<std::unique_ptr<store::Txn>> txn = store_.Begin();
  if (!txn.ok()) return Outcome::kRetry;
  // A sweep reserved nothing, so nothing is released.
  absl::StatusOr<uint64_t> seq =
      store::IsInternalMove(row) ? absl::StatusOr<uint64_t>(0)
                   : MoveHold(**txn, row, "withdrawal_release", ClientAvailableAccount(row.client_id, row.asset_id),
                              env_.NowUnixMs());
  const std::string clipped = reason.substr(0, 400);
  if (!seq.ok() || !(*txn)->FailWithdrawal(row.withdrawal_id, clipped, *seq, env_.NowUnixMs()).ok() ||
      !Audit(**txn, row, "failed", {{"reason", clipped}, {"journal_seq", *seq}}, env_.NowUnixMs()).ok() ||
      !(*txn)->Commit().ok()) {
    return Outcome::kRetry;
  }
  Log(Cat(row.withdrawal_id, ": failed: ", clipped));
  ++pass.failed;
  Step(row.withdrawal_id, "failed");
  return Outcome::kFailed;
}

// --- top-ups through the offline signer ---------------------------------------------------------

namespace {

absl::StatusOr<WithdrawalRow> LoadTopUp(store::Txn& txn, const std::string& withdrawal_id) {
  RF_ASSIGN_OR_RETURN(std::optional<WithdrawalRow> row, txn.GetWithdrawal(withdrawal_id));
  if (!row) return absl::NotFoundError(Cat("withdrawal_id: no withdrawal ", base::Clip(withdrawal_id)));
  if (row->kind != "top_up") {
    return absl::FailedPreconditionError(
        Cat("withdrawal_id: ", withdrawal_id, " is a ", row->kind, "; only a top-up is signed offline"));
  }
  return *std::move(row);
}

// Each input's witness is [DER signature + SIGHASH_ALL, compressed public key] by the key the
// build chose for it (whose P2WPKH address is `address_of` the key id), over BIP-143's hash.
absl::Status VerifyWitnesses(const sv1::SignTransactionRequest& request, const codec::Transaction& signed_tx,
                             const std::map<std::string, std::string>& address_of) {
  if (static_cast<size_t>(request.bitcoin_inputs_size()) != signed_tx.inputs.size()) {
    return absl::FailedPreconditionError("signed_tx: not as many inputs as the exported transaction");
  }
  const codec::Bip143Shared shared = codec::Bip143Precompute(signed_tx);
  for (size_t i = 0; i < signed_tx.inputs.size(); ++i) {
    const std::string where = Cat("signed_tx: input ", i);
    const sv1::BitcoinInputSpend& spend = request.bitcoin_inputs(static_cast<int>(i));
    auto address = address_of.find(spend.key_id());
    if (address == address_of.end()) {
      return absl::FailedPreconditionError(Cat(where, " is by key ", spend.key_id(), ", not a key of the cold wallet"));
    }
    absl::StatusOr<codec::SegwitAddress> decoded = codec::DecodeSegwitAddress(address->second);
    if (!decoded.ok() || decoded->program.size() != 20) {
      return absl::FailedPreconditionError(Cat(where, ": the key's address ", address->second, " is not P2WPKH"));
    }
    std::array<uint8_t, 20> program{};
    std::copy(decoded->program.begin(), decoded->program.end(), program.begin());
    const std::vector<std::vector<uint8_t>>& witness = signed_tx.inputs[i].witness;
    if (witness.size() != 2 || witness[1].size() != 33 || witness[0].size() < 9 ||
        witness[0].back() != codec::kSighashAll) {
      return absl::FailedPreconditionError(Cat(where, ": the witness is not a P2WPKH signature and public key"));
    }
    if (codec::Hash160(witness[1]) != program) {
      return absl::FailedPreconditionError(Cat(where, ": the witness's public key is not the key of ", address->second));
    }
    absl::StatusOr<codec::CompactSignature> sig =
        codec::ParseDerSignature(std::span<const uint8_t>(witness[0].data(), witness[0].size() - 1));
    if (!sig.ok()) return absl::FailedPreconditionError(Cat(where, ": ", sig.status().message()));
    absl::StatusOr<std::array<uint8_t, 32>> sighash =
        codec::Bip143Sighash(signed_tx, shared, i, codec::P2wpkhScriptCode(program), spend.amount(), codec::kSighashAll);
    if (!sighash.ok()) return absl::FailedPreconditionError(Cat(where, ": ", sighash.status().message()));
    if (absl::Status ok = codec::VerifyEcdsa(*sighash, *sig, witness[1]); !ok.ok()) {
      return absl::FailedPreconditionError(Cat(where, ": the signature does not verify (", ok.message(), ")"));
    }
  }
  return absl::OkStatus();
}

// The signature recovers to the account of the key the build chose to send from (the cold
// wallet's `address_of` that key id).
absl::Status VerifySender(const sv1::SignTransactionRequest& request, const std::string& signed_tx,
                          const std::map<std::string, std::string>& address_of) {
  auto address = address_of.find(request.ethereum_key_id());
  if (address == address_of.end()) {
    return absl::FailedPreconditionError(
        Cat("signed_tx: sent by key ", request.ethereum_key_id(), ", not a key of the cold wallet"));
  }
  absl::StatusOr<codec::SignedEip1559Tx> tx = codec::DecodeSignedEip1559(Span(signed_tx));
  if (!tx.ok()) return absl::FailedPreconditionError(Cat("signed_tx: ", tx.status().message()));
  absl::StatusOr<codec::EthAddress> sender = codec::RecoverSender(*tx);
  if (!sender.ok()) return absl::FailedPreconditionError(Cat("signed_tx: the signature does not recover: ", sender.status().message()));
  if (codec::EthChecksumAddress(*sender) != address->second) {
    return absl::FailedPreconditionError(Cat("signed_tx: signed by ", codec::EthChecksumAddress(*sender), ", not by ",
                                             address->second, ", the account the transaction was built to send from"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::pair<std::string, std::string>> WithdrawalExecutor::ColdChange(const std::string& cold_wallet) {
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> snapshot, store_.BeginRead());
  RF_ASSIGN_OR_RETURN(std::vector<store::AddressRow> cold, snapshot->ListAddressesOfWallet(cold_wallet));
  if (cold.empty()) return absl::FailedPreconditionError(Cat(cold_wallet, " has no imported cold key"));
  return std::make_pair(cold.front().key_id, cold.front().address);
}

absl::StatusOr<std::optional<WithdrawalExecutor::ChainView>> WithdrawalExecutor::ReadForExport(
    const std::string& withdrawal_id) {
  WithdrawalRow row;
  {
    RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> snapshot, store_.BeginRead());
    RF_ASSIGN_OR_RETURN(row, LoadTopUp(*snapshot, withdrawal_id));
  }
  if (row.state == WithdrawalState::kSigning) return std::nullopt;  // exported before: its bundle is recorded
  if (row.state != WithdrawalState::kApproved) {
    return absl::FailedPreconditionError(Cat("withdrawal_id: top-up ", withdrawal_id, " is ",
                                             store::WithdrawalStateName(row.state),
                                             "; only an approved top-up is exported"));
  }
  const AssetConfig* asset = config_.FindAsset(row.asset_id);
  if (asset == nullptr || AdapterFor(asset->chain) == nullptr) {
    return absl::FailedPreconditionError(Cat("withdrawal_id: asset ", row.asset_id, " has no chain adapter"));
  }
  RF_ASSIGN_OR_RETURN(const auto change, ColdChange(row.source_wallet_id));
  return ReadChain(row, *asset, change);  // ether: the cold wallet's accounts, balances and nonces
}

absl::StatusOr<ExportedBundle> WithdrawalExecutor::ExportTopUp(store::Txn& txn, const std::string& withdrawal_id,
                                                               const std::optional<ChainView>& view) {
  RF_ASSIGN_OR_RETURN(WithdrawalRow row, LoadTopUp(txn, withdrawal_id));
  ExportedBundle out;
  if (row.state == WithdrawalState::kSigning) {
    RF_ASSIGN_OR_RETURN(std::optional<store::IdempotencyRow> record, txn.GetIdempotency(BundleRecordKey(withdrawal_id)));
    if (!record || record->method != kBundleMethod) {
      return absl::DataLossError(Cat("top-up ", withdrawal_id, " is signing but has no exported bundle"));
    }
    RF_RETURN_IF_ERROR(offline::ReadSigningBundle(record->response, &out.digest).status());
    out.file = record->response;
    out.row = std::move(row);
    return out;
  }
  if (row.state != WithdrawalState::kApproved || !view) {
    return absl::FailedPreconditionError(Cat("withdrawal_id: top-up ", withdrawal_id, " is ",
                                             store::WithdrawalStateName(row.state), "; export it again"));
  }
  // A frozen asset moves nothing new out (custody/reconciler.h); the top-up stays approved.
  RF_ASSIGN_OR_RETURN(const bool frozen, IsFrozen(txn, row.asset_id));
  if (frozen) {
    return absl::FailedPreconditionError(
        Cat("asset_frozen: ", row.asset_id, " is frozen by reconciliation; top-up ", withdrawal_id, " stays approved"));
  }
  const int64_t now = env_.NowUnixMs();
  RF_ASSIGN_OR_RETURN(WithdrawalRow claimed, txn.ClaimWithdrawalForSigning(withdrawal_id, now));
  RF_ASSIGN_OR_RETURN(const auto change, ColdChange(row.source_wallet_id));
  const AssetConfig* asset = config_.FindAsset(row.asset_id);
  if (asset == nullptr) return absl::FailedPreconditionError(Cat("asset ", row.asset_id, " is not configured"));
  // Cold funds are spent by nothing but top-ups (one at a time per asset), so this build needs
  // no lock against the executor's hot builds; its own cache of what unfinished builds spend
  // (ether: the nonces their builds took, for a cold account as for any).
  SpentIndex spent;
  absl::StatusOr<sv1::SignTransactionRequest> request =
      asset->chain == "bitcoin" ? BuildBitcoin(txn, claimed, *view, change.second, spent)
                                : BuildEthereum(txn, claimed, *asset, *view, spent);
  if (!request.ok()) {
    return absl::FailedPreconditionError(Cat("top-up ", withdrawal_id, " cannot be built from ", row.source_wallet_id,
                                             ": ", request.status().message()));
  }
  std::string serialized;
  request->SerializeToString(&serialized);
  const std::string build_hash = base::HexEncode(codec::Sha256(Span(serialized)));
  RF_RETURN_IF_ERROR(
      txn.PutIdempotency(store::IdempotencyRow{BuildRecordKey(withdrawal_id), kBuildMethod, build_hash, serialized}));
  RF_ASSIGN_OR_RETURN(std::vector<store::ApprovalRow> approvals, txn.ListApprovals(withdrawal_id));
  offline::SigningBundle bundle;
  bundle.bundle_id = withdrawal_id;
  bundle.kind = "top_up";
  bundle.source_wallet = row.source_wallet_id;
  bundle.created_at = now / 1000;
  bundle.request = *std::move(request);
  for (const store::ApprovalRow& a : approvals) {
    sv1::TransactionApproval* approval = bundle.request.add_approvals();
    approval->set_approver_id(a.approver_id);
    approval->set_signature(a.signature);
  }
  RF_ASSIGN_OR_RETURN(out.file, offline::WriteSigningBundle(bundle));
  RF_ASSIGN_OR_RETURN(out.digest, offline::SigningBundleDigest(bundle));
  RF_RETURN_IF_ERROR(txn.PutIdempotency(
      store::IdempotencyRow{BundleRecordKey(withdrawal_id), kBundleMethod, base::HexEncode(out.digest), out.file}));
  RF_RETURN_IF_ERROR(Audit(txn, claimed, "exported",
                           {{"bundle_digest", base::HexEncode(out.digest)},
                            {"build_sha256", build_hash},
                            {"approvals", approvals.size()}},
                           now));
  out.row = std::move(claimed);
  return out;
}

absl::StatusOr<ImportedBundle> WithdrawalExecutor::ImportSignedTopUp(store::Txn& txn,
                                                                     const offline::SignedBundle& signed_bundle) {
  const std::string& id = signed_bundle.bundle_id;
  RF_ASSIGN_OR_RETURN(WithdrawalRow row, LoadTopUp(txn, id));
  RF_ASSIGN_OR_RETURN(std::optional<store::IdempotencyRow> record, txn.GetIdempotency(BundleRecordKey(id)));
  if (!record || record->method != kBundleMethod) {
    return absl::FailedPreconditionError(Cat("bundle_id: top-up ", id, " was never exported"));
  }
  if (record->request_hash != base::HexEncode(signed_bundle.bundle_digest)) {
    return absl::FailedPreconditionError(Cat("bundle_digest: ", base::HexEncode(signed_bundle.bundle_digest),
                                             " is not the digest of the bundle exported for ", id, " (",
                                             record->request_hash, ")"));
  }
  if (row.state != WithdrawalState::kSigning) {
    if (!row.txid.empty() && row.txid == signed_bundle.txid && row.signed_tx == signed_bundle.signed_tx) {
      return ImportedBundle{std::move(row), true};
    }
    return absl::FailedPreconditionError(
        Cat("bundle_id: top-up ", id, " is ", store::WithdrawalStateName(row.state), ", not waiting for its signature"));
  }
  RF_ASSIGN_OR_RETURN(sv1::SignTransactionRequest request, LoadBuild(txn, id));
  sv1::SignTransactionResponse answer;
  answer.set_signed_tx(signed_bundle.signed_tx);
  answer.set_txid(signed_bundle.txid);
  absl::StatusOr<std::string> txid = CheckSigned(request, answer);
  if (!txid.ok()) return absl::FailedPreconditionError(Cat("signed_tx: ", txid.status().message()));
  std::map<std::string, std::string> address_of;
  RF_ASSIGN_OR_RETURN(std::vector<store::AddressRow> cold, txn.ListAddressesOfWallet(row.source_wallet_id));
  for (const store::AddressRow& a : cold) address_of[a.key_id] = a.address;
  if (request.chain() == "bitcoin") {
    absl::StatusOr<codec::Transaction> tx = codec::ParseTransaction(Span(signed_bundle.signed_tx));
    if (!tx.ok()) return absl::FailedPreconditionError(Cat("signed_tx: ", tx.status().message()));
    RF_RETURN_IF_ERROR(VerifyWitnesses(request, *tx, address_of));
  } else {
    RF_RETURN_IF_ERROR(VerifySender(request, signed_bundle.signed_tx, address_of));
  }
  const int64_t now = env_.NowUnixMs();
  RF_RETURN_IF_ERROR(txn.RecordSigned(id, *txid, signed_bundle.signed_tx, now));
  RF_RETURN_IF_ERROR(Audit(txn, row, "signed",
                           {{"txid", *txid},
                            {"offline_log_sequence", signed_bundle.log_sequence},
                            {"signer_key", base::HexEncode(signed_bundle.signer_key)}},
                           now));
  RF_ASSIGN_OR_RETURN(std::optional<WithdrawalRow> updated, txn.GetWithdrawal(id));
  if (!updated) return absl::DataLossError(Cat("top-up ", id, " vanished"));
  return ImportedBundle{*std::move(updated), false};
}

}  // namespace ringfence::custody

#include "custody/reconciler.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/hex.h"
#include "base/status.h"
#include "base/text.h"
#include "custody/approvers.h"
#include "custody/audit_log.h"
#include "custody/ledger.h"
#include "custody/whitelist.h"
#include "policy/config.h"

namespace ringfence::custody {

using base::Amount;
using base::Cat;
using base::Clip;
using nlohmann::json;

namespace {

constexpr std::string_view kSystemActor = "system";
constexpr uint32_t kMovePage = 1000;
// As the deposit ingestor's observation (deposits.cc): one node call per address per new block
// is too many above this; such a deployment needs the node's own per-wallet balance index.
constexpr size_t kMaxReconciledAddresses = 5'000;

void Log(const std::string& line) { std::fprintf(stderr, "custodyd reconciler: %s\n", line.c_str()); }

absl::Status AddTo(Amount& sum, Amount value, std::string_view what) {
  std::optional<Amount> total = sum.CheckedAdd(value);
  if (!total) return absl::OutOfRangeError(Cat(what, " exceeds 2^128 - 1"));
  sum = *total;
  return absl::OkStatus();
}

std::string TransferRef(const std::string& txid, uint32_t index) { return Cat(txid, ":", index); }

// A new audit entry of the reconciler's, for the caller to fill in its details. `action` must
// outlive the entry (a literal).
AuditInput& SystemEntry(std::vector<AuditInput>& audit, std::string_view action, std::string subject, int64_t now) {
  AuditInput& entry = audit.emplace_back();
  entry.actor = kSystemActor;
  entry.action = action;
  entry.subject = std::move(subject);
  entry.unix_ms = now;
  return entry;
}

}  // namespace

// --- signed amounts and the arithmetic -----------------------------------------------------------

std::string SignedAmount::ToString() const {
  return Cat(negative && !magnitude.is_zero() ? "-" : "", magnitude.ToBaseUnitString());
}

std::optional<SignedAmount> SignedAmount::Parse(std::string_view text) {
  SignedAmount out;
  if (text.starts_with("-")) {
    out.negative = true;
    text.remove_prefix(1);
  }
  absl::StatusOr<Amount> magnitude = base::ParseBaseUnits(text);
  if (!magnitude.ok() || (out.negative && magnitude->is_zero())) return std::nullopt;
  out.magnitude = *magnitude;
  return out;
}

SignedAmount SignedAmount::Minus(Amount a, Amount b) {
  if (a >= b) return {false, base::AmountOrDie(a.CheckedSub(b))};
  return {true, base::AmountOrDie(b.CheckedSub(a))};
}

absl::StatusOr<WalletReconciliation> ReconcileWallet(Amount chain_balance, Amount ledger_balance, Amount incoming,
                                                     Amount outgoing) {
  WalletReconciliation r{chain_balance, ledger_balance, incoming, outgoing, {}, {}};
  std::optional<Amount> up = ledger_balance.CheckedAdd(incoming);
  if (!up) return absl::OutOfRangeError("ledger balance + incoming exceeds 2^128 - 1");
  r.expected = SignedAmount::Minus(*up, outgoing);
  if (r.expected.negative) {
    // chain - (-|expected|) = chain + |expected|
    std::optional<Amount> diff = chain_balance.CheckedAdd(r.expected.magnitude);
    if (!diff) return absl::OutOfRangeError("chain balance - expected exceeds 2^128 - 1");
    r.difference = {false, *diff};
  } else {
    r.difference = SignedAmount::Minus(chain_balance, r.expected.magnitude);
  }
  return r;
}

// --- the pass ----------------------------------------------------------------------------------

// What step 1 reads from the store, at one journal point.
struct Reconciler::ChainSnapshot {
  uint64_t seq = 0;
  chain::BlockRef block;
  struct Wallet {
    const AssetConfig* asset = nullptr;
    store::WalletRow row;
    std::vector<std::string> addresses;  // whose balance of the asset counts for this wallet
    Amount ledger;
    Amount incoming;
    Amount outgoing;
    std::optional<store::ReconciliationRow> last;
  };
  std::vector<Wallet> wallets;
  std::unordered_map<std::string, store::AddressRow> address_rows;  // every address of the chain's assets
  std::vector<store::DepositRow> pending;                          // pending, at or below the height
  struct Move {
    store::WithdrawalRow row;
    Amount fee;
  };
  std::vector<Move> moves;                         // signed or broadcast, of the chain's assets
  std::vector<store::UnknownTransferRow> unknown;  // every clientless transfer to a client wallet, at or below the height
  std::set<std::string> recorded;                  // unknown transfers recorded already (txid:index)
  std::set<std::string> unacknowledged;            // ... of which not acknowledged
};

Reconciler::Reconciler(const Config& config, store::Store& store, Env& env,
                       std::map<std::string, chain::ChainAdapter*> adapters, MoveFeeFn move_fee)
    : config_(config), store_(store), env_(env), adapters_(std::move(adapters)), move_fee_(std::move(move_fee)) {}

absl::StatusOr<ReconcilePass> Reconciler::RunOnce() {
  ReconcilePass pass;
  absl::Status first_error;
  for (const auto& [name, adapter] : adapters_) {
    if (adapter == nullptr) continue;
    absl::StatusOr<bool> done = ReconcileChain(name, *adapter, pass);
    if (!done.ok()) {
      if (first_error.ok()) first_error = done.status();
      continue;
    }
    if (*done) {
      ++pass.reconciled;
    }
  }
  if (!first_error.ok()) return first_error;
  return pass;
}

absl::StatusOr<std::optional<Reconciler::ChainSnapshot>> Reconciler::Snapshot(const std::string& chain_name,
                                                                               const chain::BlockRef& tip) {
  ChainSnapshot s;
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
  RF_ASSIGN_OR_RETURN(s.seq, txn->LastJournalSeq());
  RF_ASSIGN_OR_RETURN(std::optional<store::ChainBlockRow> stored, txn->LastChainBlock(chain_name));
  // The ingestor must have stored the node's tip: then every transfer up to it is a deposit row.
  if (!stored || stored->height != tip.height || stored->hash != tip.hash) return std::nullopt;
  s.block = tip;
  const uint64_t height = tip.height;

  RF_ASSIGN_OR_RETURN(std::vector<store::ReconciliationRow> last, txn->ListReconciliations());
  std::vector<std::pair<std::string, std::vector<std::string>>> by_asset;  // asset -> its wallets' addresses
  for (const AssetConfig& a : config_.assets) {
    if (a.chain != chain_name) continue;
    std::vector<std::string>& of_asset = by_asset.emplace_back(a.id, std::vector<std::string>{}).second;
    for (store::WalletRow& w : WalletsOf(a)) {
      ChainSnapshot::Wallet& wallet = s.wallets.emplace_back();
      wallet.asset = &a;
      RF_ASSIGN_OR_RETURN(wallet.ledger, Ledger::WalletHolding(*txn, w.wallet_id));
      for (const store::ReconciliationRow& r : last) {
        if (r.wallet_id == w.wallet_id) wallet.last = r;
      }
      RF_ASSIGN_OR_RETURN(std::vector<store::AddressRow> rows, txn->ListAddressesOfWallet(w.wallet_id));
      for (store::AddressRow& row : rows) {
        wallet.addresses.push_back(row.address);
        of_asset.push_back(row.address);
        s.address_rows.emplace(row.address, std::move(row));
      }
      wallet.row = std::move(w);
    }
  }
  // As the deposit ingestor observes them (DepositIngestor::ObserveBalances): a transfer of one
  // asset to another asset's address is booked to the client-hot wallet of the asset sent, so
  // that wallet's chain balance is also its asset at every other asset's addresses.
  for (ChainSnapshot::Wallet& w : s.wallets) {
    if (w.row.wallet_id != ClientHotWallet(w.asset->id)) continue;
    for (const auto& [other, addresses] : by_asset) {
      if (other != w.asset->id) w.addresses.insert(w.addresses.end(), addresses.begin(), addresses.end());
    }
  }

  RF_ASSIGN_OR_RETURN(s.pending, txn->ListPendingDepositsUpTo(chain_name, height));

  store::WithdrawalFilter unsettled;
  unsettled.states = {store::WithdrawalState::kSigned, store::WithdrawalState::kBroadcast};
  for (store::Page page{"", kMovePage};;) {
    RF_ASSIGN_OR_RETURN(std::vector<store::WithdrawalRow> rows, txn->ListWithdrawals(unsettled, page));
    for (store::WithdrawalRow& row : rows) {
      if (row.chain != chain_name) continue;
      RF_ASSIGN_OR_RETURN(Amount fee, move_fee_(*txn, row));
      s.moves.push_back({std::move(row), fee});
    }
    if (rows.size() < page.limit) break;
    page.after = std::to_string(rows.back().ordinal);
  }

  RF_ASSIGN_OR_RETURN(std::vector<store::UnknownTransferRow> recorded, txn->ListUnknownTransfers(""));
  for (const store::UnknownTransferRow& t : recorded) {
    if (t.chain != chain_name) continue;
    s.recorded.insert(TransferRef(t.txid, t.index));
    if (!t.acknowledged) s.unacknowledged.insert(TransferRef(t.txid, t.index));
  }
  RF_ASSIGN_OR_RETURN(std::vector<store::DepositRow> clientless, txn->ListClientlessDeposits(chain_name));
  for (const store::DepositRow& d : clientless) {
    if (d.block_height > height) continue;
    auto address = s.address_rows.find(d.address);
    if (address == s.address_rows.end()) continue;
    const AssetConfig* asset = config_.FindAsset(d.asset_id);
    if (asset == nullptr) continue;
    // A house address's transfer is the house funding its wallet (credited to house equity).
    const bool house = address->second.asset_id == d.asset_id && address->second.wallet_id == WalletsOf(*asset)[2].wallet_id;
    if (house) continue;
    store::UnknownTransferRow& t = s.unknown.emplace_back();
    t.chain = d.chain;
    t.txid = d.txid;
    t.index = d.index;
    t.asset_id = d.asset_id;
    t.address = d.address;
    t.wallet_id = address->second.asset_id == d.asset_id ? address->second.wallet_id : ClientHotWallet(d.asset_id);
    t.amount = d.amount;
    t.block_height = d.block_height;
  }
  return std::optional<ChainSnapshot>(std::move(s));
}

absl::StatusOr<bool> Reconciler::ReconcileChain(const std::string& chain_name, chain::ChainAdapter& adapter,
                                                ReconcilePass& pass) {
  // The node's tip, then the snapshot (which must have stored that very block), then the tip
  // again (unchanged).
  RF_ASSIGN_OR_RETURN(const chain::BlockRef tip, adapter.Tip());
  if (auto it = done_.find(chain_name); it != done_.end() && it->second == std::make_pair(tip.height, tip.hash)) {
    return false;
  }
  RF_ASSIGN_OR_RETURN(std::optional<ChainSnapshot> snapshot, Snapshot(chain_name, tip));
  if (!snapshot) {
    ++pass.deferred;
    return false;
  }
  ChainSnapshot& s = *snapshot;
  {
    // Still the same tip: every settlement in the snapshot was made on a tip at or below it
    // (the executor reads the node itself), so the chain at this height shows it.
    RF_ASSIGN_OR_RETURN(const chain::BlockRef now, adapter.Tip());
    if (now.height != tip.height || now.hash != tip.hash) {
      ++pass.deferred;
      return false;
    }
  }
  const uint64_t height = tip.height;
  std::unordered_map<std::string, size_t> wallet_index;
  for (size_t i = 0; i < s.wallets.size(); ++i) wallet_index[s.wallets[i].row.wallet_id] = i;
  auto wallet_of_address = [&](const std::string& address, const std::string& asset_id) -> std::optional<size_t> {
    auto row = s.address_rows.find(address);
    if (row == s.address_rows.end()) return std::nullopt;
    const std::string wallet = row->second.asset_id == asset_id ? row->second.wallet_id : ClientHotWallet(asset_id);
    auto it = wallet_index.find(wallet);
    if (it == wallet_index.end()) return std::nullopt;
    return it->second;
  };

  size_t total = 0;
  for (const ChainSnapshot::Wallet& w : s.wallets) total += w.addresses.size();
  if (total > kMaxReconciledAddresses) {
    return absl::ResourceExhaustedError(Cat(total, " address balances to reconcile on ", chain_name,
                                            "; more than ", kMaxReconciledAddresses, " per block is off"));
  }

  // Step 2: the chain at the height.
  std::vector<Amount> chain_sums(s.wallets.size());
  std::vector<json> per_address(s.wallets.size(), json::array());
  for (size_t i = 0; i < s.wallets.size(); ++i) {
    for (const std::string& address : s.wallets[i].addresses) {
      RF_ASSIGN_OR_RETURN(Amount balance, adapter.BalanceAt(address, s.wallets[i].asset->erc20_contract, height));
      RF_RETURN_IF_ERROR(AddTo(chain_sums[i], balance, Cat("wallet ", s.wallets[i].row.wallet_id, "'s chain balance")));
      per_address[i].push_back({{"address", address}, {"balance", balance.ToBaseUnitString()}});
    }
  }
  // Deposits the chain shows and the ledger has not credited yet.
  for (const store::DepositRow& d : s.pending) {
    std::optional<size_t> w = wallet_of_address(d.address, d.asset_id);
    if (!w) continue;
    RF_RETURN_IF_ERROR(AddTo(s.wallets[*w].incoming, d.amount, "incoming"));
  }
  // Moves the chain shows confirmed at or below the height and the ledger has not settled.
  for (const ChainSnapshot::Move& m : s.moves) {
    if (m.row.txid.empty()) continue;
    RF_ASSIGN_OR_RETURN(chain::TxStatus status, adapter.GetTransaction(m.row.txid));
    if (status.state != chain::TxState::kConfirmed || status.height > height) continue;
    auto source = wallet_index.find(m.row.source_wallet_id);
    if (source == wallet_index.end()) continue;
    const bool fee_in_asset = m.row.fee_asset == m.row.asset_id;
    Amount out = m.row.amount;
    if (fee_in_asset) RF_RETURN_IF_ERROR(AddTo(out, m.fee, "outgoing"));
    RF_RETURN_IF_ERROR(AddTo(s.wallets[source->second].outgoing, out, "outgoing"));
    if (!fee_in_asset) {
      // A token transfer's gas left the sending account's ether: the fee asset's client-hot
      // wallet, as the settlement's withdrawal_gas entry books it.
      auto gas = wallet_index.find(ClientHotWallet(m.row.fee_asset));
      if (gas != wallet_index.end()) RF_RETURN_IF_ERROR(AddTo(s.wallets[gas->second].outgoing, m.fee, "outgoing"));
    }
    if (std::optional<size_t> to = wallet_of_address(m.row.destination, m.row.asset_id)) {
      RF_RETURN_IF_ERROR(AddTo(s.wallets[*to].incoming, m.row.amount, "incoming"));
    }
  }

  // Step 3: the figures.
  const int64_t now = env_.NowUnixMs();
  std::vector<store::ReconciliationRow> rows;
  std::map<std::string, json> mismatched;  // by asset: the wallets whose difference is not acknowledged
  std::vector<AuditInput> audit;
  for (size_t i = 0; i < s.wallets.size(); ++i) {
    const ChainSnapshot::Wallet& w = s.wallets[i];
    RF_ASSIGN_OR_RETURN(WalletReconciliation r, ReconcileWallet(chain_sums[i], w.ledger, w.incoming, w.outgoing));
    store::ReconciliationRow& row = rows.emplace_back();
    row.wallet_id = w.row.wallet_id;
    row.asset_id = w.asset->id;
    row.chain = chain_name;
    row.height = height;
    row.block_hash = tip.hash;
    row.chain_balance = r.chain_balance;
    row.ledger_balance = r.ledger_balance;
    row.expected = r.expected.ToString();
    row.difference = r.difference.ToString();
    row.acknowledged = w.last ? w.last->acknowledged : "0";
    row.state = row.difference == row.acknowledged ? "ok" : "mismatch";
    row.addresses = per_address[i].dump();
    row.ledger_seq = s.seq;
    row.unix_ms = now;
    if (row.state != "mismatch") continue;
    ++pass.mismatches;
    const json figures = {{"wallet_id", row.wallet_id},
                          {"chain_balance", row.chain_balance.ToBaseUnitString()},
                          {"ledger_balance", row.ledger_balance.ToBaseUnitString()},
                          {"incoming", r.incoming.ToBaseUnitString()},
                          {"outgoing", r.outgoing.ToBaseUnitString()},
                          {"expected", row.expected},
                          {"difference", row.difference},
                          {"acknowledged", row.acknowledged}};
    mismatched[row.asset_id].push_back(figures);
    // One entry when a wallet turns to a mismatch or its difference changes, not one per block.
    if (w.last && w.last->state == "mismatch" && w.last->difference == row.difference) continue;
    SystemEntry(audit, "reconciliation.mismatch", row.wallet_id, now)
        .details.Add("acknowledged", row.acknowledged)
        .Add("asset_id", row.asset_id)
        .Add("block_hash", row.block_hash)
        .Add("chain_balance", row.chain_balance.ToBaseUnitString())
        .Add("difference", row.difference)
        .Add("expected", row.expected)
        .Add("height", height)
        .Add("ledger_balance", row.ledger_balance.ToBaseUnitString())
        .Add("ledger_seq", s.seq);
  }
  std::vector<const store::UnknownTransferRow*> fresh;
  std::map<std::string, json> unknown_of;  // by asset: unacknowledged unknown transfers
  for (store::UnknownTransferRow& t : s.unknown) {
    const std::string ref = TransferRef(t.txid, t.index);
    const bool is_new = !s.recorded.contains(ref);
    if (!is_new && !s.unacknowledged.contains(ref)) continue;
    unknown_of[t.asset_id].push_back({{"chain", t.chain},
                                      {"txid", t.txid},
                                      {"index", t.index},
                                      {"address", t.address},
                                      {"wallet_id", t.wallet_id},
                                      {"amount", t.amount.ToBaseUnitString()},
                                      {"block_height", t.block_height}});
    if (!is_new) continue;
    t.recorded_unix_ms = now;
    fresh.push_back(&t);
    SystemEntry(audit, "reconciliation.unknown_transfer", ref, now)
        .details.Add("address", t.address)
        .Add("amount", t.amount.ToBaseUnitString())
        .Add("asset_id", t.asset_id)
        .Add("block_height", t.block_height)
        .Add("chain", t.chain)
        .Add("wallet_id", t.wallet_id);
  }

  // Step 5: written only if the books and the stored chain are where the snapshot saw them.
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.Begin());
  RF_ASSIGN_OR_RETURN(const uint64_t seq, txn->LastJournalSeq());
  RF_ASSIGN_OR_RETURN(std::optional<store::ChainBlockRow> stored, txn->LastChainBlock(chain_name));
  if (seq != s.seq || !stored || stored->height != height || stored->hash != tip.hash) {
    ++pass.deferred;
    return false;
  }
  for (const store::ReconciliationRow& row : rows) RF_RETURN_IF_ERROR(txn->PutReconciliation(row));
  for (const store::UnknownTransferRow* t : fresh) {
    RF_ASSIGN_OR_RETURN(bool inserted, txn->InsertUnknownTransfer(*t));
    if (inserted) ++pass.unknown;
  }
  std::vector<std::string> alerts;
  for (const AssetConfig& a : config_.assets) {
    if (a.chain != chain_name) continue;
    const bool mismatch = mismatched.contains(a.id);
    const bool unknown = unknown_of.contains(a.id);
    if (!mismatch && !unknown) continue;
    // Serialises with CreateWithdrawal's check of the freeze (a server database locks the asset).
    RF_RETURN_IF_ERROR(txn->LockAssetOutflows(a.id));
    RF_ASSIGN_OR_RETURN(std::optional<store::AssetFreezeRow> active, txn->GetActiveFreeze(a.id));
    if (active) continue;  // frozen already: the report shows what is new; lifting it does not accept that
    store::AssetFreezeRow freeze;
    uint8_t id[8];
    env_.RandomBytes(id);
    freeze.freeze_id = Cat("fz_", base::HexEncode(id));
    freeze.asset_id = a.id;
    freeze.reason = mismatch && unknown ? "balance_mismatch,unknown_transfer" : mismatch ? "balance_mismatch" : "unknown_transfer";
    json details = {{"height", height}, {"block_hash", tip.hash}, {"ledger_seq", s.seq}};
    details["wallets"] = mismatch ? mismatched[a.id] : json::array();
    details["unknown_transfers"] = unknown ? unknown_of[a.id] : json::array();
    freeze.details = details.dump();
    freeze.height = height;
    freeze.state = store::FreezeState::kFrozen;
    freeze.approvals_required = config_.reconciliation->lift_approvals;
    freeze.approval_group = config_.reconciliation->lift_group;
    freeze.created_unix_ms = now;
    freeze.updated_unix_ms = now;
    RF_RETURN_IF_ERROR(txn->InsertFreeze(freeze));
    SystemEntry(audit, "asset.frozen", a.id, now)
        .details.Add("approval_group", freeze.approval_group)
        .Add("approvals_required", freeze.approvals_required)
        .Add("details_sha256", DetailsSha256(freeze.details))
        .Add("freeze_id", freeze.freeze_id)
        .Add("height", height)
        .Add("reason", freeze.reason);
    alerts.push_back(Cat("ALERT asset ", a.id, " frozen (", freeze.freeze_id, "): ", freeze.reason, " at ", chain_name,
                         " height ", height, "; ", freeze.details));
    ++pass.frozen;
  }
  if (!audit.empty()) RF_RETURN_IF_ERROR(AuditLog::AppendBatch(*txn, audit).status());
  RF_RETURN_IF_ERROR(txn->Commit());
  done_[chain_name] = {tip.height, tip.hash};
  // Logged after the commit, so that an alert always names something the books hold.
  for (const store::ReconciliationRow& row : rows) {
    if (row.state == "mismatch") {
      Log(Cat("ALERT reconciliation mismatch: wallet ", row.wallet_id, " at ", chain_name, " height ", height,
              ": chain ", row.chain_balance.ToBaseUnitString(), ", expected ", row.expected, ", difference ",
              row.difference, " (acknowledged ", row.acknowledged, ")"));
    }
  }
  for (const store::UnknownTransferRow* t : fresh) {
    Log(Cat("ALERT unknown incoming transfer ", TransferRef(t->txid, t->index), ": ", t->amount.ToBaseUnitString(), " ",
            t->asset_id, " to ", t->address, " (", t->wallet_id, ", no deposit address) at height ", t->block_height));
  }
  for (const std::string& line : alerts) Log(line);
  return true;
}

// --- freezes -----------------------------------------------------------------------------------

std::string Reconciler::DetailsSha256(const std::string& details) { return policy::Sha256Hex(details); }

absl::StatusOr<policy::ApprovalDigestBytes> Reconciler::LiftDigest(const store::AssetFreezeRow& freeze) {
  policy::FreezeLiftSubject subject;
  subject.freeze_id = freeze.freeze_id;
  subject.asset = freeze.asset_id;
  subject.reason = freeze.reason;
  subject.details_sha256 = DetailsSha256(freeze.details);
  subject.height = freeze.height;
  return policy::FreezeLiftDigest(subject);
}

absl::Status Reconciler::CheckNotFrozen(store::Txn& txn, const std::string& asset_id) {
  RF_ASSIGN_OR_RETURN(std::optional<store::AssetFreezeRow> freeze, txn.GetActiveFreeze(asset_id));
  if (!freeze) return absl::OkStatus();
  return absl::FailedPreconditionError(Cat("asset_frozen: ", asset_id, " is frozen by ", freeze->freeze_id, " (",
                                           freeze->reason, " at height ", freeze->height,
                                           "); nothing leaves it until approvals lift the freeze"));
}

absl::StatusOr<store::AssetFreezeRow> Reconciler::LiftApprove(store::Txn& txn, const Config& config,
                                                             const std::string& freeze_id,
                                                             const ApproverConfig& approver, std::string_view signature,
                                                             std::string_view actor, int64_t now_unix_ms) {
  if (!config.reconciliation.has_value()) {
    return absl::FailedPreconditionError("target_id: no [reconciliation] section is configured");
  }
  RF_ASSIGN_OR_RETURN(const policy::Policy* policy, PolicyOf(config));
  RF_ASSIGN_OR_RETURN(std::optional<store::AssetFreezeRow> freeze, txn.GetFreeze(freeze_id));
  if (!freeze) return absl::NotFoundError(Cat("target_id: no asset freeze ", Clip(freeze_id)));
  if (freeze->state != store::FreezeState::kFrozen) {
    return absl::FailedPreconditionError(
        Cat("target_id: asset freeze ", freeze_id, " is ", store::FreezeStateName(freeze->state), ", not frozen"));
  }
  RF_ASSIGN_OR_RETURN(policy::ApprovalDigestBytes digest, LiftDigest(*freeze));
  RF_RETURN_IF_ERROR(RecordApproval(txn, *policy, freeze->approval_group, approver, digest, signature, freeze_id,
                                    "asset_freeze", now_unix_ms));
  RF_ASSIGN_OR_RETURN(std::vector<store::ApprovalRow> approvals, txn.ListApprovals(freeze_id));
  const json approval_details = {{"approver_id", approver.id},
                                 {"asset_id", freeze->asset_id},
                                 {"digest", base::HexEncode(digest)},
                                 {"approvals", approvals.size()},
                                 {"approvals_required", freeze->approvals_required}};
  RF_RETURN_IF_ERROR(
      AuditLog::Append(txn, actor, "asset.freeze_approval", freeze_id, approval_details.dump(), now_unix_ms).status());
  if (approvals.size() < freeze->approvals_required) return *std::move(freeze);

  // The quorum: what it froze on becomes acknowledged.
  const json details = json::parse(freeze->details, nullptr, false);
  if (details.is_discarded() || !details.is_object()) {
    return absl::DataLossError(Cat("asset freeze ", freeze_id, ": its details do not parse"));
  }
  for (const json& w : details.value("wallets", json::array())) {
    RF_RETURN_IF_ERROR(txn.SetAcknowledgedDifference(w.value("wallet_id", ""), w.value("difference", "0")));
  }
  for (const json& t : details.value("unknown_transfers", json::array())) {
    RF_RETURN_IF_ERROR(txn.AcknowledgeUnknownTransfer(t.value("chain", ""), t.value("txid", ""),
                                                      t.value("index", uint32_t{0}), freeze_id));
  }
  RF_RETURN_IF_ERROR(txn.LiftFreeze(freeze_id, now_unix_ms));
  std::vector<std::string> approvers;
  for (const store::ApprovalRow& a : approvals) approvers.push_back(a.approver_id);
  const json lifted = {{"asset_id", freeze->asset_id}, {"approvers", approvers}, {"reason", freeze->reason}};
  RF_RETURN_IF_ERROR(AuditLog::Append(txn, actor, "asset.unfrozen", freeze_id, lifted.dump(), now_unix_ms).status());
  std::fprintf(stderr, "custodyd reconciler: asset %s unfrozen (%s) by %s\n", freeze->asset_id.c_str(),
               freeze_id.c_str(), Cat(approvals.size(), " approvals").c_str());
  freeze->state = store::FreezeState::kLifted;
  freeze->updated_unix_ms = now_unix_ms;
  return *std::move(freeze);
}

}  // namespace ringfence::custody

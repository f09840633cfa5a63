#include "custody/deposits.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "base/text.h"
#include "chain/bech32.h"
#include "chain/ecdsa.h"
#include "chain/eth_address.h"
#include "chain/hashes.h"
#include "custody/audit_log.h"
#include "custody/ledger.h"

namespace ringfence::custody {

using base::Cat;
using base::Clip;
using nlohmann::json;
// The chain codecs (ringfence::chain), apart from custody's own chain adapters (custody::chain).
namespace codec = ::ringfence::chain;

namespace {

constexpr std::string_view kSystemActor = "system";
// Above this many addresses on one chain, balances are not observed (at 1,000 addresses per
// node call, it would take more than 50 calls each time).
constexpr size_t kMaxObservedAddresses = 50'000;
// While blocks keep arriving, chain balances are observed at most this often.
constexpr int64_t kObserveIntervalMs = 1'000;

void Log(std::string_view level, std::string_view chain, std::string_view message) {
  std::fprintf(stderr, "custodyd: %s deposits[%s]: %s\n", std::string(level).c_str(), std::string(chain).c_str(),
               std::string(message).c_str());
}

std::string DepositRef(const std::string& txid, uint32_t index) { return Cat(txid, ":", index); }

}  // namespace

absl::StatusOr<std::string> DepositAddressFor(const AssetConfig& asset, std::span<const uint8_t> public_key) {
  // Also proves the bytes are a point on the curve, whichever chain the address is for.
  RF_ASSIGN_OR_RETURN(const auto compressed, codec::CompressPublicKey(public_key));
  if (asset.chain == "bitcoin") {
    const std::string_view hrp = BitcoinHrp(asset.network);
    if (hrp.empty()) return absl::InvalidArgumentError(Cat("no segwit prefix for network ", asset.network));
    return codec::P2wpkhAddress(hrp, codec::Hash160(compressed));
  }
  if (asset.chain == "ethereum") {
    RF_ASSIGN_OR_RETURN(codec::EthAddress address, codec::EthAddressFromPubkeyBytes(compressed));
    return codec::EthChecksumAddress(address);
  }
  return absl::InvalidArgumentError(Cat("no address form for chain ", asset.chain));
}

DepositIngestor::DepositIngestor(const Config& config, const ChainConfig& chain, chain::ChainAdapter& adapter,
                                 store::Store& store, Env& env)
    : config_(config), chain_(chain), adapter_(adapter), store_(store), env_(env) {}

DepositIngestor::~DepositIngestor() { Stop(); }

absl::Status DepositIngestor::RefreshWatch() {
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
  std::set<std::string> wallets;  // of this chain's assets
  for (const AssetConfig& a : config_.assets) {
    if (a.chain != chain_.name) continue;
    for (const store::WalletRow& w : WalletsOf(a)) wallets.insert(w.wallet_id);
  }
  constexpr uint32_t kPage = 10'000;
  for (int attempt = 0;; ++attempt) {
    bool added = false;
    for (;;) {
      RF_ASSIGN_OR_RETURN(auto rows, txn->ListAddressesAddedAfter(watch_.position, kPage));
      for (auto& [position, row] : rows) {
        watch_.position = std::max(watch_.position, position);
        ++watch_.seen;
        if (!wallets.contains(row.wallet_id)) continue;
        std::string address = row.address;
        watch_.rows.emplace(std::move(address), std::move(row));
        added = true;
      }
      if (rows.size() < kPage) break;
    }
    // Every address is read once; a count that disagrees means positions were not what they
    // promised (a file rebuilt under us): read the whole set again rather than miss one.
    RF_ASSIGN_OR_RETURN(const uint64_t count, txn->CountAddresses());
    if (count == watch_.seen) {
      if (added) {
        watch_.addresses.clear();
        watch_.addresses.reserve(watch_.rows.size());
        for (const auto& [address, row] : watch_.rows) watch_.addresses.push_back(address);
        std::sort(watch_.addresses.begin(), watch_.addresses.end());
      }
      return absl::OkStatus();
    }
    if (attempt > 0) {
      return absl::DataLossError(Cat("the addresses table holds ", count, " rows but ", watch_.seen,
                                     " were read by position"));
    }
    watch_ = Watch{};
  }
}

absl::StatusOr<PollResult> DepositIngestor::PollOnce() {
  std::lock_guard<std::mutex> poll_lock(poll_mu_);
  PollResult result;
  RF_ASSIGN_OR_RETURN(chain::BlockRef tip, adapter_.Tip());
  // The watch set is brought up to date after the tip is read: every block up to that tip was
  // mined before any address created later could have been paid. Only addresses added since
  // the last poll are read (address rows never change and are never deleted).
  RF_RETURN_IF_ERROR(RefreshWatch());
  const Watch& watch = watch_;

  auto last_stored = [&]() -> absl::StatusOr<std::optional<store::ChainBlockRow>> {
    RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
    return txn->LastChainBlock(chain_.name);
  };
  RF_ASSIGN_OR_RETURN(std::optional<store::ChainBlockRow> last, last_stored());
  if (last && (tip.height < last->height || (tip.height == last->height && tip.hash != last->hash))) {
    RF_RETURN_IF_ERROR(HandleReorg(std::min(last->height, tip.height), &result));
  }
  if (!first_poll_done_) {
    // Deposits that became creditable without a new block (a lower confirmation count in a
    // new configuration) are credited before anything else.
    RF_ASSIGN_OR_RETURN(last, last_stored());
    if (last) {
      RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginLarge());
      std::vector<AuditInput> audit;
      RF_RETURN_IF_ERROR(CreditReady(*txn, watch, last->height, &result, &audit));
      if (!audit.empty()) RF_RETURN_IF_ERROR(AuditLog::AppendBatch(*txn, audit).status());
      RF_RETURN_IF_ERROR(txn->Commit());
    }
    first_poll_done_ = true;
  }

  // Each pass stores the blocks it fetched (one transaction for up to kBlocksPerTransaction
  // blocks or about kTransfersPerTransaction transfers, so that a node far ahead is caught up
  // with in few commits) or handles one reorganisation. The blocks are fetched before the
  // transaction begins: no write waits on the node. The bound only stops a node that keeps
  // reorganising under us from holding the poll forever.
  RF_ASSIGN_OR_RETURN(last, last_stored());
  for (uint64_t pass = 0; pass < 2 * kMaxReorgDepth + (tip.height + 1); ++pass) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;  // between transactions: what is stored is whole
    }
    std::vector<chain::Block> blocks;
    size_t transfers = 0;
    bool reorganised = false;  // the next block does not extend the last one stored or fetched
    bool retry = false;        // the node reorganised while answering: ask again
    uint64_t next = last ? last->height + 1 : 0;
    while (next <= tip.height && blocks.size() < kBlocksPerTransaction && transfers < kTransfersPerTransaction) {
      absl::StatusOr<chain::Block> block = adapter_.GetBlock(next, watch.addresses);
      if (block.status().code() == absl::StatusCode::kAborted) {
        retry = true;
        break;
      }
      if (block.status().code() == absl::StatusCode::kNotFound) break;  // the node's tip went down: next poll
      RF_RETURN_IF_ERROR(block.status());
      if (block->ref.height != next) {
        return absl::DataLossError(Cat("node answered block ", block->ref.height, " for height ", next));
      }
      const std::string* parent = !blocks.empty() ? &blocks.back().ref.hash : last ? &last->hash : nullptr;
      if (parent != nullptr && block->ref.parent_hash != *parent) {
        reorganised = true;
        break;
      }
      if (block->transfers.size() > kMaxTransfersPerBlock) {
        // Refused as a malformed answer, once the blocks before it are stored.
        if (!blocks.empty()) break;
        return absl::DataLossError(Cat("block ", block->ref.height, " reports ", block->transfers.size(),
                                       " transfers to our addresses, at most ", kMaxTransfersPerBlock));
      }
      transfers += block->transfers.size();
      blocks.push_back(*std::move(block));
      ++next;
    }
    if (!blocks.empty()) {
      RF_RETURN_IF_ERROR(StoreBlocks(blocks, watch, &result));
      const chain::BlockRef& top = blocks.back().ref;
      last = store::ChainBlockRow{chain_.name, top.height, top.hash, top.parent_hash};
    }
    if (reorganised && blocks.empty()) {
      // The first block fetched does not extend the last one stored.
      RF_RETURN_IF_ERROR(HandleReorg(last->height, &result));
      RF_ASSIGN_OR_RETURN(last, last_stored());
      continue;
    }
    // A block that did not extend the ones fetched just before it is asked for again on the
    // next pass, against what is now stored.
    if (blocks.empty() && !retry) break;
  }
  RF_ASSIGN_OR_RETURN(last, last_stored());
  result.height = last ? last->height : 0;
  // Observing costs a node call per thousand addresses, so while blocks keep coming it happens
  // at most every kObserveIntervalMs; a poll that finds no new block catches up with the last stored
  // height, so a quiet chain is always observed at its tip. A reorganisation is observed at once.
  const int64_t now = env_.NowUnixMs();
  const bool stored = result.blocks > 0;
  const bool due = !observed_once_ || result.reorgs > 0 ||
                   (stored && now - last_observe_unix_ms_ >= kObserveIntervalMs) ||
                   (!stored && last && observed_height_ != std::optional<uint64_t>(last->height));
  if (last && due) {
    absl::Status observed = ObserveBalances(last->height);
    last_observe_unix_ms_ = now;
    if (observed.ok()) observed_height_ = last->height;
    const std::string error = observed.ok() ? "" : std::string(observed.message());
    if (!error.empty() && error != last_observe_error_) {
      Log("WARNING", chain_.name, Cat("chain balances not observed: ", error));
    }
    last_observe_error_ = error;
    observed_once_ = true;
  }
  return result;
}

absl::StatusOr<std::optional<store::AddressRow>> DepositIngestor::FindAddress(store::Txn& txn, const Watch& watch,
                                                                            const std::string& address) {
  auto it = watch.rows.find(address);
  if (it != watch.rows.end()) return std::optional<store::AddressRow>(it->second);
  return txn.GetAddress(address);
}

absl::Status DepositIngestor::StoreBlocks(std::span<const chain::Block> blocks, const Watch& watch,
                                          PollResult* result) {
  // Counted into `result` only once the transaction has committed.
  PollResult stored;
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginLarge());
  for (const chain::Block& block : blocks) RF_RETURN_IF_ERROR(ProcessBlock(*txn, block, watch, &stored));
  RF_RETURN_IF_ERROR(txn->Commit());
  result->blocks += stored.blocks;
  result->detected += stored.detected;
  result->own_outputs += stored.own_outputs;
  result->credited += stored.credited;
  return absl::OkStatus();
}

absl::Status DepositIngestor::ProcessBlock(store::Txn& txn, const chain::Block& block, const Watch& watch,
                                           PollResult* result) {
  RF_RETURN_IF_ERROR(txn.PutChainBlock({chain_.name, block.ref.height, block.ref.hash, block.ref.parent_hash}));
  const int64_t now = env_.NowUnixMs();
  // The block's audit entries, appended together at the end (AuditLog::AppendBatch): each
  // deposit's deposit.detected in the order of the block's transfers, then each credit's
  // deposit.credited in the order of its journal entry.
  std::vector<AuditInput> audit;
  for (const chain::Transfer& t : block.transfers) {
    const AssetConfig* asset = nullptr;
    for (const AssetConfig& a : config_.assets) {
      if (a.chain == chain_.name && a.erc20_contract == t.token_contract) asset = &a;
    }
    if (asset == nullptr) {
      Log("WARNING", chain_.name, Cat("block ", block.ref.height, ": transfer ", DepositRef(t.txid, t.index),
                                      " of token ", Clip(t.token_contract, 42), " (no configured asset) to ",
                                      t.to_address, " is not recorded"));
      continue;
    }
    if (t.amount.is_zero()) continue;  // moves nothing; an ERC-20 Transfer may carry zero
    RF_ASSIGN_OR_RETURN(std::optional<store::AddressRow> address, FindAddress(txn, watch, t.to_address));
    if (!address) continue;  // not ours (the node reported more than we watch)
    // An output of our own transaction (a withdrawal's Bitcoin change, a sweep into cold, ether
    // sent into a token account for its gas) is no deposit: the executor's settlement accounts
    // for it. Only such transfers pay a wallet's own address or another asset's address, so a
    // client's deposit of its own asset is never looked up here.
    if (address->client_id.empty() || address->asset_id != asset->id) {
      RF_ASSIGN_OR_RETURN(std::optional<std::string> own, txn.FindWithdrawalByTxid(chain_.name, t.txid));
      if (own) {
        ++result->own_outputs;
        continue;
      }
    }
    // A transfer of one asset to another asset's address (USDC to an ETH deposit address) is
    // ours but no client's claim we can name: it is recorded unattributed, for reconciliation.
    const bool same_asset = address->asset_id == asset->id;
    store::DepositRow row;
    row.chain = chain_.name;
    row.txid = t.txid;
    row.index = t.index;
    row.address = t.to_address;
    row.asset_id = asset->id;
    row.client_id = same_asset ? address->client_id : "";
    row.amount = t.amount;
    row.block_height = block.ref.height;
    row.block_hash = block.ref.hash;
    row.status = store::DepositStatus::kPending;
    RF_ASSIGN_OR_RETURN(bool stored, txn.UpsertDeposit(row));
    if (!stored) continue;
    ++result->detected;
    const std::string_view attribution = !row.client_id.empty() ? "client"
                                         : !same_asset          ? "asset_mismatch"
                                                                : "own_address";
    AuditInput& entry = audit.emplace_back();
    entry.actor = kSystemActor;
    entry.action = "deposit.detected";
    entry.subject = DepositRef(t.txid, t.index);
    entry.unix_ms = now;
    entry.details.Add("address", row.address)
        .Add("amount", row.amount.ToBaseUnitString())
        .Add("asset_id", row.asset_id)
        .Add("attribution", attribution)
        .Add("block_hash", row.block_hash)
        .Add("block_height", row.block_height)
        .Add("chain", row.chain)
        .Add("client_id", row.client_id);
  }
  RF_RETURN_IF_ERROR(CreditReady(txn, watch, block.ref.height, result, &audit));
  if (!audit.empty()) RF_RETURN_IF_ERROR(AuditLog::AppendBatch(txn, audit).status());
  ++result->blocks;
  return absl::OkStatus();
}

absl::Status DepositIngestor::CreditReady(store::Txn& txn, const Watch& watch, uint64_t height, PollResult* result,
                                          std::vector<AuditInput>* audit) {
  // Only deposits at or below the height where the chain's smallest confirmation count is
  // reached can be ready; each is still checked against its own asset's count below.
  uint32_t min_confirmations = UINT32_MAX;
  for (const AssetConfig& a : config_.assets) {
    if (a.chain == chain_.name) min_confirmations = std::min(min_confirmations, a.confirmations);
  }
  if (min_confirmations == UINT32_MAX || height + 1 < min_confirmations) return absl::OkStatus();
  RF_ASSIGN_OR_RETURN(std::vector<store::DepositRow> pending,
                      txn.ListPendingDepositsUpTo(chain_.name, height + 1 - min_confirmations));
  const int64_t now = env_.NowUnixMs();
  // Every deposit ready at this height, credited by one PostBatch: one journal entry each,
  // in the order listed, judged as if posted one by one, with each balance written once.
  struct Ready {
    const store::DepositRow* deposit;
    std::string wallet_id;
    bool house;
    uint64_t confirmations;
  };
  std::vector<Ready> ready;
  std::vector<store::JournalEntry> entries;
  for (const store::DepositRow& d : pending) {
    const AssetConfig* asset = config_.FindAsset(d.asset_id);
    if (asset == nullptr || d.block_height > height) continue;
    const uint64_t confirmations = height - d.block_height + 1;
    if (confirmations < asset->confirmations) continue;
    RF_ASSIGN_OR_RETURN(std::optional<store::AddressRow> address, FindAddress(txn, watch, d.address));
    if (!address) {
      return absl::DataLossError(Cat("deposit ", DepositRef(d.txid, d.index), " pays ", d.address,
                                     ", which is no longer a known address"));
    }
    const std::string ref = DepositRef(d.txid, d.index);
    std::string wallet_id = address->asset_id == d.asset_id ? address->wallet_id : ClientHotWallet(d.asset_id);
    store::JournalEntry entry;
    const bool house = address->asset_id == d.asset_id && d.client_id.empty() &&
                       WalletsOf(*asset)[2].wallet_id == wallet_id;
    if (house) {
      // Paid to one of the house wallet's own addresses: the house's money, not a client's.
      entry.asset_id = d.asset_id;
      entry.kind = "deposit";
      entry.reference = ref;
      entry.created_unix_ms = now;
      entry.postings = {{WalletAccount(wallet_id), true, d.amount}, {HouseEquityAccount(d.asset_id), false, d.amount}};
    } else {
      entry = Ledger::DepositCredit(d.asset_id, wallet_id, d.client_id, d.amount, ref, now);
    }
    entries.push_back(std::move(entry));
    ready.push_back({&d, std::move(wallet_id), house, confirmations});
  }
  if (ready.empty()) return absl::OkStatus();
  RF_ASSIGN_OR_RETURN(const uint64_t first_seq, Ledger::PostBatch(txn, entries));
  for (size_t i = 0; i < ready.size(); ++i) {
    const store::DepositRow& d = *ready[i].deposit;
    const uint64_t seq = first_seq + i;
    RF_RETURN_IF_ERROR(txn.SetDepositStatus(d.chain, d.txid, d.index, store::DepositStatus::kCredited, seq));
    AuditInput& entry = audit->emplace_back();
    entry.actor = kSystemActor;
    entry.action = "deposit.credited";
    entry.subject = std::move(entries[i].reference);
    entry.unix_ms = now;
    entry.details.Add("address", d.address)
        .Add("amount", d.amount.ToBaseUnitString())
        .Add("asset_id", d.asset_id)
        .Add("block_height", d.block_height)
        .Add("chain", d.chain)
        .Add("client_id", d.client_id)
        .Add("confirmations", ready[i].confirmations)
        .Add("credited_to", ready[i].house ? "house" : d.client_id.empty() ? "unattributed" : "client")
        .Add("journal_seq", seq)
        .Add("wallet_id", ready[i].wallet_id);
  }
  result->credited += ready.size();
  return absl::OkStatus();
}

absl::Status DepositIngestor::HandleReorg(uint64_t from_height, PollResult* result) {
  // The fork point: the highest height at which our stored block is still the node's block.
  uint64_t fork = from_height;
  for (uint64_t depth = 0;; ++depth) {
    if (depth > kMaxReorgDepth) {
      return absl::DataLossError(Cat("reorganisation deeper than ", kMaxReorgDepth, " blocks below height ",
                                     from_height, "; ingestion stops until an operator looks"));
    }
    std::optional<store::ChainBlockRow> stored;
    {
      RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
      RF_ASSIGN_OR_RETURN(stored, txn->GetChainBlock(chain_.name, fork));
    }
    if (!stored) break;  // nothing stored here, so nothing below to keep apart
    absl::StatusOr<chain::Block> node = adapter_.GetBlock(fork, {});
    if (node.ok() && node->ref.hash == stored->hash) break;
    if (!node.ok() && node.status().code() != absl::StatusCode::kNotFound) return node.status();
    if (fork == 0) {
      return absl::DataLossError("the node's genesis block is not the one stored; wrong chain or network?");
    }
    --fork;
  }

  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginLarge());
  RF_ASSIGN_OR_RETURN(std::vector<store::DepositRow> above, txn->ListDepositsAbove(chain_.name, fork));
  const int64_t now = env_.NowUnixMs();
  uint64_t orphaned = 0, incidents = 0;
  for (const store::DepositRow& d : above) {
    if (d.status == store::DepositStatus::kOrphaned) continue;
    const std::string ref = DepositRef(d.txid, d.index);
    const bool credited = d.status == store::DepositStatus::kCredited;
    // Orphaned either way; a credited one keeps its credited_seq, so the store never credits it
    // again if the new chain mines it once more.
    RF_RETURN_IF_ERROR(txn->SetDepositStatus(d.chain, d.txid, d.index, store::DepositStatus::kOrphaned, 0));
    json details = {{"chain", d.chain},
                    {"asset_id", d.asset_id},
                    {"address", d.address},
                    {"amount", d.amount.ToBaseUnitString()},
                    {"client_id", d.client_id},
                    {"block_height", d.block_height},
                    {"block_hash", d.block_hash},
                    {"fork_height", fork}};
    if (credited) {
      details["journal_seq"] = d.credited_seq;
      RF_RETURN_IF_ERROR(
          AuditLog::Append(*txn, kSystemActor, "deposit.reorg_incident", ref, details.dump(), now).status());
      ++incidents;
    } else {
      RF_RETURN_IF_ERROR(AuditLog::Append(*txn, kSystemActor, "deposit.orphaned", ref, details.dump(), now).status());
      ++orphaned;
    }
  }
  RF_RETURN_IF_ERROR(txn->DeleteChainBlocksAbove(chain_.name, fork));
  const json details = {{"chain", chain_.name},
                        {"from_height", from_height},
                        {"fork_height", fork},
                        {"orphaned", orphaned},
                        {"incidents", incidents}};
  RF_RETURN_IF_ERROR(AuditLog::Append(*txn, kSystemActor, "chain.reorg", chain_.name, details.dump(), now).status());
  RF_RETURN_IF_ERROR(txn->Commit());
  // Logged after the commit, so that an alert always names something the books hold.
  for (const store::DepositRow& d : above) {
    if (d.status != store::DepositStatus::kCredited) continue;
    Log("ERROR", chain_.name,
        Cat("INCIDENT: credited deposit ", DepositRef(d.txid, d.index), " (", d.amount.ToBaseUnitString(), " ",
            d.asset_id, " to ", d.client_id.empty() ? std::string("unattributed") : d.client_id, ", journal seq ",
            d.credited_seq, ") was in block ", d.block_height,
            ", which a reorganisation removed; balances are unchanged, an operator must resolve it"));
  }
  ++result->reorgs;
  result->orphaned += orphaned;
  result->incidents += incidents;
  return absl::OkStatus();
}

absl::Status DepositIngestor::ObserveBalances(uint64_t height) {
  // On a chain with several assets (ETH and its ERC-20 tokens) an address can hold any of them.
  // A transfer of one asset to another asset's address is booked to the client-hot wallet of
  // the asset sent (ProcessBlock's "asset_mismatch", CreditReady), so that wallet's chain
  // balance is its asset's balance at its own addresses and at every other asset's addresses
  // on the chain; every other wallet holds its asset at its own addresses only.
  struct Observed {
    std::string asset_id;
    std::string wallet_id;
    std::string contract;
    std::vector<std::string> addresses;
  };
  std::vector<Observed> wallets;
  size_t total = 0;
  {
    RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.BeginRead());
    std::vector<std::pair<std::string, std::vector<std::string>>> by_asset;  // asset -> its wallets' addresses
    for (const AssetConfig& a : config_.assets) {
      if (a.chain != chain_.name) continue;
      std::vector<std::string>& of_asset = by_asset.emplace_back(a.id, std::vector<std::string>{}).second;
      for (const store::WalletRow& w : WalletsOf(a)) {
        RF_ASSIGN_OR_RETURN(std::vector<store::AddressRow> rows, txn->ListAddressesOfWallet(w.wallet_id));
        Observed& o = wallets.emplace_back(Observed{a.id, w.wallet_id, a.erc20_contract, {}});
        for (store::AddressRow& row : rows) {
          of_asset.push_back(row.address);
          o.addresses.push_back(std::move(row.address));
        }
      }
    }
    for (Observed& o : wallets) {
      if (o.wallet_id != ClientHotWallet(o.asset_id)) continue;
      for (const auto& [other_asset, other_addresses] : by_asset) {
        if (other_asset == o.asset_id) continue;
        o.addresses.insert(o.addresses.end(), other_addresses.begin(), other_addresses.end());
      }
    }
    for (const Observed& o : wallets) total += o.addresses.size();
  }
  if (total > kMaxObservedAddresses) {
    return absl::ResourceExhaustedError(Cat(total, " address balances to observe on this chain; more than ",
                                            kMaxObservedAddresses, " per poll is off"));
  }
  // One adapter call per wallet: the node is asked about many addresses at once where it can.
  std::vector<base::Amount> sums(wallets.size());
  for (size_t i = 0; i < wallets.size(); ++i) {
    std::vector<std::string>& addresses = wallets[i].addresses;
    std::sort(addresses.begin(), addresses.end());
    addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());  // each counted once
    if (addresses.empty()) continue;
    RF_ASSIGN_OR_RETURN(std::vector<base::Amount> balances,
                        adapter_.BalancesAt(addresses, wallets[i].contract, height));
    if (balances.size() != addresses.size()) {
      return absl::DataLossError(Cat("the chain adapter answered ", balances.size(), " balances for ",
                                     addresses.size(), " addresses"));
    }
    for (const base::Amount& balance : balances) {
      std::optional<base::Amount> sum = sums[i].CheckedAdd(balance);
      if (!sum) return absl::OutOfRangeError(Cat("wallet ", wallets[i].wallet_id, " holds more than 2^128 - 1"));
      sums[i] = *sum;
    }
  }
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store_.Begin());
  for (size_t i = 0; i < wallets.size(); ++i) {
    RF_RETURN_IF_ERROR(txn->PutObservedBalance(wallets[i].wallet_id, sums[i], height));
  }
  return txn->Commit();
}

void DepositIngestor::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void DepositIngestor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // A stopped ingestor still answers PollOnce called directly.
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = false;
}

void DepositIngestor::Run() {
  std::string last_error;
  for (;;) {
    absl::StatusOr<PollResult> result = PollOnce();
    if (!result.ok()) {
      const std::string error(result.status().ToString());
      if (error != last_error) Log("ERROR", chain_.name, Cat("poll failed (retrying): ", error));
      last_error = error;
    } else if (!last_error.empty()) {
      Log("INFO", chain_.name, Cat("polling again at height ", result->height));
      last_error.clear();
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (wake_.wait_for(lock, std::chrono::milliseconds(chain_.poll_interval_ms), [this] { return stopping_; })) return;
  }
}

}  // namespace ringfence::custody

#include "tools/chainsim/simulator.h"

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_set>

#include "base/check.h"
#include "base/hex.h"
#include "base/status.h"
#include "base/text.h"
#include "chain/bitcoin_tx.h"
#include "chain/eth_address.h"
#include "chain/hashes.h"
#include "chain/keccak.h"

namespace ringfence::chainsim {

using base::Cat;

namespace {

struct SimBlock {
  uint64_t height = 0;
  int64_t nonce = 0;
  std::array<uint8_t, 32> hash{};  // as hashed (Bitcoin: internal byte order)
  BlockInfo info;
  std::vector<TxRecord> txs;
  std::vector<Applied> applied;  // one per transaction
};

struct MempoolTx {
  TxRecord record;
  std::string txid;
};

}  // namespace

struct ChainState {
  ChainId id = ChainId::kBitcoin;
  std::vector<SimBlock> blocks;  // blocks[h] is at height h; blocks[0] is the genesis block
  std::vector<MempoolTx> mempool;
  std::unique_ptr<Ledger> confirmed;  // after the last block, with balance history
  std::unique_ptr<Ledger> pending;    // confirmed plus the mempool
  std::unordered_map<std::string, uint64_t> tx_heights;  // txid -> height in the best chain
};

namespace {

std::array<uint8_t, 32> FamilyHash(ChainId chain, std::span<const uint8_t> data) {
  return chain == ChainId::kBitcoin ? chain::DoubleSha256(data) : chain::Keccak256(data);
}

// Bitcoin's merkle construction (pairs hashed, the last of an odd level paired with itself)
// with the chain's hash; all zeros for a block without transactions.
std::array<uint8_t, 32> TransactionsRoot(ChainId chain, const std::vector<Applied>& applied) {
  std::vector<std::array<uint8_t, 32>> level;
  for (const Applied& a : applied) level.push_back(a.id);
  if (level.empty()) return {};
  while (level.size() > 1) {
    if (level.size() % 2 == 1) level.push_back(level.back());
    std::vector<std::array<uint8_t, 32>> next;
    for (size_t i = 0; i < level.size(); i += 2) {
      std::array<uint8_t, 64> pair;
      std::copy(level[i].begin(), level[i].end(), pair.begin());
      std::copy(level[i + 1].begin(), level[i + 1].end(), pair.begin() + 32);
      next.push_back(FamilyHash(chain, pair));
    }
    level = std::move(next);
  }
  return level[0];
}

void AppendBigEndian(std::vector<uint8_t>& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

std::string HashHex(ChainId chain, const std::array<uint8_t, 32>& hash) {
  return chain == ChainId::kBitcoin ? chain::DisplayHex(hash) : base::HexEncode(hash);
}

// Header: u64be(height) || parent hash (32) || transactions root (32) || u64be(nonce).
SimBlock MakeBlock(ChainId chain, const SimBlock* parent, int64_t nonce, std::vector<TxRecord> txs,
                   std::vector<Applied> applied) {
  SimBlock b;
  b.height = parent == nullptr ? 0 : parent->height + 1;
  b.nonce = nonce;
  const std::array<uint8_t, 32> parent_hash = parent == nullptr ? std::array<uint8_t, 32>{} : parent->hash;
  std::vector<uint8_t> header;
  AppendBigEndian(header, b.height);
  header.insert(header.end(), parent_hash.begin(), parent_hash.end());
  const std::array<uint8_t, 32> root = TransactionsRoot(chain, applied);
  header.insert(header.end(), root.begin(), root.end());
  AppendBigEndian(header, static_cast<uint64_t>(nonce));
  b.hash = FamilyHash(chain, header);
  b.info = BlockInfo{b.height, HashHex(chain, b.hash), HashHex(chain, parent_hash)};
  b.txs = std::move(txs);
  b.applied = std::move(applied);
  return b;
}

std::unique_ptr<ChainState> NewChainState(ChainId id, const TokenRegistry* tokens) {
  auto c = std::make_unique<ChainState>();
  c->id = id;
  c->confirmed = NewLedger(id, tokens, /*keep_history=*/true);
  c->pending = c->confirmed->CloneWithoutHistory();
  c->blocks.push_back(MakeBlock(id, nullptr, 0, {}, {}));
  return c;
}

// Applies `txs` to the confirmed ledger as the next block. On error the chain state is
// unusable (the ledger is partly changed); callers either abort or discard it.
absl::Status AppendBlock(ChainState& c, int64_t nonce, std::vector<TxRecord> txs) {
  const uint64_t height = c.blocks.size();
  c.confirmed->BeginBlock(height);
  std::vector<Applied> applied;
  applied.reserve(txs.size());
  for (const TxRecord& tx : txs) {
    absl::StatusOr<Applied> a = c.confirmed->Apply(tx);
    if (!a.ok()) {
      return absl::Status(a.status().code(), Cat(ChainName(c.id), " block ", height, " transaction ", tx.seq, ": ",
                                                 a.status().message()));
    }
    applied.push_back(*std::move(a));
  }
  for (const Applied& a : applied) c.tx_heights[a.txid] = height;
  c.blocks.push_back(MakeBlock(c.id, &c.blocks.back(), nonce, std::move(txs), std::move(applied)));
  return absl::OkStatus();
}

struct RebuiltPending {
  std::unique_ptr<Ledger> pending;
  std::vector<MempoolTx> mempool;
  std::vector<MempoolTx> evicted;
};

// The confirmed ledger plus every candidate that is still valid, in order.
RebuiltPending RebuildPending(const Ledger& confirmed, std::vector<MempoolTx> candidates) {
  RebuiltPending out;
  out.pending = confirmed.CloneWithoutHistory();
  for (MempoolTx& candidate : candidates) {
    absl::StatusOr<Applied> a = out.pending->Apply(candidate.record);
    if (a.ok()) {
      candidate.txid = a->txid;
      out.mempool.push_back(std::move(candidate));
    } else {
      out.evicted.push_back(std::move(candidate));
    }
  }
  return out;
}

// Makes the pending ledger the confirmed one plus the mempool again, after changes to it that
// were not committed.
void ResetPending(ChainState& c) {
  RebuiltPending rebuilt = RebuildPending(*c.confirmed, c.mempool);
  RF_CHECK(rebuilt.evicted.empty(), "the mempool no longer applies to the chain it was checked against");
  c.pending = std::move(rebuilt.pending);
}

std::vector<MempoolTx> BlockTransactions(const SimBlock& b) {
  std::vector<MempoolTx> out;
  for (size_t i = 0; i < b.txs.size(); ++i) out.push_back(MempoolTx{b.txs[i], b.applied[i].txid});
  return out;
}

}  // namespace

Simulator::Simulator(std::unique_ptr<StateStore> store) : store_(std::move(store)) {}
Simulator::~Simulator() = default;

absl::StatusOr<std::unique_ptr<Simulator>> Simulator::Open(const std::string& state_path) {
  absl::StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open(state_path);
  if (!store.ok()) return store.status();
  absl::StatusOr<StoredState> state = (*store)->Load();
  if (!state.ok()) return state.status();
  std::unique_ptr<Simulator> sim(new Simulator(*std::move(store)));
  sim->tokens_ = std::move(state->tokens);
  sim->next_seq_ = state->next_seq;
  for (ChainId id : {ChainId::kBitcoin, ChainId::kEthereum}) {
    StoredChain& stored = state->chains[static_cast<size_t>(id)];
    auto c = NewChainState(id, &sim->tokens_);
    const uint64_t tip = stored.blocks.size();
    std::vector<std::vector<TxRecord>> block_txs(tip + 1);
    std::vector<MempoolTx> mempool;
    for (size_t i = 0; i < stored.blocks.size(); ++i) {
      if (stored.blocks[i].height != i + 1) {
        return absl::DataLossError(Cat("state file: ", ChainName(id), " blocks are not contiguous at height ", i + 1));
      }
    }
    for (StoredTx& tx : stored.txs) {
      if (tx.record.seq >= sim->next_seq_) {
        return absl::DataLossError(Cat("state file: transaction ", tx.record.seq, " is above the sequence counter"));
      }
      if (!tx.height.has_value()) {
        mempool.push_back(MempoolTx{std::move(tx.record), ""});
      } else if (*tx.height >= 1 && *tx.height <= tip) {
        block_txs[*tx.height].push_back(std::move(tx.record));
      } else {
        return absl::DataLossError(
            Cat("state file: transaction ", tx.record.seq, " is in ", ChainName(id), " block ", *tx.height, ", which does not exist"));
      }
    }
    for (uint64_t h = 1; h <= tip; ++h) {
      if (absl::Status s = AppendBlock(*c, stored.blocks[h - 1].nonce, std::move(block_txs[h])); !s.ok()) {
        return absl::DataLossError(Cat("state file: ", s.message()));
      }
    }
    RebuiltPending rebuilt = RebuildPending(*c->confirmed, std::move(mempool));
    if (!rebuilt.evicted.empty()) {
      return absl::DataLossError(Cat("state file: ", ChainName(id), " mempool transaction ",
                                     rebuilt.evicted.front().record.seq, " is no longer valid"));
    }
    c->pending = std::move(rebuilt.pending);
    c->mempool = std::move(rebuilt.mempool);
    sim->chains_[static_cast<size_t>(id)] = std::move(c);
  }
  return sim;
}

BlockInfo Simulator::Tip(ChainId id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return chain(id).blocks.back().info;
}

absl::StatusOr<BlockView> Simulator::GetBlock(ChainId id, uint64_t height,
                                              const std::unordered_set<std::string>& watched) const {
  std::lock_guard<std::mutex> lock(mu_);
  const ChainState& c = chain(id);
  if (height >= c.blocks.size()) {
    return absl::NotFoundError(Cat("height: ", height, " is above the ", ChainName(id), " tip ", c.blocks.size() - 1));
  }
  const SimBlock& b = c.blocks[height];
  BlockView view;
  view.ref = b.info;
  view.transaction_count = static_cast<uint32_t>(b.txs.size());
  for (const Applied& a : b.applied) {
    for (const Payment& p : a.payments) {
      if (watched.contains(p.to_address)) view.transfers.push_back(TransferInfo{a.txid, p});
    }
  }
  return view;
}

absl::StatusOr<base::Amount> Simulator::Balance(ChainId id, std::string_view address, std::string_view token_contract,
                                                uint64_t height) const {
  const std::string one(address);
  absl::StatusOr<std::vector<base::Amount>> balances =
      ReadBalances(id, std::span<const std::string>(&one, 1), token_contract, height, /*one=*/true);
  if (!balances.ok()) return balances.status();
  return balances->front();
}

absl::StatusOr<std::vector<base::Amount>> Simulator::Balances(ChainId id, std::span<const std::string> addresses,
                                                              std::string_view token_contract, uint64_t height) const {
  return ReadBalances(id, addresses, token_contract, height, /*one=*/false);
}

absl::StatusOr<std::vector<base::Amount>> Simulator::ReadBalances(ChainId id, std::span<const std::string> addresses,
                                                                  std::string_view token_contract, uint64_t height,
                                                                  bool one) const {
  if (addresses.empty() || addresses.size() > kMaxBalanceAddresses) {
    return absl::InvalidArgumentError(
        Cat("addresses: ", addresses.size(), " entries, 1..", kMaxBalanceAddresses, " allowed"));
  }
  // The key of each address's balance in the confirmed ledger.
  std::vector<std::string> keys;
  keys.reserve(addresses.size());
  std::unordered_set<std::string> seen;
  std::optional<chain::EthAddress> contract;
  if (!token_contract.empty()) {
    if (id == ChainId::kBitcoin) return absl::InvalidArgumentError("token_contract: the bitcoin chain has no tokens");
    absl::StatusOr<std::string> contract_text = CanonicalAddress(id, token_contract, "token_contract");
    if (!contract_text.ok()) return contract_text.status();
    contract = *chain::ParseEthAddress(*contract_text);
  }
  for (size_t i = 0; i < addresses.size(); ++i) {
    absl::StatusOr<std::string> canonical =
        CanonicalAddress(id, addresses[i], one ? std::string("address") : Cat("addresses[", i, "]"));
    if (!canonical.ok()) return canonical.status();
    if (!seen.insert(*canonical).second) {
      return absl::InvalidArgumentError(Cat("addresses[", i, "]: ", *canonical, " is asked about twice"));
    }
    if (id == ChainId::kBitcoin) {
      keys.push_back(BitcoinBalanceKey(*canonical));
    } else {
      const chain::EthAddress holder = *chain::ParseEthAddress(*canonical);
      keys.push_back(contract ? EthTokenBalanceKey(*contract, holder) : EthBalanceKey(holder));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  const ChainState& c = chain(id);
  if (height >= c.blocks.size()) {
    return absl::NotFoundError(Cat("height: ", height, " is above the ", ChainName(id), " tip ", c.blocks.size() - 1));
  }
  if (contract && !tokens_.contains(*contract)) {
    return absl::NotFoundError(Cat("token_contract: ", chain::EthChecksumAddress(*contract), " is not a registered token"));
  }
  std::vector<base::Amount> out;
  out.reserve(keys.size());
  for (const std::string& key : keys) out.push_back(c.confirmed->BalanceAt(key, height));
  return out;
}

absl::StatusOr<Nonces> Simulator::Nonce(ChainId id, std::string_view address) const {
  if (id != ChainId::kEthereum) return absl::InvalidArgumentError("chain: nonces exist on the ethereum chain only");
  absl::StatusOr<std::string> canonical = CanonicalAddress(id, address, "address");
  if (!canonical.ok()) return canonical.status();
  const chain::EthAddress holder = *chain::ParseEthAddress(*canonical);
  std::lock_guard<std::mutex> lock(mu_);
  const ChainState& c = chain(id);
  return Nonces{*c.confirmed->NextNonce(holder), *c.pending->NextNonce(holder)};
}

absl::StatusOr<UnspentView> Simulator::ListUnspent(ChainId id, std::span<const std::string> addresses) const {
  if (id != ChainId::kBitcoin) return absl::InvalidArgumentError("chain: unspent outputs exist on the bitcoin chain only");
  if (addresses.empty() || addresses.size() > kMaxUnspentAddresses) {
    return absl::InvalidArgumentError(
        Cat("addresses: ", addresses.size(), " entries, 1..", kMaxUnspentAddresses, " allowed"));
  }
  std::unordered_set<std::string> wanted;
  for (size_t i = 0; i < addresses.size(); ++i) {
    absl::StatusOr<std::string> canonical = CanonicalAddress(id, addresses[i], Cat("addresses[", i, "]"));
    if (!canonical.ok()) return canonical.status();
    wanted.insert(*std::move(canonical));
  }
  std::lock_guard<std::mutex> lock(mu_);
  const ChainState& c = chain(id);
  // The pending ledger says what is unspent; the confirmed one knows the heights.
  absl::StatusOr<std::vector<UnspentCoin>> pending = c.pending->Unspent(wanted);
  if (!pending.ok()) return pending.status();
  absl::StatusOr<std::vector<UnspentCoin>> confirmed = c.confirmed->Unspent(wanted);
  if (!confirmed.ok()) return confirmed.status();
  std::map<std::pair<std::array<uint8_t, 32>, uint32_t>, uint64_t> heights;
  for (const UnspentCoin& coin : *confirmed) heights[{coin.txid, coin.vout}] = coin.height;
  UnspentView view;
  view.tip = c.blocks.back().info;
  view.outputs = *std::move(pending);
  for (UnspentCoin& coin : view.outputs) {
    auto it = heights.find({coin.txid, coin.vout});
    coin.height = it == heights.end() ? 0 : it->second;
  }
  std::sort(view.outputs.begin(), view.outputs.end(), [](const UnspentCoin& a, const UnspentCoin& b) {
    if (a.value != b.value) return a.value > b.value;
    if (a.txid != b.txid) return a.txid < b.txid;
    return a.vout < b.vout;
  });
  if (view.outputs.size() > kMaxUnspentOutputs) {
    view.outputs.resize(kMaxUnspentOutputs);
    view.truncated = true;
  }
  return view;
}

FeeAdvice Simulator::FeeEstimate(ChainId id) const {
  if (id == ChainId::kBitcoin) {
    return FeeAdvice{base::Amount(kAdvisedSatPerVbyte), base::Amount::Zero(), base::Amount::Zero()};
  }
  return FeeAdvice{base::Amount::Zero(), base::Amount(kAdvisedBaseFeeWei), base::Amount(kAdvisedPriorityFeeWei)};
}

absl::StatusOr<TxLocation> Simulator::FindTransaction(ChainId id, std::string_view txid) const {
  if (txid.size() != 64 || !std::all_of(txid.begin(), txid.end(), [](char ch) {
        return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
      })) {
    return absl::InvalidArgumentError(Cat("txid: ", base::Clip(txid, 64), " is not 64 lowercase hex digits"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  const ChainState& c = chain(id);
  TxLocation out;
  out.tip = c.blocks.back().info;
  if (auto it = c.tx_heights.find(std::string(txid)); it != c.tx_heights.end()) {
    out.state = TxState::kConfirmed;
    out.height = it->second;
    out.block_hash = c.blocks[it->second].info.hash;
    return out;
  }
  for (const MempoolTx& tx : c.mempool) {
    if (tx.txid == txid) {
      out.state = TxState::kMempool;
      return out;
    }
  }
  return out;
}

BroadcastCount Simulator::BroadcastCounts(ChainId id, std::string_view txid) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (txid.empty()) return broadcast_totals_[static_cast<size_t>(id)];
  const auto& counts = broadcasts_[static_cast<size_t>(id)];
  auto it = counts.find(std::string(txid));
  return it == counts.end() ? BroadcastCount{} : it->second;
}

absl::StatusOr<BroadcastResult> Simulator::Broadcast(ChainId id, std::span<const uint8_t> raw) {
  std::lock_guard<std::mutex> lock(mu_);
  ChainState& c = chain(id);
  TxRecord record{next_seq_, TxKind::kSigned, std::vector<uint8_t>(raw.begin(), raw.end())};
  // Counted before judging, so that refused copies are seen too.
  absl::StatusOr<std::string> txid = TxidOf(id, record);
  BroadcastCount* count = nullptr;
  if (txid.ok()) {
    count = &broadcasts_[static_cast<size_t>(id)][*txid];
    ++count->received;
    ++broadcast_totals_[static_cast<size_t>(id)].received;
  }
  absl::StatusOr<Applied> applied = c.pending->Apply(record);
  if (absl::IsAlreadyExists(applied.status())) {
    if (!txid.ok()) return txid.status();
    return BroadcastResult{*txid, true};
  }
  if (!applied.ok()) return applied.status();
  absl::Status written = store_->Write([&](StateStore::Writer& w) {
    RF_RETURN_IF_ERROR(w.InsertTx(id, record));
    return w.SetNextSeq(next_seq_ + 1);
  });
  if (!written.ok()) {
    ResetPending(c);
    return written;
  }
  ++next_seq_;
  if (count != nullptr) {
    ++count->accepted;
    ++broadcast_totals_[static_cast<size_t>(id)].accepted;
  }
  c.mempool.push_back(MempoolTx{std::move(record), applied->txid});
  return BroadcastResult{applied->txid, false};
}

absl::StatusOr<std::vector<std::string>> Simulator::Credit(std::span<const CreditSpec> credits, size_t* failed) {
  if (credits.empty() || credits.size() > kMaxCreditBatch) {
    return absl::InvalidArgumentError(Cat("credits: ", credits.size(), " entries; 1..", kMaxCreditBatch, " allowed"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<ChainId, MempoolTx>> added;
  bool touched[2] = {false, false};
  auto fail = [&](size_t i, absl::Status s) {
    for (ChainId id : {ChainId::kBitcoin, ChainId::kEthereum}) {
      if (touched[static_cast<size_t>(id)]) ResetPending(chain(id));
    }
    if (failed != nullptr) *failed = i;
    return s;
  };
  for (size_t i = 0; i < credits.size(); ++i) {
    const CreditSpec& spec = credits[i];
    const int64_t seq = next_seq_ + static_cast<int64_t>(i);
    absl::StatusOr<std::vector<uint8_t>> raw;
    if (spec.chain == ChainId::kBitcoin) {
      raw = spec.token_contract.empty()
                ? MakeBitcoinCredit(static_cast<uint64_t>(seq), spec.address, spec.amount)
                : absl::InvalidArgumentError("token_contract: the bitcoin chain has no tokens");
    } else {
      raw = MakeEthCredit(static_cast<uint64_t>(seq), spec.address, spec.token_contract, spec.amount);
    }
    if (!raw.ok()) return fail(i, raw.status());
    TxRecord record{seq, TxKind::kCredit, *std::move(raw)};
    touched[static_cast<size_t>(spec.chain)] = true;
    absl::StatusOr<Applied> applied = chain(spec.chain).pending->Apply(record);
    if (!applied.ok()) return fail(i, applied.status());
    added.emplace_back(spec.chain, MempoolTx{std::move(record), applied->txid});
  }
  const int64_t next = next_seq_ + static_cast<int64_t>(credits.size());
  absl::Status written = store_->Write([&](StateStore::Writer& w) {
    for (const auto& [id, tx] : added) RF_RETURN_IF_ERROR(w.InsertTx(id, tx.record));
    return w.SetNextSeq(next);
  });
  if (!written.ok()) return fail(0, written);
  next_seq_ = next;
  std::vector<std::string> txids;
  for (auto& [id, tx] : added) {
    txids.push_back(tx.txid);
    chain(id).mempool.push_back(std::move(tx));
  }
  return txids;
}

absl::StatusOr<BlockInfo> Simulator::Mine(ChainId id, uint32_t blocks) {
  if (blocks < 1 || blocks > kMaxMineBlocks) {
    return absl::InvalidArgumentError(Cat("blocks: ", blocks, " is outside 1..", kMaxMineBlocks));
  }
  std::lock_guard<std::mutex> lock(mu_);
  ChainState& c = chain(id);
  const uint64_t first = c.blocks.size();
  absl::Status written = store_->Write([&](StateStore::Writer& w) {
    for (uint32_t i = 0; i < blocks; ++i) RF_RETURN_IF_ERROR(w.InsertBlock(id, first + i, next_seq_ + i));
    if (!c.mempool.empty()) RF_RETURN_IF_ERROR(w.ConfirmMempool(id, first));
    return w.SetNextSeq(next_seq_ + blocks);
  });
  if (!written.ok()) return written;
  std::vector<TxRecord> txs;
  for (MempoolTx& tx : c.mempool) txs.push_back(std::move(tx.record));
  c.mempool.clear();
  for (uint32_t i = 0; i < blocks; ++i) {
    absl::Status s = AppendBlock(c, next_seq_ + i, i == 0 ? std::move(txs) : std::vector<TxRecord>());
    // Every mempool transaction was checked against exactly this state, in this order.
    RF_CHECK(s.ok(), std::string(s.message()));
  }
  next_seq_ += blocks;
  // The pending ledger already is the confirmed one plus the (now mined) mempool.
  return c.blocks.back().info;
}

absl::StatusOr<ChainChange> Simulator::Reorg(ChainId id, uint32_t depth, bool keep_transactions) {
  if (depth < 1 || depth > kMaxReorgDepth) {
    return absl::InvalidArgumentError(Cat("depth: ", depth, " is outside 1..", kMaxReorgDepth));
  }
  std::lock_guard<std::mutex> lock(mu_);
  ChainState& c = chain(id);
  const uint64_t tip = c.blocks.size() - 1;
  if (depth > tip) {
    return absl::FailedPreconditionError(
        Cat("depth: ", depth, " is above the ", ChainName(id), " tip height ", tip, " (the genesis block stays)"));
  }
  const uint64_t fork = tip - depth;
  // The replacement chain: the blocks up to the fork replayed, then depth + 1 empty blocks.
  std::unique_ptr<ChainState> fresh = NewChainState(id, &tokens_);
  for (uint64_t h = 1; h <= fork; ++h) {
    absl::Status s = AppendBlock(*fresh, c.blocks[h].nonce, c.blocks[h].txs);
    RF_CHECK(s.ok(), std::string(s.message()));
  }
  for (uint32_t i = 0; i <= depth; ++i) {
    absl::Status s = AppendBlock(*fresh, next_seq_ + i, {});
    RF_CHECK(s.ok(), std::string(s.message()));
  }
  std::vector<MempoolTx> candidates;
  std::vector<std::string> evicted;
  for (uint64_t h = fork + 1; h <= tip; ++h) {
    for (MempoolTx& tx : BlockTransactions(c.blocks[h])) {
      if (keep_transactions) {
        candidates.push_back(std::move(tx));
      } else {
        evicted.push_back(tx.txid);
      }
    }
  }
  candidates.insert(candidates.end(), c.mempool.begin(), c.mempool.end());
  // Arrival order is an order in which each transaction follows what it depends on.
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const MempoolTx& a, const MempoolTx& b) { return a.record.seq < b.record.seq; });
  RebuiltPending rebuilt = RebuildPending(*fresh->confirmed, std::move(candidates));
  absl::Status written = store_->Write([&](StateStore::Writer& w) {
    RF_RETURN_IF_ERROR(w.RemoveBlocksAbove(id, fork, keep_transactions));
    for (const MempoolTx& tx : rebuilt.evicted) RF_RETURN_IF_ERROR(w.DeleteTx(tx.record.seq));
    for (uint32_t i = 0; i <= depth; ++i) RF_RETURN_IF_ERROR(w.InsertBlock(id, fork + 1 + i, next_seq_ + i));
    return w.SetNextSeq(next_seq_ + depth + 1);
  });
  if (!written.ok()) return written;
  next_seq_ += depth + 1;
  for (const MempoolTx& tx : rebuilt.evicted) evicted.push_back(tx.txid);
  fresh->pending = std::move(rebuilt.pending);
  fresh->mempool = std::move(rebuilt.mempool);
  chains_[static_cast<size_t>(id)] = std::move(fresh);
  return ChainChange{chain(id).blocks.back().info, std::move(evicted)};
}

absl::StatusOr<std::vector<std::string>> Simulator::DropBroadcast(ChainId id, std::string_view txid) {
  std::lock_guard<std::mutex> lock(mu_);
  ChainState& c = chain(id);
  auto it = std::find_if(c.mempool.begin(), c.mempool.end(), [&](const MempoolTx& tx) { return tx.txid == txid; });
  if (it == c.mempool.end()) {
    return absl::NotFoundError(Cat("txid: ", base::Clip(txid, 64), " is not in the ", ChainName(id), " mempool"));
  }
  const MempoolTx dropped = *it;
  std::vector<MempoolTx> candidates;
  for (const MempoolTx& tx : c.mempool) {
    if (tx.record.seq != dropped.record.seq) candidates.push_back(tx);
  }
  RebuiltPending rebuilt = RebuildPending(*c.confirmed, std::move(candidates));
  absl::Status written = store_->Write([&](StateStore::Writer& w) {
    RF_RETURN_IF_ERROR(w.DeleteTx(dropped.record.seq));
    for (const MempoolTx& tx : rebuilt.evicted) RF_RETURN_IF_ERROR(w.DeleteTx(tx.record.seq));
    return absl::OkStatus();
  });
  if (!written.ok()) return written;
  c.pending = std::move(rebuilt.pending);
  c.mempool = std::move(rebuilt.mempool);
  std::vector<std::string> evicted{dropped.txid};
  for (const MempoolTx& tx : rebuilt.evicted) evicted.push_back(tx.txid);
  return evicted;
}

absl::StatusOr<std::string> Simulator::RegisterToken(std::string_view contract, uint32_t decimals) {
  absl::StatusOr<std::string> canonical = CanonicalAddress(ChainId::kEthereum, contract, "contract");
  if (!canonical.ok()) return canonical.status();
  if (decimals > static_cast<uint32_t>(base::kMaxDecimals)) {
    return absl::InvalidArgumentError(Cat("decimals: ", decimals, " is above ", base::kMaxDecimals));
  }
  const chain::EthAddress address = *chain::ParseEthAddress(*canonical);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = tokens_.find(address); it != tokens_.end()) {
    if (it->second.decimals == decimals) return *canonical;
    return absl::FailedPreconditionError(
        Cat("contract: ", *canonical, " is registered with ", it->second.decimals, " decimals"));
  }
  const TokenInfo info{decimals, next_seq_};
  absl::Status written = store_->Write([&](StateStore::Writer& w) {
    RF_RETURN_IF_ERROR(w.InsertToken(address, info));
    return w.SetNextSeq(next_seq_ + 1);
  });
  if (!written.ok()) return written;
  ++next_seq_;
  tokens_[address] = info;
  return *canonical;
}

}  // namespace ringfence::chainsim

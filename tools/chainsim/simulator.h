// Simulator: chainsim's two chains ("bitcoin" regtest and "ethereum" chain id 1337), each a
// list of blocks over a ledger plus a mempool, persisted in a StateStore. It is what the gRPC
// services (service.h) call, and what in-process tests drive directly.
//
// Every change is validated against the best chain plus the mempool, written to the state
// file in one transaction, and only then made visible; on any error nothing changes (in memory
// or on disk). Block hashes, transfers and balance history are rebuilt from the state file at
// Open by replaying every transaction through the same rules that admitted it.
//
// Thread-safe: one mutex serialises every call (a development chain needs no more).
#ifndef RINGFENCE_TOOLS_CHAINSIM_SIMULATOR_H_
#define RINGFENCE_TOOLS_CHAINSIM_SIMULATOR_H_

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"
#include "base/amount.h"
#include "tools/chainsim/ledger.h"
#include "tools/chainsim/state_store.h"

namespace ringfence::chainsim {

inline constexpr uint32_t kMaxMineBlocks = 1'000;
inline constexpr uint32_t kMaxReorgDepth = 100;
inline constexpr size_t kMaxCreditBatch = 10'000;

struct BlockInfo {
  uint64_t height = 0;
  std::string hash;         // 64 lowercase hex digits
  std::string parent_hash;  // all zeros for the genesis block
};

struct TransferInfo {
  std::string txid;
  Payment payment;
};

struct BlockView {
  BlockInfo ref;
  std::vector<TransferInfo> transfers;  // to watched addresses, in block order
  uint32_t transaction_count = 0;
};

struct CreditSpec {
  ChainId chain = ChainId::kBitcoin;
  std::string address;
  base::Amount amount;
  std::string token_contract;  // Ethereum only; empty for native value
};

struct BroadcastResult {
  std::string txid;
  bool already_known = false;
};

struct Nonces {
  uint64_t confirmed = 0;
  uint64_t pending = 0;
};

// ListUnspent's answer: the best chain plus the mempool at `tip`.
struct UnspentView {
  BlockInfo tip;
  std::vector<UnspentCoin> outputs;  // height 0 for an output a mempool transaction creates
  bool truncated = false;
};

// chainsim has no fee market; these are what it advises (and what its tests rely on).
struct FeeAdvice {
  base::Amount sat_per_vbyte;             // bitcoin
  base::Amount base_fee_per_gas;          // ethereum
  base::Amount max_priority_fee_per_gas;  // ethereum
};
inline constexpr uint64_t kAdvisedSatPerVbyte = 2;
inline constexpr uint64_t kAdvisedBaseFeeWei = 1'000'000'000;
inline constexpr uint64_t kAdvisedPriorityFeeWei = 1'000'000'000;

enum class TxState : uint8_t { kUnknown, kMempool, kConfirmed };
struct TxLocation {
  TxState state = TxState::kUnknown;
  uint64_t height = 0;     // kConfirmed only
  std::string block_hash;  // kConfirmed only
  BlockInfo tip;
};

struct BroadcastCount {
  uint64_t received = 0;
  uint64_t accepted = 0;
};

inline constexpr size_t kMaxUnspentAddresses = 1'000;
inline constexpr size_t kMaxBalanceAddresses = 1'000;
inline constexpr size_t kMaxUnspentOutputs = 5'000;

struct ChainChange {
  BlockInfo tip;
  std::vector<std::string> evicted_txids;
};

// One chain's blocks, mempool and ledgers (defined in simulator.cc).
struct ChainState;

class Simulator {
 public:
  // Opens (or creates) the state file and replays it. DataLoss if a stored transaction no
  // longer passes the rules or the blocks are not contiguous; Internal for SQLite errors.
  static absl::StatusOr<std::unique_ptr<Simulator>> Open(const std::string& state_path);
  ~Simulator();

  // --- Node ---------------------------------------------------------------------------------
  BlockInfo Tip(ChainId chain) const;
  // `watched` holds canonical addresses (CanonicalAddress). NotFound above the tip.
  absl::StatusOr<BlockView> GetBlock(ChainId chain, uint64_t height,
                                     const std::unordered_set<std::string>& watched) const;
  // The balance after block `height`. InvalidArgument for a bad address or contract (or any
  // contract on Bitcoin); NotFound above the tip or for an unregistered token.
  absl::StatusOr<base::Amount> Balance(ChainId chain, std::string_view address, std::string_view token_contract,
                                       uint64_t height) const;
  // The balances of `addresses` (1..kMaxBalanceAddresses, any form, distinct once canonical)
  // after block `height`, in their order, read under one lock. As Balance otherwise; a bad or
  // repeated address is InvalidArgument naming addresses[i].
  absl::StatusOr<std::vector<base::Amount>> Balances(ChainId chain, std::span<const std::string> addresses,
                                                     std::string_view token_contract, uint64_t height) const;
  // Validates and adds a signed transaction to the mempool. FailedPrecondition naming the
  // rule when it is invalid; a transaction already in the mempool or the best chain is
  // already_known (and nothing changes).
  absl::StatusOr<BroadcastResult> Broadcast(ChainId chain, std::span<const uint8_t> raw);
  // InvalidArgument on Bitcoin or for a bad address.
  absl::StatusOr<Nonces> Nonce(ChainId chain, std::string_view address) const;
  // The unspent outputs of `addresses` (1..kMaxUnspentAddresses, any form) after the best
  // chain and the mempool, largest first, at most kMaxUnspentOutputs. InvalidArgument on
  // Ethereum, for a bad address (naming addresses[i]) or a wrong count.
  absl::StatusOr<UnspentView> ListUnspent(ChainId chain, std::span<const std::string> addresses) const;
  FeeAdvice FeeEstimate(ChainId chain) const;
  // Where `txid` (64 lowercase hex digits; InvalidArgument otherwise) is now.
  absl::StatusOr<TxLocation> FindTransaction(ChainId chain, std::string_view txid) const;
  // Broadcasts of `txid` since this Simulator was opened; the chain's totals for an empty txid.
  BroadcastCount BroadcastCounts(ChainId chain, std::string_view txid) const;

  // --- Control ------------------------------------------------------------------------------
  // Adds one credit transaction per spec to its chain's mempool, all or none; returns their
  // txids in order. On error, `*failed` (if given) is the index of the spec at fault.
  absl::StatusOr<std::vector<std::string>> Credit(std::span<const CreditSpec> credits, size_t* failed = nullptr);
  // Mines `blocks` (1..kMaxMineBlocks) blocks; the first takes the whole mempool.
  absl::StatusOr<BlockInfo> Mine(ChainId chain, uint32_t blocks);
  // Replaces the last `depth` (1..kMaxReorgDepth, at most the tip height) blocks by depth + 1
  // empty blocks. Their transactions return to the mempool ahead of it (keep) or vanish; any
  // mempool transaction no longer valid is evicted.
  absl::StatusOr<ChainChange> Reorg(ChainId chain, uint32_t depth, bool keep_transactions);
  // Removes a mempool transaction and everything in the mempool that depended on it.
  // NotFound if `txid` is not in the mempool.
  absl::StatusOr<std::vector<std::string>> DropBroadcast(ChainId chain, std::string_view txid);
  // Registers an ERC-20 token contract (decimals 0..38). The same registration again is a
  // no-op; other decimals for a registered contract are FailedPrecondition. Returns EIP-55.
  absl::StatusOr<std::string> RegisterToken(std::string_view contract, uint32_t decimals);


 private:
  // Balances and Balance: `one` names the single address "address" in errors instead of
  // addresses[i].
  absl::StatusOr<std::vector<base::Amount>> ReadBalances(ChainId chain, std::span<const std::string> addresses,
                                                         std::string_view token_contract, uint64_t height,
                                                         bool one) const;
  explicit Simulator(std::unique_ptr<StateStore> store);
  ChainState& chain(ChainId id) { return *chains_[static_cast<size_t>(id)]; }
  const ChainState& chain(ChainId id) const { return *chains_[static_cast<size_t>(id)]; }

  mutable std::mutex mu_;
  std::unique_ptr<StateStore> store_;
  TokenRegistry tokens_;
  int64_t next_seq_ = 1;
  std::array<std::unique_ptr<ChainState>, 2> chains_;  // indexed by ChainId
  // Broadcasts per txid and per chain since Open (indexed by ChainId); not persisted.
  std::array<std::unordered_map<std::string, BroadcastCount>, 2> broadcasts_;
  std::array<BroadcastCount, 2> broadcast_totals_;
};

}  // namespace ringfence::chainsim

#endif  // RINGFENCE_TOOLS_CHAINSIM_SIMULATOR_H_

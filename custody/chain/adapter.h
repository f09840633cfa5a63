// ChainAdapter: how custodyd sees one chain (a Bitcoin-family UTXO chain or an Ethereum-family
// account chain): its tip, its blocks with the transfers that touch addresses we watch, the
// balance of an address at a height, and broadcast of a signed transaction.
//
// The interface is shaped for polling real nodes (Ethereum JSON-RPC, Bitcoin Core RPC, later
// issues) as much as for chainsim: custodyd asks for blocks by height, and finds
// reorganisations by comparing each block's parent hash with the hash it stored for the height
// below. Nothing here is trusted: a node's answer is outside input, and the ingestor checks it
// (heights contiguous, hashes well formed, amounts in the grammar, sizes bounded).
//
// Implementations are thread-safe: the ingestor, the service and (later) the withdrawal pipeline
// may call one adapter concurrently.
#ifndef RINGFENCE_CUSTODY_CHAIN_ADAPTER_H_
#define RINGFENCE_CUSTODY_CHAIN_ADAPTER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/amount.h"

namespace ringfence::custody::chain {

// A block's identity. Hashes are lowercase hex as the chain shows them (Bitcoin: byte-reversed
// double SHA-256; Ethereum: 0x-less Keccak-256), 64 hex digits.
struct BlockRef {
  uint64_t height = 0;
  std::string hash;
  std::string parent_hash;
};

// One credit to a watched address found in a block.
struct Transfer {
  std::string txid;            // lowercase hex, 64 digits (0x-less for Ethereum)
  uint32_t index = 0;          // output index (Bitcoin) or log / transfer index within the tx (Ethereum)
  std::string to_address;      // as the chain adapter normalises it: bech32 lowercase, EIP-55
  std::string token_contract;  // EIP-55 ERC-20 contract for a token Transfer event; empty for native
  base::Amount amount;
};

struct Block {
  BlockRef ref;
  std::vector<Transfer> transfers;  // only those to addresses in the watch set
};

// An unspent output of one of our addresses (UTXO chains).
struct Utxo {
  std::string txid;  // 64 lowercase hex digits, display order
  uint32_t vout = 0;
  std::string address;  // canonical, one of those asked about
  uint64_t amount = 0;  // satoshi, 1..21,000,000 BTC
  uint64_t height = 0;  // the block that created it; 0 while unconfirmed
  std::vector<uint8_t> script_pubkey;
};

// The unspent outputs of a set of addresses as the node sees them at `tip` (best chain plus
// mempool: an output a mempool transaction spends is absent, one it creates has height 0).
struct UnspentSet {
  BlockRef tip;
  std::vector<Utxo> outputs;  // largest amount first
  bool truncated = false;     // the node left out its smallest matches
};

// An account's transaction count: in the best chain, and with its mempool transactions (the
// nonce of its next transaction).
struct AccountNonce {
  uint64_t confirmed = 0;
  uint64_t pending = 0;
};

// What the node advises paying now. Bitcoin fills the first, Ethereum the other two.
struct FeeEstimate {
  base::Amount sat_per_vbyte;
  base::Amount base_fee_per_gas;
  base::Amount max_priority_fee_per_gas;
};

enum class TxState : uint8_t { kUnknown, kMempool, kConfirmed };

// Where a transaction is. A transaction the node does not know (never received, dropped, or
// evicted by a reorganisation) is kUnknown, not an error.
struct TxStatus {
  TxState state = TxState::kUnknown;
  uint64_t height = 0;         // kConfirmed only
  std::string block_hash;      // kConfirmed only
  uint64_t confirmations = 0;  // kConfirmed only: tip height - height + 1
  BlockRef tip;
};

class ChainAdapter {
 public:
  virtual ~ChainAdapter() = default;

  // The chain's name as in custodyd's config ("bitcoin", "ethereum") and its network.
  virtual const std::string& chain() const = 0;

  // The current tip. UNAVAILABLE if the node cannot be reached.
  virtual absl::StatusOr<BlockRef> Tip() = 0;

  // The block at `height` of the node's current best chain, with the transfers it contains to
  // any of `watched` addresses (native and ERC-20 Transfer events). NOT_FOUND above the tip.
  virtual absl::StatusOr<Block> GetBlock(uint64_t height, std::span<const std::string> watched) = 0;

  // Balance of `address` (native when `token_contract` is empty) as of `height`.
  virtual absl::StatusOr<base::Amount> BalanceAt(const std::string& address, const std::string& token_contract,
                                                 uint64_t height) = 0;

  // The balances of `addresses` as of `height`, one per address in their order (an address
  // given twice gets its balance twice). For a wallet's observed balance: an adapter asks the
  // node for many at once where it can (chainsim's GetBalances, a JSON-RPC batch); this default
  // asks BalanceAt once per address. INVALID_ARGUMENT naming addresses[i] for a bad address.
  virtual absl::StatusOr<std::vector<base::Amount>> BalancesAt(std::span<const std::string> addresses,
                                                               const std::string& token_contract, uint64_t height);

  // Sends a signed transaction; returns its txid. Broadcasting the same bytes twice returns the
  // same txid (ALREADY_EXISTS is folded into success); an invalid transaction is
  // FAILED_PRECONDITION with the node's reason (clipped).
  virtual absl::StatusOr<std::string> Broadcast(std::span<const uint8_t> signed_tx) = 0;

  // --- Spending (the withdrawal executor). An adapter that cannot spend answers UNIMPLEMENTED.

  // UTXO chains: the unspent outputs of `addresses` (1..1,000). INVALID_ARGUMENT for a bad
  // address or count, or on an account chain.
  virtual absl::StatusOr<UnspentSet> ListUnspent(std::span<const std::string> addresses);

  // Account chains: the nonces of `address`. INVALID_ARGUMENT on a UTXO chain.
  virtual absl::StatusOr<AccountNonce> Nonce(const std::string& address);

  virtual absl::StatusOr<FeeEstimate> EstimateFee();

  // Where `txid` (as Broadcast returned it) is now.
  virtual absl::StatusOr<TxStatus> GetTransaction(const std::string& txid);
};

inline absl::StatusOr<std::vector<base::Amount>> ChainAdapter::BalancesAt(std::span<const std::string> addresses,
                                                                         const std::string& token_contract,
                                                                         uint64_t height) {
  std::vector<base::Amount> out;
  out.reserve(addresses.size());
  for (const std::string& address : addresses) {
    absl::StatusOr<base::Amount> balance = BalanceAt(address, token_contract, height);
    if (!balance.ok()) return balance.status();
    out.push_back(*balance);
  }
  return out;
}
inline absl::StatusOr<UnspentSet> ChainAdapter::ListUnspent(std::span<const std::string>) {
  return absl::UnimplementedError("ListUnspent: this chain adapter cannot list unspent outputs");
}
inline absl::StatusOr<AccountNonce> ChainAdapter::Nonce(const std::string&) {
  return absl::UnimplementedError("Nonce: this chain adapter cannot read nonces");
}
inline absl::StatusOr<FeeEstimate> ChainAdapter::EstimateFee() {
  return absl::UnimplementedError("EstimateFee: this chain adapter cannot estimate fees");
}
inline absl::StatusOr<TxStatus> ChainAdapter::GetTransaction(const std::string&) {
  return absl::UnimplementedError("GetTransaction: this chain adapter cannot look up transactions");
}

}  // namespace ringfence::custody::chain

#endif  // RINGFENCE_CUSTODY_CHAIN_ADAPTER_H_

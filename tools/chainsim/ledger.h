// Ledger: the state of one chainsim chain after a sequence of transactions (Bitcoin: unspent
// outputs; Ethereum: accounts, nonces and token balances), and the one place where a
// transaction is judged valid. A Ledger is a plain in-memory value owned by the Simulator: one
// for the best chain ("confirmed", which also keeps each balance's history by block height for
// GetBalance) and one for the best chain plus the mempool ("pending", which is what a new
// broadcast is checked against).
//
// Not thread-safe; the Simulator serialises every call under its mutex.
#ifndef RINGFENCE_TOOLS_CHAINSIM_LEDGER_H_
#define RINGFENCE_TOOLS_CHAINSIM_LEDGER_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/amount.h"
#include "chain/eth_address.h"

namespace ringfence::chainsim {

enum class ChainId : uint8_t { kBitcoin, kEthereum };

inline constexpr std::string_view kBitcoinName = "bitcoin";
inline constexpr std::string_view kEthereumName = "ethereum";
inline constexpr std::string_view kRegtestHrp = "bcrt";
inline constexpr uint64_t kEthereumChainId = 1337;
inline constexpr uint64_t kMinGasLimit = 21'000;

std::string_view ChainName(ChainId chain);
// InvalidArgument naming `field` unless `name` is "bitcoin" or "ethereum".
absl::StatusOr<ChainId> ParseChainName(std::string_view name, std::string_view field = "chain");

// How a transaction entered the chain: made by Control.Credit (no signature: a faucet), or
// sent signed through Node.Broadcast.
enum class TxKind : uint8_t { kCredit = 1, kSigned = 2 };

// A transaction as the chain stores it. `seq` orders every transaction of a state file by
// arrival (one counter for transactions, token registrations and block nonces, never reused);
// blocks and the mempool are in seq order, which is also an order in which each transaction
// comes after everything it depends on. A credit's seq is also its serial: what makes its id
// unique.
struct TxRecord {
  int64_t seq = 0;
  TxKind kind = TxKind::kSigned;
  // Bitcoin: the transaction's wire form (a credit is a coinbase-like transaction);
  // Ethereum: the signed EIP-1559 encoding, or a credit's encoding (EncodeEthCredit).
  std::vector<uint8_t> raw;
};

// One payment a transaction makes: a native output or value transfer, or an ERC-20 Transfer.
struct Payment {
  uint32_t index = 0;          // Bitcoin: output index; Ethereum: log index (always 0 here)
  std::string to_address;      // canonical: lowercase bech32, EIP-55
  std::string token_contract;  // EIP-55, empty for native value
  base::Amount amount;
};

// What Apply found: the id (internal byte order as it enters the block hash, and as the chain
// shows it) and the payments.
struct Applied {
  std::array<uint8_t, 32> id{};
  std::string txid;  // 64 lowercase hex digits
  std::vector<Payment> payments;
};

// An unspent output (Bitcoin) as a ledger holds it. `height` is the block that created it in a
// ledger with history; a ledger without history (pending) does not know heights.
struct UnspentCoin {
  std::array<uint8_t, 32> txid{};  // internal byte order
  uint32_t vout = 0;
  std::string address;             // canonical bech32
  uint64_t value = 0;              // satoshi
  uint64_t height = 0;
  std::vector<uint8_t> script_pubkey;
};

// A registered ERC-20 token. A token exists for transactions that arrived after it was
// registered (seq above `registered_seq`): a replay then judges every transaction as it was
// judged when it arrived.
struct TokenInfo {
  uint32_t decimals = 0;
  int64_t registered_seq = 0;
};
// Registered ERC-20 tokens by contract. Owned by the Simulator; ledgers read it.
using TokenRegistry = std::map<chain::EthAddress, TokenInfo>;

class Ledger {
 public:
  virtual ~Ledger() = default;

  // Checks `tx` against this state and applies it. On any error nothing changes:
  // ALREADY_EXISTS when a transaction with the same id is already applied here;
  // FAILED_PRECONDITION naming the rule broken (decoding, signature, inputs, nonce, balance).
  virtual absl::StatusOr<Applied> Apply(const TxRecord& tx) = 0;

  // A copy of the current state without the balance history (for the pending ledger).
  virtual std::unique_ptr<Ledger> CloneWithoutHistory() const = 0;

  // The sender's next nonce (Ethereum); UNIMPLEMENTED for Bitcoin.
  virtual absl::StatusOr<uint64_t> NextNonce(const chain::EthAddress& address) const;

  // The unspent outputs paying any of `addresses` (canonical), in outpoint order (Bitcoin);
  // UNIMPLEMENTED for Ethereum.
  virtual absl::StatusOr<std::vector<UnspentCoin>> Unspent(const std::unordered_set<std::string>& addresses) const;

  // Subsequent balance changes belong to block `height` (ledgers with history only).
  void BeginBlock(uint64_t height) { height_ = height; }

  // The balance of `key` (BalanceKey) after block `height`. REQUIRES: a ledger with history.
  base::Amount BalanceAt(const std::string& key, uint64_t height) const;

 protected:
  explicit Ledger(bool keep_history) : keep_history_(keep_history) {}
  Ledger(const Ledger& other, bool keep_history);

  uint64_t height() const { return height_; }
  base::Uint128 Balance(const std::string& key) const;
  void SetBalance(const std::string& key, base::Uint128 value);
  bool Knows(const std::string& txid) const { return known_txids_.contains(txid); }
  void Remember(const std::string& txid) { known_txids_.insert(txid); }

 private:
  bool keep_history_;
  uint64_t height_ = 0;
  std::unordered_map<std::string, base::Uint128> balances_;
  // key -> (height, balance after that block), heights increasing.
  std::unordered_map<std::string, std::vector<std::pair<uint64_t, base::Uint128>>> history_;
  std::unordered_set<std::string> known_txids_;
};

// A new, empty ledger for `chain`. Ethereum ledgers read `tokens`, which must outlive them.
std::unique_ptr<Ledger> NewLedger(ChainId chain, const TokenRegistry* tokens, bool keep_history);

// The key under which a ledger keeps a balance: Bitcoin: the canonical address; Ethereum:
// the lowercase address, or "<lowercase contract>/<lowercase holder>" for a token.
std::string BitcoinBalanceKey(std::string_view canonical_address);
std::string EthBalanceKey(const chain::EthAddress& holder);
std::string EthTokenBalanceKey(const chain::EthAddress& contract, const chain::EthAddress& holder);

// The canonical form of an address of `chain` (lowercase bech32 with HRP bcrt; EIP-55), or
// InvalidArgument naming `field`.
absl::StatusOr<std::string> CanonicalAddress(ChainId chain, std::string_view address, std::string_view field);

// The txid of a transaction (as Applied::txid), or FailedPrecondition if it does not decode.
absl::StatusOr<std::string> TxidOf(ChainId chain, const TxRecord& tx);

// Credits. Bitcoin: a coinbase-like transaction (one input spending the null outpoint, its
// scriptSig pushing `serial` as 8 big-endian bytes; one output paying `address`).
// Ethereum: tag (1 native, 2 token) || u64be serial || to (20 bytes) || [contract (20 bytes)]
// || u128be amount. `serial` makes every credit's id unique. InvalidArgument naming the field
// (address, amount, token_contract) for a bad address or amount.
absl::StatusOr<std::vector<uint8_t>> MakeBitcoinCredit(uint64_t serial, std::string_view address,
                                                       base::Amount amount);
absl::StatusOr<std::vector<uint8_t>> MakeEthCredit(uint64_t serial, std::string_view address,
                                                   std::string_view token_contract, base::Amount amount);

}  // namespace ringfence::chainsim

#endif  // RINGFENCE_TOOLS_CHAINSIM_LEDGER_H_

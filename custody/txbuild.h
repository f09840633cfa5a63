// txbuild: the unsigned transactions of the withdrawal executor (custody/executor.h), built
// with chain/ from values the executor has read (the wallet's coins or accounts, the node's fee
// advice, the withdrawal's amount, destination and fee cap). Pure functions: no I/O, no clock;
// the same inputs always give the same transaction (a crash before the build is recorded may
// rebuild, and a rebuild after the record is never done: the record is what is signed).
//
// Bitcoin: coin selection is largest first over the candidate coins (ties by txid, then vout),
// adding coins until they pay the amount and the fee of the transaction so far at the advised
// rate. The transaction pays the destination (output 0) and returns the change to the wallet's
// change address (output 1); change below kDustLimit is left to the fee instead of making an
// output nobody would spend. The fee is rate x the largest virtual size the signed transaction
// can have (MaxSignedP2wpkhVsize: 72-byte signatures), so the real fee rate is never below the
// advice. Largest first is deterministic, needs the fewest inputs (smallest fee now) and leaves
// small coins for later consolidation; branch-and-bound's change-less matches are rare with
// custody amounts and are not worth the search.
//
// Ethereum: one EIP-1559 transaction from the chosen sending account: a native transfer
// (gas 21,000, no calldata) or an ERC-20 transfer(to, amount) call to the token contract (gas
// kErc20GasLimit, value 0). max_fee_per_gas = 2 x base fee + priority fee (room for the base fee
// to double), lowered to what the fee cap allows if needed, but never below base + priority.
// The fee the approvers capped is gas_limit x max_fee_per_gas, the most the sender can pay.
//
// Thread-safe (no state).
#ifndef RINGFENCE_CUSTODY_TXBUILD_H_
#define RINGFENCE_CUSTODY_TXBUILD_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/amount.h"
#include "chain/bitcoin_tx.h"
#include "chain/eth_tx.h"
#include "proto/signer_tx.pb.h"

namespace ringfence::custody::txbuild {

// A P2WPKH output's value below which it is dust (Bitcoin Core's 294 satoshi at 3 sat/vB).
inline constexpr uint64_t kDustLimit = 294;
// The most inputs one withdrawal spends; more means the wallet needs consolidating first.
inline constexpr size_t kMaxInputs = 500;
inline constexpr uint64_t kNativeGasLimit = 21'000;
// An ERC-20 transfer costs about 35,000-65,000 gas; the rest is headroom.
inline constexpr uint64_t kErc20GasLimit = 100'000;

// A coin the wallet can spend: an unspent P2WPKH output of one of its keys.
struct Coin {
  std::string txid;  // display hex
  uint32_t vout = 0;
  uint64_t amount = 0;  // satoshi
  std::string key_id;   // signerd's key that owns it
  std::string address;  // the key's P2WPKH address
};

// The order in which BuildBitcoinSpend considers coins: largest amount first, then txid, then
// vout. For anything with those three fields (a Coin, or a node's unspent output), so that a
// caller that sorts its coins beforehand sorts them the same way.
template <typename A, typename B>
bool ConsideredBefore(const A& a, const B& b) {
  if (a.amount != b.amount) return a.amount > b.amount;
  if (a.txid != b.txid) return a.txid < b.txid;
  return a.vout < b.vout;
}

struct BitcoinSpend {
  std::vector<Coin> candidates;  // any order; selection sorts them
  std::string destination;       // canonical segwit address
  uint64_t amount = 0;           // satoshi the destination receives (> 0)
  std::string change_address;    // a P2WPKH address of a key of the same wallet
  uint64_t sat_per_vbyte = 0;    // > 0
  base::Amount fee_cap;          // satoshi
};

struct BitcoinPlan {
  ringfence::chain::Transaction unsigned_tx;  // no witnesses
  std::vector<Coin> inputs;        // in input order
  uint64_t fee = 0;
  uint64_t change = 0;             // 0 when there is no change output
  uint64_t max_vsize = 0;
};

// INVALID_ARGUMENT naming the field for a bad destination, change address, zero amount or
// rate, or a candidate whose txid is not 64 hex digits; FAILED_PRECONDITION
// "insufficient_funds: ..." when the candidates cannot pay amount + fee within kMaxInputs, and
// "fee_above_cap: ..." when the fee of every selection that pays exceeds the cap.
absl::StatusOr<BitcoinPlan> BuildBitcoinSpend(const BitcoinSpend& spend);

struct EthereumSpend {
  uint64_t chain_id = 0;
  uint64_t nonce = 0;
  std::string destination;      // EIP-55 (or all lower / all upper) address
  base::Amount amount;          // wei, or token base units when token_contract is set
  std::string token_contract;   // empty for ether
  base::Amount base_fee_per_gas;
  base::Amount max_priority_fee_per_gas;
  base::Amount fee_cap;         // wei
};

struct EthereumPlan {
  ringfence::chain::Eip1559Tx tx;
  std::vector<uint8_t> unsigned_payload;  // 0x02 || rlp(...): what signerd is sent
  base::Amount max_fee;                   // gas_limit x max_fee_per_gas (wei)
};

// INVALID_ARGUMENT naming the field for a bad address, zero chain id or amount;
// FAILED_PRECONDITION "fee_above_cap: ..." when even base + priority fee exceeds the cap.
absl::StatusOr<EthereumPlan> BuildEthereumSpend(const EthereumSpend& spend);

// An account of the wallet that could send, with what it holds now (pending nonce's view).
struct EthAccount {
  std::string address;  // EIP-55
  std::string key_id;
  base::Amount native;  // wei
  base::Amount token;   // token base units (zero for a native asset)
};

// The sending account: the first, in the order given, among those holding the amount
// (native: amount + max_fee wei; token: the amount in tokens and max_fee wei for gas), taking
// the largest holder of the asset among them so that small deposit accounts are kept whole for
// consolidation. Returns its index. FAILED_PRECONDITION "insufficient_funds: ..." when no
// single account can pay (spends from two accounts would be two transactions; consolidation is
// a later issue). With `smallest`, the smallest holder that can pay instead: for a small
// internal transfer (a gas funding), so that the large accounts stay whole for the sweeps and
// withdrawals planned from them.
absl::StatusOr<size_t> ChooseEthSender(const std::vector<EthAccount>& accounts, bool token, base::Amount amount,
                                       base::Amount max_fee, bool smallest = false);

// What signerd is sent for a withdrawal, without approvals (the executor adds them).
struct SignRequestFields {
  std::string request_id;  // the withdrawal id
  std::string chain;       // "bitcoin" | "ethereum"
  std::string network;
  std::string asset;
  base::Amount amount;
  std::string destination;
  base::Amount fee_cap;
  int64_t expires_at_unix_s = 0;
  signer::v1::RequestKind kind = signer::v1::REQUEST_KIND_WITHDRAWAL;  // or SWEEP for an internal move
};
signer::v1::SignTransactionRequest BitcoinSignRequest(const SignRequestFields& fields, const BitcoinPlan& plan);
signer::v1::SignTransactionRequest EthereumSignRequest(const SignRequestFields& fields, const EthereumPlan& plan,
                                                       const std::string& sender_key_id);

}  // namespace ringfence::custody::txbuild

#endif  // RINGFENCE_CUSTODY_TXBUILD_H_

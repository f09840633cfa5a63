// The never-blind checks of SignTransaction, as pure functions: no I/O, no clock, no token.
//
// CheckTransaction decodes the unsigned transaction itself, recomputes every digest to sign
// (a digest is never taken from the caller), checks that the transaction does exactly what the
// approved intent says (the destination receives the amount; every other output pays one of
// signerd's own keys; the fee is within the cap; the chain id or network is the configured
// one), and verifies the approvals against signerd's approver registry and quorum rule. It
// returns what to sign and what the request claims in signerd's state (request id, Ethereum
// nonce, Bitcoin outpoints); the state rules themselves are applied by TxState.
//
// Every refusal is a Status: PermissionDenied for approvals, FailedPrecondition for anything
// else, with a message that starts with a stable rule name ("output_foreign: ...", see
// docs/sign_transaction.md) followed by the precise detail. Inputs are borrowed for the
// call only; the result owns its bytes. Thread-safe.
#ifndef RINGFENCE_SIGNER_TX_TX_CHECK_H_
#define RINGFENCE_SIGNER_TX_TX_CHECK_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/amount.h"
#include "chain/bitcoin_tx.h"
#include "chain/eth_tx.h"
#include "signer/request_limits.h"
#include "signer/tx/approver_registry.h"
#include "signer/tx/tx_config.h"

namespace ringfence::signer::tx {

// One of signerd's secp256k1 keys with the addresses it can receive at.
struct OwnKey {
  std::string key_id;
  std::array<uint8_t, 33> public_key{};   // compressed SEC1
  std::array<uint8_t, 20> key_hash{};     // HASH160, the P2WPKH program
  std::array<uint8_t, 20> eth_address{};  // Keccak-256 of the uncompressed key, last 20 bytes
};

// An immutable snapshot of signerd's secp256k1 keys, indexed by id and by address.
class OwnKeys {
 public:
  // InvalidArgument if a public key is not a valid compressed secp256k1 point.
  static absl::StatusOr<OwnKeys> Build(
      const std::vector<std::pair<std::string, std::array<uint8_t, 33>>>& keys);

  const OwnKey* ById(std::string_view key_id) const;
  const OwnKey* ByKeyHash(const std::array<uint8_t, 20>& key_hash) const;
  const OwnKey* ByEthAddress(const std::array<uint8_t, 20>& address) const;
  size_t size() const { return by_id_.size(); }

 private:
  std::map<std::string, OwnKey, std::less<>> by_id_;
  std::map<std::array<uint8_t, 20>, std::string> by_key_hash_;
  std::map<std::array<uint8_t, 20>, std::string> by_eth_address_;
};

struct BitcoinInputSpend {
  uint64_t amount = 0;
  std::string key_id;
};

struct IntentText {
  std::string asset;
  std::string amount;  // canonical decimal
  std::string destination;
  std::string fee_cap;  // canonical decimal
};

struct ApprovalInput {
  std::string approver_id;
  std::vector<uint8_t> signature;
};

// A SignTransaction request, as received (nothing in it is trusted).
struct TxRequest {
  std::string request_id;
  std::string chain;
  std::string network;
  std::vector<uint8_t> unsigned_tx;
  std::vector<BitcoinInputSpend> bitcoin_inputs;
  std::string ethereum_key_id;
  IntentText intent;
  std::vector<ApprovalInput> approvals;
};

// A digest to sign with one key.
struct SignJob {
  std::string key_id;
  std::array<uint8_t, 33> public_key{};
  std::array<uint8_t, 32> digest{};
};

struct EthNonceClaim {
  uint64_t chain_id = 0;
  std::array<uint8_t, 20> sender{};
  uint64_t nonce = 0;
};

// What CheckTransaction found: the digests to sign and the state the request claims.
struct CheckedTx {
  ChainKind chain = ChainKind::kBitcoin;
  std::string request_id;
  // Identity of "the same transaction" for the request-id rule: tagged SHA-256 of the chain,
  // network, unsigned transaction and the per-input amounts and keys (docs/sign_transaction.md).
  std::array<uint8_t, 32> fingerprint{};
  std::vector<SignJob> jobs;  // Bitcoin: one per input, in order; Ethereum: one
  chain::Transaction bitcoin_tx;
  std::vector<chain::OutPoint> outpoints;  // Bitcoin
  std::optional<chain::Eip1559Tx> eip1559;  // Ethereum, type 2
  std::optional<chain::LegacyTx> legacy;    // Ethereum, EIP-155
  std::optional<EthNonceClaim> nonce;       // Ethereum
  base::Amount amount;
  base::Amount fee;  // Bitcoin: inputs minus outputs; Ethereum: the most the gas can cost
  bool internal_sweep = false;
  int approvals_required = 0;
  std::vector<std::string> approvers;  // the approvals counted, in request order
};

// Runs every check. See the file comment for the errors.
absl::StatusOr<CheckedTx> CheckTransaction(const TxRequest& request, const TxConfig& config,
                                           const ApproverRegistry& registry, const OwnKeys& keys);

// A token's answer for one SignJob: low-S r || s and its recovery id.
struct JobSignature {
  std::array<uint8_t, 64> compact{};
  int recovery_id = 0;
};

struct SignedTx {
  std::vector<uint8_t> bytes;  // ready to broadcast
  std::string txid;            // Bitcoin: display-order hex; Ethereum: 0x + hex tx hash
};

// Assembles the P2WPKH witnesses or the signed Ethereum encoding. FailedPrecondition if the
// number of signatures differs from the jobs; InvalidArgument if a signature is malformed.
absl::StatusOr<SignedTx> AssembleSignedTx(const CheckedTx& checked,
                                          std::span<const JobSignature> signatures);

}  // namespace ringfence::signer::tx

#endif  // RINGFENCE_SIGNER_TX_TX_CHECK_H_

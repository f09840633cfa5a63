// The never-blind checks of SignTransaction, as pure functions: no I/O, no clock, no token.
//
// CheckTransaction decodes the unsigned transaction itself, recomputes every digest to sign
// (a digest is never taken from the caller), checks that the transaction does exactly what the
// approved intent says (the destination receives the amount; the fee is within the cap; the
// chain id or network is the configured one), enforces wallet segregation (every input owned by
// keys of one wallet, the source wallet; every other output returns to it; what each kind of
// request may pay, by the source wallet's owner class and tier), and verifies the approvals
// (digest v2, with the source wallet id taken from the keys' bindings) against signerd's
// approver registry and quorum rule. It
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
#include "policy/approval_digest.h"
#include "signer/request_limits.h"
#include "signer/store.h"
#include "signer/tx/approver_registry.h"
#include "signer/tx/tx_config.h"

namespace ringfence::signer::tx {

// One of signerd's secp256k1 keys with the addresses it can receive at and its wallet.
struct OwnKey {
  std::string key_id;
  std::array<uint8_t, 33> public_key{};   // compressed SEC1
  std::array<uint8_t, 20> key_hash{};     // HASH160, the P2WPKH program
  std::array<uint8_t, 20> eth_address{};  // Keccak-256 of the uncompressed key, last 20 bytes
  // The wallet the key belongs to; unset for a key made before bindings existed, which cannot
  // sign until an operator binds it (signerd bind-key, docs/signer.md).
  std::optional<WalletBinding> binding;
};

// A key as the key registry lists it.
struct OwnKeyInput {
  std::string key_id;
  std::array<uint8_t, 33> public_key{};
  std::optional<WalletBinding> binding;
};

// An immutable snapshot of signerd's secp256k1 keys, indexed by id and by address, and of every
// wallet signerd knows: those its keys are bound to and those registered in its configuration
// ([[wallet]]), each with its canonical addresses.
class OwnKeys {
 public:
  // InvalidArgument if a public key is not a valid compressed secp256k1 point, or if two
  // definitions of one wallet id disagree (a key's binding against another key's or against a
  // [[wallet]] entry: asset, owner class or tier), or if one address belongs to two wallets.
  static absl::StatusOr<OwnKeys> Build(const std::vector<OwnKeyInput>& keys, const TxConfig& config);

  const OwnKey* ById(std::string_view key_id) const;
  const OwnKey* ByKeyHash(const std::array<uint8_t, 20>& key_hash) const;
  const OwnKey* ByEthAddress(const std::array<uint8_t, 20>& address) const;
  size_t size() const { return by_id_.size(); }

  // The wallet with this id, or nullptr.
  const WalletBinding* Wallet(std::string_view wallet_id) const;
  // The wallet that `address` (canonical text) belongs to, or nullptr if it is none of the
  // wallets signerd knows.
  const WalletBinding* WalletAt(std::string_view address) const;

 private:
  std::map<std::string, OwnKey, std::less<>> by_id_;
  std::map<std::array<uint8_t, 20>, std::string> by_key_hash_;
  std::map<std::array<uint8_t, 20>, std::string> by_eth_address_;
  std::map<std::string, WalletBinding, std::less<>> wallets_;
  std::map<std::string, std::string, std::less<>> wallet_by_address_;  // address -> wallet id
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
  // Unset when the request names no kind or an unknown one (refused: request_malformed).
  std::optional<policy::RequestKind> kind;
  int64_t expires_at = 0;  // Unix seconds
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
  policy::RequestKind kind = policy::RequestKind::kWithdrawal;
  WalletBinding source_wallet;  // from the signing keys' bindings
  int approvals_required = 0;
  std::vector<std::string> approvers;  // the approvals counted, in request order
  // expires_at is not after the clock given to CheckTransaction (only with Expiry::kRecord).
  bool expired = false;
};

// What CheckTransaction does with a request whose approvals have expired.
enum class Expiry {
  kRefuse,  // refuse it at once, approval_expired
  // Run every other check and set CheckedTx::expired: the caller refuses it unless it is the
  // replay of a transaction signed before, which must stay answerable after the expiry
  // (a caller that crashed before recording the answer asks again, maybe much later).
  kRecord,
};

// Runs every check at `now_unix_seconds` (signerd's clock: a request whose expires_at is not
// after it has expired, see Expiry). See the file comment for the errors.
absl::StatusOr<CheckedTx> CheckTransaction(const TxRequest& request, const TxConfig& config,
                                           const ApproverRegistry& registry, const OwnKeys& keys,
                                           int64_t now_unix_seconds, Expiry expiry = Expiry::kRefuse);

// The approval_expired refusal (PERMISSION_DENIED) of `request` at `now_unix_seconds`.
absl::Status ExpiredRefusal(const TxRequest& request, int64_t now_unix_seconds);

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

// Bitcoin transactions: the in-memory form, the wire format with and without the segwit
// marker (BIP-144), strict parsing, txid/wtxid, the BIP-143 segwit v0 signature hash
// (SIGHASH_ALL), the legacy (pre-segwit) signature hash, P2WPKH witness assembly, weight,
// virtual size and fee.
//
// Transaction is a plain value type that owns all its bytes; the functions are pure and
// thread-safe. Txids are 32 bytes in internal byte order (as serialised in an outpoint),
// i.e. reversed relative to the hex block explorers show (see DisplayHex).
#ifndef RINGFENCE_CHAIN_BITCOIN_TX_H_
#define RINGFENCE_CHAIN_BITCOIN_TX_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "chain/hashes.h"  // Sha256, DoubleSha256, Hash160

namespace ringfence::chain {

// 21,000,000 BTC in satoshi: no output value or sum of values may exceed it.
inline constexpr uint64_t kMaxMoney = 2'100'000'000'000'000ULL;
// A serialised transaction larger than this cannot be in a block (4,000,000 weight units).
inline constexpr size_t kMaxTxSize = 4'000'000;
inline constexpr uint32_t kSighashAll = 1;

struct OutPoint {
  std::array<uint8_t, 32> txid{};  // internal byte order
  uint32_t vout = 0;
  bool operator==(const OutPoint&) const = default;
  auto operator<=>(const OutPoint&) const = default;
};

struct TxIn {
  OutPoint prevout;
  std::vector<uint8_t> script_sig;
  uint32_t sequence = 0xffffffff;
  std::vector<std::vector<uint8_t>> witness;  // empty when the input has no witness
  bool operator==(const TxIn&) const = default;
};

struct TxOut {
  uint64_t value = 0;  // satoshi
  std::vector<uint8_t> script_pubkey;
  bool operator==(const TxOut&) const = default;
};

struct Transaction {
  uint32_t version = 2;
  std::vector<TxIn> inputs;
  std::vector<TxOut> outputs;
  uint32_t locktime = 0;
  // True when any input carries witness data (then Serialize uses the segwit form).
  bool HasWitness() const;
  bool operator==(const Transaction&) const = default;
};

// Wire form: the segwit form (marker 0x00, flag 0x01, witnesses before locktime) when
// HasWitness(), else the legacy form.
std::vector<uint8_t> Serialize(const Transaction& tx);
// Wire form without marker, flag and witnesses (what the txid commits to).
std::vector<uint8_t> SerializeWithoutWitness(const Transaction& tx);

// Strict parse of one whole transaction. Rejects, with InvalidArgument naming the field:
// truncation; trailing bytes; non-canonical compact sizes (a value that fits a shorter
// form); counts or lengths larger than the bytes left; more than kMaxTxSize bytes; zero
// inputs or outputs; a segwit flag other than 0x01; the segwit form with every witness
// empty; an output value above kMaxMoney or outputs summing above it; the same outpoint
// spent twice.
absl::StatusOr<Transaction> ParseTransaction(std::span<const uint8_t> bytes);

// Txid = double SHA-256 of SerializeWithoutWitness; Wtxid of Serialize. Internal order.
std::array<uint8_t, 32> Txid(const Transaction& tx);
std::array<uint8_t, 32> Wtxid(const Transaction& tx);
// Hex of a hash in display order (byte-reversed), as explorers and RPCs print txids.
std::string DisplayHex(const std::array<uint8_t, 32>& hash);

// scriptCode for spending P2WPKH per BIP-143: OP_DUP OP_HASH160 <20> OP_EQUALVERIFY
// OP_CHECKSIG (25 bytes, no length prefix; the sighash adds it).
std::vector<uint8_t> P2wpkhScriptCode(const std::array<uint8_t, 20>& key_hash);

// The pieces of a BIP-143 signature hash, for checking each against published vectors.
struct Bip143Parts {
  std::array<uint8_t, 32> hash_prevouts;
  std::array<uint8_t, 32> hash_sequence;
  std::array<uint8_t, 32> hash_outputs;
  std::vector<uint8_t> preimage;
  std::array<uint8_t, 32> sighash;
};

// The three hashes BIP-143 shares between every input of a transaction. Computed once per
// transaction, so that checking or signing n inputs hashes the transaction O(n) times, not
// O(n^2) (a 1 MB transaction of 24,000 inputs would otherwise hash ~24 GB).
struct Bip143Shared {
  std::array<uint8_t, 32> hash_prevouts;
  std::array<uint8_t, 32> hash_sequence;
  std::array<uint8_t, 32> hash_outputs;
};
Bip143Shared Bip143Precompute(const Transaction& tx);

// BIP-143 signature hash of input `input_index` spending `amount` satoshi under
// `script_code` (without length prefix). Only SIGHASH_ALL (1) is supported, as that is all
// Ringfence signs. InvalidArgument if the index is out of range, the amount exceeds
// kMaxMoney, or the type is not SIGHASH_ALL.
absl::StatusOr<Bip143Parts> Bip143Compute(const Transaction& tx, size_t input_index,
                                          std::span<const uint8_t> script_code, uint64_t amount,
                                          uint32_t sighash_type);
absl::StatusOr<std::array<uint8_t, 32>> Bip143Sighash(const Transaction& tx, size_t input_index,
                                                      std::span<const uint8_t> script_code, uint64_t amount,
                                                      uint32_t sighash_type);
// The same with the shared hashes from Bip143Precompute(tx). REQUIRES: `shared` was computed
// from this `tx`.
absl::StatusOr<Bip143Parts> Bip143Compute(const Transaction& tx, const Bip143Shared& shared, size_t input_index,
                                          std::span<const uint8_t> script_code, uint64_t amount,
                                          uint32_t sighash_type);
absl::StatusOr<std::array<uint8_t, 32>> Bip143Sighash(const Transaction& tx, const Bip143Shared& shared,
                                                      size_t input_index, std::span<const uint8_t> script_code,
                                                      uint64_t amount, uint32_t sighash_type);

// The original (pre-segwit) signature hash with every hash type, the SIGHASH_SINGLE
// "one" result and OP_CODESEPARATOR removal, as Bitcoin Core computes it. Kept to check
// the parser against Core's legacy vectors and for legacy inputs; Ringfence signs only
// segwit inputs. Returns the hash in internal order.
std::array<uint8_t, 32> LegacySighash(const Transaction& tx, size_t input_index, std::span<const uint8_t> script_code,
                                      int32_t hash_type);

// The witness item for a P2WPKH signature: strict DER of the (low-S) signature followed by
// the sighash type byte.
std::vector<uint8_t> P2wpkhSignatureItem(const std::array<uint8_t, 64>& low_s_signature,
                                         uint8_t sighash_type = kSighashAll);

// Sets input `input_index`'s witness to [signature_item, compressed_pubkey] and clears its
// scriptSig. InvalidArgument if the index is out of range, the public key is not 33 bytes
// starting 0x02/0x03, or the signature item is not strict DER + SIGHASH_ALL.
absl::Status SetP2wpkhWitness(Transaction& tx, size_t input_index, std::span<const uint8_t> signature_item,
                              std::span<const uint8_t> compressed_pubkey);

// Weight units (BIP-141): 3 * size without witness + size with witness.
uint64_t Weight(const Transaction& tx);
// Virtual size: weight / 4 rounded up.
uint64_t VirtualSize(const Transaction& tx);

// Upper bound on the weight / virtual size of `unsigned_tx` once every input carries a
// P2WPKH witness (a low-S DER signature is at most 71 bytes plus the sighash byte, the key
// 33 bytes), for custodyd to size fees before signing. Existing witnesses are replaced by
// the estimate, not added to it.
uint64_t MaxSignedP2wpkhWeight(const Transaction& unsigned_tx);
uint64_t MaxSignedP2wpkhVsize(const Transaction& unsigned_tx);

// Inputs minus outputs. `input_amounts` holds the spent amount of each input, in order.
// InvalidArgument if the count differs from the inputs, an amount or a sum exceeds
// kMaxMoney, or the outputs exceed the inputs.
absl::StatusOr<uint64_t> Fee(const Transaction& tx, std::span<const uint64_t> input_amounts);

}  // namespace ringfence::chain

#endif  // RINGFENCE_CHAIN_BITCOIN_TX_H_

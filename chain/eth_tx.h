// Ethereum transactions Ringfence builds and signs: EIP-1559 (type 2) and legacy with
// EIP-155 replay protection. For each: the struct, the unsigned encoding (what is hashed),
// the signing hash, the signed encoding, and strict decoders for both forms. signerd decodes
// the unsigned bytes itself, recomputes the signing hash, checks fields against the intent
// and assembles the signed form; custodyd only builds.
//
// Quantities: nonce, gas limit and chain id are uint64 (decoders refuse larger values with
// an error naming the field); fee fields and value are U256 as the protocol allows, and
// amounts are taken out of them with U256::ToU128 where Ringfence does arithmetic.
//
// Value types; functions are pure and thread-safe. Decoders return InvalidArgument naming
// the field and the rule (type byte, field count, non-canonical integer, address length,
// trailing bytes, y-parity/v range, r/s range, high S).
#ifndef RINGFENCE_CHAIN_ETH_TX_H_
#define RINGFENCE_CHAIN_ETH_TX_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "chain/eth_address.h"
#include "chain/uint256.h"

namespace ringfence::chain {

inline constexpr uint8_t kEip1559TxType = 0x02;

struct AccessListEntry {
  EthAddress address{};
  std::vector<std::array<uint8_t, 32>> storage_keys;
  bool operator==(const AccessListEntry&) const = default;
};

struct Eip1559Tx {
  uint64_t chain_id = 0;
  uint64_t nonce = 0;
  U256 max_priority_fee_per_gas;
  U256 max_fee_per_gas;
  uint64_t gas_limit = 0;
  std::optional<EthAddress> to;  // nullopt = contract creation (encoded as empty string)
  U256 value;
  std::vector<uint8_t> data;
  std::vector<AccessListEntry> access_list;
  bool operator==(const Eip1559Tx&) const = default;
};

struct LegacyTx {
  uint64_t nonce = 0;
  U256 gas_price;
  uint64_t gas_limit = 0;
  std::optional<EthAddress> to;
  U256 value;
  std::vector<uint8_t> data;
  uint64_t chain_id = 0;  // EIP-155; must be non-zero
  bool operator==(const LegacyTx&) const = default;
};

// An ECDSA signature in Ethereum's terms: y parity (the recovery id, 0 or 1) and r, s as
// 32-byte big-endian values (0 < r, s < n, s <= n/2).
struct EthSignature {
  uint8_t y_parity = 0;
  std::array<uint8_t, 32> r{};
  std::array<uint8_t, 32> s{};
  bool operator==(const EthSignature&) const = default;
};

struct SignedEip1559Tx {
  Eip1559Tx tx;
  EthSignature signature;
};

struct SignedLegacyTx {
  LegacyTx tx;
  EthSignature signature;  // y_parity recovered from v = y_parity + 35 + 2 * chain_id
};

// Which form a raw transaction is in: 0x02 first = EIP-1559; an RLP list header (>= 0xc0)
// = legacy; anything else InvalidArgument (other typed transactions are not supported).
enum class EthTxKind { kLegacy, kEip1559 };
absl::StatusOr<EthTxKind> DetectEthTxKind(std::span<const uint8_t> raw);

// 0x02 || rlp([chain_id, nonce, max_priority_fee_per_gas, max_fee_per_gas, gas_limit, to,
// value, data, access_list]).
std::vector<uint8_t> EncodeUnsignedEip1559(const Eip1559Tx& tx);
// Keccak-256 of EncodeUnsignedEip1559.
std::array<uint8_t, 32> Eip1559SigningHash(const Eip1559Tx& tx);
// 0x02 || rlp([... the nine fields ..., y_parity, r, s]). InvalidArgument if the signature
// is out of range (y_parity > 1, r or s zero or >= n, high S).
absl::StatusOr<std::vector<uint8_t>> EncodeSignedEip1559(const Eip1559Tx& tx, const EthSignature& sig);
absl::StatusOr<Eip1559Tx> DecodeUnsignedEip1559(std::span<const uint8_t> raw);
absl::StatusOr<SignedEip1559Tx> DecodeSignedEip1559(std::span<const uint8_t> raw);

// rlp([nonce, gas_price, gas_limit, to, value, data, chain_id, 0, 0]) (EIP-155).
// REQUIRES: tx.chain_id != 0 (EncodeSignedLegacy and the decoders enforce it).
std::vector<uint8_t> EncodeUnsignedLegacy(const LegacyTx& tx);
std::array<uint8_t, 32> LegacySigningHash(const LegacyTx& tx);
// rlp([nonce, gas_price, gas_limit, to, value, data, v, r, s]) with
// v = y_parity + 35 + 2 * chain_id. InvalidArgument for chain id 0 or a bad signature.
absl::StatusOr<std::vector<uint8_t>> EncodeSignedLegacy(const LegacyTx& tx, const EthSignature& sig);
// The unsigned EIP-155 form (nine fields, the last two empty); chain id must be non-zero.
absl::StatusOr<LegacyTx> DecodeUnsignedLegacy(std::span<const uint8_t> raw);
// The signed form; v must be 35 + 2 * chain_id + {0, 1} for a non-zero chain id. Pre-EIP-155
// signatures (v = 27/28) are refused: they can be replayed on any chain.
absl::StatusOr<SignedLegacyTx> DecodeSignedLegacy(std::span<const uint8_t> raw);

// The sender: the address whose key produced `signature` over the signing hash.
absl::StatusOr<EthAddress> RecoverSender(const SignedEip1559Tx& signed_tx);
absl::StatusOr<EthAddress> RecoverSender(const SignedLegacyTx& signed_tx);

// Keccak-256 of the signed encoding: the transaction hash a node reports.
std::array<uint8_t, 32> EthTxHash(std::span<const uint8_t> signed_raw);

// The most the sender can pay in fees: gas_limit * max_fee_per_gas (EIP-1559) or
// gas_limit * gas_price (legacy), as unsigned __int128 wei. InvalidArgument if the price
// does not fit 128 bits or the product overflows.
absl::StatusOr<unsigned __int128> MaxFeeWei(const Eip1559Tx& tx);
absl::StatusOr<unsigned __int128> MaxFeeWei(const LegacyTx& tx);

// Builds an EthSignature from a compact r||s and recovery id, normalising high S (and
// flipping the parity to match) so signatures from tokens that do not normalise are
// accepted. InvalidArgument for r or s out of range or recid outside 0..1.
absl::StatusOr<EthSignature> MakeEthSignature(std::span<const uint8_t> rs64, int recid);

// For tokens that return r||s without a recovery id (PKCS#11 CKM_ECDSA): normalises to low
// S, finds the recovery id that yields `pubkey` (33 or 65 bytes) and so proves the signature
// is by that key over `digest`. InvalidArgument for a malformed signature or key, NotFound
// if no recovery id yields the key (wrong key or digest).
absl::StatusOr<EthSignature> EthSignatureForKey(const std::array<uint8_t, 32>& digest, std::span<const uint8_t> rs64,
                                                std::span<const uint8_t> pubkey);

}  // namespace ringfence::chain

#endif  // RINGFENCE_CHAIN_ETH_TX_H_

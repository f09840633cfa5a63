#include "chain/eth_tx.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "chain/ecdsa.h"
#include "chain/keccak.h"
#include "chain/rlp.h"
#include "base/status.h"

namespace ringfence::chain {
namespace {

using Encoded = std::vector<std::vector<uint8_t>>;

std::vector<uint8_t> EncodeTo(const std::optional<EthAddress>& to) {
  if (!to.has_value()) return RlpEncodeBytes({});
  return RlpEncodeBytes(*to);
}

std::vector<uint8_t> EncodeAccessList(const std::vector<AccessListEntry>& list) {
  Encoded entries;
  for (const AccessListEntry& e : list) {
    Encoded keys;
    for (const auto& k : e.storage_keys) keys.push_back(RlpEncodeBytes(k));
    entries.push_back(RlpEncodeList({RlpEncodeBytes(e.address), RlpEncodeList(keys)}));
  }
  return RlpEncodeList(entries);
}

Encoded Eip1559Fields(const Eip1559Tx& tx) {
  return {RlpEncodeUint(tx.chain_id),  RlpEncodeUint(tx.nonce),       RlpEncodeU256(tx.max_priority_fee_per_gas),
          RlpEncodeU256(tx.max_fee_per_gas), RlpEncodeUint(tx.gas_limit), EncodeTo(tx.to),
          RlpEncodeU256(tx.value),     RlpEncodeBytes(tx.data),     EncodeAccessList(tx.access_list)};
}

Encoded LegacyBaseFields(const LegacyTx& tx) {
  return {RlpEncodeUint(tx.nonce), RlpEncodeU256(tx.gas_price), RlpEncodeUint(tx.gas_limit),
          EncodeTo(tx.to),         RlpEncodeU256(tx.value),     RlpEncodeBytes(tx.data)};
}

std::vector<uint8_t> Typed(uint8_t type, const std::vector<uint8_t>& rlp) {
  std::vector<uint8_t> out;
  out.reserve(rlp.size() + 1);
  out.push_back(type);
  out.insert(out.end(), rlp.begin(), rlp.end());
  return out;
}

std::vector<uint8_t> Minimal(const std::array<uint8_t, 32>& v) {
  auto first = std::find_if(v.begin(), v.end(), [](uint8_t b) { return b != 0; });
  return std::vector<uint8_t>(first, v.end());
}

absl::Status CheckSignature(const EthSignature& sig) {
  if (sig.y_parity > 1) return absl::InvalidArgumentError(absl::StrCat("signature: y parity ", sig.y_parity, " is not 0 or 1"));
  CompactSignature rs;
  std::copy(sig.r.begin(), sig.r.end(), rs.begin());
  std::copy(sig.s.begin(), sig.s.end(), rs.begin() + 32);
  absl::StatusOr<CompactSignature> low = NormalizeLowS(rs);
  if (!low.ok()) return low.status();
  if (*low != rs) return absl::InvalidArgumentError("signature: s is above n/2 (high S)");
  return absl::OkStatus();
}

absl::Status FieldCount(const RlpItem& list, size_t want, std::string_view what) {
  if (!list.is_list) return absl::InvalidArgumentError(absl::StrCat(std::string(what), ": payload is not an RLP list"));
  if (list.items.size() != want) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": expected ", want, " fields, got ", list.items.size()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<EthAddress>> DecodeTo(const RlpItem& item) {
  if (item.is_list) return absl::InvalidArgumentError("to: expected bytes, got a list");
  if (item.bytes.empty()) return std::optional<EthAddress>();
  if (item.bytes.size() != 20) {
    return absl::InvalidArgumentError(absl::StrCat("to: address must be 20 bytes (or empty), got ", item.bytes.size()));
  }
  EthAddress a;
  std::copy(item.bytes.begin(), item.bytes.end(), a.begin());
  return std::optional<EthAddress>(a);
}

absl::StatusOr<std::vector<AccessListEntry>> DecodeAccessList(const RlpItem& item) {
  if (!item.is_list) return absl::InvalidArgumentError("access_list: expected a list");
  std::vector<AccessListEntry> out;
  for (size_t i = 0; i < item.items.size(); ++i) {
    const RlpItem& e = item.items[i];
    std::string f = absl::StrCat("access_list[", i, "]");
    if (!e.is_list || e.items.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(f, ": expected [address, storage_keys]"));
    }
    if (e.items[0].is_list || e.items[0].bytes.size() != 20) {
      return absl::InvalidArgumentError(absl::StrCat(f, ".address: must be 20 bytes"));
    }
    if (!e.items[1].is_list) return absl::InvalidArgumentError(absl::StrCat(f, ".storage_keys: expected a list"));
    AccessListEntry entry;
    std::copy(e.items[0].bytes.begin(), e.items[0].bytes.end(), entry.address.begin());
    for (size_t k = 0; k < e.items[1].items.size(); ++k) {
      const RlpItem& key = e.items[1].items[k];
      if (key.is_list || key.bytes.size() != 32) {
        return absl::InvalidArgumentError(absl::StrCat(f, ".storage_keys[", k, "]: must be 32 bytes"));
      }
      std::array<uint8_t, 32> kb;
      std::copy(key.bytes.begin(), key.bytes.end(), kb.begin());
      entry.storage_keys.push_back(kb);
    }
    out.push_back(std::move(entry));
  }
  return out;
}

// EIP-2681: a nonce of 2^64 - 1 can never be used, since the account's nonce would overflow.
absl::Status CheckNonce(uint64_t nonce) {
  if (nonce == UINT64_MAX) return absl::InvalidArgumentError("nonce: 2^64 - 1 is not allowed (EIP-2681)");
  return absl::OkStatus();
}

absl::StatusOr<Eip1559Tx> DecodeEip1559Fields(const RlpItem& list) {
  Eip1559Tx tx;
  const auto& f = list.items;
  RF_ASSIGN_OR_RETURN(tx.chain_id, RlpToUint64(f[0], "chain_id"));
  RF_ASSIGN_OR_RETURN(tx.nonce, RlpToUint64(f[1], "nonce"));
  RF_ASSIGN_OR_RETURN(tx.max_priority_fee_per_gas, RlpToU256(f[2], "max_priority_fee_per_gas"));
  RF_ASSIGN_OR_RETURN(tx.max_fee_per_gas, RlpToU256(f[3], "max_fee_per_gas"));
  RF_ASSIGN_OR_RETURN(tx.gas_limit, RlpToUint64(f[4], "gas_limit"));
  RF_ASSIGN_OR_RETURN(tx.to, DecodeTo(f[5]));
  RF_ASSIGN_OR_RETURN(tx.value, RlpToU256(f[6], "value"));
  RF_ASSIGN_OR_RETURN(tx.data, RlpToBytes(f[7], "data"));
  RF_ASSIGN_OR_RETURN(tx.access_list, DecodeAccessList(f[8]));
  if (tx.chain_id == 0) return absl::InvalidArgumentError("chain_id: must not be zero");
  if (absl::Status st = CheckNonce(tx.nonce); !st.ok()) return st;
  return tx;
}

absl::StatusOr<LegacyTx> DecodeLegacyBase(const RlpItem& list) {
  LegacyTx tx;
  const auto& f = list.items;
  RF_ASSIGN_OR_RETURN(tx.nonce, RlpToUint64(f[0], "nonce"));
  RF_ASSIGN_OR_RETURN(tx.gas_price, RlpToU256(f[1], "gas_price"));
  RF_ASSIGN_OR_RETURN(tx.gas_limit, RlpToUint64(f[2], "gas_limit"));
  RF_ASSIGN_OR_RETURN(tx.to, DecodeTo(f[3]));
  RF_ASSIGN_OR_RETURN(tx.value, RlpToU256(f[4], "value"));
  RF_ASSIGN_OR_RETURN(tx.data, RlpToBytes(f[5], "data"));
  if (absl::Status st = CheckNonce(tx.nonce); !st.ok()) return st;
  return tx;
}

// r or s: an RLP integer of at most 32 bytes.
absl::StatusOr<std::array<uint8_t, 32>> DecodeScalar(const RlpItem& item, std::string_view field) {
  absl::StatusOr<U256> v = RlpToU256(item, field);
  if (!v.ok()) return v.status();
  return v->Word();
}

absl::StatusOr<RlpItem> DecodeTyped(std::span<const uint8_t> raw, std::string_view what) {
  if (raw.empty()) return absl::InvalidArgumentError(absl::StrCat(std::string(what), ": empty input"));
  if (raw[0] != kEip1559TxType) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": type byte must be 0x02, got ", static_cast<int>(raw[0])));
  }
  return RlpDecode(raw.subspan(1));
}

absl::StatusOr<unsigned __int128> CheckedMul(uint64_t a, const U256& b, std::string_view field) {
  absl::StatusOr<unsigned __int128> bv = b.ToU128(field);
  if (!bv.ok()) return bv.status();
  if (a != 0 && *bv > ~static_cast<unsigned __int128>(0) / a) {
    return absl::InvalidArgumentError(absl::StrCat("gas_limit * ", std::string(field), " overflows 128 bits"));
  }
  return *bv * a;
}

}  // namespace

absl::StatusOr<EthTxKind> DetectEthTxKind(std::span<const uint8_t> raw) {
  if (raw.empty()) return absl::InvalidArgumentError("Ethereum tx: empty input");
  if (raw[0] == kEip1559TxType) return EthTxKind::kEip1559;
  if (raw[0] >= 0xc0) return EthTxKind::kLegacy;
  return absl::InvalidArgumentError(
      absl::StrCat("Ethereum tx: unsupported transaction type ", static_cast<int>(raw[0]), " (only 2 and legacy)"));
}

std::vector<uint8_t> EncodeUnsignedEip1559(const Eip1559Tx& tx) {
  return Typed(kEip1559TxType, RlpEncodeList(Eip1559Fields(tx)));
}

std::array<uint8_t, 32> Eip1559SigningHash(const Eip1559Tx& tx) { return Keccak256(EncodeUnsignedEip1559(tx)); }

absl::StatusOr<std::vector<uint8_t>> EncodeSignedEip1559(const Eip1559Tx& tx, const EthSignature& sig) {
  if (absl::Status st = CheckSignature(sig); !st.ok()) return st;
  Encoded fields = Eip1559Fields(tx);
  fields.push_back(RlpEncodeUint(sig.y_parity));
  fields.push_back(RlpEncodeBytes(Minimal(sig.r)));
  fields.push_back(RlpEncodeBytes(Minimal(sig.s)));
  return Typed(kEip1559TxType, RlpEncodeList(fields));
}

absl::StatusOr<Eip1559Tx> DecodeUnsignedEip1559(std::span<const uint8_t> raw) {
  absl::StatusOr<RlpItem> list = DecodeTyped(raw, "EIP-1559 tx");
  if (!list.ok()) return list.status();
  if (absl::Status st = FieldCount(*list, 9, "unsigned EIP-1559 tx"); !st.ok()) return st;
  return DecodeEip1559Fields(*list);
}

absl::StatusOr<SignedEip1559Tx> DecodeSignedEip1559(std::span<const uint8_t> raw) {
  absl::StatusOr<RlpItem> list = DecodeTyped(raw, "EIP-1559 tx");
  if (!list.ok()) return list.status();
  if (absl::Status st = FieldCount(*list, 12, "signed EIP-1559 tx"); !st.ok()) return st;
  SignedEip1559Tx out;
  RF_ASSIGN_OR_RETURN(out.tx, DecodeEip1559Fields(*list));
  uint64_t parity;
  RF_ASSIGN_OR_RETURN(parity, RlpToUint64(list->items[9], "y_parity"));
  if (parity > 1) return absl::InvalidArgumentError(absl::StrCat("y_parity: must be 0 or 1, got ", parity));
  out.signature.y_parity = static_cast<uint8_t>(parity);
  RF_ASSIGN_OR_RETURN(out.signature.r, DecodeScalar(list->items[10], "r"));
  RF_ASSIGN_OR_RETURN(out.signature.s, DecodeScalar(list->items[11], "s"));
  if (absl::Status st = CheckSignature(out.signature); !st.ok()) return st;
  return out;
}

std::vector<uint8_t> EncodeUnsignedLegacy(const LegacyTx& tx) {
  Encoded fields = LegacyBaseFields(tx);
  fields.push_back(RlpEncodeUint(tx.chain_id));
  fields.push_back(RlpEncodeBytes({}));
  fields.push_back(RlpEncodeBytes({}));
  return RlpEncodeList(fields);
}

std::array<uint8_t, 32> LegacySigningHash(const LegacyTx& tx) { return Keccak256(EncodeUnsignedLegacy(tx)); }

absl::StatusOr<std::vector<uint8_t>> EncodeSignedLegacy(const LegacyTx& tx, const EthSignature& sig) {
  if (tx.chain_id == 0) return absl::InvalidArgumentError("chain_id: must not be zero (EIP-155)");
  if (absl::Status st = CheckSignature(sig); !st.ok()) return st;
  unsigned __int128 v = static_cast<unsigned __int128>(tx.chain_id) * 2 + 35 + sig.y_parity;
  Encoded fields = LegacyBaseFields(tx);
  fields.push_back(RlpEncodeU256(U256::FromU128(v)));
  fields.push_back(RlpEncodeBytes(Minimal(sig.r)));
  fields.push_back(RlpEncodeBytes(Minimal(sig.s)));
  return RlpEncodeList(fields);
}

absl::StatusOr<LegacyTx> DecodeUnsignedLegacy(std::span<const uint8_t> raw) {
  if (raw.empty() || raw[0] < 0xc0) return absl::InvalidArgumentError("legacy tx: not an RLP list");
  absl::StatusOr<RlpItem> list = RlpDecode(raw);
  if (!list.ok()) return list.status();
  if (absl::Status st = FieldCount(*list, 9, "unsigned EIP-155 tx"); !st.ok()) return st;
  LegacyTx tx;
  RF_ASSIGN_OR_RETURN(tx, DecodeLegacyBase(*list));
  RF_ASSIGN_OR_RETURN(tx.chain_id, RlpToUint64(list->items[6], "chain_id"));
  if (tx.chain_id == 0) return absl::InvalidArgumentError("chain_id: must not be zero (EIP-155)");
  for (size_t i : {7, 8}) {
    if (list->items[i].is_list || !list->items[i].bytes.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("unsigned EIP-155 tx: field ", i, " must be empty (r = s = 0)"));
    }
  }
  return tx;
}

absl::StatusOr<SignedLegacyTx> DecodeSignedLegacy(std::span<const uint8_t> raw) {
  if (raw.empty() || raw[0] < 0xc0) return absl::InvalidArgumentError("legacy tx: not an RLP list");
  absl::StatusOr<RlpItem> list = RlpDecode(raw);
  if (!list.ok()) return list.status();
  if (absl::Status st = FieldCount(*list, 9, "signed legacy tx"); !st.ok()) return st;
  SignedLegacyTx out;
  RF_ASSIGN_OR_RETURN(out.tx, DecodeLegacyBase(*list));
  U256 v256;
  RF_ASSIGN_OR_RETURN(v256, RlpToU256(list->items[6], "v"));
  if (!v256.FitsU128()) return absl::InvalidArgumentError("v: too large");
  unsigned __int128 v = *v256.ToU128("v");
  if (v == 27 || v == 28) {
    return absl::InvalidArgumentError("v: 27/28 is a pre-EIP-155 signature without chain id (replayable); refused");
  }
  if (v < 37) return absl::InvalidArgumentError(absl::StrCat("v: ", U128ToDecimal(v), " is not 35 + 2 * chain_id + {0,1} with chain_id > 0"));
  unsigned __int128 chain_id = (v - 35) / 2;
  if (chain_id > UINT64_MAX) return absl::InvalidArgumentError("v: implies a chain id above 64 bits");
  out.tx.chain_id = static_cast<uint64_t>(chain_id);
  out.signature.y_parity = static_cast<uint8_t>((v - 35) % 2);
  RF_ASSIGN_OR_RETURN(out.signature.r, DecodeScalar(list->items[7], "r"));
  RF_ASSIGN_OR_RETURN(out.signature.s, DecodeScalar(list->items[8], "s"));
  if (absl::Status st = CheckSignature(out.signature); !st.ok()) return st;
  return out;
}

namespace {

absl::StatusOr<EthAddress> Recover(const std::array<uint8_t, 32>& digest, const EthSignature& sig) {
  std::vector<uint8_t> sig65(sig.r.begin(), sig.r.end());
  sig65.insert(sig65.end(), sig.s.begin(), sig.s.end());
  sig65.push_back(sig.y_parity);
  return RecoverEthAddress(digest, sig65);
}

}  // namespace

absl::StatusOr<EthAddress> RecoverSender(const SignedEip1559Tx& signed_tx) {
  return Recover(Eip1559SigningHash(signed_tx.tx), signed_tx.signature);
}

absl::StatusOr<EthAddress> RecoverSender(const SignedLegacyTx& signed_tx) {
  return Recover(LegacySigningHash(signed_tx.tx), signed_tx.signature);
}

std::array<uint8_t, 32> EthTxHash(std::span<const uint8_t> signed_raw) { return Keccak256(signed_raw); }

absl::StatusOr<unsigned __int128> MaxFeeWei(const Eip1559Tx& tx) {
  return CheckedMul(tx.gas_limit, tx.max_fee_per_gas, "max_fee_per_gas");
}

absl::StatusOr<unsigned __int128> MaxFeeWei(const LegacyTx& tx) {
  return CheckedMul(tx.gas_limit, tx.gas_price, "gas_price");
}

absl::StatusOr<EthSignature> MakeEthSignature(std::span<const uint8_t> rs64, int recid) {
  if (recid != 0 && recid != 1) return absl::InvalidArgumentError(absl::StrCat("recovery id ", recid, " is not 0 or 1"));
  absl::StatusOr<CompactSignature> low = NormalizeLowS(rs64);
  if (!low.ok()) return low.status();
  bool flipped = !std::equal(low->begin(), low->end(), rs64.begin());
  EthSignature sig;
  // Negating s mirrors the nonce point, whose y parity flips with it.
  sig.y_parity = static_cast<uint8_t>(flipped ? recid ^ 1 : recid);
  std::copy(low->begin(), low->begin() + 32, sig.r.begin());
  std::copy(low->begin() + 32, low->end(), sig.s.begin());
  return sig;
}

absl::StatusOr<EthSignature> EthSignatureForKey(const std::array<uint8_t, 32>& digest, std::span<const uint8_t> rs64,
                                                std::span<const uint8_t> pubkey) {
  absl::StatusOr<CompactSignature> low = NormalizeLowS(rs64);
  if (!low.ok()) return low.status();
  absl::StatusOr<int> recid = ComputeRecoveryId(digest, *low, pubkey);
  if (!recid.ok()) return recid.status();
  if (*recid > 1) {
    // Ids 2 and 3 mean r overflowed the field order; Ethereum's y parity cannot express them.
    return absl::InvalidArgumentError("signature: recovery id above 1 cannot be encoded as y parity");
  }
  EthSignature sig;
  sig.y_parity = static_cast<uint8_t>(*recid);
  std::copy(low->begin(), low->begin() + 32, sig.r.begin());
  std::copy(low->begin() + 32, low->end(), sig.s.begin());
  return sig;
}

}  // namespace ringfence::chain

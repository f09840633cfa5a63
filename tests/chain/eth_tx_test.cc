#include "chain/eth_tx.h"

#include <gtest/gtest.h>

#include "chain/ecdsa.h"
#include "chain/erc20.h"
#include "base/hex.h"
#include "chain/rlp.h"
#include "tests/chain/test_signing.h"

namespace ringfence::chain {
namespace {

const std::vector<uint8_t> kKey(32, 0x5c);

EthAddress Addr(uint8_t fill) {
  EthAddress a;
  a.fill(fill);
  return a;
}

Eip1559Tx SampleEip1559() {
  Eip1559Tx tx;
  tx.chain_id = 11155111;
  tx.nonce = 7;
  tx.max_priority_fee_per_gas = U256::FromU128(1'500'000'000);
  tx.max_fee_per_gas = U256::FromU128(30'000'000'000ULL);
  tx.gas_limit = 21000;
  tx.to = Addr(0x42);
  tx.value = U256::FromU128(static_cast<unsigned __int128>(12345) * 1'000'000'000'000'000'000ULL);
  return tx;
}

LegacyTx SampleLegacy() {
  LegacyTx tx;
  tx.nonce = 3;
  tx.gas_price = U256::FromU128(20'000'000'000ULL);
  tx.gas_limit = 21000;
  tx.to = Addr(0x35);
  tx.value = U256::FromU128(1);
  tx.chain_id = 1;
  return tx;
}

EthSignature Sign(const std::array<uint8_t, 32>& digest) {
  testing::RecoverableSignature s = testing::SignDigest(kKey, digest);
  return *MakeEthSignature(s.rs, s.recid);
}

EthAddress KeyAddress() { return *EthAddressFromPubkeyBytes(testing::UncompressedPubkey(kKey)); }

// Re-encodes a decoded RLP list with one field replaced (raw RLP bytes for that field).
std::vector<uint8_t> ReplaceField(std::span<const uint8_t> typed, size_t index, const std::vector<uint8_t>& field,
                                  bool typed_prefix) {
  std::span<const uint8_t> body = typed_prefix ? typed.subspan(1) : typed;
  RlpItem list = *RlpDecode(body);
  std::vector<std::vector<uint8_t>> parts;
  for (size_t i = 0; i < list.items.size(); ++i) parts.push_back(i == index ? field : RlpEncode(list.items[i]));
  std::vector<uint8_t> out = RlpEncodeList(parts);
  if (typed_prefix) out.insert(out.begin(), typed[0]);
  return out;
}

std::vector<uint8_t> AppendField(std::span<const uint8_t> typed, const std::vector<uint8_t>& field, bool typed_prefix) {
  std::span<const uint8_t> body = typed_prefix ? typed.subspan(1) : typed;
  RlpItem list = *RlpDecode(body);
  std::vector<std::vector<uint8_t>> parts;
  for (const RlpItem& item : list.items) parts.push_back(RlpEncode(item));
  parts.push_back(field);
  std::vector<uint8_t> out = RlpEncodeList(parts);
  if (typed_prefix) out.insert(out.begin(), typed[0]);
  return out;
}

template <typename T>
void ExpectError(const absl::StatusOr<T>& r, std::string_view needle) {
  ASSERT_FALSE(r.ok()) << "expected an error containing " << needle;
  EXPECT_NE(r.status().ToString().find(needle), std::string::npos) << r.status();
}

TEST(Eip1559, SignDecodeRecover) {
  Eip1559Tx tx = SampleEip1559();
  tx.data = EncodeErc20Transfer({Addr(0x77), U256::FromU128(5'000'000)});
  tx.access_list.push_back({Addr(0x01), {std::array<uint8_t, 32>{}}});
  absl::StatusOr<std::vector<uint8_t>> raw = EncodeSignedEip1559(tx, Sign(Eip1559SigningHash(tx)));
  ASSERT_TRUE(raw.ok()) << raw.status();
  absl::StatusOr<EthTxKind> kind = DetectEthTxKind(*raw);
  ASSERT_TRUE(kind.ok());
  EXPECT_EQ(*kind, EthTxKind::kEip1559);
  absl::StatusOr<SignedEip1559Tx> back = DecodeSignedEip1559(*raw);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->tx, tx);
  absl::StatusOr<EthAddress> sender = RecoverSender(*back);
  ASSERT_TRUE(sender.ok());
  EXPECT_EQ(*sender, KeyAddress());
  absl::StatusOr<Eip1559Tx> unsigned_back = DecodeUnsignedEip1559(EncodeUnsignedEip1559(tx));
  ASSERT_TRUE(unsigned_back.ok());
  EXPECT_EQ(*unsigned_back, tx);

  // A changed field changes the recovered sender: the signature binds every field.
  SignedEip1559Tx tampered = *back;
  tampered.tx.value = U256::FromU128(1);
  absl::StatusOr<EthAddress> other = RecoverSender(tampered);
  EXPECT_TRUE(!other.ok() || *other != KeyAddress());
}

TEST(Eip1559, RejectsMalformed) {
  Eip1559Tx tx = SampleEip1559();
  std::vector<uint8_t> raw = EncodeUnsignedEip1559(tx);
  std::vector<uint8_t> trailing = raw;
  trailing.push_back(0x00);
  ExpectError(DecodeUnsignedEip1559(trailing), "trailing");
  std::vector<uint8_t> wrong_type = raw;
  wrong_type[0] = 0x01;
  ExpectError(DecodeUnsignedEip1559(wrong_type), "type byte");
  ExpectError(DetectEthTxKind(wrong_type), "unsupported transaction type");
  ExpectError(DecodeUnsignedEip1559({}), "empty");
  ExpectError(DecodeUnsignedEip1559(AppendField(raw, RlpEncodeUint(1), true)), "expected 9 fields, got 10");
  ExpectError(DecodeUnsignedEip1559(ReplaceField(raw, 1, {0x82, 0x00, 0x07}, true)), "nonce: integer has a leading zero");
  ExpectError(DecodeUnsignedEip1559(ReplaceField(raw, 0, RlpEncodeUint(0), true)), "chain_id: must not be zero");
  ExpectError(DecodeUnsignedEip1559(ReplaceField(raw, 1, RlpEncodeUint(UINT64_MAX), true)), "EIP-2681");
  EXPECT_TRUE(DecodeUnsignedEip1559(ReplaceField(raw, 1, RlpEncodeUint(UINT64_MAX - 1), true)).ok());
  ExpectError(DecodeUnsignedEip1559(ReplaceField(raw, 4, RlpEncodeBytes(std::vector<uint8_t>(9, 1)), true)),
              "gas_limit: integer of 9 bytes");
  ExpectError(DecodeUnsignedEip1559(ReplaceField(raw, 6, RlpEncodeBytes(std::vector<uint8_t>(33, 1)), true)),
              "value: integer of 33 bytes");
  ExpectError(DecodeUnsignedEip1559(ReplaceField(raw, 5, RlpEncodeBytes(std::vector<uint8_t>(19, 1)), true)),
              "to: address must be 20 bytes");
  ExpectError(DecodeUnsignedEip1559(ReplaceField(raw, 5, RlpEncodeList({}), true)), "to: expected bytes");
  ExpectError(DecodeUnsignedEip1559(ReplaceField(raw, 8, RlpEncodeBytes({}), true)), "access_list");
  std::vector<uint8_t> bad_entry = RlpEncodeList({RlpEncodeList({RlpEncodeBytes(std::vector<uint8_t>(20, 1)),
                                                                 RlpEncodeList({RlpEncodeBytes(std::vector<uint8_t>(31, 1))})})});
  ExpectError(DecodeUnsignedEip1559(ReplaceField(raw, 8, bad_entry, true)), "storage_keys[0]: must be 32 bytes");
  // The unsigned decoder refuses the signed form and vice versa.
  absl::StatusOr<std::vector<uint8_t>> signed_raw = EncodeSignedEip1559(tx, Sign(Eip1559SigningHash(tx)));
  ASSERT_TRUE(signed_raw.ok());
  ExpectError(DecodeUnsignedEip1559(*signed_raw), "expected 9 fields, got 12");
  ExpectError(DecodeSignedEip1559(raw), "expected 12 fields, got 9");
}

TEST(Eip1559, RejectsBadSignatureFields) {
  Eip1559Tx tx = SampleEip1559();
  EthSignature sig = Sign(Eip1559SigningHash(tx));
  std::vector<uint8_t> raw = *EncodeSignedEip1559(tx, sig);
  ExpectError(DecodeSignedEip1559(ReplaceField(raw, 9, RlpEncodeUint(2), true)), "y_parity: must be 0 or 1");
  ExpectError(DecodeSignedEip1559(ReplaceField(raw, 9, {0x00}, true)), "y_parity: integer has a leading zero");
  ExpectError(DecodeSignedEip1559(ReplaceField(raw, 10, RlpEncodeBytes({}), true)), "r is zero");
  ExpectError(DecodeSignedEip1559(ReplaceField(raw, 11, RlpEncodeBytes(std::vector<uint8_t>(32, 0xff)), true)),
              "s is not below the group order");
  std::vector<uint8_t> r_padded = {0xa1, 0x00};
  r_padded.insert(r_padded.end(), sig.r.begin(), sig.r.end());
  ExpectError(DecodeSignedEip1559(ReplaceField(raw, 10, r_padded, true)), "r: integer");
  // High S (n - s) is refused on decode and on encode.
  absl::StatusOr<CompactSignature> low = NormalizeLowS([&] {
    std::vector<uint8_t> v(sig.r.begin(), sig.r.end());
    v.insert(v.end(), sig.s.begin(), sig.s.end());
    return v;
  }());
  ASSERT_TRUE(low.ok());
  EthSignature high = sig;
  // MakeEthSignature from a high-S input must give back the low-S one with flipped parity.
  static constexpr uint8_t kOrder[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                         0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int v = kOrder[i] - sig.s[i] - borrow;
    borrow = v < 0;
    high.s[i] = static_cast<uint8_t>(v + (borrow ? 256 : 0));
  }
  high.y_parity ^= 1;
  ExpectError(EncodeSignedEip1559(tx, high), "high S");
  std::vector<uint8_t> high_s_bytes(high.s.begin(), high.s.end());
  ExpectError(DecodeSignedEip1559(ReplaceField(raw, 11, RlpEncodeBytes(high_s_bytes), true)), "high S");
  std::vector<uint8_t> high_rs(high.r.begin(), high.r.end());
  high_rs.insert(high_rs.end(), high.s.begin(), high.s.end());
  absl::StatusOr<EthSignature> fixed = MakeEthSignature(high_rs, high.y_parity);
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(*fixed, sig);
  ExpectError(MakeEthSignature(high_rs, 2), "recovery id");

  // A token's high-S r||s without recovery id becomes the same low-S signature.
  std::array<uint8_t, 65> pubkey = testing::UncompressedPubkey(kKey);
  absl::StatusOr<EthSignature> from_token = EthSignatureForKey(Eip1559SigningHash(tx), high_rs, pubkey);
  ASSERT_TRUE(from_token.ok()) << from_token.status();
  EXPECT_EQ(*from_token, sig);
  std::array<uint8_t, 33> other_key = testing::CompressedPubkey(std::vector<uint8_t>(32, 0x01));
  ExpectError(EthSignatureForKey(Eip1559SigningHash(tx), high_rs, other_key), "no recovery id");
  ExpectError(EthSignatureForKey(Eip1559SigningHash(tx), std::span<const uint8_t>(high_rs).first(63), pubkey),
              "64 bytes");
}

TEST(Eip155, SignDecodeRecoverAndVRules) {
  LegacyTx tx = SampleLegacy();
  tx.chain_id = 0x7fffffffffffffffULL;  // v = 2 * chain_id + 35 needs more than 64 bits
  EthSignature sig = Sign(LegacySigningHash(tx));
  absl::StatusOr<std::vector<uint8_t>> raw = EncodeSignedLegacy(tx, sig);
  ASSERT_TRUE(raw.ok()) << raw.status();
  absl::StatusOr<SignedLegacyTx> back = DecodeSignedLegacy(*raw);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->tx, tx);
  EXPECT_EQ(back->signature, sig);
  EXPECT_EQ(*RecoverSender(*back), KeyAddress());

  LegacyTx mainnet = SampleLegacy();
  std::vector<uint8_t> signed_main = *EncodeSignedLegacy(mainnet, Sign(LegacySigningHash(mainnet)));
  ExpectError(DecodeSignedLegacy(ReplaceField(signed_main, 6, RlpEncodeUint(27), false)), "pre-EIP-155");
  ExpectError(DecodeSignedLegacy(ReplaceField(signed_main, 6, RlpEncodeUint(36), false)), "35 + 2 * chain_id");
  ExpectError(DecodeSignedLegacy(ReplaceField(signed_main, 6, RlpEncodeUint(0), false)), "35 + 2 * chain_id");
  ExpectError(DecodeSignedLegacy(AppendField(signed_main, RlpEncodeUint(0), false)), "expected 9 fields, got 10");
  std::vector<uint8_t> trailing = signed_main;
  trailing.push_back(0x80);
  ExpectError(DecodeSignedLegacy(trailing), "trailing");
  LegacyTx no_chain = mainnet;
  no_chain.chain_id = 0;
  ExpectError(EncodeSignedLegacy(no_chain, Sign(LegacySigningHash(no_chain))), "chain_id");
  std::vector<uint8_t> unsigned_raw = EncodeUnsignedLegacy(mainnet);
  ExpectError(DecodeUnsignedLegacy(ReplaceField(unsigned_raw, 6, RlpEncodeUint(0), false)), "chain_id");
  ExpectError(DecodeUnsignedLegacy(ReplaceField(unsigned_raw, 7, RlpEncodeUint(1), false)), "must be empty");
  ExpectError(DecodeUnsignedLegacy(EncodeUnsignedEip1559(SampleEip1559())), "not an RLP list");
  ExpectError(DecodeUnsignedLegacy(ReplaceField(unsigned_raw, 1, {0x82, 0x00, 0x01}, false)), "gas_price");
  ExpectError(DecodeUnsignedLegacy(ReplaceField(unsigned_raw, 0, RlpEncodeUint(UINT64_MAX), false)), "EIP-2681");
}

TEST(EthTx, MaxFeeIsChecked) {
  Eip1559Tx tx = SampleEip1559();
  absl::StatusOr<unsigned __int128> fee = MaxFeeWei(tx);
  ASSERT_TRUE(fee.ok());
  EXPECT_EQ(*fee, static_cast<unsigned __int128>(21000) * 30'000'000'000ULL);
  tx.gas_limit = UINT64_MAX;
  tx.max_fee_per_gas = U256::FromU128(~static_cast<unsigned __int128>(0) / 2);
  ExpectError(MaxFeeWei(tx), "overflows");
  std::array<uint8_t, 32> word{};
  word[0] = 1;
  tx.max_fee_per_gas = U256::FromWord(word);
  ExpectError(MaxFeeWei(tx), "does not fit the 128-bit amount type");
  LegacyTx legacy = SampleLegacy();
  EXPECT_EQ(*MaxFeeWei(legacy), static_cast<unsigned __int128>(21000) * 20'000'000'000ULL);
}

TEST(Erc20, EncodeDecode) {
  Erc20Transfer t{Addr(0xab), U256::FromU128(static_cast<unsigned __int128>(1) << 100)};
  std::vector<uint8_t> data = EncodeErc20Transfer(t);
  ASSERT_EQ(data.size(), 68u);
  EXPECT_EQ(base::HexEncode(std::span<const uint8_t>(data).first(4)), "a9059cbb");
  absl::StatusOr<Erc20Transfer> back = DecodeErc20Transfer(data);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, t);

  std::vector<uint8_t> dirty = data;
  dirty[4] = 0x01;
  ExpectError(DecodeErc20Transfer(dirty), "non-zero high 12 bytes");
  dirty = data;
  dirty[15] = 0x80;
  ExpectError(DecodeErc20Transfer(dirty), "non-zero high 12 bytes");
  std::vector<uint8_t> longer = data;
  longer.push_back(0);
  ExpectError(DecodeErc20Transfer(longer), "exactly 68 bytes");
  std::vector<uint8_t> twice = data;  // a second transfer appended must not be ignored
  twice.insert(twice.end(), data.begin(), data.end());
  ExpectError(DecodeErc20Transfer(twice), "exactly 68 bytes");
  ExpectError(DecodeErc20Transfer(std::span<const uint8_t>(data).first(67)), "exactly 68 bytes");
  ExpectError(DecodeErc20Transfer(std::span<const uint8_t>(data).first(3)), "no selector");
  std::vector<uint8_t> approve = data;
  approve[0] = 0x09;  // approve(address,uint256) is 0x095ea7b3
  approve[1] = 0x5e;
  approve[2] = 0xa7;
  approve[3] = 0xb3;
  ExpectError(DecodeErc20Transfer(approve), "not transfer(address,uint256)");
  // The full 256-bit amount survives; converting it to an amount is where large values stop.
  std::array<uint8_t, 32> max_word;
  max_word.fill(0xff);
  Erc20Transfer huge{Addr(1), U256::FromWord(max_word)};
  absl::StatusOr<Erc20Transfer> huge_back = DecodeErc20Transfer(EncodeErc20Transfer(huge));
  ASSERT_TRUE(huge_back.ok());
  EXPECT_FALSE(huge_back->amount.ToU128("amount").ok());
}

}  // namespace
}  // namespace ringfence::chain

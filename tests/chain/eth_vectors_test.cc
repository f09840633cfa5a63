// EIP-155's worked example and the ethers transaction subset: unsigned and signed encodings
// byte for byte (built from the fields and signed with the given key), signing hashes,
// strict decode of both forms, sender recovery and transaction hash.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "chain/eth_address.h"
#include "chain/eth_tx.h"
#include "base/hex.h"
#include "tests/chain/test_signing.h"
#include "tests/common/vectors.h"

namespace ringfence::chain {
namespace {

using ::ringfence::testing::HexToBytes;
using ::ringfence::testing::ReadVectorFile;

std::string Strip0x(const std::string& s) { return s.rfind("0x", 0) == 0 ? s.substr(2) : s; }
std::vector<uint8_t> Bytes(const nlohmann::json& v) { return HexToBytes(Strip0x(v.get<std::string>())); }
std::string Hex0x(std::span<const uint8_t> b) { return "0x" + base::HexEncode(b); }

U256 Quantity(const nlohmann::json& tx, const char* key) {
  if (!tx.contains(key)) return U256();
  const nlohmann::json& v = tx.at(key);
  if (v.is_number_unsigned()) return U256::FromU128(v.get<uint64_t>());
  std::string hex = Strip0x(v.get<std::string>());
  if (hex.size() % 2) hex = "0" + hex;
  absl::StatusOr<U256> out = U256::FromBigEndian(HexToBytes(hex), key);
  EXPECT_TRUE(out.ok()) << key;
  return out.ok() ? *out : U256();
}

uint64_t Small(const nlohmann::json& tx, const char* key) {
  absl::StatusOr<unsigned __int128> v = Quantity(tx, key).ToU128(key);
  EXPECT_TRUE(v.ok() && *v <= UINT64_MAX) << key;
  return static_cast<uint64_t>(v.ok() ? *v : 0);
}

std::optional<EthAddress> To(const nlohmann::json& tx) {
  if (!tx.contains("to")) return std::nullopt;
  absl::StatusOr<EthAddress> a = ParseEthAddress(tx.at("to").get<std::string>());
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? std::optional<EthAddress>(*a) : std::nullopt;
}

EthSignature Sign(const std::vector<uint8_t>& key, const std::array<uint8_t, 32>& digest) {
  testing::RecoverableSignature s = testing::SignDigest(key, digest);
  absl::StatusOr<EthSignature> sig = MakeEthSignature(s.rs, s.recid);
  EXPECT_TRUE(sig.ok()) << sig.status();
  return *sig;
}

TEST(EthVectors, Eip155Example) {
  nlohmann::json v = nlohmann::json::parse(ReadVectorFile("ethereum/eip155_example.json"));
  const nlohmann::json& f = v.at("tx");
  LegacyTx tx;
  tx.nonce = f.at("nonce").get<uint64_t>();
  tx.gas_price = U256::FromU128(f.at("gasPrice").get<uint64_t>());
  tx.gas_limit = f.at("gasLimit").get<uint64_t>();
  tx.to = To(f);
  tx.value = U256::FromU128(f.at("value").get<uint64_t>());
  tx.data = Bytes(f.at("data"));
  tx.chain_id = f.at("chainId").get<uint64_t>();

  EXPECT_EQ(Hex0x(EncodeUnsignedLegacy(tx)), v.at("signing_data_rlp").get<std::string>());
  std::array<uint8_t, 32> hash = LegacySigningHash(tx);
  EXPECT_EQ(Hex0x(hash), v.at("signing_hash").get<std::string>());

  std::vector<uint8_t> key = Bytes(v.at("private_key"));
  EthSignature sig = Sign(key, hash);
  EXPECT_EQ(Hex0x(sig.r), v.at("r_hex").get<std::string>());
  EXPECT_EQ(Hex0x(sig.s), v.at("s_hex").get<std::string>());
  EXPECT_EQ(35 + 2 * tx.chain_id + sig.y_parity, v.at("v").get<uint64_t>());
  absl::StatusOr<std::vector<uint8_t>> signed_raw = EncodeSignedLegacy(tx, sig);
  ASSERT_TRUE(signed_raw.ok()) << signed_raw.status();
  EXPECT_EQ(Hex0x(*signed_raw), v.at("signed_tx_rlp").get<std::string>());
  EXPECT_EQ(Hex0x(EthTxHash(*signed_raw)), v.at("tx_hash_DERIVED").get<std::string>());

  absl::StatusOr<LegacyTx> unsigned_back = DecodeUnsignedLegacy(Bytes(v.at("signing_data_rlp")));
  ASSERT_TRUE(unsigned_back.ok()) << unsigned_back.status();
  EXPECT_EQ(*unsigned_back, tx);
  absl::StatusOr<SignedLegacyTx> signed_back = DecodeSignedLegacy(Bytes(v.at("signed_tx_rlp")));
  ASSERT_TRUE(signed_back.ok()) << signed_back.status();
  EXPECT_EQ(signed_back->tx, tx);
  EXPECT_EQ(signed_back->signature, sig);
  absl::StatusOr<EthAddress> sender = RecoverSender(*signed_back);
  ASSERT_TRUE(sender.ok()) << sender.status();
  EXPECT_EQ(Hex0x(*sender), v.at("sender_address_DERIVED").get<std::string>());
}

TEST(EthVectors, EthersSubsetEip155AndLondon) {
  nlohmann::json doc = nlohmann::json::parse(ReadVectorFile("ethereum/ethers_tx_signing_subset.json"));
  const nlohmann::json& vectors = doc.at("vectors");
  ASSERT_EQ(vectors.size(), 20u);
  size_t checked = 0;
  size_t with_access_list = 0;
  size_t creations = 0;
  for (const nlohmann::json& v : vectors) {
    SCOPED_TRACE(v.at("name").get<std::string>());
    const nlohmann::json& f = v.at("transaction");
    std::vector<uint8_t> key = Bytes(v.at("privateKey"));
    std::string sender = v.at("sender_DERIVED").get<std::string>();

    // EIP-1559.
    Eip1559Tx tx;
    tx.chain_id = Small(f, "chainId");
    tx.nonce = Small(f, "nonce");
    tx.max_priority_fee_per_gas = Quantity(f, "maxPriorityFeePerGas");
    tx.max_fee_per_gas = Quantity(f, "maxFeePerGas");
    tx.gas_limit = Small(f, "gasLimit");
    tx.to = To(f);
    tx.value = Quantity(f, "value");
    if (f.contains("data")) tx.data = Bytes(f.at("data"));
    if (f.contains("accessList")) {
      for (const nlohmann::json& e : f.at("accessList")) {
        AccessListEntry entry;
        absl::StatusOr<EthAddress> a = ParseEthAddress(e.at("address").get<std::string>());
        ASSERT_TRUE(a.ok());
        entry.address = *a;
        for (const nlohmann::json& k : e.at("storageKeys")) {
          std::vector<uint8_t> kb = Bytes(k);
          ASSERT_EQ(kb.size(), 32u);
          std::array<uint8_t, 32> arr;
          std::copy(kb.begin(), kb.end(), arr.begin());
          entry.storage_keys.push_back(arr);
        }
        tx.access_list.push_back(entry);
      }
    }
    with_access_list += tx.access_list.empty() ? 0 : 1;
    creations += tx.to.has_value() ? 0 : 1;

    EXPECT_EQ(Hex0x(EncodeUnsignedEip1559(tx)), v.at("unsignedLondon").get<std::string>());
    std::array<uint8_t, 32> hash = Eip1559SigningHash(tx);
    EXPECT_EQ(Hex0x(hash), v.at("signingHashLondon_DERIVED").get<std::string>());
    absl::StatusOr<std::vector<uint8_t>> signed_raw = EncodeSignedEip1559(tx, Sign(key, hash));
    ASSERT_TRUE(signed_raw.ok()) << signed_raw.status();
    EXPECT_EQ(Hex0x(*signed_raw), v.at("signedLondon").get<std::string>());
    EXPECT_EQ(Hex0x(EthTxHash(*signed_raw)), v.at("txHashLondon_DERIVED").get<std::string>());

    absl::StatusOr<Eip1559Tx> unsigned_back = DecodeUnsignedEip1559(Bytes(v.at("unsignedLondon")));
    ASSERT_TRUE(unsigned_back.ok()) << unsigned_back.status();
    EXPECT_EQ(*unsigned_back, tx);
    absl::StatusOr<SignedEip1559Tx> signed_back = DecodeSignedEip1559(Bytes(v.at("signedLondon")));
    ASSERT_TRUE(signed_back.ok()) << signed_back.status();
    EXPECT_EQ(signed_back->tx, tx);
    absl::StatusOr<EthAddress> from = RecoverSender(*signed_back);
    ASSERT_TRUE(from.ok()) << from.status();
    EXPECT_EQ(Hex0x(*from), sender);
    // The other kind's decoder refuses it.
    EXPECT_FALSE(DecodeSignedLegacy(Bytes(v.at("signedLondon"))).ok());
    EXPECT_FALSE(DecodeSignedEip1559(Bytes(v.at("unsignedLondon"))).ok());

    // Legacy with EIP-155.
    LegacyTx legacy;
    legacy.nonce = tx.nonce;
    legacy.gas_price = Quantity(f, "gasPrice");
    legacy.gas_limit = tx.gas_limit;
    legacy.to = tx.to;
    legacy.value = tx.value;
    legacy.data = tx.data;
    legacy.chain_id = tx.chain_id;
    EXPECT_EQ(Hex0x(EncodeUnsignedLegacy(legacy)), v.at("unsignedEip155").get<std::string>());
    std::array<uint8_t, 32> legacy_hash = LegacySigningHash(legacy);
    EXPECT_EQ(Hex0x(legacy_hash), v.at("signingHashEip155_DERIVED").get<std::string>());
    absl::StatusOr<std::vector<uint8_t>> legacy_signed = EncodeSignedLegacy(legacy, Sign(key, legacy_hash));
    ASSERT_TRUE(legacy_signed.ok()) << legacy_signed.status();
    EXPECT_EQ(Hex0x(*legacy_signed), v.at("signedEip155").get<std::string>());
    absl::StatusOr<LegacyTx> legacy_unsigned_back = DecodeUnsignedLegacy(Bytes(v.at("unsignedEip155")));
    ASSERT_TRUE(legacy_unsigned_back.ok()) << legacy_unsigned_back.status();
    EXPECT_EQ(*legacy_unsigned_back, legacy);
    absl::StatusOr<SignedLegacyTx> legacy_back = DecodeSignedLegacy(Bytes(v.at("signedEip155")));
    ASSERT_TRUE(legacy_back.ok()) << legacy_back.status();
    EXPECT_EQ(legacy_back->tx, legacy);
    absl::StatusOr<EthAddress> legacy_from = RecoverSender(*legacy_back);
    ASSERT_TRUE(legacy_from.ok()) << legacy_from.status();
    EXPECT_EQ(Hex0x(*legacy_from), sender);

    // Pre-EIP-155 signatures (v = 27/28) are refused, not misread.
    absl::StatusOr<SignedLegacyTx> pre155 = DecodeSignedLegacy(Bytes(v.at("signedLegacy")));
    ASSERT_FALSE(pre155.ok());
    EXPECT_NE(pre155.status().ToString().find("pre-EIP-155"), std::string::npos) << pre155.status();
    ++checked;
  }
  EXPECT_EQ(checked, 20u);
  EXPECT_GE(with_access_list, 3u);
  EXPECT_GE(creations, 3u);
}

}  // namespace
}  // namespace ringfence::chain

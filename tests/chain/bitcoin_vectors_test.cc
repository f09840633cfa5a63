// BIP-143 native P2WPKH example (every intermediate hash, signature and the signed
// transaction byte for byte) and Bitcoin Core's legacy sighash cases (parse, re-serialise
// byte for byte, recompute the legacy hash).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "chain/bech32.h"
#include "chain/bitcoin_tx.h"
#include "chain/ecdsa.h"
#include "base/hex.h"
#include "tests/chain/test_signing.h"
#include "tests/common/vectors.h"

namespace ringfence::chain {
namespace {

using ::ringfence::testing::BytesToHex;
using ::ringfence::testing::HexToBytes;
using ::ringfence::testing::ReadVectorFile;

nlohmann::json Bip143Example(const std::string& name) {
  nlohmann::json doc = nlohmann::json::parse(ReadVectorFile("bip/bip143_p2wpkh_examples.json"));
  for (const auto& ex : doc.at("examples")) {
    if (ex.at("name") == name) return ex;
  }
  ADD_FAILURE() << "no BIP-143 example named " << name;
  return {};
}

TEST(Bip143Vectors, NativeP2wpkhEveryIntermediateAndSignedTx) {
  nlohmann::json ex = Bip143Example("Native P2WPKH");
  ASSERT_FALSE(ex.is_null());
  std::vector<uint8_t> unsigned_bytes = HexToBytes(ex.at("unsigned_tx"));
  absl::StatusOr<Transaction> tx = ParseTransaction(unsigned_bytes);
  ASSERT_TRUE(tx.ok()) << tx.status();
  EXPECT_EQ(BytesToHex(Serialize(*tx)), ex.at("unsigned_tx").get<std::string>());
  ASSERT_EQ(tx->inputs.size(), 2u);

  const size_t index = ex.at("signed_input_index").get<size_t>();
  ASSERT_EQ(index, 1u);
  const auto& input = ex.at("inputs").at(index);
  std::vector<uint8_t> secret = HexToBytes(input.at("private_key"));
  std::array<uint8_t, 33> pubkey = testing::CompressedPubkey(secret);
  ASSERT_EQ(base::HexEncode(pubkey), input.at("public_key").get<std::string>());

  // The scriptCode comes from the key, not from the vector: the P2WPKH scriptPubKey of the
  // spent output must be the key's hash, and the scriptCode derived from that hash must be
  // the vector's (which carries its length prefix).
  std::array<uint8_t, 20> key_hash = Hash160(pubkey);
  EXPECT_EQ(base::HexEncode(P2wpkhScriptPubKey(key_hash)), input.at("scriptPubKey").get<std::string>());
  std::vector<uint8_t> script_code = P2wpkhScriptCode(key_hash);
  EXPECT_EQ("19" + base::HexEncode(script_code), ex.at("scriptCode").get<std::string>());

  absl::StatusOr<Bip143Parts> parts =
      Bip143Compute(*tx, index, script_code, input.at("amount_sat").get<uint64_t>(), ex.at("sighash_type"));
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(base::HexEncode(parts->hash_prevouts), ex.at("hashPrevouts").get<std::string>());
  EXPECT_EQ(base::HexEncode(parts->hash_sequence), ex.at("hashSequence").get<std::string>());
  EXPECT_EQ(base::HexEncode(parts->hash_outputs), ex.at("hashOutputs").get<std::string>());
  EXPECT_EQ(base::HexEncode(parts->preimage), ex.at("sighash_preimage").get<std::string>());
  EXPECT_EQ(base::HexEncode(parts->sighash), ex.at("sighash").get<std::string>());

  testing::RecoverableSignature sig = testing::SignDigest(secret, parts->sighash);
  std::vector<uint8_t> item = P2wpkhSignatureItem(sig.rs);
  EXPECT_EQ(base::HexEncode(item), ex.at("signature_der_plus_hashtype").get<std::string>());
  ASSERT_TRUE(VerifyEcdsa(parts->sighash, sig.rs, pubkey).ok());

  // Input 0 is a legacy P2PK spend; its scriptSig signs the pre-segwit hash. Reproducing it
  // also exercises LegacySighash on a real transaction.
  const auto& input0 = ex.at("inputs").at(0);
  std::vector<uint8_t> p2pk = HexToBytes(input0.at("scriptPubKey"));
  std::array<uint8_t, 32> legacy = LegacySighash(*tx, 0, p2pk, 1);
  EXPECT_EQ(base::HexEncode(legacy), input0.at("legacy_sighash_ALL_DERIVED").get<std::string>());
  testing::RecoverableSignature sig0 = testing::SignDigest(HexToBytes(input0.at("private_key")), legacy);
  std::vector<uint8_t> item0 = P2wpkhSignatureItem(sig0.rs);
  std::vector<uint8_t> script_sig = {static_cast<uint8_t>(item0.size())};
  script_sig.insert(script_sig.end(), item0.begin(), item0.end());

  Transaction signed_tx = *tx;
  signed_tx.inputs[0].script_sig = script_sig;
  ASSERT_TRUE(SetP2wpkhWitness(signed_tx, index, item, pubkey).ok());
  std::vector<uint8_t> signed_bytes = Serialize(signed_tx);
  EXPECT_EQ(BytesToHex(signed_bytes), ex.at("signed_tx").get<std::string>());

  // The signed form parses back to the same transaction, and its txid is the unsigned one's.
  absl::StatusOr<Transaction> reparsed = ParseTransaction(HexToBytes(ex.at("signed_tx")));
  ASSERT_TRUE(reparsed.ok()) << reparsed.status();
  EXPECT_EQ(*reparsed, signed_tx);
  EXPECT_NE(Wtxid(*reparsed), Txid(*reparsed));
  // Witness bytes: marker+flag 2, input 0's empty stack 1, input 1's stack count 1, the
  // 71-byte signature item and the 33-byte key each with a 1-byte length. Witness bytes
  // weigh 1, the rest 4.
  constexpr uint64_t kWitnessBytes = 2 + 1 + 1 + (1 + 71) + (1 + 33);
  ASSERT_EQ(item.size(), 71u);
  EXPECT_EQ(Weight(*reparsed), 4 * signed_bytes.size() - 3 * kWitnessBytes);
  EXPECT_EQ(VirtualSize(*reparsed), (4 * signed_bytes.size() - 3 * kWitnessBytes + 3) / 4);
}

TEST(Bip143Vectors, P2shP2wpkhSighash) {
  // Same digest algorithm; only the scriptSig differs (a push of the redeem script).
  nlohmann::json ex = Bip143Example("P2SH-P2WPKH");
  ASSERT_FALSE(ex.is_null());
  absl::StatusOr<Transaction> tx = ParseTransaction(HexToBytes(ex.at("unsigned_tx")));
  ASSERT_TRUE(tx.ok()) << tx.status();
  const auto& input = ex.at("inputs").at(0);
  std::array<uint8_t, 33> pubkey = testing::CompressedPubkey(HexToBytes(input.at("private_key")));
  std::vector<uint8_t> script_code = P2wpkhScriptCode(Hash160(pubkey));
  absl::StatusOr<Bip143Parts> parts = Bip143Compute(*tx, 0, script_code, input.at("amount_sat").get<uint64_t>(), 1);
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(base::HexEncode(parts->hash_prevouts), ex.at("hashPrevouts").get<std::string>());
  EXPECT_EQ(base::HexEncode(parts->hash_sequence), ex.at("hashSequence").get<std::string>());
  EXPECT_EQ(base::HexEncode(parts->hash_outputs), ex.at("hashOutputs").get<std::string>());
  EXPECT_EQ(base::HexEncode(parts->preimage), ex.at("sighash_preimage").get<std::string>());
  EXPECT_EQ(base::HexEncode(parts->sighash), ex.at("sighash").get<std::string>());
  testing::RecoverableSignature sig = testing::SignDigest(HexToBytes(input.at("private_key")), parts->sighash);
  EXPECT_EQ(base::HexEncode(P2wpkhSignatureItem(sig.rs)), ex.at("signature_der_plus_hashtype").get<std::string>());
  absl::StatusOr<Transaction> signed_tx = ParseTransaction(HexToBytes(ex.at("signed_tx")));
  ASSERT_TRUE(signed_tx.ok()) << signed_tx.status();
  EXPECT_EQ(BytesToHex(Serialize(*signed_tx)), ex.at("signed_tx").get<std::string>());
}

TEST(LegacySighashVectors, ParseReserializeAndHash) {
  nlohmann::json doc = nlohmann::json::parse(ReadVectorFile("bip/bitcoin_core_sighash_legacy.json"));
  size_t cases = 0;
  for (const auto& row : doc) {
    if (row.size() != 5) continue;  // the header row
    std::string raw_hex = row.at(0).get<std::string>();
    std::vector<uint8_t> raw = HexToBytes(raw_hex);
    absl::StatusOr<Transaction> tx = ParseTransaction(raw);
    ASSERT_TRUE(tx.ok()) << raw_hex << ": " << tx.status();
    EXPECT_EQ(BytesToHex(Serialize(*tx)), raw_hex);
    std::vector<uint8_t> script = HexToBytes(row.at(1).get<std::string>());
    std::array<uint8_t, 32> hash = LegacySighash(*tx, row.at(2).get<size_t>(), script, row.at(3).get<int32_t>());
    EXPECT_EQ(DisplayHex(hash), row.at(4).get<std::string>()) << "case " << cases;
    ++cases;
  }
  EXPECT_EQ(cases, 500u);
}

}  // namespace
}  // namespace ringfence::chain

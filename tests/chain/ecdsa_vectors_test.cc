// Wycheproof's Bitcoin-flavoured ECDSA secp256k1/SHA-256 cases against the strict DER parser
// and low-S verification signerd relies on, and BIP-84/BIP-86 addresses from their keys.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "chain/bech32.h"
#include "chain/ecdsa.h"
#include "chain/eth_address.h"
#include "chain/eth_tx.h"
#include "chain/hashes.h"
#include "base/hex.h"
#include "tests/chain/test_signing.h"
#include "tests/common/vectors.h"

namespace ringfence::chain {
namespace {

using ::ringfence::testing::HexToBytes;
using ::ringfence::testing::ReadVectorFile;

// Valid only if the DER parses strictly, s is low and the signature verifies.
bool Accepts(const std::vector<uint8_t>& pubkey, const std::vector<uint8_t>& msg, const std::vector<uint8_t>& der) {
  absl::StatusOr<CompactSignature> sig = ParseDerSignature(der);
  if (!sig.ok()) return false;
  return VerifyEcdsa(Sha256(msg), *sig, pubkey).ok();
}

TEST(WycheproofVectors, EcdsaSecp256k1Sha256Bitcoin) {
  nlohmann::json doc =
      nlohmann::json::parse(ReadVectorFile("wycheproof/v1_ecdsa_secp256k1_sha256_bitcoin_test.json"));
  size_t total = 0;
  size_t valid = 0;
  for (const auto& group : doc.at("testGroups")) {
    ASSERT_EQ(group.at("sha").get<std::string>(), "SHA-256");
    std::vector<uint8_t> pubkey = HexToBytes(group.at("publicKey").at("uncompressed").get<std::string>());
    for (const auto& t : group.at("tests")) {
      bool want = t.at("result").get<std::string>() == "valid";
      bool got = Accepts(pubkey, HexToBytes(t.at("msg").get<std::string>()), HexToBytes(t.at("sig").get<std::string>()));
      EXPECT_EQ(got, want) << "tcId " << t.at("tcId") << " " << t.at("comment");
      ++total;
      valid += want ? 1 : 0;
    }
  }
  EXPECT_EQ(total, 463u);
  EXPECT_EQ(valid, 162u);
}

TEST(WycheproofVectors, EcdsaSecp256k1Sha256AfterNormalisation) {
  // The plain file allows high S; after NormalizeLowS every valid case must verify, which
  // is what signerd does with a token's signature before it assembles a transaction.
  nlohmann::json doc = nlohmann::json::parse(ReadVectorFile("wycheproof/v1_ecdsa_secp256k1_sha256_test.json"));
  size_t total = 0;
  for (const auto& group : doc.at("testGroups")) {
    std::vector<uint8_t> pubkey = HexToBytes(group.at("publicKey").at("uncompressed").get<std::string>());
    for (const auto& t : group.at("tests")) {
      bool want = t.at("result").get<std::string>() == "valid";
      absl::StatusOr<CompactSignature> sig = ParseDerSignature(HexToBytes(t.at("sig").get<std::string>()));
      bool got = false;
      if (sig.ok()) {
        absl::StatusOr<CompactSignature> low = NormalizeLowS(*sig);
        got = low.ok() && VerifyEcdsa(Sha256(HexToBytes(t.at("msg").get<std::string>())), *low, pubkey).ok();
      }
      EXPECT_EQ(got, want) << "tcId " << t.at("tcId") << " " << t.at("comment");
      ++total;
    }
  }
  EXPECT_EQ(total, 463u);
}

TEST(WycheproofVectors, EcdsaSecp256k1Sha256FinishedWithRecoveryId) {
  // signerd's Ethereum path: FinishSignature with the recovery id must accept exactly the valid
  // cases (after normalisation), and the id it finds must recover the key.
  nlohmann::json doc = nlohmann::json::parse(ReadVectorFile("wycheproof/v1_ecdsa_secp256k1_sha256_test.json"));
  size_t total = 0;
  size_t accepted = 0;
  for (const auto& group : doc.at("testGroups")) {
    std::vector<uint8_t> pubkey = HexToBytes(group.at("publicKey").at("uncompressed").get<std::string>());
    absl::StatusOr<std::array<uint8_t, 33>> compressed = CompressPublicKey(pubkey);
    ASSERT_TRUE(compressed.ok()) << compressed.status();
    for (const auto& t : group.at("tests")) {
      ++total;
      const bool want = t.at("result").get<std::string>() == "valid";
      const std::array<uint8_t, 32> digest = Sha256(HexToBytes(t.at("msg").get<std::string>()));
      absl::StatusOr<CompactSignature> sig = ParseDerSignature(HexToBytes(t.at("sig").get<std::string>()));
      if (!sig.ok()) {
        EXPECT_FALSE(want) << "tcId " << t.at("tcId") << " " << t.at("comment");
        continue;
      }
      for (std::span<const uint8_t> key : {std::span<const uint8_t>(pubkey), std::span<const uint8_t>(*compressed)}) {
        absl::StatusOr<FinishedSignature> got = FinishSignature(*sig, digest, key, RecoveryId::kCompute);
        EXPECT_EQ(got.ok(), want) << "tcId " << t.at("tcId") << " " << t.at("comment") << ": " << got.status();
        if (!got.ok()) {
          // A well-formed signature that is not the key's is PermissionDenied, never anything else.
          if (NormalizeLowS(*sig).ok()) {
            EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied);
          }
          continue;
        }
        absl::StatusOr<std::array<uint8_t, 65>> recovered = RecoverPublicKey(digest, got->compact, *got->recovery_id);
        ASSERT_TRUE(recovered.ok()) << recovered.status();
        EXPECT_EQ(std::vector<uint8_t>(recovered->begin(), recovered->end()), pubkey);
      }
      accepted += want ? 1 : 0;
    }
  }
  EXPECT_EQ(total, 463u);
  EXPECT_GT(accepted, 0u);
}

TEST(TinySecp256k1Vectors, RecoveryIdAndVerification) {
  // d, m (a 32-byte digest) -> low-S r||s and recovery id. The key comes from d; our code
  // must verify the signature, find the same recovery id without being told, and recover
  // the key's Ethereum address.
  nlohmann::json doc = nlohmann::json::parse(ReadVectorFile("secp256k1/tiny-secp256k1_ecdsa.json"));
  const auto& valid = doc.at("valid");
  ASSERT_EQ(valid.size(), 2020u);
  size_t checked = 0;
  for (const auto& v : valid) {
    std::array<uint8_t, 33> pubkey = testing::CompressedPubkey(HexToBytes(v.at("d").get<std::string>()));
    std::vector<uint8_t> m = HexToBytes(v.at("m").get<std::string>());
    ASSERT_EQ(m.size(), 32u);
    std::array<uint8_t, 32> digest;
    std::copy(m.begin(), m.end(), digest.begin());
    std::vector<uint8_t> rs = HexToBytes(v.at("signature").get<std::string>());
    CompactSignature sig;
    std::copy(rs.begin(), rs.end(), sig.begin());
    ASSERT_TRUE(VerifyEcdsa(digest, sig, pubkey).ok()) << v.at("signature");
    absl::StatusOr<int> recid = ComputeRecoveryId(digest, sig, pubkey);
    ASSERT_TRUE(recid.ok()) << recid.status();
    EXPECT_EQ(*recid, v.at("recoveryId").get<int>()) << v.at("signature");
    absl::StatusOr<EthSignature> eth = EthSignatureForKey(digest, rs, pubkey);
    ASSERT_TRUE(eth.ok()) << eth.status();
    std::vector<uint8_t> sig65(rs);
    sig65.push_back(eth->y_parity);
    absl::StatusOr<EthAddress> recovered = RecoverEthAddress(digest, sig65);
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    EXPECT_EQ(*recovered, *EthAddressFromPubkeyBytes(pubkey));
    ++checked;
  }
  EXPECT_EQ(checked, 2020u);
}

TEST(Bip84Bip86Vectors, AddressesFromKeys) {
  nlohmann::json doc = nlohmann::json::parse(ReadVectorFile("bip/bip84_bip86_vectors.json"));
  size_t p2wpkh = 0;
  for (const auto& d : doc.at("bip84").at("derivations")) {
    if (!d.contains("address")) continue;
    std::vector<uint8_t> pubkey = HexToBytes(d.at("pubkey").get<std::string>());
    absl::StatusOr<std::string> addr = P2wpkhAddress("bc", Hash160(pubkey));
    ASSERT_TRUE(addr.ok());
    EXPECT_EQ(*addr, d.at("address").get<std::string>());
    ++p2wpkh;
  }
  EXPECT_EQ(p2wpkh, 3u);
  size_t p2tr = 0;
  for (const auto& d : doc.at("bip86").at("derivations")) {
    if (!d.contains("address")) continue;
    std::vector<uint8_t> key = HexToBytes(d.at("output_key").get<std::string>());
    absl::StatusOr<std::string> addr = EncodeSegwitAddress({"bc", 1, key});
    ASSERT_TRUE(addr.ok());
    EXPECT_EQ(*addr, d.at("address").get<std::string>());
    absl::StatusOr<std::vector<uint8_t>> spk = ScriptPubKeyForAddress(*addr);
    ASSERT_TRUE(spk.ok());
    EXPECT_EQ(base::HexEncode(*spk), d.at("scriptPubKey").get<std::string>());
    ++p2tr;
  }
  EXPECT_EQ(p2tr, 3u);
}

}  // namespace
}  // namespace ringfence::chain

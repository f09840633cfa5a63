// The cryptography beneath hsm_sim's PKCS#11 surface against public conformance vectors:
// RFC 8032 Ed25519, RFC 6979 ECDSA (bitcoinjs and tiny-secp256k1 fixtures, recovery ids,
// extra entropy) and every Wycheproof case for strict secp256k1 and Ed25519 verification.
// Each test counts the cases it ran and checks the count, so an empty or truncated file fails.
#include <sodium.h>

#include <array>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hsm_sim/crypto.h"
#include "tests/common/vectors.h"

namespace ringfence::hsm_sim {
namespace {

using ::ringfence::testing::BytesToHex;
using ::ringfence::testing::HexToBytes;
using ::ringfence::testing::ReadVectorFile;
using Json = nlohmann::json;

Json Load(const std::string& rel) { return Json::parse(ReadVectorFile(rel)); }

// Left-pads a short big-endian hex scalar (bitcoinjs writes d = "01") to 32 bytes.
std::array<uint8_t, 32> Scalar(const std::string& hex) {
  std::vector<uint8_t> v = HexToBytes(hex);
  EXPECT_LE(v.size(), 32u) << hex;
  std::array<uint8_t, 32> out{};
  std::copy(v.begin(), v.end(), out.begin() + (32 - v.size()));
  return out;
}

std::array<uint8_t, 32> Sha256(const std::string& s) {
  std::array<uint8_t, 32> out;
  crypto_hash_sha256(out.data(), reinterpret_cast<const uint8_t*>(s.data()), s.size());
  return out;
}

std::array<uint8_t, 32> Sha256(const std::vector<uint8_t>& v) {
  std::array<uint8_t, 32> out;
  crypto_hash_sha256(out.data(), v.data(), v.size());
  return out;
}

std::array<uint8_t, 65> PublicKey(const std::array<uint8_t, 32>& d) {
  std::array<uint8_t, 65> pub{};
  EXPECT_TRUE(Secp256k1PublicKey(d, pub));
  return pub;
}

class CryptoVectorsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto()); }
};

TEST_F(CryptoVectorsTest, Rfc8032Ed25519ByteForByte) {
  const Json doc = Load("ed25519/rfc8032_ed25519_vectors.json");
  size_t ran = 0;
  for (const Json& v : doc.at("vectors")) {
    SCOPED_TRACE(v.at("name").get<std::string>());
    const std::vector<uint8_t> seed = HexToBytes(v.at("secret_key"));
    const std::vector<uint8_t> message = HexToBytes(v.at("message"));
    ASSERT_EQ(seed.size(), kEd25519SeedSize);
    std::array<uint8_t, kEd25519PublicSize> pub;
    std::array<uint8_t, kEd25519SecretSize> secret;
    Ed25519KeyPair(std::span<const uint8_t, 32>(seed.data(), 32), pub, secret);
    EXPECT_EQ(BytesToHex(pub.data(), pub.size()), v.at("public_key").get<std::string>());
    std::array<uint8_t, kEd25519SignatureSize> sig;
    Ed25519Sign(secret, message, sig);
    EXPECT_EQ(BytesToHex(sig.data(), sig.size()), v.at("signature").get<std::string>());
    EXPECT_TRUE(Ed25519Verify(pub, message, sig));
    sig[10] ^= 1;
    EXPECT_FALSE(Ed25519Verify(pub, message, sig));
    ++ran;
  }
  EXPECT_EQ(ran, 5u);
}

TEST_F(CryptoVectorsTest, BitcoinjsRfc6979SignaturesAndNonces) {
  const Json doc = Load("secp256k1/bitcoinjs_ecdsa_rfc6979.json");
  size_t ran = 0;
  for (const Json& v : doc.at("valid").at("ecdsa")) {
    const std::string message = v.at("message");
    SCOPED_TRACE(message);
    const auto d = Scalar(v.at("d"));
    const auto digest = Sha256(message);
    std::array<uint8_t, 32> k;
    ASSERT_TRUE(Rfc6979Nonce(d, digest, 0, k));
    EXPECT_EQ(BytesToHex(k.data(), k.size()), v.at("k").get<std::string>());
    EcdsaSignature sig;
    ASSERT_TRUE(EcdsaSign(d, digest, nullptr, &sig));
    const std::string want =
        v.at("signature").at("r").get<std::string>() + v.at("signature").at("s").get<std::string>();
    EXPECT_EQ(BytesToHex(sig.compact.data(), sig.compact.size()), want);
    EXPECT_TRUE(EcdsaVerifyCompact(PublicKey(d), digest, sig.compact));
    ++ran;
  }
  EXPECT_EQ(ran, 7u);

  size_t nonces = 0;
  for (const Json& v : doc.at("valid").at("rfc6979")) {
    const auto d = Scalar(v.at("d"));
    const auto digest = Sha256(v.at("message").get<std::string>());
    for (const auto& [field, attempt] : {std::pair{"k0", 0u}, {"k1", 1u}, {"k15", 15u}}) {
      std::array<uint8_t, 32> k;
      ASSERT_TRUE(Rfc6979Nonce(d, digest, attempt, k));
      EXPECT_EQ(BytesToHex(k.data(), k.size()), v.at(field).get<std::string>()) << field;
      ++nonces;
    }
  }
  EXPECT_EQ(nonces, 30u);

  size_t rejected = 0, unrepresentable = 0;
  for (const Json& v : doc.at("invalid").at("verify")) {
    SCOPED_TRACE(v.at("description").get<std::string>());
    const std::string r = v.at("signature").at("r"), s = v.at("signature").at("s");
    ++rejected;
    // A negative r or s has no r || s encoding at all, so no caller can present it.
    if (r[0] == '-' || s[0] == '-') {
      ++unrepresentable;
      continue;
    }
    const auto d = Scalar(v.at("d"));
    const auto digest = Sha256(v.at("message").get<std::string>());
    std::vector<uint8_t> sig(64);
    const auto r32 = Scalar(r), s32 = Scalar(s);
    std::copy(r32.begin(), r32.end(), sig.begin());
    std::copy(s32.begin(), s32.end(), sig.begin() + 32);
    EXPECT_FALSE(EcdsaVerifyCompact(PublicKey(d), digest, sig));
  }
  EXPECT_EQ(unrepresentable, 3u);
  EXPECT_EQ(rejected, 8u);
}

TEST_F(CryptoVectorsTest, TinySecp256k1SignaturesAndRecoveryIds) {
  const Json doc = Load("secp256k1/tiny-secp256k1_ecdsa.json");
  size_t ran = 0;
  for (const Json& v : doc.at("valid")) {
    const auto d = Scalar(v.at("d"));
    const std::vector<uint8_t> m = HexToBytes(v.at("m"));
    ASSERT_EQ(m.size(), 32u);
    EcdsaSignature sig;
    ASSERT_TRUE(EcdsaSign(d, std::span<const uint8_t, 32>(m.data(), 32), nullptr, &sig));
    ASSERT_EQ(BytesToHex(sig.compact.data(), sig.compact.size()),
              v.at("signature").get<std::string>())
        << v.at("description");
    ASSERT_EQ(sig.recovery_id, v.at("recoveryId").get<int>()) << v.at("description");
    ASSERT_TRUE(EcdsaVerifyCompact(PublicKey(d), m, sig.compact));
    ++ran;
  }
  EXPECT_EQ(ran, 2020u);

  size_t entropy = 0;
  for (const Json& v : doc.at("extraEntropy")) {
    const auto d = Scalar(v.at("d"));
    const std::vector<uint8_t> m = HexToBytes(v.at("m"));
    const std::span<const uint8_t, 32> digest(m.data(), 32);
    EcdsaSignature sig;
    ASSERT_TRUE(EcdsaSign(d, digest, nullptr, &sig));
    EXPECT_EQ(BytesToHex(sig.compact.data(), 64), v.at("signature").get<std::string>());
    // RFC 6979 section 3.6 extra data: 0...0, 0...01, n and ff...ff.
    std::array<uint8_t, 32> zero{}, one{}, max;
    one[31] = 1;
    max.fill(0xff);
    const auto n = Scalar("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    for (const auto& [field, extra] : {std::pair{"extraEntropy0", zero},
                                       {"extraEntropy1", one},
                                       {"extraEntropyN", n},
                                       {"extraEntropyMax", max}}) {
      ASSERT_TRUE(EcdsaSign(d, digest, extra.data(), &sig));
      EXPECT_EQ(BytesToHex(sig.compact.data(), 64), v.at(field).get<std::string>()) << field;
      ++entropy;
    }
  }
  EXPECT_EQ(entropy, 20u);

  size_t bad_keys = 0;
  for (const Json& v : doc.at("invalid").at("sign")) {
    const auto d = Scalar(v.at("d"));
    const std::vector<uint8_t> m = HexToBytes(v.at("m"));
    EcdsaSignature sig;
    EXPECT_FALSE(Secp256k1SecretValid(d)) << v.at("description");
    EXPECT_FALSE(EcdsaSign(d, std::span<const uint8_t, 32>(m.data(), 32), nullptr, &sig))
        << v.at("description");
    ++bad_keys;
  }
  EXPECT_EQ(bad_keys, 4u);

  size_t bad_verify = 0;
  for (const Json& v : doc.at("invalid").at("verify")) {
    EXPECT_FALSE(EcdsaVerifyCompact(HexToBytes(v.at("Q")), HexToBytes(v.at("m")),
                                    HexToBytes(v.at("signature"))))
        << v.at("description");
    ++bad_verify;
  }
  EXPECT_EQ(bad_verify, 25u);
}

TEST_F(CryptoVectorsTest, WycheproofSecp256k1BitcoinVerification) {
  const Json doc = Load("wycheproof/v1_ecdsa_secp256k1_sha256_bitcoin_test.json");
  size_t ran = 0, valid = 0;
  for (const Json& group : doc.at("testGroups")) {
    ASSERT_EQ(group.at("sha").get<std::string>(), "SHA-256");
    const std::vector<uint8_t> pub = HexToBytes(group.at("publicKey").at("uncompressed"));
    for (const Json& t : group.at("tests")) {
      const auto digest = Sha256(HexToBytes(t.at("msg")));
      const auto rs = ParseDerSignature(HexToBytes(t.at("sig")));
      const bool ours = rs.has_value() && EcdsaVerifyCompact(pub, digest, *rs);
      const std::string result = t.at("result");
      ASSERT_TRUE(result == "valid" || result == "invalid") << t.at("tcId");
      EXPECT_EQ(ours, result == "valid") << "tcId " << t.at("tcId") << ": " << t.at("comment");
      valid += result == "valid";
      ++ran;
    }
  }
  EXPECT_EQ(ran, doc.at("numberOfTests").get<size_t>());
  EXPECT_EQ(ran, 463u);
  EXPECT_GT(valid, 0u);
}

TEST_F(CryptoVectorsTest, WycheproofEd25519Verification) {
  const Json doc = Load("wycheproof/v1_ed25519_test.json");
  size_t ran = 0, valid = 0;
  for (const Json& group : doc.at("testGroups")) {
    const std::vector<uint8_t> pub = HexToBytes(group.at("publicKey").at("pk"));
    for (const Json& t : group.at("tests")) {
      const bool ours = Ed25519Verify(pub, HexToBytes(t.at("msg")), HexToBytes(t.at("sig")));
      const std::string result = t.at("result");
      ASSERT_TRUE(result == "valid" || result == "invalid") << t.at("tcId");
      EXPECT_EQ(ours, result == "valid") << "tcId " << t.at("tcId") << ": " << t.at("comment");
      valid += result == "valid";
      ++ran;
    }
  }
  EXPECT_EQ(ran, doc.at("numberOfTests").get<size_t>());
  EXPECT_EQ(ran, 150u);
  EXPECT_GT(valid, 0u);
}

}  // namespace
}  // namespace ringfence::hsm_sim

#include "chain/eth_address.h"

#include <gtest/gtest.h>

#include "chain/ecdsa.h"
#include "base/hex.h"
#include "chain/keccak.h"
#include "tests/chain/test_signing.h"

namespace ringfence::chain {
namespace {

std::vector<uint8_t> Secret(uint8_t fill) { return std::vector<uint8_t>(32, fill); }

// EIP-55's own examples (all four mixed-case ones plus the all-caps and all-lower ones).
TEST(EthAddress, Eip55Examples) {
  for (const char* s : {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"}) {
    absl::StatusOr<EthAddress> a = ParseEthAddress(s);
    ASSERT_TRUE(a.ok()) << s << ": " << a.status();
    EXPECT_EQ(EthChecksumAddress(*a), s);
  }
  for (const char* s : {"0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
                        "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26"}) {
    absl::StatusOr<EthAddress> a = ParseEthAddress(s);
    ASSERT_TRUE(a.ok()) << s << ": " << a.status();
    // These happen to be their own checksum form.
    EXPECT_EQ(EthChecksumAddress(*a), s);
  }
}

TEST(EthAddress, UnchecksummedFormsAccepted) {
  absl::StatusOr<EthAddress> lower = ParseEthAddress("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
  absl::StatusOr<EthAddress> upper = ParseEthAddress("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED");
  ASSERT_TRUE(lower.ok());
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(*lower, *upper);
  EXPECT_EQ(EthChecksumAddress(*lower), "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
}

TEST(EthAddress, RejectsBadInput) {
  struct Case {
    const char* input;
    const char* expect;
  } cases[] = {
      {"5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x"},
      {"0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "lowercase 0x"},
      {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", "40 hex digits"},
      {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd", "40 hex digits"},
      {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00", "40 hex digits"},
      {"0x", "40 hex digits"},
      {"", "0x"},
      {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", "non-hex"},
      {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "checksum"},  // one letter's case flipped
      {"0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "checksum"},
      {"0x 5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", "non-hex"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<EthAddress> a = ParseEthAddress(c.input);
    ASSERT_FALSE(a.ok()) << c.input;
    EXPECT_NE(a.status().ToString().find(c.expect), std::string::npos) << c.input << " -> " << a.status();
  }
  // An embedded NUL must not truncate the check.
  std::string with_nul("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae\0", 42);
  EXPECT_FALSE(ParseEthAddress(with_nul).ok());
}

TEST(EthAddress, FromPublicKeyAllForms) {
  // EIP-155's example key; its address is widely published.
  std::vector<uint8_t> secret = Secret(0x46);
  std::array<uint8_t, 65> uncompressed = testing::UncompressedPubkey(secret);
  std::array<uint8_t, 33> compressed = testing::CompressedPubkey(secret);
  absl::StatusOr<EthAddress> a = EthAddressFromPubkeyBytes(uncompressed);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(base::HexEncode(*a), "9d8a62f656a8d1615c1294fd71e9cfb3e4855a4f");
  absl::StatusOr<EthAddress> b = EthAddressFromPubkeyBytes(compressed);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  secp256k1_pubkey pk;
  ASSERT_EQ(secp256k1_ec_pubkey_parse(secp256k1_context_static, &pk, compressed.data(), compressed.size()), 1);
  EXPECT_EQ(EthAddressFromPubkey(pk), *a);

  std::array<uint8_t, 65> off_curve = uncompressed;
  off_curve[64] ^= 1;
  EXPECT_FALSE(EthAddressFromPubkeyBytes(off_curve).ok());
  EXPECT_FALSE(EthAddressFromPubkeyBytes(std::span<const uint8_t>(uncompressed).first(64)).ok());
}

TEST(EthAddress, RecoverBothVConventionsAndRejectHighS) {
  std::vector<uint8_t> secret = Secret(0x11);
  absl::StatusOr<EthAddress> want = EthAddressFromPubkeyBytes(testing::UncompressedPubkey(secret));
  ASSERT_TRUE(want.ok());
  for (uint8_t msg = 0; msg < 8; ++msg) {
    std::array<uint8_t, 32> digest = Keccak256(std::span<const uint8_t>(&msg, 1));
    testing::RecoverableSignature sig = testing::SignDigest(secret, digest);
    std::vector<uint8_t> sig65(sig.rs.begin(), sig.rs.end());
    sig65.push_back(static_cast<uint8_t>(sig.recid));
    absl::StatusOr<EthAddress> got = RecoverEthAddress(digest, sig65);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, *want);
    sig65[64] = static_cast<uint8_t>(27 + sig.recid);
    got = RecoverEthAddress(digest, sig65);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, *want);
    // The other parity recovers some other key, never this one.
    sig65[64] = static_cast<uint8_t>(28 - sig.recid);
    got = RecoverEthAddress(digest, sig65);
    EXPECT_TRUE(!got.ok() || *got != *want);

    // n - s with the flipped parity is the same point's malleated twin: refused.
    absl::StatusOr<CompactSignature> low = NormalizeLowS(sig.rs);
    ASSERT_TRUE(low.ok());
    ASSERT_EQ(*low, sig.rs);
    std::vector<uint8_t> high(sig65);
    // Compute n - s by normalising a known high value: flip through NormalizeLowS's inverse.
    static constexpr uint8_t kOrder[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                           0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                           0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
    int borrow = 0;
    for (int i = 31; i >= 0; --i) {
      int v = kOrder[i] - sig.rs[32 + i] - borrow;
      borrow = v < 0;
      high[32 + i] = static_cast<uint8_t>(v + (borrow ? 256 : 0));
    }
    high[64] = static_cast<uint8_t>(27 + (1 - sig.recid));
    absl::StatusOr<EthAddress> rejected = RecoverEthAddress(digest, high);
    ASSERT_FALSE(rejected.ok());
    EXPECT_NE(rejected.status().ToString().find("high S"), std::string::npos) << rejected.status();
    // NormalizeLowS maps it back to the original.
    absl::StatusOr<CompactSignature> normalised = NormalizeLowS(std::span<const uint8_t>(high).first(64));
    ASSERT_TRUE(normalised.ok());
    EXPECT_EQ(*normalised, sig.rs);
  }
}

TEST(EthAddress, RecoverRejectsMalformedSignatures) {
  std::array<uint8_t, 32> digest{};
  digest[0] = 1;
  std::vector<uint8_t> sig(65, 0x01);
  sig[64] = 2;
  EXPECT_FALSE(RecoverEthAddress(digest, sig).ok());
  sig[64] = 26;
  EXPECT_FALSE(RecoverEthAddress(digest, sig).ok());
  sig[64] = 37;  // an EIP-155 v is not a recovery id
  EXPECT_FALSE(RecoverEthAddress(digest, sig).ok());
  EXPECT_FALSE(RecoverEthAddress(digest, std::span<const uint8_t>(sig).first(64)).ok());
  std::vector<uint8_t> zero_r(65, 0);
  zero_r[40] = 1;
  EXPECT_FALSE(RecoverEthAddress(digest, zero_r).ok());
  std::vector<uint8_t> big_s(65, 0xff);
  big_s[0] = 1;
  big_s[64] = 0;
  EXPECT_FALSE(RecoverEthAddress(digest, big_s).ok());
}

}  // namespace
}  // namespace ringfence::chain

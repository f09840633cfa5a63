#include "chain/bech32.h"

#include <gtest/gtest.h>

#include "chain/hashes.h"
#include "base/hex.h"
#include "tests/chain/test_signing.h"

namespace ringfence::chain {
namespace {

std::array<uint8_t, 20> KeyHash(uint8_t fill) {
  std::array<uint8_t, 20> h;
  h.fill(fill);
  return h;
}

void ExpectError(std::string_view input, std::string_view needle) {
  absl::StatusOr<SegwitAddress> a = DecodeSegwitAddress(input);
  ASSERT_FALSE(a.ok()) << input;
  EXPECT_NE(a.status().ToString().find(needle), std::string::npos) << input << " -> " << a.status();
}

TEST(Bech32, P2wpkhRoundTripOnEveryNetwork) {
  for (BitcoinNetwork net : {BitcoinNetwork::kMainnet, BitcoinNetwork::kTestnet, BitcoinNetwork::kRegtest}) {
    std::array<uint8_t, 20> hash = KeyHash(0x5a);
    absl::StatusOr<std::string> addr = P2wpkhAddress(SegwitHrp(net), hash);
    ASSERT_TRUE(addr.ok()) << addr.status();
    EXPECT_EQ(addr->substr(0, SegwitHrp(net).size() + 2), std::string(SegwitHrp(net)) + "1q");
    absl::StatusOr<std::vector<uint8_t>> spk = ScriptPubKeyForAddress(*addr);
    ASSERT_TRUE(spk.ok()) << spk.status();
    EXPECT_EQ(*spk, P2wpkhScriptPubKey(hash));
    absl::StatusOr<std::array<uint8_t, 20>> back = ParseP2wpkhScriptPubKey(*spk);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, hash);
  }
}

TEST(Bech32, KnownP2wpkhAddressOfGeneratorKey) {
  // Secret key 1: its P2WPKH address is a widely published constant.
  std::vector<uint8_t> secret(32, 0);
  secret[31] = 1;
  std::array<uint8_t, 33> pk = testing::CompressedPubkey(secret);
  absl::StatusOr<std::string> addr = P2wpkhAddress("bc", Hash160(pk));
  ASSERT_TRUE(addr.ok());
  EXPECT_EQ(*addr, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
}

TEST(Bech32, RejectsWrongNetworkAndChecksumKind) {
  absl::StatusOr<std::string> v0 = P2wpkhAddress("bc", KeyHash(1));
  ASSERT_TRUE(v0.ok());
  // The same data under bech32m must fail: v0 requires bech32.
  absl::StatusOr<Bech32Data> data = Bech32Decode(*v0);
  ASSERT_TRUE(data.ok());
  absl::StatusOr<std::string> wrong_kind = Bech32Encode("bc", data->values, Bech32Encoding::kBech32m);
  ASSERT_TRUE(wrong_kind.ok());
  ExpectError(*wrong_kind, "requires bech32");
  // And v1 with bech32 must fail.
  std::vector<uint8_t> values = data->values;
  values[0] = 1;
  absl::StatusOr<std::string> v1_bech32 = Bech32Encode("bc", values, Bech32Encoding::kBech32);
  ASSERT_TRUE(v1_bech32.ok());
  ExpectError(*v1_bech32, "requires bech32m");
  absl::StatusOr<std::string> ltc = Bech32Encode("ltc", data->values, Bech32Encoding::kBech32);
  ASSERT_TRUE(ltc.ok());
  ExpectError(*ltc, "not bc, tb or bcrt");
}

TEST(Bech32, RejectsMalformedStrings) {
  absl::StatusOr<std::string> good = P2wpkhAddress("tb", KeyHash(7));
  ASSERT_TRUE(good.ok());
  std::string mixed = *good;
  mixed[0] = 'T';
  ExpectError(mixed, "mixed");
  ExpectError(*good + "q", "checksum");
  ExpectError(good->substr(0, good->size() - 1), "checksum");
  ExpectError("tb1", "shorter than");
  ExpectError("", "no separator");
  ExpectError(std::string(91, 'q'), "exceeds 90");
  std::string with_b = *good;
  with_b[6] = 'b';
  ExpectError(with_b, "invalid data character");
  std::string with_nul = *good;
  with_nul[5] = '\0';
  ExpectError(with_nul, "outside ASCII");
}

TEST(Bech32, ProgramRulesOnEncode) {
  EXPECT_FALSE(EncodeSegwitAddress({"bc", 0, std::vector<uint8_t>(21, 1)}).ok());
  EXPECT_FALSE(EncodeSegwitAddress({"bc", 1, std::vector<uint8_t>(1, 1)}).ok());
  EXPECT_FALSE(EncodeSegwitAddress({"bc", 1, std::vector<uint8_t>(41, 1)}).ok());
  EXPECT_FALSE(EncodeSegwitAddress({"bc", 17, std::vector<uint8_t>(20, 1)}).ok());
  EXPECT_FALSE(EncodeSegwitAddress({"bc", -1, std::vector<uint8_t>(20, 1)}).ok());
  EXPECT_FALSE(EncodeSegwitAddress({"BC", 0, std::vector<uint8_t>(20, 1)}).ok());
  EXPECT_TRUE(EncodeSegwitAddress({"bc", 0, std::vector<uint8_t>(32, 1)}).ok());
  EXPECT_TRUE(EncodeSegwitAddress({"bcrt", 1, std::vector<uint8_t>(32, 1)}).ok());
  EXPECT_FALSE(Bech32Encode("", {}, Bech32Encoding::kBech32).ok());
  std::vector<uint8_t> bad_value = {32};
  EXPECT_FALSE(Bech32Encode("a", bad_value, Bech32Encoding::kBech32).ok());
}

TEST(Bech32, ScriptPubKeyClassification) {
  std::vector<uint8_t> p2pkh = {0x76, 0xa9, 0x14};
  p2pkh.resize(23, 0x11);
  p2pkh.push_back(0x88);
  p2pkh.push_back(0xac);
  EXPECT_FALSE(SegwitAddressFromScriptPubKey(p2pkh, "bc").ok());
  EXPECT_FALSE(ParseP2wpkhScriptPubKey(p2pkh).ok());
  std::vector<uint8_t> p2wpkh = P2wpkhScriptPubKey(KeyHash(3));
  std::vector<uint8_t> trailing = p2wpkh;
  trailing.push_back(0x00);
  EXPECT_FALSE(ParseP2wpkhScriptPubKey(trailing).ok());
  EXPECT_FALSE(SegwitAddressFromScriptPubKey(trailing, "bc").ok());
  std::vector<uint8_t> p2wsh(34, 0x22);
  p2wsh[0] = 0x00;
  p2wsh[1] = 0x20;
  EXPECT_FALSE(ParseP2wpkhScriptPubKey(p2wsh).ok());
  absl::StatusOr<SegwitAddress> a = SegwitAddressFromScriptPubKey(p2wsh, "bc");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->program.size(), 32u);
  EXPECT_FALSE(SegwitAddressFromScriptPubKey(p2wsh, "xx").ok());
}

}  // namespace
}  // namespace ringfence::chain

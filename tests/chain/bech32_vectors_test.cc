// BIP-173 / BIP-350 test vectors: bech32 and bech32m valid/invalid strings, segwit
// addresses with their scriptPubKeys, invalid segwit addresses.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "chain/bech32.h"
#include "base/hex.h"
#include "tests/common/vectors.h"

namespace ringfence::chain {
namespace {

using ::ringfence::testing::HexToBytes;
using ::ringfence::testing::ReadVectorFile;

nlohmann::json Doc() { return nlohmann::json::parse(ReadVectorFile("bip/bech32_bech32m_vectors.json")); }

std::string Input(const nlohmann::json& v) {
  if (v.contains("bytes_hex")) {
    std::vector<uint8_t> raw = HexToBytes(v.at("bytes_hex").get<std::string>());
    return std::string(raw.begin(), raw.end());
  }
  return v.at("string").get<std::string>();
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void CheckValid(const nlohmann::json& list, Bech32Encoding want, size_t expected_count) {
  ASSERT_EQ(list.size(), expected_count);
  for (const auto& v : list) {
    std::string s = Input(v);
    absl::StatusOr<Bech32Data> d = Bech32Decode(s);
    ASSERT_TRUE(d.ok()) << s << ": " << d.status();
    EXPECT_EQ(d->encoding, want) << s;
    absl::StatusOr<std::string> again = Bech32Encode(d->hrp, d->values, d->encoding);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, Lower(s));
    // Flipping one data character must break the checksum.
    std::string bad = s;
    size_t pos = bad.rfind('1') + 1;
    bool upper = std::isupper(static_cast<unsigned char>(bad[pos])) != 0;
    char replacement = std::tolower(static_cast<unsigned char>(bad[pos])) == 'q' ? 'p' : 'q';
    bad[pos] = upper ? static_cast<char>(std::toupper(replacement)) : replacement;
    EXPECT_FALSE(Bech32Decode(bad).ok()) << bad;
  }
}

void CheckInvalid(const nlohmann::json& list, Bech32Encoding encoding, size_t expected_count) {
  ASSERT_EQ(list.size(), expected_count);
  for (const auto& v : list) {
    std::string s = Input(v);
    absl::StatusOr<Bech32Data> d = Bech32Decode(s);
    EXPECT_FALSE(d.ok()) << s << " (" << v.value("reason", "") << ")";
    (void)encoding;
  }
}

TEST(Bech32Vectors, Bech32Valid) { CheckValid(Doc().at("bech32_valid"), Bech32Encoding::kBech32, 7); }
TEST(Bech32Vectors, Bech32mValid) { CheckValid(Doc().at("bech32m_valid"), Bech32Encoding::kBech32m, 7); }
TEST(Bech32Vectors, Bech32Invalid) { CheckInvalid(Doc().at("bech32_invalid"), Bech32Encoding::kBech32, 12); }
TEST(Bech32Vectors, Bech32mInvalid) { CheckInvalid(Doc().at("bech32m_invalid"), Bech32Encoding::kBech32m, 14); }

TEST(Bech32Vectors, SegwitValid) {
  nlohmann::json doc = Doc();
  const auto& list = doc.at("segwit_valid");
  ASSERT_EQ(list.size(), 8u);
  for (const auto& v : list) {
    std::string s = v.at("string").get<std::string>();
    absl::StatusOr<SegwitAddress> a = DecodeSegwitAddress(s);
    ASSERT_TRUE(a.ok()) << s << ": " << a.status();
    absl::StatusOr<std::vector<uint8_t>> spk = SegwitScriptPubKey(a->witness_version, a->program);
    ASSERT_TRUE(spk.ok());
    EXPECT_EQ(base::HexEncode(*spk), v.at("scriptPubKey").get<std::string>()) << s;
    absl::StatusOr<std::string> again = EncodeSegwitAddress(*a);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, Lower(s));
    absl::StatusOr<SegwitAddress> from_spk = SegwitAddressFromScriptPubKey(*spk, a->hrp);
    ASSERT_TRUE(from_spk.ok()) << from_spk.status();
    EXPECT_EQ(from_spk->program, a->program);
    EXPECT_EQ(from_spk->witness_version, a->witness_version);
  }
}

TEST(Bech32Vectors, SegwitInvalid) {
  nlohmann::json doc = Doc();
  size_t n = 0;
  for (const char* key : {"segwit_invalid", "bip173_segwit_invalid"}) {
    for (const auto& v : doc.at(key)) {
      std::string s = Input(v);
      absl::StatusOr<SegwitAddress> a = DecodeSegwitAddress(s);
      EXPECT_FALSE(a.ok()) << s << " (" << v.value("reason", "") << ")";
      ++n;
    }
  }
  EXPECT_EQ(n, 25u);
}

TEST(Bech32Vectors, HistoricalV1PlusBech32AddressesAreRejected) {
  // BIP-173's original v1+ examples carry a bech32 checksum, which BIP-350 forbids.
  nlohmann::json doc = Doc();
  const auto& list = doc.at("bip173_segwit_valid_HISTORICAL");
  ASSERT_EQ(list.size(), 6u);
  size_t v0 = 0;
  for (const auto& v : list) {
    std::string s = v.at("string").get<std::string>();
    std::string spk = v.at("scriptPubKey").get<std::string>();
    absl::StatusOr<SegwitAddress> a = DecodeSegwitAddress(s);
    if (spk.rfind("00", 0) == 0) {
      EXPECT_TRUE(a.ok()) << s;
      ++v0;
    } else {
      EXPECT_FALSE(a.ok()) << s;
    }
  }
  EXPECT_GE(v0, 2u);
}

}  // namespace
}  // namespace ringfence::chain

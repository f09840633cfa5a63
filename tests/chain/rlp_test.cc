#include "chain/rlp.h"

#include <gtest/gtest.h>

#include "base/hex.h"

namespace ringfence::chain {
namespace {

std::vector<uint8_t> H(std::string_view hex) { return *base::HexDecode(hex); }

void ExpectRejected(std::string_view hex, std::string_view needle) {
  absl::StatusOr<RlpItem> item = RlpDecode(H(hex));
  ASSERT_FALSE(item.ok()) << hex;
  EXPECT_NE(item.status().ToString().find(needle), std::string::npos) << hex << " -> " << item.status();
}

// The examples from the Ethereum yellow paper / RLP documentation.
TEST(Rlp, KnownEncodings) {
  std::string dog = "dog";
  EXPECT_EQ(base::HexEncode(RlpEncodeBytes(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(dog.data()), 3))),
            "83646f67");
  EXPECT_EQ(base::HexEncode(RlpEncodeBytes({})), "80");
  EXPECT_EQ(base::HexEncode(RlpEncodeList({})), "c0");
  EXPECT_EQ(base::HexEncode(RlpEncodeUint(0)), "80");
  EXPECT_EQ(base::HexEncode(RlpEncodeUint(15)), "0f");
  EXPECT_EQ(base::HexEncode(RlpEncodeUint(0x7f)), "7f");
  EXPECT_EQ(base::HexEncode(RlpEncodeUint(0x80)), "8180");
  EXPECT_EQ(base::HexEncode(RlpEncodeUint(1024)), "820400");
  EXPECT_EQ(base::HexEncode(RlpEncodeUint(UINT64_MAX)), "88ffffffffffffffff");
  // The set-theoretic three: [ [], [[]], [ [], [[]] ] ].
  std::vector<uint8_t> empty = RlpEncodeList({});
  std::vector<uint8_t> one = RlpEncodeList({empty});
  EXPECT_EQ(base::HexEncode(RlpEncodeList({empty, one, RlpEncodeList({empty, one})})), "c7c0c1c0c3c0c1c0");
  std::vector<uint8_t> long_string(56, 'a');
  std::vector<uint8_t> enc = RlpEncodeBytes(long_string);
  EXPECT_EQ(base::HexEncode(std::span<const uint8_t>(enc).first(2)), "b838");
  EXPECT_EQ(enc.size(), 58u);
}

TEST(Rlp, RoundTripNested) {
  RlpItem item;
  item.is_list = true;
  item.items.push_back(RlpItem{false, {0x00}, {}});
  item.items.push_back(RlpItem{false, std::vector<uint8_t>(300, 0xab), {}});
  RlpItem inner;
  inner.is_list = true;
  inner.items.push_back(RlpItem{false, {}, {}});
  item.items.push_back(inner);
  std::vector<uint8_t> enc = RlpEncode(item);
  absl::StatusOr<RlpItem> back = RlpDecode(enc);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, item);
}

TEST(Rlp, RejectsNonCanonicalForms) {
  ExpectRejected("8105", "must not be wrapped");
  ExpectRejected("817f", "must not be wrapped");
  ExpectRejected("b801ff", "long-form length used for 55 bytes or fewer");
  ExpectRejected("b80100", "long-form length");
  ExpectRejected("f80180", "long-form length");
  ExpectRejected("b90038" + std::string(112, 'a'), "leading zero");
  ExpectRejected("bc0000000038", "leading zero");
}

TEST(Rlp, RejectsTruncatedTrailingAndOversized) {
  ExpectRejected("", "input ends");
  ExpectRejected("83646f", "runs past the end");
  ExpectRejected("83646f6700", "trailing");
  ExpectRejected("c0c0", "trailing");
  ExpectRejected("c4826162", "runs past the end");   // list longer than the input
  ExpectRejected("c283616262", "runs past the end");  // child runs past its list
  ExpectRejected("b9", "length of length");
  ExpectRejected("bfffffffffffffffff", "does not fit 32 bits");
  ExpectRejected("bbffffffff", "runs past the end");
  // Nesting past the bound: each list holds exactly the next, 40 deep.
  std::vector<uint8_t> chain(40);
  for (size_t i = 0; i < chain.size(); ++i) chain[i] = static_cast<uint8_t>(0xc0 + (chain.size() - 1 - i));
  absl::StatusOr<RlpItem> r = RlpDecode(chain);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().ToString().find("nesting deeper"), std::string::npos) << r.status();
}

TEST(Rlp, IntegerFieldRules) {
  absl::StatusOr<RlpItem> zero_padded = RlpDecode(H("820001"));
  ASSERT_TRUE(zero_padded.ok());
  EXPECT_FALSE(RlpToUint64(*zero_padded, "nonce").ok());
  EXPECT_FALSE(RlpToU256(*zero_padded, "value").ok());
  absl::StatusOr<RlpItem> single_zero = RlpDecode(H("00"));
  ASSERT_TRUE(single_zero.ok());
  absl::StatusOr<uint64_t> z = RlpToUint64(*single_zero, "nonce");
  ASSERT_FALSE(z.ok());  // zero must be the empty string, not 0x00
  EXPECT_NE(z.status().ToString().find("nonce"), std::string::npos);
  absl::StatusOr<RlpItem> nine = RlpDecode(H("89010000000000000000"));
  ASSERT_TRUE(nine.ok());
  EXPECT_FALSE(RlpToUint64(*nine, "gas_limit").ok());
  EXPECT_TRUE(RlpToU256(*nine, "value").ok());
  std::vector<uint8_t> thirty_three = RlpEncodeBytes(std::vector<uint8_t>(33, 1));
  absl::StatusOr<RlpItem> big = RlpDecode(thirty_three);
  ASSERT_TRUE(big.ok());
  EXPECT_FALSE(RlpToU256(*big, "value").ok());
  absl::StatusOr<RlpItem> list = RlpDecode(H("c0"));
  ASSERT_TRUE(list.ok());
  EXPECT_FALSE(RlpToUint64(*list, "nonce").ok());
  EXPECT_FALSE(RlpToBytes(*list, "data").ok());
}

TEST(U256, ConversionsAndLimits) {
  U256 max128 = U256::FromU128(~static_cast<unsigned __int128>(0));
  EXPECT_TRUE(max128.FitsU128());
  EXPECT_EQ(max128.ToDecimal(), "340282366920938463463374607431768211455");
  std::array<uint8_t, 32> word{};
  word[15] = 1;  // 2^128
  U256 over = U256::FromWord(word);
  EXPECT_FALSE(over.FitsU128());
  absl::StatusOr<unsigned __int128> r = over.ToU128("value");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().ToString().find("value"), std::string::npos);
  EXPECT_NE(r.status().ToString().find("340282366920938463463374607431768211456"), std::string::npos);
  EXPECT_LT(max128, over);
  EXPECT_TRUE(U256().IsZero());
  EXPECT_TRUE(U256().MinimalBytes().empty());
  EXPECT_EQ(U256().ToDecimal(), "0");
  EXPECT_FALSE(U256::FromBigEndian(std::vector<uint8_t>(33, 0), "x").ok());
  EXPECT_EQ(U128ToDecimal(1000000000000000000ULL), "1000000000000000000");
}

}  // namespace
}  // namespace ringfence::chain

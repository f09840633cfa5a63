#include "base/hex.h"

#include <array>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ringfence::base {
namespace {

TEST(Hex, RoundTripAndErrors) {
  std::vector<uint8_t> bytes = {0x00, 0x7f, 0x80, 0xff};
  EXPECT_EQ(HexEncode(bytes), "007f80ff");
  absl::StatusOr<std::vector<uint8_t>> back = HexDecode("007F80fF");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, bytes);
  absl::StatusOr<std::vector<uint8_t>> odd = HexDecode("abc", "txid");
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.status().ToString().find("txid: odd number"), std::string::npos) << odd.status();
  absl::StatusOr<std::vector<uint8_t>> bad = HexDecode("0g", "txid");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().ToString().find("position 1"), std::string::npos) << bad.status();
  EXPECT_FALSE(HexDecode("0x00").ok());
  EXPECT_TRUE(HexDecode("")->empty());
}

TEST(Hex, LowerOnlyRefusesCapitals) {
  EXPECT_TRUE(HexDecode("ab", "f", HexCase::kLowerOnly).ok());
  absl::StatusOr<std::vector<uint8_t>> upper = HexDecode("aB", "digest", HexCase::kLowerOnly);
  ASSERT_FALSE(upper.ok());
  EXPECT_NE(upper.status().message().find("digest: not a lowercase hex digit at position 1"), std::string::npos)
      << upper.status();
}

TEST(Hex, DecodeIntoChecksLengthFirst) {
  std::array<uint8_t, 2> out{};
  ASSERT_TRUE(HexDecodeInto("beef", out).ok());
  EXPECT_EQ(out, (std::array<uint8_t, 2>{0xbe, 0xef}));
  absl::Status short_text = HexDecodeInto("bee", out, "key");
  EXPECT_EQ(short_text.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(short_text.message().find("key: expected 4 hex digits, got 3"), std::string::npos) << short_text;
  EXPECT_FALSE(HexDecodeInto("beefee", out).ok());
  EXPECT_FALSE(HexDecodeInto("zzzz", out).ok());
}

TEST(Hex, TextOverloadEncodesBytes) { EXPECT_EQ(HexEncode(std::string_view("\x01\xfe", 2)), "01fe"); }

}  // namespace
}  // namespace ringfence::base

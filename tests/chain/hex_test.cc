#include "chain/hex.h"

#include <gtest/gtest.h>

namespace ringfence::chain {
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

}  // namespace
}  // namespace ringfence::chain

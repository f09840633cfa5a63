#include "tools/quorum/amount_display.h"

#include <gtest/gtest.h>

#include <string>

namespace ringfence::quorum {
namespace {

TEST(AmountDisplayTest, NativeCoinsHaveFixedDecimals) {
  auto btc = ResolveDisplayUnits("bitcoin", "BTC", std::nullopt);
  ASSERT_TRUE(btc.ok()) << btc.status();
  EXPECT_EQ(btc->asset, "BTC");
  EXPECT_EQ(btc->asset_decimals, 8);
  EXPECT_EQ(btc->fee_unit, "BTC");
  EXPECT_EQ(btc->fee_decimals, 8);

  auto eth = ResolveDisplayUnits("ethereum", "ETH", 18);
  ASSERT_TRUE(eth.ok()) << eth.status();
  EXPECT_EQ(eth->asset_decimals, 18);
  EXPECT_EQ(eth->fee_unit, "ETH");
  EXPECT_EQ(eth->fee_decimals, 18);
}

TEST(AmountDisplayTest, ATokenNeedsItsDecimalsAndPaysFeesInTheNativeCoin) {
  auto missing = ResolveDisplayUnits("ethereum", "USDC-ETH", std::nullopt);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("--decimals: required for \"USDC-ETH\""), std::string::npos)
      << missing.status();

  auto usdc = ResolveDisplayUnits("ethereum", "USDC-ETH", 6);
  ASSERT_TRUE(usdc.ok()) << usdc.status();
  EXPECT_EQ(usdc->asset, "USDC-ETH");
  EXPECT_EQ(usdc->asset_decimals, 6);
  EXPECT_EQ(usdc->fee_unit, "ETH");
  EXPECT_EQ(usdc->fee_decimals, 18);

  // An asset named like another chain's coin is not that coin.
  EXPECT_FALSE(ResolveDisplayUnits("ethereum", "BTC", std::nullopt).ok());
}

TEST(AmountDisplayTest, RefusesWhatWouldMisstateAnAmount) {
  struct Case {
    const char* chain;
    const char* asset;
    std::optional<int> decimals;
    const char* expect;
  };
  const Case cases[] = {
      {"bitcoin", "BTC", 18, "--decimals: BTC on bitcoin has 8 decimals, not 18"},
      {"ethereum", "ETH", 8, "--decimals: ETH on ethereum has 18 decimals, not 8"},
      {"ethereum", "USDC-ETH", -1, "--decimals: -1 is not between 0 and 38"},
      {"ethereum", "USDC-ETH", 39, "--decimals: 39 is not between 0 and 38"},
      {"solana", "SOL", 9, "--chain: \"solana\" is not bitcoin or ethereum"},
      {"Bitcoin", "BTC", std::nullopt, "--chain: \"Bitcoin\""},
  };
  for (const Case& c : cases) {
    auto units = ResolveDisplayUnits(c.chain, c.asset, c.decimals);
    ASSERT_FALSE(units.ok()) << c.expect;
    EXPECT_EQ(units.status().code(), absl::StatusCode::kInvalidArgument) << c.expect;
    EXPECT_NE(units.status().message().find(c.expect), std::string::npos) << units.status();
  }
}

}  // namespace
}  // namespace ringfence::quorum

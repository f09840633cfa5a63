#include "policy/ratio.h"

#include <gtest/gtest.h>

namespace ringfence::policy {
namespace {

using base::Amount;
using base::Rounding;

TEST(Ratio, ParsesAndApplies) {
  EXPECT_EQ(Ratio::Parse("0.02")->ppm(), 20000u);
  EXPECT_EQ(Ratio::Parse("1")->ppm(), 1000000u);
  EXPECT_EQ(Ratio::Parse("0")->ppm(), 0u);
  EXPECT_EQ(Ratio::Parse("0.000001")->ppm(), 1u);
  for (const char* bad : {"1.000001", "2", "-0.1", "0.0000001", "", "0.5 ", "5e-1", "+0.5"}) {
    EXPECT_FALSE(Ratio::Parse(bad).ok()) << bad;
  }
  EXPECT_FALSE(Ratio::FromPpm(1000001).ok());
  const Ratio half = *Ratio::Parse("0.5");
  bool rounded = false;
  EXPECT_EQ(half.Apply(Amount(3), Rounding::kUp, &rounded), Amount(2));
  EXPECT_TRUE(rounded);
  EXPECT_EQ(half.Apply(Amount(3), Rounding::kDown), Amount(1));
  EXPECT_EQ(Ratio::Parse("1")->Apply(Amount::Max(), Rounding::kUp), Amount::Max());
  EXPECT_EQ(half.ToString(), "0.5");
}

}  // namespace
}  // namespace ringfence::policy

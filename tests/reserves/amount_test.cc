// custody-por/1 amount text: the spec's grammar ^(0|[1-9][0-9]{0,38})$ with value <= 2^128-1,
// read through base::ScanBaseUnits, and the spec-facing error wording on top of it; the exact
// coverage ratio; and how the reserves tool shows an amount to a person.
#include "reserves/amount.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/amount.h"

namespace ringfence::reserves {
namespace {

using base::Amount;
using base::Uint128;

constexpr const char* kMaxText = "340282366920938463463374607431768211455";  // 2^128 - 1

TEST(ReservesAmount, AcceptsTheSpecGrammarOnly) {
  EXPECT_EQ(*ParseAmount("0", "amount"), Amount(0));
  EXPECT_EQ(*ParseAmount("7", "amount"), Amount(7));
  EXPECT_EQ(*ParseAmount("18446744073709551616", "amount"), Amount(Uint128{1} << 64));
  EXPECT_EQ(*ParseAmount(kMaxText, "amount"), Amount::Max());
}

TEST(ReservesAmount, NamesFieldAndRule) {
  struct Case {
    std::string text;
    std::string message;
  };
  const Case cases[] = {
      {"", "balance \"\" is empty"},
      {"-5", "balance \"-5\" is negative (a debit balance is not a liability)"},
      {"-", "balance \"-\" is negative (a debit balance is not a liability)"},
      {"+5", "balance \"+5\" has a leading '+'"},
      {"1.5", "balance \"1.5\" is fractional (amounts are integers in base units)"},
      {"-1.5", "balance \"-1.5\" is negative (a debit balance is not a liability)"},
      {"1e5", "balance \"1e5\" uses an exponent"},
      {"1E5", "balance \"1E5\" uses an exponent"},
      {"1.5e3", "balance \"1.5e3\" is fractional (amounts are integers in base units)"},
      {"5-", "balance \"5-\" has a character other than a decimal digit"},
      {" 5", "balance \" 5\" has a character other than a decimal digit"},
      // Bytes outside printable ASCII are quoted as '?' (base::Clip), never echoed raw.
      {"\xd9\xa1", "balance \"??\" has a character other than a decimal digit"},
      {"0x10", "balance \"0x10\" has a character other than a decimal digit"},
      {"05", "balance \"05\" has a leading zero"},
      {"00", "balance \"00\" has a leading zero"},
      {"340282366920938463463374607431768211456",
       "balance \"34028236692093846346337460743176\"...(39 bytes) is above 2^128-1"},
      {"1000000000000000000000000000000000000000",
       "balance \"10000000000000000000000000000000\"...(40 bytes) is above 2^128-1"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Amount> r = ParseAmount(c.text, "balance");
    ASSERT_FALSE(r.ok()) << c.text;
    // The spec's one failure kind for amounts, overflow included.
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_EQ(r.status().message(), c.message);
  }
}

TEST(ReservesAmount, LongTextIsEchoedBounded) {
  absl::StatusOr<Amount> r = ParseAmount(std::string(100000, '9'), "amount");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "amount \"" + std::string(32, '9') + "\"...(100000 bytes) is above 2^128-1");
}

// Every text the base grammar accepts, and nothing else, is a reserves amount with the same
// value; the canonical printer gives the text back exactly.
TEST(ReservesAmount, AgreesWithBaseGrammarAndRoundTrips) {
  std::vector<std::string> texts = {"", "0", "01", "1", "+1", "-0", "1 ", "12.0", kMaxText,
                                    "340282366920938463463374607431768211456",
                                    std::string(39, '9'), std::string(40, '1')};
  for (int k = 0; k < 128; ++k) {
    const Uint128 v = Uint128{1} << k;
    for (Uint128 w : {v - 1, v, v + 1}) texts.push_back(base::Uint128ToString(w));
  }
  Uint128 p = 1;
  for (int e = 0; e <= 38; ++e, p *= 10) {
    for (Uint128 w : {p - 1, p, p + 1}) texts.push_back(base::Uint128ToString(w));
  }
  for (const std::string& text : texts) {
    absl::StatusOr<Amount> mine = ParseAmount(text, "amount");
    const base::BaseUnitsScan theirs = base::ScanBaseUnits(text);
    ASSERT_EQ(mine.ok(), theirs.ok()) << text;
    if (!mine.ok()) continue;
    EXPECT_EQ(mine->base_units(), theirs.value) << text;
    EXPECT_EQ(mine->ToBaseUnitString(), text);
  }
}

TEST(ReservesAmount, CoverageRatioIsExactAndTruncated) {
  EXPECT_EQ(FormatRatio(Amount(99), Amount(100), 6), "0.990000");
  EXPECT_EQ(FormatRatio(Amount(100), Amount(100), 6), "1.000000");
  EXPECT_EQ(FormatRatio(Amount(5), Amount(4), 6), "1.250000");
  EXPECT_EQ(FormatRatio(Amount(2), Amount(3), 6), "0.666666");  // truncated, never rounded up
  EXPECT_EQ(FormatRatio(Amount(7), Amount(2), 0), "3");
  // Near 2^128, where 10 * remainder does not fit 128 bits.
  EXPECT_EQ(FormatRatio(Amount(Amount::Max().base_units() - 1), Amount::Max(), 6), "0.999999");
  EXPECT_EQ(FormatRatio(Amount(1), Amount::Max(), 6), "0.000000");
  EXPECT_EQ(FormatRatio(Amount::Max(), Amount(1), 2), std::string(kMaxText) + ".00");
}

TEST(ReservesAmount, ShownInDisplayUnitsWithBaseUnitsLabelled) {
  EXPECT_EQ(ShowAmount(Amount(250002499), 8, "BTC"), "2.50002499 BTC (250002499 base units)");
  EXPECT_EQ(ShowAmount(Amount(1), 18, "ETH"), "0.000000000000000001 ETH (1 base unit)");
  EXPECT_EQ(ShowAmount(Amount(0), 6, "USDC-ETH"), "0 USDC-ETH (0 base units)");
  EXPECT_EQ(ShowAmount(Amount::Max(), 0, "X"), std::string(kMaxText) + " X (" + kMaxText + " base units)");
  EXPECT_EQ(ShowAmount(Amount(5), base::kMaxDecimals, "Y"), "0.00000000000000000000000000000000000005 Y (5 base units)");
  // The spec allows up to 255 decimals; beyond what display units can show, base units only,
  // labelled as such (never a number that reads as whole units).
  EXPECT_EQ(ShowAmount(Amount(7), base::kMaxDecimals + 1, "Z"), "7 base units of Z");
  EXPECT_EQ(ShowAmount(Amount(1), 255, "Z"), "1 base unit of Z");
}

}  // namespace
}  // namespace ringfence::reserves

// custody-por/1 amount text: the spec's grammar ^(0|[1-9][0-9]{0,38})$ with value <= 2^128-1,
// read through base::ScanBaseUnits, and the spec-facing error wording on top of it.
#include "reserves/amount.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/amount.h"

namespace ringfence::reserves {
namespace {

constexpr const char* kMaxText = "340282366920938463463374607431768211455";  // 2^128 - 1

TEST(ReservesAmount, AcceptsTheSpecGrammarOnly) {
  EXPECT_EQ(*ParseAmount("0", "amount"), u128{0});
  EXPECT_EQ(*ParseAmount("7", "amount"), u128{7});
  EXPECT_EQ(*ParseAmount("18446744073709551616", "amount"), u128{1} << 64);
  EXPECT_EQ(*ParseAmount(kMaxText, "amount"), ~u128{0});
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
      {"\xd9\xa1", "balance \"\xd9\xa1\" has a character other than a decimal digit"},
      {"0x10", "balance \"0x10\" has a character other than a decimal digit"},
      {"05", "balance \"05\" has a leading zero"},
      {"00", "balance \"00\" has a leading zero"},
      {"340282366920938463463374607431768211456", "balance \"340282366920938463463374607431768211456\" is above 2^128-1"},
      {"999999999999999999999999999999999999999", "balance \"999999999999999999999999999999999999999\" is above 2^128-1"},
      {"1000000000000000000000000000000000000000", "balance \"1000000000000000000000000000000000000000\" is above 2^128-1"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<u128> r = ParseAmount(c.text, "balance");
    ASSERT_FALSE(r.ok()) << c.text;
    // The spec's one failure kind for amounts, overflow included.
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_EQ(r.status().message(), c.message);
  }
}

TEST(ReservesAmount, LongTextIsEchoedBounded) {
  absl::StatusOr<u128> r = ParseAmount(std::string(100000, '9'), "amount");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "amount \"" + std::string(60, '9') + "...\" is above 2^128-1");
}

// Every text the policy grammar accepts, and nothing else, is a reserves amount with the same
// value; FormatAmount prints it back exactly.
TEST(ReservesAmount, AgreesWithPolicyGrammarAndRoundTrips) {
  std::vector<std::string> texts = {"", "0", "01", "1", "+1", "-0", "1 ", "12.0", kMaxText,
                                    "340282366920938463463374607431768211456",
                                    std::string(39, '9'), std::string(40, '1')};
  for (int k = 0; k < 128; ++k) {
    const u128 v = u128{1} << k;
    for (u128 w : {v - 1, v, v + 1}) texts.push_back(base::Uint128ToString(w));
  }
  u128 p = 1;
  for (int e = 0; e <= 38; ++e, p *= 10) {
    for (u128 w : {p - 1, p, p + 1}) texts.push_back(base::Uint128ToString(w));
  }
  for (const std::string& text : texts) {
    absl::StatusOr<u128> mine = ParseAmount(text, "amount");
    const base::BaseUnitsScan theirs = base::ScanBaseUnits(text);
    ASSERT_EQ(mine.ok(), theirs.ok()) << text;
    if (!mine.ok()) continue;
    EXPECT_EQ(*mine, theirs.value) << text;
    EXPECT_EQ(FormatAmount(*mine), text);
  }
}

TEST(ReservesAmount, FormatUnitsKeepsEveryDigit) {
  EXPECT_EQ(FormatUnits(250002499, 8), "2.50002499");
  EXPECT_EQ(FormatUnits(1, 8), "0.00000001");
  EXPECT_EQ(FormatUnits(0, 2), "0.00");
  EXPECT_EQ(FormatUnits(~u128{0}, 18), "340282366920938463463.374607431768211455");
  EXPECT_EQ(FormatUnits(~u128{0}, 0), kMaxText);
}

}  // namespace
}  // namespace ringfence::reserves

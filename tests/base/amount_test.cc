#include "base/amount.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/text.h"

namespace ringfence::base {
namespace {

constexpr const char* kMaxText = "340282366920938463463374607431768211455";  // 2^128 - 1

// Storage and digests carry an amount as 16 bytes, most significant first.
TEST(Amount, BigEndianBytesAreExactAndReadBack) {
  const Uint128 value = (static_cast<Uint128>(0x0102030405060708ULL) << 64) | 0x090a0b0c0d0e0f10ULL;
  const std::array<uint8_t, 16> bytes = Amount(value).ToBigEndian();
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(bytes[i], i + 1) << "byte " << i;
  EXPECT_EQ(Amount::FromBigEndian(bytes), Amount(value));
  const std::array<uint8_t, 16> zero{};
  EXPECT_EQ(Amount::Zero().ToBigEndian(), zero);
  std::array<uint8_t, 16> one{};
  one[15] = 1;
  EXPECT_EQ(Amount(1).ToBigEndian(), one);
  std::array<uint8_t, 16> high_bit{};
  high_bit[0] = 0x80;
  EXPECT_EQ(Amount::FromBigEndian(high_bit), Amount(static_cast<Uint128>(1) << 127));
  for (Amount a : {Amount::Zero(), Amount(1), Amount(255), Amount(256), Amount(UINT64_MAX),
                   Amount(static_cast<Uint128>(UINT64_MAX) + 1), Amount::Max()}) {
    EXPECT_EQ(Amount::FromBigEndian(a.ToBigEndian()), a) << a.ToBaseUnitString();
  }
  std::array<uint8_t, 16> all{};
  all.fill(0xff);
  EXPECT_EQ(Amount::Max().ToBigEndian(), all);
}

TEST(Amount, ParsesDisplayUnitsExactly) {
  EXPECT_EQ(*ParseDecimalAmount("0.5", 8), Amount(50000000));
  EXPECT_EQ(*ParseDecimalAmount("1", 8), Amount(100000000));
  EXPECT_EQ(*ParseDecimalAmount("0.00000001", 8), Amount(1));
  EXPECT_EQ(*ParseDecimalAmount("12.34", 2), Amount(1234));
  EXPECT_EQ(*ParseDecimalAmount("007.50", 2), Amount(750));
  EXPECT_EQ(*ParseDecimalAmount("0", 0), Amount(0));
  EXPECT_EQ(*ParseDecimalAmount("1000", 18), Amount(Uint128{1000} * PowerOfTen(18)));
  EXPECT_EQ(*ParseDecimalAmount(kMaxText, 0), Amount::Max());
  EXPECT_EQ(*ParseDecimalAmount("3.40282366920938463463374607431768211455", 38), Amount::Max());
}

TEST(Amount, RejectsMalformedDisplayUnits) {
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1e8", "1E8", ".5", "5.", "1.2.3", "0x10", "1,5", "١",
                          "--1", "1\n", "NaN", "inf"}) {
    absl::StatusOr<Amount> a = ParseDecimalAmount(bad, 8);
    EXPECT_FALSE(a.ok()) << "accepted \"" << bad << "\"";
    if (!a.ok()) {
      EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    }
  }
}

TEST(Amount, NeverRoundsExtraDecimals) {
  absl::StatusOr<Amount> a = ParseDecimalAmount("0.123456789", 8);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("decimal places"), std::string::npos);
  EXPECT_FALSE(ParseDecimalAmount("1.0", 0).ok());
  EXPECT_FALSE(ParseDecimalAmount("0.100000000", 8).ok()) << "trailing zeros still count";
  EXPECT_FALSE(ParseDecimalAmount("1", -1).ok());
  EXPECT_FALSE(ParseDecimalAmount("1", 39).ok());
}

TEST(Amount, RejectsOverflow) {
  absl::StatusOr<Amount> a = ParseDecimalAmount("340282366920938463463374607431768211456", 0);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_FALSE(ParseDecimalAmount("3.40282366920938463463374607431768211456", 38).ok());
  EXPECT_FALSE(ParseDecimalAmount("4", 38).ok());
  EXPECT_FALSE(ParseDecimalAmount(std::string(200, '9'), 0).ok());
  EXPECT_FALSE(ParseBaseUnits("340282366920938463463374607431768211456").ok());
}

TEST(Amount, BaseUnitsAreCanonical) {
  EXPECT_EQ(*ParseBaseUnits("0"), Amount(0));
  EXPECT_EQ(*ParseBaseUnits(kMaxText), Amount::Max());
  for (const char* bad : {"", "00", "01", "-1", "+1", "1.0", " 1", "1e3"}) {
    EXPECT_FALSE(ParseBaseUnits(bad).ok()) << bad;
  }
}

// The grammar every module's amount text goes through (signer::tx and reserves wrap it), so
// each rule and each boundary is pinned here, including which rule is reported first.
TEST(Amount, ScanBaseUnitsReportsTheFirstRuleBroken) {
  struct Case {
    std::string text;
    BaseUnitsError error;
    size_t position;
  };
  const Case cases[] = {
      {"", BaseUnitsError::kEmpty, 0},
      {"-1", BaseUnitsError::kNonDigit, 0},
      {"-0", BaseUnitsError::kNonDigit, 0},
      {"+1", BaseUnitsError::kNonDigit, 0},
      {" 1", BaseUnitsError::kNonDigit, 0},
      {"1 ", BaseUnitsError::kNonDigit, 1},
      {"12\n", BaseUnitsError::kNonDigit, 2},
      {"1.0", BaseUnitsError::kNonDigit, 1},
      {"1e3", BaseUnitsError::kNonDigit, 1},
      {"0x10", BaseUnitsError::kNonDigit, 1},  // a non-digit outranks the leading zero
      {"\xd9\xa1", BaseUnitsError::kNonDigit, 0},          // ARABIC-INDIC DIGIT ONE
      {"1\xef\xbc\x91", BaseUnitsError::kNonDigit, 1},     // FULLWIDTH DIGIT ONE
      {std::string("1\0", 2), BaseUnitsError::kNonDigit, 1},
      {"\xff", BaseUnitsError::kNonDigit, 0},
      {std::string(200, '9') + "x", BaseUnitsError::kNonDigit, 200},
      {"00", BaseUnitsError::kLeadingZero, 0},
      {"01", BaseUnitsError::kLeadingZero, 0},
      {std::string(40, '0'), BaseUnitsError::kLeadingZero, 0},  // outranks the length
      {Cat("0", kMaxText), BaseUnitsError::kLeadingZero, 0},
      {Cat("1", std::string(39, '0')), BaseUnitsError::kTooManyDigits, 0},
      {std::string(200, '9'), BaseUnitsError::kTooManyDigits, 0},
      {"340282366920938463463374607431768211456", BaseUnitsError::kAboveMax, 0},  // 2^128
      {"340282366920938463463374607431768211460", BaseUnitsError::kAboveMax, 0},
      {"400000000000000000000000000000000000000", BaseUnitsError::kAboveMax, 0},
      {std::string(39, '9'), BaseUnitsError::kAboveMax, 0},
  };
  for (const Case& c : cases) {
    const BaseUnitsScan scan = ScanBaseUnits(c.text);
    EXPECT_FALSE(scan.ok()) << c.text;
    EXPECT_EQ(scan.error, c.error) << c.text;
    if (c.error == BaseUnitsError::kNonDigit) {
      EXPECT_EQ(scan.position, c.position) << c.text;
    }
    EXPECT_EQ(scan.value, Uint128{0}) << c.text;
  }
}

// Independent of Uint128ToString's chunked algorithm: one 128-bit division per digit.
std::string DigitByDigit(Uint128 v) {
  std::string out;
  do {
    out.insert(out.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v != 0);
  return out;
}

// Values at every digit count and at the 64-bit and 19-digit chunk boundaries, where a
// chunked reader or printer would go wrong.
std::vector<Uint128> BoundaryValues() {
  std::vector<Uint128> out = {0, 1, 9, 10, Uint128{UINT64_MAX}, Uint128{UINT64_MAX} + 1, ~Uint128{0},
                              ~Uint128{0} - 1, ~Uint128{0} / 10, ~Uint128{0} / 10 + 1};
  for (int e = 0; e <= kMaxDecimals; ++e) {
    const Uint128 p = PowerOfTen(e);
    out.insert(out.end(), {p - 1, p, p + 1, p * 9 + (p - 1)});
  }
  for (int k = 0; k < 128; ++k) {
    const Uint128 p = Uint128{1} << k;
    out.insert(out.end(), {p - 1, p, p + 1});
  }
  return out;
}

TEST(Amount, BaseUnitsRoundTripAtEveryBoundary) {
  for (Uint128 v : BoundaryValues()) {
    const std::string text = DigitByDigit(v);
    EXPECT_EQ(Uint128ToString(v), text);
    EXPECT_EQ(Amount(v).ToBaseUnitString(), text);
    const BaseUnitsScan scan = ScanBaseUnits(text);
    ASSERT_TRUE(scan.ok()) << text;
    EXPECT_EQ(scan.value, v) << text;
    EXPECT_EQ(*ParseBaseUnits(text), Amount(v)) << text;
  }
}

TEST(Amount, ParseBaseUnitsNamesTheRuleAndCode) {
  struct Case {
    std::string text;
    absl::StatusCode code;
    const char* says;
  };
  const Case cases[] = {
      {"", absl::StatusCode::kInvalidArgument, "empty"},
      {"-5", absl::StatusCode::kInvalidArgument, "plain decimal digits"},
      {"007", absl::StatusCode::kInvalidArgument, "leading zero"},
      {"340282366920938463463374607431768211456", absl::StatusCode::kOutOfRange, "exceeds 2^128-1"},
      {"1" + std::string(60, '0'), absl::StatusCode::kOutOfRange, "exceeds 2^128-1"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Amount> a = ParseBaseUnits(c.text);
    ASSERT_FALSE(a.ok()) << c.text;
    EXPECT_EQ(a.status().code(), c.code) << c.text;
    EXPECT_NE(a.status().message().find(c.says), std::string::npos) << a.status();
  }
  // Outside text is quoted bounded and printable.
  absl::StatusOr<Amount> long_bad = ParseBaseUnits(std::string(5000, '7') + "\n");
  ASSERT_FALSE(long_bad.ok());
  EXPECT_LT(long_bad.status().message().size(), 200u);
  EXPECT_EQ(long_bad.status().message().find('\n'), std::string::npos);
}

TEST(Amount, FormatsShortestExactForm) {
  EXPECT_EQ(FormatDecimalAmount(Amount(50000000), 8), "0.5");
  EXPECT_EQ(FormatDecimalAmount(Amount(100000000), 8), "1");
  EXPECT_EQ(FormatDecimalAmount(Amount(1), 8), "0.00000001");
  EXPECT_EQ(FormatDecimalAmount(Amount(0), 8), "0");
  EXPECT_EQ(FormatDecimalAmount(Amount(1234), 0), "1234");
  EXPECT_EQ(FormatDecimalAmount(Amount::Max(), 38), "3.40282366920938463463374607431768211455");
  EXPECT_EQ(Amount::Max().ToBaseUnitString(), kMaxText);
}

TEST(Amount, LabelsBaseUnitsWhenShownToAPerson) {
  EXPECT_EQ(FormatLabelledAmount(Amount(150000000), 8, "BTC"), "1.5 BTC (150000000 base units)");
  EXPECT_EQ(FormatLabelledAmount(Amount(2000), 8, "BTC"), "0.00002 BTC (2000 base units)");
  EXPECT_EQ(FormatLabelledAmount(Amount(1), 18, "ETH"), "0.000000000000000001 ETH (1 base unit)");
  EXPECT_EQ(FormatLabelledAmount(Amount(0), 6, "USDC-ETH"), "0 USDC-ETH (0 base units)");
  EXPECT_EQ(FormatLabelledAmount(Amount::Max(), 0, "X"), std::string(kMaxText) + " X (" + kMaxText + " base units)");
}

TEST(Amount, CheckedArithmetic) {
  EXPECT_EQ(*Amount(2).CheckedAdd(Amount(3)), Amount(5));
  EXPECT_FALSE(Amount::Max().CheckedAdd(Amount(1)).has_value());
  EXPECT_EQ(*Amount::Max().CheckedAdd(Amount(0)), Amount::Max());
  EXPECT_EQ(*Amount(5).CheckedSub(Amount(5)), Amount(0));
  EXPECT_FALSE(Amount(5).CheckedSub(Amount(6)).has_value());
}

TEST(Amount, MulRatioRoundsAsAsked) {
  bool rounded = false;
  EXPECT_EQ(*Amount(10).CheckedMulRatio(1, 3, Rounding::kDown, &rounded), Amount(3));
  EXPECT_TRUE(rounded);
  EXPECT_EQ(*Amount(10).CheckedMulRatio(1, 3, Rounding::kUp), Amount(4));
  EXPECT_EQ(*Amount(9).CheckedMulRatio(1, 3, Rounding::kUp, &rounded), Amount(3));
  EXPECT_FALSE(rounded);
  EXPECT_EQ(*Amount::Max().CheckedMulRatio(1, 1, Rounding::kUp), Amount::Max());
  EXPECT_FALSE(Amount::Max().CheckedMulRatio(2, 1, Rounding::kDown).has_value());
  EXPECT_FALSE(Amount(1).CheckedMulRatio(1, 0, Rounding::kDown).has_value());
  // Max * (2^64-1)/(2^64-1) exercises the split without overflowing.
  EXPECT_EQ(*Amount::Max().CheckedMulRatio(~uint64_t{0}, ~uint64_t{0}, Rounding::kDown), Amount::Max());
  EXPECT_FALSE(Amount::Max().CheckedMulRatio(1, 2, Rounding::kUp, &rounded) == Amount::Max());
}

}  // namespace
}  // namespace ringfence::base

#include "base/amount.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "base/check.h"
#include "base/text.h"

namespace ringfence::base {
namespace {

constexpr Uint128 kMax128 = ~Uint128{0};
constexpr std::string_view kMax128Text = "340282366920938463463374607431768211455";
constexpr size_t kMaxBaseUnitDigits = kMax128Text.size();
constexpr uint64_t kTenPow19 = 10'000'000'000'000'000'000u;

// Value of 1 to 19 ASCII digits; cannot overflow since 10^19 - 1 < 2^64.
uint64_t ParseDigits64(std::string_view digits) {
  uint64_t v = 0;
  for (char c : digits) v = v * 10 + static_cast<uint64_t>(c - '0');
  return v;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Appends one decimal digit to `value`, failing on overflow.
bool PushDigit(Uint128* value, char digit) {
  const Uint128 d = static_cast<Uint128>(digit - '0');
  if (*value > (kMax128 - d) / 10) return false;
  *value = *value * 10 + d;
  return true;
}

}  // namespace

std::optional<Amount> Amount::CheckedAdd(Amount other) const {
  if (base_units_ > kMax128 - other.base_units_) return std::nullopt;
  return Amount(base_units_ + other.base_units_);
}

std::optional<Amount> Amount::CheckedSub(Amount other) const {
  if (other.base_units_ > base_units_) return std::nullopt;
  return Amount(base_units_ - other.base_units_);
}

std::optional<Amount> Amount::CheckedMulRatio(uint64_t numerator, uint64_t denominator,
                                              Rounding rounding) const {
  bool rounded = false;
  return CheckedMulRatio(numerator, denominator, rounding, &rounded);
}

std::optional<Amount> Amount::CheckedMulRatio(uint64_t numerator, uint64_t denominator,
                                              Rounding rounding, bool* rounded) const {
  if (denominator == 0) return std::nullopt;
  const Uint128 q = base_units_ / denominator;
  const Uint128 r = base_units_ % denominator;
  // r < den < 2^64 and num < 2^64, so r * num < 2^128.
  const Uint128 rn = r * numerator;
  const Uint128 part = rn / denominator;
  const bool inexact = (rn % denominator) != 0;
  *rounded = inexact;
  if (numerator != 0 && q > kMax128 / numerator) return std::nullopt;
  Uint128 result = q * numerator;
  if (result > kMax128 - part) return std::nullopt;
  result += part;
  if (inexact && rounding == Rounding::kUp) {
    if (result == kMax128) return std::nullopt;
    ++result;
  }
  return Amount(result);
}

Amount AmountOrDie(std::optional<Amount> amount) {
  RF_CHECK(amount.has_value(), "checked amount arithmetic that was shown safe overflowed");
  return *amount;
}

std::string Amount::ToBaseUnitString() const { return Uint128ToString(base_units_); }

Uint128 PowerOfTen(int exponent) {
  Uint128 v = 1;
  for (int i = 0; i < exponent; ++i) v *= 10;
  return v;
}

std::string Uint128ToString(Uint128 value) {
  // Peels off 19-digit chunks with one 128-bit division each, then prints 64-bit words, rather
  // than dividing the 128-bit value once per digit (each such division is a library call).
  char buffer[kMaxBaseUnitDigits];
  char* const end = buffer + sizeof(buffer);
  char* p = end;
  while (value > UINT64_MAX) {
    uint64_t chunk = static_cast<uint64_t>(value % kTenPow19);
    value /= kTenPow19;
    for (int i = 0; i < 19; ++i) {
      *--p = static_cast<char>('0' + chunk % 10);
      chunk /= 10;
    }
  }
  uint64_t rest = static_cast<uint64_t>(value);
  do {
    *--p = static_cast<char>('0' + rest % 10);
    rest /= 10;
  } while (rest != 0);
  return std::string(p, end);
}

BaseUnitsScan ScanBaseUnits(std::string_view text) {
  const size_t n = text.size();
  if (n == 0) return {.error = BaseUnitsError::kEmpty};
  for (size_t i = 0; i < n; ++i) {
    // Unsigned wrap-around makes every byte outside '0'..'9' (non-ASCII included) compare > 9.
    if (static_cast<unsigned char>(text[i] - '0') > 9) {
      return {.error = BaseUnitsError::kNonDigit, .position = i};
    }
  }
  if (n > 1 && text[0] == '0') return {.error = BaseUnitsError::kLeadingZero};
  if (n > kMaxBaseUnitDigits) return {.error = BaseUnitsError::kTooManyDigits};
  // Same length and no leading zeros, so comparing the text compares the values.
  if (n == kMaxBaseUnitDigits && text > kMax128Text) return {.error = BaseUnitsError::kAboveMax};
  // From here the value fits, so no step needs an overflow check: a first chunk of 1 to 19
  // digits, then whole 19-digit chunks (at most two), each read in 64-bit arithmetic.
  size_t chunk = n % 19 == 0 ? 19 : n % 19;
  Uint128 value = ParseDigits64(text.substr(0, chunk));
  for (size_t i = chunk; i < n; i += 19) value = value * kTenPow19 + ParseDigits64(text.substr(i, 19));
  return {.value = value};
}

absl::StatusOr<Amount> ParseBaseUnits(std::string_view text) {
  const BaseUnitsScan scan = ScanBaseUnits(text);
  switch (scan.error) {
    case BaseUnitsError::kNone:
      return Amount(scan.value);
    case BaseUnitsError::kEmpty:
      return absl::InvalidArgumentError("amount is empty");
    case BaseUnitsError::kNonDigit:
      return absl::InvalidArgumentError(
          Cat("amount ", Clip(text), " must be base units in plain decimal digits "
                       "(no sign, point, exponent or whitespace)"));
    case BaseUnitsError::kLeadingZero:
      return absl::InvalidArgumentError(
          Cat("amount ", Clip(text), " has a leading zero (not canonical)"));
    case BaseUnitsError::kTooManyDigits:
    case BaseUnitsError::kAboveMax:
      break;
  }
  return absl::OutOfRangeError(Cat("amount ", Clip(text), " exceeds 2^128-1 base units"));
}

absl::StatusOr<Amount> ParseDecimalAmount(std::string_view text, int decimals) {
  if (decimals < 0 || decimals > kMaxDecimals) {
    return absl::InvalidArgumentError(
        Cat("decimals ", decimals, " outside 0..", kMaxDecimals));
  }
  if (text.empty()) return absl::InvalidArgumentError("amount is empty");
  const size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  for (char c : text) {
    if (!IsDigit(c) && c != '.') {
      return absl::InvalidArgumentError(
          Cat("amount ", Clip(text), " may contain only digits and one '.' "
                       "(no sign, exponent or whitespace)"));
    }
  }
  if (dot != std::string_view::npos) {
    if (frac.find('.') != std::string_view::npos) {
      return absl::InvalidArgumentError(Cat("amount ", Clip(text), " has more than one '.'"));
    }
    if (whole.empty() || frac.empty()) {
      return absl::InvalidArgumentError(
          Cat("amount ", Clip(text), " needs digits on both sides of '.'"));
    }
  }
  if (frac.size() > static_cast<size_t>(decimals)) {
    return absl::InvalidArgumentError(
        Cat("amount ", Clip(text), " has ", frac.size(),
                     " decimal places but the asset has ", decimals, " (never rounded)"));
  }
  Uint128 value = 0;
  bool ok = true;
  for (char c : whole) ok = ok && PushDigit(&value, c);
  for (char c : frac) ok = ok && PushDigit(&value, c);
  for (size_t i = frac.size(); ok && i < static_cast<size_t>(decimals); ++i) ok = PushDigit(&value, '0');
  if (!ok) {
    return absl::OutOfRangeError(
        Cat("amount ", Clip(text), " exceeds 2^128-1 base units"));
  }
  return Amount(value);
}

std::string FormatDecimalAmount(Amount amount, int decimals) {
  decimals = std::clamp(decimals, 0, kMaxDecimals);
  const Uint128 scale = PowerOfTen(decimals);
  std::string out = Uint128ToString(amount.base_units() / scale);
  if (decimals == 0) return out;
  std::string frac = Uint128ToString(amount.base_units() % scale);
  frac.insert(0, static_cast<size_t>(decimals) - frac.size(), '0');
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  if (!frac.empty()) out += "." + frac;
  return out;
}

std::string FormatLabelledAmount(Amount amount, int decimals, std::string_view unit) {
  return Cat(FormatDecimalAmount(amount, decimals), " ", unit, " (", amount.ToBaseUnitString(),
             amount == Amount(1) ? " base unit)" : " base units)");
}

}  // namespace ringfence::base

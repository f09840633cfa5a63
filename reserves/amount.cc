#include "reserves/amount.h"

#include "base/amount.h"
#include "reserves/status_macros.h"


namespace ringfence::reserves {

absl::StatusOr<u128> ParseAmount(std::string_view text, std::string_view field) {
  const base::BaseUnitsScan scan = base::ScanBaseUnits(text);
  auto fail = [&](std::string_view rule) {
    return absl::InvalidArgumentError(Cat(field, " \"", text.substr(0, 60),
                                                   text.size() > 60 ? "..." : "", "\" ", rule));
  };
  switch (scan.error) {
    case base::BaseUnitsError::kNone:
      return scan.value;
    case base::BaseUnitsError::kEmpty:
      break;
    case base::BaseUnitsError::kNonDigit: {
      // The spec's error names tell a ledger's author what went wrong (a debit row, a display
      // amount), so the first non-digit is named rather than only rejected.
      const char c = text[scan.position];
      if (scan.position == 0 && c == '-') return fail("is negative (a debit balance is not a liability)");
      if (scan.position == 0 && c == '+') return fail("has a leading '+'");
      if (c == '.') return fail("is fractional (amounts are integers in base units)");
      if (c == 'e' || c == 'E') return fail("uses an exponent");
      return fail("has a character other than a decimal digit");
    }
    case base::BaseUnitsError::kLeadingZero:
      return fail("has a leading zero");
    case base::BaseUnitsError::kTooManyDigits:
    case base::BaseUnitsError::kAboveMax:
      return fail("is above 2^128-1");
  }
  return fail("is empty");
}

std::string FormatAmount(u128 v) { return base::Uint128ToString(v); }

std::string FormatUnits(u128 v, int decimals) {
  std::string digits = FormatAmount(v);
  if (decimals <= 0) return digits;
  size_t d = static_cast<size_t>(decimals);
  if (digits.size() <= d) digits.insert(0, d + 1 - digits.size(), '0');
  return digits.substr(0, digits.size() - d) + "." + digits.substr(digits.size() - d);
}

std::string FormatRatio(u128 num, u128 den, int digits) {
  std::string out = FormatAmount(num / den);
  u128 rem = num % den;
  if (digits > 0) out.push_back('.');
  for (int i = 0; i < digits; ++i) {
    // 10*rem may not fit 128 bits, so add rem ten times modulo den, counting the wraps:
    // the count is the next digit and the remainder stays below den.
    u128 acc = 0;
    int digit = 0;
    for (int k = 0; k < 10; ++k) {
      if (acc >= den - rem) {
        acc -= den - rem;
        ++digit;
      } else {
        acc += rem;
      }
    }
    out.push_back(static_cast<char>('0' + digit));
    rem = acc;
  }
  return out;
}

}  // namespace ringfence::reserves

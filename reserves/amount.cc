#include "reserves/amount.h"

#include "base/text.h"

namespace ringfence::reserves {

absl::StatusOr<base::Amount> ParseAmount(std::string_view text, std::string_view field) {
  const base::BaseUnitsScan scan = base::ScanBaseUnits(text);
  auto fail = [&](std::string_view rule) {
    return absl::InvalidArgumentError(base::Cat(field, " ", base::Clip(text), " ", rule));
  };
  switch (scan.error) {
    case base::BaseUnitsError::kNone:
      return base::Amount(scan.value);
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

std::string FormatRatio(base::Amount num, base::Amount den, int digits) {
  const base::Uint128 d = den.base_units();
  std::string out = base::Uint128ToString(num.base_units() / d);
  base::Uint128 rem = num.base_units() % d;
  if (digits > 0) out.push_back('.');
  for (int i = 0; i < digits; ++i) {
    // 10*rem may not fit 128 bits, so add rem ten times modulo d, counting the wraps:
    // the count is the next digit and the remainder stays below d.
    base::Uint128 acc = 0;
    int digit = 0;
    for (int k = 0; k < 10; ++k) {
      if (acc >= d - rem) {
        acc -= d - rem;
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

std::string ShowAmount(base::Amount amount, int decimals, std::string_view asset_id) {
  if (decimals >= 0 && decimals <= base::kMaxDecimals) {
    return base::FormatLabelledAmount(amount, decimals, asset_id);
  }
  return base::Cat(amount.ToBaseUnitString(), amount == base::Amount(1) ? " base unit of " : " base units of ",
                   asset_id);
}

}  // namespace ringfence::reserves

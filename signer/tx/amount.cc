#include "signer/tx/amount.h"

#include "base/amount.h"
#include "signer/tx/text.h"

namespace ringfence::signer::tx {

absl::StatusOr<Amount> ParseAmount(std::string_view text, std::string_view field) {
  const base::BaseUnitsScan scan = base::ScanBaseUnits(text);
  switch (scan.error) {
    case base::BaseUnitsError::kNone:
      return scan.value;
    case base::BaseUnitsError::kEmpty:
      return absl::InvalidArgumentError(Cat(field, ": amount is empty"));
    case base::BaseUnitsError::kNonDigit:
      return absl::InvalidArgumentError(Cat(field, ": amount has a non-digit at position ", scan.position,
                                            " (only decimal digits allowed)"));
    case base::BaseUnitsError::kLeadingZero:
      // All digits by now, so safe to echo; bounded because the text may be long.
      return absl::InvalidArgumentError(Cat(field, ": amount \"", text.substr(0, 48),
                                            text.size() > 48 ? "...\"" : "\"",
                                            " has a leading zero (not canonical)"));
    case base::BaseUnitsError::kTooManyDigits:
      return absl::InvalidArgumentError(
          Cat(field, ": amount has ", text.size(), " digits; at most 39 fit 128 bits"));
    case base::BaseUnitsError::kAboveMax:
      break;
  }
  return absl::InvalidArgumentError(Cat(field, ": amount exceeds 2^128 - 1"));
}

std::string FormatAmount(Amount value) { return base::Uint128ToString(value); }

std::array<uint8_t, 16> AmountToBigEndian(Amount value) {
  std::array<uint8_t, 16> out{};
  for (int i = 15; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(value & 0xff);
    value >>= 8;
  }
  return out;
}

std::optional<Amount> CheckedAdd(Amount a, Amount b) {
  Amount r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

std::optional<Amount> CheckedSub(Amount a, Amount b) {
  if (b > a) return std::nullopt;
  return a - b;
}

std::optional<Amount> CheckedMul(Amount a, Amount b) {
  Amount r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

}  // namespace ringfence::signer::tx

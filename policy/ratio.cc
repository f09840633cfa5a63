#include "policy/ratio.h"

#include "absl/status/status.h"
#include "policy/text.h"

namespace ringfence::policy {

absl::StatusOr<Ratio> Ratio::FromPpm(uint64_t ppm) {
  if (ppm > kPpmPerUnit) {
    return absl::InvalidArgumentError(internal::Cat("ratio ", ppm, " ppm is outside 0..1"));
  }
  return Ratio(static_cast<uint32_t>(ppm));
}

absl::StatusOr<Ratio> Ratio::Parse(std::string_view text) {
  if (text.size() > 32) return absl::InvalidArgumentError("ratio text is too long");
  // A ratio is a decimal amount with six decimals, checked against 1.
  absl::StatusOr<base::Amount> ppm = base::ParseDecimalAmount(text, 6);
  if (!ppm.ok()) {
    return absl::InvalidArgumentError(internal::Cat(
        "ratio must be a decimal in 0..1 with at most 6 decimal places: ", ppm.status().message()));
  }
  if (ppm->base_units() > kPpmPerUnit) {
    return absl::InvalidArgumentError(internal::Cat("ratio \"", text, "\" is outside 0..1"));
  }
  return Ratio(static_cast<uint32_t>(ppm->base_units()));
}

base::Amount Ratio::Apply(base::Amount amount, base::Rounding rounding, bool* rounded) const {
  bool inexact = false;
  // ppm <= 10^6 = denominator, so the product never exceeds `amount` and cannot overflow.
  std::optional<base::Amount> out = amount.CheckedMulRatio(ppm_, kPpmPerUnit, rounding, &inexact);
  if (rounded != nullptr) *rounded = inexact;
  return base::AmountOrDie(out);
}

std::string Ratio::ToString() const { return base::FormatDecimalAmount(base::Amount(ppm_), 6); }

}  // namespace ringfence::policy

// Ratio: an exact fraction between 0 and 1 in parts per million (0.02 = 20000 ppm). Policy
// shares (hot cap, target, cover share of cold) are written with at most six decimal places,
// so ppm holds every legal value exactly and no floating point is ever involved.
//
// Immutable value type; safe to share between threads.
#ifndef RINGFENCE_POLICY_RATIO_H_
#define RINGFENCE_POLICY_RATIO_H_

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/amount.h"

namespace ringfence::policy {

inline constexpr uint32_t kPpmPerUnit = 1'000'000;

class Ratio {
 public:
  constexpr Ratio() = default;

  // Returns InvalidArgument if ppm > 1,000,000.
  static absl::StatusOr<Ratio> FromPpm(uint64_t ppm);
  // Parses "0.02", "1", "0", "0.5": digits with at most one '.' and at most six decimal
  // places, value in 0..1. Returns InvalidArgument naming the rule otherwise (sign, exponent,
  // whitespace, more than six decimals, above 1).
  static absl::StatusOr<Ratio> Parse(std::string_view text);

  constexpr uint32_t ppm() const { return ppm_; }

  // amount * ratio, rounded as asked. Cannot overflow (ratio <= 1). `rounded`, if given,
  // reports whether the exact product was not a whole number of base units.
  base::Amount Apply(base::Amount amount, base::Rounding rounding, bool* rounded = nullptr) const;

  // "0.02" style text, shortest exact form.
  std::string ToString() const;

  friend constexpr auto operator<=>(const Ratio&, const Ratio&) = default;
  friend constexpr bool operator==(const Ratio&, const Ratio&) = default;

 private:
  constexpr explicit Ratio(uint32_t ppm) : ppm_(ppm) {}
  uint32_t ppm_ = 0;
};

}  // namespace ringfence::policy

#endif  // RINGFENCE_POLICY_RATIO_H_

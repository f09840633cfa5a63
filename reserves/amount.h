// Amounts of custody-por/1: unsigned 128-bit counts of an asset's smallest unit, written as
// decimal strings matching ^(0|[1-9][0-9]{0,38})$ with value <= 2^128-1. Parsing, printing,
// checked addition and the exact (integer-only) coverage ratio.
//
// Pure functions; thread-safe.
#ifndef RINGFENCE_RESERVES_AMOUNT_H_
#define RINGFENCE_RESERVES_AMOUNT_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "reserves/hash.h"

namespace ringfence::reserves {

// Parses a canonical amount. The grammar is base::ScanBaseUnits (the spec's grammar exactly);
// this adds the spec-facing wording. On failure returns InvalidArgument (overflow included)
// naming `field` and the rule broken (negative, fractional, exponent, leading zero or '+',
// above 2^128-1, empty).
absl::StatusOr<u128> ParseAmount(std::string_view text, std::string_view field);

// Canonical decimal text of `v` (base::Uint128ToString).
std::string FormatAmount(u128 v);

// `v` shown with `decimals` fractional digits (e.g. 250002499 with 8 -> "2.50002499").
std::string FormatUnits(u128 v, int decimals);

// a + b, or nullopt on overflow past 2^128-1.
inline std::optional<u128> CheckedAdd(u128 a, u128 b) {
  u128 s = a + b;
  if (s < a) return std::nullopt;
  return s;
}

// num/den truncated to `digits` decimals, computed with integers only ("1.250000").
// REQUIRES: den != 0.
std::string FormatRatio(u128 num, u128 den, int digits);

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_AMOUNT_H_

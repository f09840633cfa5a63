// What custody-por/1 adds to base::Amount: the spec-facing wording of the amount grammar
// (which names the field and tells a ledger's author what is wrong with a row), the exact
// coverage ratio an auditor reads, and how the reserves tool shows an amount to a person.
//
// The grammar itself (^(0|[1-9][0-9]{0,38})$, at most 2^128-1), checked arithmetic and the
// decimal forms are base/amount.h; nothing here repeats them. Pure functions; thread-safe.
#ifndef RINGFENCE_RESERVES_AMOUNT_H_
#define RINGFENCE_RESERVES_AMOUNT_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/amount.h"

namespace ringfence::reserves {

// Parses a canonical amount through base::ScanBaseUnits. On failure returns InvalidArgument
// (overflow included: the spec has one failure kind for amounts) naming `field`, a clipped
// quote of `text` and the rule broken (negative, fractional, exponent, leading zero or '+',
// above 2^128-1, empty).
absl::StatusOr<base::Amount> ParseAmount(std::string_view text, std::string_view field);

// num/den truncated to `digits` decimals, computed with integers only ("1.250000").
// REQUIRES: den is not zero.
std::string FormatRatio(base::Amount num, base::Amount den, int digits);

// An amount of `asset_id` as a person reads it: base::FormatLabelledAmount ("1.5 BTC
// (150000000 base units)"). The spec allows up to 255 decimals, more than any 128-bit amount
// can show in display units (base::kMaxDecimals), so above that only the base units are
// shown, labelled as such ("7 base units of X").
std::string ShowAmount(base::Amount amount, int decimals, std::string_view asset_id);

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_AMOUNT_H_

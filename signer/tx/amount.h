// Amounts for transaction checks: unsigned 128-bit counts of base units (satoshi, wei, token
// base units), their canonical decimal text form, and checked arithmetic.
//
// Pure functions; thread-safe. Nothing here uses floating point.
#ifndef RINGFENCE_SIGNER_TX_AMOUNT_H_
#define RINGFENCE_SIGNER_TX_AMOUNT_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ringfence::signer::tx {

using Amount = unsigned __int128;

// Parses canonical decimal text: 1 to 39 digits, no sign, no spaces, no leading zero unless the
// text is "0", value at most 2^128 - 1. The grammar is base::ScanBaseUnits, so signerd, the
// quorum tool and custodyd's policy read the same amount text the same way. On failure returns
// InvalidArgument (overflow included) naming `field` and the first rule broken.
absl::StatusOr<Amount> ParseAmount(std::string_view text, std::string_view field);

// Canonical decimal text of `value` (base::Uint128ToString).
std::string FormatAmount(Amount value);

// 16 bytes, most significant first.
std::array<uint8_t, 16> AmountToBigEndian(Amount value);

// Checked arithmetic: nullopt on overflow (or, for Sub, when b > a).
std::optional<Amount> CheckedAdd(Amount a, Amount b);
std::optional<Amount> CheckedSub(Amount a, Amount b);
std::optional<Amount> CheckedMul(Amount a, Amount b);

}  // namespace ringfence::signer::tx

#endif  // RINGFENCE_SIGNER_TX_AMOUNT_H_

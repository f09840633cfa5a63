// Amount: a count of an asset's base units (satoshi, wei, ...) as an unsigned 128-bit
// integer, with checked arithmetic only, plus exact conversion from and to decimal text.
//
// There is deliberately no operator+ or operator-: every sum and difference goes through
// CheckedAdd / CheckedSub, which return std::nullopt instead of wrapping. Scaling by a ratio
// goes through MulRatio with an explicit rounding direction. An Amount carries no asset; the
// caller keeps amounts of different assets apart (the policy module always keys them by
// AssetId; custodyd's ledger keys them by asset).
//
// Values are immutable and trivially copyable; safe to share between threads.
#ifndef RINGFENCE_BASE_AMOUNT_H_
#define RINGFENCE_BASE_AMOUNT_H_

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ringfence::base {

using Uint128 = unsigned __int128;

// The largest number of decimals an asset may declare: 10^38 < 2^128 - 1 < 10^39, so one
// whole unit of a 38-decimal asset still fits.
inline constexpr int kMaxDecimals = 38;

// Which way a division that does not come out exact is rounded. Each call site names it,
// and the direction is always the conservative one for that site (docs/policy.md).
enum class Rounding { kDown, kUp };

class Amount {
 public:
  constexpr Amount() = default;
  constexpr explicit Amount(Uint128 base_units) : base_units_(base_units) {}

  static constexpr Amount Zero() { return Amount(0); }
  static constexpr Amount Max() { return Amount(~Uint128{0}); }

  constexpr Uint128 base_units() const { return base_units_; }
  constexpr bool is_zero() const { return base_units_ == 0; }

  // Returns std::nullopt if the sum exceeds 2^128 - 1.
  std::optional<Amount> CheckedAdd(Amount other) const;
  // Returns std::nullopt if `other` is larger than this amount.
  std::optional<Amount> CheckedSub(Amount other) const;
  // this * numerator / denominator, rounded as asked. Returns std::nullopt if the result
  // exceeds 2^128 - 1 or denominator is zero. Never overflows internally: the product is
  // split as (q * den + r) * num / den = q * num + r * num / den.
  std::optional<Amount> CheckedMulRatio(uint64_t numerator, uint64_t denominator,
                                        Rounding rounding) const;
  // Same as CheckedMulRatio, and reports whether the result had to be rounded.
  std::optional<Amount> CheckedMulRatio(uint64_t numerator, uint64_t denominator,
                                        Rounding rounding, bool* rounded) const;

  // 16 bytes, most significant first: how storage and digests carry an amount.
  std::array<uint8_t, 16> ToBigEndian() const;
  static Amount FromBigEndian(std::span<const uint8_t, 16> bytes);

  // Base units in canonical decimal form: no sign, no leading zeros ("0" for zero).
  std::string ToBaseUnitString() const;

  friend constexpr auto operator<=>(const Amount&, const Amount&) = default;
  friend constexpr bool operator==(const Amount&, const Amount&) = default;

 private:
  Uint128 base_units_ = 0;
};

// Unwraps checked arithmetic that the caller has shown cannot fail (a difference of a larger
// and a smaller amount, say). If that reasoning is ever wrong the process aborts, in every
// build: a broken invariant about money must stop, never continue with a wrapped value. Never
// use it on sums of outside input; return an error for those.
Amount AmountOrDie(std::optional<Amount> amount);

// Smaller of two amounts (no arithmetic, so it cannot fail).
constexpr Amount MinAmount(Amount a, Amount b) { return a < b ? a : b; }
constexpr Amount MaxAmount(Amount a, Amount b) { return a < b ? b : a; }

// The canonical base-unit grammar, written once for every module that reads amounts as text
// (policy files and records here, signerd's transaction intents and approvals, the quorum
// tool, proof-of-reserves packages): ^(0|[1-9][0-9]{0,38})$ with a value of at most
// 2^128 - 1. ASCII digits only, so no sign, point, exponent, whitespace or non-ASCII digit.
//
// ScanBaseUnits reports the first rule a text breaks, in the order of this enum, so that each
// caller can word its own error (with its own field name and status code) without repeating
// the grammar. It never allocates: the proof-of-reserves exporter calls it once per ledger row.
enum class BaseUnitsError : uint8_t {
  kNone,           // canonical; `value` holds it
  kEmpty,          // no characters at all
  kNonDigit,       // `position` is the first byte that is not an ASCII digit
  kLeadingZero,    // all digits, more than one, the first a '0'
  kTooManyDigits,  // all digits, canonical, more than 39 of them: at least 10^39 > 2^128 - 1
  kAboveMax,       // 39 canonical digits above 2^128 - 1
};

struct BaseUnitsScan {
  BaseUnitsError error = BaseUnitsError::kNone;
  size_t position = 0;  // set for kNonDigit only
  Uint128 value = 0;    // set for kNone only

  bool ok() const { return error == BaseUnitsError::kNone; }
};

BaseUnitsScan ScanBaseUnits(std::string_view text);

// Parses a count of base units in the canonical grammar above. Returns InvalidArgument naming
// the rule broken, or OutOfRange for a value above 2^128 - 1.
absl::StatusOr<Amount> ParseBaseUnits(std::string_view text);

// Parses an amount written in the asset's display unit ("0.5" with decimals = 8 is
// 50000000 base units). Accepted: digits, optionally one '.' followed by at least one digit;
// at most `decimals` digits after the point. Leading zeros in the integer part are accepted
// ("00.5"); trailing zeros after the point count against `decimals`. Rejected with
// InvalidArgument: empty text, any sign, whitespace, exponents, a bare or trailing '.', more
// fractional digits than `decimals`; OutOfRange: a value above 2^128 - 1 base units.
// REQUIRES: 0 <= decimals <= kMaxDecimals (otherwise InvalidArgument).
absl::StatusOr<Amount> ParseDecimalAmount(std::string_view text, int decimals);

// Formats in the display unit with the shortest exact form: no trailing fractional zeros and
// no '.' for whole amounts ("0.5", "12", "0.00000001"). ParseDecimalAmount reads it back to
// the same amount. REQUIRES: 0 <= decimals <= kMaxDecimals.
std::string FormatDecimalAmount(Amount amount, int decimals);

// How an amount is shown to a person (an approver's screen, the demo, a report): the display
// unit first, then the exact base units labelled as such, "1.5 BTC (150000000 base units)", so
// that nobody reads base units as the asset. REQUIRES: 0 <= decimals <= kMaxDecimals.
std::string FormatLabelledAmount(Amount amount, int decimals, std::string_view unit);

// 10^exponent as a 128-bit value. REQUIRES: 0 <= exponent <= kMaxDecimals.
Uint128 PowerOfTen(int exponent);

// Decimal digits of a 128-bit value in the canonical grammar above: the one printer of base
// units (Amount::ToBaseUnitString, signer::tx::FormatAmount and reserves::FormatAmount all
// call it). ScanBaseUnits reads the result back to the same value.
std::string Uint128ToString(Uint128 value);

// Inline: the proof-of-reserves tree encodes two amounts per node and one per leaf, millions
// per export, where a call per amount cost about 5% of the export (bench_reserves).
inline std::array<uint8_t, 16> Amount::ToBigEndian() const {
  std::array<uint8_t, 16> out;
  const uint64_t high = static_cast<uint64_t>(base_units_ >> 64);
  const uint64_t low = static_cast<uint64_t>(base_units_);
  for (size_t i = 0; i < 8; ++i) {
    out[i] = static_cast<uint8_t>(high >> (56 - 8 * i));
    out[8 + i] = static_cast<uint8_t>(low >> (56 - 8 * i));
  }
  return out;
}

inline Amount Amount::FromBigEndian(std::span<const uint8_t, 16> bytes) {
  uint64_t high = 0, low = 0;
  for (size_t i = 0; i < 8; ++i) {
    high = (high << 8) | bytes[i];
    low = (low << 8) | bytes[8 + i];
  }
  return Amount((static_cast<Uint128>(high) << 64) | low);
}

}  // namespace ringfence::base

#endif  // RINGFENCE_BASE_AMOUNT_H_

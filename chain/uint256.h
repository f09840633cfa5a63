// U256: an unsigned 256-bit integer as Ethereum's RLP fields and ABI words carry it (value,
// gas prices, ERC-20 amounts). It only stores, compares and converts: Ringfence does money
// arithmetic in unsigned __int128 (see ToU128), so a quantity that does not fit 128 bits is
// refused where it is used as an amount, rather than silently truncated.
//
// Value type; thread-compatible.
#ifndef RINGFENCE_CHAIN_UINT256_H_
#define RINGFENCE_CHAIN_UINT256_H_

#include <array>
#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ringfence::chain {

class U256 {
 public:
  U256() { be_.fill(0); }
  static U256 FromU128(unsigned __int128 v);
  // Big-endian bytes, at most 32 (leading zeros allowed here; RLP's canonical rules are
  // enforced by the RLP decoder). InvalidArgument naming `field` if longer than 32.
  static absl::StatusOr<U256> FromBigEndian(std::span<const uint8_t> bytes, std::string_view field = "uint256");
  static U256 FromWord(const std::array<uint8_t, 32>& word);

  const std::array<uint8_t, 32>& Word() const { return be_; }
  // Big-endian without leading zeros (empty for zero), as RLP encodes integers.
  std::vector<uint8_t> MinimalBytes() const;
  bool IsZero() const;
  bool FitsU128() const;
  // The value as unsigned __int128, or InvalidArgument naming `field` if it is 2^128 or more.
  absl::StatusOr<unsigned __int128> ToU128(std::string_view field) const;
  // Decimal digits, for logs and error messages.
  std::string ToDecimal() const;

  auto operator<=>(const U256&) const = default;
  bool operator==(const U256&) const = default;

 private:
  std::array<uint8_t, 32> be_;
};

// Decimal text of an unsigned __int128 (which iostreams cannot print).
std::string U128ToDecimal(unsigned __int128 v);

}  // namespace ringfence::chain

#endif  // RINGFENCE_CHAIN_UINT256_H_

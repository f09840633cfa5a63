// RLP (Ethereum's Recursive Length Prefix) encoding and a strict decoder that accepts only
// the canonical form: a single byte below 0x80 is never wrapped, lengths use the short form
// whenever they fit it (55 bytes or less), long-form lengths have no leading zero bytes, and
// nothing follows the top-level item. Integers carried in byte strings have no leading zero
// bytes (zero is the empty string).
//
// RlpItem owns its bytes; functions are pure and thread-safe.
#ifndef RINGFENCE_CHAIN_RLP_H_
#define RINGFENCE_CHAIN_RLP_H_

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "chain/uint256.h"

namespace ringfence::chain {

// Nesting deeper than this is refused (no Ethereum transaction comes close; the bound
// keeps the recursive decoder's stack use small on hostile input).
inline constexpr int kRlpMaxDepth = 16;

struct RlpItem {
  bool is_list = false;
  std::vector<uint8_t> bytes;  // when !is_list
  std::vector<RlpItem> items;  // when is_list
  bool operator==(const RlpItem&) const = default;
};

std::vector<uint8_t> RlpEncodeBytes(std::span<const uint8_t> bytes);
// `encoded_items` are already RLP-encoded items; they are concatenated under a list header.
std::vector<uint8_t> RlpEncodeList(const std::vector<std::vector<uint8_t>>& encoded_items);
std::vector<uint8_t> RlpEncodeUint(uint64_t v);
std::vector<uint8_t> RlpEncodeU256(const U256& v);
std::vector<uint8_t> RlpEncode(const RlpItem& item);

// Decodes exactly one item spanning all of `data`. InvalidArgument saying which rule was
// broken and at which offset (non-canonical length, wrapped single byte, truncated payload,
// trailing bytes, nesting too deep).
absl::StatusOr<RlpItem> RlpDecode(std::span<const uint8_t> data);

// Field readers for decoded transactions; each error names `field`.
// An integer: a byte string without leading zeros, at most 8 (uint64) or 32 (U256) bytes.
absl::StatusOr<uint64_t> RlpToUint64(const RlpItem& item, std::string_view field);
absl::StatusOr<U256> RlpToU256(const RlpItem& item, std::string_view field);
// A byte string of any length.
absl::StatusOr<std::vector<uint8_t>> RlpToBytes(const RlpItem& item, std::string_view field);

}  // namespace ringfence::chain

#endif  // RINGFENCE_CHAIN_RLP_H_

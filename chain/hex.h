// Hex text <-> bytes for the chain codecs (addresses, txids, calldata in logs and configs).
//
// Pure functions; thread-safe.
#ifndef RINGFENCE_CHAIN_HEX_H_
#define RINGFENCE_CHAIN_HEX_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ringfence::chain {

// Lowercase hex of `data`, no prefix.
std::string HexEncode(std::span<const uint8_t> data);

// Decodes hex digits (either case, no prefix, even length). On failure returns
// InvalidArgument naming `field` and the offending position.
absl::StatusOr<std::vector<uint8_t>> HexDecode(std::string_view hex, std::string_view field = "hex");

}  // namespace ringfence::chain

#endif  // RINGFENCE_CHAIN_HEX_H_

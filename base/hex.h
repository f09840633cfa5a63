// Hex text <-> bytes: the one codec every module uses (txids, keys and digests in logs,
// configs, JSON packages and APIs).
//
// Pure functions; thread-safe.
#ifndef RINGFENCE_BASE_HEX_H_
#define RINGFENCE_BASE_HEX_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringfence::base {

// Lowercase hex of `data`, no prefix.
std::string HexEncode(std::span<const uint8_t> data);
inline std::string HexEncode(std::string_view bytes) {
  return HexEncode(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

enum class HexCase { kAny, kLowerOnly };

// Decodes hex digits (no prefix, even length; either case unless `letter_case` is
// kLowerOnly). On failure returns InvalidArgument naming `field` and the offending position.
absl::StatusOr<std::vector<uint8_t>> HexDecode(std::string_view hex, std::string_view field = "hex",
                                               HexCase letter_case = HexCase::kAny);

// Decodes exactly out.size() bytes (2 * out.size() digits) into `out`. InvalidArgument naming
// `field` if the length or a digit is wrong; `out` is then unspecified.
absl::Status HexDecodeInto(std::string_view hex, std::span<uint8_t> out, std::string_view field = "hex",
                           HexCase letter_case = HexCase::kAny);

}  // namespace ringfence::base

#endif  // RINGFENCE_BASE_HEX_H_

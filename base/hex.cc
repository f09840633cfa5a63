#include "base/hex.h"

#include "base/text.h"

namespace ringfence::base {
namespace {

int HexValue(char c, HexCase letter_case) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (letter_case == HexCase::kAny && c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::Status DecodeDigits(std::string_view hex, std::span<uint8_t> out, std::string_view field,
                          HexCase letter_case) {
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = HexValue(hex[2 * i], letter_case);
    const int lo = HexValue(hex[2 * i + 1], letter_case);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(
          Cat(field, ": ", letter_case == HexCase::kLowerOnly ? "not a lowercase hex digit" : "non-hex character",
              " at position ", 2 * i + (hi < 0 ? 0 : 1)));
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return absl::OkStatus();
}

}  // namespace

std::string HexEncode(std::span<const uint8_t> data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

absl::StatusOr<std::vector<uint8_t>> HexDecode(std::string_view hex, std::string_view field,
                                               HexCase letter_case) {
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError(Cat(field, ": odd number of hex digits (", hex.size(), ")"));
  }
  std::vector<uint8_t> out(hex.size() / 2);
  absl::Status st = DecodeDigits(hex, out, field, letter_case);
  if (!st.ok()) return st;
  return out;
}

absl::Status HexDecodeInto(std::string_view hex, std::span<uint8_t> out, std::string_view field,
                           HexCase letter_case) {
  if (hex.size() != 2 * out.size()) {
    return absl::InvalidArgumentError(
        Cat(field, ": expected ", 2 * out.size(), " hex digits, got ", hex.size()));
  }
  return DecodeDigits(hex, out, field, letter_case);
}

}  // namespace ringfence::base

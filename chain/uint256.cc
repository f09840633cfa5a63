#include "chain/uint256.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ringfence::chain {

U256 U256::FromU128(unsigned __int128 v) {
  U256 out;
  for (int i = 31; i >= 16; --i) {
    out.be_[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
  return out;
}

absl::StatusOr<U256> U256::FromBigEndian(std::span<const uint8_t> bytes, std::string_view field) {
  if (bytes.size() > 32) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ": ", bytes.size(), " bytes is more than a 256-bit integer"));
  }
  U256 out;
  std::copy(bytes.begin(), bytes.end(), out.be_.begin() + (32 - bytes.size()));
  return out;
}

U256 U256::FromWord(const std::array<uint8_t, 32>& word) {
  U256 out;
  out.be_ = word;
  return out;
}

std::vector<uint8_t> U256::MinimalBytes() const {
  auto first = std::find_if(be_.begin(), be_.end(), [](uint8_t b) { return b != 0; });
  return std::vector<uint8_t>(first, be_.end());
}

bool U256::IsZero() const {
  return std::all_of(be_.begin(), be_.end(), [](uint8_t b) { return b == 0; });
}

bool U256::FitsU128() const {
  return std::all_of(be_.begin(), be_.begin() + 16, [](uint8_t b) { return b == 0; });
}

absl::StatusOr<unsigned __int128> U256::ToU128(std::string_view field) const {
  if (!FitsU128()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ": ", ToDecimal(), " does not fit the 128-bit amount type"));
  }
  unsigned __int128 v = 0;
  for (int i = 16; i < 32; ++i) v = (v << 8) | be_[i];
  return v;
}

std::string U256::ToDecimal() const {
  // Repeated division by 10 over the big-endian bytes.
  std::array<uint8_t, 32> n = be_;
  std::string digits;
  while (std::any_of(n.begin(), n.end(), [](uint8_t b) { return b != 0; })) {
    unsigned rem = 0;
    for (uint8_t& b : n) {
      unsigned cur = (rem << 8) | b;
      b = static_cast<uint8_t>(cur / 10);
      rem = cur % 10;
    }
    digits.push_back(static_cast<char>('0' + rem));
  }
  if (digits.empty()) return "0";
  std::reverse(digits.begin(), digits.end());
  return digits;
}

std::string U128ToDecimal(unsigned __int128 v) { return U256::FromU128(v).ToDecimal(); }

}  // namespace ringfence::chain

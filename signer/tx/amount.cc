#include "signer/tx/amount.h"

#include <algorithm>

#include "signer/tx/text.h"

namespace ringfence::signer::tx {

absl::StatusOr<Amount> ParseAmount(std::string_view text, std::string_view field) {
  if (text.empty()) {
    return absl::InvalidArgumentError(Cat(field, ": amount is empty"));
  }
  if (text.size() > 39) {
    return absl::InvalidArgumentError(
        Cat(field, ": amount has ", text.size(), " digits; at most 39 fit 128 bits"));
  }
  if (text.size() > 1 && text[0] == '0') {
    return absl::InvalidArgumentError(
        Cat(field, ": amount \"", text, "\" has a leading zero (not canonical)"));
  }
  Amount value = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') {
      return absl::InvalidArgumentError(Cat(
          field, ": amount has a non-digit at position ", i, " (only decimal digits allowed)"));
    }
    auto times_ten = CheckedMul(value, 10);
    auto next = times_ten ? CheckedAdd(*times_ten, static_cast<Amount>(c - '0')) : std::nullopt;
    if (!next) {
      return absl::InvalidArgumentError(Cat(field, ": amount exceeds 2^128 - 1"));
    }
    value = *next;
  }
  return value;
}

std::string FormatAmount(Amount value) {
  if (value == 0) return "0";
  std::string out;
  while (value != 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::array<uint8_t, 16> AmountToBigEndian(Amount value) {
  std::array<uint8_t, 16> out{};
  for (int i = 15; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(value & 0xff);
    value >>= 8;
  }
  return out;
}

std::optional<Amount> CheckedAdd(Amount a, Amount b) {
  Amount r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

std::optional<Amount> CheckedSub(Amount a, Amount b) {
  if (b > a) return std::nullopt;
  return a - b;
}

std::optional<Amount> CheckedMul(Amount a, Amount b) {
  Amount r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

}  // namespace ringfence::signer::tx

#include "tools/reserves/amount.h"
#include "tools/reserves/status_macros.h"

#include <algorithm>


namespace ringfence::reserves {

absl::StatusOr<u128> ParseAmount(std::string_view text, std::string_view field) {
  auto fail = [&](std::string_view rule) {
    return absl::InvalidArgumentError(Cat(field, " \"", text.substr(0, 60),
                                                   text.size() > 60 ? "..." : "", "\" ", rule));
  };
  if (text.empty()) return fail("is empty");
  if (text[0] == '-') return fail("is negative (a debit balance is not a liability)");
  if (text[0] == '+') return fail("has a leading '+'");
  for (char c : text) {
    if (c == '.') return fail("is fractional (amounts are integers in base units)");
    if (c == 'e' || c == 'E') return fail("uses an exponent");
    if (c < '0' || c > '9') return fail("has a character other than a decimal digit");
  }
  if (text.size() > 1 && text[0] == '0') return fail("has a leading zero");
  if (text.size() > 39) return fail("is above 2^128-1");
  if (text.size() <= 19) {
    // Fits 64 bits: no overflow check needed (the common case, and the hot one on big ledgers).
    uint64_t small = 0;
    for (char c : text) small = small * 10 + static_cast<unsigned>(c - '0');
    return static_cast<u128>(small);
  }
  u128 v = 0;
  const u128 kMax = ~static_cast<u128>(0);
  const u128 kMaxDiv10 = kMax / 10;
  const unsigned kMaxLastDigit = static_cast<unsigned>(kMax % 10);
  for (char c : text) {
    unsigned d = static_cast<unsigned>(c - '0');
    if (v > kMaxDiv10 || (v == kMaxDiv10 && d > kMaxLastDigit)) return fail("is above 2^128-1");
    v = v * 10 + d;
  }
  return v;
}

std::string FormatAmount(u128 v) {
  if (v == 0) return "0";
  std::string out;
  while (v != 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::string FormatUnits(u128 v, int decimals) {
  std::string digits = FormatAmount(v);
  if (decimals <= 0) return digits;
  size_t d = static_cast<size_t>(decimals);
  if (digits.size() <= d) digits.insert(0, d + 1 - digits.size(), '0');
  return digits.substr(0, digits.size() - d) + "." + digits.substr(digits.size() - d);
}

std::string FormatRatio(u128 num, u128 den, int digits) {
  std::string out = FormatAmount(num / den);
  u128 rem = num % den;
  if (digits > 0) out.push_back('.');
  for (int i = 0; i < digits; ++i) {
    // 10*rem may not fit 128 bits, so add rem ten times modulo den, counting the wraps:
    // the count is the next digit and the remainder stays below den.
    u128 acc = 0;
    int digit = 0;
    for (int k = 0; k < 10; ++k) {
      if (acc >= den - rem) {
        acc -= den - rem;
        ++digit;
      } else {
        acc += rem;
      }
    }
    out.push_back(static_cast<char>('0' + digit));
    rem = acc;
  }
  return out;
}

}  // namespace ringfence::reserves

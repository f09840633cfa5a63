// Fuzz target: the decimal amount parsers. The first byte picks the number of decimals; the
// rest is the text. Anything accepted must print back to an equivalent text that parses to the
// same amount, and base-unit text must be canonical and match the grammar written out here.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/amount.h"
#include "policy/ratio.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int decimals = data[0] % (ringfence::base::kMaxDecimals + 1);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  absl::StatusOr<ringfence::base::Amount> a = ringfence::base::ParseDecimalAmount(text, decimals);
  if (a.ok()) {
    const std::string printed = ringfence::base::FormatDecimalAmount(*a, decimals);
    absl::StatusOr<ringfence::base::Amount> back = ringfence::base::ParseDecimalAmount(printed, decimals);
    if (!back.ok() || *back != *a) std::abort();
    for (char c : text) {
      if ((c < '0' || c > '9') && c != '.') std::abort();
    }
  }
  absl::StatusOr<ringfence::base::Amount> b = ringfence::base::ParseBaseUnits(text);
  if (b.ok() && b->ToBaseUnitString() != text) std::abort();
  // ScanBaseUnits against the grammar written out directly: ^(0|[1-9][0-9]{0,38})$ and, at 39
  // digits, no larger than 2^128 - 1 (same-length digit strings compare like their values).
  bool digits = !text.empty();
  for (char c : text) digits = digits && c >= '0' && c <= '9';
  const bool canonical = digits && (text.size() == 1 || text[0] != '0') && text.size() <= 39 &&
                         (text.size() < 39 || text <= "340282366920938463463374607431768211455");
  const ringfence::base::BaseUnitsScan scan = ringfence::base::ScanBaseUnits(text);
  if (scan.ok() != canonical || b.ok() != canonical) std::abort();
  if (scan.ok() && scan.value != b->base_units()) std::abort();
  if (scan.error == ringfence::base::BaseUnitsError::kNonDigit) {
    const char c = text[scan.position];
    if (c >= '0' && c <= '9') std::abort();
    for (size_t i = 0; i < scan.position; ++i) {
      if (text[i] < '0' || text[i] > '9') std::abort();
    }
  }
  absl::StatusOr<ringfence::policy::Ratio> r = ringfence::policy::Ratio::Parse(text);
  if (r.ok() && r->ppm() > ringfence::policy::kPpmPerUnit) std::abort();
  return 0;
}

// Fuzz target: the decimal amount parsers. The first byte picks the number of decimals; the
// rest is the text. Anything accepted must print back to an equivalent text that parses to the
// same amount, and base-unit text must be canonical.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/amount.h"
#include "policy/ratio.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int decimals = data[0] % (ringfence::policy::kMaxDecimals + 1);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  absl::StatusOr<ringfence::policy::Amount> a = ringfence::policy::ParseDecimalAmount(text, decimals);
  if (a.ok()) {
    const std::string printed = ringfence::policy::FormatDecimalAmount(*a, decimals);
    absl::StatusOr<ringfence::policy::Amount> back = ringfence::policy::ParseDecimalAmount(printed, decimals);
    if (!back.ok() || *back != *a) std::abort();
    for (char c : text) {
      if ((c < '0' || c > '9') && c != '.') std::abort();
    }
  }
  absl::StatusOr<ringfence::policy::Amount> b = ringfence::policy::ParseBaseUnits(text);
  if (b.ok() && b->ToBaseUnitString() != text) std::abort();
  absl::StatusOr<ringfence::policy::Ratio> r = ringfence::policy::Ratio::Parse(text);
  if (r.ok() && r->ppm() > ringfence::policy::kPpmPerUnit) std::abort();
  return 0;
}

// Fuzz target: the liabilities CSV parser. Any input must either parse into rows that obey
// the rules or be refused with a status; never crash or overflow.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "reserves/liabilities_csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringfence::reserves;
  CsvOptions opt;
  opt.keep_ids = true;
  opt.threads = 1;
  auto parsed = ParseLiabilitiesCsv(std::string_view(reinterpret_cast<const char*>(data), size), opt);
  if (parsed.ok()) {
    for (const AssetRows& a : parsed->assets) {
      if (!IsValidId(a.asset_id) || a.size() == 0) std::abort();
      ringfence::base::Amount total;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!IsValidId(a.account_id(i))) std::abort();
        auto sum = total.CheckedAdd(a[i].amount);
        if (!sum) std::abort();  // the parser refuses totals above 2^128-1
        total = *sum;
      }
      if (total != a.total) std::abort();
    }
  }
  return 0;
}

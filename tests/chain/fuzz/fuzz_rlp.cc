// Decodes arbitrary bytes as RLP. Only canonical encodings are accepted, so whatever decodes
// must re-encode to exactly the input.
#include <cstddef>
#include <cstdint>
#include <span>

#include "chain/rlp.h"
#include "tests/chain/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringfence::chain;
  absl::StatusOr<RlpItem> item = RlpDecode(std::span<const uint8_t>(data, size));
  if (!item.ok()) return 0;
  std::vector<uint8_t> out = RlpEncode(*item);
  FUZZ_CHECK(out.size() == size && std::equal(out.begin(), out.end(), data));
  if (!item->is_list) {
    absl::StatusOr<uint64_t> u = RlpToUint64(*item, "x");
    if (u.ok()) FUZZ_CHECK(RlpEncodeUint(*u) == out);
    absl::StatusOr<U256> w = RlpToU256(*item, "x");
    if (w.ok()) FUZZ_CHECK(RlpEncodeU256(*w) == out);
  }
  return 0;
}

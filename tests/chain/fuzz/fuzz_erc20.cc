// Decodes arbitrary bytes as ERC-20 transfer calldata; whatever decodes re-encodes to the
// input.
#include <cstddef>
#include <cstdint>
#include <span>

#include "chain/erc20.h"
#include "tests/chain/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringfence::chain;
  absl::StatusOr<Erc20Transfer> t = DecodeErc20Transfer(std::span<const uint8_t>(data, size));
  if (!t.ok()) return 0;
  std::vector<uint8_t> out = EncodeErc20Transfer(*t);
  FUZZ_CHECK(out.size() == size && std::equal(out.begin(), out.end(), data));
  (void)t->amount.ToU128("amount");
  return 0;
}

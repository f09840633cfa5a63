// Fuzz target: the sign log's field decoder (it reads database content that may have been
// tampered with). Anything it accepts must re-encode to exactly the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "signer/store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> input(data, size);
  absl::StatusOr<ringfence::signer::LogFields> fields = ringfence::signer::DecodeLogFields(input);
  if (fields.ok()) {
    std::vector<uint8_t> again = ringfence::signer::EncodeLogFields(*fields);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  }
  return 0;
}

// Parses arbitrary text as an Ethereum address. An accepted address's EIP-55 form must
// parse to the same bytes, and equal the input whenever the input was mixed case.
#include <cstddef>
#include <cstdint>
#include <string>

#include "chain/eth_address.h"
#include "tests/chain/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringfence::chain;
  std::string s(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<EthAddress> a = ParseEthAddress(s);
  if (!a.ok()) return 0;
  FUZZ_CHECK(s.size() == 42);
  std::string checksummed = EthChecksumAddress(*a);
  absl::StatusOr<EthAddress> again = ParseEthAddress(checksummed);
  FUZZ_CHECK(again.ok() && *again == *a);
  bool lower = false;
  bool upper = false;
  for (size_t i = 2; i < s.size(); ++i) {
    lower |= (s[i] >= 'a' && s[i] <= 'f');
    upper |= (s[i] >= 'A' && s[i] <= 'F');
  }
  if (lower && upper) FUZZ_CHECK(checksummed == s);
  return 0;
}

// Decodes arbitrary text as bech32/bech32m and as a segwit address. A decoded address
// must re-encode to the lowercase input and map to a scriptPubKey that maps back.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>

#include "chain/bech32.h"
#include "tests/chain/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringfence::chain;
  std::string s(reinterpret_cast<const char*>(data), size);
  std::string lower = s;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  absl::StatusOr<Bech32Data> raw = Bech32Decode(s);
  if (raw.ok()) {
    absl::StatusOr<std::string> again = Bech32Encode(raw->hrp, raw->values, raw->encoding);
    FUZZ_CHECK(again.ok() && *again == lower);
  }
  absl::StatusOr<SegwitAddress> addr = DecodeSegwitAddress(s);
  if (!addr.ok()) return 0;
  FUZZ_CHECK(raw.ok());
  absl::StatusOr<std::string> again = EncodeSegwitAddress(*addr);
  FUZZ_CHECK(again.ok() && *again == lower);
  absl::StatusOr<std::vector<uint8_t>> spk = SegwitScriptPubKey(addr->witness_version, addr->program);
  FUZZ_CHECK(spk.ok());
  absl::StatusOr<SegwitAddress> back = SegwitAddressFromScriptPubKey(*spk, addr->hrp);
  FUZZ_CHECK(back.ok() && back->program == addr->program && back->witness_version == addr->witness_version);
  return 0;
}

// Fuzz target: the three air-gap file readers (docs/signing-bundle.md). The first byte picks
// the reader; the rest is the file. Whatever a reader accepts must write back to a file that
// reads to the same digest (the writers check what the readers check), and nothing may crash.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "offline/bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringfence::offline;
  if (size == 0) return 0;
  const std::string_view file(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: {
      ringfence::base::Digest32 digest{};
      absl::StatusOr<SigningBundle> b = ReadSigningBundle(file, &digest);
      if (!b.ok()) return 0;
      absl::StatusOr<std::string> again = WriteSigningBundle(*b);
      ringfence::base::Digest32 digest2{};
      if (!again.ok() || !ReadSigningBundle(*again, &digest2).ok() || digest2 != digest) std::abort();
      break;
    }
    case 1: {
      absl::StatusOr<SignedBundle> s = ReadSignedBundle(file);
      if (!s.ok()) return 0;
      absl::StatusOr<std::string> again = WriteSignedBundle(*s);
      if (!again.ok()) std::abort();
      absl::StatusOr<SignedBundle> back = ReadSignedBundle(*again);
      if (!back.ok() || *SignedBundleDigest(*back) != *SignedBundleDigest(*s)) std::abort();
      break;
    }
    default: {
      absl::StatusOr<ColdKeys> c = ReadColdKeys(file);
      if (!c.ok()) return 0;
      absl::StatusOr<std::string> again = WriteColdKeys(*c);
      if (!again.ok()) std::abort();
      absl::StatusOr<ColdKeys> back = ReadColdKeys(*again);
      if (!back.ok() || *ColdKeysDigest(*back) != *ColdKeysDigest(*c)) std::abort();
      break;
    }
  }
  return 0;
}

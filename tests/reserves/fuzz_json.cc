// Fuzz target: the strict JSON parser and the manifest and reserves schemas on top of it. A
// manifest that parses must survive a write/parse round trip unchanged.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "reserves/format.h"
#include "reserves/strict_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringfence::reserves;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ParseStrictJson(text, "fuzz");
  auto m = ParseManifest(text);
  if (m.ok()) {
    auto again = ParseManifest(ManifestToJson(*m));
    if (!again.ok() || ManifestToJson(*again) != ManifestToJson(*m)) std::abort();
    (void)ComputeManifestDigest(*m);
  }
  auto entries = ParseReserveEntries(text, "fuzz");
  if (entries.ok()) {
    auto again = ParseReserveEntries(ReserveEntriesToJson(*entries), "again");
    if (!again.ok() || again->size() != entries->size()) std::abort();
    for (const auto& e : *entries) (void)EntryDigest(e);
  }
  return 0;
}

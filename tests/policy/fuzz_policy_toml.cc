// Fuzz target: the policy file parser. Any text either fails with InvalidArgument or yields a
// policy whose canonical form is stable and whose hash matches it.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ringfence::policy::Policy> p = ringfence::policy::ParsePolicy(text);
  if (!p.ok()) {
    if (p.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  const std::string canonical = ringfence::policy::CanonicalPolicyJson(*p);
  if (ringfence::policy::Sha256Hex(canonical) != p->hash) std::abort();
  absl::StatusOr<ringfence::policy::Policy> again = ringfence::policy::ParsePolicy(text);
  if (!again.ok() || again->hash != p->hash) std::abort();
  for (const auto& [id, asset] : p->assets) {
    if (asset.hot_target > asset.hot_cap) std::abort();
  }
  return 0;
}

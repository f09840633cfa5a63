// Fuzz target: signerd's two TOML files (approver registry, transaction config) from arbitrary
// text. Either parses or fails with InvalidArgument naming a field; never crashes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "signer/tx/approver_registry.h"
#include "signer/tx/tx_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringfence::signer::tx;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto registry = ApproverRegistry::Parse(text);
  if (!registry.ok() && registry.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
  auto config = ParseTxConfig(text, "/etc/ringfence");
  if (!config.ok() && config.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
  if (registry.ok() && config.ok()) ValidateRegistryAgainstConfig(*registry, *config).IgnoreError();
  return 0;
}

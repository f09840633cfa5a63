// Fuzz target: signerd's TOML config parser must reject or accept any input without
// crashing, and an accepted config must satisfy every rule the parser promises.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "signer/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ringfence::signer::Config> config = ringfence::signer::ParseConfig(text, "fuzz");
  if (config.ok()) {
    const auto& c = *config;
    bool one_pin = c.pkcs11.pin_file.empty() != c.pkcs11.pin_env.empty();
    if (c.server.socket.empty() || c.server.socket[0] != '/' || c.server.database.empty() ||
        c.pkcs11.module.empty() || c.pkcs11.token_label.empty() || c.pkcs11.token_label.size() > 32 ||
        !one_pin || c.pkcs11.session_pool_size < 1 ||
        c.pkcs11.session_pool_size > ringfence::signer::kMaxSessionPoolSize) {
      std::abort();
    }
  } else if (config.status().message().empty()) {
    std::abort();
  }
  return 0;
}

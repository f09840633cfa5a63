// Fuzz target: sealed approver key files are parsed from disk; any bytes must give a status,
// never a crash. A fixed passphrase keeps the Argon2id cost bounded by what the file claims,
// so only files claiming the minimum cost are opened.
#include <cstdint>
#include <string>
#include <string_view>

#include "tools/quorum/sealed_key.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto pk = ringfence::quorum::SealedKey::PublicKeyOf(text);
  if (pk.ok() && text.find("\nopslimit=1\nmemlimit=8192\n") != std::string_view::npos) {
    (void)ringfence::quorum::SealedKey::Open(text, "fuzz passphrase!");
  }
  return 0;
}

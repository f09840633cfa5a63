// Fuzz target: the inclusion proof parser and the client's check against a fixed signed
// manifest (from the seed corpus's package). Parsing must never crash; a proof that parses is
// folded up its paths with checked sums.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "reserves/format.h"
#include "reserves/verifier.h"

namespace {
// A manifest of a small package (custodian ACME, snapshot 0x11.., assets BTC and ETH).
constexpr std::string_view kManifest =
#include "tests/reserves/fuzz_manifest.inc"
    ;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringfence::reserves;
  static const Manifest* manifest = [] {
    auto m = ParseManifest(kManifest);
    if (!m.ok()) std::abort();
    return new Manifest(*m);
  }();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto proof = ParseInclusionProof(text);
  if (!proof.ok()) return 0;
  auto again = ParseInclusionProof(InclusionProofToJson(*proof));
  if (!again.ok()) std::abort();
  std::vector<ClientTotal> totals;
  (void)CheckInclusionProof(*proof, *manifest, proof->client_account_id, {}, &totals);
  return 0;
}

// custodyd's check of a cold-key file (ImportColdKeys) under arbitrary bytes. The file is
// outside input, carried across the air gap by hand: whatever the bytes, VerifyColdKeyFile
// either refuses them (INVALID_ARGUMENT for a malformed file or a key custodyd does not take,
// PERMISSION_DENIED for a file the configured cold signer did not sign) with a short message,
// or returns keys that are all bound to a configured asset's client-cold wallet, each with an
// address derived for its asset.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/check.h"
#include "base/hex.h"
#include "custody/cold_keys.h"
#include "custody/config.h"

namespace {

const ringfence::custody::Config& FuzzConfig() {
  static const ringfence::custody::Config* config = [] {
    auto* c = new ringfence::custody::Config;
    c->assets = {{"BTC", "bitcoin", "regtest", 8, 3, "", std::nullopt, std::nullopt, std::nullopt},
                 {"ETH", "ethereum", "dev", 18, 2, "", std::nullopt, std::nullopt, std::nullopt}};
    // The identity of tests/custody/make_cold_keys_corpus.py (Ed25519 from the seed 0x5a x 32),
    // so that the corpus's signed files reach the binding and address checks.
    c->cold_signer = ringfence::custody::ColdSignerConfig{};
    RF_CHECK(ringfence::base::HexDecodeInto("0d7550754e0800a5d237eef5826035766b9b3e5a15868a940ab289958788e3b0",
                                            c->cold_signer->identity_key)
                 .ok(),
             "the fuzz identity key");
    return c;
  }();
  return *config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view file(reinterpret_cast<const char*>(data), size);
  const ringfence::custody::Config& config = FuzzConfig();
  absl::StatusOr<ringfence::custody::VerifiedColdKeys> keys = ringfence::custody::VerifyColdKeyFile(config, file);
  if (!keys.ok()) {
    const absl::StatusCode code = keys.status().code();
    RF_CHECK(code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kPermissionDenied,
             "a refusal that is neither INVALID_ARGUMENT nor PERMISSION_DENIED");
    RF_CHECK(keys.status().message().size() <= 2048, "a refusal that quotes the file unclipped");
    return 0;
  }
  for (const auto& key : keys->keys) {
    const auto* asset = config.FindAsset(key.asset_id);
    RF_CHECK(asset != nullptr, "a key of an asset that is not configured");
    RF_CHECK(key.wallet_id == key.asset_id + ":client-cold", "a key accepted for another wallet than client-cold");
    RF_CHECK(!key.address.empty(), "a key without an address");
  }
  return 0;
}

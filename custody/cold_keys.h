// Cold-wallet keys: the offline signer makes them in the cold token and writes their public
// keys and wallet bindings to a cold-key file signed by its identity key
// (docs/signing-bundle.md); custodyd imports that file (ImportColdKeys) and never sees a cold
// private key. Nothing in the file is believed for being there: the signature must verify
// under the identity key of custodyd's own configuration ([cold_signer]), every key must be
// bound to a configured asset's client-cold wallet, and each address is derived here from the
// public key.
#ifndef RINGFENCE_CUSTODY_COLD_KEYS_H_
#define RINGFENCE_CUSTODY_COLD_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/digest.h"
#include "custody/config.h"
#include "custody/store/store.h"

namespace ringfence::custody {

struct ColdKeyToImport {
  std::string key_id;
  std::string asset_id;
  std::string wallet_id;  // the asset's client-cold wallet
  std::string address;    // derived from the public key
};

struct VerifiedColdKeys {
  base::Digest32 digest{};  // the file's cold-key digest (what the identity signed)
  int64_t created_at = 0;
  std::vector<ColdKeyToImport> keys;  // file order
};

// Reads and checks a cold-key file. FAILED_PRECONDITION when the configuration has no
// [cold_signer]; INVALID_ARGUMENT naming the field for a malformed file, a key of an asset
// that is not configured, or a key bound to anything but its asset's client-cold wallet;
// PERMISSION_DENIED when the file is not signed by the configured identity key.
absl::StatusOr<VerifiedColdKeys> VerifyColdKeyFile(const Config& config, std::string_view file);

// Stores each key's address as one of its wallet's own addresses (no client). A key already
// stored with the same address, wallet and key id is left as it is (true in the result, per
// key); an address stored for another key or wallet is FAILED_PRECONDITION and nothing is
// written by the caller's transaction.
absl::StatusOr<std::vector<bool>> RecordColdKeys(store::Txn& txn, const std::vector<ColdKeyToImport>& keys,
                                                 int64_t now_unix_ms);

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_COLD_KEYS_H_

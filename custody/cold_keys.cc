#include "custody/cold_keys.h"

#include <set>

#include "base/status.h"
#include "base/text.h"
#include "custody/deposits.h"
#include "offline/bundle.h"

namespace ringfence::custody {

using base::Cat;
using base::Clip;

absl::StatusOr<VerifiedColdKeys> VerifyColdKeyFile(const Config& config, std::string_view file) {
  if (!config.cold_signer.has_value()) {
    return absl::FailedPreconditionError("no [cold_signer] identity_key is configured; cold keys cannot be imported");
  }
  if (file.size() > offline::kMaxColdKeysFileBytes) {
    return absl::InvalidArgumentError(
        Cat("file: ", file.size(), " bytes; a cold-key file is at most ", offline::kMaxColdKeysFileBytes));
  }
  absl::StatusOr<offline::ColdKeys> parsed = offline::ReadColdKeys(file);
  if (!parsed.ok()) return absl::InvalidArgumentError(Cat("file: ", parsed.status().message()));
  RF_ASSIGN_OR_RETURN(const base::Digest32 digest, offline::ColdKeysDigest(*parsed));
  absl::Status signed_by = offline::VerifyIdentitySignature(digest, parsed->signer_key, parsed->signature,
                                                            config.cold_signer->identity_key);
  if (!signed_by.ok()) return absl::PermissionDeniedError(Cat("file: ", signed_by.message()));

  VerifiedColdKeys out;
  out.digest = digest;
  out.created_at = parsed->created_at;
  for (size_t i = 0; i < parsed->keys.size(); ++i) {
    const offline::ColdKey& key = parsed->keys[i];
    const std::string field = Cat("file: keys[", i, "]");
    const AssetConfig* asset = config.FindAsset(key.asset);
    if (asset == nullptr) {
      return absl::InvalidArgumentError(Cat(field, ".asset: ", Clip(key.asset), " is no configured asset"));
    }
    const std::string cold_wallet = WalletsOf(*asset)[1].wallet_id;
    if (key.wallet_id != cold_wallet || key.owner_class != "client" || key.tier != "cold") {
      return absl::InvalidArgumentError(Cat(field, ": bound to wallet ", Clip(key.wallet_id), " (", key.owner_class,
                                            ", ", key.tier, "); only ", cold_wallet,
                                            " (client, cold) takes imported keys for ", asset->id));
    }
    absl::StatusOr<std::string> address = DepositAddressFor(*asset, key.public_key);
    if (!address.ok()) return absl::InvalidArgumentError(Cat(field, ".public_key: ", address.status().message()));
    out.keys.push_back({key.key_id, asset->id, cold_wallet, *std::move(address)});
  }
  return out;
}

absl::StatusOr<std::vector<bool>> RecordColdKeys(store::Txn& txn, const std::vector<ColdKeyToImport>& keys,
                                                 int64_t now_unix_ms) {
  std::vector<bool> known;
  known.reserve(keys.size());
  for (const ColdKeyToImport& key : keys) {
    RF_ASSIGN_OR_RETURN(std::optional<store::AddressRow> stored, txn.GetAddress(key.address));
    if (stored) {
      if (stored->wallet_id != key.wallet_id || stored->key_id != key.key_id || !stored->client_id.empty()) {
        return absl::FailedPreconditionError(Cat("file: key ", key.key_id, " gives address ", key.address,
                                                 ", which is already key ", stored->key_id, " of wallet ",
                                                 stored->wallet_id));
      }
      known.push_back(true);
      continue;
    }
    store::AddressRow row;
    row.address = key.address;
    row.asset_id = key.asset_id;
    row.wallet_id = key.wallet_id;
    row.key_id = key.key_id;
    row.created_unix_ms = now_unix_ms;
    RF_RETURN_IF_ERROR(txn.InsertAddress(row));
    known.push_back(false);
  }
  return known;
}

}  // namespace ringfence::custody

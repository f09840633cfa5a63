#include "signer/request_limits.h"

#include "base/status.h"
#include "base/text.h"

namespace ringfence::signer {

// docs/sign_transaction.md and proto/signer_tx.proto state this figure; change them with it.
static_assert(kMaxRequestBytes == 2'151'085);

absl::Status CheckSize(std::string_view field, size_t size, size_t limit) {
  if (size <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(
      base::Cat(kLimitRule, ": ", field, ": ", size, " bytes, at most ", limit));
}

absl::Status CheckCount(std::string_view field, size_t count, size_t limit) {
  if (count <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(
      base::Cat(kLimitRule, ": ", field, ": ", count, " entries, at most ", limit));
}

absl::Status CheckRequestLimits(const v1::CreateKeyRequest& request) {
  RF_RETURN_IF_ERROR(CheckSize("purpose", request.purpose().size(), kMaxPurposeBytes));
  RF_RETURN_IF_ERROR(
      CheckSize("binding.wallet_id", request.binding().wallet_id().size(), kMaxWalletIdBytes));
  return CheckSize("binding.asset", request.binding().asset().size(), kMaxAssetBytes);
}

absl::Status CheckRequestLimits(const v1::GetKeyRequest& request) {
  return CheckSize("key_id", request.key_id().size(), kMaxKeyIdBytes);
}

absl::Status CheckRequestLimits(const v1::ListKeysRequest& request) {
  RF_RETURN_IF_ERROR(CheckSize("purpose", request.purpose().size(), kMaxPurposeBytes));
  return CheckSize("wallet_id", request.wallet_id().size(), kMaxWalletIdBytes);
}

}  // namespace ringfence::signer

#include "signer/tx/request_limits.h"

#include "base/status.h"
#include "base/text.h"
#include "policy/withdrawal.h"

namespace ringfence::signer::tx {

static_assert(kMaxExpiresAt == policy::kMaxTimestamp);

absl::Status CheckRequestLimits(const TxRequest& r) {
  RF_RETURN_IF_ERROR(CheckSize("request_id", r.request_id.size(), kMaxRequestIdBytes));
  RF_RETURN_IF_ERROR(CheckSize("chain", r.chain.size(), kMaxChainBytes));
  RF_RETURN_IF_ERROR(CheckSize("network", r.network.size(), kMaxNetworkBytes));
  RF_RETURN_IF_ERROR(CheckSize("unsigned_tx", r.unsigned_tx.size(), kMaxUnsignedTxBytes));
  RF_RETURN_IF_ERROR(CheckCount("bitcoin_inputs", r.bitcoin_inputs.size(), kMaxBitcoinInputs));
  for (size_t i = 0; i < r.bitcoin_inputs.size(); ++i) {
    const size_t size = r.bitcoin_inputs[i].key_id.size();
    if (size > kMaxKeyIdBytes) {  // the name is built only for the refusal
      return CheckSize(base::Cat("bitcoin_inputs[", i, "].key_id"), size, kMaxKeyIdBytes);
    }
  }
  RF_RETURN_IF_ERROR(CheckSize("ethereum_key_id", r.ethereum_key_id.size(), kMaxKeyIdBytes));
  RF_RETURN_IF_ERROR(CheckSize("intent.asset", r.intent.asset.size(), kMaxAssetBytes));
  RF_RETURN_IF_ERROR(CheckSize("intent.amount", r.intent.amount.size(), kMaxAmountBytes));
  RF_RETURN_IF_ERROR(CheckSize("intent.destination", r.intent.destination.size(), kMaxDestinationBytes));
  RF_RETURN_IF_ERROR(CheckSize("intent.fee_cap", r.intent.fee_cap.size(), kMaxAmountBytes));
  RF_RETURN_IF_ERROR(CheckCount("approvals", r.approvals.size(), kMaxApprovals));
  for (size_t i = 0; i < r.approvals.size(); ++i) {
    const ApprovalInput& a = r.approvals[i];
    if (a.approver_id.size() > kMaxApproverIdBytes) {
      return CheckSize(base::Cat("approvals[", i, "].approver_id"), a.approver_id.size(), kMaxApproverIdBytes);
    }
    if (a.signature.size() > kMaxApprovalSignatureBytes) {
      return CheckSize(base::Cat("approvals[", i, "].signature"), a.signature.size(),
                       kMaxApprovalSignatureBytes);
    }
  }
  if (r.expires_at < 0 || r.expires_at > kMaxExpiresAt) {
    return absl::InvalidArgumentError(base::Cat(kLimitRule, ": expires_at: ", r.expires_at, " is outside 0..",
                                                kMaxExpiresAt, " (Unix seconds)"));
  }
  return absl::OkStatus();
}

std::string LoggedField(std::string_view value, size_t limit) {
  if (value.size() <= limit) return std::string(value);
  return base::Clip(value);
}

}  // namespace ringfence::signer::tx

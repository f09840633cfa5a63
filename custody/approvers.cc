#include "custody/approvers.h"

#include <sodium.h>

#include <algorithm>

#include "base/status.h"
#include "base/text.h"

namespace ringfence::custody {

using base::Cat;
using base::Clip;

absl::StatusOr<const ApproverConfig*> ApproverFor(const Config& config, const Caller& caller,
                                                  std::string_view approver_id) {
  const ApproverConfig* approver = config.FindApprover(approver_id);
  if (approver == nullptr) {
    return absl::PermissionDeniedError(Cat("approver_id: ", Clip(approver_id), " is not in the approver registry"));
  }
  if (!approver->subject.empty() && approver->subject != caller.subject) {
    return absl::PermissionDeniedError(
        Cat("approver_id: ", approver->id, " may be acted for only by the certificate with subject ",
            Clip(approver->subject, 100), " (the caller is ", Clip(caller.identity, 100), ")"));
  }
  if (!approver->san.empty() &&
      std::find(caller.sans.begin(), caller.sans.end(), approver->san) == caller.sans.end()) {
    return absl::PermissionDeniedError(Cat("approver_id: ", approver->id,
                                           " may be acted for only by a certificate with SAN ", Clip(approver->san, 100)));
  }
  return approver;
}

absl::Status VerifyApproval(const ApproverConfig& approver, const policy::ApprovalDigestBytes& digest,
                            std::string_view signature) {
  if (signature.size() != kEd25519SignatureLength) {
    return absl::PermissionDeniedError(Cat("signature: ", signature.size(), " bytes; an Ed25519 signature is 64"));
  }
  // crypto_sign_verify_detached refuses non-canonical S and small-order keys.
  if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()), digest.data(),
                                  digest.size(), approver.public_key.data()) != 0) {
    return absl::PermissionDeniedError(
        Cat("signature: does not verify under approver ", approver.id,
            "'s key over the digest of this request (forged, made for another request or wallet, or an old digest version)"));
  }
  return absl::OkStatus();
}

absl::Status RecordApproval(store::Txn& txn, const policy::Policy& policy, std::string_view group,
                            const ApproverConfig& approver, const policy::ApprovalDigestBytes& digest,
                            std::string_view signature, std::string_view target_id, std::string_view target_kind,
                            int64_t now_unix_ms) {
  const policy::ApproverGroup* found = policy.FindGroup(policy::GroupId(std::string(group)));
  if (found == nullptr ||
      !std::binary_search(found->members.begin(), found->members.end(), policy::PrincipalId(approver.id))) {
    return absl::PermissionDeniedError(
        Cat("approver_id: ", approver.id, " is not a member of approver group ", base::Clip(group)));
  }
  RF_RETURN_IF_ERROR(VerifyApproval(approver, digest, signature));
  store::ApprovalRow approval;
  approval.target_id = std::string(target_id);
  approval.target_kind = std::string(target_kind);
  approval.approver_id = approver.id;
  approval.signature = std::string(signature);
  approval.digest = std::string(digest.begin(), digest.end());
  approval.unix_ms = now_unix_ms;
  return txn.InsertApproval(approval);
}

std::string RequesterPrincipal(const Caller& caller, std::string_view requested_by) {
  if (!requested_by.empty()) return std::string(requested_by);
  std::string out = caller.identity.substr(0, kMaxPrincipalLength);
  for (char& c : out) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '@' || c == '-';
    if (!ok) c = '_';
  }
  if (out.empty()) out = "unknown";
  return out;
}

}  // namespace ringfence::custody

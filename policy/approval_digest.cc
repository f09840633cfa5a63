#include "policy/approval_digest.h"

#include <string_view>

#include "base/check.h"
#include "base/digest.h"

namespace ringfence::policy {

std::string_view RequestKindName(RequestKind kind) {
  switch (kind) {
    case RequestKind::kWithdrawal:
      return "withdrawal";
    case RequestKind::kSweep:
      return "sweep";
    case RequestKind::kTopUp:
      return "top_up";
    case RequestKind::kFeeReimbursement:
      return "fee_reimbursement";
    case RequestKind::kGasFunding:
      return "gas_funding";
  }
  RF_CHECK(false, "unknown RequestKind");
  return "";
}

std::optional<RequestKind> ParseRequestKind(std::string_view name) {
  for (RequestKind kind : {RequestKind::kWithdrawal, RequestKind::kSweep, RequestKind::kTopUp,
                           RequestKind::kFeeReimbursement, RequestKind::kGasFunding}) {
    if (RequestKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

absl::StatusOr<ApprovalDigestBytes> ApprovalDigest(const ApprovalSubject& s) {
  base::DigestBody body;
  body.Text("request_id", s.request_id);
  body.Text("kind", RequestKindName(s.kind));
  body.Text("source_wallet", s.source_wallet);
  body.Text("chain", s.chain);
  body.Text("network", s.network);
  body.Text("intent.asset", s.asset);
  body.U128(s.amount);
  body.Text("intent.destination", s.destination);
  body.U128(s.fee_cap);
  body.Time("expires_at", s.expires_at);
  if (!body.status().ok()) return body.status();
  return base::TaggedHash(kApprovalTag, body);
}

absl::StatusOr<ApprovalDigestBytes> WhitelistChangeDigest(const WhitelistChangeSubject& s) {
  base::DigestBody body;
  body.Text("change_id", s.change_id);
  body.Text("action", "add");
  body.Text("client_id", s.client_id);
  body.Text("asset", s.asset);
  body.Text("address", s.address);
  body.Time("expires_at", s.expires_at);
  if (!body.status().ok()) return body.status();
  return base::TaggedHash(kWhitelistChangeTag, body);
}

absl::StatusOr<ApprovalDigestBytes> FreezeLiftDigest(const FreezeLiftSubject& s) {
  base::DigestBody body;
  body.Text("freeze_id", s.freeze_id);
  body.Text("action", "lift");
  body.Text("asset", s.asset);
  body.Text("reason", s.reason);
  body.Text("details_sha256", s.details_sha256);
  body.U64(s.height);
  if (!body.status().ok()) return body.status();
  return base::TaggedHash(kFreezeLiftTag, body);
}

}  // namespace ringfence::policy

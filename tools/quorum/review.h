// What an approver reviews before signing: a withdrawal or a whitelist addition as custodyd
// sends it, turned into the digest quorum will sign and the text a person reads.
//
// custodyd is not trusted with the digest. The digest is computed here, with
// policy::ApprovalDigest / WhitelistChangeDigest, from the same fields the review shows (a
// withdrawal's top-level fields, plus the chain and network of its asset from ListAssets; a
// whitelist entry's id, client, asset, address and expiry), never from the digest_inputs or
// digest_hex custodyd sends beside them. Those two are compared with what was computed, and
// every difference is listed in `disagreements`: a custodyd that shows one thing and means
// another is lying, and quorum refuses to approve (docs/quorum.md).
//
// Pure functions of the messages and of the time given; thread-safe.
#ifndef RINGFENCE_TOOLS_QUORUM_REVIEW_H_
#define RINGFENCE_TOOLS_QUORUM_REVIEW_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "policy/approval_digest.h"
#include "proto/custody.pb.h"
#include "tools/quorum/amount_display.h"

namespace ringfence::quorum {

namespace v1 = ringfence::custody::v1;

enum class TargetKind { kWithdrawal, kWhitelistAddition, kAssetFreeze };

// An approval target id as custodyd makes them: "w_" (a withdrawal), "wl_" (a whitelist
// addition) or "fz_" (lifting an asset freeze) followed by 16 lowercase hex digits. InvalidArgument naming ID otherwise (the text
// quoted clipped).
absl::StatusOr<TargetKind> ParseTargetId(std::string_view id);

// A withdrawal as quorum will sign it.
struct WithdrawalReview {
  policy::ApprovalSubject subject;  // from the withdrawal's own fields and its asset's chain/network
  policy::ApprovalDigestBytes digest{};
  DisplayUnits units;               // the asset's decimals and the chain's native coin for the fee
  std::vector<std::string> disagreements;  // empty when custodyd's answer agrees with itself
};

// Reviews `withdrawal` with the assets of ListAssets. FailedPrecondition naming the field when
// the answer cannot be signed at all (its asset is not among `assets`, an amount is not
// canonical base units, the kind is unspecified, a field the digest needs is empty or too
// long): the message starts "custodyd's answer: ".
absl::StatusOr<WithdrawalReview> ReviewWithdrawal(const v1::Withdrawal& withdrawal,
                                                  const v1::ListAssetsResponse& assets);

// The differences between what quorum computed (`subject`, `digest`) and what custodyd sent
// beside it (`inputs`, `digest_hex`), one line per field, naming it and both values (clipped).
// Missing inputs or digest count as differences: the contract says custodyd always sends them.
// Empty when they agree.
std::vector<std::string> CompareApprovalDigest(const policy::ApprovalSubject& subject,
                                               const policy::ApprovalDigestBytes& digest, bool has_inputs,
                                               const v1::ApprovalDigestInputs& inputs, std::string_view digest_hex);

// A whitelist addition as quorum will sign it.
struct WhitelistReview {
  policy::WhitelistChangeSubject subject;
  policy::ApprovalDigestBytes digest{};
  std::string chain;    // of the entry's asset, from ListAssets ("" when not listed)
  std::string network;
  std::vector<std::string> disagreements;
};

// Reviews `entry`. FailedPrecondition as ReviewWithdrawal.
absl::StatusOr<WhitelistReview> ReviewWhitelistAddition(const v1::WhitelistEntry& entry,
                                                        const v1::ListAssetsResponse& assets);

// As CompareApprovalDigest for the whitelist-change digest, which custodyd sends as hex only.
std::vector<std::string> CompareWhitelistDigest(const policy::ApprovalDigestBytes& digest,
                                                std::string_view digest_hex);

// Lifting an asset freeze as quorum will sign it: the freeze-lift digest over the freeze's id,
// asset, reason, height and the SHA-256 of its details computed here from the details shown.
struct FreezeReview {
  policy::FreezeLiftSubject subject;
  policy::ApprovalDigestBytes digest{};
  std::vector<std::string> disagreements;  // custodyd's details_sha256 is not the details' hash
};

// Reviews `freeze`. FailedPrecondition as ReviewWithdrawal.
absl::StatusOr<FreezeReview> ReviewAssetFreeze(const v1::AssetFreeze& freeze);

// The text `quorum show` prints: every field an approver must see, amounts in display units
// with base units labelled, times in UTC with how long ago or how soon relative to `now_unix_s`,
// and last the digest to sign.
std::string RenderWithdrawalReview(const v1::Withdrawal& withdrawal, const WithdrawalReview& review,
                                   int64_t now_unix_s);
std::string RenderWhitelistReview(const v1::WhitelistEntry& entry, const WhitelistReview& review,
                                  int64_t now_unix_s);
std::string RenderFreezeReview(const v1::AssetFreeze& freeze, const FreezeReview& review, int64_t now_unix_s);

// The loud warning printed when `disagreements` is not empty.
std::string RenderDisagreements(std::string_view target_id, const std::vector<std::string>& disagreements);

// One line of `quorum pending`.
std::string RenderPendingLine(const v1::PendingApproval& pending, int64_t now_unix_s);

// "3d 04h 05m", "2h 00m", "59s": a span of seconds for a person (negative spans as positive).
std::string ShowSpan(int64_t seconds);

}  // namespace ringfence::quorum

#endif  // RINGFENCE_TOOLS_QUORUM_REVIEW_H_

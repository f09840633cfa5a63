#include "tools/quorum/review.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

#include "base/amount.h"
#include "base/hex.h"
#include "base/status.h"
#include "base/text.h"
#include "policy/config.h"
#include "policy/withdrawal.h"
#include "tools/custody_cli/render.h"

namespace ringfence::quorum {
namespace {

using base::Cat;
using base::Clip;

constexpr size_t kIdHexDigits = 16;

absl::Status BadAnswer(std::string_view field, std::string_view what) {
  return absl::FailedPreconditionError(Cat("custodyd's answer: ", field, ": ", what));
}

const v1::Asset* FindAsset(const v1::ListAssetsResponse& assets, std::string_view id) {
  for (const v1::Asset& a : assets.assets()) {
    if (a.asset_id() == id) return &a;
  }
  return nullptr;
}

std::optional<policy::RequestKind> KindOf(v1::RequestKind kind) {
  switch (kind) {
    case v1::REQUEST_KIND_WITHDRAWAL:
      return policy::RequestKind::kWithdrawal;
    case v1::REQUEST_KIND_SWEEP:
      return policy::RequestKind::kSweep;
    case v1::REQUEST_KIND_TOP_UP:
      return policy::RequestKind::kTopUp;
    case v1::REQUEST_KIND_FEE_REIMBURSEMENT:
      return policy::RequestKind::kFeeReimbursement;
    case v1::REQUEST_KIND_GAS_FUNDING:
      return policy::RequestKind::kGasFunding;
    default:
      return std::nullopt;
  }
}

absl::StatusOr<base::Amount> AmountField(std::string_view field, const std::string& text) {
  absl::StatusOr<base::Amount> amount = base::ParseBaseUnits(text);
  if (!amount.ok()) return BadAnswer(field, Cat(Clip(text), " is not base units (", amount.status().message(), ")"));
  return *amount;
}

// A digest error (an empty or oversized field) as the answer's fault.
absl::Status DigestRefused(const absl::Status& status) {
  return absl::FailedPreconditionError(Cat("custodyd's answer cannot be signed: ", status.message()));
}

void Differ(std::vector<std::string>* out, std::string_view field, std::string_view sent, std::string_view shown) {
  if (sent == shown) return;
  out->push_back(Cat(field, ": custodyd sent ", Clip(sent, 128), ", the fields shown give ", Clip(shown, 128)));
}

// "PENDING_APPROVAL" for WITHDRAWAL_STATE_PENDING_APPROVAL, lowercased with spaces.
std::string StateName(const std::string& enum_name, std::string_view prefix) {
  std::string name = enum_name.starts_with(prefix) ? enum_name.substr(prefix.size()) : enum_name;
  for (char& c : name) c = c == '_' ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::string ShowSeconds(int64_t unix_s) {
  if (unix_s <= 0) return "-";
  if (unix_s > policy::kMaxTimestamp) return Cat(unix_s, " (Unix seconds, after the year 9999)");
  return custody_cli::ShowTime(unix_s * 1000).substr(0, 19) + "Z";
}

// "2026-12-06T03:00:00Z (in 1d 00h 00m)" / "(3h 00m ago)".
std::string ShowWhen(int64_t unix_s, int64_t now_unix_s) {
  if (unix_s <= 0) return "-";
  const int64_t delta = unix_s - now_unix_s;
  return Cat(ShowSeconds(unix_s), delta > 0 ? Cat(" (in ", ShowSpan(delta), ")") : Cat(" (", ShowSpan(delta), " ago)"));
}

std::string Joined(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += Cat(out.empty() ? "" : ", ", item);
  return out.empty() ? "none" : out;
}

std::string Fields(const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t width = 0;
  for (const auto& [label, unused] : fields) width = std::max(width, label.size());
  std::string out;
  for (const auto& [label, value] : fields) out += Cat("  ", label, std::string(width - label.size() + 2, ' '), value, "\n");
  return out;
}

}  // namespace

std::string ShowSpan(int64_t seconds) {
  // Magnitude as unsigned: -INT64_MIN does not fit an int64_t.
  uint64_t s = seconds < 0 ? 0 - static_cast<uint64_t>(seconds) : static_cast<uint64_t>(seconds);
  const uint64_t days = s / 86400, hours = s % 86400 / 3600, minutes = s % 3600 / 60;
  auto two = [](uint64_t v) { return Cat(v < 10 ? "0" : "", v); };
  if (days > 0) return Cat(days, "d ", two(hours), "h ", two(minutes), "m");
  if (hours > 0) return Cat(hours, "h ", two(minutes), "m");
  if (minutes > 0) return Cat(minutes, "m ", two(s % 60), "s");
  return Cat(s, "s");
}

absl::StatusOr<TargetKind> ParseTargetId(std::string_view id) {
  TargetKind kind;
  std::string_view hex;
  if (id.starts_with("wl_")) {
    kind = TargetKind::kWhitelistAddition;
    hex = id.substr(3);
  } else if (id.starts_with("fz_")) {
    kind = TargetKind::kAssetFreeze;
    hex = id.substr(3);
  } else if (id.starts_with("w_")) {
    kind = TargetKind::kWithdrawal;
    hex = id.substr(2);
  } else {
    return absl::InvalidArgumentError(
        Cat("ID: ", Clip(id), " is not a withdrawal id (w_ + 16 hex digits), a whitelist entry id (wl_ + 16 hex digits) "
            "or an asset freeze id (fz_ + 16 hex digits)"));
  }
  const bool hex_ok = hex.size() == kIdHexDigits && std::all_of(hex.begin(), hex.end(), [](char c) {
                        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                      });
  if (!hex_ok) {
    const char* prefix = kind == TargetKind::kWithdrawal ? "w_" : kind == TargetKind::kAssetFreeze ? "fz_" : "wl_";
    return absl::InvalidArgumentError(Cat("ID: ", Clip(id), " must be ", prefix,
                                          " followed by 16 lowercase hex digits"));
  }
  return kind;
}

std::vector<std::string> CompareApprovalDigest(const policy::ApprovalSubject& subject,
                                               const policy::ApprovalDigestBytes& digest, bool has_inputs,
                                               const v1::ApprovalDigestInputs& inputs, std::string_view digest_hex) {
  std::vector<std::string> out;
  if (!has_inputs) {
    out.push_back("digest_inputs: custodyd sent none (the contract says it always does)");
  } else {
    Differ(&out, "digest_inputs.request_id", inputs.request_id(), subject.request_id);
    Differ(&out, "digest_inputs.kind", inputs.kind(), policy::RequestKindName(subject.kind));
    Differ(&out, "digest_inputs.source_wallet", inputs.source_wallet(), subject.source_wallet);
    Differ(&out, "digest_inputs.chain", inputs.chain(), subject.chain);
    Differ(&out, "digest_inputs.network", inputs.network(), subject.network);
    Differ(&out, "digest_inputs.asset", inputs.asset(), subject.asset);
    Differ(&out, "digest_inputs.amount", inputs.amount(), subject.amount.ToBaseUnitString());
    Differ(&out, "digest_inputs.destination", inputs.destination(), subject.destination);
    Differ(&out, "digest_inputs.fee_cap", inputs.fee_cap(), subject.fee_cap.ToBaseUnitString());
    Differ(&out, "digest_inputs.expires_at_unix_s", Cat(inputs.expires_at_unix_s()), Cat(subject.expires_at));
  }
  Differ(&out, "digest_hex", digest_hex, base::HexEncode(digest));
  return out;
}

std::vector<std::string> CompareWhitelistDigest(const policy::ApprovalDigestBytes& digest,
                                                std::string_view digest_hex) {
  std::vector<std::string> out;
  Differ(&out, "digest_hex", digest_hex, base::HexEncode(digest));
  return out;
}

absl::StatusOr<WithdrawalReview> ReviewWithdrawal(const v1::Withdrawal& w, const v1::ListAssetsResponse& assets) {
  WithdrawalReview review;
  const v1::Asset* asset = FindAsset(assets, w.asset_id());
  if (asset == nullptr) return BadAnswer("asset_id", Cat(Clip(w.asset_id()), " is not among ListAssets' assets"));
  absl::StatusOr<DisplayUnits> units =
      ResolveDisplayUnits(asset->chain(), asset->asset_id(), static_cast<int>(std::min<uint32_t>(asset->decimals(), 1000)));
  if (!units.ok()) return BadAnswer(Cat("ListAssets ", Clip(asset->asset_id())), std::string(units.status().message()));
  review.units = *std::move(units);
  const std::optional<policy::RequestKind> kind = KindOf(w.kind());
  if (!kind) return BadAnswer("kind", Cat(v1::RequestKind_Name(w.kind()), " is not a kind of request quorum approves"));

  policy::ApprovalSubject& s = review.subject;
  s.request_id = w.withdrawal_id();
  s.kind = *kind;
  s.source_wallet = w.source_wallet();
  s.chain = asset->chain();
  s.network = asset->network();
  s.asset = w.asset_id();
  RF_ASSIGN_OR_RETURN(s.amount, AmountField("amount", w.amount()));
  s.destination = w.destination();
  RF_ASSIGN_OR_RETURN(s.fee_cap, AmountField("fee_cap", w.fee_cap()));
  s.expires_at = w.expires_at_unix_s();
  absl::StatusOr<policy::ApprovalDigestBytes> digest = policy::ApprovalDigest(s);
  if (!digest.ok()) return DigestRefused(digest.status());
  review.digest = *digest;

  review.disagreements =
      CompareApprovalDigest(s, review.digest, w.has_digest_inputs(), w.digest_inputs(), w.digest_hex());
  // The display depends on these too: a withdrawal that names other decimals or another fee
  // unit than ListAssets would be shown one way and mean another.
  Differ(&review.disagreements, "decimals", Cat(w.decimals()), Cat(review.units.asset_decimals));
  Differ(&review.disagreements, "fee_asset", w.fee_asset(), review.units.fee_unit);
  return review;
}

absl::StatusOr<WhitelistReview> ReviewWhitelistAddition(const v1::WhitelistEntry& entry,
                                                        const v1::ListAssetsResponse& assets) {
  WhitelistReview review;
  const v1::Asset* asset = FindAsset(assets, entry.asset_id());
  if (asset == nullptr) return BadAnswer("asset_id", Cat(Clip(entry.asset_id()), " is not among ListAssets' assets"));
  review.chain = asset->chain();
  review.network = asset->network();
  review.subject.change_id = entry.entry_id();
  review.subject.client_id = entry.client_id();
  review.subject.asset = entry.asset_id();
  review.subject.address = entry.address();
  review.subject.expires_at = entry.expires_at_unix_s();
  absl::StatusOr<policy::ApprovalDigestBytes> digest = policy::WhitelistChangeDigest(review.subject);
  if (!digest.ok()) return DigestRefused(digest.status());
  review.digest = *digest;
  review.disagreements = CompareWhitelistDigest(review.digest, entry.digest_hex());
  return review;
}

absl::StatusOr<FreezeReview> ReviewAssetFreeze(const v1::AssetFreeze& freeze) {
  FreezeReview review;
  review.subject.freeze_id = freeze.freeze_id();
  review.subject.asset = freeze.asset_id();
  review.subject.reason = freeze.reason();
  review.subject.details_sha256 = policy::Sha256Hex(freeze.details());
  review.subject.height = freeze.height();
  absl::StatusOr<policy::ApprovalDigestBytes> digest = policy::FreezeLiftDigest(review.subject);
  if (!digest.ok()) return DigestRefused(digest.status());
  review.digest = *digest;
  if (freeze.details_sha256() != review.subject.details_sha256) {
    review.disagreements.push_back(Cat("details_sha256: custodyd sent ", Clip(freeze.details_sha256()),
                                       ", the details shown hash to ", review.subject.details_sha256));
  }
  return review;
}

std::string RenderWithdrawalReview(const v1::Withdrawal& w, const WithdrawalReview& r, int64_t now_unix_s) {
  const policy::ApprovalSubject& s = r.subject;
  std::string whitelist;
  if (s.kind != policy::RequestKind::kWithdrawal) {
    // An internal move pays another wallet of the clients or the house, which the signer
    // recognises from its own configuration; no client's whitelist applies.
    whitelist = Cat("not applicable: a ", policy::RequestKindName(s.kind),
                    " between Ringfence's own wallets (the signer checks the destination against its configuration)");
  } else if (w.whitelist_entry_id().empty()) {
    whitelist = "NOT on the client's whitelist (no entry named)";
  } else if (w.whitelist_approved_at_unix_s() <= 0) {
    whitelist = Cat("entry ", w.whitelist_entry_id(), ", NOT approved");
  } else {
    whitelist = Cat("entry ", w.whitelist_entry_id(), ", approved ", ShowSeconds(w.whitelist_approved_at_unix_s()),
                    ": whitelisted for ", ShowSpan(now_unix_s - w.whitelist_approved_at_unix_s()),
                    ", usable from ", ShowSeconds(w.whitelist_usable_from_unix_s()));
    if (now_unix_s < w.whitelist_approved_at_unix_s()) whitelist += " (approved in the future by this machine's clock)";
  }
  std::string approvals = Cat(w.approvals_size(), " of ", w.approvals_required(), " required");
  if (!w.approval_group().empty()) approvals += Cat(" (group ", w.approval_group(), ")");
  if (w.approvals_size() > 0) approvals += Cat(": ", Joined(w.approvals()));
  std::string expiry = ShowWhen(s.expires_at, now_unix_s);
  if (s.expires_at <= now_unix_s) expiry += ": EXPIRED, no approval can count";
  std::vector<std::pair<std::string, std::string>> fields = {
      {"state", StateName(v1::WithdrawalState_Name(w.state()), "WITHDRAWAL_STATE_")},
      {"kind", std::string(policy::RequestKindName(s.kind))},
      {"client", w.client_id().empty() ? std::string("none (an internal move of client holdings)") : w.client_id()},
      {"asset", Cat(s.asset, " on ", s.chain, "/", s.network)},
      {"amount", base::FormatLabelledAmount(s.amount, r.units.asset_decimals, s.asset)},
      {"destination", s.destination},
      {"whitelisted", whitelist},
      {"source wallet", s.source_wallet},
      {"fee cap", base::FormatLabelledAmount(s.fee_cap, r.units.fee_decimals, r.units.fee_unit)},
      {"fee paid by", w.fee_charged_to_client() ? "the client (held beside the amount)" : "the house"},
      {"expires", expiry},
      {"not before", ShowSeconds(w.not_before_unix_s())},
      {"requester", w.requester()},
      {"created", ShowWhen(w.created_unix_ms() / 1000, now_unix_s)},
      {"policy", Cat(w.policy_hash().empty() ? "-" : w.policy_hash(), ", decision ", w.decision_id())},
      {"matched rules", Joined(w.matched_rules())},
      {"approvals", approvals},
  };
  if (!w.reason().empty()) fields.push_back({"reason", w.reason()});
  return Cat("withdrawal ", s.request_id, "\n", Fields(fields), "\ndigest to sign (", policy::kApprovalTag,
             ", computed by quorum from the fields above):\n  ", base::HexEncode(r.digest), "\n");
}

std::string RenderWhitelistReview(const v1::WhitelistEntry& e, const WhitelistReview& r, int64_t now_unix_s) {
  std::string approvals = Cat(e.approvals_size(), " of ", e.approvals_required(), " required");
  if (!e.approval_group().empty()) approvals += Cat(" (group ", e.approval_group(), ")");
  if (e.approvals_size() > 0) approvals += Cat(": ", Joined(e.approvals()));
  std::string expiry = ShowWhen(e.expires_at_unix_s(), now_unix_s);
  if (e.expires_at_unix_s() <= now_unix_s) expiry += ": EXPIRED, no approval can count";
  std::vector<std::pair<std::string, std::string>> fields = {
      {"state", StateName(v1::WhitelistState_Name(e.state()), "WHITELIST_STATE_")},
      {"action", "add the address to the client's whitelist for the asset"},
      {"client", e.client_id()},
      {"asset", r.chain.empty() ? e.asset_id() : Cat(e.asset_id(), " on ", r.chain, "/", r.network)},
      {"address", e.address()},
      {"label", e.label().empty() ? "-" : e.label()},
      {"expires", expiry},
      {"requester", e.requester()},
      {"created", ShowWhen(e.created_unix_ms() / 1000, now_unix_s)},
      {"policy", e.policy_hash().empty() ? "-" : e.policy_hash()},
      {"approvals", approvals},
  };
  return Cat("whitelist addition ", e.entry_id(), "\n", Fields(fields), "\ndigest to sign (", policy::kWhitelistChangeTag,
             ", computed by quorum from the fields above):\n  ", base::HexEncode(r.digest), "\n");
}

std::string RenderFreezeReview(const v1::AssetFreeze& f, const FreezeReview& r, int64_t now_unix_s) {
  std::string approvals = Cat(f.approved_by_size(), " of ", f.approvals_required(), " required");
  if (!f.approval_group().empty()) approvals += Cat(" (group ", f.approval_group(), ")");
  if (f.approved_by_size() > 0) approvals += Cat(": ", Joined(f.approved_by()));
  std::vector<std::pair<std::string, std::string>> fields = {
      {"state", f.state()},
      {"action", "lift the freeze: outgoing movements of the asset resume, and what it froze on is accepted"},
      {"asset", f.asset_id()},
      {"reason", f.reason()},
      {"height", Cat(f.height())},
      {"frozen", ShowWhen(f.created_unix_ms() / 1000, now_unix_s)},
      {"details", f.details()},
      {"details sha256", r.subject.details_sha256},
      {"approvals", approvals},
  };
  return Cat("asset freeze ", f.freeze_id(), "\n", Fields(fields), "\ndigest to sign (", policy::kFreezeLiftTag,
             ", computed by quorum from the fields above):\n  ", base::HexEncode(r.digest), "\n");
}

std::string RenderDisagreements(std::string_view target_id, const std::vector<std::string>& disagreements) {
  std::string out = Cat(
      "\n!!! WARNING: custodyd's answer for ", target_id,
      " disagrees with itself !!!\n"
      "!!! What it would have approvers sign is not what it shows. Do NOT approve; report this custodyd. !!!\n");
  for (const std::string& d : disagreements) out += Cat("!!!   ", d, "\n");
  return out;
}

std::string RenderPendingLine(const v1::PendingApproval& p, int64_t now_unix_s) {
  if (p.kind() == v1::APPROVAL_TARGET_KIND_WHITELIST_ADD) {
    const v1::WhitelistEntry& e = p.whitelist_entry();
    return Cat(e.entry_id(), "  whitelist-add  ", e.client_id(), "  ", e.asset_id(), "  ", e.address(), "  approvals ",
               e.approvals_size(), "/", e.approvals_required(), "  expires ", ShowWhen(e.expires_at_unix_s(), now_unix_s),
               "\n");
  }
  if (p.kind() == v1::APPROVAL_TARGET_KIND_WITHDRAWAL) {
    const v1::Withdrawal& w = p.withdrawal();
    return Cat(w.withdrawal_id(), "  ", StateName(v1::RequestKind_Name(w.kind()), "REQUEST_KIND_"), "  ", w.client_id(),
               "  ", custody_cli::ShowAmount(w.amount(), w.decimals(), w.asset_id()), "  to ", w.destination(),
               "  approvals ", w.approvals_size(), "/", w.approvals_required(), "  expires ",
               ShowWhen(w.expires_at_unix_s(), now_unix_s), "\n");
  }
  if (p.kind() == v1::APPROVAL_TARGET_KIND_ASSET_FREEZE) {
    const v1::AssetFreeze& f = p.asset_freeze();
    return Cat(f.freeze_id(), "  lift-freeze  ", f.asset_id(), "  ", f.reason(), "  at height ", f.height(),
               "  approvals ", f.approved_by_size(), "/", f.approvals_required(), "  frozen ",
               ShowWhen(f.created_unix_ms() / 1000, now_unix_s), "\n");
  }
  return Cat("(an approval of unknown kind ", static_cast<int>(p.kind()), ")\n");
}

}  // namespace ringfence::quorum

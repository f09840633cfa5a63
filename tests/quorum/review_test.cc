// tools/quorum/review: the digest quorum computes from what it shows, and the comparison that
// catches a custodyd whose digest_inputs or digest_hex disagree with the fields it shows (the
// real custodyd never lies, so the tampered answers are made here). The honest answers are the
// worked examples of docs/approval-digest.md, so the expected digests are independent of the
// code under test.
#include "tools/quorum/review.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "base/hex.h"

namespace ringfence::quorum {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

// docs/approval-digest.md, "Approval digest v2", example.
constexpr char kExampleDigest[] = "1bb8a3ec49e708275bab7a17376b619b1a3a06597a1acbf43c4bc2e511299759";
// docs/approval-digest.md, "Whitelist-change digest v1", example.
constexpr char kExampleWhitelistDigest[] = "5c371fe33ea6979603f040b68d4339d4dcf72142ca9556c95a40106810a6b538";
constexpr int64_t kExpires = 1800000000;

v1::ListAssetsResponse Assets() {
  v1::ListAssetsResponse r;
  v1::Asset* btc = r.add_assets();
  btc->set_asset_id("BTC");
  btc->set_chain("bitcoin");
  btc->set_network("regtest");
  btc->set_decimals(8);
  v1::Asset* eth = r.add_assets();
  eth->set_asset_id("ETH");
  eth->set_chain("ethereum");
  eth->set_network("dev");
  eth->set_decimals(18);
  v1::Asset* usdc = r.add_assets();
  usdc->set_asset_id("USDC-ETH");
  usdc->set_chain("ethereum");
  usdc->set_network("dev");
  usdc->set_decimals(6);
  return r;
}

// The example of docs/approval-digest.md as an honest custodyd would send it.
v1::Withdrawal Honest() {
  v1::Withdrawal w;
  w.set_withdrawal_id("wd-1");
  w.set_client_id("c_0123456789abcdef");
  w.set_asset_id("BTC");
  w.set_amount("100000");
  w.set_decimals(8);
  w.set_destination("bcrt1qexample");
  w.set_whitelist_entry_id("wl_00000000000000aa");
  w.set_whitelist_approved_at_unix_s(kExpires - 3 * 86400 - 4 * 3600);
  w.set_whitelist_usable_from_unix_s(kExpires - 2 * 86400);
  w.set_source_wallet("client-btc-hot");
  w.set_kind(v1::REQUEST_KIND_WITHDRAWAL);
  w.set_fee_cap("1000");
  w.set_fee_asset("BTC");
  w.set_fee_charged_to_client(true);
  w.set_expires_at_unix_s(kExpires);
  w.add_matched_rules("assets.BTC.max_per_withdrawal");
  w.add_matched_rules("assets.BTC.approvals.tiers[1]");
  w.add_approvals("alice");
  w.set_approvals_required(2);
  w.set_approval_group("ops");
  w.set_state(v1::WITHDRAWAL_STATE_PENDING_APPROVAL);
  w.set_requester("platform");
  v1::ApprovalDigestInputs* in = w.mutable_digest_inputs();
  in->set_request_id("wd-1");
  in->set_kind("withdrawal");
  in->set_source_wallet("client-btc-hot");
  in->set_chain("bitcoin");
  in->set_network("regtest");
  in->set_asset("BTC");
  in->set_amount("100000");
  in->set_destination("bcrt1qexample");
  in->set_fee_cap("1000");
  in->set_expires_at_unix_s(kExpires);
  w.set_digest_hex(kExampleDigest);
  return w;
}

TEST(ParseTargetId, WithdrawalAndWhitelistIds) {
  EXPECT_EQ(*ParseTargetId("w_0123456789abcdef"), TargetKind::kWithdrawal);
  EXPECT_EQ(*ParseTargetId("wl_0123456789abcdef"), TargetKind::kWhitelistAddition);
  EXPECT_EQ(*ParseTargetId("fz_0123456789abcdef"), TargetKind::kAssetFreeze);
  for (const std::string bad : {"fz_0123456789abcde", "fz_0123456789ABCDEF", "fz0123456789abcdef"}) {
    EXPECT_EQ(ParseTargetId(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

// The freeze-lift digest is computed from the details shown (docs/approval-digest.md's
// example), and a details_sha256 that is not their hash is a disagreement.
TEST(ReviewAssetFreeze, DigestFromTheShownDetailsAndATamperedHashIsCaught) {
  v1::AssetFreeze f;
  f.set_freeze_id("fz-1");
  f.set_asset_id("BTC");
  f.set_reason("unknown_transfer");
  f.set_details(R"({"block_hash":"00","height":7})");
  f.set_details_sha256("281132bd93dd0f21db29e0b525fe0bf38a67a828ca07f757fc4569ea89baf3a3");
  f.set_height(120);
  f.set_approvals_required(2);
  f.set_approval_group("ops");
  absl::StatusOr<FreezeReview> review = ReviewAssetFreeze(f);
  ASSERT_TRUE(review.ok()) << review.status();
  EXPECT_EQ(base::HexEncode(review->digest), "de3b4f5f604f251f7aa6f25907223cbce79b4473d6385ca11321b5a4f4d5f2a1");
  EXPECT_TRUE(review->disagreements.empty());
  const std::string text = RenderFreezeReview(f, *review, 0);
  EXPECT_THAT(text, HasSubstr("asset freeze fz-1"));
  EXPECT_THAT(text, HasSubstr("de3b4f5f604f251f7aa6f25907223cbce79b4473d6385ca11321b5a4f4d5f2a1"));
  f.set_details(R"({"block_hash":"00","height":8})");
  review = ReviewAssetFreeze(f);
  ASSERT_TRUE(review.ok());
  EXPECT_NE(base::HexEncode(review->digest), "de3b4f5f604f251f7aa6f25907223cbce79b4473d6385ca11321b5a4f4d5f2a1");
  ASSERT_EQ(review->disagreements.size(), 1u);
  EXPECT_THAT(review->disagreements[0], StartsWith("details_sha256: "));
  f.set_reason("");
  EXPECT_EQ(ReviewAssetFreeze(f).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ParseTargetId, MalformedIdsAreRefusedNamingId) {
  for (const std::string bad :
       {"", "w_", "wl_", "w_0123456789abcde", "w_0123456789abcdef0", "w_0123456789ABCDEF", "w_0123456789abcdeg",
        "wl_0123456789abcde", "x_0123456789abcdef", "W_0123456789abcdef", "w-0123456789abcdef", "wl0123456789abcdef",
        "w_-123456789abcdef", "w_0123456789abcdef\n", " w_0123456789abcdef", "c_0123456789abcdef"}) {
    absl::StatusOr<TargetKind> kind = ParseTargetId(bad);
    ASSERT_FALSE(kind.ok()) << "'" << bad << "'";
    EXPECT_EQ(kind.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(kind.status().message()), StartsWith("ID: ")) << bad;
  }
}

TEST(ParseTargetId, OversizedIdIsQuotedClipped) {
  const std::string huge = "w_" + std::string(100000, 'a');
  absl::StatusOr<TargetKind> kind = ParseTargetId(huge);
  ASSERT_FALSE(kind.ok());
  EXPECT_LT(kind.status().message().size(), 400u);
}

TEST(ReviewWithdrawal, HonestAnswerGivesTheDocumentedDigestAndNoDisagreement) {
  absl::StatusOr<WithdrawalReview> r = ReviewWithdrawal(Honest(), Assets());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(base::HexEncode(r->digest), kExampleDigest);
  EXPECT_THAT(r->disagreements, IsEmpty());
  EXPECT_EQ(r->subject.chain, "bitcoin");
  EXPECT_EQ(r->subject.network, "regtest");
  EXPECT_EQ(r->units.fee_unit, "BTC");
}

// Each digest input custodyd sends that differs from the fields shown is a disagreement naming
// that input; so is a digest_hex that is not the digest computed.
TEST(ReviewWithdrawal, EveryTamperedDigestInputIsADisagreementNamingIt) {
  struct Case {
    const char* field;
    void (*tamper)(v1::ApprovalDigestInputs*);
  };
  const Case cases[] = {
      {"digest_inputs.request_id", [](v1::ApprovalDigestInputs* i) { i->set_request_id("wd-2"); }},
      {"digest_inputs.kind", [](v1::ApprovalDigestInputs* i) { i->set_kind("sweep"); }},
      {"digest_inputs.source_wallet", [](v1::ApprovalDigestInputs* i) { i->set_source_wallet("house-btc-hot"); }},
      {"digest_inputs.chain", [](v1::ApprovalDigestInputs* i) { i->set_chain("ethereum"); }},
      {"digest_inputs.network", [](v1::ApprovalDigestInputs* i) { i->set_network("mainnet"); }},
      {"digest_inputs.asset", [](v1::ApprovalDigestInputs* i) { i->set_asset("ETH"); }},
      {"digest_inputs.amount", [](v1::ApprovalDigestInputs* i) { i->set_amount("10000000"); }},
      {"digest_inputs.destination", [](v1::ApprovalDigestInputs* i) { i->set_destination("bcrt1qattacker"); }},
      {"digest_inputs.fee_cap", [](v1::ApprovalDigestInputs* i) { i->set_fee_cap("1001"); }},
      {"digest_inputs.expires_at_unix_s", [](v1::ApprovalDigestInputs* i) { i->set_expires_at_unix_s(kExpires + 1); }},
  };
  for (const Case& c : cases) {
    v1::Withdrawal w = Honest();
    c.tamper(w.mutable_digest_inputs());
    absl::StatusOr<WithdrawalReview> r = ReviewWithdrawal(w, Assets());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(base::HexEncode(r->digest), kExampleDigest) << c.field << ": the digest must come from the fields shown";
    ASSERT_THAT(r->disagreements, SizeIs(1)) << c.field;
    EXPECT_THAT(r->disagreements[0], StartsWith(std::string(c.field) + ": custodyd sent \""));
  }
}

TEST(ReviewWithdrawal, TamperedOrMissingDigestHexIsADisagreement) {
  v1::Withdrawal w = Honest();
  std::string other = kExampleDigest;
  other[63] = other[63] == '0' ? '1' : '0';
  w.set_digest_hex(other);
  absl::StatusOr<WithdrawalReview> r = ReviewWithdrawal(w, Assets());
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->disagreements, ElementsAre(AllOf(StartsWith("digest_hex: "), HasSubstr(kExampleDigest))));

  w.set_digest_hex(std::string(kExampleDigest).substr(0, 62));
  EXPECT_THAT(ReviewWithdrawal(w, Assets())->disagreements, SizeIs(1));
  // Uppercase hex of the right digest is not what the contract promises either.
  std::string upper = kExampleDigest;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  w.set_digest_hex(upper);
  EXPECT_THAT(ReviewWithdrawal(w, Assets())->disagreements, SizeIs(1));
  w.clear_digest_hex();
  EXPECT_THAT(ReviewWithdrawal(w, Assets())->disagreements, ElementsAre(StartsWith("digest_hex: ")));
}

TEST(ReviewWithdrawal, MissingDigestInputsIsADisagreement) {
  v1::Withdrawal w = Honest();
  w.clear_digest_inputs();
  absl::StatusOr<WithdrawalReview> r = ReviewWithdrawal(w, Assets());
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->disagreements, ElementsAre(StartsWith("digest_inputs: custodyd sent none")));
}

// The lie the check exists for: custodyd shows one amount and destination but would have the
// approvers sign another. quorum's digest follows what is shown; digest_inputs and digest_hex
// then disagree with it.
TEST(ReviewWithdrawal, ShownFieldsDifferingFromTheDigestInputsAreCaught) {
  v1::Withdrawal w = Honest();
  w.set_amount("1000");  // shown: 0.00001 BTC; digest inputs and hex still say 100000
  w.set_destination("bcrt1qshown");
  absl::StatusOr<WithdrawalReview> r = ReviewWithdrawal(w, Assets());
  ASSERT_TRUE(r.ok());
  EXPECT_NE(base::HexEncode(r->digest), kExampleDigest);
  EXPECT_THAT(r->disagreements, ElementsAre(StartsWith("digest_inputs.amount: custodyd sent \"100000\", the fields shown give \"1000\""),
                                            StartsWith("digest_inputs.destination: "), StartsWith("digest_hex: ")));
}

TEST(ReviewWithdrawal, DecimalsOrFeeAssetDifferentFromListAssetsIsADisagreement) {
  v1::Withdrawal w = Honest();
  w.set_decimals(6);
  EXPECT_THAT(ReviewWithdrawal(w, Assets())->disagreements, ElementsAre(StartsWith("decimals: custodyd sent \"6\"")));
  w = Honest();
  w.set_fee_asset("ETH");
  EXPECT_THAT(ReviewWithdrawal(w, Assets())->disagreements, ElementsAre(StartsWith("fee_asset: ")));
}

TEST(ReviewWithdrawal, UnsignableAnswersAreRefusedNamingTheField) {
  struct Case {
    const char* expect;
    void (*tamper)(v1::Withdrawal*);
  };
  const Case cases[] = {
      {"asset_id", [](v1::Withdrawal* w) { w->set_asset_id("DOGE"); }},
      {"kind", [](v1::Withdrawal* w) { w->set_kind(v1::REQUEST_KIND_UNSPECIFIED); }},
      {"amount", [](v1::Withdrawal* w) { w->set_amount("-1"); }},
      {"amount", [](v1::Withdrawal* w) { w->set_amount("1.5"); }},
      {"amount", [](v1::Withdrawal* w) { w->set_amount("0100"); }},
      {"amount", [](v1::Withdrawal* w) { w->set_amount(""); }},
      {"amount", [](v1::Withdrawal* w) { w->set_amount("340282366920938463463374607431768211456"); }},
      {"fee_cap", [](v1::Withdrawal* w) { w->set_fee_cap("1e3"); }},
      {"destination", [](v1::Withdrawal* w) { w->set_destination(""); }},
      {"destination", [](v1::Withdrawal* w) { w->set_destination(std::string(257, 'x')); }},
      {"source_wallet", [](v1::Withdrawal* w) { w->set_source_wallet(""); }},
      {"request_id", [](v1::Withdrawal* w) { w->set_withdrawal_id(""); }},
      {"expires_at", [](v1::Withdrawal* w) { w->set_expires_at_unix_s(-1); }},
      {"expires_at", [](v1::Withdrawal* w) { w->set_expires_at_unix_s(std::numeric_limits<int64_t>::max()); }},
  };
  for (const Case& c : cases) {
    v1::Withdrawal w = Honest();
    c.tamper(&w);
    absl::StatusOr<WithdrawalReview> r = ReviewWithdrawal(w, Assets());
    ASSERT_FALSE(r.ok()) << c.expect;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << c.expect;
    EXPECT_THAT(std::string(r.status().message()), AllOf(StartsWith("custodyd's answer"), HasSubstr(c.expect)));
    EXPECT_LT(r.status().message().size(), 400u) << c.expect;
  }
}

TEST(ReviewWithdrawal, ShowPrintsDisplayUnitsWhitelistAgeRulesApprovalsAndTheDigest) {
  const v1::Withdrawal w = Honest();
  absl::StatusOr<WithdrawalReview> r = ReviewWithdrawal(w, Assets());
  ASSERT_TRUE(r.ok());
  const int64_t now = kExpires - 3600;
  const std::string text = RenderWithdrawalReview(w, *r, now);
  EXPECT_THAT(text, HasSubstr("withdrawal wd-1\n"));
  EXPECT_THAT(text, HasSubstr("0.001 BTC (100000 base units)"));
  EXPECT_THAT(text, HasSubstr("0.00001 BTC (1000 base units)"));
  EXPECT_THAT(text, HasSubstr("BTC on bitcoin/regtest"));
  EXPECT_THAT(text, HasSubstr("bcrt1qexample"));
  EXPECT_THAT(text, HasSubstr("client-btc-hot"));
  EXPECT_THAT(text, HasSubstr("c_0123456789abcdef"));
  // Approved 3d 04h before the expiry, viewed an hour before it.
  EXPECT_THAT(text, HasSubstr("entry wl_00000000000000aa, approved 2027-01-12T04:00:00Z: whitelisted for 3d 03h 00m"));
  EXPECT_THAT(text, HasSubstr("2027-01-15T08:00:00Z (in 1h 00m)"));
  EXPECT_THAT(text, HasSubstr("assets.BTC.max_per_withdrawal, assets.BTC.approvals.tiers[1]"));
  EXPECT_THAT(text, HasSubstr("1 of 2 required (group ops): alice"));
  EXPECT_THAT(text, HasSubstr("pending approval"));
  EXPECT_THAT(text, HasSubstr(std::string("\n  ") + kExampleDigest + "\n"));
  EXPECT_THAT(text, Not(HasSubstr("EXPIRED")));

  EXPECT_THAT(RenderWithdrawalReview(w, *r, kExpires), HasSubstr("EXPIRED"));
  v1::Withdrawal unlisted = w;
  unlisted.clear_whitelist_entry_id();
  EXPECT_THAT(RenderWithdrawalReview(unlisted, *r, now), HasSubstr("NOT on the client's whitelist"));
}

TEST(ReviewWithdrawal, TokenAmountInItsDecimalsAndFeeCapInTheChainsCoin) {
  v1::Withdrawal w = Honest();
  w.set_asset_id("USDC-ETH");
  w.set_decimals(6);
  w.set_amount("1500000");
  w.set_fee_cap("1000000000000000");
  w.set_fee_asset("ETH");
  w.set_destination("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
  w.clear_digest_inputs();
  absl::StatusOr<WithdrawalReview> r = ReviewWithdrawal(w, Assets());
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string text = RenderWithdrawalReview(w, *r, kExpires - 10);
  EXPECT_THAT(text, HasSubstr("1.5 USDC-ETH (1500000 base units)"));
  EXPECT_THAT(text, HasSubstr("0.001 ETH (1000000000000000 base units)"));
  EXPECT_THAT(text, HasSubstr("USDC-ETH on ethereum/dev"));
}

TEST(ReviewWhitelistAddition, HonestAnswerGivesTheDocumentedDigest) {
  v1::WhitelistEntry e;
  e.set_entry_id("wl-7");
  e.set_client_id("acme");
  e.set_asset_id("BTC");
  e.set_address("bcrt1qexample");
  e.set_label("cold storage at the platform");
  e.set_expires_at_unix_s(kExpires);
  e.set_approvals_required(2);
  e.set_approval_group("ops");
  e.set_state(v1::WHITELIST_STATE_PENDING_APPROVAL);
  e.set_digest_hex(kExampleWhitelistDigest);
  absl::StatusOr<WhitelistReview> r = ReviewWhitelistAddition(e, Assets());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(base::HexEncode(r->digest), kExampleWhitelistDigest);
  EXPECT_THAT(r->disagreements, IsEmpty());
  const std::string text = RenderWhitelistReview(e, *r, kExpires - 60);
  EXPECT_THAT(text, HasSubstr("whitelist addition wl-7\n"));
  EXPECT_THAT(text, HasSubstr("BTC on bitcoin/regtest"));
  EXPECT_THAT(text, HasSubstr("cold storage at the platform"));
  EXPECT_THAT(text, HasSubstr("0 of 2 required (group ops)"));
  EXPECT_THAT(text, HasSubstr(std::string("\n  ") + kExampleWhitelistDigest + "\n"));

  // The address shown is not the one custodyd's digest was made for.
  e.set_address("bcrt1qattacker");
  r = ReviewWhitelistAddition(e, Assets());
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->disagreements, ElementsAre(StartsWith("digest_hex: ")));
  e.clear_digest_hex();
  EXPECT_THAT(ReviewWhitelistAddition(e, Assets())->disagreements, SizeIs(1));
  e.set_address("");
  EXPECT_EQ(ReviewWhitelistAddition(e, Assets()).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(RenderDisagreements, IsLoudAndListsEachDifference) {
  const std::string text = RenderDisagreements("w_0123456789abcdef", {"digest_hex: a", "digest_inputs.amount: b"});
  EXPECT_THAT(text, HasSubstr("WARNING"));
  EXPECT_THAT(text, HasSubstr("Do NOT approve"));
  EXPECT_THAT(text, HasSubstr("digest_hex: a\n"));
  EXPECT_THAT(text, HasSubstr("digest_inputs.amount: b\n"));
}

TEST(ShowSpan, ReadableAtEveryScale) {
  EXPECT_EQ(ShowSpan(0), "0s");
  EXPECT_EQ(ShowSpan(59), "59s");
  EXPECT_EQ(ShowSpan(61), "1m 01s");
  EXPECT_EQ(ShowSpan(3600), "1h 00m");
  EXPECT_EQ(ShowSpan(90061), "1d 01h 01m");
  EXPECT_EQ(ShowSpan(-90061), "1d 01h 01m");
  EXPECT_THAT(ShowSpan(std::numeric_limits<int64_t>::min()), HasSubstr("d "));
}

TEST(RenderPendingLine, OneLineInDisplayUnits) {
  v1::PendingApproval p;
  p.set_kind(v1::APPROVAL_TARGET_KIND_WITHDRAWAL);
  *p.mutable_withdrawal() = Honest();
  const std::string line = RenderPendingLine(p, kExpires - 60);
  EXPECT_THAT(line, HasSubstr("wd-1"));
  EXPECT_THAT(line, HasSubstr("0.001 BTC (100000 base units)"));
  EXPECT_THAT(line, HasSubstr("approvals 1/2"));
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

}  // namespace
}  // namespace ringfence::quorum

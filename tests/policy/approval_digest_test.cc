// The approval digest v2 and the whitelist-change digest (docs/approval-digest.md): every field
// enters them, text fields and times are bounded, the document's worked examples give the
// digests it states, and digests and Ed25519 signatures over them agree with
// tests/policy/check_approval_digest.py, an independent implementation of the document
// (hashlib + PyNaCl).
#include "policy/approval_digest.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/hex.h"
#include "policy/withdrawal.h"
#include "tests/common/temp_dir.h"

namespace ringfence::policy {
namespace {

using ::testing::HasSubstr;

ApprovalSubject BaseSubject() {
  ApprovalSubject s;
  s.request_id = "wd-1";
  s.kind = RequestKind::kWithdrawal;
  s.source_wallet = "client-btc-hot";
  s.chain = "bitcoin";
  s.network = "regtest";
  s.asset = "BTC";
  s.amount = base::Amount(100000);
  s.destination = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
  s.fee_cap = base::Amount(1000);
  s.expires_at = 1800000000;
  return s;
}

WhitelistChangeSubject BaseChange() {
  WhitelistChangeSubject s;
  s.change_id = "wl-7";
  s.client_id = "acme";
  s.asset = "BTC";
  s.address = "bcrt1qexample";
  s.expires_at = 1800000000;
  return s;
}

std::array<uint8_t, 32> Sha256(std::string_view bytes) {
  std::array<uint8_t, 32> out;
  crypto_hash_sha256(out.data(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return out;
}

// SHA-256(T || T || body), T = SHA-256(tag), written out here from the document.
std::array<uint8_t, 32> TaggedHashOf(const char* tag_text, const std::vector<uint8_t>& body) {
  const auto tag = Sha256(tag_text);
  std::string message(reinterpret_cast<const char*>(tag.data()), tag.size());
  message.append(message);
  message.append(reinterpret_cast<const char*>(body.data()), body.size());
  return Sha256(message);
}

TEST(ApprovalDigestTest, TagsAreTheDocumentedOnes) {
  EXPECT_STREQ(kApprovalTag, "ringfence/approval/v2");
  EXPECT_STREQ(kWhitelistChangeTag, "ringfence/whitelist/v1");
  EXPECT_STREQ(kFreezeLiftTag, "ringfence/freeze-lift/v1");
}

TEST(ApprovalDigestTest, EveryFieldChangesTheDigest) {
  const auto base = *ApprovalDigest(BaseSubject());
  std::vector<ApprovalSubject> variants(16, BaseSubject());
  variants[0].request_id = "wd-2";
  variants[1].chain = "ethereum";
  variants[2].network = "testnet";
  variants[3].asset = "ETH";
  variants[4].amount = base::Amount(100001);
  variants[5].destination = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt081";
  variants[6].fee_cap = base::Amount(1001);
  // Moving a byte between adjacent text fields must not give the same digest.
  variants[7].request_id = "wd-1c";
  variants[7].source_wallet = "lient-btc-hot";
  variants[8].amount = base::Amount(base::Uint128{100000} << 64);
  variants[9].kind = RequestKind::kSweep;
  variants[10].kind = RequestKind::kTopUp;
  variants[11].kind = RequestKind::kFeeReimbursement;
  variants[12].source_wallet = "client-btc-cold";
  variants[13].expires_at = 1800000001;
  variants[14].expires_at = 0;
  variants[15].expires_at = kMaxTimestamp;
  std::set<ApprovalDigestBytes> seen = {base};
  for (size_t i = 0; i < variants.size(); ++i) {
    const auto d = ApprovalDigest(variants[i]);
    ASSERT_TRUE(d.ok()) << "variant " << i << ": " << d.status();
    EXPECT_TRUE(seen.insert(*d).second) << "variant " << i << " repeats a digest";
  }
}

TEST(ApprovalDigestTest, RefusesEmptyAndOversizedFieldsNamingThem) {
  auto s = BaseSubject();
  s.request_id = "";
  EXPECT_EQ(ApprovalDigest(s).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ApprovalDigest(s).status().message()), HasSubstr("request_id"));
  s = BaseSubject();
  s.source_wallet = "";
  EXPECT_THAT(std::string(ApprovalDigest(s).status().message()), HasSubstr("source_wallet"));
  s.source_wallet = std::string(kMaxApprovalFieldBytes + 1, 'w');
  EXPECT_THAT(std::string(ApprovalDigest(s).status().message()), HasSubstr("source_wallet"));
  s = BaseSubject();
  s.destination = std::string(kMaxApprovalFieldBytes + 1, 'a');
  EXPECT_THAT(std::string(ApprovalDigest(s).status().message()), HasSubstr("intent.destination"));
  s.destination = std::string(kMaxApprovalFieldBytes, 'a');
  EXPECT_TRUE(ApprovalDigest(s).ok());
}

TEST(ApprovalDigestTest, RefusesTimesOutsideTheRange) {
  for (int64_t t : {int64_t{-1}, kMaxTimestamp + 1, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max()}) {
    auto s = BaseSubject();
    s.expires_at = t;
    EXPECT_EQ(ApprovalDigest(s).status().code(), absl::StatusCode::kInvalidArgument) << t;
    EXPECT_THAT(std::string(ApprovalDigest(s).status().message()), HasSubstr("expires_at")) << t;
    auto c = BaseChange();
    c.expires_at = t;
    EXPECT_THAT(std::string(WhitelistChangeDigest(c).status().message()), HasSubstr("expires_at")) << t;
  }
}

TEST(ApprovalDigestTest, KindNamesRoundTripAndUnknownNamesAreRefused) {
  for (RequestKind k : {RequestKind::kWithdrawal, RequestKind::kSweep, RequestKind::kTopUp,
                        RequestKind::kFeeReimbursement}) {
    EXPECT_EQ(ParseRequestKind(RequestKindName(k)), k);
  }
  EXPECT_EQ(RequestKindName(RequestKind::kTopUp), "top_up");
  EXPECT_EQ(RequestKindName(RequestKind::kFeeReimbursement), "fee_reimbursement");
  for (std::string_view bad : {std::string_view(""), std::string_view("Withdrawal"), std::string_view("top-up"),
                               std::string_view("withdrawal "), std::string_view("deposit"),
                               std::string_view("sweep\0", 6)}) {
    EXPECT_EQ(ParseRequestKind(bad), std::nullopt) << bad;
  }
}

// The first example of docs/approval-digest.md: its body byte by byte, and the digest it states.
TEST(ApprovalDigestTest, DocumentExample) {
  ApprovalSubject s = BaseSubject();
  s.destination = "bcrt1qexample";
  const std::vector<uint8_t> body = *base::HexDecode(
      "00000004" "77642d31"
      "0000000a" "7769746864726177616c"
      "0000000e" "636c69656e742d6274632d686f74"
      "00000007" "626974636f696e"
      "00000007" "72656774657374"
      "00000003" "425443"
      "000000000000000000000000000186a0"
      "0000000d" "6263727431716578616d706c65"
      "000000000000000000000000000003e8"
      "000000006b49d200");
  EXPECT_EQ(*ApprovalDigest(s), TaggedHashOf(kApprovalTag, body));
  EXPECT_EQ(base::HexEncode(*ApprovalDigest(s)),
            "1bb8a3ec49e708275bab7a17376b619b1a3a06597a1acbf43c4bc2e511299759");
}

// The second example of docs/approval-digest.md.
TEST(ApprovalDigestTest, WhitelistChangeDocumentExample) {
  const std::vector<uint8_t> body = *base::HexDecode(
      "00000004" "776c2d37"
      "00000003" "616464"
      "00000004" "61636d65"
      "00000003" "425443"
      "0000000d" "6263727431716578616d706c65"
      "000000006b49d200");
  EXPECT_EQ(*WhitelistChangeDigest(BaseChange()), TaggedHashOf(kWhitelistChangeTag, body));
  EXPECT_EQ(base::HexEncode(*WhitelistChangeDigest(BaseChange())),
            "5c371fe33ea6979603f040b68d4339d4dcf72142ca9556c95a40106810a6b538");
}

// The third example of docs/approval-digest.md.
FreezeLiftSubject BaseLift() {
  FreezeLiftSubject f;
  f.freeze_id = "fz-1";
  f.asset = "BTC";
  f.reason = "unknown_transfer";
  f.details_sha256 = "281132bd93dd0f21db29e0b525fe0bf38a67a828ca07f757fc4569ea89baf3a3";
  f.height = 120;
  return f;
}

TEST(ApprovalDigestTest, FreezeLiftDocumentExample) {
  const std::string details = R"({"block_hash":"00","height":7})";
  EXPECT_EQ(base::HexEncode(Sha256(details)), BaseLift().details_sha256);
  std::vector<uint8_t> body = *base::HexDecode(
      "00000004" "667a2d31"
      "00000004" "6c696674"
      "00000003" "425443"
      "00000010" "756e6b6e6f776e5f7472616e73666572"
      "00000040");
  const std::string hash_text = BaseLift().details_sha256;
  body.insert(body.end(), hash_text.begin(), hash_text.end());
  const std::vector<uint8_t> height = *base::HexDecode("0000000000000078");
  body.insert(body.end(), height.begin(), height.end());
  EXPECT_EQ(*FreezeLiftDigest(BaseLift()), TaggedHashOf(kFreezeLiftTag, body));
  EXPECT_EQ(base::HexEncode(*FreezeLiftDigest(BaseLift())),
            "de3b4f5f604f251f7aa6f25907223cbce79b4473d6385ca11321b5a4f4d5f2a1");
}

TEST(ApprovalDigestTest, FreezeLiftBindsEveryFieldAndNamesBadOnes) {
  std::vector<FreezeLiftSubject> variants(5, BaseLift());
  variants[0].freeze_id = "fz-2";
  variants[1].asset = "ETH";
  variants[2].reason = "balance_mismatch";
  variants[3].details_sha256[0] = '3';
  variants[4].height = 121;
  std::set<ApprovalDigestBytes> seen = {*FreezeLiftDigest(BaseLift())};
  for (size_t i = 0; i < variants.size(); ++i) {
    EXPECT_TRUE(seen.insert(*FreezeLiftDigest(variants[i])).second) << "variant " << i;
  }
  FreezeLiftSubject empty = BaseLift();
  empty.reason = "";
  EXPECT_THAT(std::string(FreezeLiftDigest(empty).status().message()), HasSubstr("reason"));
}

TEST(ApprovalDigestTest, WhitelistChangeBindsEveryFieldAndNamesBadOnes) {
  const auto base = *WhitelistChangeDigest(BaseChange());
  std::vector<WhitelistChangeSubject> variants(6, BaseChange());
  variants[0].change_id = "wl-8";
  variants[1].client_id = "acme2";
  variants[2].asset = "ETH";
  variants[3].address = "bcrt1qexamplf";
  variants[4].expires_at = 1800000001;
  variants[5].change_id = "wl-7a";
  variants[5].client_id = "cme";
  std::set<ApprovalDigestBytes> seen = {base};
  for (size_t i = 0; i < variants.size(); ++i) {
    EXPECT_TRUE(seen.insert(*WhitelistChangeDigest(variants[i])).second) << "variant " << i;
  }
  auto c = BaseChange();
  c.address = "";
  EXPECT_THAT(std::string(WhitelistChangeDigest(c).status().message()), HasSubstr("address"));
  c = BaseChange();
  c.client_id = std::string(kMaxApprovalFieldBytes + 1, 'c');
  EXPECT_THAT(std::string(WhitelistChangeDigest(c).status().message()), HasSubstr("client_id"));
}

// An approval digest and a whitelist-change digest never coincide, even for fields that
// line up: the tags differ.
TEST(ApprovalDigestTest, TagsSeparateTheTwoDigests) {
  EXPECT_NE(*ApprovalDigest(BaseSubject()), *WhitelistChangeDigest(BaseChange()));
}

TEST(ApprovalDigestTest, AgreesWithIndependentImplementation) {
  ASSERT_GE(sodium_init(), 0);
  ringfence::testing::TempDir dir("approval_digest");
  std::array<uint8_t, 32> seed;
  seed.fill(7);
  std::array<uint8_t, 32> public_key;
  std::array<uint8_t, 64> secret_key;
  crypto_sign_seed_keypair(public_key.data(), secret_key.data(), seed.data());
  auto sign = [&](const ApprovalDigestBytes& digest) {
    std::array<uint8_t, 64> sig;
    crypto_sign_detached(sig.data(), nullptr, digest.data(), digest.size(), secret_key.data());
    return base::HexEncode(sig);
  };

  std::vector<ApprovalSubject> subjects = {BaseSubject()};
  ApprovalSubject eth;
  eth.request_id = "sweep/2026-11-22/\xc3\xa9t\xc3\xa9";  // UTF-8 bytes in a text field
  eth.kind = RequestKind::kSweep;
  eth.source_wallet = "client-usdc-hot";
  eth.chain = "ethereum";
  eth.network = "devnet";
  eth.asset = "USDC-ETH";
  eth.amount = base::Amount::Max();
  eth.destination = "0x52908400098527886E0F7030069857D2E4169EE7";
  eth.fee_cap = base::Amount(base::Uint128{21000} * 100000000000ull);
  eth.expires_at = kMaxTimestamp;
  subjects.push_back(eth);
  ApprovalSubject zero = BaseSubject();
  zero.kind = RequestKind::kFeeReimbursement;
  zero.amount = base::Amount::Zero();
  zero.fee_cap = base::Amount::Zero();
  zero.expires_at = 0;
  zero.request_id = std::string(kMaxApprovalFieldBytes, 'r');
  subjects.push_back(zero);
  ApprovalSubject top_up = BaseSubject();
  top_up.kind = RequestKind::kTopUp;
  top_up.source_wallet = "client-btc-cold";
  subjects.push_back(top_up);

  nlohmann::json cases = nlohmann::json::array();
  for (const auto& s : subjects) {
    const auto digest = *ApprovalDigest(s);
    cases.push_back({{"type", "approval"},
                     {"request_id", s.request_id},
                     {"kind", std::string(RequestKindName(s.kind))},
                     {"source_wallet", s.source_wallet},
                     {"chain", s.chain},
                     {"network", s.network},
                     {"asset", s.asset},
                     {"amount", s.amount.ToBaseUnitString()},
                     {"destination", s.destination},
                     {"fee_cap", s.fee_cap.ToBaseUnitString()},
                     {"expires_at", s.expires_at},
                     {"digest", base::HexEncode(digest)},
                     {"public_key", base::HexEncode(public_key)},
                     {"signature", sign(digest)}});
  }
  WhitelistChangeSubject other = BaseChange();
  other.address = "0x52908400098527886E0F7030069857D2E4169EE7";
  other.asset = "ETH";
  other.expires_at = 0;
  for (const auto& c : {BaseChange(), other}) {
    const auto digest = *WhitelistChangeDigest(c);
    cases.push_back({{"type", "whitelist_change"},
                     {"change_id", c.change_id},
                     {"client_id", c.client_id},
                     {"asset", c.asset},
                     {"address", c.address},
                     {"expires_at", c.expires_at},
                     {"digest", base::HexEncode(digest)},
                     {"public_key", base::HexEncode(public_key)},
                     {"signature", sign(digest)}});
  }
  const auto path = dir / "cases.json";
  std::ofstream(path) << cases.dump();
  const char* python = std::getenv("PYTHON");
  const char* src = std::getenv("RINGFENCE_SOURCE_DIR");
  ASSERT_NE(python, nullptr);
  ASSERT_NE(src, nullptr);
  const std::string cmd =
      std::string(python) + " " + src + "/tests/policy/check_approval_digest.py " + path.string();
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

}  // namespace
}  // namespace ringfence::policy

// The approval digest (docs/approval-digest.md): every field enters it, text fields are bounded,
// and digests and Ed25519 signatures over them agree with tests/policy/check_approval_digest.py,
// an independent implementation of the document (hashlib + PyNaCl).
#include "policy/approval_digest.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/hex.h"
#include "tests/common/temp_dir.h"

namespace ringfence::policy {
namespace {

using ::testing::HasSubstr;

ApprovalSubject BaseSubject() {
  ApprovalSubject s;
  s.request_id = "wd-1";
  s.chain = "bitcoin";
  s.network = "regtest";
  s.asset = "BTC";
  s.amount = base::Amount(100000);
  s.destination = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
  s.fee_cap = base::Amount(1000);
  return s;
}

TEST(ApprovalDigestTest, EveryFieldChangesTheDigest) {
  const auto base = *ApprovalDigest(BaseSubject());
  std::vector<ApprovalSubject> variants(9, BaseSubject());
  variants[0].request_id = "wd-2";
  variants[1].chain = "ethereum";
  variants[2].network = "testnet";
  variants[3].asset = "ETH";
  variants[4].amount = base::Amount(100001);
  variants[5].destination = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt081";
  variants[6].fee_cap = base::Amount(1001);
  // Moving a byte between adjacent text fields must not give the same digest.
  variants[7].request_id = "wd-1b";
  variants[7].chain = "itcoin";
  variants[8].amount = base::Amount(base::Uint128{100000} << 64);
  for (size_t i = 0; i < variants.size(); ++i) {
    EXPECT_NE(*ApprovalDigest(variants[i]), base) << "variant " << i;
  }
}

TEST(ApprovalDigestTest, RefusesEmptyAndOversizedFields) {
  auto s = BaseSubject();
  s.request_id = "";
  EXPECT_EQ(ApprovalDigest(s).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ApprovalDigest(s).status().message()), HasSubstr("request_id"));
  s = BaseSubject();
  s.destination = std::string(kMaxApprovalFieldBytes + 1, 'a');
  EXPECT_THAT(std::string(ApprovalDigest(s).status().message()), HasSubstr("intent.destination"));
  s.destination = std::string(kMaxApprovalFieldBytes, 'a');
  EXPECT_TRUE(ApprovalDigest(s).ok());
}

// The example of docs/approval-digest.md, whose body the document spells out byte by byte.
TEST(ApprovalDigestTest, DocumentExample) {
  ApprovalSubject s = BaseSubject();
  s.destination = "bcrt1qexample";
  const std::vector<uint8_t> body = *base::HexDecode(
      "00000004" "77642d31" "00000007" "626974636f696e" "00000007" "72656774657374" "00000003" "425443"
      "000000000000000000000000000186a0" "0000000d" "626372743171657861" "6d706c65"
      "000000000000000000000000000003e8");
  std::array<uint8_t, 32> tag;
  crypto_hash_sha256(tag.data(), reinterpret_cast<const unsigned char*>(kApprovalTag), std::strlen(kApprovalTag));
  std::vector<uint8_t> message(tag.begin(), tag.end());
  message.insert(message.end(), tag.begin(), tag.end());
  message.insert(message.end(), body.begin(), body.end());
  std::array<uint8_t, 32> want;
  crypto_hash_sha256(want.data(), message.data(), message.size());
  EXPECT_EQ(*ApprovalDigest(s), want);
}

TEST(ApprovalDigestTest, AgreesWithIndependentImplementation) {
  ASSERT_GE(sodium_init(), 0);
  ringfence::testing::TempDir dir("approval_digest");
  std::array<uint8_t, 32> seed;
  seed.fill(7);
  std::array<uint8_t, 32> public_key;
  std::array<uint8_t, 64> secret_key;
  crypto_sign_seed_keypair(public_key.data(), secret_key.data(), seed.data());

  std::vector<ApprovalSubject> subjects = {BaseSubject()};
  ApprovalSubject eth;
  eth.request_id = "sweep/2026-11-22/\xc3\xa9t\xc3\xa9";  // UTF-8 bytes in a text field
  eth.chain = "ethereum";
  eth.network = "devnet";
  eth.asset = "USDC-ETH";
  eth.amount = base::Amount::Max();
  eth.destination = "0x52908400098527886E0F7030069857D2E4169EE7";
  eth.fee_cap = base::Amount(base::Uint128{21000} * 100000000000ull);
  subjects.push_back(eth);
  ApprovalSubject zero = BaseSubject();
  zero.amount = base::Amount::Zero();
  zero.fee_cap = base::Amount::Zero();
  zero.request_id = std::string(kMaxApprovalFieldBytes, 'r');
  subjects.push_back(zero);

  nlohmann::json cases = nlohmann::json::array();
  for (const auto& s : subjects) {
    const auto digest = *ApprovalDigest(s);
    std::array<uint8_t, 64> sig;
    crypto_sign_detached(sig.data(), nullptr, digest.data(), digest.size(), secret_key.data());
    cases.push_back({{"request_id", s.request_id},
                     {"chain", s.chain},
                     {"network", s.network},
                     {"asset", s.asset},
                     {"amount", s.amount.ToBaseUnitString()},
                     {"destination", s.destination},
                     {"fee_cap", s.fee_cap.ToBaseUnitString()},
                     {"digest", base::HexEncode(digest)},
                     {"public_key", base::HexEncode(public_key)},
                     {"signature", base::HexEncode(sig)}});
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

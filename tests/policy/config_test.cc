// Policy file parsing beyond the error table: defaults, canonical form and hash stability.
#include "policy/config.h"

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace ringfence::policy {
namespace {

using base::Amount;

constexpr const char* kMinimal = R"(version = 1
[groups.ops]
members = ["bob", "alice"]
[assets.BTC]
decimals = 8
[assets.BTC.withdrawal]
per_request_limit = "10"
[assets.BTC.whitelist]
cooling_off_seconds = 60
approvals = { group = "ops", k = 1 }
[assets.BTC.allocation]
top_up_approvals = { group = "ops", k = 2 }
)";

TEST(PolicyConfig, FillsDefaults) {
  absl::StatusOr<Policy> p = ParsePolicy(kMinimal);
  ASSERT_TRUE(p.ok()) << p.status();
  const AssetPolicy& btc = *p->FindAsset(AssetId("BTC"));
  EXPECT_EQ(btc.hot_cap.ppm(), 20000u);
  EXPECT_EQ(btc.hot_target.ppm(), 10000u);
  EXPECT_EQ(btc.cold_cover_share.ppm(), 500000u);
  EXPECT_EQ(btc.hot_floor, Amount(0));
  EXPECT_EQ(btc.per_request_limit, Amount(1000000000));
  EXPECT_EQ(p->aggregate_hot_cap.ppm(), 20000u);
  const ApproverGroup& ops = *p->FindGroup(GroupId("ops"));
  EXPECT_EQ(ops.approval_ttl_seconds, 86400);
  ASSERT_EQ(ops.members.size(), 2u);
  EXPECT_EQ(ops.members[0].value(), "alice");
  EXPECT_EQ(p->hash.size(), 64u);
  EXPECT_EQ(p->hash, Sha256Hex(CanonicalPolicyJson(*p)));
}

TEST(PolicyConfig, HashIgnoresFormattingButNotMeaning) {
  const Policy a = *ParsePolicy(kMinimal);
  // Same meaning: comments, member order, base units instead of display units, explicit defaults.
  std::string same = std::string("# comment\n") + kMinimal;
  same.replace(same.find("[\"bob\", \"alice\"]"), 16, "[\"alice\", \"bob\"]");
  same.replace(same.find("\"10\""), 4, "1000000000");
  same += "hot_cap = \"0.020\"\n";
  absl::StatusOr<Policy> b = ParsePolicy(same);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a.hash, b->hash);
  EXPECT_EQ(CanonicalPolicyJson(a), CanonicalPolicyJson(*b));

  std::string different = kMinimal;
  different.replace(different.find("\"10\""), 4, "\"10.00000001\"");
  absl::StatusOr<Policy> c = ParsePolicy(different);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NE(a.hash, c->hash);
}

TEST(PolicyConfig, HashOfKnownCanonicalText) {
  // SHA-256("abc") from FIPS 180-2, checking the digest wiring itself.
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const Policy p = *ParsePolicy(kMinimal);
  const std::string canonical = CanonicalPolicyJson(p);
  EXPECT_EQ(canonical.find(' '), std::string::npos) << "canonical JSON has no whitespace";
  EXPECT_NE(canonical.find("\"per_request_limit\":\"1000000000\""), std::string::npos) << canonical;
  EXPECT_NE(canonical.find("\"format\":\"ringfence.policy.v1\""), std::string::npos);
}

TEST(PolicyConfig, RejectsOversizedAndBinaryText) {
  EXPECT_FALSE(ParsePolicy(std::string(kMaxPolicyBytes + 1, '#')).ok());
  EXPECT_FALSE(ParsePolicy(std::string("version = 1\0\xff", 14)).ok());
  EXPECT_FALSE(ParsePolicy("").ok());
  absl::StatusOr<Policy> deep = ParsePolicy("version = 1\nx = " + std::string(5000, '[') + std::string(5000, ']'));
  EXPECT_FALSE(deep.ok());
}

TEST(PolicyConfig, TestDataPolicyIsValid) {
  std::ifstream in(std::string(RINGFENCE_POLICY_TEST_DATA) + "/policy.toml");
  std::ostringstream s;
  s << in.rdbuf();
  absl::StatusOr<Policy> p = ParsePolicy(s.str());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->assets.size(), 3u);
  const AssetPolicy& btc = *p->FindAsset(AssetId("BTC"));
  ASSERT_EQ(btc.client_windows.size(), 2u);
  EXPECT_EQ(btc.client_windows[0].seconds, 3600) << "windows are sorted by length";
  ASSERT_EQ(btc.approval_tiers.size(), 2u);
  EXPECT_EQ(btc.approval_tiers[1].approvals.k, 2u);
}

}  // namespace
}  // namespace ringfence::policy

// custodyd's withdrawal configuration: [[approvers]], [withdrawals] and assets'
// withdrawal_fee_cap parsed strictly, and the policy attached to them cross-checked (assets,
// decimals, fee caps, group members). Also the canonical-address rule of whitelists.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "chain/bech32.h"
#include "custody/config.h"
#include "custody/whitelist.h"
#include "tests/common/temp_dir.h"

namespace ringfence::custody {
namespace {

using ::testing::HasSubstr;

const std::string kBase = R"(
[server]
listen = "127.0.0.1:0"

[database]
path = "/var/lib/custodyd/custody.db"

[signer]
socket = "/run/signerd/signer.sock"

[[assets]]
id = "BTC"
chain = "bitcoin"
network = "regtest"
decimals = 8
confirmations = 3
withdrawal_fee_cap = "10000"

[[assets]]
id = "ETH"
chain = "ethereum"
network = "dev"
decimals = 18
confirmations = 12

[[chains]]
name = "bitcoin"
kind = "chainsim"
endpoint = "unix:/run/chainsim.sock"

[[chains]]
name = "ethereum"
kind = "chainsim"
endpoint = "unix:/run/chainsim.sock"

[withdrawals]
policy = "/etc/custodyd/policy.toml"
approval_window_seconds = 600

[[approvers]]
id = "alice"
public_key = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"

[[approvers]]
id = "bob"
public_key = "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394"
subject = "CN=bob"
)";

// The rules of one asset; kPolicy has them for BTC and ETH (every configured asset needs its
// allocation rules in the policy).
std::string AssetRules(const std::string& asset, int decimals) {
  const std::string t = "[assets." + asset;
  return t + "]\ndecimals = " + std::to_string(decimals) + "\n" + t + ".withdrawal]\nper_request_limit = \"5\"\n" + t +
         ".whitelist]\ncooling_off_seconds = 60\napprovals = { group = \"ops\", k = 1 }\n" + t +
         ".allocation]\ntop_up_approvals = { group = \"ops\", k = 2 }\n";
}

const std::string kPolicy =
    "version = 1\n[groups.ops]\nmembers = [\"alice\", \"bob\"]\n" + AssetRules("BTC", 8) + AssetRules("ETH", 18);

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

absl::Status ParseError(const std::string& text) {
  absl::StatusOr<Config> c = ParseConfig(text, "test.toml");
  return c.ok() ? absl::OkStatus() : c.status();
}

TEST(WithdrawalConfigTest, ParsesApproversWithdrawalsAndFeeCaps) {
  absl::StatusOr<Config> c = ParseConfig(kBase, "test.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->approvers.size(), 2u);
  EXPECT_EQ(c->approvers[0].id, "alice");
  EXPECT_EQ(c->approvers[0].public_key[0], 0x8a);
  EXPECT_EQ(c->approvers[1].subject, "CN=bob");
  ASSERT_NE(c->FindApprover("bob"), nullptr);
  EXPECT_EQ(c->FindApprover("carol"), nullptr);
  ASSERT_TRUE(c->withdrawals.has_value());
  EXPECT_EQ(c->withdrawals->approval_window_seconds, 600);
  EXPECT_TRUE(c->withdrawals->executor);  // the executor runs unless turned off
  EXPECT_EQ(c->withdrawals->policy, nullptr);  // ParseConfig reads no other file
  ASSERT_TRUE(c->FindAsset("BTC")->withdrawal_fee_cap.has_value());
  EXPECT_EQ(*c->FindAsset("BTC")->withdrawal_fee_cap, base::Amount(10000));
  EXPECT_FALSE(c->FindAsset("ETH")->withdrawal_fee_cap.has_value());
  ASSERT_TRUE(AttachPolicy(*c, kPolicy).ok());
  ASSERT_NE(c->withdrawals->policy, nullptr);
  EXPECT_EQ(c->withdrawals->policy_text, kPolicy);
}

TEST(WithdrawalConfigTest, ExecutorSwitch) {
  absl::StatusOr<Config> off =
      ParseConfig(Replace(kBase, "approval_window_seconds = 600", "approval_window_seconds = 600\nexecutor = false"), "t");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->withdrawals->executor);
  absl::StatusOr<Config> on =
      ParseConfig(Replace(kBase, "approval_window_seconds = 600", "approval_window_seconds = 600\nexecutor = true"), "t");
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_TRUE(on->withdrawals->executor);
}

TEST(WithdrawalConfigTest, RefusesBadFieldsNamingThem) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {Replace(kBase, "withdrawal_fee_cap = \"10000\"", "withdrawal_fee_cap = \"0\""), "assets[0].withdrawal_fee_cap"},
      {Replace(kBase, "withdrawal_fee_cap = \"10000\"", "withdrawal_fee_cap = \"-1\""), "assets[0].withdrawal_fee_cap"},
      {Replace(kBase, "withdrawal_fee_cap = \"10000\"", "withdrawal_fee_cap = \"010\""), "assets[0].withdrawal_fee_cap"},
      {Replace(kBase, "withdrawal_fee_cap = \"10000\"", "withdrawal_fee_cap = \"340282366920938463463374607431768211456\""),
       "assets[0].withdrawal_fee_cap"},
      {Replace(kBase, "withdrawal_fee_cap = \"10000\"", "withdrawal_fee_cap = 10000"), "assets[0].withdrawal_fee_cap"},
      {Replace(kBase, "policy = \"/etc/custodyd/policy.toml\"", "policy = \"policy.toml\""), "withdrawals.policy"},
      {Replace(kBase, "policy = \"/etc/custodyd/policy.toml\"\n", ""), "withdrawals.policy"},
      {Replace(kBase, "approval_window_seconds = 600", "approval_window_seconds = 59"), "withdrawals.approval_window_seconds"},
      {Replace(kBase, "approval_window_seconds = 600", "approval_window_seconds = 2592001"),
       "withdrawals.approval_window_seconds"},
      {Replace(kBase, "approval_window_seconds = 600", "approval_window_seconds = 600\nextra = 1"), "withdrawals.extra"},
      {Replace(kBase, "approval_window_seconds = 600", "approval_window_seconds = 600\nexecutor = \"true\""),
       "withdrawals.executor"},
      {Replace(kBase, "approval_window_seconds = 600", "approval_window_seconds = 600\nexecutor = 1"),
       "withdrawals.executor"},
      {Replace(kBase, "id = \"alice\"", "id = \"al ice\""), "approvers[0].id"},
      {Replace(kBase, "id = \"alice\"", "id = \"\""), "approvers[0].id"},
      {Replace(kBase, "id = \"alice\"", "id = \"" + std::string(129, 'a') + "\""), "approvers[0].id"},
      {Replace(kBase, "id = \"bob\"", "id = \"alice\""), "approvers[1].id"},
      {Replace(kBase, "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
               "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f"),
       "approvers[0].public_key"},
      {Replace(kBase, "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
               "zz88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"),
       "approvers[0].public_key"},
      {Replace(kBase, "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394",
               "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"),
       "approvers[1].public_key"},
      {Replace(kBase, "subject = \"CN=bob\"", "subject = \"CN=bob\"\nsan = \"x\""), "approvers[1].san"},
      {Replace(kBase, "subject = \"CN=bob\"", "subject = \"\""), "approvers[1].subject"},
      {Replace(kBase, "subject = \"CN=bob\"", "colour = \"blue\""), "approvers[1].colour"},
  };
  for (const auto& [text, field] : cases) {
    SCOPED_TRACE(field);
    absl::Status s = ParseError(text);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(s.message(), HasSubstr(field));
  }
}

TEST(WithdrawalConfigTest, ThePolicyMustFitTheConfig) {
  absl::StatusOr<Config> c = ParseConfig(kBase, "test.toml");
  ASSERT_TRUE(c.ok());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {Replace(kPolicy, "members = [\"alice\", \"bob\"]", "members = [\"alice\", \"mallory\"]"), "mallory"},
      {Replace(kPolicy, "[assets.BTC]\ndecimals = 8", "[assets.BTC]\ndecimals = 6"), "decimals"},
      // A configured asset without rules: its allocation rules would have no source.
      {kPolicy.substr(0, kPolicy.find("[assets.ETH]")), "withdrawals.policy: assets.ETH' is missing"},
      {Replace(kPolicy, "[assets.BTC]", "[assets.DOGE]"), "withdrawals.policy"},
      {"version = 2", "withdrawals.policy"},
  };
  for (const auto& [policy, what] : cases) {
    SCOPED_TRACE(what);
    Config copy = *c;
    absl::Status s = AttachPolicy(copy, policy);
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(s.message(), HasSubstr(what));
    EXPECT_EQ(copy.withdrawals->policy, nullptr);
  }
}

// [reconciliation]: the approvals that lift a freeze, checked against the policy's groups.
TEST(WithdrawalConfigTest, ReconciliationIsCheckedAndNamed) {
  EXPECT_FALSE(ParseConfig(kBase, "t")->reconciliation.has_value());
  absl::StatusOr<Config> c = ParseConfig(kBase + "\n[reconciliation]\nlift_group = \"ops\"\n", "t");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->reconciliation.has_value());
  EXPECT_EQ(c->reconciliation->lift_approvals, 2u);
  EXPECT_EQ(c->reconciliation->lift_group, "ops");
  EXPECT_TRUE(AttachPolicy(*c, kPolicy).ok());
  const std::vector<std::pair<std::string, std::string>> refused = {
      {kBase + "\n[reconciliation]\n", "'reconciliation.lift_group'"},
      {kBase + "\n[reconciliation]\nlift_group = \"ops\"\nlift_approvals = 0\n", "reconciliation.lift_approvals"},
      {kBase + "\n[reconciliation]\nlift_group = \"ops\"\nlift_approvals = 17\n", "reconciliation.lift_approvals"},
      {kBase + "\n[reconciliation]\nlift_group = \"o p\"\n", "reconciliation.lift_group"},
      {kBase + "\n[reconciliation]\nlift_group = \"ops\"\nquorum = 2\n", "reconciliation.quorum"},
      {Replace(kBase, "approval_window_seconds = 600", "approval_window_seconds = 600\nexecutor = false") +
           "\n[reconciliation]\nlift_group = \"ops\"\n",
       "executor = true"},
  };
  for (const auto& [text, what] : refused) {
    SCOPED_TRACE(what);
    absl::Status s = ParseError(text);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr(what));
  }
  // The group must be the policy's, with at least lift_approvals members.
  Config other = *ParseConfig(kBase + "\n[reconciliation]\nlift_group = \"treasury\"\n", "t");
  EXPECT_THAT(AttachPolicy(other, kPolicy).message(), HasSubstr("reconciliation.lift_group"));
  Config three = *ParseConfig(kBase + "\n[reconciliation]\nlift_group = \"ops\"\nlift_approvals = 3\n", "t");
  EXPECT_THAT(AttachPolicy(three, kPolicy).message(), HasSubstr("has only 2 members"));
}

TEST(WithdrawalConfigTest, LoadConfigReadsThePolicyFile) {
  ringfence::testing::TempDir dir("custody_wconfig");
  const std::string policy_path = (dir.path() / "policy.toml").string();
  std::ofstream(policy_path) << kPolicy;
  const std::string config_path = (dir.path() / "custodyd.toml").string();
  std::ofstream(config_path) << Replace(kBase, "/etc/custodyd/policy.toml", policy_path);
  absl::StatusOr<Config> c = LoadConfig(config_path);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_NE(c->withdrawals->policy, nullptr);
  EXPECT_EQ(c->withdrawals->policy->hash.size(), 64u);
  std::ofstream(config_path) << Replace(kBase, "/etc/custodyd/policy.toml", policy_path + ".missing");
  EXPECT_EQ(LoadConfig(config_path).status().code(), absl::StatusCode::kNotFound);
}

TEST(WithdrawalConfigTest, AddressesMustBeCanonicalForTheAssetsNetwork) {
  AssetConfig btc{"BTC", "bitcoin", "regtest", 8, 3, "", std::nullopt, std::nullopt, std::nullopt};
  AssetConfig eth{"ETH", "ethereum", "dev", 18, 12, "", std::nullopt, std::nullopt, std::nullopt};
  std::array<uint8_t, 20> hash;
  hash.fill(0x75);
  const std::string good = chain::P2wpkhAddress("bcrt", hash).value();
  std::string upper = good;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  std::string bad_checksum = good;
  bad_checksum.back() = bad_checksum.back() == 'q' ? 'p' : 'q';
  EXPECT_TRUE(CheckCanonicalAddress(btc, "address", good).ok());
  for (const std::string& bad : {upper, chain::P2wpkhAddress("bc", hash).value(), chain::P2wpkhAddress("tb", hash).value(),
                                 bad_checksum, std::string(""),
                                 std::string(200, 'b'), std::string("0x52908400098527886E0F7030069857D2E4169EE7")}) {
    SCOPED_TRACE(bad);
    absl::Status s = CheckCanonicalAddress(btc, "address", bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("address"));
  }
  EXPECT_TRUE(CheckCanonicalAddress(eth, "destination", "0x52908400098527886E0F7030069857D2E4169EE7").ok());
  for (const std::string& bad : {std::string("0x52908400098527886e0f7030069857d2e4169ee7"),
                                 std::string("0x52908400098527886E0F7030069857D2E4169Ee7"),
                                 std::string("52908400098527886E0F7030069857D2E4169EE7"), std::string("0x1234")}) {
    SCOPED_TRACE(bad);
    absl::Status s = CheckCanonicalAddress(eth, "destination", bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("destination"));
  }
}

// The cover held has one source, custodyd's named [[coverage.cover]] instruments: a policy
// that configures cover of its own does not attach, naming the field.
TEST(WithdrawalConfigTest, APolicysConfiguredCoverIsRefused) {
  absl::StatusOr<Config> c = ParseConfig(kBase, "test.toml");
  ASSERT_TRUE(c.ok());
  const std::string with_cover = kPolicy + "[assets.BTC.coverage]\nconfigured_cover = \"1\"\n";
  absl::Status s = AttachPolicy(*c, with_cover);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("'withdrawals.policy: assets.BTC.coverage.configured_cover' must be 0"));
  EXPECT_TRUE(AttachPolicy(*c, kPolicy + "[assets.BTC.coverage]\ncold_share = \"0.25\"\n").ok());
}

}  // namespace
}  // namespace ringfence::custody

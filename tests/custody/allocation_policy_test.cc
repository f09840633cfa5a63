// custodyd's allocation report (custody/allocation.h) takes its rules from the policy file:
// each of hot_cap, hot_target, hot_floor and min_sweep changes the planned sweep; the aggregate
// cap sweeps an asset that is under its own cap; a recorded decision replays equal under its
// policy and differs under a changed one. On a real SqliteStore, no processes (the end-to-end
// counterparts are in allocation_policy_e2e_test.cc).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "custody/allocation.h"
#include "custody/config.h"
#include "custody/withdrawals.h"
#include "tests/custody/store_fixture.h"

namespace ringfence::custody::testing {
namespace {

using ::testing::HasSubstr;

// A policy for BTC (8 decimals) and ETH (18) with `allocation` lines added to each asset's
// [assets.<id>.allocation] table and `top` lines at the top (e.g. an [allocation] table).
std::string PolicyText(const std::map<std::string, std::string>& allocation, const std::string& top = "") {
  std::string text = "version = 1\n" + top + "\n[groups.ops]\nmembers = [\"alice\", \"bob\"]\n";
  for (const auto& [asset, decimals] : std::map<std::string, int>{{"BTC", 8}, {"ETH", 18}}) {
    const auto lines = allocation.find(asset);
    text += "[assets." + asset + "]\ndecimals = " + std::to_string(decimals) + "\n[assets." + asset +
            ".withdrawal]\nper_request_limit = \"5\"\n[assets." + asset +
            ".whitelist]\ncooling_off_seconds = 0\napprovals = { group = \"ops\", k = 1 }\n[assets." + asset +
            ".allocation]\ntop_up_approvals = { group = \"ops\", k = 2 }\n" +
            (lines == allocation.end() ? "" : lines->second);
  }
  return text;
}

class AllocationPolicyTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    AddWallets({"BTC", "ETH"});
    AddClient("c_1");
    config_.assets = {{"BTC", "bitcoin", "regtest", 8, 3, "", Units(50), std::nullopt, std::nullopt},
                      {"ETH", "ethereum", "dev", 18, 2, "", Units(1'000), std::nullopt, std::nullopt}};
    config_.approvers = {{"alice", {}, "", ""}, {"bob", {}, "", ""}};
    config_.withdrawals = WithdrawalsConfig{"/policy.toml", 600, true, nullptr, ""};
  }

  void Attach(const std::string& policy_text) {
    absl::Status s = AttachPolicy(config_, policy_text);
    ASSERT_TRUE(s.ok()) << s;
  }

  // Client holdings of `asset`: `hot` in client-hot, `cold` in client-cold (deposited to hot,
  // then moved by a journal entry of the test's own).
  void Hold(const std::string& asset, uint64_t hot, uint64_t cold) {
    Deposit("c_1", asset, Units(hot + cold), asset + ":fund");
    if (cold == 0) return;
    auto txn = Write();
    store::JournalEntry e;
    e.asset_id = asset;
    e.kind = "test_move";
    e.reference = asset + ":to-cold";
    e.created_unix_ms = 1000;
    e.postings = {{WalletAccount(asset + ":client-cold"), true, Units(cold)},
                  {WalletAccount(asset + ":client-hot"), false, Units(cold)}};
    ASSERT_TRUE(Ledger::Post(*txn, e).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }

  AllocationReport Report() {
    auto txn = Read();
    absl::StatusOr<AllocationReport> report = ComputeAllocation(*txn, config_, "");
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : AllocationReport{};
  }

  AssetAllocation Btc() { return Report().assets.at(0); }

  Config config_;
};

// 10,000,000 sat of client BTC, 1,000,000 hot (10%). Each rule moves the sweep in a way the
// others would not: the numbers are the policy's rules worked by hand.
TEST_F(AllocationPolicyTest, TheSweepFollowsThePolicysCapTargetFloorAndMinimum) {
  Hold("BTC", 1'000'000, 9'000'000);

  // Defaults: cap 2% = 200,000, target 1% = 100,000: sweep 900,000.
  Attach(PolicyText({}));
  AssetAllocation a = Btc();
  EXPECT_EQ(a.hot_cap_bps, 200u);
  EXPECT_EQ(a.hot_cap, Units(200'000));
  EXPECT_TRUE(a.over_cap);
  EXPECT_EQ(a.planned_sweep, Units(900'000));
  EXPECT_EQ(a.decision->reason, policy::AllocationReason::kSweepToTarget);
  EXPECT_EQ(a.rules->min_sweep, Units(0));

  // hot_cap 12%: 1,000,000 is within 1,200,000; nothing.
  Attach(PolicyText({{"BTC", "hot_cap = \"0.12\"\n"}}));
  a = Btc();
  EXPECT_EQ(a.hot_cap_bps, 1200u);
  EXPECT_FALSE(a.over_cap);
  EXPECT_EQ(a.planned_sweep, Units(0));
  EXPECT_EQ(a.decision->reason, policy::AllocationReason::kWithinCap);

  // hot_cap 8%, default target 4% = 400,000: sweep 600,000.
  Attach(PolicyText({{"BTC", "hot_cap = \"0.08\"\n"}}));
  EXPECT_EQ(Btc().planned_sweep, Units(600'000));

  // hot_target 0.5% = 50,000 under the default cap: sweep 950,000.
  Attach(PolicyText({{"BTC", "hot_target = \"0.005\"\n"}}));
  EXPECT_EQ(Btc().planned_sweep, Units(950'000));

  // hot_floor 300,000 above the 100,000 target: sweep down to the floor, 700,000.
  Attach(PolicyText({{"BTC", "hot_floor = 300000\n"}}));
  a = Btc();
  EXPECT_EQ(a.planned_sweep, Units(700'000));
  EXPECT_EQ(a.rules->hot_floor, Units(300'000));

  // hot_floor at hot: over the cap, but the floor keeps it all.
  Attach(PolicyText({{"BTC", "hot_floor = 1000000\n"}}));
  a = Btc();
  EXPECT_EQ(a.planned_sweep, Units(0));
  EXPECT_EQ(a.decision->reason, policy::AllocationReason::kFloorPreventsSweep);

  // min_sweep 950,000 above the 900,000 the target asks for: sweep the minimum (it keeps the
  // zero floor).
  Attach(PolicyText({{"BTC", "min_sweep = 950000\n"}}));
  a = Btc();
  EXPECT_EQ(a.planned_sweep, Units(950'000));
  EXPECT_EQ(a.decision->reason, policy::AllocationReason::kSweepMinimum);

  // min_sweep above all of hot: no sweep at all.
  Attach(PolicyText({{"BTC", "min_sweep = 1000001\n"}}));
  a = Btc();
  EXPECT_EQ(a.planned_sweep, Units(0));
  EXPECT_EQ(a.decision->reason, policy::AllocationReason::kBelowMinimumSweep);
}

// With prices, the aggregate cap sweeps an asset that is within its own cap. BTC at 1 value
// unit per sat and ETH at 1 per 10^12 wei (prices per whole unit: 10^8 and 10^6).
// BTC: 100,000 of 10,000,000 hot (1%, its own cap 2%). ETH: 4.5 * 10^17 of 10^19 wei hot
// (4.5%, its own cap 5%).
TEST_F(AllocationPolicyTest, TheAggregateCapSweepsAnAssetUnderItsOwnCap) {
  config_.allocation = AllocationConfig{"USD", 2};
  config_.assets[0].price = 100'000'000;  // per BTC: 1 per sat
  config_.assets[1].price = 1'000'000;    // per ETH: 1 per 10^12 wei
  Hold("BTC", 100'000, 9'900'000);
  Hold("ETH", 450'000'000'000'000'000, 9'550'000'000'000'000'000ULL);
  // Each asset within its own cap (BTC 2%, ETH 5%); aggregate cap 3%.
  Attach(PolicyText({{"ETH", "hot_cap = \"0.05\"\n"}}, "[allocation]\naggregate_hot_cap = \"0.03\"\n"));
  AllocationReport r = Report();
  ASSERT_EQ(r.assets.size(), 2u);
  const AssetAllocation& btc = r.assets[0];
  const AssetAllocation& eth = r.assets[1];
  EXPECT_FALSE(btc.over_cap);
  EXPECT_FALSE(eth.over_cap);
  // Values: hot 100,000 + 450,000 = 550,000; total 10,000,000 + 10,000,000 = 20,000,000; the
  // aggregate cap floor(20,000,000 * 3%) = 600,000 holds. Under it: no sweep.
  EXPECT_EQ(btc.planned_sweep, Units(0));
  EXPECT_EQ(eth.planned_sweep, Units(0));
  EXPECT_TRUE(r.assets[0].evidence->decision.aggregate_within_cap);

  // Aggregate cap 2% = 400,000: 150,000 over. BTC first (id order), down to its floor (0) at
  // most: sweep 100,000, reason aggregate_sweep; then ETH the remaining 50,000 value units,
  // 5 * 10^16 wei.
  Attach(PolicyText({{"ETH", "hot_cap = \"0.05\"\n"}}, "[allocation]\naggregate_hot_cap = \"0.02\"\n"));
  r = Report();
  EXPECT_EQ(r.aggregate_hot_cap_bps, 200u);
  EXPECT_TRUE(r.aggregate_over_cap);
  EXPECT_EQ(r.assets[0].planned_sweep, Units(100'000));
  EXPECT_EQ(r.assets[0].decision->reason, policy::AllocationReason::kAggregateSweep);
  EXPECT_EQ(r.assets[1].planned_sweep, Units(50'000'000'000'000'000));
  EXPECT_EQ(r.assets[1].decision->reason, policy::AllocationReason::kAggregateSweep);
  EXPECT_TRUE(r.assets[0].evidence->decision.aggregate_within_cap);

  // Without [allocation] (no reference, so no prices): no aggregate, no sweep.
  config_.allocation.reset();
  r = Report();
  EXPECT_EQ(r.assets[0].planned_sweep, Units(0));
  EXPECT_EQ(r.assets[1].planned_sweep, Units(0));
}

// A decision recorded with a move replays equal under its policy, and `policy replay` names
// the difference under a policy whose rules would decide otherwise.
TEST_F(AllocationPolicyTest, ARecordedDecisionReplaysAndAChangedPolicyDiffers) {
  Hold("BTC", 1'000'000, 9'000'000);
  const std::string policy = PolicyText({});
  Attach(policy);
  const AssetAllocation a = Btc();
  ASSERT_EQ(a.planned_sweep, Units(900'000));
  {
    auto txn = Write();
    auto id = RecordAllocationDecision(*txn, *a.evidence, "w_sweep", 1000);
    ASSERT_TRUE(id.ok()) << id.status();
    ASSERT_TRUE(txn->Commit().ok());
    auto read = Read();
    auto row = read->GetPolicyDecision(*id);
    ASSERT_TRUE(row.ok() && row->has_value());
    EXPECT_EQ((*row)->kind, "allocation");
    EXPECT_EQ((*row)->subject_id, "w_sweep");
    EXPECT_EQ((*row)->policy_hash, config_.withdrawals->policy->hash);
    EXPECT_THAT((*row)->record_json, HasSubstr("\"reason\":\"sweep_to_target\""));
    EXPECT_THAT((*row)->record_json, HasSubstr("\"amount\":\"900000\""));
  }
  auto txn = Read();
  absl::StatusOr<ReplayReport> same = ReplayDecisions(*txn, policy);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->decisions, 1u);
  EXPECT_EQ(same->same, 1u);
  EXPECT_TRUE(same->differences.empty());

  // A target of 0.5% would sweep 950,000.
  absl::StatusOr<ReplayReport> other = ReplayDecisions(*txn, PolicyText({{"BTC", "hot_target = \"0.005\"\n"}}));
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_EQ(other->differences.size(), 1u);
  EXPECT_THAT(other->differences[0], HasSubstr("allocation w_sweep"));
  EXPECT_THAT(other->differences[0], HasSubstr("\"amount\":\"950000\""));
}

// Without a [withdrawals] policy every asset gets the engine's defaults, and a policy that
// lacks a configured asset does not attach, naming the asset.
TEST_F(AllocationPolicyTest, DefaultsWithoutAPolicyAndAMissingAssetIsAnError) {
  Hold("BTC", 1'000'000, 9'000'000);
  config_.withdrawals.reset();
  AssetAllocation a = Btc();
  EXPECT_EQ(a.hot_cap_bps, 200u);
  EXPECT_EQ(a.planned_sweep, Units(900'000));
  EXPECT_EQ(a.rules->hot_target.ppm(), 10'000u);

  config_.withdrawals = WithdrawalsConfig{"/policy.toml", 600, true, nullptr, ""};
  const std::string full = PolicyText({});
  absl::Status s = AttachPolicy(config_, full.substr(0, full.find("[assets.ETH]")));
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("'withdrawals.policy: assets.ETH' is missing"));
  EXPECT_EQ(config_.withdrawals->policy, nullptr);
}

// The cover required is the policy's coverage rule: all of hot and cold_cover_share of cold,
// rounded up; [[coverage.cover]] is the cover held.
TEST_F(AllocationPolicyTest, TheCoverRequiredIsThePolicysColdShare) {
  Hold("BTC", 1'000'000, 9'000'001);
  config_.coverage.covers = {{"p", "BTC", Units(4'000'000)}};
  Attach(PolicyText({}));
  AssetAllocation a = Btc();
  EXPECT_EQ(a.cold_share_bps, 5000u);
  EXPECT_EQ(a.cover_required, Units(1'000'000 + 4'500'001));  // ceil(9,000,001 / 2)
  EXPECT_EQ(a.cover_configured, Units(4'000'000));
  EXPECT_EQ(a.cover_shortfall, Units(1'500'001));
  Attach(PolicyText({}) + "[assets.BTC.coverage]\ncold_share = \"0.25\"\n");
  a = Btc();
  EXPECT_EQ(a.cold_share_bps, 2500u);
  EXPECT_EQ(a.cover_required, Units(1'000'000 + 2'250'001));  // ceil(9,000,001 / 4)
  EXPECT_EQ(a.cover_shortfall, Units(0));
}

}  // namespace
}  // namespace ringfence::custody::testing

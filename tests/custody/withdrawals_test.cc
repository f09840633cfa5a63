// The request side of withdrawals on a real SqliteStore, without gRPC: Withdrawals::Create's
// decision, hold and recorded decision; fee handling for native assets and tokens; approval
// expiry (ExpireOverdue) releasing the hold; replay of the recorded decisions. The invariant
// check runs after each test's commits.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "custody/config.h"
#include "custody/withdrawals.h"
#include "chain/bech32.h"
#include "chain/eth_address.h"
#include "tests/custody/store_fixture.h"

namespace ringfence::custody::testing {
namespace {

using store::WithdrawalState;
using ::testing::HasSubstr;

constexpr char kPolicy[] = R"(version = 1
[groups.ops]
members = ["alice", "bob"]
[assets.BTC]
decimals = 8
[assets.BTC.withdrawal]
per_request_limit = "1"
client_windows = [{ seconds = 3600, limit = "1.5" }]
approval_tiers = [{ min_amount = "0.5", group = "ops", k = 1 }]
[assets.BTC.whitelist]
cooling_off_seconds = 0
approvals = { group = "ops", k = 1 }
[assets.BTC.allocation]
top_up_approvals = { group = "ops", k = 2 }
[assets.ETH]
decimals = 18
[assets.ETH.withdrawal]
per_request_limit = "100"
[assets.ETH.whitelist]
cooling_off_seconds = 0
approvals = { group = "ops", k = 1 }
[assets.ETH.allocation]
top_up_approvals = { group = "ops", k = 2 }
[assets.USDC-ETH]
decimals = 6
[assets.USDC-ETH.withdrawal]
per_request_limit = "1000"
[assets.USDC-ETH.whitelist]
cooling_off_seconds = 0
approvals = { group = "ops", k = 1 }
[assets.USDC-ETH.allocation]
top_up_approvals = { group = "ops", k = 2 }
)";

constexpr int64_t kNow = 1'800'000'000'000;  // ms

class WithdrawalsTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    AddWallets({"BTC", "ETH", "USDC-ETH"});
    AddClient("c_1");
    Deposit("c_1", "BTC", Units(200'000'000), "fund:1");
    Deposit("c_1", "USDC-ETH", Units(5'000'000), "fund:2");
    config_.assets = {{"BTC", "bitcoin", "regtest", 8, 3, "", base::Amount(10'000), std::nullopt, std::nullopt},
                      {"ETH", "ethereum", "dev", 18, 2, "", base::Amount(1'000), std::nullopt, std::nullopt},
                      {"USDC-ETH", "ethereum", "dev", 6, 2, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
                       base::Amount(1'000), std::nullopt, std::nullopt}};
    config_.approvers = {{"alice", {}, "", ""}, {"bob", {}, "", ""}};
    config_.approvers[1].public_key[0] = 1;
    config_.withdrawals = WithdrawalsConfig{"/policy.toml", 600, true, nullptr, ""};
    ASSERT_TRUE(AttachPolicy(config_, kPolicy).ok());
    destination_ = chain::P2wpkhAddress("bcrt", std::array<uint8_t, 20>{7}).value();
    // An active entry for the destination.
    auto txn = Write();
    store::WhitelistEntryRow entry;
    entry.entry_id = "wl_0000000000000001";
    entry.client_id = "c_1";
    entry.asset_id = "BTC";
    entry.address = destination_;
    entry.state = store::WhitelistState::kActive;
    entry.requester = "p";
    entry.approvals_required = 1;
    entry.approval_group = "ops";
    entry.approved_at_unix_s = kNow / 1000 - 10;
    entry.usable_from_unix_s = kNow / 1000 - 10;
    ASSERT_TRUE(txn->InsertWhitelistEntry(entry).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }

  void TearDown() override { ExpectInvariantsHold(); }

  absl::StatusOr<store::WithdrawalRow> Create(const std::string& id, base::Uint128 amount, int64_t now = kNow,
                                              const std::string& destination = "") {
    auto txn = Write();
    Withdrawals w(config_);
    absl::StatusOr<store::WithdrawalRow> row =
        w.Create(*txn, {"c_1", "BTC", Units(amount), destination.empty() ? destination_ : destination, "platform-1"},
                 "platform:test", id, now);
    if (row.ok()) {
      EXPECT_TRUE(txn->Commit().ok());
    }
    return row;
  }

  Config config_;
  std::string destination_;
};

TEST_F(WithdrawalsTest, SmallIsApprovedAndHeldLargeWaitsTooLargeIsDeniedAndRecorded) {
  auto small = Create("w_0000000000000001", 10'000'000);
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(small->state, WithdrawalState::kApproved);
  EXPECT_EQ(small->expires_at_unix_s, kNow / 1000 + 600);
  auto large = Create("w_0000000000000002", 60'000'000);
  ASSERT_TRUE(large.ok()) << large.status();
  EXPECT_EQ(large->state, WithdrawalState::kPendingApproval);
  EXPECT_EQ(large->approvals_required, 1u);
  auto too_large = Create("w_0000000000000003", 110'000'000);
  ASSERT_TRUE(too_large.ok()) << too_large.status();
  EXPECT_EQ(too_large->state, WithdrawalState::kDenied);
  EXPECT_THAT(too_large->reason, HasSubstr("over_per_request_limit"));
  auto txn = Read();
  auto position = Ledger::ClientPosition(*txn, "c_1", "BTC");
  ASSERT_TRUE(position.ok());
  EXPECT_EQ(position->held, Units(10'010'000 + 60'010'000));
  auto summary = Withdrawals::Summarise(*txn, too_large->decision_id);
  ASSERT_TRUE(summary.ok());
  ASSERT_EQ(summary->denials.size(), 2u);  // over the request limit and over the client window
  EXPECT_EQ(summary->denials[0].reason, policy::DenyReason::kOverPerRequestLimit);
  EXPECT_EQ(summary->denials[1].reason, policy::DenyReason::kOverClientRollingLimit);
  // The recorded decisions replay to the same outcome under the same policy, and differ under
  // a stricter one.
  auto same = ReplayDecisions(*txn, kPolicy);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->decisions, 3u);
  EXPECT_TRUE(same->differences.empty());
  std::string stricter = kPolicy;
  stricter.replace(stricter.find("per_request_limit = \"1\""), 23, "per_request_limit = \"0.05\"");
  auto differ = ReplayDecisions(*txn, stricter);
  ASSERT_TRUE(differ.ok()) << differ.status();
  // Both allowed ones are now over the limit; the denied one is denied for the same reason.
  EXPECT_EQ(differ->differences.size(), 2u);
}

TEST_F(WithdrawalsTest, TheRollingWindowCountsLiveWithdrawalsOnly) {
  ASSERT_EQ(Create("w_0000000000000001", 90'000'000)->state, WithdrawalState::kPendingApproval);
  auto over = Create("w_0000000000000002", 70'000'000);
  ASSERT_TRUE(over.ok());
  EXPECT_EQ(over->state, WithdrawalState::kDenied);
  EXPECT_THAT(over->reason, HasSubstr("over_client_rolling_limit"));
  // An hour later the first no longer counts.
  auto later = Create("w_0000000000000003", 70'000'000, kNow + 3'600'000);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->state, WithdrawalState::kPendingApproval);
}

TEST_F(WithdrawalsTest, OverdueApprovalsAreRejectedAndTheirHoldsReleased) {
  ASSERT_EQ(Create("w_0000000000000001", 60'000'000)->state, WithdrawalState::kPendingApproval);
  ASSERT_EQ(Create("w_0000000000000002", 10'000'000)->state, WithdrawalState::kApproved);
  {
    auto txn = Write();
    store::WhitelistEntryRow entry;
    entry.entry_id = "wl_0000000000000002";
    entry.client_id = "c_1";
    entry.asset_id = "BTC";
    entry.address = "bcrt1qother";
    entry.requester = "p";
    entry.approvals_required = 1;
    entry.approval_group = "ops";
    entry.expires_at_unix_s = kNow / 1000 + 600;
    ASSERT_TRUE(txn->InsertWhitelistEntry(entry).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  Withdrawals w(config_);
  {
    // Not yet due.
    auto txn = Write();
    auto closed = w.ExpireOverdue(*txn, kNow + 599'000, 100);
    ASSERT_TRUE(closed.ok()) << closed.status();
    EXPECT_EQ(*closed, 0u);
  }
  {
    auto txn = Write();
    auto closed = w.ExpireOverdue(*txn, kNow + 600'000, 100);
    ASSERT_TRUE(closed.ok()) << closed.status();
    EXPECT_EQ(*closed, 2u);
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto txn = Read();
  auto expired = txn->GetWithdrawal("w_0000000000000001");
  ASSERT_TRUE(expired.ok() && expired->has_value());
  EXPECT_EQ((*expired)->state, WithdrawalState::kRejected);
  EXPECT_THAT((*expired)->reason, HasSubstr("approvals expired"));
  auto approved = txn->GetWithdrawal("w_0000000000000002");
  ASSERT_TRUE(approved.ok() && approved->has_value());
  EXPECT_EQ((*approved)->state, WithdrawalState::kApproved);  // approved ones are the executor's
  auto position = Ledger::ClientPosition(*txn, "c_1", "BTC");
  ASSERT_TRUE(position.ok());
  EXPECT_EQ(position->held, Units(10'010'000));
  auto entry = txn->GetWhitelistEntry("wl_0000000000000002");
  ASSERT_TRUE(entry.ok() && entry->has_value());
  EXPECT_EQ((*entry)->state, store::WhitelistState::kExpired);
}

TEST_F(WithdrawalsTest, ATokenHoldsOnlyTheAmountTheHousePaysTheGas) {
  std::array<uint8_t, 20> raw{};
  raw.fill(0xab);
  const std::string dest = chain::EthChecksumAddress(raw);
  {
    auto txn = Write();
    store::WhitelistEntryRow entry;
    entry.entry_id = "wl_0000000000000003";
    entry.client_id = "c_1";
    entry.asset_id = "USDC-ETH";
    entry.address = dest;
    entry.state = store::WhitelistState::kActive;
    entry.requester = "p";
    entry.approvals_required = 1;
    entry.approval_group = "ops";
    ASSERT_TRUE(txn->InsertWhitelistEntry(entry).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto txn = Write();
  Withdrawals w(config_);
  auto row = w.Create(*txn, {"c_1", "USDC-ETH", Units(5'000'000), dest, "p"}, "a", "w_00000000000000aa", kNow);
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(row->state, WithdrawalState::kApproved);  // the whole balance: no fee is held from it
  EXPECT_EQ(row->fee_asset, "ETH");
  EXPECT_FALSE(row->fee_charged_to_client);
  EXPECT_EQ(row->fee_cap, Units(1'000));
  ASSERT_TRUE(txn->Commit().ok());
  auto read = Read();
  auto hold = read->GetHold("w_00000000000000aa");
  ASSERT_TRUE(hold.ok() && hold->has_value());
  EXPECT_EQ((*hold)->amount, Units(5'000'000));
  auto position = Ledger::ClientPosition(*read, "c_1", "USDC-ETH");
  ASSERT_TRUE(position.ok());
  EXPECT_EQ(position->available, Units(0));
  EXPECT_EQ(position->held, Units(5'000'000));
}

TEST_F(WithdrawalsTest, RefusesWhatCannotBeDecided) {
  Withdrawals w(config_);
  auto txn = Write();
  auto zero = w.Create(*txn, {"c_1", "BTC", Units(0), destination_, "p"}, "a", "w_0000000000000009", kNow);
  EXPECT_EQ(zero.status().code(), absl::StatusCode::kInvalidArgument);
  auto unknown = w.Create(*txn, {"c_9", "BTC", Units(1), destination_, "p"}, "a", "w_0000000000000009", kNow);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  auto noncanonical = w.Create(*txn, {"c_1", "BTC", Units(1), "BCRT1Q", "p"}, "a", "w_0000000000000009", kNow);
  EXPECT_EQ(noncanonical.status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(txn->UpdateClientFrozen("c_1", true, "hold").ok());
  auto frozen = w.Create(*txn, {"c_1", "BTC", Units(1), destination_, "p"}, "a", "w_0000000000000009", kNow);
  EXPECT_EQ(frozen.status().code(), absl::StatusCode::kFailedPrecondition);
  // Dropped: nothing of the above is kept.
}

}  // namespace
}  // namespace ringfence::custody::testing

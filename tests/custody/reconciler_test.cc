// Reconciliation: the signed arithmetic of a wallet's figures (custody/reconciler.h) and the
// store's reconciliation tables (schema version 5).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "custody/reconciler.h"
#include "tests/custody/store_fixture.h"

namespace ringfence::custody::testing {
namespace {

using ::testing::HasSubstr;

TEST(SignedAmountTest, PrintsAndParsesOneSpellingPerValue) {
  EXPECT_EQ((SignedAmount{false, Units(0)}).ToString(), "0");
  EXPECT_EQ((SignedAmount{true, Units(0)}).ToString(), "0");
  EXPECT_EQ((SignedAmount{true, Units(1500)}).ToString(), "-1500");
  EXPECT_EQ((SignedAmount{false, Units(42)}).ToString(), "42");
  EXPECT_EQ(SignedAmount::Parse("-1500"), (SignedAmount{true, Units(1500)}));
  EXPECT_EQ(SignedAmount::Parse("0"), (SignedAmount{false, Units(0)}));
  EXPECT_EQ(SignedAmount::Parse("340282366920938463463374607431768211455"), (SignedAmount{false, base::Amount::Max()}));
  for (const char* bad : {"", "-", "-0", "+1", "01", "1.5", " 1", "--1", "340282366920938463463374607431768211456"}) {
    EXPECT_FALSE(SignedAmount::Parse(bad).has_value()) << bad;
  }
  EXPECT_EQ(SignedAmount::Minus(Units(3), Units(10)), (SignedAmount{true, Units(7)}));
  EXPECT_EQ(SignedAmount::Minus(Units(10), Units(3)), (SignedAmount{false, Units(7)}));
  EXPECT_EQ(SignedAmount::Minus(Units(5), Units(5)), (SignedAmount{false, Units(0)}));
}

TEST(ReconcileWalletTest, InFlightMovementsAreAllowedForExactly) {
  // A pending deposit of 30 the chain shows: chain 130, ledger 100, expected 130.
  auto r = ReconcileWallet(Units(130), Units(100), Units(30), Units(0));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->expected.ToString(), "130");
  EXPECT_EQ(r->difference.ToString(), "0");
  // A withdrawal of 40 + fee 2 confirmed but not settled: chain 58, ledger 100.
  r = ReconcileWallet(Units(58), Units(100), Units(0), Units(42));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->expected.ToString(), "58");
  EXPECT_EQ(r->difference.ToString(), "0");
  // The chain holds 5 less than expected, or 5 more.
  EXPECT_EQ(ReconcileWallet(Units(53), Units(100), Units(0), Units(42))->difference.ToString(), "-5");
  EXPECT_EQ(ReconcileWallet(Units(63), Units(100), Units(0), Units(42))->difference.ToString(), "5");
  // Outgoing above ledger + incoming (the books lag further than the chain): expected is
  // negative and the difference is chain + |expected|.
  r = ReconcileWallet(Units(1), Units(10), Units(0), Units(12));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->expected.ToString(), "-2");
  EXPECT_EQ(r->difference.ToString(), "3");
  // Overflow is an error, never a wrapped figure.
  EXPECT_EQ(ReconcileWallet(Units(0), base::Amount::Max(), Units(1), Units(0)).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ReconcileWallet(base::Amount::Max(), Units(0), Units(0), Units(1)).status().code(),
            absl::StatusCode::kOutOfRange);
}

class ReconcileStoreTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    AddWallets({"BTC"});
  }

  static store::ReconciliationRow Row(const std::string& difference) {
    store::ReconciliationRow row;
    row.wallet_id = "BTC:client-hot";
    row.asset_id = "BTC";
    row.chain = "bitcoin";
    row.height = 7;
    row.block_hash = "ab";
    row.chain_balance = Units(95);
    row.ledger_balance = Units(100);
    row.expected = "100";
    row.difference = difference;
    row.state = difference == "0" ? "ok" : "mismatch";
    row.addresses = "[]";
    row.ledger_seq = 3;
    row.unix_ms = 1000;
    return row;
  }

  static store::AssetFreezeRow Freeze(const std::string& id, const std::string& asset) {
    store::AssetFreezeRow f;
    f.freeze_id = id;
    f.asset_id = asset;
    f.reason = "balance_mismatch";
    f.details = R"({"wallets":[{"wallet_id":"BTC:client-hot","difference":"-5"}],"unknown_transfers":[]})";
    f.height = 7;
    f.approvals_required = 2;
    f.approval_group = "ops";
    f.created_unix_ms = 1000;
    f.updated_unix_ms = 1000;
    return f;
  }
};

TEST_F(ReconcileStoreTest, AReconciliationKeepsItsAcknowledgedDifferenceWhenRewritten) {
  auto txn = Write();
  ASSERT_TRUE(txn->PutReconciliation(Row("-5")).ok());
  EXPECT_EQ(txn->SetAcknowledgedDifference("BTC:client-cold", "1").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(txn->SetAcknowledgedDifference("BTC:client-hot", "-5").ok());
  store::ReconciliationRow next = Row("-5");
  next.height = 8;
  next.acknowledged = "0";  // ignored on an existing row
  ASSERT_TRUE(txn->PutReconciliation(next).ok());
  store::ReconciliationRow bad = Row("1");
  bad.state = "deferred";
  EXPECT_EQ(txn->PutReconciliation(bad).code(), absl::StatusCode::kInvalidArgument);
  store::ReconciliationRow unknown_wallet = Row("0");
  unknown_wallet.wallet_id = "XYZ:client-hot";
  EXPECT_EQ(txn->PutReconciliation(unknown_wallet).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(txn->Commit().ok());
  auto read = Read();
  auto rows = read->ListReconciliations();
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].height, 8u);
  EXPECT_EQ((*rows)[0].acknowledged, "-5");
  EXPECT_EQ((*rows)[0].chain_balance, Units(95));
  EXPECT_EQ((*rows)[0].difference, "-5");
}

TEST_F(ReconcileStoreTest, OneFrozenFreezePerAssetAndLiftingIsOnce) {
  auto txn = Write();
  ASSERT_TRUE(txn->InsertFreeze(Freeze("fz_0000000000000001", "BTC")).ok());
  EXPECT_EQ(txn->InsertFreeze(Freeze("fz_0000000000000002", "BTC")).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(txn->InsertFreeze(Freeze("fz_0000000000000001", "ETH")).code(), absl::StatusCode::kAlreadyExists);
  store::AssetFreezeRow zero = Freeze("fz_0000000000000003", "ETH");
  zero.approvals_required = 0;
  EXPECT_EQ(txn->InsertFreeze(zero).code(), absl::StatusCode::kInvalidArgument);
  auto active = txn->GetActiveFreeze("BTC");
  ASSERT_TRUE(active.ok() && active->has_value());
  EXPECT_EQ((*active)->freeze_id, "fz_0000000000000001");
  EXPECT_FALSE(txn->GetActiveFreeze("ETH")->has_value());
  EXPECT_TRUE(Reconciler::CheckNotFrozen(*txn, "ETH").ok());
  const absl::Status refused = Reconciler::CheckNotFrozen(*txn, "BTC");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.message()), ::testing::StartsWith("asset_frozen: BTC is frozen by fz_0000000000000001"));

  ASSERT_TRUE(txn->LiftFreeze("fz_0000000000000001", 2000).ok());
  EXPECT_EQ(txn->LiftFreeze("fz_0000000000000001", 3000).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(txn->LiftFreeze("fz_0000000000000009", 3000).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Reconciler::CheckNotFrozen(*txn, "BTC").ok());
  // Once lifted, the asset may be frozen again.
  ASSERT_TRUE(txn->InsertFreeze(Freeze("fz_0000000000000002", "BTC")).ok());
  ASSERT_TRUE(txn->Commit().ok());
  auto read = Read();
  auto all = read->ListFreezes(false, 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  auto frozen = read->ListFreezes(true, 10);
  ASSERT_EQ(frozen->size(), 1u);
  EXPECT_EQ((*frozen)[0].freeze_id, "fz_0000000000000002");
  auto lifted = read->GetFreeze("fz_0000000000000001");
  ASSERT_TRUE(lifted.ok() && lifted->has_value());
  EXPECT_EQ((*lifted)->state, store::FreezeState::kLifted);
  EXPECT_EQ((*lifted)->updated_unix_ms, 2000);
  EXPECT_EQ(read->ListFreezes(false, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ReconcileStoreTest, UnknownTransfersAreRecordedOnceAndAcknowledgedOnce) {
  auto txn = Write();
  ASSERT_TRUE(txn->InsertFreeze(Freeze("fz_0000000000000001", "BTC")).ok());
  store::UnknownTransferRow t;
  t.chain = "bitcoin";
  t.txid = std::string(64, 'a');
  t.index = 0;
  t.asset_id = "BTC";
  t.address = "bcrt1qchange";
  t.wallet_id = "BTC:client-hot";
  t.amount = Units(1234567);
  t.block_height = 9;
  t.recorded_unix_ms = 1000;
  EXPECT_TRUE(*txn->InsertUnknownTransfer(t));
  t.amount = Units(1);  // the same transfer again changes nothing
  EXPECT_FALSE(*txn->InsertUnknownTransfer(t));
  EXPECT_EQ(txn->AcknowledgeUnknownTransfer("bitcoin", t.txid, 1, "fz_0000000000000001").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(txn->AcknowledgeUnknownTransfer("bitcoin", t.txid, 0, "fz_0000000000000009").code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(txn->AcknowledgeUnknownTransfer("bitcoin", t.txid, 0, "fz_0000000000000001").ok());
  const absl::Status again = txn->AcknowledgeUnknownTransfer("bitcoin", t.txid, 0, "fz_0000000000000001");
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(again.message()), HasSubstr("acknowledged already"));
  ASSERT_TRUE(txn->Commit().ok());
  auto read = Read();
  auto rows = read->ListUnknownTransfers("BTC");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].amount, Units(1234567));
  EXPECT_TRUE((*rows)[0].acknowledged);
  EXPECT_EQ((*rows)[0].freeze_id, "fz_0000000000000001");
  EXPECT_TRUE(read->ListUnknownTransfers("ETH")->empty());
  EXPECT_EQ(read->ListUnknownTransfers("")->size(), 1u);
}

TEST_F(ReconcileStoreTest, ClientlessDepositsAreListedUnlessOrphaned) {
  auto txn = Write();
  store::DepositRow d;
  d.chain = "bitcoin";
  d.txid = std::string(64, 'b');
  d.address = "bcrt1qchange";
  d.asset_id = "BTC";
  d.amount = Units(5);
  d.block_height = 3;
  d.block_hash = "h3";
  ASSERT_TRUE(*txn->UpsertDeposit(d));
  store::DepositRow orphan = d;
  orphan.txid = std::string(64, 'c');
  orphan.status = store::DepositStatus::kOrphaned;
  ASSERT_TRUE(*txn->UpsertDeposit(orphan));
  auto rows = txn->ListClientlessDeposits("bitcoin");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].txid, d.txid);
  EXPECT_TRUE(txn->ListClientlessDeposits("ethereum")->empty());
}

}  // namespace
}  // namespace ringfence::custody::testing

// CheckInvariants: the segregation figures per asset through deposits, unattributed transfers,
// house funding and a withdrawal's hold / in flight / settle steps; and what it reports for
// client money in a house wallet and for a file edited behind the ledger's back.
#include "tests/custody/store_fixture.h"

namespace ringfence::custody::testing {
namespace {

using store::JournalEntry;
using store::Posting;

class InvariantsTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    AddWallets();
    AddClient("c_1");
    AddClient("c_2");
  }

  uint64_t LastSeq() {
    auto txn = Read();
    auto seq = txn->LastJournalSeq();
    EXPECT_TRUE(seq.ok());
    return seq.ok() ? *seq : 0;
  }

  void Post(const std::string& asset, std::vector<Posting> postings, const std::string& kind = "test") {
    JournalEntry entry;
    entry.asset_id = asset;
    entry.kind = kind;
    entry.postings = std::move(postings);
    auto txn = Write();
    auto seq = Ledger::Post(*txn, std::move(entry));
    ASSERT_TRUE(seq.ok()) << seq.status();
    ASSERT_TRUE(txn->Commit().ok());
  }

  // A copy, so that it may be taken from a report that is a temporary.
  static AssetInvariants Asset(const InvariantReport& report, const std::string& id) {
    for (const AssetInvariants& a : report.assets) {
      if (a.asset_id == id) return a;
    }
    ADD_FAILURE() << "no asset " << id << " in the report";
    return AssetInvariants{};
  }

  static bool Mentions(const std::vector<std::string>& problems, const std::string& needle) {
    for (const std::string& p : problems) {
      if (p.find(needle) != std::string::npos) return true;
    }
    return false;
  }
};

TEST_F(InvariantsTest, AnEmptyLedgerHoldsForEveryRequestedAsset) {
  const InvariantReport report = Check({"BTC", "ETH", "USDC-ETH"});
  EXPECT_TRUE(report.holds) << FormatInvariantReport(report);
  EXPECT_TRUE(report.journal_checked);
  ASSERT_EQ(report.assets.size(), 3u);
  EXPECT_EQ(report.assets[2].asset_id, "USDC-ETH");
  EXPECT_TRUE(report.assets[2].segregated);
  EXPECT_FALSE(report.assets[0].client_wallet_chain_holdings.has_value()) << "never observed on the chain";
}

TEST_F(InvariantsTest, DepositsUnattributedTransfersAndHouseFundsAreCountedApart) {
  Deposit("c_1", "BTC", Units(100));
  Deposit("c_2", "BTC", Units(50));
  {
    auto txn = Write();
    ASSERT_TRUE(Ledger::Post(*txn, Ledger::DepositCredit("BTC", "BTC:client-cold", "", Units(7), "tx:u", 1)).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  Post("BTC", {{"wallet:BTC:house-hot", true, Units(1000)}, {"house:BTC:equity", false, Units(1000)}}, "house_funding");
  Post("BTC", {{"fees:BTC", true, Units(3)}, {"wallet:BTC:house-hot", false, Units(3)}}, "network_fee");
  Deposit("c_1", "ETH", Units(9));

  const InvariantReport report = Check();
  EXPECT_TRUE(report.holds) << FormatInvariantReport(report);
  EXPECT_EQ(report.ledger_seq, 6u);
  const AssetInvariants& btc = Asset(report, "BTC");
  EXPECT_EQ(btc.client_liabilities, Units(150));
  EXPECT_EQ(btc.unattributed, Units(7));
  EXPECT_EQ(btc.client_wallet_holdings, Units(157));
  EXPECT_EQ(btc.in_flight, Units(0));
  EXPECT_EQ(btc.house_holdings, Units(997));
  EXPECT_EQ(btc.house_equity, Units(1000));
  EXPECT_EQ(btc.fees, Units(3));
  EXPECT_EQ(btc.house_client_funds, Units(0));
  EXPECT_TRUE(btc.difference.is_zero());
  EXPECT_EQ(Asset(report, "ETH").client_liabilities, Units(9));
}

TEST_F(InvariantsTest, AWithdrawalHoldsThroughHoldInFlightAndSettlement) {
  Deposit("c_1", "BTC", Units(100));
  // Hold: available -> held.
  Post("BTC", {{"client:c_1:BTC:available", true, Units(40)}, {"client:c_1:BTC:held", false, Units(40)}},
       "withdrawal_hold");
  // The held balance must be a withdrawal's open hold.
  EXPECT_FALSE(Check().holds);
  RecordHold("w_1", "c_1", "BTC", Units(40), LastSeq());
  EXPECT_TRUE(Check().holds);
  // Broadcast: the client's claim is paid, the coins are still in the wallet until the chain settles.
  Post("BTC", {{"client:c_1:BTC:held", true, Units(40)}, {"inflight:BTC:client-hot", false, Units(40)}},
       "withdrawal_broadcast");
  // Until the withdrawal is recorded as broadcast its hold is expected in the held account.
  EXPECT_FALSE(Check().holds);
  {
    auto txn = Write();
    ASSERT_TRUE(txn->ClaimWithdrawalForSigning("w_1", 2000).ok());
    ASSERT_TRUE(txn->RecordSigned("w_1", "txid", "raw", 2000).ok());
    ASSERT_TRUE(txn->RecordBroadcast("w_1", 2000).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  InvariantReport report = Check();
  EXPECT_TRUE(report.holds) << FormatInvariantReport(report);
  EXPECT_EQ(Asset(report, "BTC").in_flight, Units(40));
  EXPECT_EQ(Asset(report, "BTC").client_liabilities, Units(60));
  EXPECT_EQ(Asset(report, "BTC").client_wallet_holdings, Units(100));
  // Settled: the coins leave the wallet.
  Post("BTC", {{"inflight:BTC:client-hot", true, Units(40)}, {"wallet:BTC:client-hot", false, Units(40)}},
       "withdrawal_settled");
  {
    auto txn = Write();
    ASSERT_TRUE(txn->SettleWithdrawal("w_1", Units(0), 10, LastSeq(), 3000).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  report = Check();
  EXPECT_TRUE(report.holds) << FormatInvariantReport(report);
  EXPECT_EQ(Asset(report, "BTC").in_flight, Units(0));
  EXPECT_EQ(Asset(report, "BTC").client_wallet_holdings, Units(60));
}

TEST_F(InvariantsTest, ASweepsFeeIsAReceivableThatKeepsSegregation) {
  Deposit("c_1", "BTC", Units(1000));
  // Swept 900 to cold, 7 of fee paid from the hot wallet's coins on the house's account.
  Post("BTC", {{"wallet:BTC:client-cold", true, Units(900)}, {"receivable:BTC:client-hot", true, Units(7)},
               {"wallet:BTC:client-hot", false, Units(907)}},
       "sweep_settle");
  InvariantReport report = Check();
  EXPECT_TRUE(report.holds) << FormatInvariantReport(report);
  EXPECT_EQ(Asset(report, "BTC").receivables, Units(7));
  EXPECT_EQ(Asset(report, "BTC").client_wallet_holdings, Units(993));
  EXPECT_EQ(Asset(report, "BTC").client_liabilities, Units(1000));
  // The same fee booked without the receivable leaves the clients short by it.
  Post("BTC", {{"fees:BTC", true, Units(5)}, {"wallet:BTC:client-hot", false, Units(5)}}, "fee_unbooked");
  report = Check();
  EXPECT_FALSE(report.holds);
  EXPECT_TRUE(Mentions(Asset(report, "BTC").problems, "short by 5")) << FormatInvariantReport(report);
}

TEST_F(InvariantsTest, ClientMoneyInAHouseWalletBreaksSegregation) {
  // A (forbidden) credit of a client backed by a house wallet: the ledger balances, the
  // segregation check does not.
  Post("BTC", {{"wallet:BTC:house-hot", true, Units(25)}, {"client:c_1:BTC:available", false, Units(25)}});
  const InvariantReport report = Check();
  EXPECT_FALSE(report.holds);
  EXPECT_TRUE(report.journal_balanced) << "every entry balances; the books are consistent";
  const AssetInvariants& btc = Asset(report, "BTC");
  EXPECT_FALSE(btc.holds);
  EXPECT_FALSE(btc.segregated);
  EXPECT_TRUE(btc.difference_negative);
  EXPECT_EQ(btc.difference, Units(25));
  EXPECT_EQ(btc.house_client_funds, Units(25));
  EXPECT_TRUE(Mentions(btc.problems, "short by 25")) << FormatInvariantReport(report);
  EXPECT_TRUE(Mentions(btc.problems, "client funds in a house wallet"));
  EXPECT_TRUE(Asset(report, "ETH").holds) << "assets are judged apart";
}

TEST_F(InvariantsTest, ChainObservedHoldingsAppearOnceEveryClientWalletWasSeen) {
  Deposit("c_1", "BTC", Units(100));
  {
    auto txn = Write();
    ASSERT_TRUE(txn->PutObservedBalance("BTC:client-hot", Units(100), 812).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_FALSE(Asset(Check(), "BTC").client_wallet_chain_holdings.has_value()) << "client-cold not observed yet";
  {
    auto txn = Write();
    ASSERT_TRUE(txn->PutObservedBalance("BTC:client-cold", Units(5), 810).ok());
    ASSERT_TRUE(txn->PutObservedBalance("BTC:house-hot", Units(999), 900).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  const AssetInvariants& btc = Asset(Check(), "BTC");
  ASSERT_TRUE(btc.client_wallet_chain_holdings.has_value());
  EXPECT_EQ(*btc.client_wallet_chain_holdings, Units(105)) << "house wallets are not client holdings";
  EXPECT_EQ(btc.chain_height, 810u) << "the lowest height observed";
}

TEST_F(InvariantsTest, ABalanceEditedBehindTheLedgersBackIsFound) {
  Deposit("c_1", "BTC", Units(100));
  // 16 bytes big-endian: 200.
  RawSql("UPDATE balances SET credits = x'000000000000000000000000000000C8' WHERE account = 'client:c_1:BTC:available'");
  const InvariantReport balances_only = Check({"BTC"}, InvariantScope::kBalances);
  EXPECT_FALSE(balances_only.holds);
  EXPECT_FALSE(balances_only.journal_checked);
  EXPECT_TRUE(Asset(balances_only, "BTC").difference_negative);
  const InvariantReport full = Check({"BTC"});
  EXPECT_FALSE(full.journal_balanced);
  EXPECT_TRUE(Mentions(full.problems, "stored debits/credits 0/200 but the journal adds up to 0/100"))
      << FormatInvariantReport(full);
}

TEST_F(InvariantsTest, AnEditedPostingIsFoundAsAnUnbalancedEntry) {
  Deposit("c_1", "BTC", Units(100));
  Deposit("c_1", "BTC", Units(10));
  RawSql("DROP TRIGGER postings_no_update; UPDATE postings SET amount = x'00000000000000000000000000000009'"
         " WHERE seq = 2 AND idx = 1");
  const InvariantReport report = Check({"BTC"});
  EXPECT_FALSE(report.holds);
  EXPECT_FALSE(report.journal_balanced);
  EXPECT_EQ(report.first_bad_seq, 2u);
  EXPECT_FALSE(Asset(report, "BTC").journal_balanced);
  EXPECT_TRUE(Mentions(Asset(report, "BTC").problems, "journal entry 2 does not balance: debits 10, credits 9"))
      << FormatInvariantReport(report);
}

TEST_F(InvariantsTest, ADeletedJournalEntryIsFound) {
  Deposit("c_1", "BTC", Units(100));
  Deposit("c_1", "BTC", Units(10));
  Deposit("c_1", "BTC", Units(1));
  RawSql("DROP TRIGGER postings_no_delete; DROP TRIGGER journal_no_delete;"
         " DELETE FROM postings WHERE seq = 2; DELETE FROM journal WHERE seq = 2");
  const InvariantReport report = Check({"BTC"});
  EXPECT_FALSE(report.holds);
  EXPECT_EQ(report.first_bad_seq, 2u);
  EXPECT_TRUE(Mentions(report.problems, "journal entries 2..2 are missing")) << FormatInvariantReport(report);
}

TEST_F(InvariantsTest, WalletsAndAccountsThatContradictTheirNamesAreReported) {
  {
    auto txn = Write();
    ASSERT_TRUE(txn->UpsertWallet({"LTC:client-hot", "LTC", "house", "hot", "x"}).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  RawSql("INSERT INTO balances VALUES ('mystery:BTC', zeroblob(16), zeroblob(16))");
  Post("BTC", {{"wallet:BTC:house-cold", true, Units(1)}, {"house:BTC:equity", false, Units(1)}});
  const InvariantReport report = Check({"BTC"});
  EXPECT_FALSE(report.holds);
  EXPECT_TRUE(Mentions(Asset(report, "LTC").problems, "which its id contradicts")) << FormatInvariantReport(report);
  EXPECT_TRUE(Mentions(Asset(report, "BTC").problems, "not a recorded wallet"));
  EXPECT_TRUE(Mentions(report.problems, "mystery:BTC"));
}

}  // namespace
}  // namespace ringfence::custody::testing

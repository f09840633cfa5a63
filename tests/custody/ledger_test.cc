// Ledger::Post: account grammar, balance per entry, no negative balance on an account's normal
// side, checked arithmetic near 2^128 - 1; on every refusal nothing is written. PostBatch: a
// batch is judged entry by entry in order and written whole or not at all. PositionsAt
// replays a client's postings to any journal point.
#include "tests/custody/store_fixture.h"

namespace ringfence::custody::testing {
namespace {

using store::JournalEntry;
using store::Posting;

const base::Amount kMax = base::Amount::Max();

JournalEntry Entry(const std::string& asset, std::vector<Posting> postings, const std::string& kind = "test") {
  JournalEntry entry;
  entry.asset_id = asset;
  entry.kind = kind;
  entry.reference = "ref";
  entry.created_unix_ms = 77;
  entry.postings = std::move(postings);
  return entry;
}

class LedgerTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    AddWallets();
    AddClient("c_1");
    AddClient("c_2");
  }

  // Posts `entry` and commits whatever happened; returns Post's result.
  absl::StatusOr<uint64_t> PostAndCommit(JournalEntry entry) {
    auto txn = Write();
    auto seq = Ledger::Post(*txn, std::move(entry));
    EXPECT_TRUE(txn->Commit().ok());
    return seq;
  }

  // Everything a refused Post might have touched: the journal head and every balance.
  std::string Snapshot() {
    auto txn = Read();
    std::string out = std::to_string(*txn->LastJournalSeq());
    auto balances = txn->ListBalances("");
    EXPECT_TRUE(balances.ok()) << balances.status();
    for (const auto& [name, b] : *balances) {
      out += "|" + name + "=" + b.debits.ToBaseUnitString() + "/" + b.credits.ToBaseUnitString();
    }
    return out;
  }

  void ExpectRefused(JournalEntry entry, absl::StatusCode code, const std::string& needle) {
    const std::string before = Snapshot();
    auto seq = PostAndCommit(std::move(entry));
    ASSERT_FALSE(seq.ok()) << needle;
    EXPECT_EQ(seq.status().code(), code) << seq.status();
    EXPECT_NE(seq.status().message().find(needle), std::string::npos) << seq.status();
    EXPECT_EQ(Snapshot(), before) << "a refused entry changed the books: " << seq.status();
  }
};

TEST_F(LedgerTest, ADepositCreditsTheClientAndTheWallet) {
  const uint64_t seq = Deposit("c_1", "BTC", Units(150000));
  EXPECT_EQ(seq, 1u);
  auto txn = Read();
  auto position = Ledger::ClientPosition(*txn, "c_1", "BTC");
  ASSERT_TRUE(position.ok());
  EXPECT_EQ(position->available, Units(150000));
  EXPECT_EQ(position->held, Units(0));
  EXPECT_EQ(*Ledger::WalletHolding(*txn, "BTC:client-hot"), Units(150000));
  EXPECT_EQ(Ledger::ClientPosition(*txn, "c_2", "BTC")->available, Units(0));
  txn.reset();
  ExpectInvariantsHold();
}

TEST_F(LedgerTest, AccountNamesFollowTheGrammar) {
  EXPECT_EQ(ClientAvailableAccount("c_1", "BTC"), "client:c_1:BTC:available");
  EXPECT_EQ(ClientHeldAccount("c_1", "USDC-ETH"), "client:c_1:USDC-ETH:held");
  EXPECT_EQ(WalletAccount(WalletId("BTC", "client", "hot")), "wallet:BTC:client-hot");
  EXPECT_EQ(InflightAccount("ETH:client-cold"), "inflight:ETH:client-cold");
  EXPECT_EQ(FeesAccount("BTC"), "fees:BTC");
  EXPECT_EQ(HouseEquityAccount("BTC"), "house:BTC:equity");
  EXPECT_EQ(UnattributedAccount("BTC"), "unattributed:BTC");
  EXPECT_EQ(ReceivableAccount("BTC:client-hot"), "receivable:BTC:client-hot");
  auto receivable = ParseAccount("receivable:BTC:client-hot");
  ASSERT_TRUE(receivable.ok());
  EXPECT_EQ(receivable->kind, AccountKind::kReceivable);
  EXPECT_EQ(receivable->wallet_id, "BTC:client-hot");
  EXPECT_EQ(NormalSideOf(AccountKind::kReceivable), NormalSide::kDebit);

  auto wallet = ParseAccount("wallet:USDC-ETH:house-cold");
  ASSERT_TRUE(wallet.ok());
  EXPECT_EQ(wallet->kind, AccountKind::kWallet);
  EXPECT_EQ(wallet->asset_id, "USDC-ETH");
  EXPECT_EQ(wallet->wallet_id, "USDC-ETH:house-cold");
  EXPECT_EQ(wallet->owner_class, "house");
  EXPECT_EQ(wallet->tier, "cold");
  auto held = ParseAccount("client:c_9f.x-1:BTC:held");
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held->kind, AccountKind::kClientHeld);
  EXPECT_EQ(held->client_id, "c_9f.x-1");

  for (const std::string& bad : std::vector<std::string>{
           "", "client", "client:c_1:BTC", "client:c_1:BTC:avail", "client::BTC:available", "client:c 1:BTC:available",
        "client:c_1:BTC:available:x", "wallet:BTC", "wallet:BTC:client-warm", "wallet::client-hot",
        "wallet:BTC:client-hot:x", "inflight:BTC:public-hot", "fees:", "fees:BTC:x", "house:BTC", "house:BTC:assets",
        "unattributed:B/TC", "nope:BTC", "receivable:BTC", "receivable:BTC:house-hot", "receivable:BTC:client-warm", std::string("client:c\0:BTC:held", 18), "client:" + std::string(70, 'a') +
        ":BTC:held", "wallet:" + std::string(300, 'B') + ":client-hot"}) {
    auto parsed = ParseAccount(bad, "postings[0].account");
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("postings[0].account"), std::string::npos) << parsed.status();
    EXPECT_LT(parsed.status().message().size(), 300u) << "outside input is clipped in messages";
  }
}

TEST_F(LedgerTest, MalformedEntriesAreRefusedAndWriteNothing) {
  Deposit("c_1", "BTC", Units(100));
  const Posting debit{"wallet:BTC:client-hot", true, Units(5)};
  const Posting credit{"client:c_1:BTC:available", false, Units(5)};
  ExpectRefused(Entry("BTC", {debit, {"client:c_1:BTC:available", false, Units(4)}}),
                absl::StatusCode::kInvalidArgument, "does not balance");
  ExpectRefused(Entry("BTC", {debit}), absl::StatusCode::kInvalidArgument, "2..64 postings");
  ExpectRefused(Entry("BTC", {}), absl::StatusCode::kInvalidArgument, "2..64 postings");
  std::vector<Posting> many;
  for (int i = 0; i < 33; ++i) {
    many.push_back(debit);
    many.push_back(credit);
  }
  ExpectRefused(Entry("BTC", many), absl::StatusCode::kInvalidArgument, "2..64 postings");
  ExpectRefused(Entry("BTC", {{"wallet:BTC:client-hot", true, Units(0)}, {"client:c_1:BTC:available", false, Units(0)}}),
                absl::StatusCode::kInvalidArgument, "postings[0].amount must be above zero");
  ExpectRefused(Entry("BTC", {debit, {"client:c_1:ETH:available", false, Units(5)}}),
                absl::StatusCode::kInvalidArgument, "postings[1].account");
  ExpectRefused(Entry("BTC", {debit, {"client:c_1:BTC:spare", false, Units(5)}}), absl::StatusCode::kInvalidArgument,
                "postings[1].account");
  ExpectRefused(Entry("", {debit, credit}), absl::StatusCode::kInvalidArgument, "asset_id");
  ExpectRefused(Entry("B TC", {debit, credit}), absl::StatusCode::kInvalidArgument, "asset_id");
  ExpectRefused(Entry("BTC", {debit, credit}, ""), absl::StatusCode::kInvalidArgument, "kind");
  ExpectRefused(Entry("BTC", {debit, credit}, "Deposit"), absl::StatusCode::kInvalidArgument, "kind");
  ExpectRefused(Entry("BTC", {debit, credit}, std::string(33, 'k')), absl::StatusCode::kInvalidArgument, "kind");
  JournalEntry long_reference = Entry("BTC", {debit, credit});
  long_reference.reference = std::string(257, 'r');
  ExpectRefused(long_reference, absl::StatusCode::kInvalidArgument, "reference is 257 bytes");
  JournalEntry control = Entry("BTC", {debit, credit});
  control.reference = "line\nbreak";
  ExpectRefused(control, absl::StatusCode::kInvalidArgument, "printable");
  ExpectInvariantsHold();
}

TEST_F(LedgerTest, NoAccountGoesBelowZeroOnItsNormalSide) {
  Deposit("c_1", "BTC", Units(100));
  // A hold larger than what is available.
  ExpectRefused(Entry("BTC", {{"client:c_1:BTC:available", true, Units(101)}, {"client:c_1:BTC:held", false, Units(101)}}),
                absl::StatusCode::kFailedPrecondition, "client:c_1:BTC:available");
  // A wallet paying out more than it holds.
  ExpectRefused(Entry("BTC", {{"client:c_1:BTC:available", true, Units(100)}, {"wallet:BTC:client-hot", false, Units(101)},
                              {"fees:BTC", true, Units(1)}}),
                absl::StatusCode::kFailedPrecondition, "wallet:BTC:client-hot");
  // The other client has nothing to move.
  ExpectRefused(Entry("BTC", {{"client:c_2:BTC:available", true, Units(1)}, {"client:c_1:BTC:available", false, Units(1)}}),
                absl::StatusCode::kFailedPrecondition, "client:c_2:BTC:available");
  // Exactly everything is fine, and an account both debited and credited in one entry is judged
  // on its net movement.
  auto seq = PostAndCommit(Entry("BTC", {{"client:c_1:BTC:available", true, Units(100)},
                                         {"client:c_1:BTC:held", false, Units(60)},
                                         {"client:c_1:BTC:available", false, Units(10)},
                                         {"client:c_1:BTC:held", false, Units(30)}}));
  ASSERT_TRUE(seq.ok()) << seq.status();
  auto txn = Read();
  auto position = Ledger::ClientPosition(*txn, "c_1", "BTC");
  EXPECT_EQ(position->available, Units(10));
  EXPECT_EQ(position->held, Units(90));
  txn.reset();
  RecordHold("w_1", "c_1", "BTC", Units(90), *seq);
  ExpectInvariantsHold();
}

TEST_F(LedgerTest, AmountsUpTo2Pow128Minus1AreExactAndOverflowIsRefused) {
  ASSERT_EQ(Deposit("c_1", "ETH", kMax), 1u);
  // One more base unit into the same client would overflow its available balance.
  ExpectRefused(Ledger::DepositCredit("ETH", "ETH:client-hot", "c_1", Units(1), "x", 1), absl::StatusCode::kOutOfRange,
                "exceed 2^128 - 1");
  // An entry whose own totals overflow.
  const base::Amount half_up = base::Amount((~base::Uint128{0}) / 2 + 1);
  ExpectRefused(Entry("ETH", {{"wallet:ETH:client-cold", true, half_up}, {"wallet:ETH:client-cold", true, half_up},
                              {"client:c_2:ETH:available", false, kMax}}),
                absl::StatusCode::kOutOfRange, "debits exceed 2^128 - 1");
  // Running totals overflow even when the net balance would be fine: the wallet has debits of
  // 2^128 - 1 already; moving it all to cold and back again would need 2^129 - 2 of debits.
  ASSERT_TRUE(PostAndCommit(Entry("ETH", {{"wallet:ETH:client-cold", true, kMax}, {"wallet:ETH:client-hot", false, kMax}}))
                  .ok());
  ExpectRefused(Entry("ETH", {{"wallet:ETH:client-hot", true, kMax}, {"wallet:ETH:client-cold", false, kMax}}),
                absl::StatusCode::kOutOfRange, "running debits would exceed");
  auto txn = Read();
  EXPECT_EQ(Ledger::ClientPosition(*txn, "c_1", "ETH")->available, kMax);
  EXPECT_EQ(*Ledger::WalletHolding(*txn, "ETH:client-cold"), kMax);
  EXPECT_EQ(*Ledger::WalletHolding(*txn, "ETH:client-hot"), Units(0));
  txn.reset();
  ExpectInvariantsHold();
}

TEST_F(LedgerTest, UnattributedTransfersAreOwedApartFromClients) {
  auto txn = Write();
  auto seq = Ledger::Post(*txn, Ledger::DepositCredit("BTC", "BTC:client-hot", "", Units(42), "tx:9", 1));
  ASSERT_TRUE(seq.ok()) << seq.status();
  ASSERT_TRUE(txn->Commit().ok());
  auto read = Read();
  auto unattributed = read->GetBalance("unattributed:BTC");
  EXPECT_EQ(unattributed->credits, Units(42));
  read.reset();
  ExpectInvariantsHold();
}

TEST_F(LedgerTest, PositionsAtReplaysAClientToAnyJournalPoint) {
  const uint64_t s1 = Deposit("c_1", "BTC", Units(100));
  Deposit("c_2", "BTC", Units(999));
  const uint64_t s3 = Deposit("c_1", "ETH", Units(7));
  auto hold = PostAndCommit(
      Entry("BTC", {{"client:c_1:BTC:held", false, Units(30)}, {"client:c_1:BTC:available", true, Units(30)}}));
  ASSERT_TRUE(hold.ok());
  const uint64_t s5 = Deposit("c_1", "BTC", Units(1));

  auto txn = Read();
  EXPECT_TRUE(Ledger::PositionsAt(*txn, "c_1", 0)->empty());
  auto at1 = Ledger::PositionsAt(*txn, "c_1", s1);
  ASSERT_TRUE(at1.ok());
  ASSERT_EQ(at1->size(), 1u);
  EXPECT_EQ(at1->at("BTC").available, Units(100));
  auto at3 = Ledger::PositionsAt(*txn, "c_1", s3);
  EXPECT_EQ(at3->at("ETH").available, Units(7));
  auto at4 = Ledger::PositionsAt(*txn, "c_1", *hold);
  EXPECT_EQ(at4->at("BTC").available, Units(70)) << "the debit listed after the credit in the entry still replays";
  EXPECT_EQ(at4->at("BTC").held, Units(30));
  auto now = Ledger::PositionsAt(*txn, "c_1", s5);
  EXPECT_EQ(now->at("BTC").available, Units(71));
  auto current = Ledger::ClientPosition(*txn, "c_1", "BTC");
  EXPECT_EQ(now->at("BTC").available, current->available) << "the replay agrees with the stored balance";
  EXPECT_EQ(now->at("BTC").held, current->held);
  EXPECT_TRUE(Ledger::PositionsAt(*txn, "c_404", s5)->empty());
}

TEST_F(LedgerTest, PostBatchJudgesEachEntryAfterTheOnesBeforeIt) {
  // A hold that only the deposit before it in the same batch makes possible, a second client,
  // and a house deposit: one unit, consecutive seqs, each balance the sum of its postings.
  std::vector<JournalEntry> batch = {
      Ledger::DepositCredit("BTC", "BTC:client-hot", "c_1", Units(100), "tx:a", 1),
      Entry("BTC", {{"client:c_1:BTC:available", true, Units(60)}, {"client:c_1:BTC:held", false, Units(60)}},
            "withdrawal_hold"),
      Ledger::DepositCredit("BTC", "BTC:client-hot", "c_2", Units(5), "tx:b", 1),
      Entry("BTC", {{"wallet:BTC:house-hot", true, Units(9)}, {"house:BTC:equity", false, Units(9)}}, "deposit"),
  };
  ASSERT_EQ(Deposit("c_2", "ETH", Units(1)), 1u);
  auto txn = Write();
  auto first = Ledger::PostBatch(*txn, batch);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 2u);
  ASSERT_TRUE(txn->Commit().ok());
  auto read = Read();
  EXPECT_EQ(*read->LastJournalSeq(), 5u);
  auto entries = read->JournalRange("", 1, 5);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 4u);
  for (size_t i = 0; i < entries->size(); ++i) {
    EXPECT_EQ((*entries)[i].seq, 2 + i);
    EXPECT_EQ((*entries)[i].kind, batch[i].kind);
    EXPECT_EQ((*entries)[i].reference, batch[i].reference);
    ASSERT_EQ((*entries)[i].postings.size(), batch[i].postings.size());
    EXPECT_EQ((*entries)[i].postings[0].account, batch[i].postings[0].account);
  }
  auto c1 = Ledger::ClientPosition(*read, "c_1", "BTC");
  EXPECT_EQ(c1->available, Units(40));
  EXPECT_EQ(c1->held, Units(60));
  EXPECT_EQ(Ledger::ClientPosition(*read, "c_2", "BTC")->available, Units(5));
  EXPECT_EQ(*Ledger::WalletHolding(*read, "BTC:client-hot"), Units(105));
  EXPECT_EQ(*Ledger::WalletHolding(*read, "BTC:house-hot"), Units(9));
  auto wallet = read->GetBalance("wallet:BTC:client-hot");
  EXPECT_EQ(wallet->debits, Units(105));
  EXPECT_TRUE(wallet->credits.is_zero());
  read.reset();
  RecordHold("w_1", "c_1", "BTC", Units(60), 3);
  ExpectInvariantsHold();
}

TEST_F(LedgerTest, PostBatchWritesNothingWhenAnyEntryIsRefused) {
  Deposit("c_1", "BTC", Units(100));
  auto refused = [&](std::vector<JournalEntry> batch, absl::StatusCode code, const std::string& needle) {
    const std::string before = Snapshot();
    auto txn = Write();
    auto first = Ledger::PostBatch(*txn, batch);
    ASSERT_TRUE(txn->Commit().ok());
    ASSERT_FALSE(first.ok()) << needle;
    EXPECT_EQ(first.status().code(), code) << first.status();
    EXPECT_NE(first.status().message().find(needle), std::string::npos) << first.status();
    EXPECT_EQ(Snapshot(), before) << "a refused batch changed the books: " << first.status();
  };
  const JournalEntry deposit = Ledger::DepositCredit("BTC", "BTC:client-hot", "c_1", Units(50), "tx:ok", 1);
  // The second hold would take c_1 below zero only after the first: judged in order.
  refused({deposit,
           Entry("BTC", {{"client:c_1:BTC:available", true, Units(120)}, {"client:c_1:BTC:held", false, Units(120)}}),
           Entry("BTC", {{"client:c_1:BTC:available", true, Units(31)}, {"client:c_1:BTC:held", false, Units(31)}})},
          absl::StatusCode::kFailedPrecondition, R"(entries[2] ("test" "ref"): account "client:c_1:BTC:available" has 30)");
  // A malformed entry anywhere refuses the whole batch.
  refused({deposit, deposit, Entry("BTC", {{"client:c_1:ETH:available", true, Units(1)}, {"wallet:BTC:client-hot", false, Units(1)}})},
          absl::StatusCode::kInvalidArgument, R"(entries[2] ("test" "ref"): postings[0].account)");
  // Two deposits that fit one at a time overflow together.
  const base::Amount half_up = base::Amount((~base::Uint128{0}) / 2 + 1);
  refused({Ledger::DepositCredit("ETH", "ETH:client-hot", "c_2", half_up, "tx:1", 1),
           Ledger::DepositCredit("ETH", "ETH:client-hot", "c_2", half_up, "tx:2", 1)},
          absl::StatusCode::kOutOfRange, R"(entries[1] ("deposit" "tx:2"))");
  refused({}, absl::StatusCode::kInvalidArgument, "at least one entry");
  ExpectInvariantsHold();
}

using LedgerDeathTest = LedgerTest;

TEST_F(LedgerDeathTest, TheStoreAbortsOnAnUnbalancedEntryThatBypassedTheLedger) {
  auto txn = Write();
  JournalEntry entry = Entry("BTC", {{"wallet:BTC:client-hot", true, Units(2)}, {"client:c_1:BTC:available", false, Units(1)}});
  EXPECT_DEATH(txn->AppendJournal(entry).IgnoreError(), "does not balance");
}

TEST_F(LedgerDeathTest, ANegativeStoredBalanceIsABrokenInvariant) {
  store::AccountBalance negative{Units(1), Units(2)};
  EXPECT_DEATH(NormalBalance(NormalSide::kDebit, negative, "wallet:BTC:client-hot"), "below zero");
}

}  // namespace
}  // namespace ringfence::custody::testing

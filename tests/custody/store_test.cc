// SqliteStore: schema and pragmas, transactions and snapshots, every table's rules, concurrent
// writers and readers, and durability across a SIGKILL in the middle of a batch.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "base/text.h"
#include "custody/audit_log.h"
#include "tests/custody/store_fixture.h"

namespace ringfence::custody::testing {
namespace {

using store::AddressRow;
using store::ClientRow;
using store::DepositRow;
using store::DepositStatus;
using store::Page;

TEST_F(StoreTest, OpensInWalModeAtTheLatestSchemaVersion) {
  EXPECT_EQ(RawQuery("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(RawQuery("SELECT version FROM schema_version"), std::to_string(store::SqliteStore::LatestSchemaVersion()));
  // Reopening an existing file keeps its data and does not re-run migrations.
  AddClient("c_1");
  Reopen();
  auto txn = Read();
  auto got = txn->GetClient("c_1");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->has_value());
}

TEST_F(StoreTest, RefusesADatabaseFromANewerSchema) {
  store_.reset();
  RawSql("UPDATE schema_version SET version = 99");
  auto opened = store::SqliteStore::Open(DbPath());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(opened.status().message().find("newer"), std::string::npos) << opened.status();
}

TEST_F(StoreTest, RefusesAFileThatIsNotADatabase) {
  const std::string path = (dir_ / "garbage.db").string();
  std::ofstream(path) << std::string(4096, 'x');
  auto opened = store::SqliteStore::Open(path);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kUnavailable) << opened.status();
}

TEST_F(StoreTest, RefusesAMissingDirectory) {
  auto opened = store::SqliteStore::Open((dir_ / "no/such/dir/custody.db").string());
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kUnavailable) << opened.status();
}

TEST_F(StoreTest, ATxnDroppedWithoutCommitLeavesNothing) {
  {
    auto txn = Write();
    ASSERT_TRUE(txn->InsertClient(Client("c_1", "r1")).ok());
  }
  auto txn = Read();
  EXPECT_FALSE(txn->GetClient("c_1")->has_value());
}

TEST_F(StoreTest, AnEndedTxnRefusesFurtherUse) {
  auto txn = Write();
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_EQ(txn->InsertClient(Client("c_1", "r1")).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(txn->Commit().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(StoreTest, AReadTxnSeesOneSnapshotAndRefusesWrites) {
  AddClient("c_1");
  auto snapshot = Read();
  AddClient("c_2");
  EXPECT_TRUE(snapshot->GetClient("c_1")->has_value());
  EXPECT_FALSE(snapshot->GetClient("c_2")->has_value()) << "a read Txn sees the database as of BeginRead";
  EXPECT_TRUE(Read()->GetClient("c_2")->has_value());

  EXPECT_EQ(snapshot->InsertClient(Client("c_3", "r3")).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(snapshot->GetBalanceForUpdate("wallet:BTC:client-hot").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(snapshot->AuditHeadForUpdate().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(snapshot->Commit().ok());
}

TEST_F(StoreTest, BeginWaitsForTheWriterAndGivesUpAfterTheBusyTimeout) {
  Reopen(store::SqliteStoreOptions{.busy_timeout_ms = 0, .max_readers = 2, .max_batch_age_ms = 20, .vfs = ""});
  auto holder = Write();
  auto second = store_->Begin();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAborted);
  // Readers are not blocked by the writer.
  EXPECT_TRUE(store_->BeginRead().ok());
  ASSERT_TRUE(holder->Commit().ok());
  EXPECT_TRUE(store_->Begin().ok());
}

// Starts `n` threads that each wait in Begin(), insert client `ids[i]` and then commit (or,
// where `commit[i]` is false, drop the Txn), and returns once all of them wait for the writer.
// Options under which a batch ends only when no writer waits (or at 64 members): tests that
// count commits must not depend on how fast this machine runs their threads.
store::SqliteStoreOptions NoBatchAgeLimit() {
  store::SqliteStoreOptions options;
  options.max_batch_age_ms = 600'000;
  return options;
}

TEST_F(StoreTest, WritersThatWaitForEachOtherShareOneCommit) {
  Reopen(NoBatchAgeLimit());
  const auto stats0 = store_->group_commit_stats();
  auto first = Write();
  ASSERT_TRUE(first->InsertClient(Client("c_a", "ref-c_a")).ok());
  std::vector<absl::Status> results;
  auto threads = QueueWriters(*store_, {"c_b", "c_c"}, {true, true}, results);
  // Two writers wait: this Commit hands the writer on and returns once the last one committed.
  ASSERT_TRUE(first->Commit().ok());
  for (auto& t : threads) t.join();
  for (const absl::Status& r : results) EXPECT_TRUE(r.ok()) << r;
  const auto stats = store_->group_commit_stats();
  EXPECT_EQ(stats.commits - stats0.commits, 1u);
  EXPECT_EQ(stats.transactions - stats0.transactions, 3u);
  auto txn = Read();
  for (const char* id : {"c_a", "c_b", "c_c"}) EXPECT_TRUE((*txn->GetClient(id)).has_value()) << id;
}

TEST_F(StoreTest, ALargeWriterCommitsTheBatchLeftForItAndOpensItsOwn) {
  Reopen(NoBatchAgeLimit());
  const auto stats0 = store_->group_commit_stats();
  auto first = Write();
  ASSERT_TRUE(first->InsertClient(Client("c_a", "ref-c_a")).ok());
  absl::Status large_result = absl::UnknownError("not run");
  std::thread large([&] {
    auto txn = store_->BeginLarge();
    if (!txn.ok()) {
      large_result = txn.status();
      return;
    }
    large_result = (*txn)->InsertClient(Client("c_l", "ref-c_l"));
    if (large_result.ok()) large_result = (*txn)->Commit();
  });
  while (store_->writers_waiting() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // A writer waits, so this member leaves its batch open for it; the large writer commits it
  // rather than joining, and commits its own transaction apart.
  ASSERT_TRUE(first->Commit().ok());
  large.join();
  ASSERT_TRUE(large_result.ok()) << large_result;
  const auto stats = store_->group_commit_stats();
  EXPECT_EQ(stats.commits - stats0.commits, 2u);
  EXPECT_EQ(stats.transactions - stats0.transactions, 2u);
  auto txn = Read();
  for (const char* id : {"c_a", "c_l"}) EXPECT_TRUE((*txn->GetClient(id)).has_value()) << id;
  txn.reset();

  // Dropped, a large writer takes its own writes with it.
  auto lone = store_->BeginLarge();
  ASSERT_TRUE(lone.ok()) << lone.status();
  ASSERT_TRUE((*lone)->InsertClient(Client("c_x", "ref-c_x")).ok());
  lone->reset();
  EXPECT_FALSE((*Read()->GetClient("c_x")).has_value()) << "a dropped large Txn left a row";
}

TEST_F(StoreTest, AWriterDroppedInsideABatchTakesNothingElseWithIt) {
  Reopen(NoBatchAgeLimit());
  const auto stats0 = store_->group_commit_stats();
  auto first = Write();
  ASSERT_TRUE(first->InsertClient(Client("c_a", "ref-c_a")).ok());
  std::vector<absl::Status> results;
  // The middle one is dropped without Commit, after its insert.
  auto threads = QueueWriters(*store_, {"c_b", "c_c", "c_d"}, {true, false, true}, results);
  ASSERT_TRUE(first->Commit().ok());
  for (auto& t : threads) t.join();
  EXPECT_TRUE(results[0].ok()) << results[0];
  EXPECT_TRUE(results[1].ok()) << results[1];  // its insert worked; it was dropped afterwards
  EXPECT_TRUE(results[2].ok()) << results[2];
  const auto stats = store_->group_commit_stats();
  EXPECT_EQ(stats.commits - stats0.commits, 1u);
  EXPECT_EQ(stats.transactions - stats0.transactions, 3u);
  auto txn = Read();
  EXPECT_TRUE((*txn->GetClient("c_a")).has_value());
  EXPECT_TRUE((*txn->GetClient("c_b")).has_value());
  EXPECT_FALSE((*txn->GetClient("c_c")).has_value()) << "a dropped Txn left a row";
  EXPECT_TRUE((*txn->GetClient("c_d")).has_value());
  txn.reset();
  // The writer is free again and a lone writer commits at once, in a batch of its own.
  auto lone = Write();
  ASSERT_TRUE(lone->InsertClient(Client("c_e", "ref-c_e")).ok());
  ASSERT_TRUE(lone->Commit().ok());
  EXPECT_EQ(store_->group_commit_stats().commits - stats.commits, 1u);
  EXPECT_TRUE((*Read()->GetClient("c_e")).has_value());
}

TEST_F(StoreTest, AFailedStatementInsideABatchLeavesTheOtherMembersWhole) {
  Reopen(NoBatchAgeLimit());
  auto first = Write();
  ASSERT_TRUE(first->InsertClient(Client("c_a", "ref-c_a")).ok());
  std::vector<absl::Status> results;
  // c_b reuses c_a's id: refused inside the batch, before c_a is even committed.
  std::vector<std::thread> threads;
  results.assign(2, absl::UnknownError("not run"));
  const int before = store_->writers_waiting();
  threads.emplace_back([&] {
    auto txn = store_->Begin();
    ASSERT_TRUE(txn.ok());
    results[0] = (*txn)->InsertClient(Client("c_a", "ref-other"));
    if (results[0].ok()) results[0] = (*txn)->Commit();
  });
  threads.emplace_back([&] {
    auto txn = store_->Begin();
    ASSERT_TRUE(txn.ok());
    results[1] = (*txn)->InsertClient(Client("c_c", "ref-c_c"));
    if (results[1].ok()) results[1] = (*txn)->Commit();
  });
  while (store_->writers_waiting() < before + 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(first->Commit().ok());
  for (auto& t : threads) t.join();
  EXPECT_FALSE(results[0].ok()) << "a duplicate client id was accepted";
  EXPECT_TRUE(results[1].ok()) << results[1];
  auto txn = Read();
  EXPECT_EQ((*txn->GetClient("c_a"))->client_ref, "ref-c_a");
  EXPECT_TRUE((*txn->GetClient("c_c")).has_value());
}

TEST_F(StoreTest, BeginReadWaitsForAFreeConnectionAndGivesUp) {
  Reopen(store::SqliteStoreOptions{.busy_timeout_ms = 0, .max_readers = 2, .max_batch_age_ms = 20, .vfs = ""});
  auto a = Read();
  auto b = Read();
  auto c = store_->BeginRead();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kAborted);
  b.reset();
  EXPECT_TRUE(store_->BeginRead().ok()) << "a returned connection is reused";
}

TEST_F(StoreTest, ClientsAreUniqueByIdAndRefFreezeAndPaginate) {
  auto txn = Write();
  ASSERT_TRUE(txn->InsertClient(Client("c_b", "ref-b")).ok());
  EXPECT_EQ(txn->InsertClient(Client("c_b", "other")).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(txn->InsertClient(Client("c_x", "ref-b")).code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(txn->InsertClient(Client("c_a", "ref-a")).ok()) << "a refused insert leaves the Txn usable";
  ASSERT_TRUE(txn->InsertClient(Client("c_c", "ref-c")).ok());
  ASSERT_TRUE(txn->UpdateClientFrozen("c_a", true, "court order").ok());
  EXPECT_EQ(txn->UpdateClientFrozen("c_zz", true, "x").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(txn->Commit().ok());

  auto read = Read();
  auto by_ref = read->GetClientByRef("ref-a");
  ASSERT_TRUE(by_ref.ok() && by_ref->has_value());
  EXPECT_EQ((*by_ref)->client_id, "c_a");
  EXPECT_TRUE((*by_ref)->frozen);
  EXPECT_EQ((*by_ref)->frozen_reason, "court order");
  EXPECT_EQ((*by_ref)->created_unix_ms, 42);
  EXPECT_FALSE(read->GetClientByRef("nope")->has_value());

  auto first = read->ListClients(Page{"", 2});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].client_id, "c_a");
  EXPECT_EQ((*first)[1].client_id, "c_b");
  auto rest = read->ListClients(Page{"c_b", 2});
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].client_id, "c_c");
  EXPECT_EQ(read->ListClients(Page{"", 1001}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(read->ListClients(Page{"", 0})->size(), 3u) << "limit 0 means the default page";
}

TEST_F(StoreTest, AWalletsAssetOwnerAndTierNeverChange) {
  AddWallets({"BTC"});
  auto txn = Write();
  EXPECT_TRUE(txn->UpsertWallet({"BTC:client-hot", "BTC", "client", "hot", "hot-1"}).ok()) << "the same again";
  EXPECT_TRUE(txn->UpsertWallet({"BTC:client-hot", "BTC", "client", "hot", "hot-2"}).ok()) << "a new signer";
  EXPECT_EQ(txn->UpsertWallet({"BTC:client-hot", "BTC", "house", "hot", "hot-2"}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(txn->UpsertWallet({"BTC:client-hot", "BTC", "client", "cold", "hot-2"}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(txn->UpsertWallet({"BTC:client-warm", "BTC", "client", "warm", "x"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(txn->UpsertWallet({"BTC:public", "BTC", "public", "hot", "x"}).code(),
            absl::StatusCode::kInvalidArgument);
  auto wallets = txn->ListWallets();
  ASSERT_TRUE(wallets.ok());
  ASSERT_EQ(wallets->size(), 3u);
  EXPECT_EQ((*wallets)[0].wallet_id, "BTC:client-cold");
  EXPECT_EQ((*wallets)[1].signer, "hot-2");
}

TEST_F(StoreTest, AddressesBelongToAWalletAndOptionallyAClient) {
  AddWallets({"BTC", "ETH"});
  AddClient("c_1");
  auto txn = Write();
  EXPECT_TRUE(txn->InsertAddress({"bc1qb", "BTC", "BTC:client-hot", "c_1", "k1", 7}).ok());
  EXPECT_TRUE(txn->InsertAddress({"bc1qa", "BTC", "BTC:client-hot", "c_1", "k2", 7}).ok());
  EXPECT_TRUE(txn->InsertAddress({"0xE1", "ETH", "ETH:client-hot", "c_1", "k3", 7}).ok());
  EXPECT_TRUE(txn->InsertAddress({"bc1qhouse", "BTC", "BTC:house-hot", "", "k4", 7}).ok());
  EXPECT_EQ(txn->InsertAddress({"bc1qa", "BTC", "BTC:client-hot", "c_1", "k5", 7}).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(txn->InsertAddress({"bc1qz", "BTC", "BTC:nowhere", "c_1", "k6", 7}).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(txn->InsertAddress({"bc1qy", "BTC", "BTC:client-hot", "c_404", "k7", 7}).code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(txn->Commit().ok());

  auto read = Read();
  auto house = read->GetAddress("bc1qhouse");
  ASSERT_TRUE(house.ok() && house->has_value());
  EXPECT_EQ((*house)->client_id, "") << "a wallet's own address has no client";
  auto btc = read->ListAddressesOfClient("c_1", "BTC", Page{});
  ASSERT_TRUE(btc.ok());
  ASSERT_EQ(btc->size(), 2u);
  EXPECT_EQ((*btc)[0].address, "bc1qa");
  auto all = read->ListAddressesOfClient("c_1", "", Page{"", 2});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].address, "0xE1");
  auto next = read->ListAddressesOfClient("c_1", "", Page{(*all)[1].address, 2});
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ((*next)[0].address, "bc1qb");
  EXPECT_EQ(read->ListAddressesOfWallet("BTC:client-hot")->size(), 2u);
}

TEST_F(StoreTest, JournalListsNewestFirstWithACursorAndRangesOldestFirst) {
  AddWallets();
  AddClient("c_1");
  AddClient("c_2");
  for (int i = 0; i < 5; ++i) Deposit(i % 2 == 0 ? "c_1" : "c_2", "BTC", Units(10 + i), "tx:" + std::to_string(i));
  Deposit("c_1", "ETH", Units(1000), "eth:0");
  auto txn = Read();
  EXPECT_EQ(*txn->LastJournalSeq(), 6u);

  auto page = txn->ListJournal("client:c_1:", "", Page{"", 2});
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].seq, 6u);
  EXPECT_EQ((*page)[0].asset_id, "ETH");
  EXPECT_EQ((*page)[1].seq, 5u);
  auto next = txn->ListJournal("client:c_1:", "", Page{"5", 2});
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->size(), 2u);
  EXPECT_EQ((*next)[0].seq, 3u);
  EXPECT_EQ((*next)[1].seq, 1u);
  EXPECT_EQ((*next)[1].postings.size(), 2u);
  EXPECT_EQ((*next)[1].postings[0].account, "wallet:BTC:client-hot");
  EXPECT_TRUE((*next)[1].postings[0].debit);
  EXPECT_EQ((*next)[1].postings[0].amount, Units(10));
  EXPECT_EQ((*next)[1].reference, "tx:0");
  EXPECT_EQ((*next)[1].kind, "deposit");

  auto btc_only = txn->ListJournal("client:c_1:", "BTC", Page{});
  ASSERT_EQ(btc_only->size(), 3u);
  auto wallet = txn->ListJournal("wallet:BTC:", "", Page{});
  ASSERT_EQ(wallet->size(), 5u);
  auto everything = txn->ListJournal("", "", Page{"3", 10});
  ASSERT_EQ(everything->size(), 2u);
  EXPECT_EQ((*everything)[0].seq, 2u);

  for (const char* bad : {"abc", "-1", "01", "1.5", "99999999999999999999999", " 3"}) {
    EXPECT_EQ(txn->ListJournal("client:c_1:", "", Page{bad, 2}).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }

  auto range = txn->JournalRange("client:c_2:", 0, 6);
  ASSERT_TRUE(range.ok());
  ASSERT_EQ(range->size(), 2u);
  EXPECT_EQ((*range)[0].seq, 2u);
  EXPECT_EQ((*range)[1].seq, 4u);
  EXPECT_EQ(txn->JournalRange("client:c_2:", 2, 3)->size(), 0u);
  EXPECT_EQ(txn->JournalRange("", 4, 6)->size(), 2u);
  EXPECT_EQ(txn->JournalRange("", 6, 4)->size(), 0u);
}

TEST_F(StoreTest, BalancesAreListedByPrefixInNameOrder) {
  AddWallets();
  AddClient("c_1");
  Deposit("c_1", "BTC", Units(5));
  Deposit("c_1", "ETH", Units(7));
  auto txn = Read();
  auto clients = txn->ListBalances("client:");
  ASSERT_TRUE(clients.ok());
  ASSERT_EQ(clients->size(), 2u);
  EXPECT_EQ((*clients)[0].first, "client:c_1:BTC:available");
  EXPECT_EQ((*clients)[0].second.credits, Units(5));
  EXPECT_EQ((*clients)[0].second.debits, Units(0));
  EXPECT_EQ(txn->ListBalances("")->size(), 4u);
  EXPECT_EQ(txn->ListBalances("wallet:ETH:")->size(), 1u);
  EXPECT_EQ(txn->ListBalances("zzz")->size(), 0u);
  auto none = txn->GetBalance("wallet:BTC:client-cold");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->debits.is_zero() && none->credits.is_zero()) << "an account never posted to is zero";
}

TEST_F(StoreTest, AJournalAppendThatFailsHalfWayLeavesNothingEvenIfCommitted) {
  AddWallets();
  AddClient("c_1");
  Deposit("c_1", "BTC", Units(100));
  // Fault injection: the second posting's insert fails inside AppendJournal.
  RawSql("CREATE TRIGGER inject_fault BEFORE INSERT ON postings WHEN NEW.account = 'client:c_1:BTC:held'"
         " BEGIN SELECT RAISE(ABORT, 'injected fault'); END");
  {
    auto txn = Write();
    store::JournalEntry entry;
    entry.asset_id = "BTC";
    entry.kind = "withdrawal_hold";
    entry.postings = {{"client:c_1:BTC:available", true, Units(40)}, {"client:c_1:BTC:held", false, Units(40)}};
    auto seq = Ledger::Post(*txn, entry);
    ASSERT_FALSE(seq.ok());
    EXPECT_NE(seq.status().message().find("injected fault"), std::string::npos) << seq.status();
    ASSERT_TRUE(txn->Commit().ok());
  }
  RawSql("DROP TRIGGER inject_fault");
  auto txn = Read();
  EXPECT_EQ(*txn->LastJournalSeq(), 1u);
  auto position = Ledger::ClientPosition(*txn, "c_1", "BTC");
  ASSERT_TRUE(position.ok());
  EXPECT_EQ(position->available, Units(100));
  EXPECT_EQ(position->held, Units(0));
  txn.reset();
  ExpectInvariantsHold();
}

TEST_F(StoreTest, AJournalBatchTakesConsecutiveSeqsAndSumsEachBalanceOnce) {
  AddWallets();
  AddClient("c_1");
  AddClient("c_2");
  Deposit("c_1", "BTC", Units(7));
  std::vector<store::JournalEntry> batch;
  for (int i = 0; i < 5; ++i) {
    batch.push_back(Ledger::DepositCredit("BTC", "BTC:client-hot", i % 2 == 0 ? "c_1" : "c_2", Units(10 + i),
                                          base::Cat("tx:", i), 9));
  }
  {
    auto txn = Write();
    EXPECT_EQ(txn->AppendJournalBatch({}).status().code(), absl::StatusCode::kInvalidArgument);
    auto first = txn->AppendJournalBatch(batch);
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(*first, 2u);
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto txn = Read();
  EXPECT_EQ(*txn->LastJournalSeq(), 6u);
  auto entries = txn->JournalRange("", 1, 6);
  ASSERT_EQ(entries->size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ((*entries)[i].reference, base::Cat("tx:", i));
  EXPECT_EQ(txn->GetBalance("wallet:BTC:client-hot")->debits, Units(7 + 10 + 11 + 12 + 13 + 14));
  EXPECT_EQ(txn->GetBalance("client:c_1:BTC:available")->credits, Units(7 + 10 + 12 + 14));
  EXPECT_EQ(txn->GetBalance("client:c_2:BTC:available")->credits, Units(11 + 13));
  txn.reset();
  ExpectInvariantsHold();
}

TEST_F(StoreTest, AJournalBatchThatFailsHalfWayLeavesNothingEvenIfCommitted) {
  AddWallets();
  AddClient("c_1");
  AddClient("c_2");
  Deposit("c_1", "BTC", Units(100));
  // Fault injection: the third entry's posting to c_2 fails, after two entries went in.
  RawSql("CREATE TRIGGER inject_fault BEFORE INSERT ON postings WHEN NEW.account = 'client:c_2:BTC:available'"
         " BEGIN SELECT RAISE(ABORT, 'injected fault'); END");
  {
    auto txn = Write();
    std::vector<store::JournalEntry> batch = {
        Ledger::DepositCredit("BTC", "BTC:client-hot", "c_1", Units(1), "tx:1", 9),
        Ledger::DepositCredit("BTC", "BTC:client-hot", "c_1", Units(2), "tx:2", 9),
        Ledger::DepositCredit("BTC", "BTC:client-hot", "c_2", Units(3), "tx:3", 9)};
    auto first = Ledger::PostBatch(*txn, batch);
    ASSERT_FALSE(first.ok());
    EXPECT_NE(first.status().message().find("injected fault"), std::string::npos) << first.status();
    ASSERT_TRUE(txn->Commit().ok());
  }
  RawSql("DROP TRIGGER inject_fault");
  auto txn = Read();
  EXPECT_EQ(*txn->LastJournalSeq(), 1u);
  EXPECT_EQ(Ledger::ClientPosition(*txn, "c_1", "BTC")->available, Units(100));
  EXPECT_EQ(*Ledger::WalletHolding(*txn, "BTC:client-hot"), Units(100));
  txn.reset();
  ExpectInvariantsHold();
}

TEST_F(StoreTest, AddressesAreListedInTheOrderTheyWereAdded) {
  AddWallets();
  AddClient("c_1");
  {
    auto txn = Write();
    for (const char* a : {"bcrt1qzz", "bcrt1qaa", "bcrt1qmm"}) {
      ASSERT_TRUE(txn->InsertAddress({a, "BTC", "BTC:client-hot", "c_1", "k", 1}).ok());
    }
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto txn = Read();
  auto all = txn->ListAddressesAddedAfter(0, 10);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].second.address, "bcrt1qzz") << "insertion order, not address order";
  EXPECT_EQ((*all)[2].second.address, "bcrt1qmm");
  EXPECT_LT((*all)[0].first, (*all)[1].first);
  EXPECT_LT((*all)[1].first, (*all)[2].first);
  auto rest = txn->ListAddressesAddedAfter((*all)[0].first, 1);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].second.address, "bcrt1qaa");
  EXPECT_TRUE(txn->ListAddressesAddedAfter((*all)[2].first, 10)->empty());
  EXPECT_EQ(*txn->CountAddresses(), 3u);
  EXPECT_EQ(txn->ListAddressesAddedAfter(0, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(txn->ListAddressesAddedAfter(0, 10001).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, ChainBlocksAreStoredReplacedAndForgottenAboveAHeight) {
  auto txn = Write();
  EXPECT_FALSE(txn->LastChainBlock("btc")->has_value());
  for (uint64_t h = 1; h <= 5; ++h) {
    ASSERT_TRUE(txn->PutChainBlock({"btc", h, base::Cat("h", h), base::Cat("h", h - 1)}).ok());
  }
  ASSERT_TRUE(txn->PutChainBlock({"eth", 9, "e9", "e8"}).ok());
  EXPECT_EQ((*txn->LastChainBlock("btc"))->height, 5u);
  ASSERT_TRUE(txn->DeleteChainBlocksAbove("btc", 3).ok());
  EXPECT_EQ((*txn->LastChainBlock("btc"))->hash, "h3");
  EXPECT_FALSE(txn->GetChainBlock("btc", 4)->has_value());
  ASSERT_TRUE(txn->PutChainBlock({"btc", 3, "h3b", "h2"}).ok());
  EXPECT_EQ((*txn->GetChainBlock("btc", 3))->hash, "h3b");
  EXPECT_EQ((*txn->LastChainBlock("eth"))->height, 9u) << "chains are apart";
  EXPECT_EQ(txn->PutChainBlock({"btc", uint64_t{1} << 63, "x", "y"}).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, DepositsAreIdempotentPerTransferAndACreditIsNeverRepeated) {
  AddWallets();
  AddClient("c_1");
  auto txn = Write();
  DepositRow row;
  row.chain = "btc";
  row.txid = "aa";
  row.index = 1;
  row.address = "bc1qa";
  row.asset_id = "BTC";
  row.client_id = "c_1";
  row.amount = Units(500);
  row.block_height = 10;
  row.block_hash = "b10";
  EXPECT_TRUE(*txn->UpsertDeposit(row));
  EXPECT_FALSE(*txn->UpsertDeposit(row)) << "the same transfer in the same block is a no-op";

  DepositRow unattributed = row;
  unattributed.txid = "bb";
  unattributed.client_id = "";
  EXPECT_TRUE(*txn->UpsertDeposit(unattributed));

  EXPECT_EQ(txn->ListPendingDepositsOfClient("c_1")->size(), 1u);
  EXPECT_EQ(txn->ListDeposits("btc", DepositStatus::kPending)->size(), 2u);
  auto seq = Ledger::Post(*txn, Ledger::DepositCredit("BTC", "BTC:client-hot", "c_1", Units(500), "aa:1", 9));
  ASSERT_TRUE(seq.ok());
  ASSERT_TRUE(txn->SetDepositStatus("btc", "aa", 1, DepositStatus::kCredited, *seq).ok());
  EXPECT_EQ(txn->ListPendingDepositsOfClient("c_1")->size(), 0u);
  EXPECT_EQ(txn->SetDepositStatus("btc", "zz", 0, DepositStatus::kCredited, *seq).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(txn->SetDepositStatus("btc", "bb", 1, DepositStatus::kCredited, 999).code(), absl::StatusCode::kNotFound)
      << "credited_seq must name a journal entry";

  // A reorganisation orphans the credited block; the credit's seq stays on the row.
  ASSERT_TRUE(txn->SetDepositStatus("btc", "aa", 1, DepositStatus::kOrphaned, 0).ok());
  auto orphaned = txn->ListDeposits("btc", DepositStatus::kOrphaned);
  ASSERT_EQ(orphaned->size(), 1u);
  EXPECT_EQ((*orphaned)[0].credited_seq, *seq);
  // The same transfer mined again in another block replaces the row but keeps the credit, so
  // the ingestor cannot credit it twice.
  DepositRow remined = row;
  remined.block_height = 11;
  remined.block_hash = "b11-new";
  EXPECT_TRUE(*txn->UpsertDeposit(remined));
  auto credited = txn->ListDeposits("btc", DepositStatus::kCredited);
  ASSERT_EQ(credited->size(), 1u);
  EXPECT_EQ((*credited)[0].block_hash, "b11-new");
  EXPECT_EQ((*credited)[0].credited_seq, *seq);

  // A pending transfer seen in a replacement block is simply replaced.
  DepositRow moved = unattributed;
  moved.block_hash = "b10-new";
  EXPECT_TRUE(*txn->UpsertDeposit(moved));
  auto above = txn->ListDepositsAbove("btc", 10);
  ASSERT_EQ(above->size(), 1u);
  EXPECT_EQ((*above)[0].txid, "aa");
  EXPECT_EQ(txn->ListDepositsAbove("btc", 9)->size(), 2u);

  DepositRow stranger = row;
  stranger.txid = "cc";
  stranger.client_id = "c_404";
  EXPECT_EQ(txn->UpsertDeposit(stranger).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(txn->Commit().ok());
}

TEST_F(StoreTest, ObservedBalancesKeepTheLatestPerWallet) {
  AddWallets({"BTC"});
  auto txn = Write();
  EXPECT_FALSE(txn->GetObservedBalance("BTC:client-hot")->has_value());
  ASSERT_TRUE(txn->PutObservedBalance("BTC:client-hot", Units(5), 100).ok());
  ASSERT_TRUE(txn->PutObservedBalance("BTC:client-hot", base::Amount::Max(), 101).ok());
  auto got = txn->GetObservedBalance("BTC:client-hot");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->first, base::Amount::Max());
  EXPECT_EQ((*got)->second, 101u);
  EXPECT_EQ(txn->PutObservedBalance("BTC:nowhere", Units(1), 1).code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, IdempotencyRecordsAreWrittenOnce) {
  auto txn = Write();
  EXPECT_FALSE(txn->GetIdempotency("k1")->has_value());
  const std::string response("\x00\x01\xff", 3);
  ASSERT_TRUE(txn->PutIdempotency({"k1", "M", "h", response}).ok());
  EXPECT_EQ(txn->PutIdempotency({"k1", "M", "h2", "x"}).code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(txn->Commit().ok());
  auto got = Read()->GetIdempotency("k1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->response, response) << "binary responses round-trip";
  EXPECT_EQ((*got)->request_hash, "h");
}

TEST_F(StoreTest, AmountsNearTheTopOfU128RoundTrip) {
  AddWallets({"ETH"});
  AddClient("c_1");
  const base::Amount top = base::Amount::Max();
  Deposit("c_1", "ETH", top);
  EXPECT_EQ(RawQuery("SELECT hex(credits) FROM balances WHERE account = 'client:c_1:ETH:available'"),
            std::string(32, 'F'))
      << "amounts are 16-byte big-endian BLOBs";
  auto txn = Read();
  EXPECT_EQ(Ledger::ClientPosition(*txn, "c_1", "ETH")->available, top);
  EXPECT_EQ(*Ledger::WalletHolding(*txn, "ETH:client-hot"), top);
}

TEST_F(StoreTest, ConcurrentWritersSerialiseAndReadersSeeCommittedStates) {
  AddWallets({"BTC"});
  AddClient("c_1");
  AddClient("c_2");
  constexpr int kThreads = 4;
  constexpr int kPerThread = 40;
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto txn = store_->Begin();
        if (!txn.ok()) {
          ++failures;
          continue;
        }
        const std::string client = t % 2 == 0 ? "c_1" : "c_2";
        auto seq = Ledger::Post(**txn, Ledger::DepositCredit("BTC", "BTC:client-hot", client, Units(1 + t), "t", 1));
        if (!seq.ok() || !(*txn)->Commit().ok()) ++failures;
      }
    });
  }
  // Readers check the invariants on whatever committed state they catch.
  std::thread reader([&] {
    while (!done) {
      auto txn = store_->BeginRead();
      if (!txn.ok()) {
        ++failures;
        continue;
      }
      auto report = CheckInvariants(**txn, {"BTC"}, InvariantScope::kFull);
      if (!report.ok() || !report->holds) ++failures;
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  auto txn = Read();
  EXPECT_EQ(*txn->LastJournalSeq(), uint64_t{kThreads * kPerThread});
  EXPECT_EQ(Ledger::ClientPosition(*txn, "c_1", "BTC")->available, Units(kPerThread * (1 + 3)));
  EXPECT_EQ(Ledger::ClientPosition(*txn, "c_2", "BTC")->available, Units(kPerThread * (2 + 4)));
  txn.reset();
  ExpectInvariantsHold({"BTC"});
}

// The child commits transactions (single ones and batches of 200 deposits) and reports each
// acknowledged commit on a pipe; the parent SIGKILLs it mid-stream, reopens the file and finds
// every acknowledged commit, no partial transaction, a balancing journal and an intact audit
// chain. Three rounds on the same file, each killed at a different point.
TEST_F(StoreTest, ASigkillMidBatchLosesNothingAcknowledged) {
  AddWallets({"BTC"});
  store_.reset();
  constexpr int kBatch = 200;
  for (int round = 0; round < 3; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      auto opened = store::SqliteStore::Open(DbPath());
      if (!opened.ok()) _exit(2);
      auto& s = **opened;
      // Each round numbers its clients from its own thousand, so no id repeats across rounds.
      for (int n = 1000 * (round + 1);; ++n) {
        auto txn = s.Begin();
        if (!txn.ok()) _exit(3);
        const std::string id = "c_" + std::to_string(n);
        ClientRow row;
        row.client_id = id;
        row.client_ref = "ref-" + id;
        if (!(*txn)->InsertClient(row).ok()) _exit(4);
        const int deposits = n % 3 == 0 ? kBatch : 1;
        for (int d = 0; d < deposits; ++d) {
          auto entry = Ledger::DepositCredit("BTC", "BTC:client-hot", id, Units(1), "tx:" + std::to_string(d), n);
          if (!Ledger::Post(**txn, std::move(entry)).ok()) _exit(5);
        }
        if (!AuditLog::Append(**txn, "system", "test.commit", id, "{}", n).ok()) _exit(6);
        if (!(*txn)->Commit().ok()) _exit(7);
        const int32_t ack = n;
        if (write(fds[1], &ack, sizeof(ack)) != sizeof(ack)) _exit(8);
      }
    }
    close(fds[1]);
    std::vector<int32_t> acked;
    for (int i = 0; i < 5 + 7 * round; ++i) {
      int32_t n = 0;
      ASSERT_EQ(read(fds[0], &n, sizeof(n)), static_cast<ssize_t>(sizeof(n)));
      acked.push_back(n);
    }
    ASSERT_EQ(kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    close(fds[0]);

    Reopen();
    auto txn = Read();
    for (int32_t n : acked) {
      const std::string id = "c_" + std::to_string(n);
      ASSERT_TRUE((*txn->GetClient(id)).has_value()) << "acknowledged commit " << id << " is missing";
      EXPECT_EQ(Ledger::ClientPosition(*txn, id, "BTC")->available, Units(n % 3 == 0 ? kBatch : 1));
    }
    // Whatever else is there (at most the commit that was not yet acknowledged) is whole.
    auto clients = txn->ListClients(Page{"", 1000});
    ASSERT_TRUE(clients.ok());
    for (const ClientRow& c : *clients) {
      const int n = std::stoi(c.client_id.substr(2));
      EXPECT_EQ(Ledger::ClientPosition(*txn, c.client_id, "BTC")->available, Units(n % 3 == 0 ? kBatch : 1))
          << c.client_id << " is partial";
    }
    auto audit = AuditLog::Verify(*txn);
    ASSERT_TRUE(audit.ok());
    EXPECT_TRUE(audit->ok) << audit->reason;
    EXPECT_EQ(audit->entries, clients->size()) << "one audit entry per committed transaction";
    txn.reset();
    ExpectInvariantsHold({"BTC"});
    store_.reset();
  }
}

}  // namespace
}  // namespace ringfence::custody::testing

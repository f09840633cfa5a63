// Test fixtures for custody's storage layer: a fresh SqliteStore in a private temporary
// directory, wallets for two assets, helpers to run a write transaction and to check every
// invariant after it. Layered: store tests use it directly, ledger/audit/invariant/idempotency
// tests build on it. Not thread-safe beyond what SqliteStore is.
#ifndef RINGFENCE_TESTS_CUSTODY_STORE_FIXTURE_H_
#define RINGFENCE_TESTS_CUSTODY_STORE_FIXTURE_H_

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/amount.h"
#include "custody/invariants.h"
#include "custody/ledger.h"
#include "custody/store/sqlite_store.h"
#include "tests/common/temp_dir.h"

namespace ringfence::custody::testing {

inline base::Amount Units(base::Uint128 n) { return base::Amount(n); }

inline store::ClientRow Client(const std::string& id, const std::string& ref) {
  store::ClientRow row;
  row.client_id = id;
  row.client_ref = ref;
  row.created_unix_ms = 42;
  return row;
}

// Starts one thread per id that begins a write Txn (waiting for the writer), inserts client
// `id` and, if commit[i], commits; results[i] is the first error or OK. Returns once every
// thread waits for the writer. `before_commit(i)`, if given, runs just before thread i commits.
inline std::vector<std::thread> QueueWriters(store::SqliteStore& s, const std::vector<std::string>& ids,
                                             const std::vector<bool>& commit, std::vector<absl::Status>& results,
                                             std::function<void(size_t)> before_commit = nullptr) {
  std::vector<std::thread> threads;
  results.assign(ids.size(), absl::UnknownError("not run"));
  const int before = s.writers_waiting();
  for (size_t i = 0; i < ids.size(); ++i) {
    threads.emplace_back([&s, &results, before_commit, id = ids[i], keep = commit[i], i] {
      auto txn = s.Begin();
      if (!txn.ok()) {
        results[i] = txn.status();
        return;
      }
      results[i] = (*txn)->InsertClient(Client(id, "ref-" + id));
      if (results[i].ok() && keep && before_commit) before_commit(i);
      if (results[i].ok() && keep) results[i] = (*txn)->Commit();
    });
  }
  while (s.writers_waiting() < before + static_cast<int>(ids.size())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return threads;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  std::string DbPath() const { return (dir_ / "custody.db").string(); }

  void Reopen(store::SqliteStoreOptions options = {}) {
    store_.reset();
    auto opened = store::SqliteStore::Open(DbPath(), options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = *std::move(opened);
  }

  std::unique_ptr<store::Txn> Write() {
    auto txn = store_->Begin();
    EXPECT_TRUE(txn.ok()) << txn.status();
    return txn.ok() ? *std::move(txn) : nullptr;
  }

  std::unique_ptr<store::Txn> Read() {
    auto txn = store_->BeginRead();
    EXPECT_TRUE(txn.ok()) << txn.status();
    return txn.ok() ? *std::move(txn) : nullptr;
  }

  // client-hot, client-cold and house-hot wallets for each asset.
  void AddWallets(const std::vector<std::string>& assets = {"BTC", "ETH"}) {
    auto txn = Write();
    for (const std::string& asset : assets) {
      for (const char* role : {"client-hot", "client-cold", "house-hot"}) {
        const std::string r(role);
        const std::string owner = r.substr(0, r.find('-'));
        const std::string tier = r.substr(r.find('-') + 1);
        ASSERT_TRUE(txn->UpsertWallet({asset + ":" + r, asset, owner, tier, tier == "hot" ? "hot-1" : ""}).ok());
      }
    }
    ASSERT_TRUE(txn->Commit().ok());
  }

  void AddClient(const std::string& client_id, const std::string& ref = "") {
    auto txn = Write();
    store::ClientRow row;
    row.client_id = client_id;
    row.client_ref = ref.empty() ? "ref-" + client_id : ref;
    row.created_unix_ms = 1000;
    ASSERT_TRUE(txn->InsertClient(row).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }

  // Posts one deposit credit in its own committed transaction; returns its seq.
  uint64_t Deposit(const std::string& client_id, const std::string& asset, base::Amount amount,
                   const std::string& reference = "tx:0") {
    auto txn = Write();
    auto seq = Ledger::Post(*txn, Ledger::DepositCredit(asset, asset + ":client-hot", client_id, amount, reference, 5));
    EXPECT_TRUE(seq.ok()) << seq.status();
    EXPECT_TRUE(txn->Commit().ok());
    return seq.ok() ? *seq : 0;
  }

  // Records withdrawal `id` of the client (state `state`) with an open hold of `amount` that
  // journal entry `placed_seq` placed (the caller posted the withdrawal_hold entry), so that
  // the invariant check finds the held balance accounted for.
  void RecordHold(const std::string& id, const std::string& client_id, const std::string& asset, base::Amount amount,
                  uint64_t placed_seq, store::WithdrawalState state = store::WithdrawalState::kApproved) {
    auto txn = Write();
    store::PolicyDecisionRow d{0, "withdrawal", id, "test", "{}", 1000};
    auto decision = txn->InsertPolicyDecision(d);
    ASSERT_TRUE(decision.ok()) << decision.status();
    store::WithdrawalRow w;
    w.withdrawal_id = id;
    w.client_id = client_id;
    w.asset_id = asset;
    w.amount = amount;
    w.destination = "test-destination";
    w.source_wallet_id = asset + ":client-hot";
    w.chain = "test";
    w.network = "test";
    w.fee_asset = asset;
    w.requester = "test";
    w.state = state;
    w.decision_id = *decision;
    ASSERT_TRUE(txn->InsertWithdrawal(w).ok());
    ASSERT_TRUE(txn->InsertHold({id, client_id, asset, amount, store::HoldState::kHeld, placed_seq, 0}).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }

  InvariantReport Check(const std::vector<std::string>& assets = {"BTC", "ETH"},
                        InvariantScope scope = InvariantScope::kFull) {
    auto txn = Read();
    auto report = CheckInvariants(*txn, assets, scope);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : InvariantReport{};
  }

  void ExpectInvariantsHold(const std::vector<std::string>& assets = {"BTC", "ETH"}) {
    const InvariantReport report = Check(assets);
    EXPECT_TRUE(report.holds) << FormatInvariantReport(report);
  }

  // Runs SQL on the database file through a connection of the test's own, the way someone
  // editing the file behind custodyd's back would. The store stays open (WAL lets both in).
  void RawSql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    const std::string message = err != nullptr ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << message;
  }

  // The first column of the first row of `sql`, as text ("" if none).
  std::string RawQuery(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    std::string out;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return out;
  }

  ringfence::testing::TempDir dir_{"custody_store"};
  std::unique_ptr<store::SqliteStore> store_;
};

}  // namespace ringfence::custody::testing

#endif  // RINGFENCE_TESTS_CUSTODY_STORE_FIXTURE_H_

// The custody store when the disk fails under a group-commit batch: a VFS of this test's own
// wraps SQLite's default one and fails, on demand, reads of the database file or syncs of the
// write-ahead log. What must hold: a Commit() that returned OK is durable, every member of a
// batch that was not written gets an error, nothing of such a batch is readable, and the store
// takes new writes once the disk is back.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/custody/store_fixture.h"

namespace ringfence::custody::testing {
namespace {

// --- a VFS that fails on demand ---------------------------------------------------------------

constexpr char kFaultVfs[] = "ringfence-fault";

std::atomic<bool> fail_main_reads{false};  // xRead of a main database file: SQLITE_IOERR_READ
std::atomic<bool> fail_wal_syncs{false};   // xSync of a write-ahead log: SQLITE_IOERR_FSYNC
std::atomic<int> failures{0};              // how many calls were failed

sqlite3_vfs* real_vfs = nullptr;

struct FaultFile {
  sqlite3_file base;
  int open_flags;
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};

FaultFile* Of(sqlite3_file* f) { return reinterpret_cast<FaultFile*>(f); }

int FaultClose(sqlite3_file* f) { return Of(f)->real()->pMethods->xClose(Of(f)->real()); }
int FaultRead(sqlite3_file* f, void* buf, int amount, sqlite3_int64 offset) {
  if ((Of(f)->open_flags & SQLITE_OPEN_MAIN_DB) && fail_main_reads.load()) {
    ++failures;
    return SQLITE_IOERR_READ;
  }
  return Of(f)->real()->pMethods->xRead(Of(f)->real(), buf, amount, offset);
}
int FaultWrite(sqlite3_file* f, const void* buf, int amount, sqlite3_int64 offset) {
  return Of(f)->real()->pMethods->xWrite(Of(f)->real(), buf, amount, offset);
}
int FaultTruncate(sqlite3_file* f, sqlite3_int64 size) { return Of(f)->real()->pMethods->xTruncate(Of(f)->real(), size); }
int FaultSync(sqlite3_file* f, int flags) {
  if ((Of(f)->open_flags & SQLITE_OPEN_WAL) && fail_wal_syncs.load()) {
    ++failures;
    return SQLITE_IOERR_FSYNC;
  }
  return Of(f)->real()->pMethods->xSync(Of(f)->real(), flags);
}
int FaultFileSize(sqlite3_file* f, sqlite3_int64* size) { return Of(f)->real()->pMethods->xFileSize(Of(f)->real(), size); }
int FaultLock(sqlite3_file* f, int level) { return Of(f)->real()->pMethods->xLock(Of(f)->real(), level); }
int FaultUnlock(sqlite3_file* f, int level) { return Of(f)->real()->pMethods->xUnlock(Of(f)->real(), level); }
int FaultCheckReservedLock(sqlite3_file* f, int* out) {
  return Of(f)->real()->pMethods->xCheckReservedLock(Of(f)->real(), out);
}
int FaultFileControl(sqlite3_file* f, int op, void* arg) {
  return Of(f)->real()->pMethods->xFileControl(Of(f)->real(), op, arg);
}
int FaultSectorSize(sqlite3_file* f) { return Of(f)->real()->pMethods->xSectorSize(Of(f)->real()); }
int FaultDeviceCharacteristics(sqlite3_file* f) {
  return Of(f)->real()->pMethods->xDeviceCharacteristics(Of(f)->real());
}
int FaultShmMap(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return Of(f)->real()->pMethods->xShmMap(Of(f)->real(), page, size, extend, out);
}
int FaultShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Of(f)->real()->pMethods->xShmLock(Of(f)->real(), offset, n, flags);
}
void FaultShmBarrier(sqlite3_file* f) { Of(f)->real()->pMethods->xShmBarrier(Of(f)->real()); }
int FaultShmUnmap(sqlite3_file* f, int delete_flag) {
  return Of(f)->real()->pMethods->xShmUnmap(Of(f)->real(), delete_flag);
}

// Version 2: no memory-mapped reads (xFetch), so that every page read goes through xRead.
const sqlite3_io_methods kFaultMethods = {
    2,          FaultClose,    FaultRead,          FaultWrite,           FaultTruncate,
    FaultSync,  FaultFileSize, FaultLock,          FaultUnlock,          FaultCheckReservedLock,
    FaultFileControl, FaultSectorSize, FaultDeviceCharacteristics, FaultShmMap, FaultShmLock,
    FaultShmBarrier, FaultShmUnmap, nullptr, nullptr};

int FaultOpen(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  FaultFile* f = Of(file);
  std::memset(f, 0, sizeof(FaultFile));
  f->open_flags = flags;
  const int rc = real_vfs->xOpen(real_vfs, name, f->real(), flags, out_flags);
  // A file the real VFS did not open has no methods, so SQLite will not close it either.
  f->base.pMethods = f->real()->pMethods != nullptr ? &kFaultMethods : nullptr;
  return rc;
}
int FaultDelete(sqlite3_vfs*, const char* name, int sync_dir) { return real_vfs->xDelete(real_vfs, name, sync_dir); }
int FaultAccess(sqlite3_vfs*, const char* name, int flags, int* out) {
  return real_vfs->xAccess(real_vfs, name, flags, out);
}
int FaultFullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return real_vfs->xFullPathname(real_vfs, name, n, out);
}
void* FaultDlOpen(sqlite3_vfs*, const char* name) { return real_vfs->xDlOpen(real_vfs, name); }
void FaultDlError(sqlite3_vfs*, int n, char* out) { real_vfs->xDlError(real_vfs, n, out); }
void (*FaultDlSym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return real_vfs->xDlSym(real_vfs, handle, symbol);
}
void FaultDlClose(sqlite3_vfs*, void* handle) { real_vfs->xDlClose(real_vfs, handle); }
int FaultRandomness(sqlite3_vfs*, int n, char* out) { return real_vfs->xRandomness(real_vfs, n, out); }
int FaultSleep(sqlite3_vfs*, int micros) { return real_vfs->xSleep(real_vfs, micros); }
int FaultCurrentTime(sqlite3_vfs*, double* out) { return real_vfs->xCurrentTime(real_vfs, out); }
int FaultGetLastError(sqlite3_vfs*, int n, char* out) {
  return real_vfs->xGetLastError != nullptr ? real_vfs->xGetLastError(real_vfs, n, out) : 0;
}
int FaultCurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) { return real_vfs->xCurrentTimeInt64(real_vfs, out); }

void RegisterFaultVfs() {
  static sqlite3_vfs vfs;
  if (real_vfs != nullptr) return;
  real_vfs = sqlite3_vfs_find(nullptr);
  ASSERT_NE(real_vfs, nullptr);
  ASSERT_GE(real_vfs->iVersion, 2);
  vfs = sqlite3_vfs{};
  vfs.iVersion = 2;
  vfs.szOsFile = static_cast<int>(sizeof(FaultFile)) + real_vfs->szOsFile;
  vfs.mxPathname = real_vfs->mxPathname;
  vfs.zName = kFaultVfs;
  vfs.xOpen = FaultOpen;
  vfs.xDelete = FaultDelete;
  vfs.xAccess = FaultAccess;
  vfs.xFullPathname = FaultFullPathname;
  vfs.xDlOpen = FaultDlOpen;
  vfs.xDlError = FaultDlError;
  vfs.xDlSym = FaultDlSym;
  vfs.xDlClose = FaultDlClose;
  vfs.xRandomness = FaultRandomness;
  vfs.xSleep = FaultSleep;
  vfs.xCurrentTime = FaultCurrentTime;
  vfs.xGetLastError = FaultGetLastError;
  vfs.xCurrentTimeInt64 = FaultCurrentTimeInt64;
  ASSERT_EQ(sqlite3_vfs_register(&vfs, /*makeDflt=*/0), SQLITE_OK);
}

class StoreFaultTest : public StoreTest {
 protected:
  void SetUp() override {
    RegisterFaultVfs();
    fail_main_reads = false;
    fail_wal_syncs = false;
    failures = 0;
    store::SqliteStoreOptions options;
    options.vfs = kFaultVfs;
    options.max_batch_age_ms = 600'000;  // each batch ends where the test says
    options_ = options;
    Reopen(options);
  }
  void TearDown() override {
    fail_main_reads = false;
    fail_wal_syncs = false;
  }

  bool HasClient(const std::string& id) {
    auto txn = Read();
    auto got = txn->GetClient(id);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() && got->has_value();
  }

  store::SqliteStoreOptions options_;
};

TEST_F(StoreFaultTest, AFailedCommitFailsEveryMemberOfTheBatchAndWritesNothing) {
  const auto stats0 = store_->group_commit_stats();
  auto first = Write();
  ASSERT_TRUE(first->InsertClient(Client("c_a", "ref-c_a")).ok());
  std::vector<absl::Status> results;
  // c_c turns the fault on before it commits; whichever of the two ends last runs the batch's
  // COMMIT, with the log's fsync failing.
  std::vector<std::thread> threads = QueueWriters(*store_, {"c_b", "c_c"}, {true, true}, results,
                                                  [](size_t i) { if (i == 1) fail_wal_syncs = true; });
  // Two writers wait: this member hands the writer on and learns the batch's fate.
  const absl::Status mine = first->Commit();
  for (std::thread& t : threads) t.join();
  fail_wal_syncs = false;
  EXPECT_GT(failures.load(), 0);
  EXPECT_FALSE(mine.ok()) << "a member of a batch whose commit failed was told it committed";
  EXPECT_FALSE(results[0].ok());
  EXPECT_FALSE(results[1].ok());
  EXPECT_EQ(store_->group_commit_stats().commits, stats0.commits);
  // Reopened (as after a restart), the file holds none of them.
  first.reset();
  Reopen(options_);
  for (const char* id : {"c_a", "c_b", "c_c"}) EXPECT_FALSE(HasClient(id)) << id;
  // The disk is back: the store takes writes again.
  auto next = Write();
  ASSERT_TRUE(next->InsertClient(Client("c_d", "ref-c_d")).ok());
  ASSERT_TRUE(next->Commit().ok());
  EXPECT_TRUE(HasClient("c_d"));
}

TEST_F(StoreFaultTest, ABatchSQLiteRollsBackUnderALaterMemberFailsTheMembersBeforeIt) {
  // Data in the file, then a fresh store: its connections' page caches are empty, so a page
  // not read since is read from the file.
  {
    auto txn = Write();
    ASSERT_TRUE(txn->InsertClient(Client("c_0", "ref-c_0")).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  Reopen(options_);
  auto first = Write();
  ASSERT_TRUE(first->PutIdempotency({"key-a", "m", "h", "r"}).ok());
  absl::Status second = absl::UnknownError("not run");
  absl::Status second_commit = absl::UnknownError("not run");
  std::atomic<bool> second_has_writer{false};
  std::atomic<bool> fault_set{false};
  const int before = store_->writers_waiting();
  std::thread t([&] {
    auto txn = store_->Begin();
    if (!txn.ok()) {
      second = txn.status();
      return;
    }
    second_has_writer = true;
    while (!fault_set.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    // Reads the clients table, not read since the store opened: the read fails, and SQLite
    // rolls back the whole transaction, the first member's writes with it.
    second = (*txn)->InsertClient(Client("c_b", "ref-c_b"));
    second_commit = (*txn)->Commit();
  });
  while (store_->writers_waiting() < before + 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  absl::Status mine = absl::UnknownError("not run");
  std::thread committer([&] { mine = first->Commit(); });
  while (!second_has_writer.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  fail_main_reads = true;
  fault_set = true;
  t.join();
  committer.join();
  fail_main_reads = false;
  EXPECT_GT(failures.load(), 0);
  EXPECT_FALSE(second.ok()) << "the read did not fail: was the page cached?";
  EXPECT_FALSE(second_commit.ok());
  EXPECT_FALSE(mine.ok()) << "a member of a batch SQLite rolled back was told it committed";
  EXPECT_EQ(mine.code(), absl::StatusCode::kUnavailable) << mine;
  first.reset();
  {
    auto txn = Read();
    auto key = txn->GetIdempotency("key-a");
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_FALSE(key->has_value()) << "the first member's write survived the rollback";
  }
  EXPECT_FALSE(HasClient("c_b"));
  EXPECT_TRUE(HasClient("c_0"));
  auto next = Write();
  ASSERT_TRUE(next->InsertClient(Client("c_d", "ref-c_d")).ok());
  ASSERT_TRUE(next->Commit().ok());
  EXPECT_TRUE(HasClient("c_d"));
}

TEST_F(StoreFaultTest, TheWriterThatOpensABatchDroppedTakesOnlyItsOwnWrites) {
  auto first = Write();
  ASSERT_TRUE(first->InsertClient(Client("c_a", "ref-c_a")).ok());
  std::vector<absl::Status> results;
  std::vector<std::thread> threads = QueueWriters(*store_, {"c_b"}, {true}, results);
  first.reset();  // dropped without Commit while another writer waits for the writer
  for (std::thread& t : threads) t.join();
  EXPECT_TRUE(results[0].ok()) << results[0];
  EXPECT_FALSE(HasClient("c_a"));
  EXPECT_TRUE(HasClient("c_b"));
}

}  // namespace
}  // namespace ringfence::custody::testing

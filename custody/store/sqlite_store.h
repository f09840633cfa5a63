// SqliteStore: the embedded Store (custody/store/store.h) on one SQLite file, custodyd's default.
//
// Durability: WAL with synchronous=FULL, so Commit() returns only once the WAL holds the
// transaction on disk; a crash at any point leaves exactly the last committed state. Foreign
// keys are on. The schema is created and upgraded by migrations kept in code
// (sqlite_store.cc, written up in docs/ledger.md): table schema_version holds the version, each
// migration runs in its own transaction, and a file whose version is newer than this build
// knows is refused rather than guessed at.
//
// Concurrency: one writer connection, taken by Begin() under a mutex (waiting its turn, up to
// the busy timeout) and then BEGIN IMMEDIATE (which waits, up to the same timeout, for a writer
// in another process).
//
// Group commit: write transactions that follow each other closely share one SQLite
// transaction, and so one fsync. Each write Txn is a member of the open batch: its writes run
// inside a savepoint of the batch's transaction (all but the member that opens the batch,
// which is alone in it and needs none), still one Txn at a time on the writer, each
// seeing every earlier member's writes (the same order and the same rules as if each had
// committed alone). A member that ends without Commit rolls back to its savepoint and takes
// nothing else with it. Commit() releases the savepoint; then, if no other writer is waiting
// for the writer connection (or the batch holds kMaxBatchMembers or is max_batch_age_ms old), it
// runs the batch's COMMIT itself, else it hands the writer on and waits for a later member's
// COMMIT. Either way Commit() returns OK only once the batch is durable, and an error if the
// COMMIT failed (nothing of any member written). Under no contention nothing waits: a lone
// writer commits at once. A large write Txn (BeginLarge) never joins: it commits the batch
// left open for it first, then opens one of its own. REQUIRES: a thread holding a write Txn never waits for another
// thread's Commit() to return (that member may be waiting for this Txn to end).
//
// Read transactions (BeginRead) each take a read-only connection from a
// small pool and see one WAL snapshot from the moment they start, concurrently with the
// writer. Every connection keeps its prepared statements for its lifetime.
//
// Ownership: the store owns its connections; a Txn borrows one and gives it back when it ends.
// REQUIRES: every Txn ends (Commit or destruction) before the SqliteStore is destroyed.
// Thread-safety: thread-safe; each Txn belongs to one thread at a time.
#ifndef RINGFENCE_CUSTODY_STORE_SQLITE_STORE_H_
#define RINGFENCE_CUSTODY_STORE_SQLITE_STORE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "custody/store/store.h"

namespace ringfence::custody::store {

struct SqliteStoreOptions {
  // How long Begin() waits for the writer (in this process or another) before ABORTED, and
  // how long any statement waits on a lock held by another process.
  int busy_timeout_ms = 60'000;
  // Read connections kept open at most; BeginRead() waits when all are in use.
  int max_readers = 8;
  // A group-commit batch this old is committed by the member that ends next, even if other
  // writers wait (see the file comment). Tests that count commits set it high.
  int max_batch_age_ms = 20;
  // The SQLite VFS every connection opens the file through; empty: SQLite's default. Tests
  // name a VFS of their own that fails chosen reads, writes or syncs.
  std::string vfs;
};

namespace internal {
struct Connection;
}  // namespace internal

class SqliteStore : public Store {
 public:
  // The schema version this build writes (the number of migrations in sqlite_store.cc).
  static int LatestSchemaVersion();

  // Opens or creates the database at `path` and brings its schema to LatestSchemaVersion().
  // UNAVAILABLE if the file cannot be opened or is not a database (or the filesystem cannot
  // hold a WAL); FAILED_PRECONDITION if its schema is newer than this build knows; INTERNAL if
  // a migration fails (the file then stays at the last version that applied whole).
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                           SqliteStoreOptions options = {});
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  absl::StatusOr<std::unique_ptr<Txn>> Begin() override;
  // Commits the batch left open for it, if any, then opens a batch of its own (see Store).
  absl::StatusOr<std::unique_ptr<Txn>> BeginLarge() override;
  absl::StatusOr<std::unique_ptr<Txn>> BeginRead() override;

  const std::string& path() const { return path_; }

  // Committed batches and the write Txns they held, since Open (for tests and benchmarks).
  struct GroupCommitStats {
    uint64_t commits = 0;
    uint64_t transactions = 0;
  };
  GroupCommitStats group_commit_stats() const;
  // Threads waiting in Begin() for the writer right now (for tests).
  int writers_waiting() const { return writers_waiting_.load(); }

  static constexpr int kMaxBatchMembers = 64;

 private:
  friend class SqliteTxn;
  SqliteStore(std::string path, SqliteStoreOptions options);

  absl::StatusOr<std::unique_ptr<internal::Connection>> OpenConnection(bool read_only);
  // Begin and BeginLarge: waits for the writer and starts a member.
  absl::StatusOr<std::unique_ptr<Txn>> BeginWriter(bool large);
  void ReturnReader(std::unique_ptr<internal::Connection> connection);

  // One open SQLite write transaction shared by several write Txns (see the file comment).
  struct Batch {
    std::chrono::steady_clock::time_point opened;
    int members = 0;       // Txns committed into it so far; changed with writer_mu_ held
    bool done = false;     // Guarded by batch_mu_.
    absl::Status status;   // the COMMIT's outcome, once done. Guarded by batch_mu_.
  };
  // How often a member waiting for its batch checks that someone will commit it.
  static constexpr std::chrono::milliseconds kBatchPoll{5};
  // The open batch, or null. REQUIRES for NewBatch/FinishBatch: writer_mu_ held.
  std::shared_ptr<Batch> OpenBatch();
  std::shared_ptr<Batch> NewBatch();
  void FinishBatch(const std::shared_ptr<Batch>& batch, const absl::Status& status);
  // With writer_mu_ held, after a member ended: commit the batch now?
  bool ShouldCommit(const Batch& batch) const;
  // Without writer_mu_: waits until `batch` is committed or failed; its outcome.
  absl::Status AwaitBatch(const std::shared_ptr<Batch>& batch);

  const std::string path_;
  const SqliteStoreOptions options_;

  // The writer: held by at most one Txn at a time (writer_mu_ is locked for the Txn's life).
  std::timed_mutex writer_mu_;
  std::unique_ptr<internal::Connection> writer_;
  std::atomic<int> writers_waiting_{0};  // threads in Begin() waiting for writer_mu_

  mutable std::mutex batch_mu_;
  std::condition_variable batch_done_;
  std::shared_ptr<Batch> batch_;  // Guarded by batch_mu_; replaced only with writer_mu_ held.
  GroupCommitStats stats_;        // Guarded by batch_mu_.

  std::mutex readers_mu_;
  std::condition_variable reader_returned_;
  std::vector<std::unique_ptr<internal::Connection>> idle_readers_;
  int open_readers_ = 0;
};

}  // namespace ringfence::custody::store

#endif  // RINGFENCE_CUSTODY_STORE_SQLITE_STORE_H_

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
// in another process). Read transactions (BeginRead) each take a read-only connection from a
// small pool and see one WAL snapshot from the moment they start, concurrently with the
// writer. Every connection keeps its prepared statements for its lifetime.
//
// Ownership: the store owns its connections; a Txn borrows one and gives it back when it ends.
// REQUIRES: every Txn ends (Commit or destruction) before the SqliteStore is destroyed.
// Thread-safety: thread-safe; each Txn belongs to one thread at a time.
#ifndef RINGFENCE_CUSTODY_STORE_SQLITE_STORE_H_
#define RINGFENCE_CUSTODY_STORE_SQLITE_STORE_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "custody/store/store.h"

namespace ringfence::custody::store {

struct SqliteStoreOptions {
  // How long Begin() waits for the writer (in this process or another) before ABORTED, and
  // how long any statement waits on a lock held by another process.
  int busy_timeout_ms = 60'000;
  // Read connections kept open at most; BeginRead() waits when all are in use.
  int max_readers = 8;
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
  absl::StatusOr<std::unique_ptr<Txn>> BeginRead() override;

  const std::string& path() const { return path_; }

 private:
  friend class SqliteTxn;
  SqliteStore(std::string path, SqliteStoreOptions options);

  absl::StatusOr<std::unique_ptr<internal::Connection>> OpenConnection(bool read_only);
  void ReturnReader(std::unique_ptr<internal::Connection> connection);

  const std::string path_;
  const SqliteStoreOptions options_;

  // The writer: held by at most one Txn at a time (writer_mu_ is locked for the Txn's life).
  std::timed_mutex writer_mu_;
  std::unique_ptr<internal::Connection> writer_;

  std::mutex readers_mu_;
  std::condition_variable reader_returned_;
  std::vector<std::unique_ptr<internal::Connection>> idle_readers_;
  int open_readers_ = 0;
};

}  // namespace ringfence::custody::store

#endif  // RINGFENCE_CUSTODY_STORE_SQLITE_STORE_H_

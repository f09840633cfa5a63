// GroupCommitter: many writers, one durable SQLite commit per batch.
//
// Each SubmitAsync() hands a write (a function run inside a SignerStore transaction: state
// rows and sign log entries) to one writer thread, which calls the write's `done` once the
// transaction holding it has committed (WAL, synchronous=FULL: fsync'ed) or failed; Submit()
// does the same and blocks until then. The writer takes every write queued
// while the previous commit was running and commits them together: one fsync for the whole
// batch, and every caller still answers only after its own write is durable. If any write of a
// batch fails, the batch rolls back and each write is retried in its own transaction, so only
// the failing one fails.
//
// `done` callbacks run on the writer thread, between batches: they must be short and must not
// submit and wait (Submit) themselves. Borrows the SignerStore, which must outlive it. Submit
// and SubmitAsync are thread-safe; the destructor drains the queue and joins the writer.
#ifndef RINGFENCE_SIGNER_TX_GROUP_COMMIT_H_
#define RINGFENCE_SIGNER_TX_GROUP_COMMIT_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "signer/store.h"

namespace ringfence::signer::tx {

class GroupCommitter {
 public:
  using Write = std::function<absl::Status(SignerStore::Txn&)>;
  using Done = std::function<void(absl::Status)>;

  // `max_batch` bounds the writes in one transaction (>= 1). `linger`: when writes are arriving
  // faster than commits (the writer found some already queued after its last commit) but fewer
  // than `fill` are waiting, the writer waits until `fill` are queued or `linger` has passed,
  // whichever is first, so that one fsync covers more writes. Under light load (the writer had
  // to wait for the write) it never lingers, so a lone request pays no delay.
  explicit GroupCommitter(SignerStore* store, size_t max_batch = 512,
                          std::chrono::microseconds linger = std::chrono::microseconds(0), size_t fill = 16);
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Runs `write` in the next batch and returns once it is durable: OK, or Unavailable naming
  // the write's own error or the commit's (its changes rolled back, nothing of it written).
  // `write` may run twice (after a rollback); it must not depend on having run before.
  absl::Status Submit(Write write);
  // The same without waiting: `done` gets what Submit would return, on the writer thread (or,
  // if the writer is stopping, at once on the caller's thread).
  void SubmitAsync(Write write, Done done);

  // Batches committed and writes in them so far (for the benchmark's report).
  uint64_t batches() const;
  uint64_t writes() const;
  // Wall-clock seconds the writer spent in transactions (writes and commits).
  double busy_seconds() const;

 private:
  struct Pending {
    Write write;
    Done done;
    absl::Status result;
  };
  void Run();

  SignerStore* store_;
  const size_t max_batch_;
  const std::chrono::microseconds linger_;
  const size_t fill_;
  // What the writer is waiting for, so that a submitter wakes it only when needed.
  enum class Waiting { kNothing, kAny, kFill };

  mutable std::mutex mu_;
  std::condition_variable queued_;
  Waiting waiting_ = Waiting::kNothing;  // Guarded by mu_.
  std::deque<Pending> queue_;   // Guarded by mu_.
  bool stopping_ = false;       // Guarded by mu_.
  uint64_t batches_ = 0;        // Guarded by mu_.
  uint64_t writes_ = 0;         // Guarded by mu_.
  double busy_seconds_ = 0;     // Guarded by mu_.
  std::thread writer_;
};

}  // namespace ringfence::signer::tx

#endif  // RINGFENCE_SIGNER_TX_GROUP_COMMIT_H_

#include "signer/tx/group_commit.h"

#include <sqlite3.h>

#include <string>
#include <vector>

#include "signer/tx/text.h"

namespace ringfence::signer::tx {
namespace {

absl::Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    return absl::InternalError(Cat(sql, ": ", message));
  }
  return absl::OkStatus();
}

}  // namespace

GroupCommitter::GroupCommitter(SignerStore* store, size_t max_batch)
    : store_(store), max_batch_(max_batch == 0 ? 1 : max_batch), writer_([this] { Run(); }) {}

GroupCommitter::~GroupCommitter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  queued_.notify_all();
  writer_.join();
}

absl::Status GroupCommitter::Submit(Write write) {
  Pending pending;
  pending.write = std::move(write);
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return absl::UnavailableError("sign log writer is stopping");
  queue_.push_back(&pending);
  queued_.notify_one();
  finished_.wait(lock, [&] { return pending.done; });
  return pending.result;
}

uint64_t GroupCommitter::batches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batches_;
}

uint64_t GroupCommitter::writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return writes_;
}

void GroupCommitter::Run() {
  std::vector<Pending*> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      queued_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    absl::Status commit = store_->Transact([&](SignerStore::Txn& txn) -> absl::Status {
      for (Pending* p : batch) {
        if (auto st = Exec(txn.db(), "SAVEPOINT tx_write"); !st.ok()) return st;
        p->result = p->write(txn);
        if (p->result.ok()) {
          if (auto st = Exec(txn.db(), "RELEASE tx_write"); !st.ok()) return st;
        } else {
          if (auto st = Exec(txn.db(), "ROLLBACK TO tx_write"); !st.ok()) return st;
          if (auto st = Exec(txn.db(), "RELEASE tx_write"); !st.ok()) return st;
        }
      }
      return absl::OkStatus();
    });
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Pending* p : batch) {
        if (!commit.ok()) p->result = absl::UnavailableError(Cat("sign log commit failed: ", commit.message()));
        p->done = true;
      }
      ++batches_;
      writes_ += batch.size();
    }
    finished_.notify_all();
    batch.clear();
  }
}

}  // namespace ringfence::signer::tx

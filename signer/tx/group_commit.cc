#include "signer/tx/group_commit.h"

#include <chrono>
#include <string>
#include <vector>

#include "signer/tx/text.h"

namespace ringfence::signer::tx {

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

double GroupCommitter::busy_seconds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return busy_seconds_;
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
    const auto started = std::chrono::steady_clock::now();
    absl::Status commit = store_->Transact([&](SignerStore::Txn& txn) -> absl::Status {
      for (Pending* p : batch) {
        p->result = p->write(txn);
        if (!p->result.ok()) return p->result;
      }
      return absl::OkStatus();
    });
    if (!commit.ok() && batch.size() > 1) {
      // Something in the batch failed and the whole transaction rolled back. Run each write in
      // its own transaction so that only the failing one fails. Rare: writes fail only on
      // database errors, since the state rules were decided before the write.
      for (Pending* p : batch) {
        absl::Status alone = store_->Transact([&](SignerStore::Txn& txn) { return p->write(txn); });
        p->result = alone;
      }
      commit = absl::OkStatus();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Pending* p : batch) {
        if (!commit.ok() || !p->result.ok()) {
          p->result = absl::UnavailableError(
              Cat("sign log write failed: ", (commit.ok() ? p->result : commit).message()));
        }
        p->done = true;
      }
      ++batches_;
      writes_ += batch.size();
      busy_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    }
    finished_.notify_all();
    batch.clear();
  }
}

}  // namespace ringfence::signer::tx

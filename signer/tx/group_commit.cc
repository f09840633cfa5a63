#include "signer/tx/group_commit.h"

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "base/text.h"

namespace ringfence::signer::tx {

using base::Cat;

GroupCommitter::GroupCommitter(SignerStore* store, size_t max_batch, std::chrono::microseconds linger,
                               size_t fill)
    : store_(store),
      max_batch_(max_batch == 0 ? 1 : max_batch),
      linger_(linger),
      fill_(fill),
      writer_([this] { Run(); }) {}

GroupCommitter::~GroupCommitter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  queued_.notify_all();
  writer_.join();
}

absl::Status GroupCommitter::Submit(Write write) {
  std::promise<absl::Status> result;
  SubmitAsync(std::move(write), [&result](absl::Status status) { result.set_value(std::move(status)); });
  return result.get_future().get();
}

void GroupCommitter::SubmitAsync(Write write, Done done) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      // Answered below, outside the lock.
    } else {
      queue_.push_back(Pending{std::move(write), std::move(done), absl::OkStatus()});
      // Wake the writer only when this write is what it waits for: the first one while it is
      // idle, or the one that fills the batch it lingers on. While it commits it finds the
      // queue by itself, so a write then costs no futex call and no context switch.
      wake = waiting_ == Waiting::kAny || (waiting_ == Waiting::kFill && queue_.size() >= fill_);
      if (!wake) return;
    }
  }
  if (wake) return queued_.notify_one();
  done(absl::UnavailableError("sign log writer is stopping"));
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
  std::vector<Pending> batch;
  // Whether writes arrived while the last batch was being committed: the sign of load. It is
  // read before the batch's callers are answered, so a lone caller's next write (sent after its
  // answer) never counts as load.
  bool loaded = false;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      waiting_ = Waiting::kAny;
      queued_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      waiting_ = Waiting::kNothing;
      if (queue_.empty()) return;  // stopping and drained
      if (loaded && linger_.count() > 0 && queue_.size() < fill_ && !stopping_) {
        // Until the batch is full or the linger is over, whichever comes first.
        waiting_ = Waiting::kFill;
        queued_.wait_for(lock, linger_, [&] { return stopping_ || queue_.size() >= fill_; });
        waiting_ = Waiting::kNothing;
      }
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    const auto started = std::chrono::steady_clock::now();
    absl::Status commit = store_->Transact([&](SignerStore::Txn& txn) -> absl::Status {
      for (Pending& p : batch) {
        p.result = p.write(txn);
        if (!p.result.ok()) return p.result;
      }
      return absl::OkStatus();
    });
    if (!commit.ok() && batch.size() > 1) {
      // Something in the batch failed and the whole transaction rolled back. Run each write in
      // its own transaction so that only the failing one fails. Rare: writes fail only on
      // database errors, since the state rules were decided before the write.
      for (Pending& p : batch) {
        p.result = store_->Transact([&](SignerStore::Txn& txn) { return p.write(txn); });
      }
      commit = absl::OkStatus();
    }
    for (Pending& p : batch) {
      if (!commit.ok() || !p.result.ok()) {
        p.result = absl::UnavailableError(
            Cat("sign log write failed: ", (commit.ok() ? p.result : commit).message()));
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++batches_;
      writes_ += batch.size();
      busy_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      loaded = !queue_.empty();
    }
    for (Pending& p : batch) p.done(std::move(p.result));
    batch.clear();
  }
}

}  // namespace ringfence::signer::tx

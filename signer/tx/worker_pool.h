// WorkerPool: a fixed number of threads running queued tasks in arrival order.
//
// SignTransaction's work is CPU-bound (decode, digests, Ed25519 approvals, ECDSA through the
// token, checks of the token's signature). The gRPC callback handlers must not run it on
// gRPC's own threads, and one thread per request (the synchronous server) spends much of the
// machine switching between blocked threads; so the service hands each request to a pool
// sized to the cores.
//
// TrySubmit refuses a task when `max_queued` tasks are already waiting, so that a flood of
// requests is turned away at once instead of piling up. The destructor runs every task
// already queued, then joins the threads. Thread-safe.
#ifndef RINGFENCE_SIGNER_TX_WORKER_POOL_H_
#define RINGFENCE_SIGNER_TX_WORKER_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ringfence::signer::tx {

class WorkerPool {
 public:
  // `threads` >= 1 (0 is taken as 1); `max_queued` >= 1.
  WorkerPool(size_t threads, size_t max_queued);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`; false (and `task` not run) if the queue is full or the pool is stopping.
  bool TrySubmit(std::function<void()> task);

  size_t threads() const { return threads_.size(); }

 private:
  void Run();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;  // Guarded by mu_.
  bool stopping_ = false;                    // Guarded by mu_.
  std::vector<std::thread> threads_;
};

}  // namespace ringfence::signer::tx

#endif  // RINGFENCE_SIGNER_TX_WORKER_POOL_H_

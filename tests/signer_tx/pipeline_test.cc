// The parts of SignTransaction's pipeline on their own: WorkerPool (every task once, a full
// queue refused and accepted again once drained, the destructor draining) and GroupCommitter
// on a real SignerStore file (each `done` once and only after its write is visible to a
// second connection, a failing write isolated inside its batch, the destructor draining, no
// linger for a lone write, batches under a burst); and TransactionSigner's two entry points,
// Sign and SignAsync, giving the same answers on a real hsm_sim token (the gRPC service only
// ever uses SignAsync).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "signer/store.h"
#include "signer/tx/group_commit.h"
#include "signer/tx/service.h"
#include "signer/tx/tx_signer.h"
#include "signer/tx/worker_pool.h"
#include "tests/common/temp_dir.h"
#include "tests/signer_tx/fixture.h"
#include "tests/signer_tx/harness.h"

namespace ringfence::signer::tx {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// A count that tests wait on, with a deadline so a broken pool fails instead of hanging.
class Counter {
 public:
  void Add() {
    std::lock_guard<std::mutex> lock(mu_);
    ++value_;
    changed_.notify_all();
  }
  bool WaitFor(int target, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, limit, [&] { return value_ >= target; });
  }
  int value() {
    std::lock_guard<std::mutex> lock(mu_);
    return value_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int value_ = 0;
};

// Holds whoever waits on it until Open().
class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    opened_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    opened_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable opened_;
  bool open_ = false;
};

TEST(WorkerPoolTest, RunsEveryTaskExactlyOnceOnAllThreads) {
  constexpr int kThreads = 4;
  constexpr int kTasks = 2000;
  std::vector<std::atomic<int>> runs(kTasks);
  std::mutex ids_mu;
  std::set<std::thread::id> ids;
  Counter together;
  {
    WorkerPool pool(kThreads, kTasks);
    EXPECT_EQ(pool.threads(), static_cast<size_t>(kThreads));
    // The first kThreads tasks each wait until all of them are running at once: that only
    // happens if the pool really has kThreads threads taking tasks.
    for (int i = 0; i < kThreads; ++i) {
      ASSERT_TRUE(pool.TrySubmit([&, i] {
        together.Add();
        EXPECT_TRUE(together.WaitFor(kThreads)) << "task " << i << " never saw all threads busy";
        runs[i].fetch_add(1);
        std::lock_guard<std::mutex> lock(ids_mu);
        ids.insert(std::this_thread::get_id());
      }));
    }
    for (int i = kThreads; i < kTasks; ++i) {
      ASSERT_TRUE(pool.TrySubmit([&runs, i] { runs[i].fetch_add(1); }));
    }
  }
  for (int i = 0; i < kTasks; ++i) EXPECT_EQ(runs[i].load(), 1) << "task " << i;
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads));
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);
}

TEST(WorkerPoolTest, ZeroThreadsMeansOne) {
  WorkerPool pool(0, 1);
  EXPECT_EQ(pool.threads(), 1u);
  std::promise<void> ran;
  ASSERT_TRUE(pool.TrySubmit([&] { ran.set_value(); }));
  EXPECT_EQ(ran.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
}

TEST(WorkerPoolTest, RefusesWhenFullAndAcceptsAgainOnceDrained) {
  constexpr int kThreads = 2;
  constexpr int kMaxQueued = 3;
  Gate gate;
  Counter started;
  Counter finished;
  std::atomic<bool> refused_ran{false};
  WorkerPool pool(kThreads, kMaxQueued);
  // Occupy every worker, and wait until each has taken its task off the queue.
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(pool.TrySubmit([&] {
      started.Add();
      gate.Wait();
      finished.Add();
    }));
  }
  ASSERT_TRUE(started.WaitFor(kThreads));
  for (int i = 0; i < kMaxQueued; ++i) {
    EXPECT_TRUE(pool.TrySubmit([&] { finished.Add(); })) << "queued task " << i;
  }
  EXPECT_FALSE(pool.TrySubmit([&] { refused_ran = true; }));
  EXPECT_FALSE(pool.TrySubmit([&] { refused_ran = true; }));

  gate.Open();
  ASSERT_TRUE(finished.WaitFor(kThreads + kMaxQueued));
  // The queue is empty again: a full queue's worth is accepted once more.
  for (int i = 0; i < kMaxQueued; ++i) {
    EXPECT_TRUE(pool.TrySubmit([&] { finished.Add(); })) << "after draining, task " << i;
  }
  ASSERT_TRUE(finished.WaitFor(kThreads + 2 * kMaxQueued));
  EXPECT_FALSE(refused_ran.load());
}

TEST(WorkerPoolTest, DestructorRunsEveryQueuedTask) {
  constexpr int kQueued = 50;
  Gate gate;
  Counter started;
  std::atomic<int> ran{0};
  auto pool = std::make_unique<WorkerPool>(1, kQueued + 1);
  ASSERT_TRUE(pool->TrySubmit([&] {
    started.Add();
    gate.Wait();
  }));
  ASSERT_TRUE(started.WaitFor(1));
  for (int i = 0; i < kQueued; ++i) {
    ASSERT_TRUE(pool->TrySubmit([&] { ran.fetch_add(1); }));
  }
  // The only worker is held until after the destructor has begun, so every one of the tasks
  // is still queued when it starts stopping the pool.
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    gate.Open();
  });
  pool.reset();
  opener.join();
  EXPECT_EQ(ran.load(), kQueued);
}

// GroupCommitter on a real sign log in a private directory.
class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_ / "signer.db").string();
    auto store = SignerStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  // A write appending one entry of kind "pipeline_test" whose field "n" is `n`; a kind the
  // log refuses if `fail`.
  static GroupCommitter::Write Append(int n, bool fail = false) {
    return [n, fail](SignerStore::Txn& txn) -> absl::Status {
      LogFields fields;
      const std::string text = std::to_string(n);
      fields["n"] = std::vector<uint8_t>(text.begin(), text.end());
      return txn.AppendLog(1, fail ? "Bad Kind" : "pipeline_test", "", fields).status();
    };
  }

  // A write that reports when it runs and holds the writer (inside its transaction) until
  // `gate` opens.
  static GroupCommitter::Write Hold(Counter* running, Gate* gate) {
    return [running, gate](SignerStore::Txn& txn) -> absl::Status {
      running->Add();
      gate->Wait();
      return txn.AppendLog(1, "pipeline_hold", "", {}).status();
    };
  }

  // The values of "n" in the "pipeline_test" entries of `store`'s log, in log order.
  static std::vector<int> Numbers(SignerStore& store) {
    std::vector<int> out;
    auto log = store.ReadLog();
    EXPECT_TRUE(log.ok()) << log.status();
    if (!log.ok()) return out;
    for (const LogEntry& e : *log) {
      if (e.kind != "pipeline_test") continue;
      auto it = e.fields.find("n");
      if (it == e.fields.end()) {
        ADD_FAILURE() << "entry " << e.seq << " has no n";
        continue;
      }
      out.push_back(std::stoi(std::string(it->second.begin(), it->second.end())));
    }
    return out;
  }

  ringfence::testing::TempDir dir_{"signer_tx_pipeline"};
  std::string path_;
  std::unique_ptr<SignerStore> store_;
};

TEST_F(GroupCommitTest, DoneOncePerWriteAndOnlyAfterTheCommitIsVisible) {
  constexpr int kWrites = 40;
  // A second connection to the same file: it sees a write only once it has committed.
  auto reader = SignerStore::Open(path_);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<std::atomic<int>> dones(kWrites);
  std::vector<std::atomic<bool>> visible(kWrites);
  std::vector<absl::Status> results(kWrites);
  std::atomic<bool> on_caller_thread{false};
  const auto caller = std::this_thread::get_id();
  Counter finished;
  {
    GroupCommitter committer(store_.get());
    for (int i = 0; i < kWrites; ++i) {
      committer.SubmitAsync(Append(i), [&, i](absl::Status status) {
        if (std::this_thread::get_id() == caller) on_caller_thread = true;
        results[i] = status;
        std::vector<int> seen = Numbers(**reader);
        visible[i] = std::find(seen.begin(), seen.end(), i) != seen.end();
        dones[i].fetch_add(1);
        finished.Add();
      });
    }
    ASSERT_TRUE(finished.WaitFor(kWrites));
    EXPECT_GE(committer.writes(), static_cast<uint64_t>(kWrites));
  }
  EXPECT_FALSE(on_caller_thread.load());
  for (int i = 0; i < kWrites; ++i) {
    EXPECT_EQ(dones[i].load(), 1) << "write " << i;
    EXPECT_TRUE(results[i].ok()) << "write " << i << ": " << results[i];
    EXPECT_TRUE(visible[i].load()) << "write " << i << " was not committed when its done ran";
  }
  EXPECT_EQ(Numbers(*store_).size(), static_cast<size_t>(kWrites));
  EXPECT_TRUE(store_->VerifyLog().ok());
}

TEST_F(GroupCommitTest, AFailingWriteFailsAloneInsideItsBatch) {
  constexpr int kWrites = 10;
  constexpr int kBad = 4;
  Counter running;
  Gate gate;
  std::vector<absl::Status> results(kWrites);
  std::vector<int> dones(kWrites, 0);
  Counter finished;
  GroupCommitter committer(store_.get());
  committer.SubmitAsync(Hold(&running, &gate), [&](absl::Status status) { EXPECT_TRUE(status.ok()) << status; });
  // While the writer is held inside the first batch, queue the rest: they all go into the
  // second batch together.
  ASSERT_TRUE(running.WaitFor(1));
  for (int i = 0; i < kWrites; ++i) {
    committer.SubmitAsync(Append(i, i == kBad), [&, i](absl::Status status) {
      results[i] = status;
      ++dones[i];
      finished.Add();
    });
  }
  gate.Open();
  ASSERT_TRUE(finished.WaitFor(kWrites));
  EXPECT_EQ(committer.batches(), 2u);
  EXPECT_EQ(committer.writes(), static_cast<uint64_t>(kWrites + 1));
  for (int i = 0; i < kWrites; ++i) {
    EXPECT_EQ(dones[i], 1) << "write " << i;
    if (i == kBad) {
      EXPECT_EQ(results[i].code(), absl::StatusCode::kUnavailable) << results[i];
      EXPECT_THAT(std::string(results[i].message()), HasSubstr("kind"));
    } else {
      EXPECT_TRUE(results[i].ok()) << "write " << i << ": " << results[i];
    }
  }
  // The others are committed exactly once each, although the rolled-back batch ran them too.
  std::vector<int> expected;
  for (int i = 0; i < kWrites; ++i) {
    if (i != kBad) expected.push_back(i);
  }
  EXPECT_EQ(Numbers(*store_), expected);
  EXPECT_TRUE(store_->VerifyLog().ok());
}

TEST_F(GroupCommitTest, DestructorCommitsAndAnswersEverythingQueued) {
  constexpr int kWrites = 30;
  Counter running;
  Gate gate;
  std::atomic<int> ok{0};
  std::atomic<int> dones{0};
  auto committer = std::make_unique<GroupCommitter>(store_.get(), 4);
  committer->SubmitAsync(Hold(&running, &gate), [](absl::Status) {});
  ASSERT_TRUE(running.WaitFor(1));
  for (int i = 0; i < kWrites; ++i) {
    committer->SubmitAsync(Append(i), [&](absl::Status status) {
      ok += status.ok();
      ++dones;
    });
  }
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    gate.Open();
  });
  committer.reset();
  opener.join();
  EXPECT_EQ(dones.load(), kWrites);
  EXPECT_EQ(ok.load(), kWrites);
  EXPECT_EQ(Numbers(*store_).size(), static_cast<size_t>(kWrites));
}

// The linger tests wait for writes that must not linger under a ceiling far shorter than the
// linger: a write that paid the linger misses the ceiling; a slow machine does not (nothing
// here is timed short). The linger is sleep_for, so a failing run still pays it once on exit.
constexpr auto kLongLinger = std::chrono::seconds(120);
constexpr auto kCeiling = std::chrono::seconds(30);

TEST_F(GroupCommitTest, ALoneWriteDoesNotWaitForTheLinger) {
  GroupCommitter committer(store_.get(), 512, kLongLinger, 16);
  for (int i = 0; i < 3; ++i) {
    // Let the writer go idle, as it is between requests under light load.
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    auto write = std::async(std::launch::async, [&committer, i] { return committer.Submit(Append(i)); });
    ASSERT_EQ(write.wait_for(kCeiling), std::future_status::ready) << "lone write " << i << " lingered";
    absl::Status status = write.get();
    ASSERT_TRUE(status.ok()) << status;
  }
  EXPECT_EQ(committer.batches(), 3u);
  EXPECT_EQ(Numbers(*store_).size(), 3u);
}

TEST_F(GroupCommitTest, OneCallerWritingBackToBackNeverPaysTheLinger) {
  // One caller sends its next write as soon as the previous one is answered. That is no load:
  // each write must be committed at once. (The writer once judged load after answering, and
  // then saw this caller's next write queued and lingered on nearly every one.)
  constexpr int kWrites = 40;
  GroupCommitter committer(store_.get(), 512, kLongLinger, 16);
  std::atomic<bool> stop{false};
  auto writes = std::async(std::launch::async, [&] {
    for (int i = 0; i < kWrites && !stop; ++i) {
      if (!committer.Submit(Append(i)).ok()) return false;
    }
    return true;
  });
  const bool answered = writes.wait_for(kCeiling) == std::future_status::ready;
  stop = true;
  EXPECT_TRUE(answered) << kWrites << " back-to-back writes: one of them lingered";
  EXPECT_TRUE(writes.get());
  EXPECT_EQ(Numbers(*store_).size(), static_cast<size_t>(kWrites));
  EXPECT_EQ(committer.batches(), static_cast<uint64_t>(kWrites));
}

TEST_F(GroupCommitTest, ABurstIsCommittedInBatchesOfSeveralWrites) {
  constexpr int kThreads = 8;
  constexpr int kEach = 25;
  GroupCommitter committer(store_.get(), 512, std::chrono::milliseconds(20), 16);
  Gate start;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.Wait();
      for (int i = 0; i < kEach; ++i) failures += !committer.Submit(Append(t * kEach + i)).ok();
    });
  }
  start.Open();
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(committer.writes(), static_cast<uint64_t>(kThreads * kEach));
  // Eight writers each waiting on their own write: with the linger nearly every batch should
  // hold several of them; one write per commit on average twice over would mean no grouping.
  EXPECT_LE(committer.batches() * 2, committer.writes()) << committer.batches() << " batches";
  std::vector<int> numbers = Numbers(*store_);
  EXPECT_EQ(std::set<int>(numbers.begin(), numbers.end()).size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_TRUE(store_->VerifyLog().ok());
}

// Sign and SignAsync on one TransactionSigner, behind a real gRPC server on hsm_sim.
class SignEntryPointsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ringfence::testing::TempDir("signer_tx_pipeline_sign");
    harness_ = new testing::SignerHarness(testing::TokenKind::kHsmSim, dir_->path());
  }
  static void TearDownTestSuite() {
    delete harness_;
    delete dir_;
  }

  static TransactionSigner& signer() {
    return static_cast<TransactionSignerService&>(harness_->service()).signer();
  }

  // SignAsync, waited for here; also records on which thread `done` ran, how often, and what
  // a second connection to the database saw at that moment.
  struct AsyncOutcome {
    absl::StatusOr<SignResult> result = absl::UnknownError("done never called");
    int calls = 0;
    bool on_caller_thread = false;
    std::vector<LogEntry> log_at_done;
  };
  static AsyncOutcome SignAsyncAndWait(const TxRequest& request) {
    auto reader = SignerStore::Open((dir_->path() / "signer.db").string());
    EXPECT_TRUE(reader.ok()) << reader.status();
    AsyncOutcome out;
    Counter finished;
    const auto caller = std::this_thread::get_id();
    std::mutex mu;
    signer().SignAsync(request, [&](absl::StatusOr<SignResult> result) {
      auto log = (*reader)->ReadLog();
      std::lock_guard<std::mutex> lock(mu);
      out.result = std::move(result);
      ++out.calls;
      out.on_caller_thread = std::this_thread::get_id() == caller;
      if (log.ok()) out.log_at_done = *std::move(log);
      finished.Add();
    });
    EXPECT_TRUE(finished.WaitFor(1));
    // A second call would show up here.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::lock_guard<std::mutex> lock(mu);
    return out;
  }

  static std::string Field(const LogEntry& e, const std::string& name) {
    auto it = e.fields.find(name);
    return it == e.fields.end() ? "" : std::string(it->second.begin(), it->second.end());
  }
  static std::vector<LogEntry> Entries(const std::vector<LogEntry>& log, const std::string& kind,
                                       const std::string& request_id) {
    std::vector<LogEntry> out;
    for (const LogEntry& e : log) {
      if (e.kind == kind && Field(e, "request_id") == request_id) out.push_back(e);
    }
    return out;
  }
  static std::vector<LogEntry> Log() {
    auto log = harness_->store().ReadLog();
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *log : std::vector<LogEntry>{};
  }

  static testing::BitcoinCase Request(const std::string& request_id, uint8_t outpoint_tag) {
    auto c = testing::ValidBitcoinRequest(harness_->world(), request_id);
    c.tx.inputs[0].prevout.txid.fill(outpoint_tag);
    testing::SetTx(&c.request, c.tx);
    return c;
  }

  static ringfence::testing::TempDir* dir_;
  static testing::SignerHarness* harness_;
};

ringfence::testing::TempDir* SignEntryPointsTest::dir_ = nullptr;
testing::SignerHarness* SignEntryPointsTest::harness_ = nullptr;

TEST_F(SignEntryPointsTest, SignAsyncAnswersOnceFromTheWriterAfterTheEntryIsDurable) {
  auto c = Request("pipe-async-first", 0x61);
  AsyncOutcome async = SignAsyncAndWait(c.request);
  ASSERT_TRUE(async.result.ok()) << async.result.status();
  EXPECT_EQ(async.calls, 1);
  EXPECT_FALSE(async.on_caller_thread);
  EXPECT_FALSE(async.result->replayed);
  // The tx_signed entry was already readable through another connection when done ran.
  auto signed_entries = Entries(async.log_at_done, "tx_signed", "pipe-async-first");
  ASSERT_EQ(signed_entries.size(), 1u);
  EXPECT_EQ(signed_entries[0].seq, async.result->log_sequence);
  EXPECT_EQ(Field(signed_entries[0], "txid"), async.result->signed_tx.txid);

  // Sign on the same request replays exactly what SignAsync signed.
  auto again = signer().Sign(c.request);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->signed_tx.bytes, async.result->signed_tx.bytes);
  EXPECT_EQ(again->signed_tx.txid, async.result->signed_tx.txid);
  EXPECT_EQ(again->log_sequence, async.result->log_sequence);
  EXPECT_EQ(Entries(Log(), "tx_replayed", "pipe-async-first").size(), 1u);
}

TEST_F(SignEntryPointsTest, SignThenSignAsyncReplayTheSameTransaction) {
  auto c = Request("pipe-sync-first", 0x62);
  auto first = signer().Sign(c.request);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);
  auto signed_entries = Entries(Log(), "tx_signed", "pipe-sync-first");
  ASSERT_EQ(signed_entries.size(), 1u);
  EXPECT_EQ(signed_entries[0].seq, first->log_sequence);

  AsyncOutcome async = SignAsyncAndWait(c.request);
  ASSERT_TRUE(async.result.ok()) << async.result.status();
  EXPECT_EQ(async.calls, 1);
  EXPECT_TRUE(async.result->replayed);
  EXPECT_EQ(async.result->signed_tx.bytes, first->signed_tx.bytes);
  EXPECT_EQ(async.result->signed_tx.txid, first->signed_tx.txid);
  EXPECT_EQ(async.result->log_sequence, first->log_sequence);
  EXPECT_EQ(Entries(async.log_at_done, "tx_replayed", "pipe-sync-first").size(), 1u);

  // The same request id for another transaction is refused the same way by both.
  auto other = Request("pipe-sync-first", 0x63);
  auto sync_refused = signer().Sign(other.request);
  AsyncOutcome async_refused = SignAsyncAndWait(other.request);
  ASSERT_FALSE(sync_refused.ok());
  ASSERT_FALSE(async_refused.result.ok());
  EXPECT_EQ(sync_refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(sync_refused.status().message()), ::testing::StartsWith("request_conflict: "));
  EXPECT_EQ(async_refused.result.status(), sync_refused.status());
}

// A caller that crashed after signerd signed but before it recorded the answer asks again,
// perhaps after the approvals expired: it gets the stored transaction (nothing new signed),
// while a request that was never signed is refused once expired and claims nothing.
TEST_F(SignEntryPointsTest, ASignedRequestIsReplayedAfterItsApprovalsExpire) {
  const int64_t expires_at = static_cast<int64_t>(std::time(nullptr)) + 4;
  auto expiring = [&](const std::string& request_id, uint8_t outpoint_tag) {
    auto c = Request(request_id, outpoint_tag);
    c.request.expires_at = expires_at;
    testing::ApproveOther(harness_->world(), &c.request, [](policy::ApprovalSubject*) {});
    return c;
  };
  auto signed_case = expiring("pipe-expiring", 0x65);
  auto first = signer().Sign(signed_case.request);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);

  // Wait (30 s ceiling) until signerd's clock, in Unix seconds, has passed expires_at.
  const auto ceiling = Clock::now() + std::chrono::seconds(30);
  while (std::time(nullptr) <= expires_at + 1 && Clock::now() < ceiling) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GT(std::time(nullptr), expires_at + 1);

  const size_t signed_before = Entries(Log(), "tx_signed", "pipe-expiring").size();
  auto again = signer().Sign(signed_case.request);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->signed_tx.bytes, first->signed_tx.bytes);
  EXPECT_EQ(again->log_sequence, first->log_sequence);
  EXPECT_EQ(Entries(Log(), "tx_signed", "pipe-expiring").size(), signed_before);
  EXPECT_EQ(Entries(Log(), "tx_replayed", "pipe-expiring").size(), 1u);

  // The same request id for another transaction is still a conflict, expired or not.
  auto conflicting = expiring("pipe-expiring", 0x67);
  auto conflict = signer().Sign(conflicting.request);
  ASSERT_FALSE(conflict.ok());
  EXPECT_THAT(std::string(conflict.status().message()), ::testing::StartsWith("request_conflict: "));

  // Never signed and expired: refused and logged, and its outpoint is not left claimed.
  auto late = expiring("pipe-expired-new", 0x66);
  auto refused = signer().Sign(late.request);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(refused.status().message()), ::testing::StartsWith("approval_expired: "));
  ASSERT_EQ(Entries(Log(), "tx_refused", "pipe-expired-new").size(), 1u);
  EXPECT_EQ(Field(Entries(Log(), "tx_refused", "pipe-expired-new")[0], "rule"), "approval_expired");
  EXPECT_TRUE(Entries(Log(), "tx_signed", "pipe-expired-new").empty());
  auto renewed = Request("pipe-expired-renewed", 0x66);  // the same outpoint, fresh approvals
  auto signed_renewed = signer().Sign(renewed.request);
  ASSERT_TRUE(signed_renewed.ok()) << signed_renewed.status();
  EXPECT_FALSE(signed_renewed->replayed);
}

TEST_F(SignEntryPointsTest, RefusalsAreTheSameAndLoggedBeforeTheAnswer) {
  auto c = Request("pipe-refused", 0x64);
  c.request.network = "mainnet";
  const size_t before = Entries(Log(), "tx_refused", "pipe-refused").size();
  auto sync_refused = signer().Sign(c.request);
  ASSERT_FALSE(sync_refused.ok());
  EXPECT_EQ(sync_refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(sync_refused.status().message()), ::testing::StartsWith("network_mismatch: "));

  AsyncOutcome async = SignAsyncAndWait(c.request);
  EXPECT_EQ(async.calls, 1);
  EXPECT_FALSE(async.on_caller_thread);
  EXPECT_EQ(async.result.status(), sync_refused.status());
  // Both refusals were logged, the second one already when its done ran.
  auto refused = Entries(async.log_at_done, "tx_refused", "pipe-refused");
  ASSERT_EQ(refused.size(), before + 2);
  EXPECT_EQ(Field(refused.back(), "rule"), "network_mismatch");
  EXPECT_EQ(Field(refused.back(), "reason"), std::string(sync_refused.status().message()));
}

}  // namespace
}  // namespace ringfence::signer::tx

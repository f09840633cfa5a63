// bench_custody_store: the storage floor under custodyd, on a fresh SQLite file in WAL mode with
// synchronous=FULL (the production settings):
//   - single-transaction commits per second: one small write (an idempotency record) and a
//     commit, i.e. one fsync'd WAL append: the reference the deposit benchmark
//     compares against (bench/custody/commit_rate.h, shared with bench_custody_api);
//   - ledger Post of a deposit credit, one per transaction (one commit each);
//   - ledger Post of a deposit credit, 1,000 per transaction (what the ingestor does per block),
//     as entries per second.
// Prints one row per figure. --quick runs a short version (ctest keeps it working).
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/text.h"
#include "bench/custody/commit_rate.h"
#include "custody/ledger.h"
#include "custody/store/sqlite_store.h"
#include "tests/common/temp_dir.h"

namespace ringfence::custody {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "bench_custody_store: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

template <typename T>
T OrDie(absl::StatusOr<T> value, const std::string& what) {
  if (!value.ok()) Die(what, value.status());
  return *std::move(value);
}

void Row(const char* name, double count, double seconds, const char* unit) {
  std::printf("%-52s %12.0f %s/s   (%.0f in %.2f s)\n", name, count / seconds, unit, count, seconds);
}

std::unique_ptr<store::SqliteStore> OpenFresh(const testing::TempDir& dir, const std::string& name,
                                              int clients) {
  auto s = OrDie(store::SqliteStore::Open((dir / name).string()), "opening the database");
  auto txn = OrDie(s->Begin(), "begin");
  if (absl::Status st = txn->UpsertWallet({"BTC:client-hot", "BTC", "client", "hot", "hot-1"}); !st.ok()) {
    Die("wallet", st);
  }
  for (int i = 0; i < clients; ++i) {
    store::ClientRow row;
    row.client_id = base::Cat("c_", i);
    row.client_ref = base::Cat("ref-", i);
    if (absl::Status st = txn->InsertClient(row); !st.ok()) Die("client", st);
  }
  if (absl::Status st = txn->Commit(); !st.ok()) Die("commit", st);
  return s;
}

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int Main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int single = quick ? 50 : 2000;
  const int batches = quick ? 2 : 50;
  constexpr int kBatch = 1000;
  constexpr int kClients = 1000;
  testing::TempDir dir("bench_custody_store");

  std::printf("custody store on SQLite %s, WAL, synchronous=FULL, in %s\n", sqlite3_libversion(),
              dir.path().c_str());

  {
    const bench::CommitRate rate =
        OrDie(bench::MeasureSingleCommits(dir / "commits.db", single, std::chrono::hours(1)), "single commits");
    Row("sqlite single-transaction commits (1 write each)", static_cast<double>(rate.commits), rate.seconds,
        "commits");
  }
  {
    auto s = OpenFresh(dir, "post_single.db", kClients);
    const auto start = Clock::now();
    for (int i = 0; i < single; ++i) {
      auto txn = OrDie(s->Begin(), "begin");
      auto entry = Ledger::DepositCredit("BTC", "BTC:client-hot", base::Cat("c_", i % kClients),
                                         base::Amount(1000 + i), base::Cat("tx:", i), i);
      OrDie(Ledger::Post(*txn, std::move(entry)), "post");
      if (absl::Status st = txn->Commit(); !st.ok()) Die("commit", st);
    }
    Row("ledger Post deposit, 1 per Txn", single, Seconds(start), "deposits");
  }
  {
    auto s = OpenFresh(dir, "post_batch.db", kClients);
    const auto start = Clock::now();
    for (int b = 0; b < batches; ++b) {
      auto txn = OrDie(s->Begin(), "begin");
      for (int i = 0; i < kBatch; ++i) {
        auto entry = Ledger::DepositCredit("BTC", "BTC:client-hot", base::Cat("c_", i % kClients),
                                           base::Amount(1000 + i), base::Cat("tx:", b, ":", i), i);
        OrDie(Ledger::Post(*txn, std::move(entry)), "post");
      }
      if (absl::Status st = txn->Commit(); !st.ok()) Die("commit", st);
    }
    Row("ledger Post deposit, 1,000 per Txn", static_cast<double>(batches) * kBatch, Seconds(start), "deposits");
  }
  return 0;
}

}  // namespace
}  // namespace ringfence::custody

int main(int argc, char** argv) { return ringfence::custody::Main(argc, argv); }

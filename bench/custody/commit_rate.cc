#include "bench/custody/commit_rate.h"

#include <memory>
#include <string>

#include "base/status.h"
#include "base/text.h"
#include "custody/store/sqlite_store.h"

namespace ringfence::custody::bench {

absl::StatusOr<CommitRate> MeasureSingleCommits(const std::filesystem::path& db_path, uint64_t max_commits,
                                                std::chrono::duration<double> max_time) {
  if (std::filesystem::exists(db_path)) {
    return absl::FailedPreconditionError(base::Cat(db_path.string(), " exists: the rate is of a fresh database"));
  }
  RF_ASSIGN_OR_RETURN(std::unique_ptr<store::SqliteStore> store, store::SqliteStore::Open(db_path.string()));
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(max_time);
  CommitRate rate;
  do {
    RF_ASSIGN_OR_RETURN(std::unique_ptr<store::Txn> txn, store->Begin());
    RF_RETURN_IF_ERROR(txn->PutIdempotency({base::Cat("k", rate.commits), "bench", "h", "r"}));
    RF_RETURN_IF_ERROR(txn->Commit());
    ++rate.commits;
  } while (rate.commits < max_commits && Clock::now() < deadline);
  rate.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return rate;
}

}  // namespace ringfence::custody::bench

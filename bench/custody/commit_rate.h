// The storage floor both custody benchmarks compare against: single-transaction commits per
// second on a fresh SqliteStore (WAL, synchronous=FULL, the production settings). Each commit
// is one small write (an idempotency record) and Commit, i.e. one fsync'd WAL append; the issue's
// deposit goal is stated against this rate. bench_custody_store prints it beside the ledger's
// own rates, bench_custody_api beside the deposits custodyd credits through its API.
//
// Stateless; the caller owns the database file. Not for concurrent use on one file.
#ifndef RINGFENCE_BENCH_CUSTODY_COMMIT_RATE_H_
#define RINGFENCE_BENCH_CUSTODY_COMMIT_RATE_H_

#include <chrono>
#include <cstdint>
#include <filesystem>

#include "absl/status/statusor.h"

namespace ringfence::custody::bench {

struct CommitRate {
  uint64_t commits = 0;
  double seconds = 0;
  double PerSecond() const { return seconds > 0 ? static_cast<double>(commits) / seconds : 0; }
};

// Creates a new SqliteStore at `db_path` (which must not exist) and commits one-write
// transactions until `max_commits` are done or `max_time` has passed, whichever is first (at
// least one). Returns the first store error, if any.
absl::StatusOr<CommitRate> MeasureSingleCommits(const std::filesystem::path& db_path, uint64_t max_commits,
                                                std::chrono::duration<double> max_time);

}  // namespace ringfence::custody::bench

#endif  // RINGFENCE_BENCH_CUSTODY_COMMIT_RATE_H_

// `reserves export` from files: builds a custody-por/1 package (spec section 5) from a
// liabilities CSV, a reserves JSON with ownership proofs already made, and the custodian's
// Ed25519 seed, plus the private file that `reserves prove` (reserves/prover.h) later makes
// any client's inclusion proof from (layout in reserves/private_file.h).
//
// Export writes everything into temporary names beside the targets and renames them into
// place only when all of it succeeded, so a refused input leaves nothing behind.
// Thread-compatible; it uses up to `threads` worker threads internally.
#ifndef RINGFENCE_RESERVES_EXPORTER_H_
#define RINGFENCE_RESERVES_EXPORTER_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "reserves/format.h"

namespace ringfence::reserves {

struct ExportOptions {
  std::string liabilities_path;
  std::string reserves_path;
  std::string custodian_id;
  std::string custodian_key_path;
  Hash32 snapshot_id{};
  Hash32 challenge{};
  std::map<std::string, int> decimals;
  std::string out_dir;
  std::optional<int> depth;
  int parts = 1;
  uint64_t decoys = 0;
  std::optional<uint64_t> time;
  bool inclusion_files = false;
  std::string private_path;  // empty: out_dir + ".private"
  int threads = 2;
};

// Returns the signed manifest. InvalidArgument for refused input (bad rows, proofs, options),
// AlreadyExists if a target exists, other codes for I/O failures.
absl::StatusOr<Manifest> Export(const ExportOptions& options);

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_EXPORTER_H_

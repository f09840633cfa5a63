// `reserves export` from files and `reserves prove`: builds a custody-por/1 package
// (spec section 5) from a liabilities CSV, a reserves JSON with ownership proofs already made,
// and the custodian's Ed25519 seed; and makes one client's inclusion proof later from the
// package plus the private file.
//
// The private file (never part of the package, mode 0600) holds what proofs need: for every
// leaf in index order its client_ref, salt, part index and part count. Its layout:
//   "CPOR1PRV" || manifest_digest || snapshot_id || str(custodian_id) || u32 n_assets ||
//   per asset in manifest order: str(asset_id) || u64 n || n x (client_ref || salt ||
//   u16 part_index || u16 part_count)
//
// Export writes everything into temporary names beside the targets and renames them into
// place only when all of it succeeded, so a refused input leaves nothing behind.
// Functions are thread-compatible; they use up to `threads` worker threads internally.
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

// One client's inclusion proof. NotFound if the account has no leaf; InvalidArgument or
// DataLoss if the package and the private file disagree.
absl::StatusOr<InclusionProof> Prove(const std::string& package_dir, const std::string& private_path,
                                     std::string_view account_id, int threads);

// Whole-file helpers shared with the verifiers. ReadSmallFile refuses files over `max_bytes`.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes);

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_EXPORTER_H_

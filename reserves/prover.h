// `reserves prove`: one client's inclusion proof (spec section 6), made after the export from
// the package and the private file the exporter wrote beside it (reserves/private_file.h).
//
// Prove checks every leaf it uses against the package's tree file and rebuilds the tree to
// the manifest's root before it returns a proof, so a private file that does not belong to
// the package, or a changed tree, gives an error rather than a proof that fails later.
// Thread-compatible; it starts up to `threads` worker threads internally.
#ifndef RINGFENCE_RESERVES_PROVER_H_
#define RINGFENCE_RESERVES_PROVER_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "reserves/format.h"

namespace ringfence::reserves {

// NotFound if the account has no leaf; InvalidArgument or DataLoss if the package and the
// private file disagree; Unavailable for I/O failures.
absl::StatusOr<InclusionProof> Prove(const std::string& package_dir, const std::string& private_path,
                                     std::string_view account_id, int threads);

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_PROVER_H_

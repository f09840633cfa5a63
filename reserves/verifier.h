// The two verifiers of custody-por/1:
//   VerifyPackage   - the auditor's checks of section 7 over a whole package directory;
//   VerifyInclusion - a client's check of section 6 of one inclusion proof against the
//                     signed manifest.
// Both return a verdict with the spec's exit codes and, on rejection, the first reason.
// Functions are thread-compatible; VerifyPackage uses up to `threads` worker threads.
#ifndef RINGFENCE_RESERVES_VERIFIER_H_
#define RINGFENCE_RESERVES_VERIFIER_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/amount.h"
#include "reserves/format.h"

namespace ringfence::reserves {

enum class Verdict {
  kValid = 0,          // valid and covered
  kInvalid = 1,        // invalid or tampered
  kUnderReserved = 2,  // valid but reserves_total < root_sum for some asset
  kUsage = 3,          // usage or I/O error
};

// Checks the manifest's key against the pinned one, its digest against its content and the
// published digest (when given), and the Ed25519 signature over the digest.
absl::Status VerifyManifestSignature(const Manifest& m, const Hash32& pinned_key,
                                     const std::optional<Hash32>& published_digest);

struct AssetReport {
  std::string asset_id;
  int decimals = 0;
  uint64_t n_leaves = 0;
  base::Amount liabilities;
  base::Amount reserves;
};

struct PackageResult {
  Verdict verdict = Verdict::kValid;
  std::string error;  // the first reason, for kInvalid and kUsage
  std::vector<AssetReport> assets;
  bool chain_checked = false;
  size_t inclusion_files_checked = 0;
};

struct PackageOptions {
  std::string dir;
  Hash32 pubkey{};
  std::optional<Hash32> published_digest;
  std::string chain_balances_path;  // empty: balances are not compared with a chain view
  int threads = 2;
};

PackageResult VerifyPackage(const PackageOptions& options);

// One asset of a client's proof: what its parts add up to.
struct ClientTotal {
  std::string asset_id;
  int decimals = 0;  // the manifest's, for showing the amount
  base::Amount amount;
};

struct InclusionResult {
  Verdict verdict = Verdict::kValid;  // kValid, kInvalid or kUsage
  std::string error;
  std::vector<ClientTotal> totals;  // per asset, in the proof's order
};

struct InclusionOptions {
  std::string proof_text;
  std::string manifest_text;
  Hash32 pubkey{};
  std::string account_id;
  std::map<std::string, base::Amount> expect;  // asset -> the client's own record
  std::optional<Hash32> published_digest;
};

InclusionResult VerifyInclusion(const InclusionOptions& options);

// The inclusion check against an already verified manifest (used for inclusion/ files).
absl::Status CheckInclusionProof(const InclusionProof& proof, const Manifest& m, std::string_view account_id,
                                 const std::map<std::string, base::Amount>& expect,
                                 std::vector<ClientTotal>* totals);

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_VERIFIER_H_

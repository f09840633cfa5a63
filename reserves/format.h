// The package documents of custody-por/1 (spec sections 4-6): the manifest, reserve entries
// and client inclusion proofs, with their digests, their strict JSON parsers (schema and
// canonical encodings only; signatures and trees are checked by the verifiers) and their
// writers.
//
// Plain value types and pure functions; thread-safe. Parsers return InvalidArgument naming
// the field and the rule.
#ifndef RINGFENCE_RESERVES_FORMAT_H_
#define RINGFENCE_RESERVES_FORMAT_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/amount.h"
#include "reserves/hash.h"
#include "reserves/strict_json.h"
#include "reserves/tree.h"

namespace ringfence::reserves {

inline constexpr std::string_view kManifestFormat = "custody-por-manifest/1";
inline constexpr std::string_view kInclusionFormat = "custody-por-inclusion/1";

struct AssetCommit {
  std::string asset_id;
  int decimals = 0;
  int depth = 0;
  uint64_t n_leaves = 0;
  Hash32 root_hash{};
  base::Amount root_sum;
  base::Amount reserves_total;
  Hash32 reserves_digest{};
};

struct Manifest {
  std::string custodian_id;
  Hash32 snapshot_id{};
  uint64_t snapshot_time = 0;
  Hash32 auditor_challenge{};
  std::vector<AssetCommit> assets;  // ascending asset_id, unique
  Hash32 manifest_digest{};
  Hash32 public_key{};
  std::array<uint8_t, 64> signature{};
};

// root_commit = TH("por/v1/root", snapshot_id || str(asset_id) || u8 decimals || u8 D || u64 n
//                  || root_hash || u128 root_sum)
Hash32 RootCommit(const Hash32& snapshot_id, const AssetCommit& a);
// manifest_digest over the fields of `m` (its manifest_digest field is not read).
Hash32 ComputeManifestDigest(const Manifest& m);
std::string ManifestToJson(const Manifest& m);
// Schema and encodings: exact keys, the format string, ids, hex, amounts, integer ranges,
// 1 <= n <= 2^D, ascending unique asset ids, "alg":"ed25519".
absl::StatusOr<Manifest> ParseManifest(std::string_view text);

enum class ProofType { kBip322Simple, kEip191, kEd25519 };
std::string_view ProofTypeName(ProofType t);

struct ReserveEntry {
  std::string chain;
  std::string token;
  std::string address;
  uint64_t height = 0;
  Hash32 block_hash{};
  base::Amount balance;
  ProofType type = ProofType::kEd25519;
  std::string message;
  std::string signature_text;          // as in JSON (hex, or base64 for bip322-simple)
  std::vector<uint8_t> signature;      // decoded bytes
};

// The exact ASCII message of section 4.
std::string OwnershipMessage(std::string_view custodian_id, const Hash32& snapshot_id, const Hash32& challenge,
                             std::string_view chain, std::string_view address);
Hash32 EntryDigest(const ReserveEntry& e);
// reserves_digest over entries in the given order.
Hash32 ReservesDigest(const Hash32& snapshot_id, std::string_view asset_id, const std::vector<ReserveEntry>& entries);
// Bytewise order of (chain, token, address).
bool EntryLess(const ReserveEntry& a, const ReserveEntry& b);

Json ReserveEntryToJson(const ReserveEntry& e);
absl::StatusOr<ReserveEntry> ParseReserveEntry(const Json& j, std::string_view where);
// A package reserves file: a JSON array of entries (order is checked by the verifier).
std::string ReserveEntriesToJson(const std::vector<ReserveEntry>& entries);
absl::StatusOr<std::vector<ReserveEntry>> ParseReserveEntries(std::string_view text, std::string_view what);

struct ProofPart {
  uint64_t index = 0;
  int part_index = 0;
  int part_count = 0;
  Hash32 salt{};
  base::Amount amount;
  std::vector<Node> path;  // leaf level first
};
struct ProofEntry {
  std::string asset_id;
  int decimals = 0;
  int depth = 0;
  uint64_t n_leaves = 0;
  Hash32 root_hash{};
  base::Amount root_sum;
  std::vector<ProofPart> parts;

  // The asset's fields of a proof entry, copied from its commitment in the manifest; `parts`
  // is left for the caller to fill.
  static ProofEntry FromCommit(const AssetCommit& c) {
    return ProofEntry{c.asset_id, c.decimals, c.depth, c.n_leaves, c.root_hash, c.root_sum, {}};
  }
};
struct InclusionProof {
  std::string custodian_id;
  Hash32 snapshot_id{};
  Hash32 manifest_digest{};
  std::string client_account_id;
  std::vector<ProofEntry> entries;
};

std::string InclusionProofToJson(const InclusionProof& p);
// Schema and encodings only; also bounds depth (<= 48) and path length (<= 48) and part_count
// (1..16) so that nothing unbounded is allocated.
absl::StatusOr<InclusionProof> ParseInclusionProof(std::string_view text);

// Standard base64 with padding (BIP-322 witnesses).
std::string Base64Encode(std::span<const uint8_t> b);
// Strict: canonical padding and no whitespace; false otherwise.
bool Base64Decode(std::string_view text, std::vector<uint8_t>* out);

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_FORMAT_H_

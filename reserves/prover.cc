#include "reserves/prover.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "base/secret.h"
#include "base/status.h"
#include "base/text.h"
#include "reserves/file_io.h"
#include "reserves/private_file.h"
#include "reserves/tree.h"

namespace ringfence::reserves {

namespace {

namespace fs = std::filesystem;

// One leaf of the client's, found in the private file.
struct LeafHit {
  uint64_t index;
  uint16_t part_index;
  uint16_t part_count;
  Hash32 salt;
};

// The private file open for reading, with the name its errors quote.
struct PrivateFile {
  Fd fd;
  std::string path;

  absl::Status Corrupt(std::string_view why) const { return absl::DataLossError(base::Cat(path, ": ", why)); }
};

// Opens the private file and checks that it belongs to `m`. Returns the offset of the first
// asset's section.
absl::StatusOr<uint64_t> OpenPrivateFile(const std::string& path, const Manifest& m, PrivateFile* file) {
  file->path = path;
  file->fd = Fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file->fd.ok()) {
    return errno == ENOENT ? absl::UnavailableError(base::Cat(path, ": no such file")) : ErrnoError(path);
  }
  uint8_t head[kPrivateFixedHeader];
  if (!PReadAll(file->fd.get(), head, sizeof(head), 0) || std::memcmp(head, kPrivateMagic, 8) != 0) {
    return file->Corrupt("not a reserves private file");
  }
  if (std::memcmp(head + kPrivateDigestOffset, m.manifest_digest.data(), 32) != 0 ||
      std::memcmp(head + kPrivateSnapshotOffset, m.snapshot_id.data(), 32) != 0) {
    return absl::InvalidArgumentError("the private file belongs to another package (manifest digest differs)");
  }
  // The custodian id, then the u32 asset count (the manifest's, which the sections repeat).
  return sizeof(head) + GetU16(head + kPrivateFixedHeader - 2) + 4;
}

// Checks the section header of asset `c` at `off`. Returns the offset of its first record.
absl::StatusOr<uint64_t> ReadSectionHeader(const PrivateFile& file, uint64_t off, const AssetCommit& c) {
  uint8_t sec[2 + 64 + 8];
  if (!PReadAll(file.fd.get(), sec, 2, off)) return file.Corrupt("truncated");
  const uint16_t len = GetU16(sec);
  if (len < 1 || len > 64 || !PReadAll(file.fd.get(), sec + 2, len + 8u, off + 2)) return file.Corrupt("truncated");
  if (std::string_view(reinterpret_cast<char*>(sec + 2), len) != c.asset_id || GetU64(sec + 2 + len) != c.n_leaves) {
    return file.Corrupt(base::Cat("section for ", c.asset_id, " does not match the manifest"));
  }
  return off + 2 + len + 8;
}

// Scans the `n` records at `off` for the client's leaves, sorted by part index.
absl::StatusOr<std::vector<LeafHit>> FindClientLeaves(const PrivateFile& file, uint64_t off, uint64_t n,
                                                      const Hash32& ref) {
  std::vector<LeafHit> hits;
  constexpr size_t kBatch = size_t{1} << 16;
  std::vector<uint8_t> buf(kBatch * kPrivateRecord);
  for (uint64_t i = 0; i < n; i += kBatch) {
    const size_t count = static_cast<size_t>(std::min<uint64_t>(kBatch, n - i));
    if (!PReadAll(file.fd.get(), buf.data(), count * kPrivateRecord, off + i * kPrivateRecord)) {
      base::Wipe(buf.data(), buf.size());
      return file.Corrupt("truncated");
    }
    for (size_t k = 0; k < count; ++k) {
      const uint8_t* rec = buf.data() + k * kPrivateRecord;
      if (std::memcmp(rec, ref.data(), 32) != 0) continue;
      LeafHit h;
      h.index = i + k;
      h.part_index = GetU16(rec + 64);
      h.part_count = GetU16(rec + 66);
      std::memcpy(h.salt.data(), rec + 32, 32);
      hits.push_back(h);
    }
  }
  base::Wipe(buf.data(), buf.size());  // the salts of every other client
  std::sort(hits.begin(), hits.end(), [](const LeafHit& a, const LeafHit& b) { return a.part_index < b.part_index; });
  return hits;
}

// The proof entry of asset `c` for the client's `hits`: each leaf is recomputed and compared
// with the tree file, then the tree is rebuilt to the manifest's root collecting the paths.
absl::StatusOr<ProofEntry> ProveAsset(const fs::path& dir, const Manifest& m, const AssetCommit& c, const Hash32& ref,
                                      const std::vector<LeafHit>& hits, const PrivateFile& file, int threads) {
  Progress read_progress(base::Cat("reading tree ", c.asset_id), c.n_leaves);
  RF_ASSIGN_OR_RETURN(TreeFile tree, ReadTreeFile((dir / "liabilities" / (c.asset_id + ".tree")).string(),
                                                  c.n_leaves, &read_progress));
  if (tree.n != c.n_leaves || tree.depth != c.depth || tree.snapshot_id != m.snapshot_id) {
    return absl::InvalidArgumentError(base::Cat("tree of ", c.asset_id, " does not match the manifest"));
  }
  TreeHasher hasher(m.snapshot_id, c.asset_id);
  ProofEntry e = ProofEntry::FromCommit(c);
  std::vector<uint64_t> track;
  for (const LeafHit& h : hits) {
    const Node& leaf = tree.leaves[h.index];
    uint8_t check[32];
    hasher.Leaf(ref.data(), h.part_index, h.part_count, h.salt.data(), leaf.sum, check);
    if (std::memcmp(check, leaf.hash, 32) != 0) {
      return file.Corrupt(base::Cat("leaf ", h.index, " of ", c.asset_id, " does not match the tree file"));
    }
    ProofPart part;
    part.index = h.index;
    part.part_index = h.part_index;
    part.part_count = h.part_count;
    part.salt = h.salt;
    part.amount = leaf.sum;
    e.parts.push_back(std::move(part));
    track.push_back(h.index);
  }
  Progress build_progress(base::Cat("building tree ", c.asset_id), c.n_leaves);
  std::vector<std::vector<Node>> paths;
  BuildOptions bo;
  bo.threads = threads;
  bo.progress = &build_progress;
  bo.track = &track;
  bo.paths = &paths;
  RF_ASSIGN_OR_RETURN(Node root, BuildTree(hasher, tree.leaves, c.depth, bo));
  if (std::memcmp(root.hash, c.root_hash.data(), 32) != 0 || root.sum != c.root_sum) {
    return absl::InvalidArgumentError(base::Cat("tree of ", c.asset_id, " does not match the manifest root"));
  }
  for (size_t k = 0; k < e.parts.size(); ++k) e.parts[k].path = std::move(paths[k]);
  return e;
}

}  // namespace

absl::StatusOr<InclusionProof> Prove(const std::string& package_dir, const std::string& private_path,
                                     std::string_view account_id, int threads) {
  if (!IsValidId(account_id)) {
    return absl::InvalidArgumentError("--account must be 1 to 64 characters of [A-Za-z0-9._:-]");
  }
  const fs::path dir(package_dir);
  RF_ASSIGN_OR_RETURN(std::string manifest_text, ReadSmallFile((dir / "manifest.json").string(), size_t{64} << 20));
  RF_ASSIGN_OR_RETURN(Manifest m, ParseManifest(manifest_text));
  PrivateFile file;
  RF_ASSIGN_OR_RETURN(uint64_t off, OpenPrivateFile(private_path, m, &file));
  const Hash32 ref = ClientRef(account_id);
  InclusionProof proof;
  proof.custodian_id = m.custodian_id;
  proof.snapshot_id = m.snapshot_id;
  proof.manifest_digest = m.manifest_digest;
  proof.client_account_id = std::string(account_id);
  for (const AssetCommit& c : m.assets) {
    RF_ASSIGN_OR_RETURN(const uint64_t records, ReadSectionHeader(file, off, c));
    RF_ASSIGN_OR_RETURN(std::vector<LeafHit> hits, FindClientLeaves(file, records, c.n_leaves, ref));
    off = records + c.n_leaves * kPrivateRecord;
    if (hits.empty()) continue;
    RF_ASSIGN_OR_RETURN(ProofEntry e, ProveAsset(dir, m, c, ref, hits, file, threads));
    proof.entries.push_back(std::move(e));
  }
  if (proof.entries.empty()) {
    return absl::NotFoundError(base::Cat("account ", account_id, " has no leaf in this snapshot"));
  }
  return proof;
}

}  // namespace ringfence::reserves

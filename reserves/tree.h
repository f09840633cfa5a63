// The per-asset Merkle-sum tree of custody-por/1 (spec section 3): leaf, padding and node
// hashes, and a builder that folds n leaves plus canonical padding up to depth D.
//
// Leaves are stored compactly (Node: 32-byte hash + 128-bit sum, 48 bytes) and each level is
// computed in place over the leaf buffer, split across threads; padding subtrees are computed
// on the fly (only the right edge of each level ever touches padding), so memory is O(n)
// whatever D is, and time is O(2^D) hashes.
//
// TreeHasher is immutable after construction and may be shared between threads.
#ifndef RINGFENCE_RESERVES_TREE_H_
#define RINGFENCE_RESERVES_TREE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/amount.h"
#include "reserves/hash.h"
#include "reserves/progress.h"

namespace ringfence::reserves {

inline constexpr int kMaxDepth = 48;
inline constexpr int kMaxParts = 16;

struct alignas(16) Node {
  uint8_t hash[32];
  base::Amount sum;
};
static_assert(sizeof(Node) == 48, "compact leaf storage");

class TreeHasher {
 public:
  // REQUIRES: IsValidId(asset_id).
  TreeHasher(const Hash32& snapshot_id, std::string_view asset_id);

  // leaf_hash = TH("por/v1/leaf", snapshot_id || str(asset_id) || client_ref || u16 part_index
  //                || u16 part_count || salt || u128 amount)
  void Leaf(const uint8_t client_ref[32], uint16_t part_index, uint16_t part_count, const uint8_t salt[32],
            base::Amount amount, uint8_t out[32]) const;
  // client_ref || u16 || u16 || salt || u128: the leaf message bytes after the prefix.
  static constexpr size_t kLeafMessageBytes = 32 + 2 + 2 + 32 + 16;
  // The leaf message bytes after the prefix, and up to kBatchLanes leaf hashes of such
  // messages at once.
  static void EncodeLeaf(const uint8_t client_ref[32], uint16_t part_index, uint16_t part_count, const uint8_t salt[32],
                         base::Amount amount, uint8_t m[kLeafMessageBytes]);
  void LeafBatch(size_t count, const uint8_t* const msgs[], uint8_t* const outs[]) const;
  // pad_hash(i) = TH("por/v1/pad", snapshot_id || str(asset_id) || u64 i)
  void Pad(uint64_t i, uint8_t out[32]) const;
  // The node at `level` (1..D) over children l and r. Returns false if the sums overflow.
  static bool Combine(int level, const Node& l, const Node& r, Node* out);
  // Up to kBatchLanes nodes of one level at once; outs may alias the inputs. False on any
  // overflow.
  static bool CombineBatch(int level, size_t count, const Node* const ls[], const Node* const rs[], Node* const outs[]);
  // Root of the subtree at (level, j), all of whose leaves are padding. Splits the work over
  // `threads` threads when the subtree is large.
  Node PadRoot(int level, uint64_t j, int threads = 1) const;

 private:
  TaggedHasher leaf_;
  TaggedHasher pad_;
};

// Smallest D >= 1 with 2^D >= n.
int MinDepth(uint64_t n);

struct BuildOptions {
  int threads = 2;
  Progress* progress = nullptr;
  // Leaf indices whose authentication paths (D siblings, leaf level first) to collect into
  // `paths` (same order) while the levels are overwritten.
  const std::vector<uint64_t>* track = nullptr;
  std::vector<std::vector<Node>>* paths = nullptr;
};

// Folds `leaves` (the n real leaves in index order; overwritten) with padding up to `depth`.
// Returns the root, or InvalidArgument if a node sum overflows 2^128-1.
// REQUIRES: 1 <= leaves.size() <= 2^depth, 1 <= depth <= 48.
absl::StatusOr<Node> BuildTree(const TreeHasher& hasher, std::vector<Node>& leaves, int depth,
                               const BuildOptions& options);

// Every level kept (level 0 = leaves), for writing many inclusion proofs at once.
struct TreeLevels {
  std::vector<std::vector<Node>> nodes;  // nodes[l] holds the real nodes of level l
  std::vector<Node> pad;                 // pad[l]: PadRoot(l, nodes[l].size()) when that size is odd
  Node root;
};
absl::StatusOr<TreeLevels> BuildTreeLevels(const TreeHasher& hasher, std::vector<Node> leaves, int depth,
                                           int threads);
std::vector<Node> PathFromLevels(const TreeLevels& levels, uint64_t index);

// Two leaves with the same hash, as (first index, second index), or nullopt.
std::optional<std::pair<uint64_t, uint64_t>> FindDuplicateLeaf(const std::vector<Node>& leaves, int threads);

// Folds one leaf up an authentication path (section 6 step 3). Returns nullopt when a sum
// overflows. REQUIRES: path.size() == D.
std::optional<Node> FoldPath(const Node& leaf, uint64_t index, const std::vector<Node>& path);

// The .tree file: "CPOR1TRE" || snapshot_id || str(asset_id) || u8 D || u64 n ||
// n x (leaf_hash || u128 amount), in index order.
inline constexpr char kTreeMagic[8] = {'C', 'P', 'O', 'R', '1', 'T', 'R', 'E'};
std::vector<uint8_t> TreeFileHeader(const Hash32& snapshot_id, std::string_view asset_id, int depth, uint64_t n);
inline void EncodeTreeRecord(const Node& node, uint8_t out[48]) {
  for (int i = 0; i < 32; ++i) out[i] = node.hash[i];
  PutAmount(out + 32, node.sum);
}

struct TreeFile {
  Hash32 snapshot_id;
  std::string asset_id;
  int depth = 0;
  uint64_t n = 0;
  std::vector<Node> leaves;
};
// Reads and checks the layout of a .tree file (magic, a valid asset id, 1 <= D <= 48,
// 1 <= n <= 2^D, exact length). `max_n` bounds the allocation before the length is checked.
// Returns NotFound/Unavailable for I/O problems, InvalidArgument for a bad layout.
absl::StatusOr<TreeFile> ReadTreeFile(const std::string& path, uint64_t max_n, Progress* progress);

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_TREE_H_

#include "reserves/tree.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "base/status.h"
#include "base/text.h"
#include "reserves/file_io.h"

namespace ringfence::reserves {

namespace {

std::vector<uint8_t> TreePrefix(const Hash32& snapshot_id, std::string_view asset_id) {
  ByteWriter w;
  w.Bytes(snapshot_id).Str(asset_id);
  return w.data();
}

// Parents [a, b) of `src` written to `dst + (j - dst_base)`. Returns false on overflow.
bool ComputeParents(int level, const Node* src, Node* dst, size_t dst_base, size_t a, size_t b,
                    Progress* progress) {
  bool ok = true;
  constexpr size_t kChunk = size_t{1} << 16;
  for (size_t start = a; start < b; start += kChunk) {
    size_t end = std::min(b, start + kChunk);
    for (size_t j = start; j < end; j += kBatchLanes) {
      size_t count = std::min(kBatchLanes, end - j);
      const Node* ls[kBatchLanes];
      const Node* rs[kBatchLanes];
      Node* outs[kBatchLanes];
      for (size_t k = 0; k < count; ++k) {
        ls[k] = &src[2 * (j + k)];
        rs[k] = &src[2 * (j + k) + 1];
        outs[k] = &dst[j + k - dst_base];
      }
      ok &= TreeHasher::CombineBatch(level, count, ls, rs, outs);
    }
    AddProgress(progress, end - start);
  }
  return ok;
}

// One level up. `src` holds m nodes of level `level - 1`; writes ceil(m/2) parents to `dst`
// (which may be `src` itself: parent j only reads children 2j and 2j+1 >= j).
bool StepLevel(int level, Node* src, size_t m, Node* dst, const Node* pad_right,
               int threads, Progress* progress) {
  size_t full = m / 2;
  bool ok = true;
  Node odd_parent;
  if (m % 2 == 1) ok &= TreeHasher::Combine(level, src[m - 1], *pad_right, &odd_parent);
  constexpr size_t kParallelMin = size_t{1} << 15;
  if (threads <= 1 || full < kParallelMin) {
    ok &= ComputeParents(level, src, dst, 0, 0, full, progress);
  } else if (dst != src) {
    std::vector<std::thread> pool;
    std::vector<char> oks(threads, 1);
    for (int t = 0; t < threads; ++t) {
      size_t a = full * t / threads, b = full * (t + 1) / threads;
      pool.emplace_back([&, t, a, b] { oks[t] = ComputeParents(level, src, dst, 0, a, b, progress); });
    }
    for (auto& th : pool) th.join();
    for (char o : oks) ok &= o != 0;
  } else {
    // In place: thread 0 writes its parents over the front of the buffer, which no other
    // thread reads; the others write to a side buffer copied back after the join.
    size_t first_end = full / threads;
    std::vector<Node> side(full - first_end);
    std::vector<std::thread> pool;
    std::vector<char> oks(threads, 1);
    for (int t = 0; t < threads; ++t) {
      size_t a = full * t / threads, b = full * (t + 1) / threads;
      if (t == 0) continue;
      pool.emplace_back([&, t, a, b] {
        oks[t] = ComputeParents(level, src, side.data(), first_end, a, b, progress);
      });
    }
    oks[0] = ComputeParents(level, src, dst, 0, 0, first_end, progress);
    for (auto& th : pool) th.join();
    for (char o : oks) ok &= o != 0;
    std::memcpy(static_cast<void*>(dst + first_end), side.data(), side.size() * sizeof(Node));
  }
  if (m % 2 == 1) dst[full] = odd_parent;
  return ok;
}

absl::Status OverflowError(int level) {
  return absl::InvalidArgumentError(
      base::Cat("tree: node sum at level ", level, " overflows 2^128-1 (the tree is invalid)"));
}

}  // namespace

TreeHasher::TreeHasher(const Hash32& snapshot_id, std::string_view asset_id)
    : leaf_(LeafTag().Prefixed(TreePrefix(snapshot_id, asset_id))),
      pad_(PadTag().Prefixed(TreePrefix(snapshot_id, asset_id))) {}

void TreeHasher::EncodeLeaf(const uint8_t client_ref[32], uint16_t part_index, uint16_t part_count,
                            const uint8_t salt[32], base::Amount amount, uint8_t m[kLeafMessageBytes]) {
  std::memcpy(m, client_ref, 32);
  PutU16(m + 32, part_index);
  PutU16(m + 34, part_count);
  std::memcpy(m + 36, salt, 32);
  PutAmount(m + 68, amount);
}

void TreeHasher::Leaf(const uint8_t client_ref[32], uint16_t part_index, uint16_t part_count,
                      const uint8_t salt[32], base::Amount amount, uint8_t out[32]) const {
  uint8_t m[kLeafMessageBytes];
  EncodeLeaf(client_ref, part_index, part_count, salt, amount, m);
  leaf_.HashInto(m, sizeof(m), out);
}

void TreeHasher::LeafBatch(size_t count, const uint8_t* const msgs[], uint8_t* const outs[]) const {
  leaf_.HashBatch(count, msgs, kLeafMessageBytes, outs);
}

namespace {
void EncodeNode(int level, const Node& l, const Node& r, uint8_t m[97]) {
  m[0] = static_cast<uint8_t>(level);
  std::memcpy(m + 1, l.hash, 32);
  PutAmount(m + 33, l.sum);
  std::memcpy(m + 49, r.hash, 32);
  PutAmount(m + 81, r.sum);
}
}  // namespace

bool TreeHasher::CombineBatch(int level, size_t count, const Node* const ls[], const Node* const rs[],
                              Node* const outs[]) {
  uint8_t msgs[kBatchLanes][97];
  const uint8_t* ptrs[kBatchLanes];
  uint8_t hashes[kBatchLanes][32];
  uint8_t* hash_ptrs[kBatchLanes];
  std::optional<base::Amount> sums[kBatchLanes];
  bool ok = true;
  for (size_t k = 0; k < count; ++k) {
    EncodeNode(level, *ls[k], *rs[k], msgs[k]);
    sums[k] = ls[k]->sum.CheckedAdd(rs[k]->sum);
    ok &= sums[k].has_value();
    ptrs[k] = msgs[k];
    hash_ptrs[k] = hashes[k];
  }
  NodeTag().HashBatch(count, ptrs, 97, hash_ptrs);
  for (size_t k = 0; k < count; ++k) {
    std::memcpy(outs[k]->hash, hashes[k], 32);
    // An overflowing level makes the whole tree invalid (the caller reports it); the node
    // keeps the largest amount only so that it holds a value.
    outs[k]->sum = sums[k].value_or(base::Amount::Max());
  }
  return ok;
}

void TreeHasher::Pad(uint64_t i, uint8_t out[32]) const {
  uint8_t m[8];
  PutU64(m, i);
  pad_.HashInto(m, sizeof(m), out);
}

bool TreeHasher::Combine(int level, const Node& l, const Node& r, Node* out) {
  uint8_t m[97];
  EncodeNode(level, l, r, m);
  const std::optional<base::Amount> sum = l.sum.CheckedAdd(r.sum);
  NodeTag().HashInto(m, sizeof(m), out->hash);
  out->sum = sum.value_or(base::Amount::Max());
  return sum.has_value();
}

Node TreeHasher::PadRoot(int level, uint64_t j, int threads) const {
  if (level <= 4) {
    // The 2^level padding leaves at once, then fold them.
    size_t count = size_t{1} << level;
    uint8_t msgs[kBatchLanes][8];
    const uint8_t* ptrs[kBatchLanes];
    Node nodes[kBatchLanes];
    uint8_t* outs[kBatchLanes];
    for (size_t k = 0; k < count; ++k) {
      PutU64(msgs[k], (j << level) + k);
      ptrs[k] = msgs[k];
      outs[k] = nodes[k].hash;
      nodes[k].sum = base::Amount::Zero();
    }
    pad_.HashBatch(count, ptrs, 8, outs);
    for (int l = 1; l <= level; ++l) {
      for (size_t k = 0; k < (count >> l); ++k) Combine(l, nodes[2 * k], nodes[2 * k + 1], &nodes[k]);
    }
    return nodes[0];
  }
  Node l, r, out;
  if (threads > 1 && level >= 14) {
    std::thread t([&] { r = PadRoot(level - 1, 2 * j + 1, threads / 2); });
    l = PadRoot(level - 1, 2 * j, threads - threads / 2);
    t.join();
  } else {
    l = PadRoot(level - 1, 2 * j, 1);
    r = PadRoot(level - 1, 2 * j + 1, 1);
  }
  Combine(level, l, r, &out);  // padding sums are zero, no overflow
  return out;
}

int MinDepth(uint64_t n) {
  int d = 1;
  while (d < 64 && (uint64_t{1} << d) < n) ++d;
  return d;
}

absl::StatusOr<Node> BuildTree(const TreeHasher& hasher, std::vector<Node>& leaves, int depth,
                               const BuildOptions& options) {
  size_t m = leaves.size();
  if (options.paths != nullptr) options.paths->assign(options.track ? options.track->size() : 0, {});
  for (int level = 0; level < depth; ++level) {
    Node pad_right{};
    if (m % 2 == 1) pad_right = hasher.PadRoot(level, m, options.threads);
    if (options.track != nullptr && options.paths != nullptr) {
      for (size_t k = 0; k < options.track->size(); ++k) {
        uint64_t sibling = ((*options.track)[k] >> level) ^ 1;
        (*options.paths)[k].push_back(sibling < m ? leaves[sibling] : pad_right);
      }
    }
    if (!StepLevel(level + 1, leaves.data(), m, leaves.data(), &pad_right, options.threads,
                   options.progress)) {
      return OverflowError(level + 1);
    }
    m = (m + 1) / 2;
  }
  return leaves[0];
}

absl::StatusOr<TreeLevels> BuildTreeLevels(const TreeHasher& hasher, std::vector<Node> leaves, int depth,
                                           int threads) {
  TreeLevels out;
  out.nodes.push_back(std::move(leaves));
  for (int level = 0; level < depth; ++level) {
    std::vector<Node>& cur = out.nodes.back();
    size_t m = cur.size();
    Node pad_right{};
    if (m % 2 == 1) pad_right = hasher.PadRoot(level, m, threads);
    out.pad.push_back(pad_right);
    std::vector<Node> next((m + 1) / 2);
    if (!StepLevel(level + 1, cur.data(), m, next.data(), &pad_right, threads, nullptr)) {
      return OverflowError(level + 1);
    }
    out.nodes.push_back(std::move(next));
  }
  out.root = out.nodes.back()[0];
  return out;
}

std::vector<Node> PathFromLevels(const TreeLevels& levels, uint64_t index) {
  std::vector<Node> path;
  for (size_t level = 0; level + 1 < levels.nodes.size(); ++level) {
    uint64_t sibling = (index >> level) ^ 1;
    const auto& nodes = levels.nodes[level];
    path.push_back(sibling < nodes.size() ? nodes[sibling] : levels.pad[level]);
  }
  return path;
}

std::optional<std::pair<uint64_t, uint64_t>> FindDuplicateLeaf(const std::vector<Node>& leaves, int threads) {
  size_t n = leaves.size();
  std::vector<uint64_t> keys(n);
  for (size_t i = 0; i < n; ++i) std::memcpy(&keys[i], leaves[i].hash, 8);
  if (threads > 1 && n > (size_t{1} << 16)) {
    size_t mid = n / 2;
    std::thread t([&] { std::sort(keys.begin() + mid, keys.end()); });
    std::sort(keys.begin(), keys.begin() + mid);
    t.join();
    std::inplace_merge(keys.begin(), keys.begin() + mid, keys.end());
  } else {
    std::sort(keys.begin(), keys.end());
  }
  std::vector<uint64_t> suspects;
  for (size_t i = 1; i < n; ++i) {
    if (keys[i] == keys[i - 1] && (suspects.empty() || suspects.back() != keys[i])) suspects.push_back(keys[i]);
  }
  keys.clear();
  keys.shrink_to_fit();
  if (suspects.empty()) return std::nullopt;
  // Equal 64-bit prefixes are rare; compare those leaves in full.
  std::vector<std::pair<Hash32, uint64_t>> candidates;
  for (size_t i = 0; i < n; ++i) {
    uint64_t k;
    std::memcpy(&k, leaves[i].hash, 8);
    if (std::binary_search(suspects.begin(), suspects.end(), k)) {
      Hash32 h;
      std::memcpy(h.data(), leaves[i].hash, 32);
      candidates.emplace_back(h, i);
    }
  }
  std::sort(candidates.begin(), candidates.end());
  for (size_t i = 1; i < candidates.size(); ++i) {
    if (candidates[i].first == candidates[i - 1].first) {
      return std::make_pair(candidates[i - 1].second, candidates[i].second);
    }
  }
  return std::nullopt;
}

std::optional<Node> FoldPath(const Node& leaf, uint64_t index, const std::vector<Node>& path) {
  Node cur = leaf;
  for (size_t i = 0; i < path.size(); ++i) {
    int level = static_cast<int>(i) + 1;
    Node next;
    bool right = ((index >> i) & 1) != 0;
    bool ok = right ? TreeHasher::Combine(level, path[i], cur, &next) : TreeHasher::Combine(level, cur, path[i], &next);
    if (!ok) return std::nullopt;
    cur = next;
  }
  return cur;
}

std::vector<uint8_t> TreeFileHeader(const Hash32& snapshot_id, std::string_view asset_id, int depth, uint64_t n) {
  ByteWriter w;
  w.Bytes(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kTreeMagic), 8));
  w.Bytes(snapshot_id).Str(asset_id).U8(static_cast<uint8_t>(depth)).U64(n);
  return w.data();
}

namespace {

// Reads and checks a .tree file's header into `out` (everything but the leaves). Returns the
// header's length.
absl::StatusOr<uint64_t> ReadTreeHeader(int fd, const std::string& path, uint64_t size, uint64_t max_n,
                                        TreeFile* out) {
  auto bad = [&](std::string_view why) { return absl::InvalidArgumentError(base::Cat(path, ": ", why)); };
  uint8_t head[8 + 32 + 2];
  if (size < sizeof(head) || !PReadAll(fd, head, sizeof(head), 0)) return bad("shorter than the tree header");
  if (std::memcmp(head, kTreeMagic, 8) != 0) return bad("does not start with \"CPOR1TRE\"");
  std::memcpy(out->snapshot_id.data(), head + 8, 32);
  const uint16_t id_len = GetU16(head + 40);
  if (id_len < 1 || id_len > 64 || size < sizeof(head) + id_len + 9) return bad("asset id length out of range");
  uint8_t rest[64 + 9];
  if (!PReadAll(fd, rest, id_len + 9u, sizeof(head))) return bad("truncated header");
  out->asset_id.assign(reinterpret_cast<const char*>(rest), id_len);
  if (!IsValidId(out->asset_id)) return bad("asset id is not [A-Za-z0-9._:-]{1,64}");
  out->depth = rest[id_len];
  out->n = GetU64(rest + id_len + 1);
  if (out->depth < 1 || out->depth > kMaxDepth) return bad("depth outside 1..48");
  if (out->n < 1 || out->n > (uint64_t{1} << out->depth)) return bad("n outside 1..2^D");
  if (out->n > max_n) return bad(base::Cat("n = ", out->n, " differs from the manifest"));
  const uint64_t header_len = sizeof(head) + id_len + 9;
  if ((size - header_len) % 48 != 0 || (size - header_len) / 48 != out->n) {
    return bad(base::Cat("length ", size, " is not the header plus n = ", out->n, " records of 48 bytes"));
  }
  return header_len;
}

}  // namespace

absl::StatusOr<TreeFile> ReadTreeFile(const std::string& path, uint64_t max_n, Progress* progress) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return errno == ENOENT ? absl::NotFoundError(base::Cat(path, ": missing")) : ErrnoError(path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoError(path);
  TreeFile out;
  RF_ASSIGN_OR_RETURN(const uint64_t header_len,
                      ReadTreeHeader(fd.get(), path, static_cast<uint64_t>(st.st_size), max_n, &out));
  out.leaves.resize(out.n);
  constexpr size_t kBatch = size_t{1} << 16;
  std::vector<uint8_t> buf(kBatch * 48);
  for (uint64_t i = 0; i < out.n; i += kBatch) {
    const size_t count = static_cast<size_t>(std::min<uint64_t>(kBatch, out.n - i));
    if (!PReadAll(fd.get(), buf.data(), count * 48, header_len + i * 48)) {
      return absl::UnavailableError(base::Cat(path, ": read failed"));
    }
    for (size_t k = 0; k < count; ++k) {
      Node& node = out.leaves[i + k];
      std::memcpy(node.hash, buf.data() + k * 48, 32);
      node.sum = GetAmount(buf.data() + k * 48 + 32);
    }
    AddProgress(progress, count);
  }
  return out;
}

}  // namespace ringfence::reserves

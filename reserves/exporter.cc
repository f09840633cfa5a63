#include "reserves/exporter.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <numeric>
#include <set>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "base/hex.h"
#include "base/secret.h"
#include "base/status.h"
#include "base/text.h"
#include "reserves/file_io.h"
#include "reserves/liabilities_csv.h"
#include "reserves/ownership.h"
#include "reserves/private_file.h"
#include "reserves/sha256_batch.h"
#include "reserves/tree.h"

namespace ringfence::reserves {

namespace {

namespace fs = std::filesystem;

using ReservesByAsset = std::map<std::string, std::vector<ReserveEntry>>;

// Leaves are hashed and written in blocks of this many, each block with fresh randomness.
constexpr size_t kLeafBlock = 4096;
constexpr size_t kTreeRecord = 48;

// A CSPRNG stream: ChaCha20 output under fresh 32-byte seeds from the operating system.
class RandomStream {
 public:
  RandomStream() : buf_(kSize) { Refill(); }
  ~RandomStream() { base::Wipe(buf_.data(), buf_.size()); }
  uint64_t Next() {
    if (pos_ + 8 > buf_.size()) Refill();
    uint64_t v;
    std::memcpy(&v, buf_.data() + pos_, 8);
    pos_ += 8;
    return v;
  }
  // Uniform in [0, bound) (Lemire's method, rejection keeps it unbiased). REQUIRES: bound > 0.
  uint64_t Below(uint64_t bound) {
    base::Uint128 m = static_cast<base::Uint128>(Next()) * bound;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < bound) {
      uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        m = static_cast<base::Uint128>(Next()) * bound;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

 private:
  static constexpr size_t kSize = size_t{1} << 16;
  void Refill() {
    uint8_t seed[randombytes_SEEDBYTES];
    randombytes_buf(seed, sizeof(seed));
    randombytes_buf_deterministic(buf_.data(), buf_.size(), seed);
    base::Wipe(seed, sizeof(seed));
    pos_ = 0;
  }
  std::vector<uint8_t> buf_;
  size_t pos_ = 0;
};

// Fills `out` with `len` bytes of CSPRNG output: a fresh seed from the operating system
// expanded with ChaCha20.
void FillRandom(uint8_t* out, size_t len) {
  uint8_t seed[randombytes_SEEDBYTES];
  randombytes_buf(seed, sizeof(seed));
  randombytes_buf_deterministic(out, len, seed);
  base::Wipe(seed, sizeof(seed));
}

// The amount of part `p` of `parts` of a liability: random cut points from a keyed stream, so
// every part can be recomputed independently by whichever thread meets it first.
base::Amount PartAmount(base::Amount amount, int parts, int p, const uint8_t* key, uint64_t nonce) {
  if (parts == 1) return amount;
  uint8_t stream[16 * (kMaxParts - 1)];
  uint8_t n8[crypto_stream_chacha20_NONCEBYTES];
  std::memcpy(n8, &nonce, sizeof(n8));
  crypto_stream_chacha20(stream, 16 * (parts - 1), n8, key);
  // Cut points are positions in [0, amount], not sums of money: the arithmetic below stays
  // within that range (each part is the difference of two sorted cut points).
  const base::Uint128 whole = amount.base_units();
  base::Uint128 cuts[kMaxParts + 1];
  cuts[0] = 0;
  for (int k = 0; k < parts - 1; ++k) {
    base::Uint128 r;
    std::memcpy(&r, stream + 16 * k, sizeof(r));
    cuts[k + 1] = amount == base::Amount::Max() ? r : r % (whole + 1);
  }
  std::sort(cuts + 1, cuts + parts);
  cuts[parts] = whole;
  base::Wipe(stream, sizeof(stream));
  return base::Amount(cuts[p + 1] - cuts[p]);
}

// ---- Options.

// The options resolved for one export: where the package and the private file go, the
// snapshot time and how many threads work.
struct ExportPlan {
  fs::path out_dir;
  fs::path private_path;
  uint64_t snapshot_time = 0;
  int threads = 1;
};

absl::Status CheckOptionValues(const ExportOptions& o) {
  if (!IsValidId(o.custodian_id)) {
    return absl::InvalidArgumentError("--custodian-id must be 1 to 64 characters of [A-Za-z0-9._:-]");
  }
  if (o.parts < 1 || o.parts > kMaxParts) return absl::InvalidArgumentError("--parts must be 1..16");
  if (o.depth && (*o.depth < 1 || *o.depth > kMaxDepth)) return absl::InvalidArgumentError("--depth must be 1..48");
  for (const auto& [asset, d] : o.decimals) {
    if (!IsValidId(asset)) return absl::InvalidArgumentError(base::Cat("--decimals: bad asset id ", base::Clip(asset)));
    if (d < 0 || d > 255) return absl::InvalidArgumentError(base::Cat("--decimals ", asset, ": must be 0..255"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ExportPlan> PlanExport(const ExportOptions& o) {
  RF_RETURN_IF_ERROR(CheckOptionValues(o));
  ExportPlan plan;
  plan.snapshot_time = o.time ? *o.time : static_cast<uint64_t>(std::time(nullptr));
  if (plan.snapshot_time > kMaxJsonInteger) return absl::InvalidArgumentError("--time must be at most 2^53");
  plan.threads = std::max(1, o.threads);
  plan.out_dir = fs::absolute(o.out_dir).lexically_normal();
  if (plan.out_dir.filename().empty()) plan.out_dir = plan.out_dir.parent_path();
  plan.private_path = o.private_path.empty() ? fs::path(plan.out_dir.string() + ".private")
                                             : fs::absolute(o.private_path).lexically_normal();
  const fs::path rel = plan.private_path.lexically_relative(plan.out_dir);
  if (!rel.empty() && *rel.begin() != "..") {
    return absl::InvalidArgumentError("--private must be outside the package directory");
  }
  std::error_code ec;
  for (const fs::path& target : {plan.out_dir, plan.private_path}) {
    if (fs::exists(target, ec)) return absl::AlreadyExistsError(base::Cat(target.string(), ": already exists"));
  }
  return plan;
}

// ---- Inputs.

// The custodian's 32-byte Ed25519 seed, written as 64 hex digits (either case, an optional
// line end), into guarded memory. The file's text is wiped once read.
absl::StatusOr<base::SecretBytes> ReadSeed(const std::string& path) {
  RF_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, 4096));
  std::string_view hex = text;
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r')) hex.remove_suffix(1);
  base::SecretBytes seed(crypto_sign_SEEDBYTES);
  const bool ok = base::HexDecodeInto(hex, seed.span(), "seed").ok();
  base::Wipe(text.data(), text.size());
  if (!ok) {
    return absl::InvalidArgumentError(base::Cat(path, ": must hold the 32-byte Ed25519 seed as 64 hex characters"));
  }
  return seed;
}

// The reserves input: per asset, entries whose ownership proofs verify for this snapshot and
// challenge, sorted as the package lists them, no address counted twice.
absl::StatusOr<ReservesByAsset> ReadReservesInput(const ExportOptions& o) {
  RF_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(o.reserves_path, size_t{256} << 20));
  RF_ASSIGN_OR_RETURN(Json j, ParseStrictJson(text, o.reserves_path));
  if (!j.is_object()) {
    return absl::InvalidArgumentError(base::Cat(o.reserves_path, ": must be an object of asset id -> entries"));
  }
  ReservesByAsset out;
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& asset = it.key();
    if (!IsValidId(asset)) {
      return absl::InvalidArgumentError(
          base::Cat(o.reserves_path, ": asset id ", base::Clip(asset), " is not [A-Za-z0-9._:-]{1,64}"));
    }
    if (!it.value().is_array()) {
      return absl::InvalidArgumentError(base::Cat(o.reserves_path, ".", asset, ": must be an array"));
    }
    std::vector<ReserveEntry> entries;
    for (size_t i = 0; i < it.value().size(); ++i) {
      std::string where = base::Cat(o.reserves_path, ".", asset, "[", i, "]");
      RF_ASSIGN_OR_RETURN(ReserveEntry e, ParseReserveEntry(it.value()[i], where));
      std::string expected = OwnershipMessage(o.custodian_id, o.snapshot_id, o.challenge, e.chain, e.address);
      absl::Status st = VerifyOwnership(e, expected);
      if (!st.ok()) return absl::InvalidArgumentError(base::Cat(where, ": ", st.message()));
      if (!seen.emplace(e.chain, e.token, e.address).second) {
        return absl::InvalidArgumentError(base::Cat(where, ": (", base::Clip(e.chain), ", ", base::Clip(e.token), ", ",
                                                    base::Clip(e.address), ") is listed twice (an address is counted once)"));
      }
      entries.push_back(std::move(e));
    }
    std::sort(entries.begin(), entries.end(), EntryLess);
    if (entries.size() > 0xFFFFFFFFu) return absl::InvalidArgumentError("too many reserve entries");
    out[asset] = std::move(entries);
  }
  return out;
}

absl::StatusOr<Liabilities> ReadLiabilities(const ExportOptions& o, int threads) {
  CsvOptions csv;
  csv.keep_ids = o.inclusion_files;
  csv.threads = threads;
  std::error_code size_ec;
  const auto csv_size = fs::file_size(o.liabilities_path, size_ec);
  Progress progress("reading liabilities", size_ec ? 0 : csv_size);
  csv.progress = &progress;
  return ReadLiabilitiesCsv(o.liabilities_path, csv);
}

// Every asset with liabilities needs decimals and reserves, and neither may name an asset
// without liabilities.
absl::Status CheckAssetsAgree(const Liabilities& liabilities, const ReservesByAsset& reserves,
                              const std::map<std::string, int>& decimals) {
  std::set<std::string> assets;
  for (const AssetRows& a : liabilities.assets) {
    assets.insert(a.asset_id);
    if (!decimals.count(a.asset_id)) {
      return absl::InvalidArgumentError(base::Cat("asset ", a.asset_id, " is in the liabilities but has no --decimals"));
    }
    auto r = reserves.find(a.asset_id);
    if (r == reserves.end() || (r->second.empty() && !a.total.is_zero())) {
      return absl::InvalidArgumentError(base::Cat("asset ", a.asset_id, " has liabilities but no reserve entries"));
    }
  }
  for (const auto& [asset, d] : decimals) {
    if (!assets.count(asset)) {
      return absl::InvalidArgumentError(base::Cat("--decimals ", asset, ": asset has no liabilities"));
    }
  }
  for (const auto& [asset, e] : reserves) {
    if (!assets.count(asset)) {
      return absl::InvalidArgumentError(base::Cat("reserves for asset ", asset, " which has no liabilities"));
    }
  }
  return absl::OkStatus();
}

// ---- Where the package is written.

// "<dir>/.<name>.tmp-XXXXXX" beside `target`, for mkdtemp/mkstemp. (base::Cat, not operator+:
// GCC 12 at -O3 reports a false -Wrestrict inside "." + std::string.)
std::string TemporaryTemplate(const fs::path& target) {
  return (target.parent_path() / base::Cat(".", target.filename().string(), ".tmp-XXXXXX")).string();
}

// The package directory and the private file under temporary names beside their targets.
// Everything is removed on destruction unless Commit() renamed both into place.
class Staging {
 public:
  explicit Staging(const ExportPlan& plan) : out_dir_(plan.out_dir), private_path_(plan.private_path) {}
  ~Staging() {
    if (committed_) return;
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
    if (!private_tmp_.empty()) fs::remove(private_tmp_, ec);
  }
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;

  // Creates the directory (with reserves/, liabilities/ and, when asked, inclusion/) and the
  // private file (mode 0600).
  absl::Status Open(bool inclusion_files) {
    std::string tmpl = TemporaryTemplate(out_dir_);
    if (mkdtemp(tmpl.data()) == nullptr) return ErrnoError(tmpl);
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);
    for (const char* sub : {"reserves", "liabilities"}) {
      if (mkdir((dir_ / sub).c_str(), 0755) != 0) return ErrnoError((dir_ / sub).string());
    }
    if (inclusion_files && mkdir((dir_ / "inclusion").c_str(), 0700) != 0) return ErrnoError("inclusion");
    std::string ptmpl = TemporaryTemplate(private_path_);
    private_fd_ = Fd(mkstemp(ptmpl.data()));
    if (!private_fd_.ok()) return ErrnoError(ptmpl);
    private_tmp_ = ptmpl;
    fchmod(private_fd_.get(), 0600);
    return absl::OkStatus();
  }

  const fs::path& dir() const { return dir_; }
  int private_fd() const { return private_fd_.get(); }
  std::string private_name() const { return private_tmp_.string(); }

  // Writes the manifest digest into the private file's header, syncs it and renames the
  // directory and the private file into place (neither may exist by then).
  absl::Status Commit(const Hash32& manifest_digest) {
    if (!PWriteAll(private_fd_.get(), manifest_digest.data(), 32, kPrivateDigestOffset) ||
        fdatasync(private_fd_.get()) != 0) {
      return ErrnoError(private_tmp_.string());
    }
    if (renameat2(AT_FDCWD, dir_.c_str(), AT_FDCWD, out_dir_.c_str(), RENAME_NOREPLACE) != 0) {
      return ErrnoError(out_dir_.string());
    }
    if (renameat2(AT_FDCWD, private_tmp_.c_str(), AT_FDCWD, private_path_.c_str(), RENAME_NOREPLACE) != 0) {
      absl::Status st = ErrnoError(private_path_.string());
      std::error_code ec;
      fs::remove_all(out_dir_, ec);
      return st;
    }
    committed_ = true;
    return absl::OkStatus();
  }

 private:
  fs::path out_dir_;
  fs::path private_path_;
  fs::path dir_;
  fs::path private_tmp_;
  Fd private_fd_;
  bool committed_ = false;
};

// The private file's header with a zero manifest digest (Commit fills it in). Returns the
// offset of the first asset's section.
absl::StatusOr<uint64_t> WritePrivateHeader(const Staging& staging, const ExportOptions& o, size_t n_assets) {
  ByteWriter ph;
  ph.Bytes(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kPrivateMagic), 8));
  ph.Bytes(Hash32{}).Bytes(o.snapshot_id).Str(o.custodian_id).U32(static_cast<uint32_t>(n_assets));
  if (!PWriteAll(staging.private_fd(), ph.data().data(), ph.data().size(), 0)) {
    return ErrnoError(staging.private_name());
  }
  return ph.data().size();
}

// ---- One asset's tree.

// What --inclusion-files needs of one asset after its tree is built. The salts are wiped
// when it goes.
struct AssetProofState {
  TreeLevels levels;
  std::vector<uint32_t> pos_of;  // source leaf (row * parts + part) -> index
  std::vector<Hash32> salts;     // by index

  AssetProofState() = default;
  AssetProofState(AssetProofState&&) = default;
  AssetProofState& operator=(AssetProofState&&) = default;
  ~AssetProofState() { base::Wipe(salts.data(), salts.size() * sizeof(Hash32)); }
};

absl::StatusOr<int> ChooseDepth(const std::string& asset, uint64_t n, std::optional<int> requested) {
  if (n > 0xFFFFFFFFull) return absl::InvalidArgumentError(base::Cat("asset ", asset, ": more than 2^32-1 leaves"));
  const int depth = MinDepth(n);
  if (!requested) return depth;
  if (*requested < depth) {
    return absl::InvalidArgumentError(base::Cat("--depth ", *requested, " is too small for the ", n,
                                                " leaves of asset ", asset, " (needs ", depth, ")"));
  }
  return *requested;
}

// Index order: a CSPRNG Fisher-Yates shuffle of the n source leaves (real parts, then decoys).
std::vector<uint32_t> ShuffledOrder(uint64_t n) {
  std::vector<uint32_t> perm;
  perm.reserve(n);
  AdviseHugePages(perm.data(), n * sizeof(uint32_t));  // the shuffle swaps at random
  perm.resize(n);
  std::iota(perm.begin(), perm.end(), 0u);
  RandomStream rng;
  for (uint64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.Below(i + 1)]);
  return perm;
}

// Where each real leaf landed, and room for every index's salt.
void KeepPositions(const std::vector<uint32_t>& perm, uint64_t real, AssetProofState* state) {
  state->pos_of.assign(real, 0);
  for (uint64_t pos = 0; pos < perm.size(); ++pos) {
    if (perm[pos] < real) state->pos_of[perm[pos]] = static_cast<uint32_t>(pos);
  }
  state->salts.resize(perm.size());
}

// One asset's leaf hashing: what every worker thread reads, and where each writes (its own
// index range of `leaves` and `salts`, and the matching records of both files).
struct LeafJob {
  const AssetRows& rows;
  const std::vector<uint32_t>& perm;  // index -> source leaf
  uint64_t parts = 1;
  uint64_t real = 0;  // rows * parts; sources at or above it are decoys
  uint64_t nonce_base = 0;
  const uint8_t* split_key = nullptr;
  const TreeHasher& hasher;
  Node* leaves = nullptr;
  Hash32* salts = nullptr;  // only with --inclusion-files
  int tree_fd = -1;
  uint64_t tree_offset = 0;  // of leaf 0's record
  int private_fd = -1;
  uint64_t private_offset = 0;  // of leaf 0's record
};

// Leaf `pos`: its source (a part of a row, or a decoy), its amount, its message after the tree
// prefix and its private record. `random` is 64 fresh bytes: the salt, then a decoy's
// client_ref.
void EncodeLeafAt(const LeafJob& job, uint64_t pos, const uint8_t* random, uint8_t msg[TreeHasher::kLeafMessageBytes],
                  uint8_t record[kPrivateRecord]) {
  const uint64_t src = job.perm[pos];
  const uint8_t* salt = random;
  const uint8_t* ref = random + 32;
  uint16_t part_index = 0, part_count = 1;
  base::Amount amount;
  if (src < job.real) {
    const LiabilityRow& row = job.rows[src / job.parts];
    ref = row.client_ref;
    part_index = static_cast<uint16_t>(src % job.parts);
    part_count = static_cast<uint16_t>(job.parts);
    amount = PartAmount(row.amount, part_count, part_index, job.split_key, job.nonce_base | (src / job.parts));
  }
  TreeHasher::EncodeLeaf(ref, part_index, part_count, salt, amount, msg);
  job.leaves[pos].sum = amount;
  std::memcpy(record, ref, 32);
  std::memcpy(record + 32, salt, 32);
  PutU16(record + 64, part_index);
  PutU16(record + 66, part_count);
  if (job.salts != nullptr) std::memcpy(job.salts[pos].data(), salt, 32);
}

// The rows are read in shuffled order: fetch the rows of the batch after next early.
void PrefetchRows(const LeafJob& job, uint64_t from, uint64_t end) {
  for (size_t q = 0; q < kBatchLanes; ++q) {
    const uint64_t ahead = from + q;
    if (ahead < end && job.perm[ahead] < job.real) __builtin_prefetch(&job.rows[job.perm[ahead] / job.parts]);
  }
}

// The `count` leaves from index `first`, kBatchLanes at a time side by side, into the block's
// tree records and private records. `range_end` bounds the prefetch to this thread's range.
void HashLeafBlock(const LeafJob& job, uint64_t first, size_t count, uint64_t range_end, const uint8_t* random,
                   uint8_t* tree_records, uint8_t* private_records) {
  uint8_t msgs[kBatchLanes][TreeHasher::kLeafMessageBytes];
  const uint8_t* msg_ptrs[kBatchLanes];
  uint8_t* out_ptrs[kBatchLanes];
  for (size_t k0 = 0; k0 < count; k0 += kBatchLanes) {
    const size_t lanes = std::min(kBatchLanes, count - k0);
    PrefetchRows(job, first + k0 + 2 * kBatchLanes, range_end);
    for (size_t q = 0; q < lanes; ++q) {
      const size_t k = k0 + q;
      EncodeLeafAt(job, first + k, random + 64 * k, msgs[q], private_records + kPrivateRecord * k);
      msg_ptrs[q] = msgs[q];
      out_ptrs[q] = job.leaves[first + k].hash;
    }
    job.hasher.LeafBatch(lanes, msg_ptrs, out_ptrs);
    for (size_t q = 0; q < lanes; ++q) {
      EncodeTreeRecord(job.leaves[first + k0 + q], tree_records + kTreeRecord * (k0 + q));
    }
  }
  base::Wipe(msgs, sizeof(msgs));
}

// The leaves at indices [begin, end), block by block: fresh randomness, the hashes, then the
// block's records written at their offsets in both files. Returns 0, or the errno of the first
// failed write (the range stops there).
int HashLeafRange(const LeafJob& job, uint64_t begin, uint64_t end, Progress* progress) {
  std::vector<uint8_t> tree_buf(kLeafBlock * kTreeRecord), priv_buf(kLeafBlock * kPrivateRecord),
      random(kLeafBlock * 64);
  int error = 0;
  for (uint64_t first = begin; first < end && error == 0; first += kLeafBlock) {
    const size_t count = static_cast<size_t>(std::min<uint64_t>(kLeafBlock, end - first));
    FillRandom(random.data(), count * 64);
    HashLeafBlock(job, first, count, end, random.data(), tree_buf.data(), priv_buf.data());
    if (!PWriteAll(job.tree_fd, tree_buf.data(), count * kTreeRecord, job.tree_offset + first * kTreeRecord) ||
        !PWriteAll(job.private_fd, priv_buf.data(), count * kPrivateRecord,
                   job.private_offset + first * kPrivateRecord)) {
      error = errno != 0 ? errno : EIO;
    }
    AddProgress(progress, count);
  }
  base::Wipe(random.data(), random.size());
  base::Wipe(priv_buf.data(), priv_buf.size());
  return error;
}

// Every leaf of the job, its index range split evenly over `threads` threads.
absl::Status HashLeaves(const LeafJob& job, uint64_t n, int threads) {
  Progress progress(base::Cat("hashing leaves ", job.rows.asset_id), n);
  std::vector<int> errors(threads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    const uint64_t a = n * t / threads, b = n * (t + 1) / threads;
    pool.emplace_back([&, t, a, b] { errors[t] = HashLeafRange(job, a, b, &progress); });
  }
  for (auto& th : pool) th.join();
  for (int error : errors) {
    if (error != 0) {
      return absl::UnavailableError(base::Cat("writing the leaves of ", job.rows.asset_id, ": ", std::strerror(error)));
    }
  }
  return absl::OkStatus();
}

// The tree header of the asset's .tree file and the asset's section header in the private
// file. Returns the tree file's offset of the first leaf record; advances `private_off` to the
// private file's.
absl::StatusOr<uint64_t> WriteAssetHeaders(int tree_fd, int private_fd, const Hash32& snapshot_id,
                                           const std::string& asset, int depth, uint64_t n, uint64_t* private_off) {
  const std::vector<uint8_t> tree_header = TreeFileHeader(snapshot_id, asset, depth, n);
  ByteWriter section;
  section.Str(asset).U64(n);
  if (!PWriteAll(tree_fd, tree_header.data(), tree_header.size(), 0) ||
      !PWriteAll(private_fd, section.data().data(), section.data().size(), *private_off)) {
    return ErrnoError("writing headers");
  }
  *private_off += section.data().size();
  return tree_header.size();
}

// The root over the hashed leaves. With `proof_state` every level is kept for the inclusion
// files; otherwise the levels are folded in place.
absl::StatusOr<Node> BuildRoot(const TreeHasher& hasher, std::vector<Node> leaves, int depth, int threads,
                               const std::string& asset, AssetProofState* proof_state) {
  if (proof_state != nullptr) {
    RF_ASSIGN_OR_RETURN(proof_state->levels, BuildTreeLevels(hasher, std::move(leaves), depth, threads));
    return proof_state->levels.root;
  }
  Progress progress(base::Cat("building tree ", asset), leaves.size());
  BuildOptions bo;
  bo.threads = threads;
  bo.progress = &progress;
  return BuildTree(hasher, leaves, depth, bo);
}

absl::StatusOr<base::Amount> ReservesTotal(const std::string& asset, const std::vector<ReserveEntry>& entries) {
  base::Amount total;
  for (const ReserveEntry& e : entries) {
    auto sum = total.CheckedAdd(e.balance);
    if (!sum) return absl::InvalidArgumentError(base::Cat("reserves of asset ", asset, " add up to more than 2^128-1"));
    total = *sum;
  }
  return total;
}

// What every asset of one export shares.
struct ExportContext {
  const ExportOptions& options;
  const ExportPlan& plan;
  const Staging& staging;
  const uint8_t* split_key;
  uint64_t private_off;  // where the next asset's section of the private file starts
};

// One asset: the shuffled, salted leaves hashed into its .tree file and the private file, the
// tree built to its root, and its reserves file written. Returns its manifest entry.
absl::StatusOr<AssetCommit> ExportAsset(ExportContext& ctx, size_t asset_index, const AssetRows& rows,
                                        const std::vector<ReserveEntry>& entries, AssetProofState* proof_state) {
  const ExportOptions& o = ctx.options;
  const std::string& asset = rows.asset_id;
  const uint64_t parts = static_cast<uint64_t>(o.parts);
  const uint64_t real = rows.size() * parts;
  const uint64_t n = real + o.decoys;
  RF_ASSIGN_OR_RETURN(const int depth, ChooseDepth(asset, n, o.depth));
  std::vector<uint32_t> perm = ShuffledOrder(n);
  if (proof_state != nullptr) KeepPositions(perm, real, proof_state);

  const fs::path tree_path = ctx.staging.dir() / "liabilities" / (asset + ".tree");
  Fd tree_fd(open(tree_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!tree_fd.ok()) return ErrnoError(tree_path.string());
  RF_ASSIGN_OR_RETURN(const uint64_t tree_offset, WriteAssetHeaders(tree_fd.get(), ctx.staging.private_fd(),
                                                                    o.snapshot_id, asset, depth, n, &ctx.private_off));
  const TreeHasher hasher(o.snapshot_id, asset);
  std::vector<Node> leaves(n);
  const LeafJob job{.rows = rows,
                    .perm = perm,
                    .parts = parts,
                    .real = real,
                    .nonce_base = uint64_t{asset_index} << 40,
                    .split_key = ctx.split_key,
                    .hasher = hasher,
                    .leaves = leaves.data(),
                    .salts = proof_state != nullptr ? proof_state->salts.data() : nullptr,
                    .tree_fd = tree_fd.get(),
                    .tree_offset = tree_offset,
                    .private_fd = ctx.staging.private_fd(),
                    .private_offset = ctx.private_off};
  RF_RETURN_IF_ERROR(HashLeaves(job, n, ctx.plan.threads));
  ctx.private_off += n * kPrivateRecord;
  perm = std::vector<uint32_t>();
  // Start writing back now, while the tree is built; the fdatasync below then waits less.
  sync_file_range(tree_fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
  sync_file_range(ctx.staging.private_fd(), 0, 0, SYNC_FILE_RANGE_WRITE);
  RF_ASSIGN_OR_RETURN(const Node root, BuildRoot(hasher, std::move(leaves), depth, ctx.plan.threads, asset, proof_state));
  if (fdatasync(tree_fd.get()) != 0) return ErrnoError(tree_path.string());
  if (root.sum != rows.total) return absl::InternalError("tree root sum differs from the liabilities total");

  AssetCommit commit;
  commit.asset_id = asset;
  commit.decimals = o.decimals.at(asset);
  commit.depth = depth;
  commit.n_leaves = n;
  std::memcpy(commit.root_hash.data(), root.hash, 32);
  commit.root_sum = root.sum;
  RF_ASSIGN_OR_RETURN(commit.reserves_total, ReservesTotal(asset, entries));
  commit.reserves_digest = ReservesDigest(o.snapshot_id, asset, entries);
  RF_RETURN_IF_ERROR(
      WriteNewFile((ctx.staging.dir() / "reserves" / (asset + ".json")).string(), ReserveEntriesToJson(entries), 0644));
  return commit;
}

// ---- The manifest and the inclusion files.

// Fills the digest, the public key and the Ed25519 signature of `m` from the seed.
void SignManifest(const base::SecretBytes& seed, Manifest* m) {
  static_assert(crypto_sign_PUBLICKEYBYTES == sizeof(Hash32));
  m->manifest_digest = ComputeManifestDigest(*m);
  base::SecretBytes sk(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(m->public_key.data(), sk.data(), seed.data());
  crypto_sign_detached(m->signature.data(), nullptr, m->manifest_digest.data(), m->manifest_digest.size(), sk.data());
}

// (asset index, row) of every liability, per client account.
using RowsByClient = std::map<std::string, std::vector<std::pair<size_t, size_t>>>;

RowsByClient GroupRowsByClient(const Liabilities& liabilities) {
  RowsByClient out;
  for (size_t ai = 0; ai < liabilities.assets.size(); ++ai) {
    const AssetRows& rows = liabilities.assets[ai];
    for (size_t r = 0; r < rows.size(); ++r) out[rows.account_id(r)].emplace_back(ai, r);
  }
  return out;
}

InclusionProof ClientProof(const Manifest& m, const std::string& client,
                           const std::vector<std::pair<size_t, size_t>>& rows,
                           const std::vector<AssetProofState>& states, int parts) {
  InclusionProof proof;
  proof.custodian_id = m.custodian_id;
  proof.snapshot_id = m.snapshot_id;
  proof.manifest_digest = m.manifest_digest;
  proof.client_account_id = client;
  for (auto [ai, r] : rows) {
    const AssetCommit& c = m.assets[ai];
    const AssetProofState& ps = states[ai];
    ProofEntry e = ProofEntry::FromCommit(c);
    for (int p = 0; p < parts; ++p) {
      ProofPart part;
      part.index = ps.pos_of[r * parts + p];
      part.part_index = p;
      part.part_count = parts;
      part.salt = ps.salts[part.index];
      part.amount = ps.levels.nodes[0][part.index].sum;
      part.path = PathFromLevels(ps.levels, part.index);
      e.parts.push_back(std::move(part));
    }
    proof.entries.push_back(std::move(e));
  }
  return proof;
}

// inclusion/<client>.json for every client (mode 0600: each names its client's salts).
absl::Status WriteInclusionFiles(const Manifest& m, const Liabilities& liabilities,
                                 const std::vector<AssetProofState>& states, int parts, const fs::path& dir) {
  for (const auto& [client, rows] : GroupRowsByClient(liabilities)) {
    const InclusionProof proof = ClientProof(m, client, rows, states, parts);
    RF_RETURN_IF_ERROR(WriteNewFile((dir / "inclusion" / (client + ".json")).string(), InclusionProofToJson(proof), 0600));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Manifest> Export(const ExportOptions& o) {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  RF_ASSIGN_OR_RETURN(const ExportPlan plan, PlanExport(o));
  RF_ASSIGN_OR_RETURN(const base::SecretBytes seed, ReadSeed(o.custodian_key_path));
  RF_ASSIGN_OR_RETURN(const ReservesByAsset reserves, ReadReservesInput(o));
  RF_ASSIGN_OR_RETURN(const Liabilities liabilities, ReadLiabilities(o, plan.threads));
  RF_RETURN_IF_ERROR(CheckAssetsAgree(liabilities, reserves, o.decimals));

  Staging staging(plan);
  RF_RETURN_IF_ERROR(staging.Open(o.inclusion_files));
  RF_ASSIGN_OR_RETURN(const uint64_t private_off, WritePrivateHeader(staging, o, liabilities.assets.size()));
  base::SecretBytes split_key(crypto_stream_chacha20_KEYBYTES);
  randombytes_buf(split_key.data(), split_key.size());
  ExportContext ctx{o, plan, staging, split_key.data(), private_off};

  Manifest m;
  m.custodian_id = o.custodian_id;
  m.snapshot_id = o.snapshot_id;
  m.snapshot_time = plan.snapshot_time;
  m.auditor_challenge = o.challenge;
  std::vector<AssetProofState> proof_states(o.inclusion_files ? liabilities.assets.size() : 0);
  for (size_t ai = 0; ai < liabilities.assets.size(); ++ai) {
    const AssetRows& rows = liabilities.assets[ai];
    AssetProofState* proof_state = o.inclusion_files ? &proof_states[ai] : nullptr;
    RF_ASSIGN_OR_RETURN(AssetCommit commit, ExportAsset(ctx, ai, rows, reserves.at(rows.asset_id), proof_state));
    m.assets.push_back(std::move(commit));
  }
  SignManifest(seed, &m);
  RF_RETURN_IF_ERROR(WriteNewFile((staging.dir() / "manifest.json").string(), ManifestToJson(m), 0644));
  if (o.inclusion_files) RF_RETURN_IF_ERROR(WriteInclusionFiles(m, liabilities, proof_states, o.parts, staging.dir()));
  RF_RETURN_IF_ERROR(staging.Commit(m.manifest_digest));
  return m;
}

}  // namespace ringfence::reserves

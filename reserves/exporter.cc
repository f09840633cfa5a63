#include "reserves/exporter.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <numeric>
#include <set>
#include <thread>

#include "base/hex.h"
#include "base/secret.h"
#include "base/status.h"
#include "base/text.h"
#include "reserves/amount.h"
#include "reserves/liabilities_csv.h"
#include "reserves/ownership.h"
#include "reserves/sha256_batch.h"
#include "reserves/tree.h"

namespace ringfence::reserves {

namespace {

namespace fs = std::filesystem;


constexpr char kPrivateMagic[8] = {'C', 'P', 'O', 'R', '1', 'P', 'R', 'V'};
constexpr size_t kPrivateRecord = 32 + 32 + 2 + 2;

absl::Status Errno(std::string_view what) {
  return absl::UnavailableError(base::Cat(what, ": ", std::strerror(errno)));
}

bool PWriteAll(int fd, const void* data, size_t len, uint64_t offset) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t w = pwrite(fd, p, len, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    len -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return true;
}

bool PReadAll(int fd, void* data, size_t len, uint64_t offset) {
  char* p = static_cast<char*>(data);
  while (len > 0) {
    ssize_t r = pread(fd, p, len, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    len -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status WriteNewFile(const fs::path& path, std::string_view data, mode_t mode) {
  Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (fd.get() < 0) return Errno(path.string());
  if (!PWriteAll(fd.get(), data.data(), data.size(), 0) || fdatasync(fd.get()) != 0) return Errno(path.string());
  return absl::OkStatus();
}

// Removes what a failed export created.
class Cleanup {
 public:
  ~Cleanup() {
    if (dismissed_) return;
    std::error_code ec;
    for (const auto& p : paths_) fs::remove_all(p, ec);
  }
  void Add(fs::path p) { paths_.push_back(std::move(p)); }
  void Dismiss() { dismissed_ = true; }

 private:
  std::vector<fs::path> paths_;
  bool dismissed_ = false;
};

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

absl::StatusOr<std::map<std::string, std::vector<ReserveEntry>>> ReadReservesInput(const ExportOptions& o) {
  RF_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(o.reserves_path, size_t{256} << 20));
  RF_ASSIGN_OR_RETURN(Json j, ParseStrictJson(text, o.reserves_path));
  if (!j.is_object()) {
    return absl::InvalidArgumentError(base::Cat(o.reserves_path, ": must be an object of asset id -> entries"));
  }
  std::map<std::string, std::vector<ReserveEntry>> out;
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

// What --inclusion-files needs of one asset after its tree is built.
struct AssetProofState {
  TreeLevels levels;
  std::vector<uint32_t> pos_of;  // source leaf (row * parts + part) -> index
  std::vector<Hash32> salts;     // by index
};

}  // namespace

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return errno == ENOENT ? absl::UnavailableError(base::Cat(path, ": no such file")) : Errno(path);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Errno(path);
  if (!S_ISREG(st.st_mode)) return absl::UnavailableError(base::Cat(path, ": not a regular file"));
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return absl::InvalidArgumentError(base::Cat(path, ": larger than ", max_bytes, " bytes"));
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  if (!out.empty() && !PReadAll(fd.get(), out.data(), out.size(), 0)) return Errno(path);
  return out;
}

absl::StatusOr<Manifest> Export(const ExportOptions& o) {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  if (!IsValidId(o.custodian_id)) {
    return absl::InvalidArgumentError("--custodian-id must be 1 to 64 characters of [A-Za-z0-9._:-]");
  }
  if (o.parts < 1 || o.parts > kMaxParts) return absl::InvalidArgumentError("--parts must be 1..16");
  if (o.depth && (*o.depth < 1 || *o.depth > kMaxDepth)) return absl::InvalidArgumentError("--depth must be 1..48");
  for (const auto& [asset, d] : o.decimals) {
    if (!IsValidId(asset)) return absl::InvalidArgumentError(base::Cat("--decimals: bad asset id ", base::Clip(asset)));
    if (d < 0 || d > 255) return absl::InvalidArgumentError(base::Cat("--decimals ", asset, ": must be 0..255"));
  }
  uint64_t snapshot_time = o.time ? *o.time : static_cast<uint64_t>(std::time(nullptr));
  if (snapshot_time > kMaxJsonInteger) return absl::InvalidArgumentError("--time must be at most 2^53");
  const int threads = std::max(1, o.threads);
  fs::path out_dir = fs::absolute(o.out_dir).lexically_normal();
  if (out_dir.filename().empty()) out_dir = out_dir.parent_path();
  fs::path private_path = o.private_path.empty() ? fs::path(out_dir.string() + ".private")
                                                 : fs::absolute(o.private_path).lexically_normal();
  {
    auto rel = private_path.lexically_relative(out_dir);
    if (!rel.empty() && *rel.begin() != "..") {
      return absl::InvalidArgumentError("--private must be outside the package directory");
    }
  }
  std::error_code ec;
  if (fs::exists(out_dir, ec)) return absl::AlreadyExistsError(base::Cat(out_dir.string(), ": already exists"));
  if (fs::exists(private_path, ec)) {
    return absl::AlreadyExistsError(base::Cat(private_path.string(), ": already exists"));
  }

  RF_ASSIGN_OR_RETURN(base::SecretBytes seed, ReadSeed(o.custodian_key_path));
  RF_ASSIGN_OR_RETURN(auto reserves, ReadReservesInput(o));
  Liabilities liabilities;
  {
    CsvOptions csv;
    csv.keep_ids = o.inclusion_files;
    csv.threads = threads;
    std::error_code size_ec;
    auto csv_size = fs::file_size(o.liabilities_path, size_ec);
    Progress progress("reading liabilities", size_ec ? 0 : csv_size);
    csv.progress = &progress;
    RF_ASSIGN_OR_RETURN(liabilities, ReadLiabilitiesCsv(o.liabilities_path, csv));
  }
  // Every asset needs decimals and reserves, and nothing may name an asset without liabilities.
  std::set<std::string> assets;
  for (const AssetRows& a : liabilities.assets) {
    assets.insert(a.asset_id);
    if (!o.decimals.count(a.asset_id)) {
      return absl::InvalidArgumentError(base::Cat("asset ", a.asset_id, " is in the liabilities but has no --decimals"));
    }
    auto r = reserves.find(a.asset_id);
    if (r == reserves.end() || (r->second.empty() && !a.total.is_zero())) {
      return absl::InvalidArgumentError(base::Cat("asset ", a.asset_id, " has liabilities but no reserve entries"));
    }
  }
  for (const auto& [asset, d] : o.decimals) {
    if (!assets.count(asset)) return absl::InvalidArgumentError(base::Cat("--decimals ", asset, ": asset has no liabilities"));
  }
  for (const auto& [asset, e] : reserves) {
    if (!assets.count(asset)) {
      return absl::InvalidArgumentError(base::Cat("reserves for asset ", asset, " which has no liabilities"));
    }
  }

  Cleanup cleanup;
  fs::path parent = out_dir.parent_path();
  std::string tmpl = (parent / ("." + out_dir.filename().string() + ".tmp-XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr) return Errno(tmpl);
  fs::path tmp_dir = tmpl;
  cleanup.Add(tmp_dir);
  chmod(tmp_dir.c_str(), 0755);
  for (const char* sub : {"reserves", "liabilities"}) {
    if (mkdir((tmp_dir / sub).c_str(), 0755) != 0) return Errno((tmp_dir / sub).string());
  }
  if (o.inclusion_files && mkdir((tmp_dir / "inclusion").c_str(), 0700) != 0) return Errno("inclusion");
  std::string ptmpl = (private_path.parent_path() / ("." + private_path.filename().string() + ".tmp-XXXXXX")).string();
  Fd private_fd(mkstemp(ptmpl.data()));
  if (private_fd.get() < 0) return Errno(ptmpl);
  fs::path private_tmp = ptmpl;
  cleanup.Add(private_tmp);
  fchmod(private_fd.get(), 0600);

  Manifest m;
  m.custodian_id = o.custodian_id;
  m.snapshot_id = o.snapshot_id;
  m.snapshot_time = snapshot_time;
  m.auditor_challenge = o.challenge;

  // Private file header; the manifest digest is filled in at the end.
  ByteWriter ph;
  ph.Bytes(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kPrivateMagic), 8));
  ph.Bytes(Hash32{}).Bytes(o.snapshot_id).Str(o.custodian_id).U32(static_cast<uint32_t>(liabilities.assets.size()));
  uint64_t private_off = ph.data().size();
  if (!PWriteAll(private_fd.get(), ph.data().data(), ph.data().size(), 0)) return Errno(private_tmp.string());

  base::SecretBytes split_key_buf(crypto_stream_chacha20_KEYBYTES);
  randombytes_buf(split_key_buf.data(), split_key_buf.size());
  const uint8_t* split_key = split_key_buf.data();

  std::vector<AssetProofState> proof_states(o.inclusion_files ? liabilities.assets.size() : 0);
  for (size_t ai = 0; ai < liabilities.assets.size(); ++ai) {
    AssetRows& rows = liabilities.assets[ai];
    const std::string& asset = rows.asset_id;
    const uint64_t parts = static_cast<uint64_t>(o.parts);
    const uint64_t real = rows.size() * parts;
    const uint64_t n = real + o.decoys;
    if (n > 0xFFFFFFFFull) return absl::InvalidArgumentError(base::Cat("asset ", asset, ": more than 2^32-1 leaves"));
    int depth = MinDepth(n);
    if (o.depth) {
      if (*o.depth < depth) {
        return absl::InvalidArgumentError(base::Cat("--depth ", *o.depth, " is too small for the ", n,
                                                       " leaves of asset ", asset, " (needs ", depth, ")"));
      }
      depth = *o.depth;
    }
    // Index order: a CSPRNG Fisher-Yates shuffle of the source leaves (real parts, then decoys).
    std::vector<uint32_t> perm;
    perm.reserve(n);
    AdviseHugePages(perm.data(), n * sizeof(uint32_t));  // the shuffle swaps at random
    perm.resize(n);
    std::iota(perm.begin(), perm.end(), 0u);
    {
      RandomStream rng;
      for (uint64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.Below(i + 1)]);
    }
    if (o.inclusion_files) {
      proof_states[ai].pos_of.assign(real, 0);
      for (uint64_t pos = 0; pos < n; ++pos) {
        if (perm[pos] < real) proof_states[ai].pos_of[perm[pos]] = static_cast<uint32_t>(pos);
      }
      proof_states[ai].salts.resize(n);
    }

    fs::path tree_path = tmp_dir / "liabilities" / (asset + ".tree");
    Fd tree_fd(open(tree_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (tree_fd.get() < 0) return Errno(tree_path.string());
    std::vector<uint8_t> tree_header = TreeFileHeader(o.snapshot_id, asset, depth, n);
    ByteWriter section;
    section.Str(asset).U64(n);
    if (!PWriteAll(tree_fd.get(), tree_header.data(), tree_header.size(), 0) ||
        !PWriteAll(private_fd.get(), section.data().data(), section.data().size(), private_off)) {
      return Errno("writing headers");
    }
    private_off += section.data().size();

    TreeHasher hasher(o.snapshot_id, asset);
    std::vector<Node> leaves(n);
    {
      Progress progress(base::Cat("hashing leaves ", asset), n);
      std::vector<char> ok(threads, 1);
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t) {
        uint64_t a = n * t / threads, b = n * (t + 1) / threads;
        pool.emplace_back([&, t, a, b] {
          constexpr size_t kBlock = 4096;
          std::vector<uint8_t> tree_buf(kBlock * 48), priv_buf(kBlock * kPrivateRecord), rnd(kBlock * 64);
          for (uint64_t blk = a; blk < b && ok[t]; blk += kBlock) {
            size_t count = static_cast<size_t>(std::min<uint64_t>(kBlock, b - blk));
            uint8_t seed32[randombytes_SEEDBYTES];
            randombytes_buf(seed32, sizeof(seed32));
            randombytes_buf_deterministic(rnd.data(), count * 64, seed32);
            base::Wipe(seed32, sizeof(seed32));
            uint8_t msgs[kBatchLanes][TreeHasher::kLeafMessageBytes];
            const uint8_t* msg_ptrs[kBatchLanes];
            uint8_t* out_ptrs[kBatchLanes];
            for (size_t k0 = 0; k0 < count; k0 += kBatchLanes) {
              size_t lanes = std::min(kBatchLanes, count - k0);
              // The rows are read in shuffled order: fetch the next batch's rows early.
              for (size_t q = 0; q < kBatchLanes; ++q) {
                uint64_t ahead = blk + k0 + kBatchLanes * 2 + q;
                if (ahead < b && perm[ahead] < real) __builtin_prefetch(&rows[perm[ahead] / parts]);
              }
              for (size_t q = 0; q < lanes; ++q) {
                size_t k = k0 + q;
                uint64_t pos = blk + k;
                uint64_t src = perm[pos];
                const uint8_t* salt = rnd.data() + 64 * k;
                const uint8_t* ref;
                uint16_t part_index = 0, part_count = 1;
                base::Amount amount;
                if (src < real) {
                  const LiabilityRow& row = rows[src / parts];
                  ref = row.client_ref;
                  part_index = static_cast<uint16_t>(src % parts);
                  part_count = static_cast<uint16_t>(parts);
                  amount = PartAmount(row.amount, o.parts, part_index, split_key, (uint64_t{ai} << 40) | (src / parts));
                } else {
                  ref = rnd.data() + 64 * k + 32;  // decoy: random client_ref
                }
                TreeHasher::EncodeLeaf(ref, part_index, part_count, salt, amount, msgs[q]);
                msg_ptrs[q] = msgs[q];
                out_ptrs[q] = leaves[pos].hash;
                leaves[pos].sum = amount;
                uint8_t* rec = priv_buf.data() + kPrivateRecord * k;
                std::memcpy(rec, ref, 32);
                std::memcpy(rec + 32, salt, 32);
                PutU16(rec + 64, part_index);
                PutU16(rec + 66, part_count);
                if (o.inclusion_files) std::memcpy(proof_states[ai].salts[pos].data(), salt, 32);
              }
              hasher.LeafBatch(lanes, msg_ptrs, out_ptrs);
              for (size_t q = 0; q < lanes; ++q) EncodeTreeRecord(leaves[blk + k0 + q], tree_buf.data() + 48 * (k0 + q));
            }
            base::Wipe(msgs, sizeof(msgs));
            if (!PWriteAll(tree_fd.get(), tree_buf.data(), count * 48, tree_header.size() + blk * 48) ||
                !PWriteAll(private_fd.get(), priv_buf.data(), count * kPrivateRecord, private_off + blk * kPrivateRecord)) {
              ok[t] = 0;
            }
            AddProgress(&progress, count);
          }
          base::Wipe(rnd.data(), rnd.size());
          base::Wipe(priv_buf.data(), priv_buf.size());
        });
      }
      for (auto& th : pool) th.join();
      for (char c : ok) {
        if (!c) return Errno("writing leaves");
      }
    }
    private_off += n * kPrivateRecord;
    perm = std::vector<uint32_t>();
    // Start writing back now, while the tree is built; the fdatasync at the end then waits less.
    sync_file_range(tree_fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
    sync_file_range(private_fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);

    AssetCommit commit;
    commit.asset_id = asset;
    commit.decimals = o.decimals.at(asset);
    commit.depth = depth;
    commit.n_leaves = n;
    Node root;
    if (o.inclusion_files) {
      RF_ASSIGN_OR_RETURN(proof_states[ai].levels, BuildTreeLevels(hasher, std::move(leaves), depth, threads));
      root = proof_states[ai].levels.root;
    } else {
      Progress progress(base::Cat("building tree ", asset), n);
      BuildOptions bo;
      bo.threads = threads;
      bo.progress = &progress;
      RF_ASSIGN_OR_RETURN(root, BuildTree(hasher, leaves, depth, bo));
      leaves = std::vector<Node>();
    }
    if (fdatasync(tree_fd.get()) != 0) return Errno(tree_path.string());
    std::memcpy(commit.root_hash.data(), root.hash, 32);
    commit.root_sum = root.sum;
    if (commit.root_sum != rows.total) return absl::InternalError("tree root sum differs from the liabilities total");
    const std::vector<ReserveEntry>& entries = reserves[asset];
    base::Amount total;
    for (const ReserveEntry& e : entries) {
      auto s = total.CheckedAdd(e.balance);
      if (!s) return absl::InvalidArgumentError(base::Cat("reserves of asset ", asset, " add up to more than 2^128-1"));
      total = *s;
    }
    commit.reserves_total = total;
    commit.reserves_digest = ReservesDigest(o.snapshot_id, asset, entries);
    RF_RETURN_IF_ERROR(WriteNewFile(tmp_dir / "reserves" / (asset + ".json"), ReserveEntriesToJson(entries), 0644));
    m.assets.push_back(std::move(commit));
  }

  m.manifest_digest = ComputeManifestDigest(m);
  {
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    base::SecretBytes sk(crypto_sign_SECRETKEYBYTES);
    crypto_sign_seed_keypair(pk, sk.data(), seed.data());
    crypto_sign_detached(m.signature.data(), nullptr, m.manifest_digest.data(), m.manifest_digest.size(), sk.data());
    std::memcpy(m.public_key.data(), pk, 32);
  }
  RF_RETURN_IF_ERROR(WriteNewFile(tmp_dir / "manifest.json", ManifestToJson(m), 0644));

  if (o.inclusion_files) {
    std::map<std::string, std::vector<std::pair<size_t, size_t>>> by_client;
    for (size_t ai = 0; ai < liabilities.assets.size(); ++ai) {
      const AssetRows& rows = liabilities.assets[ai];
      for (size_t r = 0; r < rows.size(); ++r) by_client[rows.account_id(r)].emplace_back(ai, r);
    }
    for (const auto& [client, list] : by_client) {
      InclusionProof proof;
      proof.custodian_id = m.custodian_id;
      proof.snapshot_id = m.snapshot_id;
      proof.manifest_digest = m.manifest_digest;
      proof.client_account_id = client;
      for (auto [ai, r] : list) {
        const AssetCommit& c = m.assets[ai];
        const AssetProofState& ps = proof_states[ai];
        ProofEntry e;
        e.asset_id = c.asset_id;
        e.decimals = c.decimals;
        e.depth = c.depth;
        e.n_leaves = c.n_leaves;
        e.root_hash = c.root_hash;
        e.root_sum = c.root_sum;
        for (int p = 0; p < o.parts; ++p) {
          ProofPart part;
          part.index = ps.pos_of[r * o.parts + p];
          part.part_index = p;
          part.part_count = o.parts;
          part.salt = ps.salts[part.index];
          part.amount = ps.levels.nodes[0][part.index].sum;
          part.path = PathFromLevels(ps.levels, part.index);
          e.parts.push_back(std::move(part));
        }
        proof.entries.push_back(std::move(e));
      }
      RF_RETURN_IF_ERROR(WriteNewFile(tmp_dir / "inclusion" / (client + ".json"), InclusionProofToJson(proof), 0600));
    }
    for (AssetProofState& ps : proof_states) base::Wipe(ps.salts.data(), ps.salts.size() * sizeof(Hash32));
  }

  if (!PWriteAll(private_fd.get(), m.manifest_digest.data(), 32, 8) || fdatasync(private_fd.get()) != 0) {
    return Errno(private_tmp.string());
  }
  if (renameat2(AT_FDCWD, tmp_dir.c_str(), AT_FDCWD, out_dir.c_str(), RENAME_NOREPLACE) != 0) {
    return Errno(out_dir.string());
  }
  if (renameat2(AT_FDCWD, private_tmp.c_str(), AT_FDCWD, private_path.c_str(), RENAME_NOREPLACE) != 0) {
    absl::Status st = Errno(private_path.string());
    fs::remove_all(out_dir, ec);
    return st;
  }
  cleanup.Dismiss();
  return m;
}

absl::StatusOr<InclusionProof> Prove(const std::string& package_dir, const std::string& private_path,
                                     std::string_view account_id, int threads) {
  if (!IsValidId(account_id)) {
    return absl::InvalidArgumentError("--account must be 1 to 64 characters of [A-Za-z0-9._:-]");
  }
  fs::path dir(package_dir);
  RF_ASSIGN_OR_RETURN(std::string manifest_text, ReadSmallFile((dir / "manifest.json").string(), size_t{64} << 20));
  RF_ASSIGN_OR_RETURN(Manifest m, ParseManifest(manifest_text));
  Fd fd(open(private_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return errno == ENOENT ? absl::UnavailableError(base::Cat(private_path, ": no such file")) : Errno(private_path);
  auto corrupt = [&](std::string_view why) {
    return absl::DataLossError(base::Cat(private_path, ": ", why));
  };
  uint8_t head[8 + 32 + 32 + 2];
  if (!PReadAll(fd.get(), head, sizeof(head), 0) || std::memcmp(head, kPrivateMagic, 8) != 0) {
    return corrupt("not a reserves private file");
  }
  if (std::memcmp(head + 8, m.manifest_digest.data(), 32) != 0 || std::memcmp(head + 40, m.snapshot_id.data(), 32) != 0) {
    return absl::InvalidArgumentError("the private file belongs to another package (manifest digest differs)");
  }
  uint64_t off = sizeof(head) + GetU16(head + 72) + 4;
  Hash32 ref = ClientRef(account_id);
  InclusionProof proof;
  proof.custodian_id = m.custodian_id;
  proof.snapshot_id = m.snapshot_id;
  proof.manifest_digest = m.manifest_digest;
  proof.client_account_id = std::string(account_id);
  for (const AssetCommit& c : m.assets) {
    uint8_t sec[2 + 64 + 8];
    if (!PReadAll(fd.get(), sec, 2, off)) return corrupt("truncated");
    uint16_t len = GetU16(sec);
    if (len < 1 || len > 64 || !PReadAll(fd.get(), sec + 2, len + 8u, off + 2)) return corrupt("truncated");
    if (std::string_view(reinterpret_cast<char*>(sec + 2), len) != c.asset_id || GetU64(sec + 2 + len) != c.n_leaves) {
      return corrupt(base::Cat("section for ", c.asset_id, " does not match the manifest"));
    }
    off += 2 + len + 8;
    // Scan this asset's records for the client's leaves.
    struct Hit {
      uint64_t index;
      uint16_t part_index, part_count;
      Hash32 salt;
    };
    std::vector<Hit> hits;
    constexpr size_t kBatch = size_t{1} << 16;
    std::vector<uint8_t> buf(kBatch * kPrivateRecord);
    for (uint64_t i = 0; i < c.n_leaves; i += kBatch) {
      size_t count = static_cast<size_t>(std::min<uint64_t>(kBatch, c.n_leaves - i));
      if (!PReadAll(fd.get(), buf.data(), count * kPrivateRecord, off + i * kPrivateRecord)) return corrupt("truncated");
      for (size_t k = 0; k < count; ++k) {
        const uint8_t* rec = buf.data() + k * kPrivateRecord;
        if (std::memcmp(rec, ref.data(), 32) != 0) continue;
        Hit h;
        h.index = i + k;
        h.part_index = GetU16(rec + 64);
        h.part_count = GetU16(rec + 66);
        std::memcpy(h.salt.data(), rec + 32, 32);
        hits.push_back(h);
      }
    }
    base::Wipe(buf.data(), buf.size());
    off += c.n_leaves * kPrivateRecord;
    if (hits.empty()) continue;
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) { return a.part_index < b.part_index; });
    Progress read_progress(base::Cat("reading tree ", c.asset_id), c.n_leaves);
    RF_ASSIGN_OR_RETURN(TreeFile tree, ReadTreeFile((dir / "liabilities" / (c.asset_id + ".tree")).string(), c.n_leaves,
                                          &read_progress));
    if (tree.n != c.n_leaves || tree.depth != c.depth || tree.snapshot_id != m.snapshot_id) {
      return absl::InvalidArgumentError(base::Cat("tree of ", c.asset_id, " does not match the manifest"));
    }
    TreeHasher hasher(m.snapshot_id, c.asset_id);
    ProofEntry e;
    e.asset_id = c.asset_id;
    e.decimals = c.decimals;
    e.depth = c.depth;
    e.n_leaves = c.n_leaves;
    e.root_hash = c.root_hash;
    e.root_sum = c.root_sum;
    std::vector<uint64_t> track;
    for (const Hit& h : hits) {
      const Node& leaf = tree.leaves[h.index];
      uint8_t check[32];
      hasher.Leaf(ref.data(), h.part_index, h.part_count, h.salt.data(), leaf.sum, check);
      if (std::memcmp(check, leaf.hash, 32) != 0) return corrupt(base::Cat("leaf ", h.index, " of ", c.asset_id, " does not match the tree file"));
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
    BuildOptions bo;
    bo.threads = threads;
    bo.progress = &build_progress;
    bo.track = &track;
    std::vector<std::vector<Node>> paths;
    bo.paths = &paths;
    RF_ASSIGN_OR_RETURN(Node root, BuildTree(hasher, tree.leaves, c.depth, bo));
    if (std::memcmp(root.hash, c.root_hash.data(), 32) != 0 || root.sum != c.root_sum) {
      return absl::InvalidArgumentError(base::Cat("tree of ", c.asset_id, " does not match the manifest root"));
    }
    for (size_t k = 0; k < e.parts.size(); ++k) e.parts[k].path = std::move(paths[k]);
    proof.entries.push_back(std::move(e));
  }
  if (proof.entries.empty()) {
    return absl::NotFoundError(base::Cat("account ", account_id, " has no leaf in this snapshot"));
  }
  return proof;
}

}  // namespace ringfence::reserves

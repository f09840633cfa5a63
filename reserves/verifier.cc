#include "reserves/verifier.h"

#include <sodium.h>

#include <cstring>
#include <filesystem>
#include <set>
#include <tuple>

#include "base/hex.h"
#include "base/status.h"
#include "base/text.h"
#include "reserves/amount.h"
#include "reserves/file_io.h"
#include "reserves/ownership.h"
#include "reserves/tree.h"

namespace ringfence::reserves {

namespace {

namespace fs = std::filesystem;

absl::Status Invalid(std::string msg) { return absl::InvalidArgumentError(std::move(msg)); }

struct ChainRecord {
  uint64_t height;
  Hash32 block_hash;
  base::Amount balance;
};
using ChainView = std::map<std::pair<std::string, std::string>, ChainRecord>;

std::string ChainKey(const ReserveEntry& e) {
  return e.token == "native" ? e.address : base::Cat(e.token, "/", e.address);
}

absl::StatusOr<ChainView> ReadChainView(const std::string& path) {
  RF_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, size_t{256} << 20));
  RF_ASSIGN_OR_RETURN(Json j, ParseStrictJson(text, path));
  if (!j.is_object()) return Invalid(base::Cat(path, ": must be {chain: {address: {...}}}"));
  ChainView view;
  for (auto c = j.begin(); c != j.end(); ++c) {
    if (!c.value().is_object()) return Invalid(base::Cat(path, ".", c.key(), ": must be an object"));
    for (auto a = c.value().begin(); a != c.value().end(); ++a) {
      std::string w = base::Cat(path, ".", c.key(), ".", a.key());
      RF_RETURN_IF_ERROR(ExpectObject(a.value(), w, {"height", "block_hash", "balance"}));
      ChainRecord r;
      RF_ASSIGN_OR_RETURN(r.height, GetInteger(a.value(), "height", w, kMaxJsonInteger));
      RF_ASSIGN_OR_RETURN(r.block_hash, GetHash(a.value(), "block_hash", w));
      RF_ASSIGN_OR_RETURN(r.balance, GetAmount(a.value(), "balance", w));
      view[{c.key(), a.key()}] = r;
    }
  }
  return view;
}

absl::Status CheckDirectory(const fs::path& dir, const Manifest& m, std::vector<fs::path>* inclusion_files) {
  std::set<std::string> assets;
  for (const AssetCommit& a : m.assets) assets.insert(a.asset_id);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name == "manifest.json" && entry.is_regular_file()) continue;
    if ((name == "reserves" || name == "liabilities" || name == "inclusion") && entry.is_directory()) continue;
    return Invalid(base::Cat("package: unexpected entry \"", name, "\""));
  }
  for (const auto& [sub, ext] : {std::pair<std::string, std::string>{"reserves", ".json"}, {"liabilities", ".tree"}}) {
    std::set<std::string> seen;
    for (const auto& entry : fs::directory_iterator(dir / sub, ec)) {
      std::string name = entry.path().filename().string();
      std::string asset = name.size() > ext.size() && name.ends_with(ext) ? name.substr(0, name.size() - ext.size()) : "";
      if (!entry.is_regular_file() || !assets.count(asset)) {
        return Invalid(base::Cat("package: ", sub, "/", name, " is not a file of an asset in the manifest"));
      }
      seen.insert(asset);
    }
    for (const std::string& a : assets) {
      if (!seen.count(a)) return Invalid(base::Cat("package: ", sub, "/", a, ext, " is missing"));
    }
  }
  if (fs::is_directory(dir / "inclusion")) {
    for (const auto& entry : fs::directory_iterator(dir / "inclusion", ec)) {
      std::string name = entry.path().filename().string();
      std::string id = name.ends_with(".json") ? name.substr(0, name.size() - 5) : "";
      if (!entry.is_regular_file() || !IsValidId(id)) {
        return Invalid(base::Cat("package: inclusion/", name, " is not <client_account_id>.json"));
      }
      inclusion_files->push_back(entry.path());
    }
  }
  return absl::OkStatus();
}

absl::Status CheckTree(const fs::path& dir, const Manifest& m, const AssetCommit& a, int threads) {
  std::string path = (dir / "liabilities" / (a.asset_id + ".tree")).string();
  Progress read_progress(base::Cat("reading tree ", a.asset_id), a.n_leaves);
  auto tree = ReadTreeFile(path, a.n_leaves, &read_progress);
  if (!tree.ok()) return Invalid(std::string(tree.status().message()));
  std::string w = base::Cat("liabilities/", a.asset_id, ".tree: ");
  if (tree->snapshot_id != m.snapshot_id) return Invalid(w + "snapshot_id differs from the manifest");
  if (tree->asset_id != a.asset_id) return Invalid(w + "asset_id differs from the manifest");
  if (tree->depth != a.depth) return Invalid(w + "depth differs from the manifest");
  if (tree->n != a.n_leaves) return Invalid(w + "n differs from the manifest");
  if (auto dup = FindDuplicateLeaf(tree->leaves, threads)) {
    return Invalid(base::Cat(w, "leaves ", dup->first, " and ", dup->second, " have the same hash"));
  }
  TreeHasher hasher(m.snapshot_id, a.asset_id);
  Progress build_progress(base::Cat("rebuilding tree ", a.asset_id), a.n_leaves);
  BuildOptions bo;
  bo.threads = threads;
  bo.progress = &build_progress;
  auto root = BuildTree(hasher, tree->leaves, a.depth, bo);
  if (!root.ok()) return Invalid(w + std::string(root.status().message()));
  if (std::memcmp(root->hash, a.root_hash.data(), 32) != 0 || root->sum != a.root_sum) {
    return Invalid(base::Cat(w, "rebuilt root (", base::HexEncode(root->hash), ", sum ",
                             ShowAmount(root->sum, a.decimals, a.asset_id), ") differs from the manifest's root_commit"));
  }
  return absl::OkStatus();
}

absl::Status CheckReserves(const fs::path& dir, const Manifest& m, const AssetCommit& a, const ChainView* view,
                           std::set<std::tuple<std::string, std::string, std::string>>* seen) {
  std::string name = base::Cat("reserves/", a.asset_id, ".json");
  auto text = ReadSmallFile((dir / "reserves" / (a.asset_id + ".json")).string(), size_t{256} << 20);
  if (!text.ok()) return Invalid(std::string(text.status().message()));
  RF_ASSIGN_OR_RETURN(std::vector<ReserveEntry> entries, ParseReserveEntries(*text, name));
  if (entries.empty() && !a.root_sum.is_zero()) return Invalid(base::Cat(name, ": asset has liabilities and no reserves"));
  base::Amount total;
  for (size_t i = 0; i < entries.size(); ++i) {
    const ReserveEntry& e = entries[i];
    std::string w = base::Cat(name, "[", i, "]");
    if (i > 0 && !EntryLess(entries[i - 1], e)) {
      return Invalid(w + ": entries must be sorted by (chain, token, address) and unique");
    }
    if (!seen->emplace(e.chain, e.token, e.address).second) {
      return Invalid(base::Cat(w, ": (", base::Clip(e.chain), ", ", base::Clip(e.token), ", ", base::Clip(e.address),
                               ") is already counted for another asset"));
    }
    absl::Status st = VerifyOwnership(e, OwnershipMessage(m.custodian_id, m.snapshot_id, m.auditor_challenge, e.chain, e.address));
    if (!st.ok()) return Invalid(base::Cat(w, ": ", st.message()));
    if (view != nullptr) {
      auto it = view->find({e.chain, ChainKey(e)});
      if (it == view->end()) return Invalid(base::Cat(w, ": address not in the auditor's chain view"));
      if (it->second.height != e.height || it->second.block_hash != e.block_hash) {
        return Invalid(base::Cat(w, ": block ", base::HexEncode(e.block_hash), " at height ", e.height,
                                    " is not on the auditor's chain"));
      }
      if (it->second.balance != e.balance) {
        return Invalid(base::Cat(w, ": balance ", ShowAmount(e.balance, a.decimals, a.asset_id),
                                 " differs from the chain's ", ShowAmount(it->second.balance, a.decimals, a.asset_id)));
      }
    }
    auto sum = total.CheckedAdd(e.balance);
    if (!sum) return Invalid(name + ": balances add up to more than 2^128-1");
    total = *sum;
  }
  if (total != a.reserves_total) {
    return Invalid(base::Cat(name, ": balances add up to ", ShowAmount(total, a.decimals, a.asset_id),
                             ", the manifest says ", ShowAmount(a.reserves_total, a.decimals, a.asset_id)));
  }
  if (ReservesDigest(m.snapshot_id, a.asset_id, entries) != a.reserves_digest) {
    return Invalid(name + ": reserves_digest differs from the manifest");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status VerifyManifestSignature(const Manifest& m, const Hash32& pinned_key,
                                     const std::optional<Hash32>& published_digest) {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  if (m.public_key != pinned_key) return Invalid("manifest: signed with a key other than the pinned --pubkey");
  if (ComputeManifestDigest(m) != m.manifest_digest) {
    return Invalid("manifest: manifest_digest does not match the manifest's content");
  }
  if (crypto_sign_verify_detached(m.signature.data(), m.manifest_digest.data(), 32, pinned_key.data()) != 0) {
    return Invalid("manifest: the Ed25519 signature does not verify");
  }
  if (published_digest && *published_digest != m.manifest_digest) {
    return Invalid("manifest: manifest_digest differs from the published digest");
  }
  return absl::OkStatus();
}

PackageResult VerifyPackage(const PackageOptions& o) {
  PackageResult r;
  auto fail = [&](Verdict v, const auto& msg) {
    r.verdict = v;
    r.error = base::Cat(msg);
    return r;
  };
  fs::path dir(o.dir);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return fail(Verdict::kUsage, base::Cat(o.dir, ": not a directory"));
  std::unique_ptr<ChainView> view;
  if (!o.chain_balances_path.empty()) {
    auto v = ReadChainView(o.chain_balances_path);
    if (!v.ok()) return fail(Verdict::kUsage, base::Cat("--chain-balances: ", v.status().message()));
    view = std::make_unique<ChainView>(*std::move(v));
    r.chain_checked = true;
  }
  auto text = ReadSmallFile((dir / "manifest.json").string(), size_t{64} << 20);
  if (!text.ok()) return fail(Verdict::kInvalid, text.status().message());
  auto m = ParseManifest(*text);
  if (!m.ok()) return fail(Verdict::kInvalid, m.status().message());
  absl::Status st = VerifyManifestSignature(*m, o.pubkey, o.published_digest);
  if (!st.ok()) return fail(Verdict::kInvalid, st.message());
  std::vector<fs::path> inclusion_files;
  st = CheckDirectory(dir, *m, &inclusion_files);
  if (!st.ok()) return fail(Verdict::kInvalid, st.message());
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  for (const AssetCommit& a : m->assets) {
    st = CheckReserves(dir, *m, a, view.get(), &seen);
    if (!st.ok()) return fail(Verdict::kInvalid, st.message());
  }
  for (const AssetCommit& a : m->assets) {
    st = CheckTree(dir, *m, a, o.threads);
    if (!st.ok()) return fail(Verdict::kInvalid, st.message());
  }
  for (const fs::path& p : inclusion_files) {
    std::string name = base::Cat("inclusion/", p.filename().string());
    auto proof_text = ReadSmallFile(p.string(), size_t{64} << 20);
    if (!proof_text.ok()) return fail(Verdict::kInvalid, proof_text.status().message());
    auto proof = ParseInclusionProof(*proof_text);
    if (!proof.ok()) return fail(Verdict::kInvalid, base::Cat(name, ": ", proof.status().message()));
    std::string id = p.stem().string();
    st = CheckInclusionProof(*proof, *m, id, {}, nullptr);
    if (!st.ok()) return fail(Verdict::kInvalid, base::Cat(name, ": ", st.message()));
    ++r.inclusion_files_checked;
  }
  for (const AssetCommit& a : m->assets) {
    r.assets.push_back({a.asset_id, a.decimals, a.n_leaves, a.root_sum, a.reserves_total});
    if (a.reserves_total < a.root_sum) r.verdict = Verdict::kUnderReserved;
  }
  return r;
}

namespace {

// The proof names this custodian, snapshot, manifest and account.
absl::Status CheckProofBinding(const InclusionProof& proof, const Manifest& m, std::string_view account_id) {
  if (proof.custodian_id != m.custodian_id) return Invalid("proof: custodian_id differs from the manifest");
  if (proof.snapshot_id != m.snapshot_id) return Invalid("proof: snapshot_id differs from the manifest (another snapshot)");
  if (proof.manifest_digest != m.manifest_digest) return Invalid("proof: manifest_digest differs from the manifest");
  if (proof.client_account_id != account_id) {
    return Invalid(base::Cat("proof: made for account ", proof.client_account_id, ", not ", account_id));
  }
  return absl::OkStatus();
}

// The manifest's entry for the proof entry `e`, whose copies of D, n, root_hash, root_sum and
// decimals must agree with it (the manifest's are the ones that count).
absl::StatusOr<const AssetCommit*> SignedCommitFor(const ProofEntry& e, const Manifest& m, const std::string& w) {
  const AssetCommit* a = nullptr;
  for (const AssetCommit& c : m.assets) {
    if (c.asset_id == e.asset_id) a = &c;
  }
  if (a == nullptr) return Invalid(w + ": asset is not in the manifest");
  if (e.decimals != a->decimals || e.depth != a->depth || e.n_leaves != a->n_leaves || e.root_hash != a->root_hash ||
      e.root_sum != a->root_sum) {
    return Invalid(w + ": decimals, depth, n_leaves, root_hash or root_sum differ from the signed manifest");
  }
  return a;
}

// One part: a real leaf slot, a path of exactly D levels, and a fold from the leaf recomputed
// from the client's own client_ref to the manifest's root with checked sums.
absl::Status CheckPart(const ProofPart& p, const AssetCommit& a, const TreeHasher& hasher, const Hash32& ref,
                       const std::string& pw) {
  if (p.index >= a.n_leaves) return Invalid(pw + ": index is at or beyond n (a padding slot)");
  if (static_cast<int>(p.path.size()) != a.depth) {
    return Invalid(base::Cat(pw, ": path has ", p.path.size(), " levels, the manifest's depth is ", a.depth));
  }
  Node leaf;
  hasher.Leaf(ref.data(), static_cast<uint16_t>(p.part_index), static_cast<uint16_t>(p.part_count), p.salt.data(),
              p.amount, leaf.hash);
  leaf.sum = p.amount;
  auto root = FoldPath(leaf, p.index, p.path);
  if (!root) return Invalid(pw + ": sums along the path overflow 2^128-1");
  if (std::memcmp(root->hash, a.root_hash.data(), 32) != 0 || root->sum != a.root_sum) {
    return Invalid(pw + ": the path does not lead to the manifest's root");
  }
  return absl::OkStatus();
}

// Every part of one entry: part indices exactly 0..part_count-1 at distinct leaf indices, each
// part checked. Returns what the parts add up to.
absl::StatusOr<base::Amount> CheckEntryParts(const ProofEntry& e, const AssetCommit& a, const Manifest& m,
                                             const Hash32& ref, const std::string& w) {
  const int count = e.parts[0].part_count;
  if (count < 1 || count > kMaxParts) return Invalid(w + ": part_count must be 1..16");
  if (static_cast<int>(e.parts.size()) != count) {
    return Invalid(base::Cat(w, ": holds ", e.parts.size(), " parts but part_count is ", count,
                             " (a part is missing or duplicated)"));
  }
  std::vector<bool> have(count, false);
  std::set<uint64_t> indices;
  const TreeHasher hasher(m.snapshot_id, e.asset_id);
  base::Amount total;
  for (size_t k = 0; k < e.parts.size(); ++k) {
    const ProofPart& p = e.parts[k];
    const std::string pw = base::Cat(w, ".parts[", k, "]");
    if (p.part_count != count) return Invalid(pw + ": part_count differs between parts");
    if (p.part_index < 0 || p.part_index >= count || have[p.part_index]) {
      return Invalid(pw + ": part_index values must be exactly 0..part_count-1 (duplicated or missing part)");
    }
    have[p.part_index] = true;
    if (!indices.insert(p.index).second) return Invalid(pw + ": two parts at the same index");
    RF_RETURN_IF_ERROR(CheckPart(p, a, hasher, ref, pw));
    auto sum = total.CheckedAdd(p.amount);
    if (!sum) return Invalid(pw + ": part amounts overflow");
    total = *sum;
  }
  return total;
}

}  // namespace

absl::Status CheckInclusionProof(const InclusionProof& proof, const Manifest& m, std::string_view account_id,
                                 const std::map<std::string, base::Amount>& expect,
                                 std::vector<ClientTotal>* totals) {
  RF_RETURN_IF_ERROR(CheckProofBinding(proof, m, account_id));
  const Hash32 ref = ClientRef(account_id);
  std::set<std::string> seen_assets;
  for (size_t ei = 0; ei < proof.entries.size(); ++ei) {
    const ProofEntry& e = proof.entries[ei];
    const std::string w = base::Cat("proof.entries[", ei, "] (", e.asset_id, ")");
    if (ei > 0 && !(proof.entries[ei - 1].asset_id < e.asset_id)) {
      return Invalid(w + ": entries must be in ascending asset_id order without duplicates");
    }
    RF_ASSIGN_OR_RETURN(const AssetCommit* a, SignedCommitFor(e, m, w));
    RF_ASSIGN_OR_RETURN(const base::Amount total, CheckEntryParts(e, *a, m, ref, w));
    auto ex = expect.find(e.asset_id);
    if (ex != expect.end() && ex->second != total) {
      return Invalid(base::Cat(w, ": parts add up to ", ShowAmount(total, e.decimals, e.asset_id), ", your record says ",
                               ShowAmount(ex->second, e.decimals, e.asset_id)));
    }
    seen_assets.insert(e.asset_id);
    if (totals != nullptr) totals->push_back({e.asset_id, e.decimals, total});
  }
  for (const auto& [asset, amount] : expect) {
    if (!seen_assets.count(asset)) {
      return Invalid(base::Cat("proof: no entry for asset ", asset, " (expected ", amount.ToBaseUnitString(),
                               " base units)"));
    }
  }
  return absl::OkStatus();
}

InclusionResult VerifyInclusion(const InclusionOptions& o) {
  InclusionResult r;
  auto fail = [&](const auto& msg) {
    r.verdict = Verdict::kInvalid;
    r.error = base::Cat(msg);
    return r;
  };
  if (!IsValidId(o.account_id)) {
    r.verdict = Verdict::kUsage;
    r.error = "--account must be 1 to 64 characters of [A-Za-z0-9._:-]";
    return r;
  }
  auto m = ParseManifest(o.manifest_text);
  if (!m.ok()) return fail(m.status().message());
  absl::Status st = VerifyManifestSignature(*m, o.pubkey, o.published_digest);
  if (!st.ok()) return fail(st.message());
  auto proof = ParseInclusionProof(o.proof_text);
  if (!proof.ok()) return fail(proof.status().message());
  st = CheckInclusionProof(*proof, *m, o.account_id, o.expect, &r.totals);
  if (!st.ok()) return fail(st.message());
  return r;
}

}  // namespace ringfence::reserves

// reserves: proof-of-reserves tool (custody-por/1). Parses flags and wires the library
// together; the library is reserves/ (reserves/README.md), the formats docs/proof-of-reserves.md.
#include <sodium.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "reserves/amount.h"
#include "reserves/status_macros.h"
#include "reserves/exporter.h"
#include "reserves/verifier.h"

namespace rr = ringfence::reserves;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitInvalid = 1;
constexpr int kExitUsage = 3;

bool ParseHash(const std::string& text, rr::Hash32* out) { return rr::ParseLowerHex(text, *out); }

// "ASSET=VALUE" pairs.
bool SplitPair(const std::string& s, std::string* key, std::string* value) {
  size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  *key = s.substr(0, eq);
  *value = s.substr(eq + 1);
  return true;
}

int Usage(const std::string& msg) {
  std::fprintf(stderr, "reserves: %s\n", msg.c_str());
  return kExitUsage;
}

int ExitForStatus(const absl::Status& st) {
  std::fprintf(stderr, "reserves: %s\n", std::string(st.message()).c_str());
  switch (st.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kNotFound:
      return kExitInvalid;
    default:
      return kExitUsage;
  }
}

bool WriteOut(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::cout << text << std::flush;
    return true;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  return static_cast<bool>(out);
}

int Run(int argc, char** argv) {
  CLI::App app{"reserves: proof of reserves (custody-por/1): export, prove, verify, verify-inclusion"};
  app.require_subcommand(1);
  int threads = static_cast<int>(std::max(1u, std::min(8u, std::thread::hardware_concurrency())));
  bool quiet = false;
  app.add_option("--threads", threads, "worker threads")->check(CLI::Range(1, 64));
  app.add_flag("--quiet", quiet, "no progress output on stderr");

  // export
  auto* ex = app.add_subcommand("export", "build a package from files");
  rr::ExportOptions eo;
  std::string snapshot_hex, challenge_hex;
  std::vector<std::string> decimals;
  std::optional<int> depth;
  std::optional<uint64_t> time;
  ex->add_option("--liabilities", eo.liabilities_path, "CSV: client_account_id,asset_id,amount")->required();
  ex->add_option("--reserves", eo.reserves_path, "JSON: {asset_id: [reserve entries]}")->required();
  ex->add_option("--custodian-id", eo.custodian_id)->required();
  ex->add_option("--custodian-key", eo.custodian_key_path, "file with the Ed25519 seed as 64 hex")->required();
  ex->add_option("--snapshot-id", snapshot_hex, "32 bytes, lowercase hex")->required();
  ex->add_option("--challenge", challenge_hex, "auditor challenge, 32 bytes, lowercase hex")->required();
  ex->add_option("--decimals", decimals, "ASSET=N, once per asset")->required();
  ex->add_option("--out", eo.out_dir, "package directory (must not exist)")->required();
  ex->add_option("--depth", depth, "tree depth (default: smallest that fits)");
  ex->add_option("--parts", eo.parts, "split each liability into N leaves (1..16)");
  ex->add_option("--decoys", eo.decoys, "zero-amount decoy leaves per asset");
  ex->add_option("--time", time, "snapshot time, unix seconds (default: now)");
  ex->add_flag("--inclusion-files", eo.inclusion_files, "also write inclusion/<client>.json");
  ex->add_option("--private", eo.private_path, "private file (default: DIR.private)");

  // prove
  auto* pr = app.add_subcommand("prove", "make one client's inclusion proof");
  std::string prove_dir, prove_private, prove_account, prove_out;
  pr->add_option("DIR", prove_dir)->required();
  pr->add_option("--private", prove_private)->required();
  pr->add_option("--account", prove_account)->required();
  pr->add_option("--out", prove_out, "output file (default: stdout)");

  // verify
  auto* ve = app.add_subcommand("verify", "auditor: verify a whole package");
  std::string verify_dir, pubkey_hex, published_hex, chain_path;
  ve->add_option("DIR", verify_dir)->required();
  ve->add_option("--pubkey", pubkey_hex, "pinned custodian key, 64 hex")->required();
  ve->add_option("--published-digest", published_hex, "manifest digest published out of band");
  ve->add_option("--chain-balances", chain_path, "JSON {chain: {address: {height, block_hash, balance}}}");

  // verify-inclusion
  auto* vi = app.add_subcommand("verify-inclusion", "client: verify one inclusion proof");
  std::string proof_path, manifest_path, vi_pubkey, vi_account, vi_published;
  std::vector<std::string> expects;
  vi->add_option("PROOF", proof_path)->required();
  vi->add_option("--manifest", manifest_path)->required();
  vi->add_option("--pubkey", vi_pubkey)->required();
  vi->add_option("--account", vi_account)->required();
  vi->add_option("--expect", expects, "ASSET=AMOUNT in base units, your own record");
  vi->add_option("--published-digest", vi_published);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (sodium_init() < 0) return Usage("libsodium failed to initialise");
  rr::Progress::SetEnabled(!quiet);

  if (*ex) {
    if (!ParseHash(snapshot_hex, &eo.snapshot_id)) return Usage("--snapshot-id must be 64 lowercase hex characters");
    if (!ParseHash(challenge_hex, &eo.challenge)) return Usage("--challenge must be 64 lowercase hex characters");
    for (const std::string& d : decimals) {
      std::string asset, value;
      if (!SplitPair(d, &asset, &value) || value.empty() || value.size() > 3 ||
          value.find_first_not_of("0123456789") != std::string::npos) {
        return Usage(rr::Cat("--decimals ", d, ": expected ASSET=N with N in 0..255"));
      }
      if (!eo.decimals.emplace(asset, std::stoi(value)).second) return Usage(rr::Cat("--decimals ", asset, " given twice"));
    }
    eo.depth = depth;
    eo.time = time;
    eo.threads = threads;
    auto m = rr::Export(eo);
    if (!m.ok()) return ExitForStatus(m.status());
    std::cout << "package written to " << eo.out_dir << "\nmanifest_digest " << rr::Hex(m->manifest_digest)
              << "\npublic_key " << rr::Hex(m->public_key) << "\n";
    for (const rr::AssetCommit& a : m->assets) {
      std::cout << "asset " << a.asset_id << ": leaves " << a.n_leaves << ", depth " << a.depth << ", liabilities "
                << rr::FormatAmount(a.root_sum) << ", reserves " << rr::FormatAmount(a.reserves_total) << "\n";
    }
    return kExitOk;
  }
  if (*pr) {
    auto proof = rr::Prove(prove_dir, prove_private, prove_account, threads);
    if (!proof.ok()) return ExitForStatus(proof.status());
    if (!WriteOut(prove_out, rr::InclusionProofToJson(*proof))) return Usage(rr::Cat(prove_out, ": cannot write"));
    return kExitOk;
  }
  if (*ve) {
    rr::PackageOptions po;
    po.dir = verify_dir;
    if (!ParseHash(pubkey_hex, &po.pubkey)) return Usage("--pubkey must be 64 lowercase hex characters");
    if (!published_hex.empty()) {
      rr::Hash32 d;
      if (!ParseHash(published_hex, &d)) return Usage("--published-digest must be 64 lowercase hex characters");
      po.published_digest = d;
    }
    po.chain_balances_path = chain_path;
    po.threads = threads;
    rr::PackageResult r = rr::VerifyPackage(po);
    if (r.verdict == rr::Verdict::kInvalid || r.verdict == rr::Verdict::kUsage) {
      std::printf("INVALID: %s\n", r.error.c_str());
      std::fprintf(stderr, "reserves: %s\n", r.error.c_str());
      return static_cast<int>(r.verdict);
    }
    for (const rr::AssetReport& a : r.assets) {
      std::string ratio = a.liabilities == 0 ? "n/a (no liabilities)" : rr::FormatRatio(a.reserves, a.liabilities, 6);
      std::printf("asset %s: leaves %llu, liabilities %s (%s), reserves %s (%s), coverage %s %s\n", a.asset_id.c_str(),
                  static_cast<unsigned long long>(a.n_leaves), rr::FormatAmount(a.liabilities).c_str(),
                  rr::FormatUnits(a.liabilities, a.decimals).c_str(), rr::FormatAmount(a.reserves).c_str(),
                  rr::FormatUnits(a.reserves, a.decimals).c_str(), ratio.c_str(),
                  a.reserves >= a.liabilities ? "covered" : "UNDER-RESERVED");
    }
    if (!r.chain_checked) std::printf("note: balances not compared with a chain view (no --chain-balances)\n");
    if (r.inclusion_files_checked > 0) std::printf("inclusion files checked: %zu\n", r.inclusion_files_checked);
    std::printf("%s\n", r.verdict == rr::Verdict::kValid ? "VALID: every asset covered"
                                                          : "VALID but UNDER-RESERVED for some asset");
    return static_cast<int>(r.verdict);
  }
  if (*vi) {
    rr::InclusionOptions io;
    if (!ParseHash(vi_pubkey, &io.pubkey)) return Usage("--pubkey must be 64 lowercase hex characters");
    if (!vi_published.empty()) {
      rr::Hash32 d;
      if (!ParseHash(vi_published, &d)) return Usage("--published-digest must be 64 lowercase hex characters");
      io.published_digest = d;
    }
    io.account_id = vi_account;
    for (const std::string& e : expects) {
      std::string asset, value;
      if (!SplitPair(e, &asset, &value)) return Usage(rr::Cat("--expect ", e, ": expected ASSET=AMOUNT"));
      auto amount = rr::ParseAmount(value, "--expect");
      if (!amount.ok()) return Usage(std::string(amount.status().message()));
      if (!io.expect.emplace(asset, *amount).second) return Usage(rr::Cat("--expect ", asset, " given twice"));
    }
    auto proof = rr::ReadSmallFile(proof_path, size_t{64} << 20);
    if (!proof.ok()) return Usage(std::string(proof.status().message()));
    auto manifest = rr::ReadSmallFile(manifest_path, size_t{64} << 20);
    if (!manifest.ok()) return Usage(std::string(manifest.status().message()));
    io.proof_text = *proof;
    io.manifest_text = *manifest;
    rr::InclusionResult r = rr::VerifyInclusion(io);
    if (r.verdict != rr::Verdict::kValid) {
      std::printf("INVALID: %s\n", r.error.c_str());
      std::fprintf(stderr, "reserves: %s\n", r.error.c_str());
      return static_cast<int>(r.verdict);
    }
    for (const auto& [asset, amount] : r.totals) {
      std::printf("asset %s: included, amount %s%s\n", asset.c_str(), rr::FormatAmount(amount).c_str(),
                  io.expect.count(asset) ? " (matches your record)" : " (not compared: no --expect)");
    }
    std::printf("VALID: account %s is included\n", vi_account.c_str());
    return kExitOk;
  }
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "reserves: %s\n", e.what());
    return kExitUsage;
  }
}

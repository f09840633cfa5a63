// reserves: proof-of-reserves tool (custody-por/1). Parses flags and wires the library
// together; the library is reserves/ (reserves/README.md), the formats docs/proof-of-reserves.md.
//
// Amounts are shown to people in the asset's display unit with the exact base units labelled
// beside them ("2.50002499 BTC (250002499 base units)"); amounts given on the command line
// (--expect) are base units, as in the package.
#include <sodium.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/hex.h"
#include "base/text.h"
#include "reserves/amount.h"
#include "reserves/exporter.h"
#include "reserves/file_io.h"
#include "reserves/prover.h"
#include "reserves/verifier.h"

namespace base = ringfence::base;
namespace rr = ringfence::reserves;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitInvalid = 1;
constexpr int kExitUsage = 3;

// The flags of each subcommand, filled by CLI11.
struct ExportArgs {
  rr::ExportOptions options;
  std::string snapshot_hex;
  std::string challenge_hex;
  std::vector<std::string> decimals;
};

struct ProveArgs {
  std::string dir;
  std::string private_path;
  std::string account;
  std::string out;
};

struct VerifyArgs {
  std::string dir;
  std::string pubkey_hex;
  std::string published_hex;
  std::string chain_path;
};

struct InclusionArgs {
  std::string proof_path;
  std::string manifest_path;
  std::string pubkey_hex;
  std::string account;
  std::string published_hex;
  std::vector<std::string> expects;
};

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

// A rejected package or proof: the verdict on stdout, the reason on stderr too.
int Rejected(rr::Verdict verdict, const std::string& error) {
  std::printf("INVALID: %s\n", error.c_str());
  std::fprintf(stderr, "reserves: %s\n", error.c_str());
  return static_cast<int>(verdict);
}

// Hashes and keys on the command line are lowercase hex, as in the package (spec section 1).
bool ParseHash(const std::string& text, rr::Hash32* out) {
  return base::HexDecodeInto(text, *out, "hash", base::HexCase::kLowerOnly).ok();
}

// An optional --published-digest: empty text leaves `out` unset.
bool ParsePublishedDigest(const std::string& text, std::optional<rr::Hash32>* out) {
  if (text.empty()) return true;
  rr::Hash32 digest;
  if (!ParseHash(text, &digest)) return false;
  *out = digest;
  return true;
}

// "ASSET=VALUE" pairs.
bool SplitPair(const std::string& s, std::string* key, std::string* value) {
  size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  *key = s.substr(0, eq);
  *value = s.substr(eq + 1);
  return true;
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

CLI::App* AddExport(CLI::App& app, ExportArgs* a) {
  CLI::App* cmd = app.add_subcommand("export", "build a package from files");
  rr::ExportOptions& eo = a->options;
  cmd->add_option("--liabilities", eo.liabilities_path, "CSV: client_account_id,asset_id,amount (base units)")
      ->required();
  cmd->add_option("--reserves", eo.reserves_path, "JSON: {asset_id: [reserve entries]}")->required();
  cmd->add_option("--custodian-id", eo.custodian_id)->required();
  cmd->add_option("--custodian-key", eo.custodian_key_path, "file with the Ed25519 seed as 64 hex")->required();
  cmd->add_option("--snapshot-id", a->snapshot_hex, "32 bytes, lowercase hex")->required();
  cmd->add_option("--challenge", a->challenge_hex, "auditor challenge, 32 bytes, lowercase hex")->required();
  cmd->add_option("--decimals", a->decimals, "ASSET=N, once per asset")->required();
  cmd->add_option("--out", eo.out_dir, "package directory (must not exist)")->required();
  cmd->add_option("--depth", eo.depth, "tree depth (default: smallest that fits)");
  cmd->add_option("--parts", eo.parts, "split each liability into N leaves (1..16)");
  cmd->add_option("--decoys", eo.decoys, "zero-amount decoy leaves per asset");
  cmd->add_option("--time", eo.time, "snapshot time, unix seconds (default: now)");
  cmd->add_flag("--inclusion-files", eo.inclusion_files, "also write inclusion/<client>.json");
  cmd->add_option("--private", eo.private_path, "private file (default: DIR.private)");
  return cmd;
}

CLI::App* AddProve(CLI::App& app, ProveArgs* a) {
  CLI::App* cmd = app.add_subcommand("prove", "make one client's inclusion proof");
  cmd->add_option("DIR", a->dir)->required();
  cmd->add_option("--private", a->private_path)->required();
  cmd->add_option("--account", a->account)->required();
  cmd->add_option("--out", a->out, "output file (default: stdout)");
  return cmd;
}

CLI::App* AddVerify(CLI::App& app, VerifyArgs* a) {
  CLI::App* cmd = app.add_subcommand("verify", "auditor: verify a whole package");
  cmd->add_option("DIR", a->dir)->required();
  cmd->add_option("--pubkey", a->pubkey_hex, "pinned custodian key, 64 hex")->required();
  cmd->add_option("--published-digest", a->published_hex, "manifest digest published out of band");
  cmd->add_option("--chain-balances", a->chain_path, "JSON {chain: {address: {height, block_hash, balance}}}");
  return cmd;
}

CLI::App* AddVerifyInclusion(CLI::App& app, InclusionArgs* a) {
  CLI::App* cmd = app.add_subcommand("verify-inclusion", "client: verify one inclusion proof");
  cmd->add_option("PROOF", a->proof_path)->required();
  cmd->add_option("--manifest", a->manifest_path)->required();
  cmd->add_option("--pubkey", a->pubkey_hex)->required();
  cmd->add_option("--account", a->account)->required();
  cmd->add_option("--expect", a->expects, "ASSET=AMOUNT in base units, your own record");
  cmd->add_option("--published-digest", a->published_hex);
  return cmd;
}

int RunExport(ExportArgs& a, int threads) {
  rr::ExportOptions& eo = a.options;
  if (!ParseHash(a.snapshot_hex, &eo.snapshot_id)) return Usage("--snapshot-id must be 64 lowercase hex characters");
  if (!ParseHash(a.challenge_hex, &eo.challenge)) return Usage("--challenge must be 64 lowercase hex characters");
  for (const std::string& d : a.decimals) {
    std::string asset, value;
    if (!SplitPair(d, &asset, &value) || value.empty() || value.size() > 3 ||
        value.find_first_not_of("0123456789") != std::string::npos) {
      return Usage(base::Cat("--decimals ", base::Clip(d), ": expected ASSET=N with N in 0..255"));
    }
    if (!eo.decimals.emplace(asset, std::stoi(value)).second) {
      return Usage(base::Cat("--decimals ", base::Clip(asset), " given twice"));
    }
  }
  eo.threads = threads;
  auto m = rr::Export(eo);
  if (!m.ok()) return ExitForStatus(m.status());
  std::cout << "package written to " << eo.out_dir << "\nmanifest_digest " << base::HexEncode(m->manifest_digest)
            << "\npublic_key " << base::HexEncode(m->public_key) << "\n";
  for (const rr::AssetCommit& c : m->assets) {
    std::cout << "asset " << c.asset_id << ": leaves " << c.n_leaves << ", depth " << c.depth << ", liabilities "
              << rr::ShowAmount(c.root_sum, c.decimals, c.asset_id) << ", reserves "
              << rr::ShowAmount(c.reserves_total, c.decimals, c.asset_id) << "\n";
  }
  return kExitOk;
}

int RunProve(const ProveArgs& a, int threads) {
  auto proof = rr::Prove(a.dir, a.private_path, a.account, threads);
  if (!proof.ok()) return ExitForStatus(proof.status());
  if (!WriteOut(a.out, rr::InclusionProofToJson(*proof))) return Usage(base::Cat(a.out, ": cannot write"));
  return kExitOk;
}

// One line per asset: both amounts as a person reads them and the exact coverage ratio.
void PrintAssetReport(const rr::AssetReport& a) {
  const std::string ratio =
      a.liabilities.is_zero() ? "n/a (no liabilities)" : rr::FormatRatio(a.reserves, a.liabilities, 6);
  std::printf("asset %s: leaves %llu, liabilities %s, reserves %s, coverage %s %s\n", a.asset_id.c_str(),
              static_cast<unsigned long long>(a.n_leaves), rr::ShowAmount(a.liabilities, a.decimals, a.asset_id).c_str(),
              rr::ShowAmount(a.reserves, a.decimals, a.asset_id).c_str(), ratio.c_str(),
              a.reserves >= a.liabilities ? "covered" : "UNDER-RESERVED");
}

int RunVerify(const VerifyArgs& a, int threads) {
  rr::PackageOptions po;
  po.dir = a.dir;
  if (!ParseHash(a.pubkey_hex, &po.pubkey)) return Usage("--pubkey must be 64 lowercase hex characters");
  if (!ParsePublishedDigest(a.published_hex, &po.published_digest)) {
    return Usage("--published-digest must be 64 lowercase hex characters");
  }
  po.chain_balances_path = a.chain_path;
  po.threads = threads;
  rr::PackageResult r = rr::VerifyPackage(po);
  if (r.verdict == rr::Verdict::kInvalid || r.verdict == rr::Verdict::kUsage) return Rejected(r.verdict, r.error);
  for (const rr::AssetReport& asset : r.assets) PrintAssetReport(asset);
  if (!r.chain_checked) std::printf("note: balances not compared with a chain view (no --chain-balances)\n");
  if (r.inclusion_files_checked > 0) std::printf("inclusion files checked: %zu\n", r.inclusion_files_checked);
  std::printf("%s\n", r.verdict == rr::Verdict::kValid ? "VALID: every asset covered"
                                                        : "VALID but UNDER-RESERVED for some asset");
  return static_cast<int>(r.verdict);
}

int RunVerifyInclusion(const InclusionArgs& a) {
  rr::InclusionOptions io;
  if (!ParseHash(a.pubkey_hex, &io.pubkey)) return Usage("--pubkey must be 64 lowercase hex characters");
  if (!ParsePublishedDigest(a.published_hex, &io.published_digest)) {
    return Usage("--published-digest must be 64 lowercase hex characters");
  }
  io.account_id = a.account;
  for (const std::string& e : a.expects) {
    std::string asset, value;
    if (!SplitPair(e, &asset, &value)) return Usage(base::Cat("--expect ", base::Clip(e), ": expected ASSET=AMOUNT"));
    auto amount = rr::ParseAmount(value, "--expect");
    if (!amount.ok()) return Usage(std::string(amount.status().message()));
    if (!io.expect.emplace(asset, *amount).second) return Usage(base::Cat("--expect ", base::Clip(asset), " given twice"));
  }
  auto proof = rr::ReadSmallFile(a.proof_path, size_t{64} << 20);
  if (!proof.ok()) return Usage(std::string(proof.status().message()));
  auto manifest = rr::ReadSmallFile(a.manifest_path, size_t{64} << 20);
  if (!manifest.ok()) return Usage(std::string(manifest.status().message()));
  io.proof_text = *std::move(proof);
  io.manifest_text = *std::move(manifest);
  rr::InclusionResult r = rr::VerifyInclusion(io);
  if (r.verdict != rr::Verdict::kValid) return Rejected(r.verdict, r.error);
  for (const rr::ClientTotal& t : r.totals) {
    std::printf("asset %s: included, amount %s%s\n", t.asset_id.c_str(),
                rr::ShowAmount(t.amount, t.decimals, t.asset_id).c_str(),
                io.expect.count(t.asset_id) ? " (matches your record)" : " (not compared: no --expect)");
  }
  std::printf("VALID: account %s is included\n", a.account.c_str());
  return kExitOk;
}

int Run(int argc, char** argv) {
  CLI::App app{"reserves: proof of reserves (custody-por/1): export, prove, verify, verify-inclusion"};
  app.require_subcommand(1);
  int threads = static_cast<int>(std::max(1u, std::min(8u, std::thread::hardware_concurrency())));
  bool quiet = false;
  app.add_option("--threads", threads, "worker threads")->check(CLI::Range(1, 64));
  app.add_flag("--quiet", quiet, "no progress output on stderr");
  ExportArgs export_args;
  ProveArgs prove_args;
  VerifyArgs verify_args;
  InclusionArgs inclusion_args;
  CLI::App* export_cmd = AddExport(app, &export_args);
  CLI::App* prove_cmd = AddProve(app, &prove_args);
  CLI::App* verify_cmd = AddVerify(app, &verify_args);
  CLI::App* inclusion_cmd = AddVerifyInclusion(app, &inclusion_args);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (sodium_init() < 0) return Usage("libsodium failed to initialise");
  rr::Progress::SetEnabled(!quiet);
  if (*export_cmd) return RunExport(export_args, threads);
  if (*prove_cmd) return RunProve(prove_args, threads);
  if (*verify_cmd) return RunVerify(verify_args, threads);
  if (*inclusion_cmd) return RunVerifyInclusion(inclusion_args);
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

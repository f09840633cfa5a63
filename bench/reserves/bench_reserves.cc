// bench_reserves: time and peak memory of `reserves export` (from files) and `reserves verify`
// for 1, 4 and 16 million leaves of one asset, beside the raw SHA-256 rate measured in the same
// run and the number of hashes (and 64-byte compressions) the tree needs, so the distance to
// the hashing limit is visible; plus the time of one client inclusion check.
//
// Each export and verify runs in a forked child; its peak memory is the child's ru_maxrss.
// Usage: bench_reserves [--quick] [--sizes N,N,...] [--threads T] [--dir DIR]
#include <sodium.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/amount.h"
#include "base/hex.h"
#include "reserves/exporter.h"
#include "reserves/file_io.h"
#include "reserves/format.h"
#include "reserves/hash.h"
#include "reserves/progress.h"
#include "reserves/prover.h"
#include "reserves/sha256_batch.h"
#include "reserves/tree.h"
#include "reserves/verifier.h"

namespace rr = ringfence::reserves;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

struct ChildResult {
  bool ok;
  double seconds;
  double peak_mib;
};

// Runs `fn` in a forked child; the child's exit status is fn's result.
ChildResult InChild(const std::function<bool()>& fn) {
  auto start = Clock::now();
  pid_t pid = fork();
  if (pid == 0) _exit(fn() ? 0 : 1);
  int status = 0;
  struct rusage ru;
  wait4(pid, &status, 0, &ru);
  auto end = Clock::now();
  return {WIFEXITED(status) && WEXITSTATUS(status) == 0, Seconds(start, end), ru.ru_maxrss / 1024.0};
}

// Compressions per second: OpenSSL one hash at a time, and the batched path on 1 and T threads.
struct Rates {
  double openssl_1;
  double batch_1;
  double batch_t;
};

Rates MeasureSha256(int threads) {
  Rates r{};
  const rr::TaggedHasher& node = rr::NodeTag();
  uint8_t msg[97] = {1};
  uint8_t out[32];
  // A node message is 97 bytes after the tag block: 2 compressions.
  {
    const int n = 400000;
    auto a = Clock::now();
    for (int i = 0; i < n; ++i) {
      msg[0] = static_cast<uint8_t>(i);
      node.HashInto(msg, sizeof(msg), out);
    }
    r.openssl_1 = 2.0 * n / Seconds(a, Clock::now());
  }
  auto batch_run = [&](int n, double* rate) {
    constexpr size_t kLanes = rr::kBatchLanes;
    uint8_t msgs[kLanes][97] = {};
    const uint8_t* ptrs[kLanes];
    uint8_t outs[kLanes][32];
    uint8_t* optrs[kLanes];
    for (size_t k = 0; k < kLanes; ++k) {
      ptrs[k] = msgs[k];
      optrs[k] = outs[k];
    }
    auto a = Clock::now();
    for (int i = 0; i < n; ++i) {
      msgs[0][0] = static_cast<uint8_t>(i);
      node.HashBatch(kLanes, ptrs, 97, optrs);
    }
    *rate = 2.0 * kLanes * n / Seconds(a, Clock::now());
  };
  const int runs = 100000 * 8 / static_cast<int>(rr::kBatchLanes);
  batch_run(runs, &r.batch_1);
  std::vector<double> rates(threads);
  std::vector<std::thread> pool;
  auto a = Clock::now();
  for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { batch_run(runs, &rates[t]); });
  for (auto& th : pool) th.join();
  r.batch_t = 2.0 * rr::kBatchLanes * runs * threads / Seconds(a, Clock::now());
  return r;
}

void WriteInputs(const fs::path& dir, uint64_t n, const uint8_t seed[32]) {
  FILE* f = std::fopen((dir / "liabilities.csv").c_str(), "w");
  std::fputs("client_account_id,asset_id,amount\n", f);
  std::mt19937_64 rng(n);
  std::string buf;
  ringfence::base::Uint128 total = 0;
  char line[64];
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t amount = 1 + rng() % 1000000000000ULL;
    total += amount;
    int len = std::snprintf(line, sizeof(line), "C%011llu,BTC,%llu\n", static_cast<unsigned long long>(i),
                            static_cast<unsigned long long>(amount));
    buf.append(line, len);
    if (buf.size() > (1u << 20)) {
      std::fwrite(buf.data(), 1, buf.size(), f);
      buf.clear();
    }
  }
  std::fwrite(buf.data(), 1, buf.size(), f);
  std::fclose(f);
  // One ed25519-proved reserve entry covering the total.
  uint8_t pk[32], sk[64], rseed[32];
  std::memset(rseed, 0x42, 32);
  crypto_sign_seed_keypair(pk, sk, rseed);
  rr::ReserveEntry e;
  e.chain = "bitcoin-sim";
  e.token = "native";
  e.address = ringfence::base::HexEncode(std::span<const uint8_t>(pk, 32));
  e.height = 1;
  e.block_hash.fill(0xbb);
  e.balance = ringfence::base::Amount(total);
  e.type = rr::ProofType::kEd25519;
  rr::Hash32 snap, chal;
  snap.fill(0x11);
  chal.fill(0x22);
  e.message = rr::OwnershipMessage("ACME", snap, chal, e.chain, e.address);
  e.signature.resize(64);
  crypto_sign_detached(e.signature.data(), nullptr, reinterpret_cast<const uint8_t*>(e.message.data()), e.message.size(), sk);
  e.signature_text = ringfence::base::HexEncode(e.signature);
  rr::Json j = {{"BTC", rr::Json::array({rr::ReserveEntryToJson(e)})}};
  FILE* rf = std::fopen((dir / "reserves.json").c_str(), "w");
  std::string text = j.dump();
  std::fwrite(text.data(), 1, text.size(), rf);
  std::fclose(rf);
  FILE* kf = std::fopen((dir / "key.hex").c_str(), "w");
  std::string key = ringfence::base::HexEncode(std::span<const uint8_t>(seed, 32));
  std::fwrite(key.data(), 1, key.size(), kf);
  std::fclose(kf);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<uint64_t> sizes = {1000000, 4000000, 16000000};
  int threads = static_cast<int>(std::max(1u, std::min(8u, std::thread::hardware_concurrency())));
  fs::path base = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") {
      sizes = {20000};
    } else if (a == "--sizes" && i + 1 < argc) {
      sizes.clear();
      std::string s = argv[++i];
      size_t pos = 0;
      while (pos < s.size()) {
        size_t comma = s.find(',', pos);
        sizes.push_back(std::stoull(s.substr(pos, comma - pos)));
        pos = comma == std::string::npos ? s.size() : comma + 1;
      }
    } else if (a == "--threads" && i + 1 < argc) {
      threads = std::stoi(argv[++i]);
    } else if (a == "--dir" && i + 1 < argc) {
      base = argv[++i];
    } else {
      std::fprintf(stderr, "usage: bench_reserves [--quick] [--sizes N,N,...] [--threads T] [--dir DIR]\n");
      return 2;
    }
  }
  if (sodium_init() < 0) return 1;
  rr::Progress::SetEnabled(false);
  std::string tmpl = (base / "bench-reserves-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::fprintf(stderr, "bench_reserves: cannot create a work directory under %s: %s\n", base.c_str(),
                 std::strerror(errno));
    return 1;
  }
  fs::path dir = tmpl;

  Rates rates = MeasureSha256(threads);
  std::printf("SHA-256 compressions/s: OpenSSL one at a time %.1f M (1 thread); batched (%s) %.1f M (1 thread), %.1f M (%d threads)\n",
              rates.openssl_1 / 1e6, rr::Sha256BatchPathName(),
              rates.batch_1 / 1e6, rates.batch_t / 1e6, threads);
  std::printf("%10s %6s %12s %14s %9s %9s %10s %9s %10s\n", "leaves", "depth", "hashes", "compressions", "limit_s",
              "export_s", "export_MiB", "verify_s", "verify_MiB");
  uint8_t seed[32];
  std::memset(seed, 0x5a, 32);
  uint8_t pk[32], sk[64];
  crypto_sign_seed_keypair(pk, sk, seed);
  rr::Hash32 pubkey;
  std::memcpy(pubkey.data(), pk, 32);
  bool all_ok = true;
  for (uint64_t n : sizes) {
    fs::path run = dir / std::to_string(n);
    fs::create_directories(run);
    WriteInputs(run, n, seed);
    int depth = rr::MinDepth(n);
    uint64_t width = uint64_t{1} << depth;
    // client_ref (1 compression for ids up to 53 bytes) + leaf (3) + padding (1) + nodes (2).
    uint64_t hashes = n + n + (width - n) + (width - 1);
    uint64_t compressions = n * 1 + n * 3 + (width - n) * 1 + (width - 1) * 2;
    double limit = compressions / rates.batch_t;
    rr::ExportOptions o;
    o.liabilities_path = (run / "liabilities.csv").string();
    o.reserves_path = (run / "reserves.json").string();
    o.custodian_id = "ACME";
    o.custodian_key_path = (run / "key.hex").string();
    o.snapshot_id.fill(0x11);
    o.challenge.fill(0x22);
    o.decimals = {{"BTC", 8}};
    o.out_dir = (run / "pkg").string();
    o.time = 1700000000;
    o.threads = threads;
    ChildResult ex = InChild([&] { return rr::Export(o).ok(); });
    rr::PackageOptions po;
    po.dir = o.out_dir;
    po.pubkey = pubkey;
    po.threads = threads;
    ChildResult ve = InChild([&] { return rr::VerifyPackage(po).verdict == rr::Verdict::kValid; });
    all_ok &= ex.ok && ve.ok;
    std::printf("%10llu %6d %12llu %14llu %9.2f %9.2f %10.1f %9.2f %10.1f%s\n", static_cast<unsigned long long>(n), depth,
                static_cast<unsigned long long>(hashes), static_cast<unsigned long long>(compressions), limit, ex.seconds,
                ex.peak_mib, ve.seconds, ve.peak_mib, ex.ok && ve.ok ? "" : "  FAILED");
    std::fflush(stdout);
    if (n == sizes.back() && ex.ok) {
      // One client's proof, then the client's check timed over many repetitions.
      auto a = Clock::now();
      auto proof = rr::Prove(o.out_dir, o.out_dir + ".private", "C00000000007", threads);
      double prove_s = Seconds(a, Clock::now());
      if (!proof.ok()) {
        std::printf("prove failed: %s\n", std::string(proof.status().message()).c_str());
        all_ok = false;
      } else {
        rr::InclusionOptions io;
        io.proof_text = rr::InclusionProofToJson(*proof);
        io.manifest_text = *rr::ReadSmallFile((fs::path(o.out_dir) / "manifest.json").string(), 1 << 20);
        io.pubkey = pubkey;
        io.account_id = "C00000000007";
        io.expect = {{"BTC", proof->entries[0].parts[0].amount}};
        const int reps = 2000;
        std::vector<double> us;
        for (int i = 0; i < reps; ++i) {
          auto b = Clock::now();
          rr::InclusionResult r = rr::VerifyInclusion(io);
          us.push_back(Seconds(b, Clock::now()) * 1e6);
          if (r.verdict != rr::Verdict::kValid) all_ok = false;
        }
        std::sort(us.begin(), us.end());
        std::printf("prove one client (%llu leaves): %.2f s; inclusion check (parse manifest + proof, Ed25519, %d-level path): median %.1f us, p99 %.1f us\n",
                    static_cast<unsigned long long>(n), prove_s, depth, us[us.size() / 2], us[us.size() * 99 / 100]);
      }
    }
    fs::remove_all(run);
  }
  fs::remove_all(dir);
  return all_ok ? 0 : 1;
}

// bench_signer: signatures per second through PKCS#11 (hsm_sim and SoftHSM2, 1 and 2 threads)
// beside the raw libraries beneath them (libsecp256k1 ECDSA, libsodium Ed25519), all from one
// run. "token" rows time C_SignInit + C_Sign through signer_core's session pool; "client" rows
// add what signerd does to every ECDSA signature (low-S normalisation, the recovery id that proves it).
#include <secp256k1.h>
#include <sodium.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "signer/pkcs11_client.h"

namespace {

using ringfence::base::SecretBytes;
using ringfence::signer::KeyType;
using ringfence::signer::Pkcs11Module;
using ringfence::signer::Pkcs11Token;
using Clock = std::chrono::steady_clock;

constexpr char kLabel[] = "bench";
constexpr char kSoPin[] = "bench-so-pin";
constexpr char kUserPin[] = "bench-user-pin";

// Runs `op` on `threads` threads for about `seconds`; returns operations per second.
// `op` returns false on failure, which aborts the benchmark (a figure from failing calls
// would be meaningless).
double Rate(int threads, double seconds, const std::function<bool(int)>& op) {
  // Warm caches, the session pool and lazily built tables before timing.
  for (int i = 0; i < 20; ++i) {
    if (!op(0)) {
      std::fprintf(stderr, "bench_signer: an operation failed\n");
      std::exit(1);
    }
  }
  std::atomic<bool> stop{false};
  std::atomic<long> total{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> workers;
  Clock::time_point start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!op(t)) {
          failed = true;
          break;
        }
        ++n;
      }
      total += n;
    });
  }
  while (Clock::now() - start < std::chrono::duration<double>(seconds) && !failed) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  for (std::thread& w : workers) w.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (failed) {
    std::fprintf(stderr, "bench_signer: an operation failed\n");
    std::exit(1);
  }
  return static_cast<double>(total.load()) / elapsed;
}

struct Row {
  std::string name;
  double rate;
  double raw;  // The raw library rate this row is compared with.
};

void Print(const std::vector<Row>& rows) {
  std::printf("%-44s %14s %10s\n", "signer", "signatures/s", "vs raw");
  for (const Row& r : rows) {
    std::printf("%-44s %14.0f %9.1f%%\n", r.name.c_str(), r.rate, 100.0 * r.rate / r.raw);
  }
}

struct TokenUnderTest {
  std::string name;
  std::shared_ptr<Pkcs11Module> module;
  std::unique_ptr<Pkcs11Token> token;
  std::vector<uint8_t> ecdsa_id, ed_id;
  std::vector<uint8_t> ecdsa_pub, ed_pub;
};

bool SetUpToken(TokenUnderTest& t, const std::string& path) {
  absl::StatusOr<std::shared_ptr<Pkcs11Module>> module = Pkcs11Module::Load(path);
  if (!module.ok()) {
    std::fprintf(stderr, "bench_signer: %s: %s\n", t.name.c_str(),
                 std::string(module.status().message()).c_str());
    return false;
  }
  t.module = *module;
  absl::StatusOr<CK_SLOT_ID> slot = t.module->InitToken(kLabel, SecretBytes::CopyOf(kSoPin), SecretBytes::CopyOf(kUserPin));
  if (!slot.ok()) {
    std::fprintf(stderr, "bench_signer: %s: %s\n", t.name.c_str(),
                 std::string(slot.status().message()).c_str());
    return false;
  }
  absl::StatusOr<std::unique_ptr<Pkcs11Token>> token =
      Pkcs11Token::Open(t.module, kLabel, SecretBytes::CopyOf(kUserPin), 2);
  if (!token.ok()) {
    std::fprintf(stderr, "bench_signer: %s: %s\n", t.name.c_str(),
                 std::string(token.status().message()).c_str());
    return false;
  }
  t.token = *std::move(token);
  t.ecdsa_id.assign(16, 1);
  t.ed_id.assign(16, 2);
  absl::StatusOr<ringfence::signer::TokenKey> k =
      t.token->GenerateKeyPair(KeyType::kSecp256k1, t.ecdsa_id, "bench-ecdsa");
  absl::StatusOr<ringfence::signer::TokenKey> e =
      t.token->GenerateKeyPair(KeyType::kEd25519, t.ed_id, "bench-ed25519");
  if (!k.ok() || !e.ok()) {
    std::fprintf(stderr, "bench_signer: %s: key generation failed: %s\n", t.name.c_str(),
                 std::string((k.ok() ? e.status() : k.status()).message()).c_str());
    return false;
  }
  t.ecdsa_pub = k->public_key;
  t.ed_pub = e->public_key;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_signer: signatures per second through PKCS#11 beside the raw libraries"};
  bool quick = false;
  double seconds = 1.0;
  std::string hsm_sim = RINGFENCE_HSM_SIM_PATH;
  std::string softhsm = "/usr/lib/softhsm/libsofthsm2.so";
  app.add_flag("--quick", quick, "smoke mode: a few milliseconds per row (ctest)");
  app.add_option("--seconds", seconds, "time per row");
  app.add_option("--hsm-sim", hsm_sim, "path of libhsm_sim.so (empty: skip)");
  app.add_option("--softhsm", softhsm, "path of libsofthsm2.so (empty: skip)");
  CLI11_PARSE(app, argc, argv);
  if (quick) seconds = 0.02;
  if (sodium_init() < 0) return 1;

  // Private token directories for both modules.
  char tmpl[] = "/tmp/bench_signer.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  std::filesystem::path dir = tmpl;
  std::filesystem::create_directories(dir / "hsm_sim");
  std::filesystem::create_directories(dir / "softhsm");
  setenv("HSM_SIM_DIR", (dir / "hsm_sim").c_str(), 1);
  setenv("HSM_SIM_ARGON2_OPSLIMIT", "1", 1);
  setenv("HSM_SIM_ARGON2_MEMLIMIT_KIB", "8", 1);
  std::ofstream(dir / "softhsm2.conf") << "directories.tokendir = " << (dir / "softhsm").string()
                                       << "\nobjectstore.backend = file\nlog.level = ERROR\n";
  setenv("SOFTHSM2_CONF", (dir / "softhsm2.conf").c_str(), 1);

  // Raw libraries.
  secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  uint8_t seckey[32];
  do {
    randombytes_buf(seckey, sizeof(seckey));
  } while (!secp256k1_ec_seckey_verify(ctx, seckey));
  uint8_t digest[32];
  randombytes_buf(digest, sizeof(digest));
  double raw_ecdsa = Rate(1, seconds, [&](int) {
    secp256k1_ecdsa_signature sig;
    ++digest[0];
    return secp256k1_ecdsa_sign(ctx, &sig, digest, seckey, nullptr, nullptr) == 1;
  });
  uint8_t ed_pk[32], ed_sk[64];
  crypto_sign_keypair(ed_pk, ed_sk);
  double raw_ed = Rate(1, seconds, [&](int) {
    uint8_t sig[64];
    ++digest[0];
    return crypto_sign_detached(sig, nullptr, digest, sizeof(digest), ed_sk) == 0;
  });
  std::vector<Row> rows = {{"libsecp256k1 ECDSA (raw)", raw_ecdsa, raw_ecdsa},
                           {"libsodium Ed25519 (raw)", raw_ed, raw_ed}};

  std::vector<std::pair<std::string, std::string>> modules;
  if (!hsm_sim.empty()) modules.emplace_back("hsm_sim", hsm_sim);
  if (!softhsm.empty()) modules.emplace_back("SoftHSM2", softhsm);
  int status = 0;
  for (const auto& [name, path] : modules) {
    TokenUnderTest t;
    t.name = name;
    if (!SetUpToken(t, path)) {
      status = 1;
      continue;
    }
    for (int threads : {1, 2}) {
      std::string suffix = threads == 1 ? ", 1 thread" : ", 2 threads";
      double ecdsa = Rate(threads, seconds, [&](int th) {
        uint8_t d[32];
        randombytes_buf(d, sizeof(d));
        d[0] = static_cast<uint8_t>(th);
        return t.token->SignRaw(KeyType::kSecp256k1, t.ecdsa_id, d).ok();
      });
      rows.push_back({name + " ECDSA token" + suffix, ecdsa, raw_ecdsa});
      double client = Rate(threads, seconds, [&](int) {
        std::array<uint8_t, 32> d{};
        randombytes_buf(d.data(), d.size());
        return t.token->SignEcdsa(t.ecdsa_id, d, t.ecdsa_pub, ringfence::chain::RecoveryId::kCompute).ok();
      });
      rows.push_back({name + " ECDSA client" + suffix, client, raw_ecdsa});
      double ed = Rate(threads, seconds, [&](int) {
        uint8_t m[32];
        randombytes_buf(m, sizeof(m));
        return t.token->SignRaw(KeyType::kEd25519, t.ed_id, m).ok();
      });
      rows.push_back({name + " Ed25519 token" + suffix, ed, raw_ed});
    }
  }
  Print(rows);
  secp256k1_context_destroy(ctx);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return status;
}

// Shared fixtures for the reserves tests: a custodian with a known Ed25519 seed, ledgers and
// reserves files written to a temporary directory, packages exported with the library, a way
// to re-sign a manifest after a deliberate change (so that one check is isolated), and a
// runner for the real `reserves` binary.
#ifndef RINGFENCE_TESTS_RESERVES_TEST_SUPPORT_H_
#define RINGFENCE_TESTS_RESERVES_TEST_SUPPORT_H_

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "base/amount.h"
#include "base/hex.h"
#include "base/text.h"
#include "tests/common/temp_dir.h"
#include "tests/common/vectors.h"
#include "reserves/amount.h"
#include "reserves/exporter.h"
#include "reserves/file_io.h"
#include "reserves/format.h"
#include "reserves/verifier.h"

namespace ringfence::reserves::test {

namespace fs = std::filesystem;

inline void WriteFile(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
  ASSERT_TRUE(out.good()) << p;
}

inline std::string ReadFile(const fs::path& p) { return ringfence::testing::ReadFileOrDie(p); }

inline Hash32 Fill(uint8_t b) {
  Hash32 h;
  h.fill(b);
  return h;
}

// Amounts in the fixtures are plain 128-bit base units so that tests can add up their own
// expected totals; they become base::Amount where they enter the library.
struct Row {
  std::string client;
  std::string asset;
  base::Uint128 amount;
};

struct ReserveSpec {
  std::string chain;
  std::string token = "native";
  base::Uint128 balance;
  uint8_t key_byte;  // Ed25519 seed = key_byte x 32
};

// A custodian and its inputs in one temporary directory.
class Custodian {
 public:
  Custodian() : dir_("reserves-test") {
    if (sodium_init() < 0) std::abort();
    seed_.fill(0x5a);
    uint8_t sk[64];
    crypto_sign_seed_keypair(pubkey_.data(), sk, seed_.data());
    WriteFile(dir_ / "key.hex", base::HexEncode(seed_) + "\n");
  }

  const fs::path& dir() const { return dir_.path(); }
  const Hash32& pubkey() const { return pubkey_; }
  Hash32 snapshot = Fill(0x11);
  Hash32 challenge = Fill(0x22);
  std::string custodian_id = "ACME";

  void WriteLedger(const std::vector<Row>& rows) {
    std::string csv = "client_account_id,asset_id,amount\n";
    for (const Row& r : rows) csv += r.client + "," + r.asset + "," + base::Uint128ToString(r.amount) + "\n";
    WriteFile(dir() / "liabilities.csv", csv);
  }

  // One ed25519-proved entry per spec, signed for `snapshot` and `challenge` (or overrides).
  ReserveEntry MakeEntry(const ReserveSpec& s, const Hash32* sign_snapshot = nullptr,
                         const Hash32* sign_challenge = nullptr) const {
    Hash32 seed = Fill(s.key_byte);
    uint8_t pk[32], sk[64];
    crypto_sign_seed_keypair(pk, sk, seed.data());
    ReserveEntry e;
    e.chain = s.chain;
    e.token = s.token;
    e.address = base::HexEncode(std::span<const uint8_t>(pk, 32));
    e.height = 100;
    e.block_hash = Fill(0xb0);
    e.balance = base::Amount(s.balance);
    e.type = ProofType::kEd25519;
    e.message = OwnershipMessage(custodian_id, sign_snapshot ? *sign_snapshot : snapshot,
                                 sign_challenge ? *sign_challenge : challenge, e.chain, e.address);
    e.signature.resize(64);
    crypto_sign_detached(e.signature.data(), nullptr, reinterpret_cast<const uint8_t*>(e.message.data()),
                         e.message.size(), sk);
    e.signature_text = base::HexEncode(e.signature);
    return e;
  }

  void WriteReserves(const std::map<std::string, std::vector<ReserveSpec>>& specs) {
    Json j = Json::object();
    for (const auto& [asset, list] : specs) {
      j[asset] = Json::array();
      for (const ReserveSpec& s : list) j[asset].push_back(ReserveEntryToJson(MakeEntry(s)));
    }
    WriteFile(dir() / "reserves.json", j.dump());
  }

  ExportOptions Options(const std::string& out_name) const {
    ExportOptions o;
    o.liabilities_path = (dir() / "liabilities.csv").string();
    o.reserves_path = (dir() / "reserves.json").string();
    o.custodian_id = custodian_id;
    o.custodian_key_path = (dir() / "key.hex").string();
    o.snapshot_id = snapshot;
    o.challenge = challenge;
    o.out_dir = (dir() / out_name).string();
    o.time = 1700000000;
    o.threads = 2;
    return o;
  }

  // Reads a package's manifest, applies `change`, recomputes the digest, signs it with this
  // custodian's key and writes it back.
  void Resign(const fs::path& package, const std::function<void(Manifest&)>& change) const {
    auto m = ParseManifest(ReadFile(package / "manifest.json"));
    ASSERT_TRUE(m.ok()) << m.status();
    change(*m);
    m->manifest_digest = ComputeManifestDigest(*m);
    uint8_t pk[32], sk[64];
    crypto_sign_seed_keypair(pk, sk, seed_.data());
    crypto_sign_detached(m->signature.data(), nullptr, m->manifest_digest.data(), 32, sk);
    WriteFile(package / "manifest.json", ManifestToJson(*m));
  }

 private:
  ringfence::testing::TempDir dir_;
  Hash32 seed_;
  Hash32 pubkey_;
};

struct CommandResult {
  int exit_code;
  std::string out;
};

// Runs `reserves` with `args` (already shell-quoted where needed); stdout and stderr together.
inline CommandResult RunReserves(const std::string& args, bool quiet = true) {
  const char* bin_dir = std::getenv("RINGFENCE_BINARY_DIR");
  std::string bin = std::string(bin_dir ? bin_dir : ".") + "/tools/reserves/reserves";
  std::string cmd = bin + (quiet ? " --quiet " : " ") + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// A path quoted for the shell. (base::Cat rather than operator+: GCC 12 at -O3 reports a false
// -Wrestrict inside "'" + std::string.)
inline std::string Q(const fs::path& p) { return base::Cat("'", p.string(), "'"); }

}  // namespace ringfence::reserves::test

#endif  // RINGFENCE_TESTS_RESERVES_TEST_SUPPORT_H_

// bench_allocation: what the allocation policy costs custodyd's executor. Every executor pass
// computes each asset's allocation (custody/allocation.h: ComputeAllocation) to plan sweeps and
// top-ups, and again for the coverage check; GetAllocation and GetCoverage compute it per call.
// It reads the hot and cold wallets' holdings and in-flight accounts and pages through the
// asset's live withdrawals (to know what they reserve). Measured on a fresh SQLite file in WAL
// mode with synchronous=FULL (the production settings), in one read snapshot per computation,
// with 0, 100 and 1,000 live client withdrawals of the asset; beside the raw floor in the same
// run: a read snapshot with one account balance read (the least any store read costs).
// Prints one row per figure. --quick runs a short version (ctest keeps it working).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/hex.h"
#include "base/text.h"
#include "custody/allocation.h"
#include "custody/config.h"
#include "custody/ledger.h"
#include "custody/store/sqlite_store.h"
#include "tests/common/temp_dir.h"

namespace ringfence::custody {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "bench_allocation: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

template <typename T>
T OrDie(absl::StatusOr<T> value, const std::string& what) {
  if (!value.ok()) Die(what, value.status());
  return *std::move(value);
}

void Check(const absl::Status& status, const std::string& what) {
  if (!status.ok()) Die(what, status);
}

void Row(const std::string& name, double count, double seconds) {
  std::printf("%-64s %10.0f /s   (%.1f us each; %.0f in %.2f s)\n", name.c_str(), count / seconds,
              seconds * 1e6 / count, count, seconds);
}

Config BenchConfig() {
  Config config;
  config.assets = {{"BTC", "bitcoin", "regtest", 8, 3, "", base::Amount(10'000), std::nullopt, std::nullopt}};
  return config;
}

// A store whose BTC client holdings are 100 BTC hot and 900 BTC cold, with `live` client
// withdrawals of the asset pending approval (each its decision row, as CreateWithdrawal leaves).
std::unique_ptr<store::SqliteStore> Populate(const testing::TempDir& dir, const Config& config, int live) {
  auto s = OrDie(store::SqliteStore::Open((dir / base::Cat("alloc-", live, ".db")).string()), "open");
  auto txn = OrDie(s->Begin(), "begin");
  for (const store::WalletRow& w : WalletsOf(config.assets[0])) Check(txn->UpsertWallet(w), "wallet");
  store::ClientRow client;
  client.client_id = "c_bench";
  client.client_ref = "bench";
  Check(txn->InsertClient(client), "client");
  const std::vector<store::WalletRow> wallets = WalletsOf(config.assets[0]);
  store::JournalEntry e;
  e.asset_id = "BTC";
  e.kind = "deposit";
  e.reference = "bench";
  e.postings = {{WalletAccount(wallets[0].wallet_id), true, base::Amount(100 * 100'000'000ull)},
                {WalletAccount(wallets[1].wallet_id), true, base::Amount(900 * 100'000'000ull)},
                {ClientAvailableAccount("c_bench", "BTC"), false, base::Amount(1000 * 100'000'000ull)}};
  OrDie(Ledger::Post(*txn, std::move(e)), "post");
  for (int i = 0; i < live; ++i) {
    store::PolicyDecisionRow d;
    d.kind = "withdrawal";
    d.subject_id = base::Cat("w_", i);
    d.policy_hash = "bench";
    d.record_json = "{}";
    const uint64_t decision = OrDie(txn->InsertPolicyDecision(d), "decision");
    store::WithdrawalRow w;
    w.withdrawal_id = base::Cat("w_", base::HexEncode(std::string(reinterpret_cast<const char*>(&i), sizeof i)),
                                "00000000");
    w.client_id = "c_bench";
    w.asset_id = "BTC";
    w.amount = base::Amount(1'000'000);
    w.destination = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
    w.source_wallet_id = wallets[0].wallet_id;
    w.kind = "withdrawal";
    w.chain = "bitcoin";
    w.network = "regtest";
    w.fee_cap = base::Amount(10'000);
    w.fee_asset = "BTC";
    w.fee_charged_to_client = true;
    w.requester = "bench";
    w.state = store::WithdrawalState::kPendingApproval;
    w.approvals_required = 2;
    w.approval_group = "ops";
    w.expires_at_unix_s = 4'000'000'000;
    w.decision_id = decision;
    w.policy_hash = "bench";
    OrDie(txn->InsertWithdrawal(w), "withdrawal");
  }
  Check(txn->Commit(), "commit");
  return s;
}

int Main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int rounds = quick ? 50 : 2000;
  const Config config = BenchConfig();
  testing::TempDir dir("bench-allocation");
  std::printf("bench_allocation: SQLite (WAL, synchronous=FULL), one read snapshot per computation, %d rounds\n",
              rounds);
  for (int live : {0, 100, 1000}) {
    auto s = Populate(dir, config, live);
    // The floor: a read snapshot and one balance read.
    Clock::time_point start = Clock::now();
    for (int i = 0; i < rounds; ++i) {
      auto txn = OrDie(s->BeginRead(), "read");
      OrDie(txn->GetBalance(WalletAccount("BTC:client-hot")), "balance");
    }
    Row(base::Cat("raw floor: snapshot + one balance read (", live, " live)"), rounds,
        std::chrono::duration<double>(Clock::now() - start).count());
    start = Clock::now();
    base::Amount reserved;
    for (int i = 0; i < rounds; ++i) {
      auto txn = OrDie(s->BeginRead(), "read");
      AllocationReport report = OrDie(ComputeAllocation(*txn, config, "BTC"), "allocation");
      reserved = report.assets.at(0).reserved_for_withdrawals;
    }
    Row(base::Cat("ComputeAllocation, BTC, ", live, " live withdrawals"), rounds,
        std::chrono::duration<double>(Clock::now() - start).count());
    // What the figures must say, so that a broken computation cannot pass for a fast one.
    const base::Amount expected(static_cast<uint64_t>(live) * 1'010'000ull);
    if (reserved != expected) {
      std::fprintf(stderr, "bench_allocation: reserved %s, expected %s\n", reserved.ToBaseUnitString().c_str(),
                   expected.ToBaseUnitString().c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace ringfence::custody

int main(int argc, char** argv) { return ringfence::custody::Main(argc, argv); }

// bench_custody_store: the storage floor under custodyd, on a fresh SQLite file in WAL mode with
// synchronous=FULL (the production settings):
//   - single-transaction commits per second: one small write (an idempotency record) and a
//     commit, i.e. one fsync'd WAL append: the reference the deposit benchmark
//     compares against (bench/custody/commit_rate.h, shared with bench_custody_api);
//   - ledger Post of a deposit credit, one per transaction (one commit each);
//   - ledger Post of a deposit credit, 1,000 per transaction (what the ingestor does per block),
//     as entries per second;
//   - the deposit ingestor itself (DepositIngestor::PollOnce, custody/deposits.h) over blocks of
//     1,000 deposits to 1,000 client addresses at 3 confirmations, from an in-process chain (a
//     ChainAdapter over blocks held in memory, so that no node's time is counted): each block
//     one transaction with its deposit rows, credits, journal entries and audit entries, as in
//     custodyd. Printed as deposits credited per second of wall time and as CPU microseconds
//     per deposit (this process's CPU time), the figure that does not move with the machine's
//     load; bench_custody_api measures the same path through chainsim and gRPC.
// Prints one row per figure. --quick runs a short version (ctest keeps it working).
#include <sqlite3.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/hex.h"
#include "base/text.h"
#include "bench/custody/commit_rate.h"
#include "custody/chain/adapter.h"
#include "custody/config.h"
#include "custody/deposits.h"
#include "custody/env.h"
#include "custody/ledger.h"
#include "custody/store/sqlite_store.h"
#include "tests/common/temp_dir.h"

namespace ringfence::custody {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "bench_custody_store: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

template <typename T>
T OrDie(absl::StatusOr<T> value, const std::string& what) {
  if (!value.ok()) Die(what, value.status());
  return *std::move(value);
}

void Row(const char* name, double count, double seconds, const char* unit) {
  std::printf("%-52s %12.0f %s/s   (%.0f in %.2f s)\n", name, count / seconds, unit, count, seconds);
}

std::unique_ptr<store::SqliteStore> OpenFresh(const testing::TempDir& dir, const std::string& name,
                                              int clients) {
  auto s = OrDie(store::SqliteStore::Open((dir / name).string()), "opening the database");
  auto txn = OrDie(s->Begin(), "begin");
  if (absl::Status st = txn->UpsertWallet({"BTC:client-hot", "BTC", "client", "hot", "hot-1"}); !st.ok()) {
    Die("wallet", st);
  }
  for (int i = 0; i < clients; ++i) {
    store::ClientRow row;
    row.client_id = base::Cat("c_", i);
    row.client_ref = base::Cat("ref-", i);
    if (absl::Status st = txn->InsertClient(row); !st.ok()) Die("client", st);
  }
  if (absl::Status st = txn->Commit(); !st.ok()) Die("commit", st);
  return s;
}

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// A chain held in memory for the ingestor row: blocks appended by the bench, each paying a
// list of transfers; GetBlock answers the transfers to watched addresses, as a node does.
class MemoryChain : public chain::ChainAdapter {
 public:
  MemoryChain() { Mine({}); }

  const std::string& chain() const override { return name_; }
  absl::StatusOr<chain::BlockRef> Tip() override { return blocks_.back().ref; }
  absl::StatusOr<chain::Block> GetBlock(uint64_t height, std::span<const std::string> watched) override {
    if (height >= blocks_.size()) return absl::NotFoundError("above the tip");
    chain::Block out{blocks_[height].ref, {}};
    for (const chain::Transfer& t : blocks_[height].transfers) {
      if (std::binary_search(watched.begin(), watched.end(), t.to_address)) out.transfers.push_back(t);
    }
    return out;
  }
  absl::StatusOr<base::Amount> BalanceAt(const std::string& address, const std::string&, uint64_t height) override {
    base::Amount sum;
    auto it = paid_.find(address);
    if (it == paid_.end()) return sum;
    for (const auto& [h, amount] : it->second) {
      if (h <= height) sum = base::AmountOrDie(sum.CheckedAdd(amount));
    }
    return sum;
  }
  absl::StatusOr<std::string> Broadcast(std::span<const uint8_t>) override {
    return absl::UnimplementedError("the bench's chain takes no transactions");
  }

  void Mine(std::vector<chain::Transfer> transfers) {
    const uint64_t height = blocks_.size();
    uint8_t hash[32] = {};
    for (int i = 0; i < 8; ++i) hash[i] = static_cast<uint8_t>(height >> (8 * i));
    hash[31] = 0xb7;
    chain::BlockRef ref{height, base::HexEncode(hash), height == 0 ? std::string(64, '0') : blocks_.back().ref.hash};
    for (const chain::Transfer& t : transfers) paid_[t.to_address].emplace_back(height, t.amount);
    blocks_.push_back({std::move(ref), std::move(transfers)});
  }

 private:
  struct Stored {
    chain::BlockRef ref;
    std::vector<chain::Transfer> transfers;
  };
  const std::string name_ = "bitcoin";
  std::vector<Stored> blocks_;
  std::unordered_map<std::string, std::vector<std::pair<uint64_t, base::Amount>>> paid_;
};

// Blocks of `per_block` deposits to `addresses` client addresses, ingested block by block as
// custodyd's ingestor does; returns the deposits credited, the wall and the CPU seconds.
struct IngestResult {
  uint64_t credited = 0;
  double seconds = 0;
  double cpu_seconds = 0;
};

IngestResult IngestBlocks(const testing::TempDir& dir, int blocks, int per_block, int addresses) {
  constexpr uint32_t kConfirmations = 3;
  Config config;
  config.assets = {{"BTC", "bitcoin", "regtest", 8, kConfirmations, "", std::nullopt, std::nullopt, std::nullopt}};
  config.chains = {{"bitcoin", "chainsim", "unix:/unused", 1000}};
  auto s = OrDie(store::SqliteStore::Open((dir / "ingest.db").string()), "opening the database");
  {
    auto txn = OrDie(s->Begin(), "begin");
    for (const store::WalletRow& w : WalletsOf(config.assets[0])) {
      if (absl::Status st = txn->UpsertWallet(w); !st.ok()) Die("wallet", st);
    }
    for (int i = 0; i < addresses; ++i) {
      store::ClientRow client;
      client.client_id = base::Cat("c_", i);
      client.client_ref = base::Cat("ref-", i);
      if (absl::Status st = txn->InsertClient(client); !st.ok()) Die("client", st);
      // Real-looking regtest P2WPKH addresses: 42 characters, distinct.
      const std::string address = base::Cat("bcrt1q", std::string(36 - std::to_string(i).size(), 'q'), i);
      if (absl::Status st = txn->InsertAddress({address, "BTC", "BTC:client-hot", client.client_id, "k", 1}); !st.ok()) {
        Die("address", st);
      }
    }
    if (absl::Status st = txn->Commit(); !st.ok()) Die("commit", st);
  }
  std::vector<std::string> to;
  {
    auto txn = OrDie(s->BeginRead(), "read");
    for (store::AddressRow& a : OrDie(txn->ListAddressesOfWallet("BTC:client-hot"), "addresses")) to.push_back(a.address);
  }
  MemoryChain chain;
  FixedEnv env(1'700'000'000'000);
  DepositIngestor ingestor(config, config.chains[0], chain, *s, env);
  OrDie(ingestor.PollOnce(), "first poll");
  uint64_t n = 0;
  const double cpu_start = CpuSeconds();
  const auto start = Clock::now();
  for (int b = 0; b < blocks + static_cast<int>(kConfirmations) - 1; ++b) {
    std::vector<chain::Transfer> transfers;
    if (b < blocks) {
      for (int i = 0; i < per_block; ++i, ++n) {
        uint8_t txid[32] = {};
        for (int k = 0; k < 8; ++k) txid[k] = static_cast<uint8_t>(n >> (8 * k));
        transfers.push_back({base::HexEncode(txid), 0, to[n % to.size()], "", base::Amount(1000)});
      }
    }
    chain.Mine(std::move(transfers));
    env.AdvanceMs(10);
    OrDie(ingestor.PollOnce(), "poll");
  }
  IngestResult r;
  r.seconds = Seconds(start);
  r.cpu_seconds = CpuSeconds() - cpu_start;
  auto txn = OrDie(s->BeginRead(), "read");
  const store::AccountBalance wallet = OrDie(txn->GetBalance("wallet:BTC:client-hot"), "wallet balance");
  r.credited = static_cast<uint64_t>(wallet.debits.base_units() / 1000);
  if (r.credited != n) {
    std::fprintf(stderr, "bench_custody_store: the ingestor credited %llu of %llu deposits\n",
                 static_cast<unsigned long long>(r.credited), static_cast<unsigned long long>(n));
    std::exit(1);
  }
  return r;
}

int Main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int single = quick ? 50 : 2000;
  const int batches = quick ? 2 : 50;
  constexpr int kBatch = 1000;
  constexpr int kClients = 1000;
  testing::TempDir dir("bench_custody_store");

  std::printf("custody store on SQLite %s, WAL, synchronous=FULL, in %s\n", sqlite3_libversion(),
              dir.path().c_str());

  {
    const bench::CommitRate rate =
        OrDie(bench::MeasureSingleCommits(dir / "commits.db", single, std::chrono::hours(1)), "single commits");
    Row("sqlite single-transaction commits (1 write each)", static_cast<double>(rate.commits), rate.seconds,
        "commits");
  }
  {
    auto s = OpenFresh(dir, "post_single.db", kClients);
    const auto start = Clock::now();
    for (int i = 0; i < single; ++i) {
      auto txn = OrDie(s->Begin(), "begin");
      auto entry = Ledger::DepositCredit("BTC", "BTC:client-hot", base::Cat("c_", i % kClients),
                                         base::Amount(1000 + i), base::Cat("tx:", i), i);
      OrDie(Ledger::Post(*txn, std::move(entry)), "post");
      if (absl::Status st = txn->Commit(); !st.ok()) Die("commit", st);
    }
    Row("ledger Post deposit, 1 per Txn", single, Seconds(start), "deposits");
  }
  {
    auto s = OpenFresh(dir, "post_batch.db", kClients);
    const auto start = Clock::now();
    for (int b = 0; b < batches; ++b) {
      auto txn = OrDie(s->Begin(), "begin");
      for (int i = 0; i < kBatch; ++i) {
        auto entry = Ledger::DepositCredit("BTC", "BTC:client-hot", base::Cat("c_", i % kClients),
                                           base::Amount(1000 + i), base::Cat("tx:", b, ":", i), i);
        OrDie(Ledger::Post(*txn, std::move(entry)), "post");
      }
      if (absl::Status st = txn->Commit(); !st.ok()) Die("commit", st);
    }
    Row("ledger Post deposit, 1,000 per Txn", static_cast<double>(batches) * kBatch, Seconds(start), "deposits");
  }
  {
    const IngestResult r = IngestBlocks(dir, batches, kBatch, kClients);
    Row("ingestor, blocks of 1,000 deposits (3 conf)", static_cast<double>(r.credited), r.seconds, "deposits");
    std::printf("%-52s %12.1f us CPU per deposit\n", "", r.cpu_seconds * 1e6 / static_cast<double>(r.credited));
  }
  return 0;
}

}  // namespace
}  // namespace ringfence::custody

int main(int argc, char** argv) { return ringfence::custody::Main(argc, argv); }

// bench_custody_api: custodyd through its API, the way a platform reaches it: gRPC over TLS with
// the platform role's client certificate (mTLS), 32 calls in flight on one channel. The stack is
// the end-to-end tests' (tests/custody/e2e_harness.h): chainsim, signerd on hsm_sim and custodyd
// on SQLite in one temporary directory, with the development certificates.
//
// "32 in flight" is gRPC's callback (async) stub: 32 calls outstanding at all times on ONE
// channel, each completion starting the next, the completions running on gRPC's own threads;
// no client thread per call, so the client takes as little of the machine's CPU as it can.
//
// Rows, each printed beside the reference measured in the same run and the goal:
//   reference  an empty gRPC call on the same channel: grpc.health.v1.Health/Check;
//   reference  SQLite single-transaction commits (synchronous=FULL) in the stack's directory
//              (bench/custody/commit_rate.h, the same measure as bench_custody_store);
//   CreateDepositAddress/s  each a new key in hsm_sim through signerd (no goal);
//   deposits credited/s     chainsim blocks of 1,000 deposits (Control.CreditBatch) to the
//              deposit addresses just made, mined to the confirmation count, timed from the
//              first batch until custodyd's ledger holds all of them (the client-hot wallet's
//              ledger balance, read through ListWallets); goal >= 10x the single-commit rate;
//   GetBalances/s           of the clients just credited; goal >= 50% of the empty-call rate.
// A benchmark never fails on speed: a missed goal prints "below goal" and exits 0; it exits 1
// only when something does not work.
//
// Flags: --seconds S (length of each timed row, default 10), --quick (short rows and one block
// of deposits: what ctest runs). The binaries and the PKCS#11 module default to those of this
// build tree; the environment variables the e2e tests use (SIGNERD, CHAINSIM, CUSTODYD,
// RINGFENCE_SIGNER_MODULE, RINGFENCE_SIGNER_MODULE_KIND, RINGFENCE_SOURCE_DIR) override them.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/amount.h"
#include "base/text.h"
#include "bench/custody/commit_rate.h"
#include "rpc/process.h"
#include "tests/custody/e2e_harness.h"

namespace ringfence::custody::bench {
namespace {

namespace v1 = ringfence::custody::v1;
namespace sim = ringfence::chainsim::v1;
using base::Cat;
using Clock = std::chrono::steady_clock;

constexpr int kInFlight = 32;
constexpr int kClients = 32;
constexpr int kDepositsPerBlock = 1000;
constexpr char kAsset[] = "BTC";
constexpr char kChain[] = "bitcoin";
constexpr char kWallet[] = "BTC:client-hot";
constexpr char kDepositAmount[] = "1000";  // satoshi
constexpr char kHealthCheck[] = "/grpc.health.v1.Health/Check";

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_custody_api: %s\n", what.c_str());
  std::exit(1);
}

double Since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The harness reports trouble through gtest's assertions; outside a test they are recorded on
// the ad hoc result (and printed), so each step checks that nothing failed before going on.
bool HarnessFailed() { return ::testing::UnitTest::GetInstance()->Failed(); }

// --- closed loop --------------------------------------------------------------------------------

// Starts call number `n` and arranges for `done` to run once with its status.
using StartCall = std::function<void(uint64_t n, std::function<void(const grpc::Status&)> done)>;

struct LoopResult {
  uint64_t calls = 0;  // completed OK
  double seconds = 0;
  grpc::Status error;  // the first failure, which stops the loop
  double PerSecond() const { return seconds > 0 ? static_cast<double>(calls) / seconds : 0; }
};

// Keeps `in_flight` calls outstanding until `duration` has passed (or `max_calls` were started),
// then waits for the last ones; the rate is completed calls over the whole time.
LoopResult ClosedLoop(int in_flight, std::chrono::duration<double> duration, uint64_t max_calls,
                      const StartCall& start) {
  struct State {
    std::mutex mu;
    std::condition_variable all_done;
    int active = 0;
    uint64_t started = 0;
    uint64_t completed = 0;
    bool stop = false;
    grpc::Status error;
    Clock::time_point deadline;
  } state;
  const auto begin = Clock::now();
  state.deadline = begin + std::chrono::duration_cast<Clock::duration>(duration);

  // Each completion starts the next call from gRPC's callback thread.
  std::function<void()> launch = [&] {
    uint64_t n = 0;
    {
      std::lock_guard<std::mutex> lock(state.mu);
      n = state.started++;
    }
    start(n, [&](const grpc::Status& status) {
      bool again = false;
      {
        std::lock_guard<std::mutex> lock(state.mu);
        if (status.ok()) {
          ++state.completed;
        } else if (state.error.ok()) {
          state.error = status;
          state.stop = true;
        }
        again = !state.stop && state.started < max_calls && Clock::now() < state.deadline;
        if (!again && --state.active == 0) state.all_done.notify_all();
      }
      if (again) launch();
    });
  };
  {
    std::lock_guard<std::mutex> lock(state.mu);
    state.active = static_cast<int>(std::min<uint64_t>(in_flight, max_calls));
  }
  const int first = state.active;
  for (int i = 0; i < first; ++i) launch();
  std::unique_lock<std::mutex> lock(state.mu);
  state.all_done.wait(lock, [&] { return state.active == 0; });
  return {state.completed, Since(begin), state.error};
}

LoopResult OrDie(LoopResult r, const std::string& what) {
  if (!r.error.ok()) Die(Cat(what, ": gRPC status ", static_cast<int>(r.error.error_code()), ": ", r.error.error_message()));
  return r;
}

// --- printing -----------------------------------------------------------------------------------

void PrintRow(const std::string& name, double rate, const char* unit, uint64_t count, double seconds) {
  std::printf("%-62s %10.0f %-10s (%llu in %.2f s)\n", name.c_str(), rate, unit,
              static_cast<unsigned long long>(count), seconds);
}

void PrintGoal(const std::string& comparison, bool meets) {
  std::printf("%-62s %s\n", Cat("    ", comparison).c_str(), meets ? "meets goal" : "below goal");
}

// --- the rows -----------------------------------------------------------------------------------

LoopResult EmptyCalls(const std::shared_ptr<grpc::Channel>& channel, std::chrono::duration<double> duration) {
  grpc::GenericStub stub(channel);
  // HealthCheckRequest{service = ""}: proto3 encodes it as no bytes, but a ByteBuffer with no
  // slice is no message at all to gRPC, so it carries one empty slice.
  struct Call {
    grpc::ClientContext ctx;
    grpc::Slice empty{std::string()};
    grpc::ByteBuffer request{&empty, 1};
    grpc::ByteBuffer response;
  };
  return ClosedLoop(kInFlight, duration, UINT64_MAX, [&](uint64_t, std::function<void(const grpc::Status&)> done) {
    auto* call = new Call;
    stub.UnaryCall(&call->ctx, kHealthCheck, grpc::StubOptions(), &call->request, &call->response,
                   [call, done = std::move(done)](grpc::Status status) {
                     std::unique_ptr<Call> owned(call);
                     done(status);
                   });
  });
}

LoopResult GetBalancesCalls(v1::Custody::Stub& stub, const std::vector<std::string>& clients,
                            std::chrono::duration<double> duration) {
  struct Call {
    grpc::ClientContext ctx;
    v1::GetBalancesRequest request;
    v1::GetBalancesResponse response;
  };
  return ClosedLoop(kInFlight, duration, UINT64_MAX, [&](uint64_t n, std::function<void(const grpc::Status&)> done) {
    auto* call = new Call;
    call->request.set_client_id(clients[n % clients.size()]);
    stub.async()->GetBalances(&call->ctx, &call->request, &call->response,
                              [call, done = std::move(done)](grpc::Status status) {
                                std::unique_ptr<Call> owned(call);
                                if (status.ok() && call->response.balances_size() == 0) {
                                  status = grpc::Status(grpc::StatusCode::INTERNAL, "GetBalances answered no asset");
                                }
                                done(status);
                              });
  });
}

// Makes deposit addresses for `clients` in turn; appends them to `addresses`.
LoopResult CreateDepositAddressCalls(v1::Custody::Stub& stub, const std::vector<std::string>& clients,
                                     std::chrono::duration<double> duration, uint64_t max_calls,
                                     std::vector<std::string>* addresses) {
  std::mutex mu;
  struct Call {
    grpc::ClientContext ctx;
    v1::CreateDepositAddressRequest request;
    v1::CreateDepositAddressResponse response;
  };
  return ClosedLoop(kInFlight, duration, max_calls, [&](uint64_t n, std::function<void(const grpc::Status&)> done) {
    auto* call = new Call;
    call->request.set_idempotency_key(Cat("bench-address-", n));
    call->request.set_client_id(clients[n % clients.size()]);
    call->request.set_asset_id(kAsset);
    stub.async()->CreateDepositAddress(&call->ctx, &call->request, &call->response,
                                       [call, &mu, addresses, done = std::move(done)](grpc::Status status) {
                                         std::unique_ptr<Call> owned(call);
                                         if (status.ok()) {
                                           std::lock_guard<std::mutex> lock(mu);
                                           addresses->push_back(call->response.deposit_address().address());
                                         }
                                         done(status);
                                       });
  });
}

std::vector<std::string> CreateClients(v1::Custody::Stub& stub) {
  std::vector<std::string> ids;
  for (int i = 0; i < kClients; ++i) {
    grpc::ClientContext ctx;
    v1::CreateClientRequest request;
    request.set_idempotency_key(Cat("bench-client-", i));
    request.set_client_ref(Cat("bench-", i));
    v1::CreateClientResponse response;
    grpc::Status s = stub.CreateClient(&ctx, request, &response);
    if (!s.ok()) Die(Cat("CreateClient: ", s.error_message()));
    ids.push_back(response.client().client_id());
  }
  return ids;
}

base::Amount WalletLedgerBalance(v1::Custody::Stub& auditor) {
  grpc::ClientContext ctx;
  v1::ListWalletsRequest request;
  request.set_asset_id(kAsset);
  v1::ListWalletsResponse response;
  grpc::Status s = auditor.ListWallets(&ctx, request, &response);
  if (!s.ok()) Die(Cat("ListWallets: ", s.error_message()));
  for (const v1::Wallet& w : response.wallets()) {
    if (w.wallet_id() != kWallet) continue;
    absl::StatusOr<base::Amount> amount = base::ParseBaseUnits(w.ledger_balance());
    if (!amount.ok()) Die(Cat("ListWallets: ledger_balance: ", amount.status().ToString()));
    return *amount;
  }
  Die(Cat("ListWallets names no ", kWallet));
}

uint64_t Mine(sim::Control::Stub& control, uint32_t blocks) {
  grpc::ClientContext ctx;
  sim::MineRequest request;
  request.set_chain(kChain);
  request.set_blocks(blocks);
  sim::MineResponse response;
  grpc::Status s = control.Mine(&ctx, request, &response);
  if (!s.ok()) Die(Cat("chainsim Mine: ", s.error_message()));
  return response.tip().height();
}

struct DepositResult {
  uint64_t deposits = 0;
  uint64_t blocks = 0;
  double seconds = 0;        // first batch to the last credit
  double chain_seconds = 0;  // first batch to the last block mined (chainsim's share)
  double PerSecond() const { return seconds > 0 ? static_cast<double>(deposits) / seconds : 0; }
};

// Blocks of kDepositsPerBlock deposits, round robin over `addresses`, while `duration` lasts
// (at least one block), then empty blocks up to the confirmation count; waits until custodyd's
// ledger has credited every one.
DepositResult CreditDeposits(testing::CustodyStack& stack, v1::Custody::Stub& auditor,
                             const std::vector<std::string>& addresses, std::chrono::duration<double> duration,
                             uint32_t confirmations, std::chrono::duration<double> patience) {
  const base::Amount before = WalletLedgerBalance(auditor);
  DepositResult r;
  size_t next_address = 0;
  const auto start = Clock::now();
  do {
    grpc::ClientContext ctx;
    sim::CreditBatchRequest request;
    for (int i = 0; i < kDepositsPerBlock; ++i) {
      sim::CreditRequest* credit = request.add_credits();
      credit->set_chain(kChain);
      credit->set_address(addresses[next_address++ % addresses.size()]);
      credit->set_amount(kDepositAmount);
    }
    sim::CreditBatchResponse response;
    grpc::Status s = stack.control().CreditBatch(&ctx, request, &response);
    if (!s.ok()) Die(Cat("chainsim CreditBatch: ", s.error_message()));
    Mine(stack.control(), 1);
    r.deposits += kDepositsPerBlock;
    ++r.blocks;
  } while (Since(start) < duration.count());
  if (confirmations > 1) Mine(stack.control(), confirmations - 1);
  r.chain_seconds = Since(start);

  const base::Amount each = base::ParseBaseUnits(kDepositAmount).value();
  const std::optional<base::Amount> total = each.CheckedMulRatio(r.deposits, 1, base::Rounding::kDown);
  const std::optional<base::Amount> expected = total ? before.CheckedAdd(*total) : std::nullopt;
  if (!expected) Die("deposit total overflows");
  const auto give_up = Clock::now() + std::chrono::duration_cast<Clock::duration>(patience);
  base::Amount seen;
  while ((seen = WalletLedgerBalance(auditor)) != *expected) {
    if (Clock::now() > give_up) {
      Die(Cat("custodyd credited ", seen.ToBaseUnitString(), " of ", expected->ToBaseUnitString(), " satoshi in ",
              Since(start), " s\n", stack.CustodydStderr()));
    }
    // Each poll costs custodyd a ListWallets (every address of the wallet): often enough to
    // time a run of seconds, rarely enough not to compete with the ingestor it measures.
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  r.seconds = Since(start);
  return r;
}

uint32_t Confirmations(v1::Custody::Stub& stub) {
  grpc::ClientContext ctx;
  v1::ListAssetsResponse response;
  grpc::Status s = stub.ListAssets(&ctx, v1::ListAssetsRequest(), &response);
  if (!s.ok()) Die(Cat("ListAssets: ", s.error_message()));
  for (const v1::Asset& a : response.assets()) {
    if (a.asset_id() == kAsset) return a.confirmations();
  }
  Die(Cat("custodyd serves no ", kAsset));
}

// Where this build tree's binaries are, unless the environment names others.
void DefaultEnvironment() {
  setenv("SIGNERD", RINGFENCE_BENCH_SIGNERD, 0);
  setenv("CHAINSIM", RINGFENCE_BENCH_CHAINSIM, 0);
  setenv("CUSTODYD", RINGFENCE_BENCH_CUSTODYD, 0);
  setenv("RINGFENCE_SIGNER_MODULE", RINGFENCE_BENCH_HSM_SIM, 0);
  setenv("RINGFENCE_SIGNER_MODULE_KIND", "hsm_sim", 0);
  setenv("RINGFENCE_SOURCE_DIR", RINGFENCE_BENCH_SOURCE_DIR, 0);
}

struct Flags {
  double seconds = 10;
  bool quick = false;
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      f.quick = true;
      f.seconds = 0.5;
    } else if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      char* end = nullptr;
      f.seconds = std::strtod(argv[++i], &end);
      if (*end != '\0' || !(f.seconds > 0 && f.seconds <= 3600)) Die("--seconds takes a number of seconds, 0 < S <= 3600");
    } else {
      Die(Cat("unknown argument ", base::Clip(argv[i]), "; usage: bench_custody_api [--seconds S] [--quick]"));
    }
  }
  return f;
}

int Main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  const std::chrono::duration<double> row(flags.seconds);
  DefaultEnvironment();

  testing::CustodyStack stack;
  if (HarnessFailed()) Die("the custody stack did not start (see above)");
  std::printf("custodyd over gRPC/TLS (mTLS, platform certificate) at %s, %d calls in flight on one channel\n"
              "(callback stub), %.1f s per row; SQLite (WAL, synchronous=FULL) in %s\n",
              stack.address().c_str(), kInFlight, flags.seconds, stack.dir().c_str());
  {
    std::shared_ptr<grpc::Channel> channel = stack.ChannelAs("platform");
    std::unique_ptr<v1::Custody::Stub> platform = v1::Custody::NewStub(channel);
    std::unique_ptr<v1::Custody::Stub> auditor = stack.As("auditor");
    const uint32_t confirmations = Confirmations(*platform);
    const std::vector<std::string> clients = CreateClients(*platform);

    const CommitRate commits = [&] {
      absl::StatusOr<CommitRate> r = MeasureSingleCommits(stack.dir() / "bench-commits.db", UINT64_MAX, row);
      if (!r.ok()) Die(Cat("SQLite commits: ", r.status().ToString()));
      return *r;
    }();

    std::vector<std::string> addresses;
    const LoopResult created = OrDie(
        CreateDepositAddressCalls(*platform, clients, row, UINT64_MAX, &addresses), "CreateDepositAddress");
    if (addresses.size() < static_cast<size_t>(kClients)) {
      // Too few to spread a block over; top up (outside the timed row).
      OrDie(CreateDepositAddressCalls(*platform, clients, std::chrono::hours(1), kClients - addresses.size(),
                                      &addresses),
            "CreateDepositAddress");
    }

    const DepositResult deposits = CreditDeposits(stack, *auditor, addresses, flags.quick ? std::chrono::duration<double>(0) : row,
                                                  confirmations, std::chrono::minutes(10));

    const LoopResult empty = OrDie(EmptyCalls(channel, row), "Health/Check");
    const LoopResult balances = OrDie(GetBalancesCalls(*platform, clients, row), "GetBalances");

    std::printf("\n");
    PrintRow("reference: empty call (grpc.health.v1.Health/Check)", empty.PerSecond(), "calls/s", empty.calls,
             empty.seconds);
    PrintRow("reference: SQLite single-transaction commits", commits.PerSecond(), "commits/s", commits.commits,
             commits.seconds);
    PrintRow("GetBalances", balances.PerSecond(), "calls/s", balances.calls, balances.seconds);
    const double share = empty.PerSecond() > 0 ? balances.PerSecond() / empty.PerSecond() : 0;
    PrintGoal(Cat(static_cast<int>(share * 100 + 0.5), "% of the empty call; goal >= 50%"), share >= 0.5);
    PrintRow(Cat("CreateDepositAddress (", kAsset, ", new hsm_sim key each; no goal)"), created.PerSecond(),
             "calls/s", created.calls, created.seconds);
    PrintRow(Cat("deposits credited (", deposits.blocks, " blocks of ", kDepositsPerBlock, ", ", addresses.size(),
                 " addresses, ", confirmations, " conf)"),
             deposits.PerSecond(), "deposits/s", deposits.deposits, deposits.seconds);
    const double ratio = commits.PerSecond() > 0 ? deposits.PerSecond() / commits.PerSecond() : 0;
    char ratio_text[32];
    std::snprintf(ratio_text, sizeof(ratio_text), "%.1fx", ratio);
    PrintGoal(Cat(ratio_text, " the single-commit rate; goal >= 10x"), ratio >= 10);
    std::printf("    (chainsim took %.2f s of it to take the batches and mine; custodyd finished %.2f s later)\n",
                deposits.chain_seconds, deposits.seconds - deposits.chain_seconds);
  }
  // The channels are gone, so custodyd's graceful shutdown has no idle connection to wait for.
  return 0;
}

}  // namespace
}  // namespace ringfence::custody::bench

int main(int argc, char** argv) {
  ringfence::rpc::DisableMutexDeadlockDetection();  // as the daemons do
  return ringfence::custody::bench::Main(argc, argv);
}

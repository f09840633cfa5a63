// bench_withdrawals: automatically approved withdrawals end to end, the way a platform sees
// them: CreateWithdrawal over gRPC/TLS (mTLS, platform certificate) until custodyd reports the
// withdrawal broadcast (WatchWithdrawals), with custodyd's executor building each transaction,
// signerd (hsm_sim) checking and signing it with its durable sign log, and chainsim taking the
// broadcast. 32 withdrawals are in flight at all times: each one seen broadcast starts the next.
// The stack is the end-to-end tests' (tests/custody/e2e_harness.h) with [withdrawals]
// executor = true.
//
// Rows:
//   withdrawals end to end/s  request to signed and broadcast, BTC (one confirmed coin each,
//              change back to the wallet), with p50/p99 latency (CreateWithdrawal sent to the
//              broadcast event received);
//   beside it, from bench_signer_tx run by this benchmark in the same run (its own signer on
//   hsm_sim, 32 in flight over the Unix socket): SignTransaction bitcoin P2WPKH with 1
//   approval (the withdrawals here carry none; 1 is bench_signer_tx's smallest) and the
//   signing work alone of the same requests. Goal (issue 12): withdrawals end to end >= 50% of
//   the SignTransaction rate.
// A benchmark never fails on speed: a missed goal prints "below goal" and exits 0; it exits 1
// only when something does not work.
//
// Flags: --seconds S (the withdrawal row's length, and bench_signer_tx's --seconds; default
// 10), --quick (a short run: what ctest runs; figures from it mean nothing).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/amount.h"
#include "base/text.h"
#include "chain/bech32.h"
#include "rpc/process.h"
#include "tests/custody/approver_keys.h"
#include "tests/custody/e2e_harness.h"

namespace ringfence::custody::bench {
namespace {

namespace v1 = ringfence::custody::v1;
namespace sim = ringfence::chainsim::v1;
using base::Cat;
using Clock = std::chrono::steady_clock;

constexpr int kInFlight = 32;
constexpr int kClients = 32;
constexpr char kChain[] = "bitcoin";
constexpr char kWallet[] = "BTC:client-hot";
constexpr uint64_t kCoin = 1'000'000;    // satoshi per funding output
constexpr uint64_t kAmount = 100'000;    // satoshi per withdrawal
constexpr size_t kCreditsPerBatch = 1'000;

// kTestPolicy with BTC's withdrawal rules replaced: no approvals below 1,000 BTC, no velocity
// windows, so every withdrawal here is approved at creation (the harness's signerd needs none
// below 1 BTC). The other assets keep their rules: custodyd needs the allocation rules of every
// asset it serves.
std::string BenchPolicy() {
  std::string policy = custody::testing::kTestPolicy;
  const std::string from = "[assets.BTC.withdrawal]\n";
  const size_t at = policy.find(from);
  const size_t end = policy.find("[assets.BTC.whitelist]", at);
  if (at == std::string::npos || end == std::string::npos) return policy;
  policy.replace(at, end - at,
                 from + "per_request_limit = \"1000\"\n"
                        "approval_tiers = [{ min_amount = \"1000\", group = \"ops\", k = 2 }]\n");
  return policy;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_withdrawals: %s\n", what.c_str());
  std::exit(1);
}

double Since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

bool HarnessFailed() { return ::testing::UnitTest::GetInstance()->Failed(); }

std::string Destination(int client) {
  std::array<uint8_t, 20> hash;
  hash.fill(static_cast<uint8_t>(0x80 + client));  // none of them the house address (0x5a...)
  return chain::P2wpkhAddress("bcrt", hash).value();
}

struct Client {
  std::string id;
  std::string deposit_address;
  std::string destination;
};

std::vector<Client> SetUpClients(v1::Custody::Stub& platform, v1::Custody::Stub& approver) {
  std::vector<Client> clients;
  for (int i = 0; i < kClients; ++i) {
    Client c;
    {
      grpc::ClientContext ctx;
      v1::CreateClientRequest req;
      req.set_idempotency_key(Cat("bench-client-", i));
      req.set_client_ref(Cat("bench-", i));
      v1::CreateClientResponse resp;
      grpc::Status s = platform.CreateClient(&ctx, req, &resp);
      if (!s.ok()) Die(Cat("CreateClient: ", s.error_message()));
      c.id = resp.client().client_id();
    }
    {
      grpc::ClientContext ctx;
      v1::CreateDepositAddressRequest req;
      req.set_idempotency_key(Cat("bench-address-", i));
      req.set_client_id(c.id);
      req.set_asset_id("BTC");
      v1::CreateDepositAddressResponse resp;
      grpc::Status s = platform.CreateDepositAddress(&ctx, req, &resp);
      if (!s.ok()) Die(Cat("CreateDepositAddress: ", s.error_message()));
      c.deposit_address = resp.deposit_address().address();
    }
    c.destination = Destination(i);
    v1::WhitelistEntry entry;
    {
      grpc::ClientContext ctx;
      v1::AddWhitelistAddressRequest req;
      req.set_idempotency_key(Cat("bench-whitelist-", i));
      req.set_client_id(c.id);
      req.set_asset_id("BTC");
      req.set_address(c.destination);
      req.set_label("bench destination");
      v1::AddWhitelistAddressResponse resp;
      grpc::Status s = platform.AddWhitelistAddress(&ctx, req, &resp);
      if (!s.ok()) Die(Cat("AddWhitelistAddress: ", s.error_message()));
      entry = resp.entry();
    }
    {
      grpc::ClientContext ctx;
      v1::SubmitApprovalRequest req;
      req.set_idempotency_key(Cat("bench-whitelist-approval-", i));
      req.set_target_id(entry.entry_id());
      req.set_approver_id("alice");
      req.set_signature(custody::testing::Sign(custody::testing::ApproverKey("alice"),
                                               custody::testing::WhitelistDigestOf(entry)));
      v1::SubmitApprovalResponse resp;
      grpc::Status s = approver.SubmitApproval(&ctx, req, &resp);
      if (!s.ok() || !resp.whitelist_entry().usable()) Die(Cat("whitelist approval: ", s.error_message()));
    }
    clients.push_back(std::move(c));
  }
  return clients;
}

base::Amount WalletLedgerBalance(v1::Custody::Stub& auditor) {
  grpc::ClientContext ctx;
  v1::ListWalletsRequest request;
  request.set_asset_id("BTC");
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

// `coins` outputs of kCoin, round robin over the clients' deposit addresses, mined to the
// confirmation count and credited by custodyd (one confirmed coin per withdrawal to come).
void Fund(custody::testing::CustodyStack& stack, v1::Custody::Stub& auditor, const std::vector<Client>& clients,
          size_t coins) {
  for (size_t done = 0; done < coins;) {
    grpc::ClientContext ctx;
    sim::CreditBatchRequest request;
    for (size_t i = 0; i < kCreditsPerBatch && done < coins; ++i, ++done) {
      sim::CreditRequest* credit = request.add_credits();
      credit->set_chain(kChain);
      credit->set_address(clients[done % clients.size()].deposit_address);
      credit->set_amount(std::to_string(kCoin));
    }
    sim::CreditBatchResponse response;
    grpc::Status s = stack.control().CreditBatch(&ctx, request, &response);
    if (!s.ok()) Die(Cat("chainsim CreditBatch: ", s.error_message()));
  }
  stack.Mine(kChain, 3);
  const base::Amount expected(static_cast<base::Uint128>(coins) * kCoin);
  const auto give_up = Clock::now() + std::chrono::minutes(10);
  while (WalletLedgerBalance(auditor) != expected) {
    if (Clock::now() > give_up || HarnessFailed()) Die(Cat("custodyd did not credit the funding\n", stack.CustodydStderr()));
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

struct WithdrawalRun {
  uint64_t completed = 0;
  double seconds = 0;
  std::vector<double> latencies_ms;
  std::string error;
  double PerSecond() const { return seconds > 0 ? static_cast<double>(completed) / seconds : 0; }
};

// Keeps kInFlight withdrawals between CreateWithdrawal and "broadcast" until `duration` has
// passed or `max` were requested, then waits for the last ones.
WithdrawalRun RunWithdrawals(custody::testing::CustodyStack& stack, const std::vector<Client>& clients,
                             std::chrono::duration<double> duration, uint64_t max) {
  std::shared_ptr<grpc::Channel> channel = stack.ChannelAs("platform");
  std::unique_ptr<v1::Custody::Stub> stub = v1::Custody::NewStub(channel);
  struct State {
    std::mutex mu;
    std::condition_variable changed;
    std::map<std::string, Clock::time_point> sent;  // withdrawal id -> when its request was sent
    std::map<std::string, bool> seen_early;         // its event came before the create's answer: broadcast?
    uint64_t started = 0;
    int active = 0;
    bool stop = false;
    WithdrawalRun run;
  } state;
  const auto begin = Clock::now();
  const auto deadline = begin + std::chrono::duration_cast<Clock::duration>(duration);

  struct Call {
    grpc::ClientContext ctx;
    v1::CreateWithdrawalRequest request;
    v1::CreateWithdrawalResponse response;
    Clock::time_point sent;
  };
  std::function<void()> launch;
  // One withdrawal finished (or failed): start the next, if there is time.
  auto finish = [&](std::unique_lock<std::mutex>& lock) {
    const bool again = !state.stop && state.started < max && Clock::now() < deadline;
    if (!again) {
      --state.active;
      state.changed.notify_all();
      return;
    }
    lock.unlock();
    launch();
    lock.lock();
  };
  launch = [&] {
    auto* call = new Call;
    uint64_t n = 0;
    {
      std::lock_guard<std::mutex> lock(state.mu);
      n = state.started++;
    }
    const Client& c = clients[n % clients.size()];
    call->request.set_idempotency_key(Cat("bench-withdrawal-", n));
    call->request.set_client_id(c.id);
    call->request.set_asset_id("BTC");
    call->request.set_amount(std::to_string(kAmount));
    call->request.set_destination(c.destination);
    call->sent = Clock::now();
    stub->async()->CreateWithdrawal(&call->ctx, &call->request, &call->response, [call, &state, &finish](grpc::Status s) {
      std::unique_ptr<Call> owned(call);
      std::unique_lock<std::mutex> lock(state.mu);
      if (!s.ok() || call->response.withdrawal().state() != v1::WITHDRAWAL_STATE_APPROVED) {
        if (state.run.error.empty()) {
          state.run.error = s.ok() ? Cat("CreateWithdrawal answered ", call->response.withdrawal().DebugString())
                                   : Cat("CreateWithdrawal: ", s.error_message());
        }
        state.stop = true;
        finish(lock);
        return;
      }
      const std::string& id = call->response.withdrawal().withdrawal_id();
      if (auto early = state.seen_early.find(id); early != state.seen_early.end()) {  // the stream saw it first
        if (early->second) {
          state.run.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - call->sent).count());
          ++state.run.completed;
        }
        state.seen_early.erase(early);
        finish(lock);
        return;
      }
      state.sent[id] = call->sent;
    });
  };

  // The stream of withdrawal events: a broadcast one completes its withdrawal.
  grpc::ClientContext watch_ctx;
  v1::WatchWithdrawalsRequest watch_request;
  std::unique_ptr<grpc::ClientReader<v1::WithdrawalEvent>> watch = stub->WatchWithdrawals(&watch_ctx, watch_request);
  std::thread watcher([&] {
    v1::WithdrawalEvent event;
    while (watch->Read(&event)) {
      const bool broadcast = event.state() == v1::WITHDRAWAL_STATE_BROADCAST;
      const bool failed = event.state() == v1::WITHDRAWAL_STATE_FAILED;
      if (!broadcast && !failed) continue;
      std::unique_lock<std::mutex> lock(state.mu);
      if (failed && state.run.error.empty()) state.run.error = Cat("withdrawal failed: ", event.reason());
      if (failed) state.stop = true;
      auto it = state.sent.find(event.withdrawal_id());
      if (it == state.sent.end()) {
        state.seen_early[event.withdrawal_id()] = broadcast;
        continue;
      }
      if (broadcast) {
        state.run.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - it->second).count());
        ++state.run.completed;
      }
      state.sent.erase(it);
      finish(lock);
    }
  });

  {
    std::lock_guard<std::mutex> lock(state.mu);
    state.active = static_cast<int>(std::min<uint64_t>(kInFlight, max));
  }
  const int first = state.active;
  for (int i = 0; i < first; ++i) launch();
  {
    std::unique_lock<std::mutex> lock(state.mu);
    const bool done = state.changed.wait_for(lock, duration + std::chrono::minutes(5), [&] { return state.active == 0; });
    if (!done && state.run.error.empty()) state.run.error = Cat("withdrawals still in flight after the row\n", stack.CustodydStderr());
    state.run.seconds = Since(begin);
  }
  watch_ctx.TryCancel();
  watcher.join();
  watch->Finish();
  std::lock_guard<std::mutex> lock(state.mu);
  return state.run;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t at = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[at];
}

// bench_signer_tx's rows for Bitcoin with one approval, run now, on hsm_sim.
struct SignerRows {
  double sign_transaction = 0;
  double work_alone = 0;
  std::vector<std::string> lines;
};

double RateOf(const std::string& line) {
  // "<token> <what, 44 wide> <rate> /s ...": the number just before the first " /s".
  const size_t slash = line.find(" /s");
  if (slash == std::string::npos) return 0;
  const std::string before = line.substr(0, slash);
  const size_t start = before.find_last_of(' ');
  return std::strtod(before.substr(start == std::string::npos ? 0 : start + 1).c_str(), nullptr);
}

SignerRows RunSignerBench(double seconds, bool quick) {
  const std::string out_path = Cat("/tmp/bench_withdrawals_signer_tx.", getpid(), ".out");
  const std::string err_path = out_path + ".err";
  char length[32];
  std::snprintf(length, sizeof length, "--seconds %.3f", seconds);
  const std::string command = Cat("'", RINGFENCE_BENCH_SIGNER_TX, "' --token hsm_sim ",
                                  quick ? std::string("--quick") : std::string(length), " > '", out_path,
                                  "' 2> '", err_path, "'");
  const int code = std::system(command.c_str());
  std::ifstream in(out_path);
  std::ifstream err_in(err_path);
  std::stringstream err;
  err << err_in.rdbuf();
  std::remove(err_path.c_str());
  SignerRows rows;
  for (std::string line; std::getline(in, line);) {
    if (line.find("bitcoin P2WPKH, 1 appr.") == std::string::npos) continue;
    if (line.find("signing work alone") != std::string::npos) rows.work_alone = RateOf(line);
    if (line.find("SignTransaction bitcoin") != std::string::npos) rows.sign_transaction = RateOf(line);
    rows.lines.push_back(line);
  }
  std::remove(out_path.c_str());
  if (code != 0 || rows.sign_transaction <= 0 || rows.work_alone <= 0) {
    Die(Cat("bench_signer_tx did not run (status ", code, "):\n", err.str().substr(err.str().size() > 2000 ? err.str().size() - 2000 : 0)));
  }
  return rows;
}

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
      f.seconds = 1;
    } else if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      char* end = nullptr;
      f.seconds = std::strtod(argv[++i], &end);
      if (*end != '\0' || !(f.seconds > 0 && f.seconds <= 3600)) Die("--seconds takes a number of seconds, 0 < S <= 3600");
    } else {
      Die(Cat("unknown argument ", base::Clip(argv[i]), "; usage: bench_withdrawals [--seconds S] [--quick]"));
    }
  }
  return f;
}

int Main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const Flags flags = ParseFlags(argc, argv);
  if (sodium_init() < 0) Die("libsodium did not initialise");
  DefaultEnvironment();
  // Enough confirmed coins for the row at up to 400 withdrawals per second (one coin each).
  const size_t coins = flags.quick ? 2 * kInFlight : static_cast<size_t>(std::max(1.0, flags.seconds) * 400);

  // The reference first, on a machine the stack does not load yet.
  const SignerRows signer = RunSignerBench(flags.seconds, flags.quick);

  custody::testing::StackOptions options;
  options.executor = true;
  options.policy = BenchPolicy();
  custody::testing::CustodyStack stack(options);
  if (HarnessFailed()) Die("the custody stack did not start (see above)");
  std::printf("custodyd over gRPC/TLS (mTLS, platform certificate) at %s with its withdrawal executor, signerd on\n"
              "hsm_sim, chainsim; %d withdrawals in flight; %zu confirmed coins of %llu sat over %d clients\n",
              stack.address().c_str(), kInFlight, coins, static_cast<unsigned long long>(kCoin), kClients);
  WithdrawalRun run;
  {
    std::unique_ptr<v1::Custody::Stub> platform = stack.As("platform");
    std::unique_ptr<v1::Custody::Stub> approver = stack.As("approver");
    std::unique_ptr<v1::Custody::Stub> auditor = stack.As("auditor");
    const std::vector<Client> clients = SetUpClients(*platform, *approver);
    Fund(stack, *auditor, clients, coins);
    run = RunWithdrawals(stack, clients, std::chrono::duration<double>(flags.seconds), coins);
  }
  if (!run.error.empty()) Die(run.error);

  std::printf("\n");
  for (const std::string& line : signer.lines) std::printf("reference (bench_signer_tx, same run): %s\n", line.c_str());
  std::printf("%-62s %10.0f %-14s (%llu in %.2f s)\n", "withdrawals end to end (BTC, request to signed and broadcast)",
              run.PerSecond(), "withdrawals/s", static_cast<unsigned long long>(run.completed), run.seconds);
  std::printf("%-62s p50 %.0f ms, p99 %.0f ms\n", "    latency, CreateWithdrawal sent to broadcast event",
              Percentile(run.latencies_ms, 0.5), Percentile(run.latencies_ms, 0.99));
  const double share = run.PerSecond() / signer.sign_transaction;
  std::printf("%-62s %s\n",
              Cat("    ", static_cast<int>(share * 100 + 0.5), "% of SignTransaction (", static_cast<int>(signer.sign_transaction + 0.5),
                  "/s; work alone ", static_cast<int>(signer.work_alone + 0.5), "/s); goal >= 50%")
                  .c_str(),
              share >= 0.5 ? "meets goal" : "below goal");
  return 0;
}

}  // namespace
}  // namespace ringfence::custody::bench

int main(int argc, char** argv) {
  ringfence::rpc::DisableMutexDeadlockDetection();  // as the daemons do
  return ringfence::custody::bench::Main(argc, argv);
}

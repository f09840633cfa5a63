// Policy engine throughput: decisions per second for withdrawal and allocation evaluation, with
// two reference rows measured in the same run: a trivial baseline (one checked addition per
// iteration, the floor any decision pays) and the SHA-256 policy hash over the canonical
// policy text (what identifying the policy version costs once per policy load).
#include <cstdio>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "policy/allocation.h"
#include "policy/config.h"
#include "policy/record.h"
#include "policy/withdrawal.h"

namespace ringfence::policy {
namespace {

using base::Amount;
using base::Uint128;

constexpr const char* kPolicy = R"(version = 1
[groups.ops]
members = ["alice", "bob", "carol"]
[groups.treasury]
members = ["tara", "tom"]
[assets.BTC]
decimals = 8
[assets.BTC.withdrawal]
per_request_limit = "10"
client_windows = [{ seconds = 3600, limit = "12" }, { seconds = 86400, limit = "20" }]
asset_windows = [{ seconds = 86400, limit = "100" }]
approval_tiers = [{ min_amount = "1", group = "ops", k = 1 }, { min_amount = "5", group = "ops", k = 2 }]
delay = { min_amount = "8", seconds = 1800 }
[assets.BTC.whitelist]
cooling_off_seconds = 86400
approvals = { group = "ops", k = 2 }
[assets.BTC.allocation]
hot_floor = "0.5"
min_sweep = "0.1"
top_up_approvals = { group = "treasury", k = 2 }
[assets.ETH]
decimals = 18
[assets.ETH.withdrawal]
per_request_limit = "1000"
[assets.ETH.whitelist]
cooling_off_seconds = 0
approvals = { group = "ops", k = 1 }
[assets.ETH.allocation]
top_up_approvals = { group = "treasury", k = 1 }
[assets.SOL]
decimals = 9
[assets.SOL.withdrawal]
per_request_limit = "1000"
[assets.SOL.whitelist]
cooling_off_seconds = 0
approvals = { group = "ops", k = 1 }
[assets.SOL.allocation]
top_up_approvals = { group = "treasury", k = 1 }
)";

const Policy& BenchPolicy() {
  static const Policy* p = new Policy(*ParsePolicy(kPolicy));
  return *p;
}

// A withdrawal with `outflows` entries in each history (a busy client and asset).
WithdrawalInput MakeWithdrawal(int outflows) {
  WithdrawalInput in;
  in.now = 1000000;
  in.request = {ClientId("client-1"), AssetId("BTC"), Amount(550000000), Address("bc1qdest"), PrincipalId("dave")};
  in.available_balance = Amount(5000000000);
  in.whitelist_entry = WhitelistEntry{Address("bc1qdest"), 900000};
  for (int i = 0; i < outflows; ++i) {
    in.client_outflows.push_back({Amount(1000 + i), in.now - 40 * i});
    in.asset_outflows.push_back({Amount(5000 + i), in.now - 20 * i});
  }
  return in;
}

void BM_Baseline_CheckedAdd(benchmark::State& state) {
  Amount a(12345);
  const Amount b(1);
  for (auto _ : state) {
    a = *a.CheckedAdd(b);
    benchmark::DoNotOptimize(a);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Baseline_CheckedAdd);

void BM_PolicyHash_Sha256Canonical(benchmark::State& state) {
  const Policy& p = BenchPolicy();
  for (auto _ : state) {
    std::string h = Sha256Hex(CanonicalPolicyJson(p));
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PolicyHash_Sha256Canonical);

void BM_Withdrawal(benchmark::State& state) {
  const Policy& p = BenchPolicy();
  const WithdrawalInput in = MakeWithdrawal(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    absl::StatusOr<WithdrawalDecision> d = DecideWithdrawal(p, in);
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("decisions; arg = outflows per history");
}
BENCHMARK(BM_Withdrawal)->Arg(0)->Arg(10)->Arg(100);

void BM_Withdrawal_WithRecord(benchmark::State& state) {
  const Policy& p = BenchPolicy();
  const std::string input = WithdrawalInputJson(MakeWithdrawal(10));
  for (auto _ : state) {
    absl::StatusOr<std::string> r = MakeRecord(p, "withdrawal", input, std::nullopt);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("parse input + decide + canonical record");
}
BENCHMARK(BM_Withdrawal_WithRecord);

void BM_Allocation(benchmark::State& state) {
  const Policy& p = BenchPolicy();
  AllocationInput in;
  in.assets.push_back({AssetId("BTC"), Amount(2500000000), Amount(97500000000), Amount(0), Amount(0), Amount(10000000),
                       Price{1, 1}});
  in.assets.push_back({AssetId("ETH"), Amount(Uint128{199} * 1000000000000000000ULL),
                       Amount(Uint128{9801} * 1000000000000000000ULL), Amount(0), Amount(0), Amount(0),
                       Price{1, 1000000000000ULL}});
  in.assets.push_back({AssetId("SOL"), Amount(20500000000), Amount(979500000000), Amount(0), Amount(0), Amount(0),
                       Price{3, 1000}});
  for (auto _ : state) {
    absl::StatusOr<AllocationDecision> d = DecideAllocation(p, in);
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("decisions over 3 assets with aggregate cap");
}
BENCHMARK(BM_Allocation);

}  // namespace
}  // namespace ringfence::policy

int main(int argc, char** argv) {
  std::printf(
      "bench_policy: rows are decisions per second (items_per_second).\n"
      "  reference rows: BM_Baseline_CheckedAdd = one checked 128-bit addition (the floor of any\n"
      "  decision); BM_PolicyHash_Sha256Canonical = canonical JSON + SHA-256 of a 3-asset policy.\n");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

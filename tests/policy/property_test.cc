// Property tests over random inputs, each run under a fixed seed and a few more seeds, checking
// the decisions against independent, deliberately plain re-computations.
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "policy/allocation.h"
#include "base/amount.h"
#include "policy/config.h"
#include "policy/quorum.h"
#include "policy/withdrawal.h"

namespace ringfence::policy {
namespace {

using base::Amount;
using base::Uint128;
using base::ParseBaseUnits;
using base::ParseDecimalAmount;
using base::FormatDecimalAmount;
using base::kMaxDecimals;

constexpr uint64_t kSeeds[] = {20260101, 1, 42, 0xC0FFEE, 987654321};
constexpr int kIterations = 4000;

Uint128 Rand128(std::mt19937_64& rng) { return (Uint128{rng()} << 64) | rng(); }
uint64_t Below(std::mt19937_64& rng, uint64_t n) { return n == 0 ? 0 : rng() % n; }

// A random policy with one asset "X" (8 decimals), written as TOML so that every run also goes
// through the parser.
Policy RandomPolicy(std::mt19937_64& rng) {
  const uint64_t cap = Below(rng, 1000001);
  const uint64_t target = Below(rng, cap + 1);
  auto ppm = [](uint64_t v) { return FormatDecimalAmount(Amount(v), 6); };
  std::string t = "version = 1\n[groups.g]\nmembers = [\"a\", \"b\", \"c\", \"d\"]\napproval_ttl_seconds = " +
                  std::to_string(1 + Below(rng, 5000)) + "\n";
  t += "[assets.X]\ndecimals = 8\n[assets.X.withdrawal]\nper_request_limit = " + std::to_string(Below(rng, 2000000)) + "\n";
  t += "client_windows = [{ seconds = " + std::to_string(1 + Below(rng, 5000)) + ", limit = " +
       std::to_string(Below(rng, 4000000)) + " }, { seconds = 100000, limit = " + std::to_string(Below(rng, 8000000)) + " }]\n";
  t += "asset_windows = [{ seconds = " + std::to_string(1 + Below(rng, 100000)) + ", limit = " +
       std::to_string(Below(rng, 10000000)) + " }]\n";
  t += "approval_tiers = [{ min_amount = " + std::to_string(Below(rng, 1000000)) + ", group = \"g\", k = 2 }]\n";
  t += "[assets.X.whitelist]\ncooling_off_seconds = " + std::to_string(Below(rng, 5000)) +
       "\napprovals = { group = \"g\", k = 2 }\n";
  t += "[assets.X.allocation]\nhot_cap = \"" + ppm(cap) + "\"\nhot_target = \"" + ppm(target) + "\"\n";
  t += "hot_floor = " + std::to_string(Below(rng, 3) == 0 ? 0 : Below(rng, 1ULL << 40)) + "\n";
  t += "min_sweep = " + std::to_string(Below(rng, 3) == 0 ? 0 : Below(rng, 1ULL << 38)) + "\n";
  t += "top_up_approvals = { group = \"g\", k = 3 }\n";
  t += "[assets.X.coverage]\ncold_share = \"" + ppm(Below(rng, 1000001)) + "\"\nconfigured_cover = " +
       std::to_string(rng() >> 1) + "\n";
  absl::StatusOr<Policy> p = ParsePolicy(t);
  if (!p.ok()) {
    ADD_FAILURE() << p.status() << "\n" << t;
    std::abort();
  }
  return *std::move(p);
}

Uint128 WindowSum(const std::vector<Outflow>& v, int64_t now, int64_t seconds) {
  Uint128 s = 0;
  for (const Outflow& o : v) {
    if (o.at > now - seconds) s += o.amount.base_units();  // small amounts: cannot wrap
  }
  return s;
}

std::vector<Outflow> RandomOutflows(std::mt19937_64& rng, int64_t now) {
  std::vector<Outflow> v(Below(rng, 5));
  for (Outflow& o : v) {
    o.amount = Amount(Below(rng, 3000000));
    o.at = now - static_cast<int64_t>(Below(rng, 120000)) + 50;
  }
  return v;
}

TEST(PolicyProperty, AllowedWithdrawalNeverExceedsALimit) {
  for (uint64_t seed : kSeeds) {
    std::mt19937_64 rng(seed);
    int allowed = 0, denied = 0;
    Policy policy;
    for (int i = 0; i < kIterations; ++i) {
      // A fresh policy every few inputs: parsing dominates the run time otherwise.
      if (i % 8 == 0) policy = RandomPolicy(rng);
      const AssetPolicy& x = *policy.FindAsset(AssetId("X"));
      WithdrawalInput in;
      in.now = 1000000 + static_cast<int64_t>(Below(rng, 1000));
      in.request = {ClientId("c"), AssetId("X"), Amount(Below(rng, 3000000)), Address("dest"), PrincipalId("r")};
      in.available_balance = Amount(Below(rng, 4000000));
      const uint64_t wl = Below(rng, 4);
      if (wl != 0) in.whitelist_entry = WhitelistEntry{Address(wl == 1 ? "other" : "dest"), in.now - static_cast<int64_t>(Below(rng, 6000))};
      in.client_outflows = RandomOutflows(rng, in.now);
      in.asset_outflows = RandomOutflows(rng, in.now);
      in.client_frozen = Below(rng, 20) == 0;
      in.asset_frozen = Below(rng, 20) == 0;
      absl::StatusOr<WithdrawalDecision> d = DecideWithdrawal(policy, in);
      ASSERT_TRUE(d.ok()) << d.status();

      const Uint128 amount = in.request.amount.base_units();
      bool ok = !in.client_frozen && !in.asset_frozen && amount <= x.per_request_limit.base_units() &&
                amount <= in.available_balance.base_units() && in.whitelist_entry &&
                in.whitelist_entry->destination == in.request.destination &&
                in.now >= in.whitelist_entry->added_at + x.whitelist_cooling_off_seconds;
      for (const RollingWindow& w : x.client_windows) {
        ok = ok && WindowSum(in.client_outflows, in.now, w.seconds) + amount <= w.limit.base_units();
      }
      for (const RollingWindow& w : x.asset_windows) {
        ok = ok && WindowSum(in.asset_outflows, in.now, w.seconds) + amount <= w.limit.base_units();
      }
      ASSERT_EQ(d->allowed, ok) << "seed " << seed << " iteration " << i;
      ASSERT_EQ(d->allowed, d->denials.empty());
      if (d->allowed) {
        ++allowed;
        const bool needs = !x.approval_tiers.empty() && in.request.amount >= x.approval_tiers[0].min_amount;
        ASSERT_EQ(d->approvals.k, needs ? 2u : 0u);
      } else {
        ++denied;
      }
    }
    EXPECT_GT(allowed, 0) << "seed " << seed << " never allowed: the property was not exercised";
    EXPECT_GT(denied, 0);
  }
}

TEST(PolicyProperty, SweepBringsHotUnderCapWheneverTheFloorAllows) {
  for (uint64_t seed : kSeeds) {
    std::mt19937_64 rng(seed);
    int swept = 0;
    Policy policy;
    for (int i = 0; i < kIterations; ++i) {
      // A fresh policy every few inputs: parsing dominates the run time otherwise.
      if (i % 8 == 0) policy = RandomPolicy(rng);
      const AssetPolicy& x = *policy.FindAsset(AssetId("X"));
      AssetHoldings h;
      h.asset = AssetId("X");
      const int shift = static_cast<int>(Below(rng, 90));
      h.hot = Amount(Rand128(rng) >> (38 + shift));
      h.cold = Amount(Rand128(rng) >> (30 + Below(rng, 90)));
      h.in_flight_to_cold = Amount(Below(rng, 3) == 0 ? Rand128(rng) >> 90 : 0);
      if (Below(rng, 4) == 0) h.pending_withdrawals = Amount(Below(rng, 1ULL << 40) % (h.hot.base_units() + 1));
      AllocationInput in;
      in.assets.push_back(h);
      absl::StatusOr<AllocationDecision> d = DecideAllocation(policy, in);
      ASSERT_TRUE(d.ok()) << d.status();
      const AssetAllocation& a = d->assets[0];
      const Uint128 total = h.hot.base_units() + h.cold.base_units() + h.in_flight_to_cold.base_units() -
                            h.pending_withdrawals.base_units();
      const Uint128 hot = h.hot.base_units() - h.pending_withdrawals.base_units();
      ASSERT_EQ(a.total.base_units(), total);
      ASSERT_EQ(a.hot_projected.base_units(), hot);
      // cap = floor(total * ppm / 10^6): cap * 10^6 <= total * ppm < (cap + 1) * 10^6, checked
      // with small enough totals to multiply directly.
      if (total < (Uint128{1} << 100)) {
        ASSERT_LE(a.cap_amount.base_units() * 1000000, total * x.hot_cap.ppm());
        ASSERT_GT((a.cap_amount.base_units() + 1) * 1000000, total * x.hot_cap.ppm());
      }
      const Uint128 cap = a.cap_amount.base_units();
      const Uint128 floor = x.hot_floor.base_units();
      if (a.action == AllocationAction::kSweep) {
        ++swept;
        ASSERT_GE(a.amount, x.min_sweep);
        ASSERT_GE(a.hot_after, x.hot_floor);
        ASSERT_EQ(a.hot_after.base_units(), hot - a.amount.base_units());
      } else if (a.action == AllocationAction::kTopUp) {
        ASSERT_LE(a.amount, h.cold);
        ASSERT_LT(hot, floor);
        ASSERT_EQ(a.approvals.k, 3u);
      }
      if (hot > cap && cap >= floor && hot - floor >= x.min_sweep.base_units()) {
        ASSERT_EQ(a.action, AllocationAction::kSweep) << "seed " << seed << " iteration " << i;
        ASSERT_LE(a.hot_after.base_units(), cap) << "seed " << seed << " iteration " << i;
        ASSERT_TRUE(a.within_cap);
      }
      if (hot <= cap && hot >= floor) {
        ASSERT_EQ(a.action, AllocationAction::kNone);
      }
    }
    EXPECT_GT(swept, 0) << "seed " << seed << " never swept: the property was not exercised";
  }
}

// A 192-bit product a * b, for checking 128-bit arithmetic from outside it.
struct U192 {
  uint64_t w[3];
};
U192 Mul(Uint128 a, uint64_t b) {
  const Uint128 lo = static_cast<Uint128>(static_cast<uint64_t>(a)) * b;
  const Uint128 hi = static_cast<Uint128>(static_cast<uint64_t>(a >> 64)) * b;
  U192 r;
  r.w[0] = static_cast<uint64_t>(lo);
  const Uint128 mid = (lo >> 64) + static_cast<uint64_t>(hi);
  r.w[1] = static_cast<uint64_t>(mid);
  r.w[2] = static_cast<uint64_t>(hi >> 64) + static_cast<uint64_t>(mid >> 64);
  return r;
}
int Compare(const U192& a, const U192& b) {
  for (int i = 2; i >= 0; --i) {
    if (a.w[i] != b.w[i]) return a.w[i] < b.w[i] ? -1 : 1;
  }
  return 0;
}

TEST(PolicyProperty, CoverageNeverOverflowsOrRoundsSilently) {
  for (uint64_t seed : kSeeds) {
    std::mt19937_64 rng(seed);
    int overflowed = 0, rounded = 0;
    Policy policy;
    for (int i = 0; i < kIterations; ++i) {
      // A fresh policy every few inputs: parsing dominates the run time otherwise.
      if (i % 8 == 0) policy = RandomPolicy(rng);
      const AssetPolicy& x = *policy.FindAsset(AssetId("X"));
      CoverageInput in;
      // Full-width values a quarter of the time, so that sums near 2^128 are common.
      auto wide = [&rng]() { return Amount(Rand128(rng) >> (Below(rng, 4) == 0 ? 0 : Below(rng, 128))); };
      in.assets.push_back({AssetId("X"), wide(), wide()});
      const Uint128 hot = in.assets[0].hot.base_units();
      const Uint128 cold = in.assets[0].cold.base_units();
      absl::StatusOr<CoverageDecision> d = DecideCoverage(policy, in);
      // Independent: c = ceil(cold * ppm / 10^6) is the one value with
      // (c - 1) * 10^6 < cold * ppm <= c * 10^6.
      const U192 exact = Mul(cold, x.cold_cover_share.ppm());
      if (!d.ok()) {
        ++overflowed;
        ASSERT_EQ(d.status().code(), absl::StatusCode::kOutOfRange);
        // Overflow must be real: cold part alone fits, so hot + cold part must not.
        const Uint128 c_floor = cold / 1000000 * x.cold_cover_share.ppm() +
                                cold % 1000000 * x.cold_cover_share.ppm() / 1000000;
        ASSERT_GT(hot, ~Uint128{0} - c_floor - 1) << "seed " << seed;
        continue;
      }
      const AssetCoverage& c = d->assets[0];
      ASSERT_GE(Compare(Mul(c.cold_part.base_units(), 1000000), exact), 0);
      if (c.cold_part.base_units() > 0) {
        ASSERT_LT(Compare(Mul(c.cold_part.base_units() - 1, 1000000), exact), 0);
      }
      const bool is_exact = Compare(Mul(c.cold_part.base_units(), 1000000), exact) == 0;
      ASSERT_EQ(c.cold_part_rounded, !is_exact);
      rounded += c.cold_part_rounded;
      ASSERT_EQ(c.required.base_units() - c.cold_part.base_units(), hot);
      ASSERT_GE(c.required.base_units(), hot) << "required wrapped";
      const Uint128 shortfall = c.required > x.configured_cover ? c.required.base_units() - x.configured_cover.base_units() : 0;
      ASSERT_EQ(c.shortfall.base_units(), shortfall);
      ASSERT_EQ(c.covered, shortfall == 0);
    }
    EXPECT_GT(overflowed, 0) << "seed " << seed;
    EXPECT_GT(rounded, 0) << "seed " << seed;
  }
}

TEST(PolicyProperty, QuorumMatchesAPlainCount) {
  for (uint64_t seed : kSeeds) {
    std::mt19937_64 rng(seed);
    const Policy policy = RandomPolicy(rng);
    const ApproverGroup& g = *policy.FindGroup(GroupId("g"));
    const char* names[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < kIterations; ++i) {
      QuorumInput in;
      in.rule = {GroupId("g"), static_cast<uint32_t>(1 + Below(rng, 4))};
      in.requester = PrincipalId(names[Below(rng, 5)]);
      in.now = 1000000;
      for (uint64_t n = Below(rng, 7); n > 0; --n) {
        in.approvals.push_back({PrincipalId(names[Below(rng, 5)]), in.now - static_cast<int64_t>(Below(rng, 2 * g.approval_ttl_seconds)) + 5});
      }
      absl::StatusOr<QuorumDecision> d = DecideQuorum(policy, in);
      ASSERT_TRUE(d.ok()) << d.status();
      std::set<std::string> valid;
      for (const Approval& a : in.approvals) {
        if (a.approver != in.requester && a.approver.value() != "e" && a.approved_at <= in.now &&
            in.now - a.approved_at < g.approval_ttl_seconds) {
          valid.insert(a.approver.value());
        }
      }
      ASSERT_EQ(d->counted.size(), valid.size());
      ASSERT_EQ(d->met, valid.size() >= in.rule.k);
      ASSERT_EQ(d->counted.size() + d->rejected.size(), in.approvals.size());
    }
  }
}

TEST(PolicyProperty, DecimalTextRoundTrips) {
  for (uint64_t seed : kSeeds) {
    std::mt19937_64 rng(seed);
    for (int i = 0; i < kIterations; ++i) {
      const Amount a(Rand128(rng) >> Below(rng, 128));
      const int decimals = static_cast<int>(Below(rng, kMaxDecimals + 1));
      const std::string text = FormatDecimalAmount(a, decimals);
      absl::StatusOr<Amount> back = ParseDecimalAmount(text, decimals);
      ASSERT_TRUE(back.ok()) << text << " " << back.status();
      ASSERT_EQ(*back, a) << text;
      ASSERT_EQ(*ParseBaseUnits(a.ToBaseUnitString()), a);
    }
  }
}

}  // namespace
}  // namespace ringfence::policy

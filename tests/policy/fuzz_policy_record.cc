// Fuzz target: decision records and inputs (strict JSON). The text is replayed against the
// test policy embedded below; a malformed record must be an error, never a crash.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/record.h"

namespace {

constexpr const char* kPolicy = R"(version = 1
[groups.ops]
members = ["alice", "bob", "carol"]
[assets.BTC]
decimals = 8
[assets.BTC.withdrawal]
per_request_limit = "10"
client_windows = [{ seconds = 3600, limit = "12" }]
approval_tiers = [{ min_amount = "1", group = "ops", k = 2 }]
delay = { min_amount = "5", seconds = 60 }
[assets.BTC.whitelist]
cooling_off_seconds = 60
approvals = { group = "ops", k = 2 }
[assets.BTC.allocation]
hot_floor = "0.5"
min_sweep = "0.1"
top_up_approvals = { group = "ops", k = 2 }
)";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const ringfence::policy::Policy* policy =
      new ringfence::policy::Policy(*ringfence::policy::ParsePolicy(kPolicy));
  absl::StatusOr<ringfence::policy::ReplayResult> r = ringfence::policy::Replay(text, kPolicy);
  (void)r;
  for (std::string_view kind : ringfence::policy::kDecisionKinds) {
    absl::StatusOr<std::string> out = ringfence::policy::EvaluateJson(*policy, kind, text);
    if (out.ok()) {
      // A decision that evaluates once must record and replay as the same decision.
      absl::StatusOr<std::string> rec = ringfence::policy::MakeRecord(*policy, kind, text, std::nullopt);
      if (!rec.ok()) std::abort();
      absl::StatusOr<ringfence::policy::ReplayResult> again = ringfence::policy::Replay(*rec, kPolicy);
      if (!again.ok() || !again->same()) std::abort();
    }
  }
  return 0;
}

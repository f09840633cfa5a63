// custodyd's configuration parser under arbitrary text. A configuration file is outside input
// (an operator's typo, a hostile edit): whatever the bytes, ParseConfig returns a config that
// keeps every documented rule, or an error whose message stays short (quotes are clipped).
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/check.h"
#include "custody/config.h"

namespace {

using ringfence::custody::Config;

void CheckAccepted(const Config& config) {
  std::set<std::string> ids;
  for (const auto& asset : config.assets) {
    RF_CHECK(!asset.id.empty() && asset.id.size() <= 32, "asset id length outside 1..32 accepted");
    RF_CHECK(ids.insert(asset.id).second, "a duplicate asset id was accepted");
    RF_CHECK(asset.decimals <= 38, "decimals above 38 accepted");
    RF_CHECK(asset.confirmations >= 1 && asset.confirmations <= 10000, "confirmations outside 1..10000 accepted");
    RF_CHECK(config.FindChain(asset.chain) != nullptr, "an asset names a chain that is not configured");
    RF_CHECK(asset.erc20_contract.empty() || asset.chain == "ethereum", "an ERC-20 contract on a non-Ethereum asset");
    RF_CHECK(!asset.price || (*asset.price > 0 && asset.decimals <= 19), "a zero price, or a price of 20+ decimals");
    RF_CHECK(!asset.receivable_threshold || !asset.receivable_threshold->is_zero(), "a zero receivable threshold");
  }
  for (const auto& cover : config.coverage.covers) {
    RF_CHECK(config.FindAsset(cover.asset_id) != nullptr, "a cover of an asset that is not configured");
    RF_CHECK(!cover.policy.empty() && cover.policy.size() <= 128, "a cover policy name outside 1..128 bytes");
  }
  if (config.allocation) {
    RF_CHECK(config.allocation->reference_decimals <= 18,
             "allocation figures out of range accepted");
  }
  if (config.reconciliation) {
    RF_CHECK(config.withdrawals && config.withdrawals->executor, "[reconciliation] accepted without the executor");
    RF_CHECK(config.reconciliation->lift_approvals >= 1 && config.reconciliation->lift_approvals <= 16,
             "lift_approvals outside 1..16 accepted");
    RF_CHECK(!config.reconciliation->lift_group.empty() && config.reconciliation->lift_group.size() <= 32,
             "a lift group id outside 1..32 bytes accepted");
  }
  std::set<std::string> chains;
  for (const auto& chain : config.chains) {
    RF_CHECK(chains.insert(chain.name).second, "a duplicate chain was accepted");
    RF_CHECK(chain.poll_interval_ms >= 10 && chain.poll_interval_ms <= 600000, "poll interval outside 10..600000");
  }
  for (const auto& role : config.roles) {
    RF_CHECK(role.subject.empty() != role.san.empty(), "a role rule with both or neither of subject and san");
  }
  RF_CHECK(!config.database_path.empty() && config.database_path.front() == '/', "a relative database path");
  RF_CHECK(!config.signer_socket.empty() && config.signer_socket.front() == '/', "a relative signer socket path");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Config> config = ringfence::custody::ParseConfig(text, "fuzz.toml");
  if (config.ok()) {
    CheckAccepted(*config);
  } else {
    RF_CHECK(config.status().code() == absl::StatusCode::kInvalidArgument, "a parse error that is not InvalidArgument");
    // Any quote of the input is clipped, so the message stays short however large the input.
    RF_CHECK(config.status().message().size() <= 1024, "an error message that quotes input unclipped");
  }
  return 0;
}

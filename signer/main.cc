// signerd: the isolated signer. Parses flags, wires the optional transaction-signing service
// in, and runs signer::RunSignerd.
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "signer/config.h"
#include "signer/server.h"
#if RINGFENCE_SIGNERD_WITH_TX
#include "signer/tx/service.h"
#endif

namespace {

void PrintError(const absl::Status& s) {
  std::fprintf(stderr, "signerd: %s\n", std::string(s.message()).c_str());
}

}  // namespace

// `signerd bind-key`: binds a key made before wallet bindings existed. Offline: refused while
// a signerd runs on the same database.
int BindKey(const std::string& config_path, const std::string& key_id, ringfence::signer::WalletBinding binding,
            const std::string& owner, const std::string& tier) {
  absl::StatusOr<ringfence::signer::OwnerClass> owner_class = ringfence::signer::ParseOwnerClassName(owner);
  if (!owner_class.ok()) {
    std::fprintf(stderr, "signerd: --owner: must be client or house\n");
    return 2;
  }
  absl::StatusOr<ringfence::signer::Tier> parsed_tier = ringfence::signer::ParseTierName(tier);
  if (!parsed_tier.ok()) {
    std::fprintf(stderr, "signerd: --tier: must be hot or cold\n");
    return 2;
  }
  binding.owner_class = *owner_class;
  binding.tier = *parsed_tier;
  absl::StatusOr<ringfence::signer::Config> config = ringfence::signer::LoadConfig(config_path);
  if (!config.ok()) {
    PrintError(config.status());
    return 2;
  }
  absl::StatusOr<ringfence::signer::LogEntry> entry = ringfence::signer::BindKeyOffline(*config, key_id, binding);
  if (!entry.ok()) {
    PrintError(entry.status());
    return entry.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::printf("key %s bound to wallet %s (%s %s-%s); sign log entry %llu\n", key_id.c_str(),
              binding.wallet_id.c_str(), binding.asset.c_str(), owner.c_str(), tier.c_str(),
              static_cast<unsigned long long>(entry->seq));
  return 0;
}

int main(int argc, char** argv) {
  CLI::App app{"signerd: Ringfence's signer, serving keys on a PKCS#11 token over a Unix socket"};
  std::string config_path;
  bool verify_log = false;
  app.add_option("--config", config_path, "TOML configuration file (docs/signer.md)");
  app.add_flag("--verify-log", verify_log, "verify the sign log's hash chain and exit");

  CLI::App* bind = app.add_subcommand(
      "bind-key", "bind a key made before wallet bindings existed (offline: stop signerd first)");
  std::string bind_config, key_id, owner, tier;
  ringfence::signer::WalletBinding binding;
  bind->add_option("--config", bind_config, "signerd's TOML configuration file")->required();
  bind->add_option("--key-id", key_id, "the key's id (32 lowercase hex characters)")->required();
  bind->add_option("--wallet-id", binding.wallet_id, "the wallet the key belongs to")->required();
  bind->add_option("--asset", binding.asset, "the wallet's asset id, as in the transaction config")->required();
  bind->add_option("--owner", owner, "client or house")->required();
  bind->add_option("--tier", tier, "hot or cold")->required();
  CLI11_PARSE(app, argc, argv);
  if (bind->parsed()) return BindKey(bind_config, key_id, binding, owner, tier);
  if (config_path.empty()) {
    std::fprintf(stderr, "signerd: --config is required\n");
    return 2;
  }

  absl::StatusOr<ringfence::signer::Config> config = ringfence::signer::LoadConfig(config_path);
  if (!config.ok()) {
    PrintError(config.status());
    return 2;
  }
  if (verify_log) {
    absl::StatusOr<uint64_t> n = ringfence::signer::VerifySignLog(*config);
    if (!n.ok()) {
      PrintError(n.status());
      return 1;
    }
    std::printf("sign log verified: %llu entries\n", static_cast<unsigned long long>(*n));
    return 0;
  }

  std::vector<ringfence::signer::ServiceFactory> services;
  if (config->transactions.has_value()) {
#if RINGFENCE_SIGNERD_WITH_TX
    std::string tx_config = config->transactions->config;
    services.push_back([tx_config](const ringfence::signer::SignerdParts& parts) {
      return ringfence::signer::tx::MakeTransactionSignerService(tx_config, parts.token, parts.store);
    });
#else
    std::fprintf(stderr, "signerd: config: [transactions] is set but this signerd was built "
                         "without transaction signing (signer/tx)\n");
    return 2;
#endif
  }
  absl::Status s = ringfence::signer::RunSignerd(*config, services);
  if (!s.ok()) {
    PrintError(s);
    return 1;
  }
  return 0;
}

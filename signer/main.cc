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

int main(int argc, char** argv) {
  CLI::App app{"signerd: Ringfence's signer, serving keys on a PKCS#11 token over a Unix socket"};
  std::string config_path;
  bool verify_log = false;
  app.add_option("--config", config_path, "TOML configuration file (docs/signer.md)")->required();
  app.add_flag("--verify-log", verify_log, "verify the sign log's hash chain and exit");
  CLI11_PARSE(app, argc, argv);

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

// signerd: the isolated signer. Parses flags and runs signer::RunSignerd.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "signer/config.h"
#include "signer/server.h"

int main(int argc, char** argv) {
  CLI::App app{"signerd: Ringfence's signer, serving keys on a PKCS#11 token over a Unix socket"};
  std::string config_path;
  bool verify_log = false;
  app.add_option("--config", config_path, "TOML configuration file (docs/signer.md)")->required();
  app.add_flag("--verify-log", verify_log, "verify the sign log's hash chain and exit");
  CLI11_PARSE(app, argc, argv);

  absl::StatusOr<ringfence::signer::Config> config = ringfence::signer::LoadConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "signerd: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  if (verify_log) {
    absl::StatusOr<uint64_t> n = ringfence::signer::VerifySignLog(*config);
    if (!n.ok()) {
      std::fprintf(stderr, "signerd: %s\n", std::string(n.status().message()).c_str());
      return 1;
    }
    std::printf("sign log verified: %llu entries\n", static_cast<unsigned long long>(*n));
    return 0;
  }
  absl::Status s = ringfence::signer::RunSignerd(*config);
  if (!s.ok()) {
    std::fprintf(stderr, "signerd: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}

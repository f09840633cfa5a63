// signerd: the isolated signer. Parses flags, wires the optional transaction-signing service
// in, and runs signer::RunSignerd.
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "rpc/process.h"
#include "signer/config.h"
#include "signer/server.h"
#if RINGFENCE_SIGNERD_WITH_TX
#include "signer/tx/service.h"
#endif
#if RINGFENCE_SIGNERD_WITH_OFFLINE
#include <fstream>
#include <span>

#include "base/hex.h"
#include "signer/offline/offline_signer.h"
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

#if RINGFENCE_SIGNERD_WITH_OFFLINE
namespace offline_cli {

// Exit codes of the offline commands: 0 done, 2 bad usage or a malformed file, 3 refused (a
// rule of signing, or a wallet mismatch), 1 anything else (token, database).
int ExitCode(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      return 2;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
      return 3;
    default:
      return 1;
  }
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError("--in: cannot open " + path);
  // One byte beyond the largest file any reader takes, so an oversized file is refused by size.
  std::string text(ringfence::offline::kMaxBundleFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

// Writes beside the target and renames, so a reader never sees half a file.
absl::Status WriteFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return absl::UnavailableError("--out: cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return absl::UnavailableError("--out: cannot rename to " + path);
  return absl::OkStatus();
}

struct Options {
  std::string command;  // identity | create-keys | sign
  bool create = false;
  bool again = false;
  ringfence::signer::WalletBinding binding;
  std::string owner, tier;
  size_t count = 1;
  std::string in, out;
};

int Run(const ringfence::signer::Config& config, const Options& o) {
  using ringfence::signer::offline::OfflineSigner;
  absl::StatusOr<std::unique_ptr<OfflineSigner>> signer = OfflineSigner::Open(config);
  if (!signer.ok()) {
    PrintError(signer.status());
    return ExitCode(signer.status());
  }
  absl::Status status;
  if (o.command == "identity") {
    absl::StatusOr<ringfence::offline::IdentityKey> key = (*signer)->Identity(o.create);
    if (key.ok()) {
      std::printf("offline signer identity (Ed25519): %s\n",
                  ringfence::base::HexEncode(std::span<const uint8_t>(*key)).c_str());
      return 0;
    }
    status = key.status();
  } else {
    absl::StatusOr<std::string> file;
    if (o.command == "create-keys") {
      ringfence::signer::WalletBinding binding = o.binding;
      absl::StatusOr<ringfence::signer::OwnerClass> owner = ringfence::signer::ParseOwnerClassName(o.owner);
      absl::StatusOr<ringfence::signer::Tier> tier = ringfence::signer::ParseTierName(o.tier);
      if (!owner.ok() || !tier.ok()) {
        std::fprintf(stderr, "signerd: --owner must be client or house and --tier hot or cold\n");
        return 2;
      }
      binding.owner_class = *owner;
      binding.tier = *tier;
      file = (*signer)->CreateKeys(binding, o.count);
    } else {
      absl::StatusOr<std::string> bundle = ReadFile(o.in);
      if (bundle.ok()) {
        file = (*signer)->Sign(*bundle, o.again);
      } else {
        file = bundle.status();
      }
    }
    if (file.ok()) {
      status = WriteFile(o.out, *file);
      if (status.ok()) {
        std::printf("%s written to %s\n", o.command == "sign" ? "signed bundle" : "cold-key file", o.out.c_str());
        return 0;
      }
    } else {
      status = file.status();
    }
  }
  PrintError(status);
  return ExitCode(status);
}

}  // namespace offline_cli
#endif

int main(int argc, char** argv) {
  ringfence::rpc::DisableMutexDeadlockDetection();
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
#if RINGFENCE_SIGNERD_WITH_OFFLINE
  // `signerd --offline --config COLD.toml <command>`: the cold signer; no socket is opened.
  bool offline = false;
  app.add_flag("--offline", offline, "run one offline signer command (no socket): identity, create-keys, sign");
  offline_cli::Options off;
  CLI::App* identity = app.add_subcommand("identity", "offline: print the identity public key");
  identity->add_flag("--create", off.create, "make the identity key if there is none");
  CLI::App* create_keys = app.add_subcommand("create-keys", "offline: make cold keys, write a signed cold-key file");
  create_keys->add_option("--wallet-id", off.binding.wallet_id, "the wallet the keys belong to")->required();
  create_keys->add_option("--asset", off.binding.asset, "the wallet's asset id")->required();
  create_keys->add_option("--owner", off.owner, "client or house")->required();
  create_keys->add_option("--tier", off.tier, "hot or cold")->required();
  create_keys->add_option("--count", off.count, "how many keys (1 to 10000)")->required();
  create_keys->add_option("--out", off.out, "the cold-key file to write")->required();
  CLI::App* sign = app.add_subcommand("sign", "offline: sign a signing bundle, write the signed bundle");
  sign->add_option("--in", off.in, "the signing bundle")->required();
  sign->add_option("--out", off.out, "the signed bundle to write")->required();
  sign->add_flag("--again", off.again, "write a bundle signed before anew (the same transaction)");
#endif
  CLI11_PARSE(app, argc, argv);
  if (bind->parsed()) return BindKey(bind_config, key_id, binding, owner, tier);
#if RINGFENCE_SIGNERD_WITH_OFFLINE
  for (CLI::App* command : {identity, create_keys, sign}) {
    if (command->parsed()) off.command = command->get_name();
  }
  if (offline != !off.command.empty()) {
    std::fprintf(stderr, "signerd: identity, create-keys and sign run only with --offline, and --offline "
                         "needs one of them\n");
    return 2;
  }
#endif
  if (config_path.empty()) {
    std::fprintf(stderr, "signerd: --config is required\n");
    return 2;
  }

  absl::StatusOr<ringfence::signer::Config> config = ringfence::signer::LoadConfig(config_path);
  if (!config.ok()) {
    PrintError(config.status());
    return 2;
  }
#if RINGFENCE_SIGNERD_WITH_OFFLINE
  if (offline) return offline_cli::Run(*config, off);
#endif
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

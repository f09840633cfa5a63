// custodyd: Ringfence's custody service. Parses flags and hands over to custody/server.h:
//   custodyd --config FILE [--insecure-loopback ROLE]   serve (prints "listening <address>")
//   custodyd check --config FILE                        every invariant; exit 0 if they hold, 1 if not
//   custodyd audit verify --config FILE [--anchor S:H]  the audit log's hash chain; exit 0 or 1
//   custodyd policy replay --config FILE [--policy P]   re-run recorded policy decisions; exit 0 if none differ
// Exit code 2: a bad command line or configuration.
//
// Test-only: RINGFENCE_CUSTODYD_TEST_KILL_AT=<step> makes custodyd SIGKILL itself when the
// withdrawal executor has made that step durable (docs/withdrawal-executor.md, "Crash tests").
// Read from the environment at start only; nothing in the API or the config can set it.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

#include "custody/config.h"
#include "custody/server.h"
#include "custody/withdrawals.h"
#include "rpc/process.h"

namespace {

void PrintError(const absl::Status& s) { std::fprintf(stderr, "custodyd: %s\n", std::string(s.message()).c_str()); }

constexpr char kKillAtEnv[] = "RINGFENCE_CUSTODYD_TEST_KILL_AT";
// The executor's step boundaries (custody/executor.h, ExecutorOptions::after_step).
constexpr const char* kKillSteps[] = {"planned", "claimed", "answered", "signed",   "sent",
                                      "broadcast", "settling", "confirmed", "failed"};

// The test-only kill point, if the environment names one; false for an unknown step.
bool SetKillPoint(ringfence::custody::ServerOptions& options) {
  const char* value = std::getenv(kKillAtEnv);
  if (value == nullptr || *value == '\0') return true;
  const std::string step = value;
  bool known = false;
  for (const char* s : kKillSteps) known = known || step == s;
  if (!known) {
    std::fprintf(stderr, "custodyd: %s: unknown executor step '%s'\n", kKillAtEnv, step.c_str());
    return false;
  }
  std::fprintf(stderr, "custodyd: WARNING test kill point: SIGKILL after the executor's '%s' step (%s)\n",
               step.c_str(), kKillAtEnv);
  options.executor.after_step = [step](const std::string& withdrawal_id, const std::string& done) {
    if (done == step) {
      std::fprintf(stderr, "custodyd: %s: killed after '%s' of %s\n", kKillAtEnv, done.c_str(), withdrawal_id.c_str());
      std::fflush(stderr);
      kill(getpid(), SIGKILL);
    }
    return true;
  };
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  ringfence::rpc::DisableMutexDeadlockDetection();
  namespace custody = ringfence::custody;
  CLI::App app{"custodyd: Ringfence's custody service (clients, deposit addresses, ledger, audit log)"};
  app.require_subcommand(0, 1);
  std::string config_path;
  std::string insecure_role;
  app.add_option("--config", config_path, "TOML configuration file (docs/custody-api.md)");
  app.add_option("--insecure-loopback", insecure_role,
                 "serve plaintext on a loopback address, every caller being ROLE (development only)");

  CLI::App* check = app.add_subcommand("check", "check every invariant of the books; exit 0 if they hold");
  std::string check_config;
  check->add_option("--config", check_config, "TOML configuration file")->required();

  CLI::App* audit = app.add_subcommand("audit", "audit log commands");
  audit->require_subcommand(1);
  CLI::App* verify = audit->add_subcommand("verify", "verify the audit log's hash chain; exit 0 if it holds");
  std::string verify_config, anchor;
  verify->add_option("--config", verify_config, "TOML configuration file")->required();
  verify->add_option("--anchor", anchor, "a <seq>:<hash> recorded earlier that the log must still hold");

  CLI::App* policy = app.add_subcommand("policy", "policy decision commands");
  policy->require_subcommand(1);
  CLI::App* replay = policy->add_subcommand("replay", "re-run every recorded decision; exit 0 if none differs");
  std::string replay_config, replay_policy;
  replay->add_option("--config", replay_config, "TOML configuration file")->required();
  replay->add_option("--policy", replay_policy, "replay under this policy file instead of the configured one");
  CLI11_PARSE(app, argc, argv);

  const bool serving = !check->parsed() && !audit->parsed() && !policy->parsed();
  const std::string& path = check->parsed()  ? check_config
                            : audit->parsed() ? verify_config
                            : policy->parsed() ? replay_config
                                               : config_path;
  if (serving && config_path.empty()) {
    std::fprintf(stderr, "custodyd: --config is required\n%s", app.help().c_str());
    return 2;
  }
  absl::StatusOr<custody::Config> config = custody::LoadConfig(path);
  if (!config.ok()) {
    PrintError(config.status());
    return 2;
  }

  if (check->parsed()) {
    absl::StatusOr<bool> holds = custody::CheckCustodyInvariants(*config);
    if (!holds.ok()) {
      PrintError(holds.status());
      return 2;
    }
    return *holds ? 0 : 1;
  }
  if (verify->parsed()) {
    absl::StatusOr<bool> ok = custody::VerifyCustodyAudit(*config, anchor);
    if (!ok.ok()) {
      PrintError(ok.status());
      return 2;
    }
    return *ok ? 0 : 1;
  }

  if (replay->parsed()) {
    absl::StatusOr<bool> same = custody::RunPolicyReplay(*config, replay_policy);
    if (!same.ok()) {
      PrintError(same.status());
      return 2;
    }
    return *same ? 0 : 1;
  }

  custody::ServerOptions options;
  if (!insecure_role.empty()) {
    options.insecure_role = custody::ParseRole(insecure_role);
    if (!options.insecure_role.has_value()) {
      std::fprintf(stderr, "custodyd: --insecure-loopback: ROLE must be platform, approver, auditor or admin\n");
      return 2;
    }
  }
  options.run_executor = config->withdrawals.has_value() && config->withdrawals->executor;
  if (!SetKillPoint(options)) return 2;
  absl::Status s = custody::RunCustodyd(*config, options);
  if (!s.ok()) {
    PrintError(s);
    return 1;
  }
  return 0;
}

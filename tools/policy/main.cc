// policy: command-line access to the policy engine.
//   policy check [--canonical] FILE       validate a policy file, print its canonical hash
//   policy decide --policy FILE --decision KIND [--embed-policy] INPUT
//                                         evaluate an input (JSON) and print the decision record
//   policy replay [--policy FILE] RECORD  re-evaluate a recorded decision and report differences
// Exit codes: 0 valid / same, 1 invalid policy or input / different, 3 usage or I/O error.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>

#include "policy/config.h"
#include "policy/record.h"

namespace {

constexpr int kOk = 0;
constexpr int kDifferent = 1;
constexpr int kUsageOrIo = 3;

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "policy: cannot read " << path << "\n";
    return std::nullopt;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    std::cerr << "policy: error reading " << path << "\n";
    return std::nullopt;
  }
  return buffer.str();
}

int Check(const std::string& path, bool canonical) {
  std::optional<std::string> text = ReadFile(path);
  if (!text) return kUsageOrIo;
  absl::StatusOr<ringfence::policy::Policy> policy = ringfence::policy::ParsePolicy(*text);
  if (!policy.ok()) {
    std::cerr << "policy: " << path << ": " << policy.status().message() << "\n";
    return kDifferent;
  }
  std::cout << "ok version=" << policy->version << " assets=" << policy->assets.size()
            << " groups=" << policy->groups.size() << "\n"
            << "policy_hash " << policy->hash << "\n";
  if (canonical) std::cout << ringfence::policy::CanonicalPolicyJson(*policy) << "\n";
  return kOk;
}

int Decide(const std::string& policy_path, const std::string& kind, const std::string& input_path, bool embed) {
  std::optional<std::string> policy_text = ReadFile(policy_path);
  std::optional<std::string> input = ReadFile(input_path);
  if (!policy_text || !input) return kUsageOrIo;
  absl::StatusOr<ringfence::policy::Policy> policy = ringfence::policy::ParsePolicy(*policy_text);
  if (!policy.ok()) {
    std::cerr << "policy: " << policy_path << ": " << policy.status().message() << "\n";
    return kDifferent;
  }
  absl::StatusOr<std::string> record = ringfence::policy::MakeRecord(
      *policy, kind, *input, embed ? std::optional<std::string_view>(*policy_text) : std::nullopt);
  if (!record.ok()) {
    std::cerr << "policy: " << input_path << ": " << record.status().message() << "\n";
    return kDifferent;
  }
  std::cout << *record << "\n";
  return kOk;
}

int ReplayRecord(const std::string& record_path, const std::string& policy_path) {
  std::optional<std::string> record = ReadFile(record_path);
  if (!record) return kUsageOrIo;
  std::optional<std::string> policy_text;
  if (!policy_path.empty()) {
    policy_text = ReadFile(policy_path);
    if (!policy_text) return kUsageOrIo;
  }
  absl::StatusOr<ringfence::policy::ReplayResult> result = ringfence::policy::Replay(
      *record, policy_text ? std::optional<std::string_view>(*policy_text) : std::nullopt);
  if (!result.ok()) {
    std::cerr << "policy: " << record_path << ": " << result.status().message() << "\n";
    return kUsageOrIo;
  }
  if (result->same()) {
    std::cout << "same " << result->kind << " policy_hash " << result->policy_hash << "\n";
    return kOk;
  }
  std::cout << "different " << result->kind << " policy_hash " << result->policy_hash << "\n";
  for (const std::string& d : result->differences) std::cout << "  " << d << "\n";
  return kDifferent;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Ringfence policy engine: check policy files, evaluate and replay decisions"};
  app.require_subcommand(1);

  std::string check_path;
  CLI::App* check = app.add_subcommand("check", "Validate a policy file and print its canonical hash");
  check->add_option("FILE", check_path, "policy file (TOML)")->required();
  bool canonical = false;
  check->add_flag("--canonical", canonical, "also print the canonical JSON the hash is taken over");

  std::string decide_policy, decide_kind, decide_input;
  bool embed = false;
  CLI::App* decide = app.add_subcommand("decide", "Evaluate a decision input and print its record");
  decide->add_option("--policy", decide_policy, "policy file (TOML)")->required();
  decide->add_option("--decision", decide_kind, "withdrawal, quorum, whitelist_change, allocation or coverage")
      ->required();
  decide->add_flag("--embed-policy", embed, "store the policy text in the record");
  decide->add_option("INPUT", decide_input, "decision input (JSON)")->required();

  std::string replay_record, replay_policy;
  CLI::App* replay = app.add_subcommand("replay", "Re-evaluate a recorded decision and report any difference");
  replay->add_option("FILE", replay_record, "decision record (JSON)")->required();
  replay->add_option("--policy", replay_policy, "policy file, if the record embeds none");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsageOrIo;
  }
  if (check->parsed()) return Check(check_path, canonical);
  if (decide->parsed()) return Decide(decide_policy, decide_kind, decide_input, embed);
  if (replay->parsed()) return ReplayRecord(replay_record, replay_policy);
  return kUsageOrIo;
}

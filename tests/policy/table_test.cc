// Table-driven tests: every case in tests/policy/data/*_cases.json is a JSON merge patch over
// the table's base input, evaluated under data/policy.toml; the expected output is matched as
// a subset (every key given must be equal; arrays must have the same length). Config
// validation cases live in data/config_errors.json.
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "policy/allocation.h"
#include "policy/config.h"
#include "policy/quorum.h"
#include "policy/record.h"
#include "policy/withdrawal.h"

namespace ringfence::policy {
namespace {

using Json = nlohmann::json;

std::string ReadData(const std::string& name) {
  const std::string path = std::string(RINGFENCE_POLICY_TEST_DATA) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    std::abort();
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const Policy& TestPolicy() {
  static const Policy* policy = [] {
    absl::StatusOr<Policy> p = ParsePolicy(ReadData("policy.toml"));
    if (!p.ok()) {
      ADD_FAILURE() << p.status();
      std::abort();
    }
    return new Policy(*std::move(p));
  }();
  return *policy;
}

// Applies `patch` to `target`: objects merge key by key, anything else (null included) replaces.
// Unlike RFC 7386, null sets a value to null rather than deleting it, since inputs use null
// for "none".
void Patch(Json& target, const Json& patch) {
  if (!patch.is_object() || !target.is_object()) {
    target = patch;
    return;
  }
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (target.contains(it.key())) {
      Patch(target[it.key()], it.value());
    } else {
      target[it.key()] = it.value();
    }
  }
}

// Returns "" if `actual` contains `expected`, else a description of the first mismatch.
std::string SubsetMismatch(const Json& expected, const Json& actual, const std::string& path) {
  if (expected.is_object()) {
    if (!actual.is_object()) return path + ": expected an object, got " + actual.dump();
    for (auto it = expected.begin(); it != expected.end(); ++it) {
      if (!actual.contains(it.key())) return path + "." + it.key() + ": missing in output";
      std::string m = SubsetMismatch(it.value(), actual[it.key()], path + "." + it.key());
      if (!m.empty()) return m;
    }
    return "";
  }
  if (expected.is_array()) {
    if (!actual.is_array() || actual.size() != expected.size()) {
      return path + ": expected " + expected.dump() + ", got " + actual.dump();
    }
    for (size_t i = 0; i < expected.size(); ++i) {
      std::string m = SubsetMismatch(expected[i], actual[i], path + "[" + std::to_string(i) + "]");
      if (!m.empty()) return m;
    }
    return "";
  }
  if (expected != actual) return path + ": expected " + expected.dump() + ", got " + actual.dump();
  return "";
}

// Runs one table file and returns every output it produced (for the reason-code census).
void RunTable(const std::string& file, std::vector<Json>* outputs) {
  const Json table = Json::parse(ReadData(file));
  const std::string kind = table.at("decision");
  EXPECT_FALSE(table.at("cases").empty());
  for (const Json& c : table.at("cases")) {
    const std::string name = c.at("name");
    SCOPED_TRACE(file + ": " + name);
    Json input = table.at("base");
    Patch(input, c.at("patch"));
    absl::StatusOr<std::string> out = EvaluateJson(TestPolicy(), kind, input.dump());
    if (c.contains("error")) {
      if (out.ok()) {
        ADD_FAILURE() << "expected an error, got " << *out;
        continue;
      }
      EXPECT_NE(out.status().message().find(c.at("error").get<std::string>()), std::string::npos)
          << out.status().message();
      continue;
    }
    if (!out.ok()) {
      ADD_FAILURE() << out.status();
      continue;
    }
    const Json actual = Json::parse(*out);
    EXPECT_EQ(SubsetMismatch(c.at("expect"), actual, "output"), "");
    EXPECT_EQ(actual.at("policy_hash"), TestPolicy().hash) << "every decision names its policy version";
    outputs->push_back(actual);
  }
}

std::vector<Json> RunTable(const std::string& file) {
  std::vector<Json> outputs;
  RunTable(file, &outputs);
  return outputs;
}

TEST(PolicyTable, Withdrawal) {
  std::set<std::string> seen;
  for (const Json& out : RunTable("withdrawal_cases.json")) {
    for (const Json& d : out.at("denials")) seen.insert(d.at("reason"));
  }
  for (const char* code : {"insufficient_funds", "not_whitelisted", "cooling_off", "client_frozen", "asset_frozen",
                           "over_per_request_limit", "over_client_rolling_limit", "over_asset_rolling_limit"}) {
    ASSERT_TRUE(DenyReasonFromCode(code).has_value()) << code;
    EXPECT_TRUE(seen.contains(code)) << "no table case produces " << code;
  }
}

TEST(PolicyTable, Quorum) {
  std::set<std::string> seen;
  for (const Json& out : RunTable("quorum_cases.json")) {
    for (const Json& r : out.at("rejected")) seen.insert(r.at("reason"));
  }
  for (const char* code : {"requester", "not_member", "future", "expired", "duplicate"}) {
    ASSERT_TRUE(ApprovalRejectionFromCode(code).has_value()) << code;
    EXPECT_TRUE(seen.contains(code)) << "no table case produces " << code;
  }
}

TEST(PolicyTable, WhitelistChange) { RunTable("whitelist_cases.json"); }

TEST(PolicyTable, Allocation) {
  std::set<std::string> seen;
  for (const Json& out : RunTable("allocation_cases.json")) {
    for (const Json& a : out.at("assets")) seen.insert(a.at("reason"));
  }
  for (AllocationReason r : {AllocationReason::kWithinCap, AllocationReason::kSweepToTarget,
                             AllocationReason::kSweepMinimum, AllocationReason::kSweepLimitedBySettled,
                             AllocationReason::kBelowMinimumSweep, AllocationReason::kFloorPreventsSweep,
                             AllocationReason::kTopUpToTarget, AllocationReason::kTopUpLimitedByCold,
                             AllocationReason::kAggregateSweep}) {
    EXPECT_TRUE(seen.contains(std::string(AllocationReasonCode(r)))) << "no table case produces "
                                                                     << AllocationReasonCode(r);
  }
}

TEST(PolicyTable, Coverage) { RunTable("coverage_cases.json"); }

TEST(PolicyTable, ConfigErrors) {
  const Json table = Json::parse(ReadData("config_errors.json"));
  const std::string base = table.at("base");
  ASSERT_TRUE(ParsePolicy(base).ok()) << ParsePolicy(base).status();
  for (const Json& c : table.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    std::string text = base;
    if (c.contains("find")) {
      const std::string find = c.at("find");
      const size_t at = text.find(find);
      ASSERT_NE(at, std::string::npos) << "case does not apply to the base text";
      text.replace(at, find.size(), c.at("replace").get<std::string>());
    }
    if (c.contains("append")) text += c.at("append").get<std::string>();
    if (c.contains("prepend")) text = c.at("prepend").get<std::string>() + text;
    absl::StatusOr<Policy> p = ParsePolicy(text);
    if (c.value("valid", false)) {
      EXPECT_TRUE(p.ok()) << p.status();
      continue;
    }
    ASSERT_FALSE(p.ok()) << "policy unexpectedly valid:\n" << text;
    const std::string message(p.status().message());
    const std::string path = c.at("path");
    EXPECT_EQ(message.rfind(path + ":", 0), 0u) << "message does not start with the field path: " << message;
    EXPECT_NE(message.find(c.at("rule").get<std::string>()), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace ringfence::policy

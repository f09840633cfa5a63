#include "policy/config.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "absl/status/status.h"
#include "policy/text.h"

namespace ringfence::policy {
namespace {

// The longest period any policy setting may name: 10 years. Bounding it keeps every
// "time + period" sum far inside int64 for any timestamp the decisions accept.
constexpr int64_t kMaxPeriodSeconds = 10LL * 366 * 24 * 3600;
constexpr int64_t kDefaultApprovalTtlSeconds = 24 * 3600;
constexpr uint32_t kDefaultHotCapPpm = 20'000;
constexpr uint32_t kDefaultColdCoverPpm = 500'000;

// Validation failures unwind to ParsePolicy, which turns them into a Status; they never leave
// this file.
struct ConfigError {
  std::string message;
};

[[noreturn]] void Fail(const std::string& path, const std::string& rule) {
  throw ConfigError{internal::Cat(path, ": ", rule)};
}

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : internal::Cat(path, ".", key);
}

// Reads the keys of one table, remembering which were used, so that Finish() can reject any
// key the format does not define.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string path) : table_(table), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  std::string PathOf(std::string_view key) const { return Join(path_, key); }

  const toml::node* Get(std::string_view key) {
    used_.insert(std::string(key));
    return table_.get(key);
  }
  const toml::node& Require(std::string_view key) {
    const toml::node* n = Get(key);
    if (n == nullptr) Fail(PathOf(key), "required key is missing");
    return *n;
  }

  void Finish() const {
    for (const auto& [key, value] : table_) {
      if (!used_.contains(std::string(key.str()))) {
        Fail(PathOf(key.str()), "unknown key");
      }
    }
  }

 private:
  const toml::table& table_;
  std::string path_;
  std::set<std::string> used_;
};

const toml::table& AsTable(const toml::node& n, const std::string& path) {
  const toml::table* t = n.as_table();
  if (t == nullptr) Fail(path, "must be a table");
  return *t;
}

const toml::array& AsArray(const toml::node& n, const std::string& path) {
  const toml::array* a = n.as_array();
  if (a == nullptr) Fail(path, "must be an array");
  return *a;
}

const std::string& AsString(const toml::node& n, const std::string& path) {
  const toml::value<std::string>* s = n.as_string();
  if (s == nullptr) Fail(path, "must be a string");
  return s->get();
}

int64_t AsInteger(const toml::node& n, const std::string& path, int64_t min, int64_t max) {
  const toml::value<int64_t>* i = n.as_integer();
  if (i == nullptr) Fail(path, "must be an integer");
  const int64_t v = i->get();
  if (v < min || v > max) Fail(path, internal::Cat("value ", v, " is outside ", min, "..", max));
  return v;
}

// An amount is either a string in the asset's display unit ("0.5") or a non-negative TOML
// integer of base units.
base::Amount AsAmount(const toml::node& n, const std::string& path, int decimals) {
  if (const toml::value<int64_t>* i = n.as_integer()) {
    if (i->get() < 0) Fail(path, "amount must not be negative");
    return base::Amount(static_cast<base::Uint128>(i->get()));
  }
  if (const toml::value<std::string>* s = n.as_string()) {
    if (!s->get().empty() && (s->get()[0] == '-' || s->get()[0] == '+')) {
      Fail(path, "amount must not carry a sign (negative amounts are not allowed)");
    }
    absl::StatusOr<base::Amount> a = base::ParseDecimalAmount(s->get(), decimals);
    if (!a.ok()) Fail(path, std::string(a.status().message()));
    return *a;
  }
  Fail(path, "amount must be a decimal string in display units or an integer of base units");
}

Ratio AsRatio(const toml::node& n, const std::string& path) {
  const toml::value<std::string>* s = n.as_string();
  if (s == nullptr) Fail(path, "ratio must be a decimal string such as \"0.02\"");
  absl::StatusOr<Ratio> r = Ratio::Parse(s->get());
  if (!r.ok()) Fail(path, std::string(r.status().message()));
  return *r;
}

template <typename Id>
Id AsId(const toml::node& n, const std::string& path) {
  const std::string& text = AsString(n, path);
  absl::StatusOr<Id> id = Id::Parse(text, "identifier");
  if (!id.ok()) Fail(path, std::string(id.status().message()));
  return *id;
}

// Reads the "group" and "k" keys of an approval rule from a table that may hold other keys.
ApprovalRule ReadRuleFields(TableReader& r, const std::map<GroupId, ApproverGroup>& groups) {
  ApprovalRule rule;
  rule.group = AsId<GroupId>(r.Require("group"), r.PathOf("group"));
  auto it = groups.find(rule.group);
  if (it == groups.end()) {
    Fail(r.PathOf("group"), internal::Cat("approver group \"", rule.group.value(), "\" does not exist"));
  }
  const int64_t n_members = static_cast<int64_t>(it->second.members.size());
  const int64_t k = AsInteger(r.Require("k"), r.PathOf("k"), 1, 1'000'000);
  if (k > n_members) {
    Fail(r.PathOf("k"), internal::Cat("k (", k, ") exceeds n (", n_members, "), the size of group \"",
                                     rule.group.value(), "\""));
  }
  rule.k = static_cast<uint32_t>(k);
  return rule;
}

ApprovalRule ReadApprovalRule(const toml::node& n, const std::string& path,
                              const std::map<GroupId, ApproverGroup>& groups) {
  TableReader r(AsTable(n, path), path);
  ApprovalRule rule = ReadRuleFields(r, groups);
  r.Finish();
  return rule;
}

std::vector<RollingWindow> ReadWindows(const toml::node& n, const std::string& path, int decimals) {
  const toml::array& arr = AsArray(n, path);
  std::vector<RollingWindow> out;
  std::set<int64_t> seen;
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string p = internal::Cat(path, "[", i, "]");
    TableReader r(AsTable(arr[i], p), p);
    RollingWindow w;
    w.seconds = AsInteger(r.Require("seconds"), r.PathOf("seconds"), 1, kMaxPeriodSeconds);
    w.limit = AsAmount(r.Require("limit"), r.PathOf("limit"), decimals);
    r.Finish();
    if (!seen.insert(w.seconds).second) {
      Fail(r.PathOf("seconds"), internal::Cat("duplicate window of ", w.seconds, " seconds"));
    }
    out.push_back(w);
  }
  std::sort(out.begin(), out.end(),
            [](const RollingWindow& a, const RollingWindow& b) { return a.seconds < b.seconds; });
  return out;
}

void ReadWithdrawal(const toml::node& n, const std::string& path, AssetPolicy* asset,
                    const std::map<GroupId, ApproverGroup>& groups) {
  TableReader r(AsTable(n, path), path);
  const int d = asset->decimals;
  asset->per_request_limit = AsAmount(r.Require("per_request_limit"), r.PathOf("per_request_limit"), d);
  if (const toml::node* w = r.Get("client_windows")) {
    asset->client_windows = ReadWindows(*w, r.PathOf("client_windows"), d);
  }
  if (const toml::node* w = r.Get("asset_windows")) {
    asset->asset_windows = ReadWindows(*w, r.PathOf("asset_windows"), d);
  }
  if (const toml::node* t = r.Get("approval_tiers")) {
    const std::string tp = r.PathOf("approval_tiers");
    const toml::array& arr = AsArray(*t, tp);
    std::set<base::Amount> seen;
    for (size_t i = 0; i < arr.size(); ++i) {
      const std::string p = internal::Cat(tp, "[", i, "]");
      TableReader tr(AsTable(arr[i], p), p);
      ApprovalTier tier;
      tier.min_amount = AsAmount(tr.Require("min_amount"), tr.PathOf("min_amount"), d);
      tier.approvals = ReadRuleFields(tr, groups);
      tr.Finish();
      if (!seen.insert(tier.min_amount).second) {
        Fail(tr.PathOf("min_amount"), "duplicate approval tier threshold");
      }
      asset->approval_tiers.push_back(tier);
    }
    std::sort(asset->approval_tiers.begin(), asset->approval_tiers.end(),
              [](const ApprovalTier& a, const ApprovalTier& b) { return a.min_amount < b.min_amount; });
  }
  if (const toml::node* dn = r.Get("delay")) {
    const std::string p = r.PathOf("delay");
    TableReader dr(AsTable(*dn, p), p);
    DelayRule delay;
    delay.min_amount = AsAmount(dr.Require("min_amount"), dr.PathOf("min_amount"), d);
    delay.seconds = AsInteger(dr.Require("seconds"), dr.PathOf("seconds"), 1, kMaxPeriodSeconds);
    dr.Finish();
    asset->delay = delay;
  }
  r.Finish();
}

void ReadWhitelist(const toml::node& n, const std::string& path, AssetPolicy* asset,
                   const std::map<GroupId, ApproverGroup>& groups) {
  TableReader r(AsTable(n, path), path);
  asset->whitelist_cooling_off_seconds =
      AsInteger(r.Require("cooling_off_seconds"), r.PathOf("cooling_off_seconds"), 0, kMaxPeriodSeconds);
  asset->whitelist_add_approvals = ReadApprovalRule(r.Require("approvals"), r.PathOf("approvals"), groups);
  r.Finish();
}

void ReadAllocation(const toml::node& n, const std::string& path, AssetPolicy* asset,
                    const std::map<GroupId, ApproverGroup>& groups) {
  TableReader r(AsTable(n, path), path);
  if (const toml::node* v = r.Get("hot_cap")) asset->hot_cap = AsRatio(*v, r.PathOf("hot_cap"));
  if (const toml::node* v = r.Get("hot_target")) {
    asset->hot_target = AsRatio(*v, r.PathOf("hot_target"));
    if (asset->hot_target > asset->hot_cap) {
      Fail(r.PathOf("hot_target"), internal::Cat("target ", asset->hot_target.ToString(),
                                                " exceeds hot_cap ", asset->hot_cap.ToString()));
    }
  } else {
    asset->hot_target = *Ratio::FromPpm(asset->hot_cap.ppm() / 2);
  }
  if (const toml::node* v = r.Get("hot_floor")) asset->hot_floor = AsAmount(*v, r.PathOf("hot_floor"), asset->decimals);
  if (const toml::node* v = r.Get("min_sweep")) asset->min_sweep = AsAmount(*v, r.PathOf("min_sweep"), asset->decimals);
  asset->top_up_approvals =
      ReadApprovalRule(r.Require("top_up_approvals"), r.PathOf("top_up_approvals"), groups);
  r.Finish();
}

void ReadCoverage(const toml::node& n, const std::string& path, AssetPolicy* asset) {
  TableReader r(AsTable(n, path), path);
  if (const toml::node* v = r.Get("cold_share")) asset->cold_cover_share = AsRatio(*v, r.PathOf("cold_share"));
  if (const toml::node* v = r.Get("configured_cover")) {
    asset->configured_cover = AsAmount(*v, r.PathOf("configured_cover"), asset->decimals);
  }
  r.Finish();
}

AssetPolicy ReadAsset(const toml::node& n, const std::string& path, const AssetId& id,
                      const std::map<GroupId, ApproverGroup>& groups) {
  TableReader r(AsTable(n, path), path);
  AssetPolicy asset;
  asset.id = id;
  asset.decimals = static_cast<int>(AsInteger(r.Require("decimals"), r.PathOf("decimals"), 0, base::kMaxDecimals));
  asset.hot_cap = *Ratio::FromPpm(kDefaultHotCapPpm);
  asset.cold_cover_share = *Ratio::FromPpm(kDefaultColdCoverPpm);
  ReadWithdrawal(r.Require("withdrawal"), r.PathOf("withdrawal"), &asset, groups);
  ReadWhitelist(r.Require("whitelist"), r.PathOf("whitelist"), &asset, groups);
  ReadAllocation(r.Require("allocation"), r.PathOf("allocation"), &asset, groups);
  if (const toml::node* c = r.Get("coverage")) {
    ReadCoverage(*c, r.PathOf("coverage"), &asset);
  }
  r.Finish();
  return asset;
}

Policy ReadPolicy(const toml::table& root) {
  TableReader r(root, "");
  Policy policy;
  policy.version = AsInteger(r.Require("version"), "version", 0, 1'000'000);
  if (policy.version != kPolicyVersion) {
    Fail("version", internal::Cat("unsupported policy version ", policy.version, " (this build reads ",
                                 kPolicyVersion, ")"));
  }
  policy.aggregate_hot_cap = *Ratio::FromPpm(kDefaultHotCapPpm);
  if (const toml::node* a = r.Get("allocation")) {
    TableReader ar(AsTable(*a, "allocation"), "allocation");
    if (const toml::node* v = ar.Get("aggregate_hot_cap")) {
      policy.aggregate_hot_cap = AsRatio(*v, ar.PathOf("aggregate_hot_cap"));
    }
    ar.Finish();
  }
  TableReader gr(AsTable(r.Require("groups"), "groups"), "groups");
  for (const auto& [key, node] : AsTable(r.Require("groups"), "groups")) {
    const std::string gp = Join("groups", key.str());
    gr.Get(key.str());
    absl::StatusOr<GroupId> id = GroupId::Parse(key.str(), "group name");
    if (!id.ok()) Fail(gp, std::string(id.status().message()));
    TableReader mr(AsTable(node, gp), gp);
    ApproverGroup group;
    group.id = *id;
    const std::string mp = mr.PathOf("members");
    const toml::array& members = AsArray(mr.Require("members"), mp);
    if (members.empty()) Fail(mp, "a group needs at least one member");
    for (size_t i = 0; i < members.size(); ++i) {
      group.members.push_back(AsId<PrincipalId>(members[i], internal::Cat(mp, "[", i, "]")));
    }
    std::sort(group.members.begin(), group.members.end());
    for (size_t i = 1; i < group.members.size(); ++i) {
      if (group.members[i] == group.members[i - 1]) {
        Fail(mp, internal::Cat("duplicate member \"", group.members[i].value(), "\""));
      }
    }
    group.approval_ttl_seconds = kDefaultApprovalTtlSeconds;
    if (const toml::node* t = mr.Get("approval_ttl_seconds")) {
      group.approval_ttl_seconds = AsInteger(*t, mr.PathOf("approval_ttl_seconds"), 1, kMaxPeriodSeconds);
    }
    mr.Finish();
    policy.groups.emplace(group.id, std::move(group));
  }
  gr.Finish();
  const toml::table& assets = AsTable(r.Require("assets"), "assets");
  if (assets.empty()) Fail("assets", "at least one asset is required");
  for (const auto& [key, node] : assets) {
    const std::string ap = Join("assets", key.str());
    absl::StatusOr<AssetId> id = AssetId::Parse(key.str(), "asset id");
    if (!id.ok()) Fail(ap, std::string(id.status().message()));
    policy.assets.emplace(*id, ReadAsset(node, ap, *id, policy.groups));
  }
  r.Finish();
  return policy;
}

nlohmann::json RuleJson(const ApprovalRule& rule) {
  return {{"group", rule.group.value()}, {"k", rule.k}};
}

nlohmann::json WindowsJson(const std::vector<RollingWindow>& windows) {
  nlohmann::json out = nlohmann::json::array();
  for (const RollingWindow& w : windows) {
    out.push_back({{"limit", w.limit.ToBaseUnitString()}, {"seconds", w.seconds}});
  }
  return out;
}

}  // namespace

const AssetPolicy* Policy::FindAsset(const AssetId& id) const {
  auto it = assets.find(id);
  return it == assets.end() ? nullptr : &it->second;
}

const ApproverGroup* Policy::FindGroup(const GroupId& id) const {
  auto it = groups.find(id);
  return it == groups.end() ? nullptr : &it->second;
}

absl::StatusOr<Policy> ParsePolicy(std::string_view toml_text) {
  if (toml_text.size() > kMaxPolicyBytes) {
    return absl::InvalidArgumentError(
        internal::Cat("policy: text of ", toml_text.size(), " bytes exceeds the limit of ", kMaxPolicyBytes));
  }
  try {
    toml::table root = toml::parse(toml_text, std::string_view("policy"));
    Policy policy = ReadPolicy(root);
    policy.hash = Sha256Hex(CanonicalPolicyJson(policy));
    return policy;
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(internal::Cat("policy: TOML syntax error at line ", e.source().begin.line,
                                                   " column ", e.source().begin.column, ": ",
                                                   e.description()));
  } catch (const ConfigError& e) {
    return absl::InvalidArgumentError(e.message);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(internal::Cat("policy: ", e.what()));
  }
}

std::string CanonicalPolicyJson(const Policy& policy) {
  nlohmann::json groups = nlohmann::json::object();
  for (const auto& [id, g] : policy.groups) {
    nlohmann::json members = nlohmann::json::array();
    for (const PrincipalId& m : g.members) members.push_back(m.value());
    groups[id.value()] = {{"approval_ttl_seconds", g.approval_ttl_seconds}, {"members", members}};
  }
  nlohmann::json assets = nlohmann::json::object();
  for (const auto& [id, a] : policy.assets) {
    nlohmann::json tiers = nlohmann::json::array();
    for (const ApprovalTier& t : a.approval_tiers) {
      tiers.push_back({{"approvals", RuleJson(t.approvals)}, {"min_amount", t.min_amount.ToBaseUnitString()}});
    }
    nlohmann::json delay = nullptr;
    if (a.delay) delay = {{"min_amount", a.delay->min_amount.ToBaseUnitString()}, {"seconds", a.delay->seconds}};
    assets[id.value()] = {
        {"decimals", a.decimals},
        {"withdrawal",
         {{"per_request_limit", a.per_request_limit.ToBaseUnitString()},
          {"client_windows", WindowsJson(a.client_windows)},
          {"asset_windows", WindowsJson(a.asset_windows)},
          {"approval_tiers", tiers},
          {"delay", delay}}},
        {"whitelist",
         {{"cooling_off_seconds", a.whitelist_cooling_off_seconds},
          {"approvals", RuleJson(a.whitelist_add_approvals)}}},
        {"allocation",
         {{"hot_cap_ppm", a.hot_cap.ppm()},
          {"hot_target_ppm", a.hot_target.ppm()},
          {"hot_floor", a.hot_floor.ToBaseUnitString()},
          {"min_sweep", a.min_sweep.ToBaseUnitString()},
          {"top_up_approvals", RuleJson(a.top_up_approvals)}}},
        {"coverage",
         {{"cold_share_ppm", a.cold_cover_share.ppm()},
          {"configured_cover", a.configured_cover.ToBaseUnitString()}}},
    };
  }
  nlohmann::json root = {
      {"format", "ringfence.policy.v1"},
      {"version", policy.version},
      {"aggregate_hot_cap_ppm", policy.aggregate_hot_cap.ppm()},
      {"groups", groups},
      {"assets", assets},
  };
  return root.dump();
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1 || len != 32) {
    // SHA-256 from the system library failing is not an input problem; no decision may be
    // made without the policy hash.
    std::abort();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

}  // namespace ringfence::policy

#include "policy/record.h"

#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "policy/text.h"

namespace ringfence::policy {
namespace {

using Json = nlohmann::json;

// Malformed record input unwinds to the public entry point, which turns it into a Status; it
// never leaves this file.
struct RecordError {
  std::string message;
};

[[noreturn]] void Fail(const std::string& path, const std::string& rule) {
  throw RecordError{internal::Cat(path, ": ", rule)};
}

// Parses JSON text, rejecting duplicate keys anywhere (the default parser would keep the last).
Json ParseStrict(std::string_view text, const std::string& what) {
  if (text.size() > kMaxRecordBytes) Fail(what, internal::Cat("text exceeds ", kMaxRecordBytes, " bytes"));
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  auto callback = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      keys.emplace_back();
    } else if (event == Json::parse_event_t::object_end) {
      if (!keys.empty()) keys.pop_back();
    } else if (event == Json::parse_event_t::key && !keys.empty()) {
      const std::string& k = parsed.get_ref<const std::string&>();
      if (!keys.back().insert(k).second && duplicate.empty()) duplicate = k;
    }
    return true;
  };
  Json j = Json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  if (j.is_discarded()) Fail(what, "not valid JSON");
  if (!duplicate.empty()) Fail(what, internal::Cat("duplicate key \"", duplicate, "\""));
  return j;
}

// Reads one JSON object, remembering which keys were used, so Finish() rejects the rest.
class ObjectReader {
 public:
  ObjectReader(const Json& j, std::string path) : j_(j), path_(std::move(path)) {
    if (!j_.is_object()) Fail(path_, "must be an object");
  }

  std::string PathOf(std::string_view key) const { return path_.empty() ? std::string(key) : internal::Cat(path_, ".", key); }

  const Json& Get(std::string_view key) {
    used_.insert(std::string(key));
    auto it = j_.find(std::string(key));
    if (it == j_.end()) Fail(PathOf(key), "required key is missing");
    return *it;
  }
  bool IsNull(std::string_view key) { return Get(key).is_null(); }

  std::string String(std::string_view key) {
    const Json& v = Get(key);
    if (!v.is_string()) Fail(PathOf(key), "must be a string");
    return v.get<std::string>();
  }
  bool Bool(std::string_view key) {
    const Json& v = Get(key);
    if (!v.is_boolean()) Fail(PathOf(key), "must be true or false");
    return v.get<bool>();
  }
  uint64_t Unsigned(std::string_view key) {
    const Json& v = Get(key);
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
      Fail(PathOf(key), "must be a non-negative integer");
    }
    return v.get<uint64_t>();
  }
  int64_t Time(std::string_view key) {
    const Json& v = Get(key);
    if (!v.is_number_integer()) Fail(PathOf(key), "must be an integer (unix seconds)");
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(kMaxTimestamp)) {
      Fail(PathOf(key), "time is out of range");
    }
    const int64_t t = v.get<int64_t>();
    if (absl::Status s = ValidateTimestamp(t, PathOf(key)); !s.ok()) throw RecordError{std::string(s.message())};
    return t;
  }
  std::optional<int64_t> OptionalTime(std::string_view key) {
    if (IsNull(key)) return std::nullopt;
    return Time(key);
  }
  base::Amount AmountField(std::string_view key) {
    const std::string text = String(key);
    absl::StatusOr<base::Amount> a = base::ParseBaseUnits(text);
    if (!a.ok()) Fail(PathOf(key), std::string(a.status().message()));
    return *a;
  }
  template <typename Id>
  Id IdField(std::string_view key) {
    const std::string text = String(key);
    absl::StatusOr<Id> id = Id::Parse(text, PathOf(key));
    if (!id.ok()) throw RecordError{std::string(id.status().message())};
    return *id;
  }
  const Json& Array(std::string_view key) {
    const Json& v = Get(key);
    if (!v.is_array()) Fail(PathOf(key), "must be an array");
    return v;
  }

  void Finish() const {
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (!used_.contains(it.key())) Fail(PathOf(it.key()), "unknown key");
    }
  }

 private:
  const Json& j_;
  std::string path_;
  std::set<std::string> used_;
};

std::string Item(const std::string& path, size_t i) { return internal::Cat(path, "[", i, "]"); }

std::string A(base::Amount a) { return a.ToBaseUnitString(); }
Json OptTime(const std::optional<int64_t>& t) { return t ? Json(*t) : Json(nullptr); }
Json RuleJson(const ApprovalRule& r) { return {{"group", r.group.value()}, {"k", r.k}}; }
Json OptRuleJson(const ApprovalRule& r) { return r.k == 0 ? Json(nullptr) : RuleJson(r); }

ApprovalRule ReadRule(const Json& j, const std::string& path) {
  ObjectReader r(j, path);
  ApprovalRule rule;
  rule.group = r.IdField<GroupId>("group");
  const uint64_t k = r.Unsigned("k");
  if (k > 1'000'000) Fail(r.PathOf("k"), "k is out of range");
  rule.k = static_cast<uint32_t>(k);
  r.Finish();
  return rule;
}

Json OutflowsJson(const std::vector<Outflow>& v) {
  Json out = Json::array();
  for (const Outflow& o : v) out.push_back({{"amount", A(o.amount)}, {"at", o.at}});
  return out;
}

std::vector<Outflow> ReadOutflows(ObjectReader& r, std::string_view key) {
  const Json& arr = r.Array(key);
  std::vector<Outflow> out;
  for (size_t i = 0; i < arr.size(); ++i) {
    ObjectReader o(arr[i], Item(r.PathOf(key), i));
    out.push_back(Outflow{o.AmountField("amount"), o.Time("at")});
    o.Finish();
  }
  return out;
}

Json ApprovalsJson(const std::vector<Approval>& v) {
  Json out = Json::array();
  for (const Approval& a : v) out.push_back({{"approved_at", a.approved_at}, {"approver", a.approver.value()}});
  return out;
}

std::vector<Approval> ReadApprovals(ObjectReader& r, std::string_view key) {
  const Json& arr = r.Array(key);
  std::vector<Approval> out;
  for (size_t i = 0; i < arr.size(); ++i) {
    ObjectReader o(arr[i], Item(r.PathOf(key), i));
    Approval a;
    a.approved_at = o.Time("approved_at");
    a.approver = o.IdField<PrincipalId>("approver");
    o.Finish();
    out.push_back(std::move(a));
  }
  return out;
}

Json QuorumJson(const QuorumDecision& d) {
  Json counted = Json::array();
  for (const PrincipalId& p : d.counted) counted.push_back(p.value());
  Json rejected = Json::array();
  for (const RejectedApproval& r : d.rejected) {
    rejected.push_back({{"approver", r.approver.value()},
                        {"index", r.index},
                        {"reason", std::string(ApprovalRejectionCode(r.reason))}});
  }
  return {{"counted", counted},
          {"met", d.met},
          {"policy_hash", d.policy_hash},
          {"rejected", rejected},
          {"rule", RuleJson(d.rule)}};
}

// --- typed input readers (throw RecordError) ---

WithdrawalInput ReadWithdrawal(const Json& j, const std::string& path) {
  ObjectReader r(j, path);
  WithdrawalInput in;
  in.asset_frozen = r.Bool("asset_frozen");
  in.asset_outflows = ReadOutflows(r, "asset_outflows");
  in.available_balance = r.AmountField("available_balance");
  in.client_frozen = r.Bool("client_frozen");
  in.client_outflows = ReadOutflows(r, "client_outflows");
  in.now = r.Time("now");
  {
    ObjectReader q(r.Get("request"), r.PathOf("request"));
    in.request.amount = q.AmountField("amount");
    in.request.asset = q.IdField<AssetId>("asset");
    in.request.client = q.IdField<ClientId>("client");
    in.request.destination = q.IdField<Address>("destination");
    in.request.requester = q.IdField<PrincipalId>("requester");
    q.Finish();
  }
  if (!r.IsNull("whitelist_entry")) {
    ObjectReader w(r.Get("whitelist_entry"), r.PathOf("whitelist_entry"));
    WhitelistEntry e;
    e.added_at = w.Time("added_at");
    e.destination = w.IdField<Address>("destination");
    w.Finish();
    in.whitelist_entry = std::move(e);
  }
  r.Finish();
  return in;
}

QuorumInput ReadQuorum(const Json& j, const std::string& path) {
  ObjectReader r(j, path);
  QuorumInput in;
  in.approvals = ReadApprovals(r, "approvals");
  in.now = r.Time("now");
  in.requester = r.IdField<PrincipalId>("requester");
  in.rule = ReadRule(r.Get("rule"), r.PathOf("rule"));
  r.Finish();
  return in;
}

WhitelistChangeInput ReadWhitelistChange(const Json& j, const std::string& path) {
  ObjectReader r(j, path);
  WhitelistChangeInput in;
  in.address = r.IdField<Address>("address");
  in.approvals = ReadApprovals(r, "approvals");
  in.asset = r.IdField<AssetId>("asset");
  in.client = r.IdField<ClientId>("client");
  const std::string kind = r.String("kind");
  if (kind == "add") {
    in.kind = WhitelistChangeKind::kAdd;
  } else if (kind == "remove") {
    in.kind = WhitelistChangeKind::kRemove;
  } else {
    Fail(r.PathOf("kind"), "must be \"add\" or \"remove\"");
  }
  in.now = r.Time("now");
  in.requester = r.IdField<PrincipalId>("requester");
  r.Finish();
  return in;
}

AllocationInput ReadAllocation(const Json& j, const std::string& path) {
  ObjectReader r(j, path);
  AllocationInput in;
  const Json& arr = r.Array("assets");
  for (size_t i = 0; i < arr.size(); ++i) {
    ObjectReader a(arr[i], Item(r.PathOf("assets"), i));
    AssetHoldings h;
    h.asset = a.IdField<AssetId>("asset");
    h.cold = a.AmountField("cold");
    h.hot = a.AmountField("hot");
    h.in_flight_to_cold = a.AmountField("in_flight_to_cold");
    h.in_flight_to_hot = a.AmountField("in_flight_to_hot");
    h.pending_withdrawals = a.AmountField("pending_withdrawals");
    if (!a.IsNull("price")) {
      ObjectReader p(a.Get("price"), a.PathOf("price"));
      Price price;
      price.denominator = p.Unsigned("denominator");
      price.numerator = p.Unsigned("numerator");
      if (price.denominator == 0) Fail(p.PathOf("denominator"), "must not be zero");
      p.Finish();
      h.price = price;
    }
    a.Finish();
    in.assets.push_back(std::move(h));
  }
  r.Finish();
  return in;
}

CoverageInput ReadCoverage(const Json& j, const std::string& path) {
  ObjectReader r(j, path);
  CoverageInput in;
  const Json& arr = r.Array("assets");
  for (size_t i = 0; i < arr.size(); ++i) {
    ObjectReader a(arr[i], Item(r.PathOf("assets"), i));
    CoverageHoldings h;
    h.asset = a.IdField<AssetId>("asset");
    h.cold = a.AmountField("cold");
    h.hot = a.AmountField("hot");
    a.Finish();
    in.assets.push_back(std::move(h));
  }
  r.Finish();
  return in;
}

template <typename T, typename Reader>
absl::StatusOr<T> ParseTyped(std::string_view text, Reader reader) {
  try {
    return reader(ParseStrict(text, "input"), "input");
  } catch (const RecordError& e) {
    return absl::InvalidArgumentError(e.message);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(internal::Cat("input: ", e.what()));
  }
}

// Evaluates a parsed input of `kind`; the input JSON is re-serialised canonically into
// `canonical_input`.
absl::StatusOr<std::string> EvaluateParsed(const Policy& policy, std::string_view kind, const Json& input,
                                           std::string* canonical_input) {
  if (kind == "withdrawal") {
    WithdrawalInput in = ReadWithdrawal(input, "input");
    *canonical_input = WithdrawalInputJson(in);
    absl::StatusOr<WithdrawalDecision> d = DecideWithdrawal(policy, in);
    if (!d.ok()) return d.status();
    return WithdrawalDecisionJson(*d);
  }
  if (kind == "quorum") {
    QuorumInput in = ReadQuorum(input, "input");
    *canonical_input = QuorumInputJson(in);
    absl::StatusOr<QuorumDecision> d = DecideQuorum(policy, in);
    if (!d.ok()) return d.status();
    return QuorumDecisionJson(*d);
  }
  if (kind == "whitelist_change") {
    WhitelistChangeInput in = ReadWhitelistChange(input, "input");
    *canonical_input = WhitelistChangeInputJson(in);
    absl::StatusOr<WhitelistChangeDecision> d = DecideWhitelistChange(policy, in);
    if (!d.ok()) return d.status();
    return WhitelistChangeDecisionJson(*d);
  }
  if (kind == "allocation") {
    AllocationInput in = ReadAllocation(input, "input");
    *canonical_input = AllocationInputJson(in);
    absl::StatusOr<AllocationDecision> d = DecideAllocation(policy, in);
    if (!d.ok()) return d.status();
    return AllocationDecisionJson(*d);
  }
  if (kind == "coverage") {
    CoverageInput in = ReadCoverage(input, "input");
    *canonical_input = CoverageInputJson(in);
    absl::StatusOr<CoverageDecision> d = DecideCoverage(policy, in);
    if (!d.ok()) return d.status();
    return CoverageDecisionJson(*d);
  }
  Fail("decision", internal::Cat("unknown decision kind \"", kind.substr(0, 32), "\""));
}

std::string Short(const Json& j) {
  std::string s = j.dump();
  if (s.size() > 120) s = s.substr(0, 117) + "...";
  return s;
}

void Diff(const Json& recorded, const Json& replayed, const std::string& path, std::vector<std::string>* out) {
  if (recorded.type() == replayed.type() && recorded.is_object()) {
    std::set<std::string> keys;
    for (auto it = recorded.begin(); it != recorded.end(); ++it) keys.insert(it.key());
    for (auto it = replayed.begin(); it != replayed.end(); ++it) keys.insert(it.key());
    for (const std::string& k : keys) {
      const std::string p = internal::Cat(path, ".", k);
      if (!recorded.contains(k)) {
        out->push_back(internal::Cat(p, ": missing from the record, replay gives ", Short(replayed[k])));
      } else if (!replayed.contains(k)) {
        out->push_back(internal::Cat(p, ": recorded ", Short(recorded[k]), ", absent on replay"));
      } else {
        Diff(recorded[k], replayed[k], p, out);
      }
    }
    return;
  }
  if (recorded.type() == replayed.type() && recorded.is_array() && recorded.size() == replayed.size()) {
    for (size_t i = 0; i < recorded.size(); ++i) Diff(recorded[i], replayed[i], Item(path, i), out);
    return;
  }
  if (recorded != replayed) {
    out->push_back(internal::Cat(path, ": recorded ", Short(recorded), ", replay gives ", Short(replayed)));
  }
}

}  // namespace

// --- typed inputs to JSON ---

std::string WithdrawalInputJson(const WithdrawalInput& in) {
  Json entry = nullptr;
  if (in.whitelist_entry) {
    entry = {{"added_at", in.whitelist_entry->added_at}, {"destination", in.whitelist_entry->destination.value()}};
  }
  Json j = {
      {"asset_frozen", in.asset_frozen},
      {"asset_outflows", OutflowsJson(in.asset_outflows)},
      {"available_balance", A(in.available_balance)},
      {"client_frozen", in.client_frozen},
      {"client_outflows", OutflowsJson(in.client_outflows)},
      {"now", in.now},
      {"request",
       {{"amount", A(in.request.amount)},
        {"asset", in.request.asset.value()},
        {"client", in.request.client.value()},
        {"destination", in.request.destination.value()},
        {"requester", in.request.requester.value()}}},
      {"whitelist_entry", entry},
  };
  return j.dump();
}

std::string QuorumInputJson(const QuorumInput& in) {
  Json j = {{"approvals", ApprovalsJson(in.approvals)},
            {"now", in.now},
            {"requester", in.requester.value()},
            {"rule", RuleJson(in.rule)}};
  return j.dump();
}

std::string WhitelistChangeInputJson(const WhitelistChangeInput& in) {
  Json j = {{"address", in.address.value()},
            {"approvals", ApprovalsJson(in.approvals)},
            {"asset", in.asset.value()},
            {"client", in.client.value()},
            {"kind", in.kind == WhitelistChangeKind::kAdd ? "add" : "remove"},
            {"now", in.now},
            {"requester", in.requester.value()}};
  return j.dump();
}

std::string AllocationInputJson(const AllocationInput& in) {
  Json assets = Json::array();
  for (const AssetHoldings& h : in.assets) {
    Json price = nullptr;
    if (h.price) price = {{"denominator", h.price->denominator}, {"numerator", h.price->numerator}};
    assets.push_back({{"asset", h.asset.value()},
                      {"cold", A(h.cold)},
                      {"hot", A(h.hot)},
                      {"in_flight_to_cold", A(h.in_flight_to_cold)},
                      {"in_flight_to_hot", A(h.in_flight_to_hot)},
                      {"pending_withdrawals", A(h.pending_withdrawals)},
                      {"price", price}});
  }
  return Json{{"assets", assets}}.dump();
}

std::string CoverageInputJson(const CoverageInput& in) {
  Json assets = Json::array();
  for (const CoverageHoldings& h : in.assets) {
    assets.push_back({{"asset", h.asset.value()}, {"cold", A(h.cold)}, {"hot", A(h.hot)}});
  }
  return Json{{"assets", assets}}.dump();
}

absl::StatusOr<WithdrawalInput> ParseWithdrawalInput(std::string_view json) {
  return ParseTyped<WithdrawalInput>(json, ReadWithdrawal);
}
absl::StatusOr<QuorumInput> ParseQuorumInput(std::string_view json) {
  return ParseTyped<QuorumInput>(json, ReadQuorum);
}
absl::StatusOr<WhitelistChangeInput> ParseWhitelistChangeInput(std::string_view json) {
  return ParseTyped<WhitelistChangeInput>(json, ReadWhitelistChange);
}
absl::StatusOr<AllocationInput> ParseAllocationInput(std::string_view json) {
  return ParseTyped<AllocationInput>(json, ReadAllocation);
}
absl::StatusOr<CoverageInput> ParseCoverageInput(std::string_view json) {
  return ParseTyped<CoverageInput>(json, ReadCoverage);
}

// --- typed outputs to JSON ---

std::string WithdrawalDecisionJson(const WithdrawalDecision& d) {
  Json denials = Json::array();
  for (const Denial& x : d.denials) {
    denials.push_back({{"reason", std::string(DenyReasonCode(x.reason))}, {"rule", x.rule}, {"until", OptTime(x.until)}});
  }
  Json j = {{"allowed", d.allowed},
            {"approvals", OptRuleJson(d.approvals)},
            {"denials", denials},
            {"matched_rules", d.matched_rules},
            {"not_before", OptTime(d.not_before)},
            {"policy_hash", d.policy_hash}};
  return j.dump();
}

std::string QuorumDecisionJson(const QuorumDecision& d) { return QuorumJson(d).dump(); }

std::string WhitelistChangeDecisionJson(const WhitelistChangeDecision& d) {
  Json j = {{"added_at", OptTime(d.added_at)},
            {"effective", d.effective},
            {"policy_hash", d.policy_hash},
            {"quorum", d.quorum ? QuorumJson(*d.quorum) : Json(nullptr)},
            {"usable_from", OptTime(d.usable_from)}};
  return j.dump();
}

std::string AllocationDecisionJson(const AllocationDecision& d) {
  Json assets = Json::array();
  for (const AssetAllocation& a : d.assets) {
    assets.push_back({{"action", std::string(AllocationActionCode(a.action))},
                      {"amount", A(a.amount)},
                      {"approvals", OptRuleJson(a.approvals)},
                      {"asset", a.asset.value()},
                      {"cap_amount", A(a.cap_amount)},
                      {"hot_after", A(a.hot_after)},
                      {"hot_projected", A(a.hot_projected)},
                      {"reason", std::string(AllocationReasonCode(a.reason))},
                      {"target_amount", A(a.target_amount)},
                      {"total", A(a.total)},
                      {"within_cap", a.within_cap}});
  }
  Json aggregate = nullptr;
  if (d.aggregate_evaluated) {
    aggregate = {{"cap_value", A(d.aggregate_cap_value)},
                 {"hot_value", A(d.aggregate_hot_value)},
                 {"total_value", A(d.aggregate_total_value)},
                 {"within_cap", d.aggregate_within_cap}};
  }
  return Json{{"aggregate", aggregate}, {"assets", assets}, {"policy_hash", d.policy_hash}}.dump();
}

std::string CoverageDecisionJson(const CoverageDecision& d) {
  Json assets = Json::array();
  for (const AssetCoverage& c : d.assets) {
    assets.push_back({{"asset", c.asset.value()},
                      {"cold_part", A(c.cold_part)},
                      {"cold_part_rounded", c.cold_part_rounded},
                      {"configured", A(c.configured)},
                      {"covered", c.covered},
                      {"hot_part", A(c.hot_part)},
                      {"required", A(c.required)},
                      {"shortfall", A(c.shortfall)}});
  }
  return Json{{"all_covered", d.all_covered}, {"assets", assets}, {"policy_hash", d.policy_hash}}.dump();
}

absl::StatusOr<std::string> EvaluateJson(const Policy& policy, std::string_view kind, std::string_view input_json) {
  try {
    std::string canonical_input;
    return EvaluateParsed(policy, kind, ParseStrict(input_json, "input"), &canonical_input);
  } catch (const RecordError& e) {
    return absl::InvalidArgumentError(e.message);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(internal::Cat("input: ", e.what()));
  }
}

absl::StatusOr<std::string> MakeRecord(const Policy& policy, std::string_view kind, std::string_view input_json,
                                       std::optional<std::string_view> embedded_policy_text) {
  try {
    if (embedded_policy_text) {
      absl::StatusOr<Policy> embedded = ParsePolicy(*embedded_policy_text);
      if (!embedded.ok()) return embedded.status();
      if (embedded->hash != policy.hash) {
        return absl::InvalidArgumentError("policy_toml: embedded text does not hash to the policy used");
      }
    }
    std::string canonical_input;
    absl::StatusOr<std::string> output = EvaluateParsed(policy, kind, ParseStrict(input_json, "input"), &canonical_input);
    if (!output.ok()) return output.status();
    Json record = {{"decision", std::string(kind)},
                   {"format", std::string(kRecordFormat)},
                   {"input", Json::parse(canonical_input)},
                   {"output", Json::parse(*output)},
                   {"policy_hash", policy.hash}};
    if (embedded_policy_text) record["policy_toml"] = std::string(*embedded_policy_text);
    return record.dump();
  } catch (const RecordError& e) {
    return absl::InvalidArgumentError(e.message);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(internal::Cat("record: ", e.what()));
  }
}

absl::StatusOr<ReplayResult> Replay(std::string_view record_json, std::optional<std::string_view> policy_text) {
  try {
    Json record = ParseStrict(record_json, "record");
    ObjectReader r(record, "");
    ReplayResult result;
    result.kind = r.String("decision");
    if (r.String("format") != kRecordFormat) {
      Fail("format", internal::Cat("must be \"", kRecordFormat, "\""));
    }
    const Json& input = r.Get("input");
    const Json& output = r.Get("output");
    if (!output.is_object()) Fail("output", "must be an object");
    result.policy_hash = r.String("policy_hash");
    std::optional<std::string> embedded;
    if (record.contains("policy_toml")) embedded = r.String("policy_toml");
    r.Finish();

    std::string text;
    if (policy_text) {
      text = std::string(*policy_text);
    } else if (embedded) {
      text = *embedded;
    } else {
      return absl::InvalidArgumentError("record embeds no policy text and no policy was given");
    }
    absl::StatusOr<Policy> policy = ParsePolicy(text);
    if (!policy.ok()) return policy.status();
    if (policy_text && embedded && *embedded != *policy_text) {
      absl::StatusOr<Policy> inner = ParsePolicy(*embedded);
      if (!inner.ok() || inner->hash != policy->hash) {
        result.differences.push_back("policy_toml: the embedded policy differs from the policy given");
      }
    }
    if (policy->hash != result.policy_hash) {
      result.differences.push_back(internal::Cat("policy_hash: the record names ", Short(Json(result.policy_hash)),
                                                " but the policy hashes to \"", policy->hash, "\""));
      return result;
    }
    std::string canonical_input;
    absl::StatusOr<std::string> replayed = EvaluateParsed(*policy, result.kind, input, &canonical_input);
    if (!replayed.ok()) {
      result.differences.push_back(
          internal::Cat("output: the decision now fails to evaluate: ", replayed.status().message()));
      return result;
    }
    if (canonical_input != input.dump()) {
      result.differences.push_back("input: not in canonical form (re-serialised input differs)");
    }
    Diff(output, Json::parse(*replayed), "output", &result.differences);
    return result;
  } catch (const RecordError& e) {
    return absl::InvalidArgumentError(e.message);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(internal::Cat("record: ", e.what()));
  }
}

}  // namespace ringfence::policy

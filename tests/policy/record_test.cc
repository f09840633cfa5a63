// Decision records: canonical serialisation, strict parsing, and replay (round trip and
// tampering).
#include "policy/record.h"

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ringfence::policy {
namespace {

using base::Amount;

using Json = nlohmann::json;

std::string PolicyText() {
  std::ifstream in(std::string(RINGFENCE_POLICY_TEST_DATA) + "/policy.toml");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

WithdrawalInput SampleWithdrawal() {
  WithdrawalInput in;
  in.now = 1000000;
  in.request = {ClientId("client-1"), AssetId("BTC"), Amount(800000000), Address("bc1qdest"), PrincipalId("dave")};
  in.available_balance = Amount(5000000000);
  in.whitelist_entry = WhitelistEntry{Address("bc1qdest"), 900000};
  in.client_outflows = {{Amount(100), 999000}, {Amount(5), 998000}};
  in.asset_outflows = {{Amount(7), 999999}};
  return in;
}

TEST(PolicyRecord, TypedInputsRoundTripCanonically) {
  const std::string w = WithdrawalInputJson(SampleWithdrawal());
  absl::StatusOr<WithdrawalInput> wb = ParseWithdrawalInput(w);
  ASSERT_TRUE(wb.ok()) << wb.status();
  EXPECT_EQ(WithdrawalInputJson(*wb), w);
  EXPECT_EQ(wb->client_outflows[1].amount, Amount(5));

  // Filled field by field: GCC 12's -O3 reports a false -Wmaybe-uninitialized for the
  // temporary strings of one nested aggregate initialiser.
  QuorumInput q;
  q.rule.group = GroupId("ops");
  q.rule.k = 2;
  q.requester = PrincipalId("dave");
  q.approvals.push_back({PrincipalId("alice"), 5});
  q.now = 10;
  EXPECT_EQ(QuorumInputJson(*ParseQuorumInput(QuorumInputJson(q))), QuorumInputJson(q));

  WhitelistChangeInput c;
  c.kind = WhitelistChangeKind::kRemove;
  c.client = ClientId("c");
  c.asset = AssetId("ETH");
  c.address = Address("0xabc");
  c.requester = PrincipalId("r");
  c.now = 7;
  EXPECT_EQ(WhitelistChangeInputJson(*ParseWhitelistChangeInput(WhitelistChangeInputJson(c))),
            WhitelistChangeInputJson(c));

  AllocationInput a;
  a.assets.push_back({AssetId("BTC"), Amount::Max(), Amount(1), Amount(2), Amount(3), Amount(4), Price{7, 9}});
  a.assets.push_back({AssetId("ETH"), Amount(0), Amount(1), Amount(2), Amount(3), Amount(4), std::nullopt});
  const std::string aj = AllocationInputJson(a);
  EXPECT_NE(aj.find("\"hot\":\"340282366920938463463374607431768211455\""), std::string::npos) << aj;
  EXPECT_EQ(AllocationInputJson(*ParseAllocationInput(aj)), aj);

  CoverageInput v;
  v.assets.push_back({AssetId("BTC"), Amount(1), Amount(2)});
  EXPECT_EQ(CoverageInputJson(*ParseCoverageInput(CoverageInputJson(v))), CoverageInputJson(v));
}

TEST(PolicyRecord, CanonicalFormIsSortedAndCompact) {
  const std::string w = WithdrawalInputJson(SampleWithdrawal());
  EXPECT_EQ(w.find(' '), std::string::npos);
  EXPECT_LT(w.find("\"asset_frozen\""), w.find("\"now\""));
  EXPECT_LT(w.find("\"now\""), w.find("\"whitelist_entry\""));
}

TEST(PolicyRecord, StrictParsingNamesTheField) {
  const std::string good = WithdrawalInputJson(SampleWithdrawal());
  struct Case {
    std::string text;
    std::string expected;
  };
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    const size_t at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) t.replace(at, from.size(), to);
    return t;
  };
  const Case cases[] = {
      {with("\"now\":1000000", "\"now\":1000000,\"now\":1000001"), "duplicate key \"now\""},
      {with("\"asset\":\"BTC\"", "\"asset\":\"BTC\",\"asset\":\"ETH\""), "duplicate key \"asset\""},
      {with("\"now\":1000000", "\"now\":1000000,\"extra\":1"), "input.extra: unknown key"},
      {with("\"now\":1000000,", ""), "input.now: required key is missing"},
      {with("\"now\":1000000", "\"now\":1000000.5"), "input.now: must be an integer"},
      {with("\"now\":1000000", "\"now\":-1"), "input.now"},
      {with("\"now\":1000000", "\"now\":18446744073709551615"), "input.now"},
      {with("\"available_balance\":\"5000000000\"", "\"available_balance\":\"-5\""), "input.available_balance"},
      {with("\"available_balance\":\"5000000000\"", "\"available_balance\":\"05\""), "input.available_balance"},
      {with("\"available_balance\":\"5000000000\"", "\"available_balance\":\"1.5\""), "input.available_balance"},
      {with("\"available_balance\":\"5000000000\"", "\"available_balance\":\"340282366920938463463374607431768211456\""),
       "input.available_balance"},
      {with("\"asset_frozen\":false", "\"asset_frozen\":0"), "input.asset_frozen: must be true or false"},
      {with("\"amount\":\"100\"", "\"amount\":100"), "input.client_outflows[0].amount: must be a string"},
      {with("\"client\":\"client-1\"", "\"client\":\"\""), "input.request.client"},
      {"[]", "input: must be an object"},
      {"{\"a\":", "not valid JSON"},
      {"", "not valid JSON"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<WithdrawalInput> r = ParseWithdrawalInput(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.expected), std::string::npos)
        << "got: " << r.status().message() << "\nwanted: " << c.expected;
  }
  EXPECT_FALSE(ParseWithdrawalInput(std::string(kMaxRecordBytes + 1, ' ')).ok());
}

TEST(PolicyRecord, ReplayRoundTripForEveryKind) {
  const std::string text = PolicyText();
  const Policy policy = *ParsePolicy(text);
  const std::pair<std::string, std::string> inputs[] = {
      {"withdrawal", WithdrawalInputJson(SampleWithdrawal())},
      {"quorum", R"({"approvals":[{"approved_at":999999,"approver":"alice"}],"now":1000000,"requester":"dave","rule":{"group":"ops","k":1}})"},
      {"whitelist_change", R"({"address":"bc1q","approvals":[],"asset":"BTC","client":"c","kind":"add","now":5,"requester":"r"})"},
      {"allocation", R"({"assets":[{"asset":"BTC","cold":"100","hot":"900","in_flight_to_cold":"0","in_flight_to_hot":"0","pending_withdrawals":"0","price":null}]})"},
      {"coverage", R"({"assets":[{"asset":"BTC","cold":"3","hot":"1"}]})"},
  };
  for (const auto& [kind, input] : inputs) {
    SCOPED_TRACE(kind);
    for (bool embed : {false, true}) {
      absl::StatusOr<std::string> record =
          MakeRecord(policy, kind, input, embed ? std::optional<std::string_view>(text) : std::nullopt);
      ASSERT_TRUE(record.ok()) << record.status();
      const Json j = Json::parse(*record);
      EXPECT_EQ(j.at("policy_hash"), policy.hash);
      EXPECT_EQ(j.at("decision"), kind);
      EXPECT_EQ(j.contains("policy_toml"), embed);
      EXPECT_EQ(j.dump(), *record) << "record is canonical";
      absl::StatusOr<ReplayResult> same =
          Replay(*record, embed ? std::nullopt : std::optional<std::string_view>(text));
      ASSERT_TRUE(same.ok()) << same.status();
      EXPECT_TRUE(same->same()) << (same->differences.empty() ? "" : same->differences[0]);
      EXPECT_EQ(same->kind, kind);
    }
  }
}

TEST(PolicyRecord, ReplayDetectsTampering) {
  const std::string text = PolicyText();
  const Policy policy = *ParsePolicy(text);
  const std::string record = *MakeRecord(policy, "withdrawal", WithdrawalInputJson(SampleWithdrawal()), text);
  Json j = Json::parse(record);
  ASSERT_EQ(j["output"]["not_before"], 1001800);

  {  // The recorded output altered.
    Json t = j;
    t["output"]["approvals"]["k"] = 1;
    absl::StatusOr<ReplayResult> r = Replay(t.dump(), std::nullopt);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->differences.size(), 1u);
    EXPECT_NE(r->differences[0].find("output.approvals.k"), std::string::npos) << r->differences[0];
  }
  {  // The recorded input altered: the replayed output no longer matches.
    Json t = j;
    t["input"]["request"]["amount"] = "1000000001";
    absl::StatusOr<ReplayResult> r = Replay(t.dump(), std::nullopt);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(r->same());
    EXPECT_NE(r->differences[0].find("output.allowed"), std::string::npos) << r->differences[0];
  }
  {  // The embedded policy altered: its hash no longer matches the record.
    Json t = j;
    std::string p = t["policy_toml"];
    p.replace(p.find("per_request_limit = \"10\""), 24, "per_request_limit = \"11\"");
    t["policy_toml"] = p;
    absl::StatusOr<ReplayResult> r = Replay(t.dump(), std::nullopt);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_FALSE(r->same());
    EXPECT_NE(r->differences[0].find("policy_hash"), std::string::npos);
  }
  {  // The policy hash altered.
    Json t = j;
    t["policy_hash"] = std::string(64, '0');
    absl::StatusOr<ReplayResult> r = Replay(t.dump(), std::nullopt);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->same());
  }
  {  // A different policy given on the side of an embedded one.
    std::string other = text;
    other.replace(other.find("cooling_off_seconds = 86400"), 27, "cooling_off_seconds = 86401");
    absl::StatusOr<ReplayResult> r = Replay(record, other);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(r->same());
  }
  {  // A field added to the output.
    Json t = j;
    t["output"]["bonus"] = true;
    absl::StatusOr<ReplayResult> r = Replay(t.dump(), std::nullopt);
    ASSERT_TRUE(r.ok());
    ASSERT_FALSE(r->same());
    EXPECT_NE(r->differences[0].find("output.bonus"), std::string::npos);
  }
}

TEST(PolicyRecord, MalformedRecordsAreErrorsNotDifferences) {
  const std::string text = PolicyText();
  const Policy policy = *ParsePolicy(text);
  const std::string record = *MakeRecord(policy, "coverage", R"({"assets":[]})", std::nullopt);
  EXPECT_FALSE(Replay(record, std::nullopt).ok()) << "no policy available";
  Json j = Json::parse(record);
  j["format"] = "something-else";
  EXPECT_FALSE(Replay(j.dump(), text).ok());
  j = Json::parse(record);
  j["decision"] = "lunch";
  EXPECT_FALSE(Replay(j.dump(), text).ok());
  j = Json::parse(record);
  j["surprise"] = 1;
  absl::StatusOr<ReplayResult> r = Replay(j.dump(), text);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("surprise: unknown key"), std::string::npos);
  std::string dup = record;
  dup.insert(1, "\"decision\":\"coverage\",");
  EXPECT_FALSE(Replay(dup, text).ok());
  EXPECT_FALSE(Replay("not json", text).ok());
  EXPECT_FALSE(MakeRecord(policy, "coverage", R"({"assets":[]})", std::string_view("version = 1")).ok());
  EXPECT_FALSE(MakeRecord(policy, "unknown", "{}", std::nullopt).ok());
}

}  // namespace
}  // namespace ringfence::policy

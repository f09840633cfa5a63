// Canonical serialisation of decision inputs and outputs, decision records, and replay.
//
// A decision record is one JSON object holding the decision kind, the policy hash, the input
// and the output (and optionally the policy text itself); docs/policy.md gives the layout.
// Everything here is text in, text out: the caller reads and writes files.
//
// Parsing is strict: duplicate keys, unknown keys, missing keys, wrong types, non-canonical
// amounts and out-of-range times are rejected with InvalidArgument naming the field path.
// Serialisation is canonical: compact JSON, keys sorted bytewise, amounts as base-unit decimal
// strings, absent optionals as null. Equal values always give identical bytes.
//
// Stateless functions; safe to call from any thread.
#ifndef RINGFENCE_POLICY_RECORD_H_
#define RINGFENCE_POLICY_RECORD_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "policy/allocation.h"
#include "policy/config.h"
#include "policy/quorum.h"
#include "policy/withdrawal.h"

namespace ringfence::policy {

inline constexpr std::string_view kRecordFormat = "ringfence.policy.record.v1";
// Record and input text larger than this is refused before parsing.
inline constexpr size_t kMaxRecordBytes = 16 << 20;

// Decision kinds as they appear in records: "withdrawal", "quorum", "whitelist_change",
// "allocation", "coverage".
inline constexpr std::string_view kDecisionKinds[] = {"withdrawal", "quorum", "whitelist_change",
                                                      "allocation", "coverage"};

// Typed inputs <-> canonical JSON. The parsers return InvalidArgument with the field path.
std::string WithdrawalInputJson(const WithdrawalInput& input);
absl::StatusOr<WithdrawalInput> ParseWithdrawalInput(std::string_view json);
std::string QuorumInputJson(const QuorumInput& input);
absl::StatusOr<QuorumInput> ParseQuorumInput(std::string_view json);
std::string WhitelistChangeInputJson(const WhitelistChangeInput& input);
absl::StatusOr<WhitelistChangeInput> ParseWhitelistChangeInput(std::string_view json);
std::string AllocationInputJson(const AllocationInput& input);
absl::StatusOr<AllocationInput> ParseAllocationInput(std::string_view json);
std::string CoverageInputJson(const CoverageInput& input);
absl::StatusOr<CoverageInput> ParseCoverageInput(std::string_view json);

// Typed outputs -> canonical JSON.
std::string WithdrawalDecisionJson(const WithdrawalDecision& d);
std::string QuorumDecisionJson(const QuorumDecision& d);
std::string WhitelistChangeDecisionJson(const WhitelistChangeDecision& d);
std::string AllocationDecisionJson(const AllocationDecision& d);
std::string CoverageDecisionJson(const CoverageDecision& d);

// Parses `input_json` as the input of decision `kind`, evaluates it under `policy` and returns
// the canonical output JSON. Returns InvalidArgument for an unknown kind or a malformed input,
// and whatever the decision function returns for input it rejects.
absl::StatusOr<std::string> EvaluateJson(const Policy& policy, std::string_view kind, std::string_view input_json);

// Evaluates as EvaluateJson and wraps input and output into a canonical record naming the
// policy hash. If `embedded_policy_text` is given it is stored in the record (it must be the
// text `policy` was parsed from; InvalidArgument if its hash differs).
absl::StatusOr<std::string> MakeRecord(const Policy& policy, std::string_view kind, std::string_view input_json,
                                       std::optional<std::string_view> embedded_policy_text);

struct ReplayResult {
  std::string kind;
  std::string policy_hash;             // as named by the record
  std::vector<std::string> differences;  // empty iff the replay matched
  bool same() const { return differences.empty(); }
};

// Re-evaluates a recorded decision. The policy is the text embedded in the record or, if the
// record has none, `policy_text` (if both are present, `policy_text` wins and must match the
// hash too). A policy whose hash differs from the record's is reported as a difference, and the
// decision is not re-evaluated under it. Returns InvalidArgument if the record is malformed,
// no policy is available, or the policy text does not parse.
absl::StatusOr<ReplayResult> Replay(std::string_view record_json, std::optional<std::string_view> policy_text);

}  // namespace ringfence::policy

#endif  // RINGFENCE_POLICY_RECORD_H_

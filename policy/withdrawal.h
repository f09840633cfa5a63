// Withdrawal decision: given a request and everything known about its client, asset and
// destination at `now`, decide deny (with every reason that applies) or allow (with the
// approvals required, an optional delay and the rules that matched).
//
// Pure function of its arguments: no I/O, no clock. A denial is a value; a Status error means
// the input itself was malformed (unknown asset, time out of range).
#ifndef RINGFENCE_POLICY_WITHDRAWAL_H_
#define RINGFENCE_POLICY_WITHDRAWAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/amount.h"
#include "base/digest.h"
#include "policy/config.h"
#include "policy/ids.h"

namespace ringfence::policy {

// Unix seconds. Decisions accept times in 0..kMaxTimestamp (the end of year 9999), so that a
// time plus any policy period stays far inside int64; ValidateTimestamp returns InvalidArgument
// naming the field otherwise. Both are base/digest.h's, shared with every digest.
using base::kMaxTimestamp;
using base::ValidateTimestamp;

struct Outflow {
  base::Amount amount;
  int64_t at = 0;  // when it was committed (held or sent)
};

struct WhitelistEntry {
  Address destination;
  int64_t added_at = 0;  // when the add became effective; cooling-off runs from here
};

struct WithdrawalRequest {
  ClientId client;
  AssetId asset;
  base::Amount amount;
  Address destination;
  PrincipalId requester;
};

struct WithdrawalInput {
  WithdrawalRequest request;
  base::Amount available_balance;
  // The client's whitelist entry for the destination, if any.
  std::optional<WhitelistEntry> whitelist_entry;
  std::vector<Outflow> client_outflows;  // this client, this asset
  std::vector<Outflow> asset_outflows;   // all clients, this asset
  bool client_frozen = false;
  bool asset_frozen = false;
  int64_t now = 0;
};

enum class DenyReason {
  kAssetFrozen,
  kClientFrozen,
  kOverPerRequestLimit,
  kInsufficientFunds,
  kNotWhitelisted,
  kCoolingOff,
  kOverClientRollingLimit,
  kOverAssetRollingLimit,
};

// Stable text codes used in records and docs ("insufficient_funds", ...).
std::string_view DenyReasonCode(DenyReason reason);
// Returns std::nullopt for an unknown code.
std::optional<DenyReason> DenyReasonFromCode(std::string_view code);

struct Denial {
  DenyReason reason;
  std::string rule;             // policy field path that denied it
  std::optional<int64_t> until;  // kCoolingOff: first second the destination is usable
};

struct WithdrawalDecision {
  std::string policy_hash;  // the policy version this was decided under
  bool allowed = false;
  std::vector<Denial> denials;  // empty iff allowed; in DenyReason order
  // Approvals required when allowed; k == 0 (and no group) means none.
  ApprovalRule approvals;
  // When allowed with a delay: the earliest time the withdrawal may proceed.
  std::optional<int64_t> not_before;
  // Policy field paths of the rules that were evaluated and passed or applied.
  std::vector<std::string> matched_rules;
};

// Returns NotFound if the request's asset is not in the policy, InvalidArgument if the amount
// is zero or a time is out of range. The velocity sums saturate at 2^128 - 1 (which then
// exceeds any limit) rather than fail, so an absurd history denies instead of erroring.
absl::StatusOr<WithdrawalDecision> DecideWithdrawal(const Policy& policy, const WithdrawalInput& input);

}  // namespace ringfence::policy

#endif  // RINGFENCE_POLICY_WITHDRAWAL_H_

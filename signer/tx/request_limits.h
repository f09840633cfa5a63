// SignTransaction's edge check: every string and bytes field of a request within its limit and
// every repeated field within its count (the limits are in signer/request_limits.h and
// docs/sign_transaction.md). TransactionSigner runs it before anything else, so a request over
// a limit claims nothing, reaches no token and is logged only as the refusal it is.
//
// Pure functions over caller-owned values; thread-safe.
#ifndef RINGFENCE_SIGNER_TX_REQUEST_LIMITS_H_
#define RINGFENCE_SIGNER_TX_REQUEST_LIMITS_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "signer/request_limits.h"
#include "signer/tx/tx_check.h"

namespace ringfence::signer::tx {

// OK, or InvalidArgument for the first field over its limit (expires_at: outside
// 0..policy::kMaxTimestamp), in the proto's field order:
// "request_limit: <field>: <n> bytes, at most <limit>" (or "<n> entries" for a repeated
// field), naming the field as the proto does ("intent.destination",
// "approvals[2].approver_id").
absl::Status CheckRequestLimits(const TxRequest& request);

// What a sign-log entry records of a request field: the value itself when it is within
// `limit`, otherwise a short quoted prefix (base::Clip), so that no entry grows with what a
// caller sent.
std::string LoggedField(std::string_view value, size_t limit);

}  // namespace ringfence::signer::tx

#endif  // RINGFENCE_SIGNER_TX_REQUEST_LIMITS_H_

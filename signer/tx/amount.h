// Amount text in SignTransaction requests and signerd's own files (the intent's amount and fee
// cap, quorum tier thresholds): base units in the one canonical grammar of base/amount.h,
// parsed by base::ParseBaseUnits. This wrapper only names the field in the error, so that a
// refusal says which of a request's amounts was wrong.
//
// Pure functions; thread-safe.
#ifndef RINGFENCE_SIGNER_TX_AMOUNT_H_
#define RINGFENCE_SIGNER_TX_AMOUNT_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "base/amount.h"

namespace ringfence::signer::tx {

// base::ParseBaseUnits, with every error (a value above 2^128 - 1 included) returned as
// InvalidArgument "<field>: <the rule broken>"; outside text is quoted clipped.
absl::StatusOr<base::Amount> ParseAmountField(std::string_view text, std::string_view field);

}  // namespace ringfence::signer::tx

#endif  // RINGFENCE_SIGNER_TX_AMOUNT_H_

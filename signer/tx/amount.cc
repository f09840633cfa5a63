#include "signer/tx/amount.h"

#include "base/text.h"

namespace ringfence::signer::tx {

absl::StatusOr<base::Amount> ParseAmountField(std::string_view text, std::string_view field) {
  absl::StatusOr<base::Amount> amount = base::ParseBaseUnits(text);
  if (!amount.ok()) return absl::InvalidArgumentError(base::Cat(field, ": ", amount.status().message()));
  return amount;
}

}  // namespace ringfence::signer::tx

// The units quorum shows an approver's amounts in.
//
// The approval digest carries base units (docs/approval-digest.md); a person reads display
// units. Showing "150000000 BTC" for 1.5 BTC would put an approver off by 10^8, so every amount
// on screen goes through base::FormatLabelledAmount ("1.5 BTC (150000000 base units)") with the
// decimals resolved here. They are never guessed: the native coin of each chain quorum knows is
// in a fixed table, and any other asset (an ERC-20 token) needs the approver to give its
// decimals explicitly.
//
// Pure functions over values; thread-safe.
#ifndef RINGFENCE_TOOLS_QUORUM_AMOUNT_DISPLAY_H_
#define RINGFENCE_TOOLS_QUORUM_AMOUNT_DISPLAY_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/amount.h"

namespace ringfence::quorum {

// The units an approval's two amounts are shown in.
struct DisplayUnits {
  std::string asset;      // what the destination receives, e.g. "BTC", "USDC-ETH"
  int asset_decimals = 0;
  std::string fee_unit;   // the chain's native coin: fee caps are always counted in it
  int fee_decimals = 0;
};

// Units for `asset` on `chain`. The native coin of a known chain (BTC on bitcoin: 8 decimals;
// ETH on ethereum: 18) has fixed decimals; `decimals`, when given, must equal them. Any other
// asset needs `decimals` (0 to base::kMaxDecimals). Returns InvalidArgument naming --chain for
// an unknown chain and --decimals when it is missing, out of range or contradicts the table.
absl::StatusOr<DisplayUnits> ResolveDisplayUnits(std::string_view chain, std::string_view asset,
                                                 std::optional<int> decimals);

}  // namespace ringfence::quorum

#endif  // RINGFENCE_TOOLS_QUORUM_AMOUNT_DISPLAY_H_

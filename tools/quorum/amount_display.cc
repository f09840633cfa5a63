#include "tools/quorum/amount_display.h"

#include <array>

#include "base/text.h"

namespace ringfence::quorum {
namespace {

struct NativeCoin {
  std::string_view chain;
  std::string_view asset;
  int decimals;
};

// The chains an approval digest may name, each with the coin its fees are paid in.
constexpr std::array<NativeCoin, 2> kNativeCoins = {{
    {"bitcoin", "BTC", 8},
    {"ethereum", "ETH", 18},
}};

}  // namespace

absl::StatusOr<DisplayUnits> ResolveDisplayUnits(std::string_view chain, std::string_view asset,
                                                 std::optional<int> decimals) {
  const NativeCoin* native = nullptr;
  for (const NativeCoin& coin : kNativeCoins) {
    if (coin.chain == chain) native = &coin;
  }
  if (native == nullptr) {
    return absl::InvalidArgumentError(base::Cat("--chain: ", base::Clip(chain), " is not bitcoin or ethereum"));
  }
  if (decimals.has_value() && (*decimals < 0 || *decimals > base::kMaxDecimals)) {
    return absl::InvalidArgumentError(
        base::Cat("--decimals: ", *decimals, " is not between 0 and ", base::kMaxDecimals));
  }
  DisplayUnits units{std::string(asset), 0, std::string(native->asset), native->decimals};
  if (asset == native->asset) {
    if (decimals.has_value() && *decimals != native->decimals) {
      return absl::InvalidArgumentError(base::Cat("--decimals: ", native->asset, " on ", native->chain, " has ",
                                                  native->decimals, " decimals, not ", *decimals));
    }
    units.asset_decimals = native->decimals;
    return units;
  }
  if (!decimals.has_value()) {
    return absl::InvalidArgumentError(base::Cat("--decimals: required for ", base::Clip(asset), " (only ",
                                                native->asset, "'s are known on ", native->chain,
                                                "); give the token's decimals from its contract"));
  }
  units.asset_decimals = *decimals;
  return units;
}

}  // namespace ringfence::quorum

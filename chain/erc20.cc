#include "chain/erc20.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "base/hex.h"

namespace ringfence::chain {

std::vector<uint8_t> EncodeErc20Transfer(const Erc20Transfer& transfer) {
  // Assembled in a fixed-size array so that every copy has a bound the compiler can see (growing
  // a vector step by step made GCC 12 -O3 report a false -Warray-bounds).
  std::array<uint8_t, kErc20TransferCalldataSize> calldata{};
  auto at = std::copy(kErc20TransferSelector.begin(), kErc20TransferSelector.end(), calldata.begin());
  at += 12;  // the address word's zero high bytes
  at = std::copy(transfer.to.begin(), transfer.to.end(), at);
  std::copy(transfer.amount.Word().begin(), transfer.amount.Word().end(), at);
  return std::vector<uint8_t>(calldata.begin(), calldata.end());
}

absl::StatusOr<Erc20Transfer> DecodeErc20Transfer(std::span<const uint8_t> calldata) {
  if (calldata.size() < 4) {
    return absl::InvalidArgumentError(absl::StrCat("ERC-20 calldata: ", calldata.size(), " bytes, no selector"));
  }
  if (!std::equal(kErc20TransferSelector.begin(), kErc20TransferSelector.end(), calldata.begin())) {
    return absl::InvalidArgumentError(absl::StrCat("ERC-20 calldata: selector 0x", base::HexEncode(calldata.first(4)),
                                                   " is not transfer(address,uint256) (0xa9059cbb)"));
  }
  if (calldata.size() != kErc20TransferCalldataSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("ERC-20 calldata: transfer must be exactly 68 bytes, got ", calldata.size()));
  }
  if (!std::all_of(calldata.begin() + 4, calldata.begin() + 16, [](uint8_t b) { return b == 0; })) {
    return absl::InvalidArgumentError("ERC-20 calldata: recipient word has non-zero high 12 bytes");
  }
  Erc20Transfer out;
  std::copy(calldata.begin() + 16, calldata.begin() + 36, out.to.begin());
  std::array<uint8_t, 32> word;
  std::copy(calldata.begin() + 36, calldata.end(), word.begin());
  out.amount = U256::FromWord(word);
  return out;
}

}  // namespace ringfence::chain

// ERC-20 transfer(address,uint256) calldata: selector a9059cbb followed by two 32-byte ABI
// words, the recipient (left-padded with 12 zero bytes) and the amount.
//
// Pure functions; thread-safe.
#ifndef RINGFENCE_CHAIN_ERC20_H_
#define RINGFENCE_CHAIN_ERC20_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "chain/eth_address.h"
#include "chain/uint256.h"

namespace ringfence::chain {

inline constexpr std::array<uint8_t, 4> kErc20TransferSelector = {0xa9, 0x05, 0x9c, 0xbb};
// Selector, the recipient as a 32-byte word, the amount as a 32-byte word.
inline constexpr size_t kErc20TransferCalldataSize = 4 + 32 + 32;

struct Erc20Transfer {
  EthAddress to{};
  U256 amount;
  bool operator==(const Erc20Transfer&) const = default;
};

// 68 bytes: selector, address word, amount word.
std::vector<uint8_t> EncodeErc20Transfer(const Erc20Transfer& transfer);

// Strict decode: exactly 68 bytes, the transfer selector, and the 12 high bytes of the
// address word zero (ABI-clean). InvalidArgument naming the rule otherwise.
absl::StatusOr<Erc20Transfer> DecodeErc20Transfer(std::span<const uint8_t> calldata);

}  // namespace ringfence::chain

#endif  // RINGFENCE_CHAIN_ERC20_H_

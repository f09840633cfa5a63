// Ethereum account addresses: the last 20 bytes of Keccak-256 of the uncompressed public
// key (without its 0x04 prefix), written as 0x + 40 hex digits with the EIP-55 mixed-case
// checksum.
//
// Pure functions; thread-safe. An address is a plain std::array<uint8_t, 20> (EthAddress).
#ifndef RINGFENCE_CHAIN_ETH_ADDRESS_H_
#define RINGFENCE_CHAIN_ETH_ADDRESS_H_

#include <secp256k1.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ringfence::chain {

using EthAddress = std::array<uint8_t, 20>;

// "0x" + 40 hex digits, each letter upper-case when the matching nibble of
// Keccak-256(lowercase hex) is >= 8 (EIP-55).
std::string EthChecksumAddress(const std::array<uint8_t, 20>& addr);

// Parses "0x" + 40 hex digits. All-lowercase and all-uppercase digits are accepted as
// unchecksummed; mixed case must be exactly the EIP-55 form. On failure returns
// InvalidArgument saying which rule failed (prefix, length, character, checksum).
absl::StatusOr<std::array<uint8_t, 20>> ParseEthAddress(std::string_view s);

// The address of a public key held by libsecp256k1.
std::array<uint8_t, 20> EthAddressFromPubkey(const secp256k1_pubkey& pk);

// The address of a serialised public key: 65 bytes 0x04||X||Y or 33 bytes compressed
// (decompressed first). InvalidArgument if the bytes are not a point on the curve.
absl::StatusOr<std::array<uint8_t, 20>> EthAddressFromPubkeyBytes(std::span<const uint8_t> pubkey);

// The address that signed `digest`: sig65 is r||s||v with v in {27, 28} or {0, 1}.
// InvalidArgument for a wrong length, v outside those values, r or s out of range, or
// s above n/2 (high S is malleable and never produced by Ringfence's signer).
absl::StatusOr<std::array<uint8_t, 20>> RecoverEthAddress(const std::array<uint8_t, 32>& digest,
                                                          std::span<const uint8_t> sig65);

}  // namespace ringfence::chain

#endif  // RINGFENCE_CHAIN_ETH_ADDRESS_H_

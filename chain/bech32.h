// Bech32 (BIP-173) and Bech32m (BIP-350) strings, and segwit addresses built on them, with
// the P2WPKH scriptPubKey helpers custodyd uses to build outputs and signerd uses to check
// them.
//
// Pure functions; thread-safe. Every decoder returns InvalidArgument naming the rule broken
// and never a partial result.
#ifndef RINGFENCE_CHAIN_BECH32_H_
#define RINGFENCE_CHAIN_BECH32_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ringfence::chain {

enum class Bech32Encoding { kBech32, kBech32m };

// A decoded bech32 string: lowercase human-readable part and the 5-bit data values
// (checksum removed).
struct Bech32Data {
  std::string hrp;
  std::vector<uint8_t> values;
  Bech32Encoding encoding;
};

// Decodes any bech32 or bech32m string (at most 90 characters, HRP 1..83 characters in
// 33..126, all upper or all lower case, valid checksum of either kind).
absl::StatusOr<Bech32Data> Bech32Decode(std::string_view s);

// Encodes lowercase. InvalidArgument if the HRP is empty, too long, has characters outside
// 33..126 or upper case, a value is >= 32, or the result would exceed 90 characters.
absl::StatusOr<std::string> Bech32Encode(std::string_view hrp, std::span<const uint8_t> values,
                                         Bech32Encoding encoding);

// The networks Ringfence knows and their segwit HRPs: mainnet "bc", testnet/signet "tb",
// regtest "bcrt".
enum class BitcoinNetwork { kMainnet, kTestnet, kRegtest };
std::string_view SegwitHrp(BitcoinNetwork network);

struct SegwitAddress {
  std::string hrp;         // "bc", "tb" or "bcrt"
  int witness_version;     // 0..16
  std::vector<uint8_t> program;  // 2..40 bytes; 20 or 32 for version 0
};

// Decodes and validates a segwit address: HRP one of bc/tb/bcrt (either case, never
// mixed), version 0 with bech32 and a 20- or 32-byte program, versions 1..16 with bech32m
// and a 2..40-byte program, 8-to-5 bit regrouping with at most 4 zero padding bits.
absl::StatusOr<SegwitAddress> DecodeSegwitAddress(std::string_view address);

// Encodes after the same validation (lowercase output).
absl::StatusOr<std::string> EncodeSegwitAddress(const SegwitAddress& address);

// scriptPubKey of a segwit output: OP_n (OP_0 or OP_1..OP_16) then one push of the program.
// InvalidArgument under the same version/program rules as the address.
absl::StatusOr<std::vector<uint8_t>> SegwitScriptPubKey(int witness_version, std::span<const uint8_t> program);

// The segwit address that `script_pubkey` pays under `hrp`; InvalidArgument when the
// script is not a witness program (OP_n, single direct push of 2..40 bytes, nothing else).
absl::StatusOr<SegwitAddress> SegwitAddressFromScriptPubKey(std::span<const uint8_t> script_pubkey,
                                                            std::string_view hrp);

// P2WPKH: scriptPubKey 0x00 0x14 <20-byte key hash>.
std::vector<uint8_t> P2wpkhScriptPubKey(const std::array<uint8_t, 20>& key_hash);
// The key hash of a P2WPKH scriptPubKey, InvalidArgument for any other script.
absl::StatusOr<std::array<uint8_t, 20>> ParseP2wpkhScriptPubKey(std::span<const uint8_t> script_pubkey);
// The P2WPKH address of a key hash, e.g. bc1q... for hrp "bc".
absl::StatusOr<std::string> P2wpkhAddress(std::string_view hrp, const std::array<uint8_t, 20>& key_hash);
// The scriptPubKey an address pays (any segwit version); fails as DecodeSegwitAddress.
absl::StatusOr<std::vector<uint8_t>> ScriptPubKeyForAddress(std::string_view address);

}  // namespace ringfence::chain

#endif  // RINGFENCE_CHAIN_BECH32_H_

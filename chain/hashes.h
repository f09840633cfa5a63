// Bitcoin's hash functions over caller-owned bytes, computed with OpenSSL: SHA-256,
// double SHA-256 (txids, BIP-143 parts) and HASH160 = RIPEMD-160(SHA-256(x)) (P2WPKH
// key hashes).
//
// Pure functions; thread-safe. OpenSSL failure (a broken installation) aborts: these
// functions cannot fail on valid input, so callers are not asked to handle it.
#ifndef RINGFENCE_CHAIN_HASHES_H_
#define RINGFENCE_CHAIN_HASHES_H_

#include <array>
#include <cstdint>
#include <span>

namespace ringfence::chain {

std::array<uint8_t, 32> Sha256(std::span<const uint8_t> data);
std::array<uint8_t, 32> DoubleSha256(std::span<const uint8_t> data);
std::array<uint8_t, 20> Ripemd160(std::span<const uint8_t> data);
std::array<uint8_t, 20> Hash160(std::span<const uint8_t> data);

}  // namespace ringfence::chain

#endif  // RINGFENCE_CHAIN_HASHES_H_

// Keccak-256 as Ethereum uses it: the original Keccak submission's padding (0x01 ... 0x80),
// not FIPS-202 SHA3-256 (0x06 ... 0x80). OpenSSL 3.0 offers only the latter, so the
// permutation lives here, checked against the public vectors in tests/chain.
//
// Pure functions on caller-owned bytes; thread-safe.
#ifndef RINGFENCE_CHAIN_KECCAK_H_
#define RINGFENCE_CHAIN_KECCAK_H_

#include <array>
#include <cstdint>
#include <span>

namespace ringfence::chain {

// Keccak-256 of `data` (rate 136 bytes, capacity 512 bits, 32-byte output).
std::array<uint8_t, 32> Keccak256(std::span<const uint8_t> data);

// Incremental form, for hashing a message that is assembled in pieces. Not thread-safe;
// one instance per message.
class Keccak256Hasher {
 public:
  Keccak256Hasher();
  void Update(std::span<const uint8_t> data);
  // Pads, squeezes and returns the digest. REQUIRES: called once; the object is spent after.
  std::array<uint8_t, 32> Finish();

 private:
  static constexpr size_t kRate = 136;
  uint64_t state_[25];
  size_t offset_;  // bytes absorbed into the current block
};

}  // namespace ringfence::chain

#endif  // RINGFENCE_CHAIN_KECCAK_H_

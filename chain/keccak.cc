#include "chain/keccak.h"

#include <cstring>

namespace ringfence::chain {
namespace {

constexpr uint64_t kRoundConstants[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

// Rotation offsets r[x + 5y] from the Keccak reference.
constexpr int kRotation[25] = {
    0,  1,  62, 28, 27,  //
    36, 44, 6,  55, 20,  //
    3,  10, 43, 25, 39,  //
    41, 45, 15, 21, 8,   //
    18, 2,  61, 56, 14,
};

inline uint64_t Rotl(uint64_t v, int n) { return n == 0 ? v : (v << n) | (v >> (64 - n)); }

void KeccakF1600(uint64_t a[25]) {
  for (int round = 0; round < 24; ++round) {
    // theta
    uint64_t c[5];
    for (int x = 0; x < 5; ++x) c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
    for (int x = 0; x < 5; ++x) {
      uint64_t d = c[(x + 4) % 5] ^ Rotl(c[(x + 1) % 5], 1);
      for (int y = 0; y < 25; y += 5) a[y + x] ^= d;
    }
    // rho and pi: B[y, 2x+3y] = rot(A[x, y], r[x, y])
    uint64_t b[25];
    for (int x = 0; x < 5; ++x) {
      for (int y = 0; y < 5; ++y) {
        b[y + 5 * ((2 * x + 3 * y) % 5)] = Rotl(a[x + 5 * y], kRotation[x + 5 * y]);
      }
    }
    // chi
    for (int y = 0; y < 25; y += 5) {
      for (int x = 0; x < 5; ++x) a[y + x] = b[y + x] ^ (~b[y + (x + 1) % 5] & b[y + (x + 2) % 5]);
    }
    // iota
    a[0] ^= kRoundConstants[round];
  }
}

inline void XorByte(uint64_t state[25], size_t pos, uint8_t v) {
  // Lanes are little-endian: byte i of the block is byte (i % 8) of lane i / 8.
  state[pos / 8] ^= static_cast<uint64_t>(v) << (8 * (pos % 8));
}

}  // namespace

Keccak256Hasher::Keccak256Hasher() : offset_(0) { std::memset(state_, 0, sizeof(state_)); }

void Keccak256Hasher::Update(std::span<const uint8_t> data) {
  for (uint8_t byte : data) {
    XorByte(state_, offset_, byte);
    if (++offset_ == kRate) {
      KeccakF1600(state_);
      offset_ = 0;
    }
  }
}

std::array<uint8_t, 32> Keccak256Hasher::Finish() {
  // Original Keccak multi-rate padding: a 1 bit right after the message, a 1 bit at the end of
  // the block (both in one byte, 0x81, when only one byte of the block is left).
  XorByte(state_, offset_, 0x01);
  XorByte(state_, kRate - 1, 0x80);
  KeccakF1600(state_);
  std::array<uint8_t, 32> out;
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(state_[i / 8] >> (8 * (i % 8)));
  return out;
}

std::array<uint8_t, 32> Keccak256(std::span<const uint8_t> data) {
  Keccak256Hasher hasher;
  hasher.Update(data);
  return hasher.Finish();
}

}  // namespace ringfence::chain

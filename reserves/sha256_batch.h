// Batched SHA-256: finishes up to sixteen hashes that share a starting state (a tag midstate)
// at once. With AVX-512 the sixteen run in the lanes of 512-bit registers, with AVX2 eight at
// a time in 256-bit registers (one message schedule and one compression per block for all
// lanes); without either each runs through OpenSSL.
// The Merkle-sum tree spends nearly all its time here, so this is what sets export speed.
//
// Pure functions on caller-owned memory; thread-safe.
#ifndef RINGFENCE_RESERVES_SHA256_BATCH_H_
#define RINGFENCE_RESERVES_SHA256_BATCH_H_

#include <cstddef>
#include <cstdint>

namespace ringfence::reserves {

// The SHA-256 chaining state after `bytes` bytes of input (a multiple of 64).
struct Sha256Mid {
  uint32_t h[8];
  uint64_t bytes;
};

inline constexpr size_t kBatchLanes = 16;
// Longest message a lane may carry (so that it pads into at most 4 blocks).
inline constexpr size_t kBatchMaxLen = 4 * 64 - 9;

// outs[k] = SHA-256 of (the input behind `mid`) || msgs[k][0 .. lens[k]) for k < count.
// REQUIRES: count <= kBatchLanes, lens[k] <= kBatchMaxLen.
void Sha256FinishBatch(const Sha256Mid& mid, size_t count, const uint8_t* const msgs[], const size_t lens[],
                       uint8_t* const outs[]);

// True when a vector path is in use, and its name ("AVX-512 x16", "AVX2 x8", "scalar").
bool Sha256BatchIsVectorized();
const char* Sha256BatchPath();

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_SHA256_BATCH_H_

// Batched SHA-256: finishes up to sixteen hashes that share a starting state (a tag midstate)
// at once. The Merkle-sum tree spends nearly all its time here, so this is what sets export
// and verify speed.
//
// Three paths compute the same digests:
//   - AVX-512 (x86): sixteen messages in the lanes of 512-bit registers;
//   - AVX2 (x86): eight at a time in 256-bit registers (one message schedule and one
//     compression per block for all lanes);
//   - portable: each message through OpenSSL, on any CPU and any architecture.
// The x86 paths are compiled only for x86 targets and used only when the CPU (and the
// operating system, for the wider registers) supports them, detected at run time.
// The environment variable RINGFENCE_SHA256_PATH, read once at the first call, narrows the
// choice: "portable" forces the portable path, "avx2" allows at most AVX2, "auto" (or unset,
// or empty) takes the fastest the CPU supports; any other value also means portable, so that
// a mistyped request never silently runs a vector path.
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

enum class Sha256Path { kPortable, kAvx2, kAvx512 };

// The path in use (chosen once, as above), and its name: "AVX-512 x16", "AVX2 x8" or
// "portable".
Sha256Path Sha256BatchPath();
const char* Sha256BatchPathName();

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_SHA256_BATCH_H_

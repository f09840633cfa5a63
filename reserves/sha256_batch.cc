#include "reserves/sha256_batch.h"

#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

#if defined(__x86_64__) || defined(__i386__)
#define RINGFENCE_SHA256_X86 1
#include <immintrin.h>
#endif

namespace ringfence::reserves {

namespace {

// The portable path: one message at a time through OpenSSL, resumed from the midstate.
void FinishPortable(const Sha256Mid& mid, const uint8_t* msg, size_t len, uint8_t* out) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  for (int i = 0; i < 8; ++i) ctx.h[i] = mid.h[i];
  uint64_t bits = mid.bytes * 8;
  ctx.Nl = static_cast<SHA_LONG>(bits);
  ctx.Nh = static_cast<SHA_LONG>(bits >> 32);
  ctx.num = 0;
  SHA256_Update(&ctx, msg, len);
  SHA256_Final(out, &ctx);
}

#ifdef RINGFENCE_SHA256_X86

constexpr uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

// Pads `msg` as the tail of a message whose first `prefix_bytes` are already compressed.
// Returns the number of 64-byte blocks written to `buf` (at most 4).
size_t PadTail(const uint8_t* msg, size_t len, uint64_t prefix_bytes, uint8_t* buf) {
  size_t blocks = (len + 9 + 63) / 64;
  std::memset(buf, 0, blocks * 64);
  std::memcpy(buf, msg, len);
  buf[len] = 0x80;
  uint64_t bits = (prefix_bytes + len) * 8;
  for (int i = 0; i < 8; ++i) buf[blocks * 64 - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
  return blocks;
}

#define RF_AVX2 __attribute__((target("avx2")))

RF_AVX2 inline __m256i Rotr(__m256i x, int n) {
  return _mm256_or_si256(_mm256_srli_epi32(x, n), _mm256_slli_epi32(x, 32 - n));
}

RF_AVX2 void Compress8(__m256i s[8], const __m256i block[16]) {
  __m256i w[16];
  for (int i = 0; i < 16; ++i) w[i] = block[i];
  __m256i a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
  for (int t = 0; t < 64; ++t) {
    __m256i wt;
    if (t < 16) {
      wt = w[t];
    } else {
      __m256i w15 = w[(t - 15) & 15], w2 = w[(t - 2) & 15];
      __m256i s0 = _mm256_xor_si256(_mm256_xor_si256(Rotr(w15, 7), Rotr(w15, 18)), _mm256_srli_epi32(w15, 3));
      __m256i s1 = _mm256_xor_si256(_mm256_xor_si256(Rotr(w2, 17), Rotr(w2, 19)), _mm256_srli_epi32(w2, 10));
      wt = _mm256_add_epi32(_mm256_add_epi32(w[t & 15], s0), _mm256_add_epi32(w[(t - 7) & 15], s1));
      w[t & 15] = wt;
    }
    __m256i big_s1 = _mm256_xor_si256(_mm256_xor_si256(Rotr(e, 6), Rotr(e, 11)), Rotr(e, 25));
    __m256i ch = _mm256_xor_si256(_mm256_and_si256(e, f), _mm256_andnot_si256(e, g));
    __m256i t1 = _mm256_add_epi32(_mm256_add_epi32(h, big_s1),
                                  _mm256_add_epi32(_mm256_add_epi32(ch, _mm256_set1_epi32(static_cast<int>(kK[t]))), wt));
    __m256i big_s0 = _mm256_xor_si256(_mm256_xor_si256(Rotr(a, 2), Rotr(a, 13)), Rotr(a, 22));
    __m256i maj = _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(c, _mm256_or_si256(a, b)));
    __m256i t2 = _mm256_add_epi32(big_s0, maj);
    h = g;
    g = f;
    f = e;
    e = _mm256_add_epi32(d, t1);
    d = c;
    c = b;
    b = a;
    a = _mm256_add_epi32(t1, t2);
  }
  s[0] = _mm256_add_epi32(s[0], a);
  s[1] = _mm256_add_epi32(s[1], b);
  s[2] = _mm256_add_epi32(s[2], c);
  s[3] = _mm256_add_epi32(s[3], d);
  s[4] = _mm256_add_epi32(s[4], e);
  s[5] = _mm256_add_epi32(s[5], f);
  s[6] = _mm256_add_epi32(s[6], g);
  s[7] = _mm256_add_epi32(s[7], h);
}

RF_AVX2 void FinishAvx2(const Sha256Mid& mid, size_t count, const uint8_t* const msgs[], const size_t lens[],
                        uint8_t* const outs[]) {
  constexpr size_t kLanes = 8;
  alignas(32) uint8_t bufs[kLanes][4 * 64];
  size_t blocks[kLanes];
  size_t max_blocks = 0;
  for (size_t k = 0; k < kLanes; ++k) {
    // Idle lanes repeat lane 0's message; their results are dropped.
    size_t src = k < count ? k : 0;
    blocks[k] = PadTail(msgs[src], lens[src], mid.bytes, bufs[k]);
    if (blocks[k] > max_blocks) max_blocks = blocks[k];
  }
  __m256i s[8];
  for (int i = 0; i < 8; ++i) s[i] = _mm256_set1_epi32(static_cast<int>(mid.h[i]));
  const __m256i bswap = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 3, 2, 1, 0, 7, 6, 5, 4,
                                         11, 10, 9, 8, 15, 14, 13, 12);
  for (size_t b = 0; b < max_blocks; ++b) {
    // Transpose: word i of every lane's block into one register.
    __m256i w[16];
    for (int i = 0; i < 16; i += 1) {
      uint32_t lanes[8];
      for (size_t k = 0; k < kLanes; ++k) std::memcpy(&lanes[k], bufs[k] + b * 64 + 4 * i, 4);
      w[i] = _mm256_shuffle_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lanes)), bswap);
    }
    __m256i before[8];
    for (int i = 0; i < 8; ++i) before[i] = s[i];
    Compress8(s, w);
    // Lanes whose message ended in an earlier block keep their state.
    alignas(32) int32_t done[8];
    bool any_done = false;
    for (size_t k = 0; k < kLanes; ++k) {
      done[k] = blocks[k] <= b ? -1 : 0;
      any_done |= done[k] != 0;
    }
    if (any_done) {
      __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(done));
      for (int i = 0; i < 8; ++i) s[i] = _mm256_blendv_epi8(s[i], before[i], mask);
    }
  }
  alignas(32) uint32_t words[8][8];
  for (int i = 0; i < 8; ++i) _mm256_store_si256(reinterpret_cast<__m256i*>(words[i]), s[i]);
  for (size_t k = 0; k < count; ++k) {
    for (int i = 0; i < 8; ++i) {
      uint32_t v = words[i][k];
      outs[k][4 * i] = static_cast<uint8_t>(v >> 24);
      outs[k][4 * i + 1] = static_cast<uint8_t>(v >> 16);
      outs[k][4 * i + 2] = static_cast<uint8_t>(v >> 8);
      outs[k][4 * i + 3] = static_cast<uint8_t>(v);
    }
  }
}

#define RF_AVX512 __attribute__((target("avx512f")))

// Rotate and shift through the zero-masking forms with every lane selected: the same single
// instruction, but GCC 12's plain _mm512_ror_epi32/_mm512_srli_epi32 pass an "undefined"
// source register that -Wmaybe-uninitialized reports (clang and GCC emit identical code for
// both). Templates, because the count must be an immediate even without optimisation.
constexpr __mmask16 kAllLanes = 0xFFFF;
template <int kBits>
RF_AVX512 inline __m512i Ror16(__m512i x) {
  return _mm512_maskz_ror_epi32(kAllLanes, x, kBits);
}
template <unsigned kBits>
RF_AVX512 inline __m512i Shr16(__m512i x) {
  return _mm512_maskz_srli_epi32(kAllLanes, x, kBits);
}

// The same compression on 16 lanes; rotations are native and the three-input boolean
// functions are single ternary-logic instructions.
RF_AVX512 void Compress16(__m512i s[8], const __m512i block[16]) {
  __m512i w[16];
  for (int i = 0; i < 16; ++i) w[i] = block[i];
  __m512i a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
  for (int t = 0; t < 64; ++t) {
    __m512i wt;
    if (t < 16) {
      wt = w[t];
    } else {
      __m512i w15 = w[(t - 15) & 15], w2 = w[(t - 2) & 15];
      __m512i s0 = _mm512_ternarylogic_epi32(Ror16<7>(w15), Ror16<18>(w15), Shr16<3>(w15), 0x96);
      __m512i s1 = _mm512_ternarylogic_epi32(Ror16<17>(w2), Ror16<19>(w2), Shr16<10>(w2), 0x96);
      wt = _mm512_add_epi32(_mm512_add_epi32(w[t & 15], s0), _mm512_add_epi32(w[(t - 7) & 15], s1));
      w[t & 15] = wt;
    }
    __m512i big_s1 = _mm512_ternarylogic_epi32(Ror16<6>(e), Ror16<11>(e), Ror16<25>(e), 0x96);
    __m512i ch = _mm512_ternarylogic_epi32(e, f, g, 0xca);  // e ? f : g
    __m512i t1 = _mm512_add_epi32(_mm512_add_epi32(h, big_s1),
                                  _mm512_add_epi32(_mm512_add_epi32(ch, _mm512_set1_epi32(static_cast<int>(kK[t]))), wt));
    __m512i big_s0 = _mm512_ternarylogic_epi32(Ror16<2>(a), Ror16<13>(a), Ror16<22>(a), 0x96);
    __m512i maj = _mm512_ternarylogic_epi32(a, b, c, 0xe8);  // majority
    __m512i t2 = _mm512_add_epi32(big_s0, maj);
    h = g;
    g = f;
    f = e;
    e = _mm512_add_epi32(d, t1);
    d = c;
    c = b;
    b = a;
    a = _mm512_add_epi32(t1, t2);
  }
  s[0] = _mm512_add_epi32(s[0], a);
  s[1] = _mm512_add_epi32(s[1], b);
  s[2] = _mm512_add_epi32(s[2], c);
  s[3] = _mm512_add_epi32(s[3], d);
  s[4] = _mm512_add_epi32(s[4], e);
  s[5] = _mm512_add_epi32(s[5], f);
  s[6] = _mm512_add_epi32(s[6], g);
  s[7] = _mm512_add_epi32(s[7], h);
}

RF_AVX512 void FinishAvx512(const Sha256Mid& mid, size_t count, const uint8_t* const msgs[], const size_t lens[],
                            uint8_t* const outs[]) {
  constexpr size_t kLanes = 16;
  alignas(64) uint8_t bufs[kLanes][4 * 64];
  size_t blocks[kLanes];
  size_t max_blocks = 0;
  for (size_t k = 0; k < kLanes; ++k) {
    size_t src = k < count ? k : 0;
    blocks[k] = PadTail(msgs[src], lens[src], mid.bytes, bufs[k]);
    if (blocks[k] > max_blocks) max_blocks = blocks[k];
  }
  __m512i s[8];
  for (int i = 0; i < 8; ++i) s[i] = _mm512_set1_epi32(static_cast<int>(mid.h[i]));
  for (size_t b = 0; b < max_blocks; ++b) {
    __m512i w[16];
    for (int i = 0; i < 16; ++i) {
      alignas(64) uint32_t lanes[kLanes];
      for (size_t k = 0; k < kLanes; ++k) {
        const uint8_t* p = bufs[k] + b * 64 + 4 * i;
        lanes[k] = uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
      }
      w[i] = _mm512_load_si512(lanes);
    }
    __m512i before[8];
    for (int i = 0; i < 8; ++i) before[i] = s[i];
    Compress16(s, w);
    // Lanes whose message ended in an earlier block keep their state.
    __mmask16 done = 0;
    for (size_t k = 0; k < kLanes; ++k) done |= static_cast<__mmask16>((blocks[k] <= b ? 1u : 0u) << k);
    if (done != 0) {
      for (int i = 0; i < 8; ++i) s[i] = _mm512_mask_mov_epi32(s[i], done, before[i]);
    }
  }
  alignas(64) uint32_t words[8][kLanes];
  for (int i = 0; i < 8; ++i) _mm512_store_si512(words[i], s[i]);
  for (size_t k = 0; k < count; ++k) {
    for (int i = 0; i < 8; ++i) {
      uint32_t v = words[i][k];
      outs[k][4 * i] = static_cast<uint8_t>(v >> 24);
      outs[k][4 * i + 1] = static_cast<uint8_t>(v >> 16);
      outs[k][4 * i + 2] = static_cast<uint8_t>(v >> 8);
      outs[k][4 * i + 3] = static_cast<uint8_t>(v);
    }
  }
}

#endif  // RINGFENCE_SHA256_X86

// The fastest path the CPU supports, within what RINGFENCE_SHA256_PATH allows.
Sha256Path ChoosePath() {
  const char* env = std::getenv("RINGFENCE_SHA256_PATH");
  const std::string_view request = env != nullptr ? env : "";
  const bool any = request.empty() || request == "auto";
  if (!any && request != "avx2") return Sha256Path::kPortable;
#ifdef RINGFENCE_SHA256_X86
  // Checks CPUID and, for AVX and AVX-512, that the operating system saves the registers.
  __builtin_cpu_init();
  if (any && __builtin_cpu_supports("avx512f")) return Sha256Path::kAvx512;
  if (__builtin_cpu_supports("avx2")) return Sha256Path::kAvx2;
#endif
  return Sha256Path::kPortable;
}

}  // namespace

Sha256Path Sha256BatchPath() {
  static const Sha256Path kPath = ChoosePath();
  return kPath;
}

const char* Sha256BatchPathName() {
  switch (Sha256BatchPath()) {
    case Sha256Path::kAvx512:
      return "AVX-512 x16";
    case Sha256Path::kAvx2:
      return "AVX2 x8";
    case Sha256Path::kPortable:
      break;
  }
  return "portable";
}

void Sha256FinishBatch(const Sha256Mid& mid, size_t count, const uint8_t* const msgs[], const size_t lens[],
                       uint8_t* const outs[]) {
  if (count == 0) return;
#ifdef RINGFENCE_SHA256_X86
  const Sha256Path path = Sha256BatchPath();
  if (path == Sha256Path::kAvx512 && count > 8) {
    FinishAvx512(mid, count, msgs, lens, outs);
    return;
  }
  if (path != Sha256Path::kPortable && count > 1) {
    for (size_t k = 0; k < count; k += 8) {
      size_t n = count - k < 8 ? count - k : 8;
      if (n == 1) {
        FinishPortable(mid, msgs[k], lens[k], outs[k]);
      } else {
        FinishAvx2(mid, n, msgs + k, lens + k, outs + k);
      }
    }
    return;
  }
#endif
  for (size_t k = 0; k < count; ++k) FinishPortable(mid, msgs[k], lens[k], outs[k]);
}

}  // namespace ringfence::reserves

#include "chain/ecdsa.h"

#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace ringfence::chain {
namespace {

constexpr std::array<uint8_t, 32> kOrder = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
constexpr std::array<uint8_t, 32> kHalfOrder = {
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};

int Compare(const uint8_t* a, const uint8_t* b) { return std::memcmp(a, b, 32); }

bool IsZero(const uint8_t* a) {
  return std::all_of(a, a + 32, [](uint8_t v) { return v == 0; });
}

// out = a - b on 32-byte big-endian values; `out` may be `a` or `b`. REQUIRES: a >= b.
void Subtract(const uint8_t* a, const uint8_t* b, uint8_t* out) {
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int v = static_cast<int>(a[i]) - b[i] - borrow;
    borrow = v < 0;
    out[i] = static_cast<uint8_t>(v + (borrow ? 256 : 0));
  }
}

// n - s in place. REQUIRES: 0 < s < n.
void NegateModOrder(uint8_t* s) { Subtract(kOrder.data(), s, s); }

// a - n in place. REQUIRES: a >= n.
void SubtractOrder(uint8_t* a) { Subtract(a, kOrder.data(), a); }

absl::StatusOr<secp256k1_pubkey> ParsePubkey(std::span<const uint8_t> pubkey) {
  if (pubkey.size() != 33 && pubkey.size() != 65) {
    return absl::InvalidArgumentError(
        absl::StrCat("public key: must be 33 (compressed) or 65 (uncompressed) bytes, got ", pubkey.size()));
  }
  if ((pubkey.size() == 33 && pubkey[0] != 0x02 && pubkey[0] != 0x03) || (pubkey.size() == 65 && pubkey[0] != 0x04)) {
    return absl::InvalidArgumentError("public key: bad prefix byte for its length");
  }
  secp256k1_pubkey pk;
  if (!secp256k1_ec_pubkey_parse(secp256k1_context_static, &pk, pubkey.data(), pubkey.size())) {
    return absl::InvalidArgumentError("public key: not a point on secp256k1");
  }
  return pk;
}

absl::Status CheckRange(const uint8_t* rs) {
  if (IsZero(rs)) return absl::InvalidArgumentError("signature: r is zero");
  if (Compare(rs, kOrder.data()) >= 0) return absl::InvalidArgumentError("signature: r is not below the group order");
  if (IsZero(rs + 32)) return absl::InvalidArgumentError("signature: s is zero");
  if (Compare(rs + 32, kOrder.data()) >= 0) {
    return absl::InvalidArgumentError("signature: s is not below the group order");
  }
  return absl::OkStatus();
}

// Appends a DER INTEGER for a 32-byte big-endian unsigned value.
void AppendDerInteger(std::vector<uint8_t>& out, const uint8_t* v) {
  size_t start = 0;
  while (start < 31 && v[start] == 0) ++start;
  bool pad = (v[start] & 0x80) != 0;
  out.push_back(0x02);
  out.push_back(static_cast<uint8_t>(32 - start + (pad ? 1 : 0)));
  if (pad) out.push_back(0x00);
  out.insert(out.end(), v + start, v + 32);
}

absl::Status ReadDerInteger(std::span<const uint8_t> der, size_t& pos, const char* name, uint8_t* out32) {
  if (pos + 2 > der.size() || der[pos] != 0x02) {
    return absl::InvalidArgumentError(absl::StrCat("DER signature: ", name, " is not an INTEGER"));
  }
  size_t len = der[pos + 1];
  pos += 2;
  if (len == 0) return absl::InvalidArgumentError(absl::StrCat("DER signature: ", name, " has zero length"));
  if (len > 33 || pos + len > der.size()) {
    return absl::InvalidArgumentError(absl::StrCat("DER signature: ", name, " length out of range"));
  }
  const uint8_t* p = der.data() + pos;
  if (p[0] & 0x80) return absl::InvalidArgumentError(absl::StrCat("DER signature: ", name, " is negative"));
  if (len > 1 && p[0] == 0x00 && !(p[1] & 0x80)) {
    return absl::InvalidArgumentError(absl::StrCat("DER signature: ", name, " has a superfluous leading zero"));
  }
  if (len == 33) {
    // Only a sign-padding zero may make it 33 bytes; anything else is a value of 2^256 or more.
    if (p[0] != 0x00) {
      return absl::InvalidArgumentError(absl::StrCat("DER signature: ", name, " is larger than 256 bits"));
    }
    ++p;
    --len;
  }
  std::memset(out32, 0, 32);
  std::memcpy(out32 + 32 - len, p, len);
  pos += der[pos - 1];
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CompactSignature> NormalizeLowS(std::span<const uint8_t> rs64) {
  if (rs64.size() != 64) {
    return absl::InvalidArgumentError(absl::StrCat("signature: must be 64 bytes r||s, got ", rs64.size()));
  }
  if (absl::Status st = CheckRange(rs64.data()); !st.ok()) return st;
  CompactSignature sig;
  std::copy(rs64.begin(), rs64.end(), sig.begin());
  if (Compare(sig.data() + 32, kHalfOrder.data()) > 0) NegateModOrder(sig.data() + 32);
  return sig;
}

bool IsLowS(const CompactSignature& sig) { return Compare(sig.data() + 32, kHalfOrder.data()) <= 0; }

std::vector<uint8_t> EncodeDerSignature(const CompactSignature& sig) {
  std::vector<uint8_t> body;
  AppendDerInteger(body, sig.data());
  AppendDerInteger(body, sig.data() + 32);
  std::vector<uint8_t> out;
  out.reserve(body.size() + 2);
  out.push_back(0x30);
  out.push_back(static_cast<uint8_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

absl::StatusOr<CompactSignature> ParseDerSignature(std::span<const uint8_t> der) {
  if (der.size() < 8 || der.size() > 72) {
    return absl::InvalidArgumentError(absl::StrCat("DER signature: length ", der.size(), " outside 8..72"));
  }
  if (der[0] != 0x30) return absl::InvalidArgumentError("DER signature: not a SEQUENCE");
  if (der[1] != der.size() - 2) {
    return absl::InvalidArgumentError("DER signature: SEQUENCE length does not match the data");
  }
  CompactSignature sig;
  size_t pos = 2;
  if (absl::Status st = ReadDerInteger(der, pos, "r", sig.data()); !st.ok()) return st;
  if (absl::Status st = ReadDerInteger(der, pos, "s", sig.data() + 32); !st.ok()) return st;
  if (pos != der.size()) return absl::InvalidArgumentError("DER signature: trailing bytes after s");
  if (absl::Status st = CheckRange(sig.data()); !st.ok()) return st;
  return sig;
}

absl::StatusOr<std::array<uint8_t, 33>> CompressPublicKey(std::span<const uint8_t> pubkey) {
  absl::StatusOr<secp256k1_pubkey> pk = ParsePubkey(pubkey);
  if (!pk.ok()) return pk.status();
  std::array<uint8_t, 33> out;
  size_t len = out.size();
  secp256k1_ec_pubkey_serialize(secp256k1_context_static, out.data(), &len, &*pk, SECP256K1_EC_COMPRESSED);
  return out;
}

absl::StatusOr<std::array<uint8_t, 65>> UncompressPublicKey(std::span<const uint8_t> pubkey) {
  absl::StatusOr<secp256k1_pubkey> pk = ParsePubkey(pubkey);
  if (!pk.ok()) return pk.status();
  std::array<uint8_t, 65> out;
  size_t len = out.size();
  secp256k1_ec_pubkey_serialize(secp256k1_context_static, out.data(), &len, &*pk, SECP256K1_EC_UNCOMPRESSED);
  return out;
}

absl::Status VerifyEcdsa(const std::array<uint8_t, 32>& digest, const CompactSignature& sig,
                         std::span<const uint8_t> pubkey) {
  absl::StatusOr<secp256k1_pubkey> pk = ParsePubkey(pubkey);
  if (!pk.ok()) return pk.status();
  if (absl::Status st = CheckRange(sig.data()); !st.ok()) return st;
  if (!IsLowS(sig)) return absl::InvalidArgumentError("signature: s is above n/2 (high S)");
  secp256k1_ecdsa_signature parsed;
  if (!secp256k1_ecdsa_signature_parse_compact(secp256k1_context_static, &parsed, sig.data())) {
    return absl::InvalidArgumentError("signature: cannot be parsed");
  }
  if (!secp256k1_ecdsa_verify(secp256k1_context_static, &parsed, digest.data(), &*pk)) {
    return absl::PermissionDeniedError("signature does not verify for this key and digest");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::array<uint8_t, 65>> RecoverPublicKey(const std::array<uint8_t, 32>& digest,
                                                         const CompactSignature& sig, int recid) {
  if (recid < 0 || recid > 3) return absl::InvalidArgumentError(absl::StrCat("recovery id ", recid, " outside 0..3"));
  if (absl::Status st = CheckRange(sig.data()); !st.ok()) return st;
  if (!IsLowS(sig)) return absl::InvalidArgumentError("signature: s is above n/2 (high S)");
  secp256k1_ecdsa_recoverable_signature rsig;
  if (!secp256k1_ecdsa_recoverable_signature_parse_compact(secp256k1_context_static, &rsig, sig.data(), recid)) {
    return absl::InvalidArgumentError("signature: cannot be parsed");
  }
  secp256k1_pubkey pk;
  if (!secp256k1_ecdsa_recover(secp256k1_context_static, &pk, &rsig, digest.data())) {
    return absl::InvalidArgumentError("signature: no public key recovers from it");
  }
  std::array<uint8_t, 65> out;
  size_t len = out.size();
  secp256k1_ec_pubkey_serialize(secp256k1_context_static, out.data(), &len, &pk, SECP256K1_EC_UNCOMPRESSED);
  return out;
}

namespace internal {
namespace {

// A 256-bit value as four 64-bit limbs, least significant first.
using Limbs = std::array<uint64_t, 4>;

Limbs LimbsFromBigEndian(const uint8_t* b) {
  Limbs l;
  for (int i = 0; i < 4; ++i) {
    uint64_t v = 0;
    for (int j = 0; j < 8; ++j) v = (v << 8) | b[(3 - i) * 8 + j];
    l[i] = v;
  }
  return l;
}

std::array<uint8_t, 32> LimbsToBigEndian(const Limbs& l) {
  std::array<uint8_t, 32> b;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 8; ++j) b[(3 - i) * 8 + j] = static_cast<uint8_t>(l[i] >> (56 - 8 * j));
  }
  return b;
}

// A signed integer as five limbs of 62 bits, least significant first: limbs 0..3 in [0, 2^62),
// limb 4 signed. 310 bits hold every value the inversion below produces.
using Signed62 = std::array<int64_t, 5>;
constexpr int64_t kMask62 = (int64_t{1} << 62) - 1;

// n^-1 mod 2^64 for an odd n (Newton's iteration doubles the correct low bits each step:
// 3 bits from any odd number, then 6, 12, 24, 48, 96).
constexpr uint64_t InverseMod2To64(uint64_t odd) {
  uint64_t inv = odd;
  for (int i = 0; i < 5; ++i) inv *= 2 - odd * inv;
  return inv;
}

Signed62 ToSigned62(const Limbs& l) {
  return {static_cast<int64_t>(l[0] & kMask62), static_cast<int64_t>(((l[0] >> 62) | (l[1] << 2)) & kMask62),
          static_cast<int64_t>(((l[1] >> 60) | (l[2] << 4)) & kMask62),
          static_cast<int64_t>(((l[2] >> 58) | (l[3] << 6)) & kMask62), static_cast<int64_t>(l[3] >> 56)};
}
// REQUIRES: 0 <= a < 2^256, limbs 0..3 in [0, 2^62).
Limbs FromSigned62(const Signed62& a) {
  const auto v = [&](int i) { return static_cast<uint64_t>(a[i]); };
  return {v(0) | (v(1) << 62), (v(1) >> 2) | (v(2) << 60), (v(2) >> 4) | (v(3) << 58), (v(3) >> 6) | (v(4) << 56)};
}

// The matrix of 62 divsteps, scaled by 2^62: [2^62 f'; 2^62 g'] = [u v; q r] [f; g].
struct Transition {
  int64_t u, v, q, r;
};

// 62 divsteps of Bernstein and Yang ("Fast constant-time gcd computation and modular
// inversion", 2019) on the low 64 bits of f (odd) and g, which are all that the choices
// depend on. Returns the new delta.
int64_t Divsteps62(int64_t delta, uint64_t f, uint64_t g, Transition& t) {
  uint64_t u = 1, v = 0, q = 0, r = 1;  // wrapping arithmetic; the values stay within +-2^62
  int remaining = 62;
  for (;;) {
    // Runs of even g are halvings only: take them at once (a sentinel bit stops at the end).
    const int zeros = __builtin_ctzll(g | (uint64_t{1} << remaining));
    g >>= zeros;
    u <<= zeros;
    v <<= zeros;
    delta += zeros;
    remaining -= zeros;
    if (remaining == 0) break;
    if (delta > 0) {
      delta = 1 - delta;
      const uint64_t f_old = f, u_old = u, v_old = v;
      f = g;
      g = (g - f_old) >> 1;
      u = q << 1;
      v = r << 1;
      q -= u_old;
      r -= v_old;
    } else {
      delta += 1;
      g = (g + f) >> 1;
      q += u;
      r += v;
      u <<= 1;
      v <<= 1;
    }
    remaining -= 1;
    if (remaining == 0) break;
  }
  t = {static_cast<int64_t>(u), static_cast<int64_t>(v), static_cast<int64_t>(q), static_cast<int64_t>(r)};
  return delta;
}

// [f; g] <- t [f; g] / 2^62, exactly (t was built so that the division leaves no remainder).
void ApplyToFG(const Transition& t, Signed62& f, Signed62& g) {
  __int128 cf = static_cast<__int128>(t.u) * f[0] + static_cast<__int128>(t.v) * g[0];
  __int128 cg = static_cast<__int128>(t.q) * f[0] + static_cast<__int128>(t.r) * g[0];
  cf >>= 62;
  cg >>= 62;
  for (int i = 1; i < 5; ++i) {
    cf += static_cast<__int128>(t.u) * f[i] + static_cast<__int128>(t.v) * g[i];
    cg += static_cast<__int128>(t.q) * f[i] + static_cast<__int128>(t.r) * g[i];
    f[i - 1] = static_cast<int64_t>(cf) & kMask62;
    g[i - 1] = static_cast<int64_t>(cg) & kMask62;
    cf >>= 62;
    cg >>= 62;
  }
  f[4] = static_cast<int64_t>(cf);
  g[4] = static_cast<int64_t>(cg);
}

// [d; e] <- t [d; e] / 2^62 mod m, adding the multiples of m that clear the low 62 bits.
// REQUIRES: 0 <= d, e < m. Leaves them in (-m, 2m).
void ApplyToDE(const Transition& t, Signed62& d, Signed62& e, const Signed62& m, uint64_t m_inverse) {
  __int128 cd = static_cast<__int128>(t.u) * d[0] + static_cast<__int128>(t.v) * e[0];
  __int128 ce = static_cast<__int128>(t.q) * d[0] + static_cast<__int128>(t.r) * e[0];
  const int64_t md = static_cast<int64_t>((0 - static_cast<uint64_t>(cd) * m_inverse) & kMask62);
  const int64_t me = static_cast<int64_t>((0 - static_cast<uint64_t>(ce) * m_inverse) & kMask62);
  cd += static_cast<__int128>(md) * m[0];
  ce += static_cast<__int128>(me) * m[0];
  cd >>= 62;
  ce >>= 62;
  for (int i = 1; i < 5; ++i) {
    cd += static_cast<__int128>(t.u) * d[i] + static_cast<__int128>(t.v) * e[i] + static_cast<__int128>(md) * m[i];
    ce += static_cast<__int128>(t.q) * d[i] + static_cast<__int128>(t.r) * e[i] + static_cast<__int128>(me) * m[i];
    d[i - 1] = static_cast<int64_t>(cd) & kMask62;
    e[i - 1] = static_cast<int64_t>(ce) & kMask62;
    cd >>= 62;
    ce >>= 62;
  }
  d[4] = static_cast<int64_t>(cd);
  e[4] = static_cast<int64_t>(ce);
}

// a + sign * b with carries propagated (limbs 0..3 back in [0, 2^62)).
void AddSigned(Signed62& a, const Signed62& b, int64_t sign) {
  int64_t carry = 0;
  for (int i = 0; i < 4; ++i) {
    const int64_t x = a[i] + sign * b[i] + carry;
    a[i] = x & kMask62;
    carry = x >> 62;
  }
  a[4] += sign * b[4] + carry;
}

int CompareSigned(const Signed62& a, const Signed62& b) {
  for (int i = 4; i >= 0; --i) {
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

// From (-m, 2m) to [0, m).
void Normalize(Signed62& a, const Signed62& m) {
  if (a[4] < 0) {
    AddSigned(a, m, 1);
  } else if (CompareSigned(a, m) >= 0) {
    AddSigned(a, m, -1);
  }
}

bool IsZero62(const Signed62& a) { return (a[0] | a[1] | a[2] | a[3] | a[4]) == 0; }

}  // namespace

absl::StatusOr<std::array<uint8_t, 32>> InvertModOrder(const std::array<uint8_t, 32>& a) {
  if (IsZero(a.data())) return absl::InvalidArgumentError("scalar: zero has no inverse");
  if (Compare(a.data(), kOrder.data()) >= 0) return absl::InvalidArgumentError("scalar: not below the group order");
  // Bernstein-Yang divsteps in batches of 62, variable time (its inputs are public: the s of
  // a signature). f starts as n and g as a; invariants: d * a = f and e * a = g (mod n), with
  // d, e in [0, n) after each batch. g reaches 0 within 741 divsteps (the paper's bound for
  // 256 bits), 12 batches; f is then gcd(a, n) = 1 up to sign, so a^-1 = +-d.
  const Signed62 n = ToSigned62(LimbsFromBigEndian(kOrder.data()));
  constexpr uint64_t kOrderLowInverse = InverseMod2To64(0xbfd25e8cd0364141);
  Signed62 f = n;
  Signed62 g = ToSigned62(LimbsFromBigEndian(a.data()));
  Signed62 d = {0, 0, 0, 0, 0};
  Signed62 e = {1, 0, 0, 0, 0};
  int64_t delta = 1;
  for (int batch = 0; !IsZero62(g); ++batch) {
    RF_CHECK(batch < 12, "modular inverse: divsteps did not end within their bound");
    Transition t;
    delta = Divsteps62(delta, static_cast<uint64_t>(f[0]) | (static_cast<uint64_t>(f[1]) << 62),
                       static_cast<uint64_t>(g[0]) | (static_cast<uint64_t>(g[1]) << 62), t);
    ApplyToFG(t, f, g);
    ApplyToDE(t, d, e, n, kOrderLowInverse);
    Normalize(d, n);
    Normalize(e, n);
  }
  const Signed62 one = {1, 0, 0, 0, 0};
  const Signed62 minus_one = {kMask62, kMask62, kMask62, kMask62, -1};
  RF_CHECK(f == one || f == minus_one, "modular inverse: the gcd with the group order is not 1");
  if (f == minus_one) {
    Signed62 negated = n;
    AddSigned(negated, d, -1);  // d is not zero: d * a = -1
    d = negated;
  }
  return LimbsToBigEndian(FromSigned62(d));
}

}  // namespace internal

namespace {

// a * b mod n in place, through libsecp256k1's scalar multiplication.
// REQUIRES: 0 < a, b < n (then the product is not zero either, n being prime).
void MultiplyModOrder(uint8_t* a, const uint8_t* b) {
  RF_CHECK(secp256k1_ec_seckey_tweak_mul(secp256k1_context_static, a, b) == 1,
           "scalar product of two non-zero values below the group order failed");
}

// The recovery id the slow way: recover with each id and compare. Used only where the
// nonce-point computation below cannot run (public keys whose x is n, an infinite nonce
// point, a key that is not a point): it tells those apart and is as exact.
absl::StatusOr<int> RecoveryIdByTrial(const std::array<uint8_t, 32>& digest, const CompactSignature& sig,
                                      std::span<const uint8_t> pubkey) {
  absl::StatusOr<std::array<uint8_t, 65>> want = UncompressPublicKey(pubkey);
  if (!want.ok()) return want.status();
  for (int recid = 0; recid < 4; ++recid) {
    // Ids 2 and 3 fail for all but a negligible share of r values; failure just means "not this id".
    absl::StatusOr<std::array<uint8_t, 65>> got = RecoverPublicKey(digest, sig, recid);
    if (got.ok() && *got == *want) return recid;
  }
  return absl::PermissionDeniedError("signature does not verify for this key and digest");
}

// The recovery id of `sig` (range-checked, low S) as `pubkey`'s signature over `digest`, and
// the proof that it is one, from a single multi-scalar multiplication.
//
// ECDSA verification computes the nonce point R' = (e/s)G + (r/s)Q and accepts when R' is not
// infinity and x(R') = r mod n (SEC 1, 4.1.4). The recovery id is what names that point to a
// verifier who lacks Q: bit 0 is the parity of its y, bit 1 says its x is r + n rather than r.
// libsecp256k1 computes R' only inside verification, which returns a bare yes or no; but its
// public-key recovery, given any (r', s', e', id), returns r'^-1 (s' L - e' G) where L is the
// point with x = r' (+ n when id & 2) and y parity id & 1. Taking L = Q itself (x and parity
// from Q's compressed form), r' = x(Q) mod n, s' = r' r / s and e' = -r' e / s makes that
// r'^-1 (r' (r/s) Q + r' (e/s) G) = R', exactly, as an affine point. So one recovery does
// verification's work and also shows the parity; no comparison of keys, no second attempt.
absl::StatusOr<int> RecoveryIdByNoncePoint(const std::array<uint8_t, 32>& digest, const CompactSignature& sig,
                                           std::span<const uint8_t> pubkey) {
  std::array<uint8_t, 33> key;
  if (pubkey.size() == 33 && (pubkey[0] == 0x02 || pubkey[0] == 0x03)) {
    std::copy(pubkey.begin(), pubkey.end(), key.begin());
  } else {
    // Also refuses anything that is neither form; a 65-byte key is checked to be a point here.
    absl::StatusOr<std::array<uint8_t, 33>> compressed = CompressPublicKey(pubkey);
    if (!compressed.ok()) return compressed.status();
    key = *compressed;
  }
  // r' and the recovery id that makes libsecp256k1 lift exactly Q. A 33-byte key whose x is
  // not on the curve (or not below p) fails to lift; the fallback then names it.
  std::array<uint8_t, 64> lifted;
  uint8_t* r_prime = lifted.data();
  uint8_t* s_prime = lifted.data() + 32;
  std::copy(key.begin() + 1, key.end(), r_prime);
  int lift_id = key[0] == 0x03 ? 1 : 0;
  if (Compare(r_prime, kOrder.data()) >= 0) {
    SubtractOrder(r_prime);
    lift_id |= 2;
  }
  if (IsZero(r_prime)) return RecoveryIdByTrial(digest, sig, pubkey);

  std::array<uint8_t, 32> s;
  std::copy(sig.begin() + 32, sig.end(), s.begin());
  absl::StatusOr<std::array<uint8_t, 32>> s_inverse = internal::InvertModOrder(s);
  RF_CHECK(s_inverse.ok(), "s passed its range check but has no inverse");
  // With t = r' / s: s' = t * r and e' = -t * e, e reduced mod n as ECDSA does (a zero e' is
  // fine for recovery).
  std::array<uint8_t, 32> t = *s_inverse;
  MultiplyModOrder(t.data(), r_prime);
  std::copy(t.begin(), t.end(), s_prime);
  MultiplyModOrder(s_prime, sig.data());
  std::array<uint8_t, 32> e = digest;
  if (Compare(e.data(), kOrder.data()) >= 0) SubtractOrder(e.data());
  std::array<uint8_t, 32> e_prime{};
  if (!IsZero(e.data())) {
    e_prime = t;
    MultiplyModOrder(e_prime.data(), e.data());
    RF_CHECK(secp256k1_ec_seckey_negate(secp256k1_context_static, e_prime.data()) == 1,
             "negating a non-zero scalar failed");
  }

  secp256k1_ecdsa_recoverable_signature as_recoverable;
  secp256k1_pubkey nonce_point;
  if (!secp256k1_ecdsa_recoverable_signature_parse_compact(secp256k1_context_static, &as_recoverable,
                                                           lifted.data(), lift_id) ||
      !secp256k1_ecdsa_recover(secp256k1_context_static, &nonce_point, &as_recoverable, e_prime.data())) {
    return RecoveryIdByTrial(digest, sig, pubkey);
  }
  std::array<uint8_t, 33> point;
  size_t len = point.size();
  secp256k1_ec_pubkey_serialize(secp256k1_context_static, point.data(), &len, &nonce_point, SECP256K1_EC_COMPRESSED);
  const int parity = point[0] == 0x03 ? 1 : 0;
  uint8_t* x = point.data() + 1;
  if (Compare(x, sig.data()) == 0) return parity;
  // x = r + n is possible only when r + n < p, about 2^-128 of r values.
  if (Compare(x, kOrder.data()) >= 0) {
    SubtractOrder(x);
    if (Compare(x, sig.data()) == 0) return 2 | parity;
  }
  return absl::PermissionDeniedError("signature does not verify for this key and digest");
}

}  // namespace

absl::StatusOr<int> ComputeRecoveryId(const std::array<uint8_t, 32>& digest, const CompactSignature& sig,
                                      std::span<const uint8_t> pubkey) {
  if (absl::Status st = CheckRange(sig.data()); !st.ok()) return st;
  if (!IsLowS(sig)) return absl::InvalidArgumentError("signature: s is above n/2 (high S)");
  absl::StatusOr<int> recid = RecoveryIdByNoncePoint(digest, sig, pubkey);
  if (recid.status().code() == absl::StatusCode::kPermissionDenied) {
    return absl::NotFoundError("signature: no recovery id yields this public key (wrong key or digest)");
  }
  return recid;
}

absl::StatusOr<FinishedSignature> FinishSignature(std::span<const uint8_t> rs64,
                                                  const std::array<uint8_t, 32>& digest,
                                                  std::span<const uint8_t> pubkey, RecoveryId recovery) {
  absl::StatusOr<CompactSignature> sig = NormalizeLowS(rs64);
  if (!sig.ok()) return sig.status();
  FinishedSignature out;
  out.compact = *sig;
  out.normalized = !std::equal(sig->begin(), sig->end(), rs64.begin());
  if (recovery == RecoveryId::kSkip) {
    if (absl::Status st = VerifyEcdsa(digest, *sig, pubkey); !st.ok()) return st;
    return out;
  }
  absl::StatusOr<int> recid = RecoveryIdByNoncePoint(digest, *sig, pubkey);
  if (!recid.ok()) return recid.status();
  out.recovery_id = *recid;
  return out;
}

}  // namespace ringfence::chain

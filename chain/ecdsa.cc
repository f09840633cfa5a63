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

// n - s, big-endian. REQUIRES: 0 < s < n.
void NegateModOrder(uint8_t* s) {
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int v = static_cast<int>(kOrder[i]) - s[i] - borrow;
    borrow = v < 0;
    s[i] = static_cast<uint8_t>(v + (borrow ? 256 : 0));
  }
}

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

bool IsOne(const Limbs& a) { return a[0] == 1 && a[1] == 0 && a[2] == 0 && a[3] == 0; }

int CompareLimbs(const Limbs& a, const Limbs& b) {
  for (int i = 3; i >= 0; --i) {
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

// a += b; returns the carry out of the top limb.
uint64_t AddLimbs(Limbs& a, const Limbs& b) {
  unsigned __int128 carry = 0;
  for (int i = 0; i < 4; ++i) {
    carry += static_cast<unsigned __int128>(a[i]) + b[i];
    a[i] = static_cast<uint64_t>(carry);
    carry >>= 64;
  }
  return static_cast<uint64_t>(carry);
}

// a -= b; returns the borrow out of the top limb.
uint64_t SubLimbs(Limbs& a, const Limbs& b) {
  uint64_t borrow = 0;
  for (int i = 0; i < 4; ++i) {
    const uint64_t t = a[i] - b[i];
    const uint64_t next = (a[i] < b[i]) | (t < borrow);
    a[i] = t - borrow;
    borrow = next;
  }
  return borrow;
}

// n^-1 mod 2^64 for the group order's lowest limb (Newton's iteration doubles the correct
// low bits each step: 1 bit from an odd number, then 2, 4, ..., 64).
constexpr uint64_t InverseMod2To64(uint64_t odd) {
  uint64_t inv = odd;  // correct to 3 bits for any odd number
  for (int i = 0; i < 5; ++i) inv *= 2 - odd * inv;
  return inv;
}

// x * 2^-k mod m for odd m, 1 <= k <= 63, by adding the multiple of m that clears x's low k
// bits (Montgomery's reduction). REQUIRES: x < m.
void DivideByPowerOfTwoMod(Limbs& x, int k, const Limbs& m, uint64_t m_inverse_64) {
  const uint64_t mask = (uint64_t{1} << k) - 1;
  const uint64_t q = (0 - x[0] * m_inverse_64) & mask;  // x + q*m = 0 mod 2^k
  uint64_t t[5];
  unsigned __int128 carry = 0;
  for (int i = 0; i < 4; ++i) {
    carry += static_cast<unsigned __int128>(q) * m[i] + x[i];
    t[i] = static_cast<uint64_t>(carry);
    carry >>= 64;
  }
  t[4] = static_cast<uint64_t>(carry);
  for (int i = 0; i < 4; ++i) x[i] = (t[i] >> k) | (t[i + 1] << (64 - k));
  // (x + q*m) / 2^k < m + m / 2^k < 2m, which may take a 257th bit (t[4] >> k).
  if ((t[4] >> k) != 0 || CompareLimbs(x, m) >= 0) SubLimbs(x, m);
}

// Shifts a right by its trailing zeros (leaving it odd), dividing its cofactor x by the same
// power of two mod m. REQUIRES: a != 0.
void StripTwos(Limbs& a, Limbs& x, const Limbs& m, uint64_t m_inverse_64) {
  while (a[0] == 0) {  // whole zero limbs: 64 = 63 + 1 bits
    RF_CHECK((a[1] | a[2] | a[3]) != 0, "modular inverse: a difference of distinct values was zero");
    a = {a[1], a[2], a[3], 0};
    DivideByPowerOfTwoMod(x, 63, m, m_inverse_64);
    DivideByPowerOfTwoMod(x, 1, m, m_inverse_64);
  }
  const int k = __builtin_ctzll(a[0]);
  if (k == 0) return;
  for (int i = 0; i < 3; ++i) a[i] = (a[i] >> k) | (a[i + 1] << (64 - k));
  a[3] >>= k;
  DivideByPowerOfTwoMod(x, k, m, m_inverse_64);
}

// a - b mod m. REQUIRES: a, b < m.
void SubMod(Limbs& a, const Limbs& b, const Limbs& m) {
  if (SubLimbs(a, b)) AddLimbs(a, m);
}

}  // namespace

absl::StatusOr<std::array<uint8_t, 32>> InvertModOrder(const std::array<uint8_t, 32>& a) {
  if (IsZero(a.data())) return absl::InvalidArgumentError("scalar: zero has no inverse");
  if (Compare(a.data(), kOrder.data()) >= 0) return absl::InvalidArgumentError("scalar: not below the group order");
  // Binary extended Euclid, variable time (its inputs are public: r and s of a signature).
  // Invariants: x1 * a = u and x2 * a = v (mod n), x1, x2 < n, u and v odd after each
  // StripTwos; n is prime, so gcd(a, n) = 1 and u or v reaches 1.
  const Limbs n = LimbsFromBigEndian(kOrder.data());
  constexpr uint64_t kOrderLowInverse = InverseMod2To64(0xbfd25e8cd0364141);
  Limbs u = LimbsFromBigEndian(a.data());
  Limbs v = n;
  Limbs x1 = {1, 0, 0, 0};
  Limbs x2 = {0, 0, 0, 0};
  StripTwos(u, x1, n, kOrderLowInverse);
  while (!IsOne(u) && !IsOne(v)) {
    // Both odd and distinct (equal odd values would be a common divisor above 1).
    if (CompareLimbs(u, v) > 0) {
      SubLimbs(u, v);
      SubMod(x1, x2, n);
      StripTwos(u, x1, n, kOrderLowInverse);
    } else {
      SubLimbs(v, u);
      SubMod(x2, x1, n);
      StripTwos(v, x2, n, kOrderLowInverse);
    }
  }
  return LimbsToBigEndian(IsOne(u) ? x1 : x2);
}

}  // namespace internal

namespace {

// a - n in place. REQUIRES: a >= n.
void SubtractOrder(uint8_t* a) {
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int v = static_cast<int>(a[i]) - kOrder[i] - borrow;
    borrow = v < 0;
    a[i] = static_cast<uint8_t>(v + (borrow ? 256 : 0));
  }
}

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
  // s' = r' * r / s.
  std::copy(s_inverse->begin(), s_inverse->end(), s_prime);
  MultiplyModOrder(s_prime, sig.data());
  MultiplyModOrder(s_prime, r_prime);
  // e' = -r' * e / s, with e reduced mod n as ECDSA does (a zero e' is fine for recovery).
  std::array<uint8_t, 32> e = digest;
  if (Compare(e.data(), kOrder.data()) >= 0) SubtractOrder(e.data());
  std::array<uint8_t, 32> e_prime{};
  if (!IsZero(e.data())) {
    e_prime = *s_inverse;
    MultiplyModOrder(e_prime.data(), e.data());
    MultiplyModOrder(e_prime.data(), r_prime);
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

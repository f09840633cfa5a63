// The recovery id found from one public-key recovery run on the key itself (chain/ecdsa.cc,
// RecoveryIdByNoncePoint), checked against libsecp256k1's own signing and recovery, against
// python-ecdsa (tests/chain/check_recovery_ids.py), against
// signatures made without a private key (so that keys whose x is above the group order, recovery
// ids 2 and 3, and digests of zero or above the order can be reached), and against refusals: another
// key (including the same x with the other parity), another digest, malformed r, s and keys.
// The scalar inverse it relies on is checked against OpenSSL's.
#include <openssl/bn.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/hex.h"
#include "chain/ecdsa.h"
#include "tests/chain/test_signing.h"
#include "tests/common/temp_dir.h"

namespace ringfence::chain {
namespace {

using Bytes32 = std::array<uint8_t, 32>;

constexpr char kOrderHex[] = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141";

secp256k1_context* Context() {
  static secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  return ctx;
}

// Scalar arithmetic mod n through OpenSSL: independent of the code under test.
class ModOrder {
 public:
  ModOrder() : ctx_(BN_CTX_new()), n_(BN_new()) { BN_hex2bn(&n_, kOrderHex); }
  ~ModOrder() {
    BN_free(n_);
    BN_CTX_free(ctx_);
  }
  ModOrder(const ModOrder&) = delete;
  ModOrder& operator=(const ModOrder&) = delete;

  Bytes32 Mul(const Bytes32& a, const Bytes32& b) { return Op(a, b, [&](BIGNUM* r, BIGNUM* x, BIGNUM* y) {
      return BN_mod_mul(r, x, y, n_, ctx_); }); }
  Bytes32 Add(const Bytes32& a, const Bytes32& b) { return Op(a, b, [&](BIGNUM* r, BIGNUM* x, BIGNUM* y) {
      return BN_mod_add(r, x, y, n_, ctx_); }); }
  // REQUIRES: a is not zero mod n.
  Bytes32 Inverse(const Bytes32& a) { return Op(a, a, [&](BIGNUM* r, BIGNUM* x, BIGNUM*) {
      return BN_mod_inverse(r, x, n_, ctx_) != nullptr ? 1 : 0; }); }
  // a mod n, for any 256-bit a.
  Bytes32 Reduce(const Bytes32& a) { return Op(a, a, [&](BIGNUM* r, BIGNUM* x, BIGNUM*) {
      return BN_nnmod(r, x, n_, ctx_); }); }
  // a + n; nullopt if that does not fit 256 bits.
  std::optional<Bytes32> PlusOrder(const Bytes32& a) {
    BIGNUM* x = BN_bin2bn(a.data(), 32, nullptr);
    BN_add(x, x, n_);
    std::optional<Bytes32> out;
    if (BN_num_bytes(x) <= 32) {
      out.emplace();
      BN_bn2binpad(x, out->data(), 32);
    }
    BN_free(x);
    return out;
  }
  Bytes32 Order() {
    Bytes32 out;
    BN_bn2binpad(n_, out.data(), 32);
    return out;
  }

 private:
  template <typename F>
  Bytes32 Op(const Bytes32& a, const Bytes32& b, F f) {
    BIGNUM* x = BN_bin2bn(a.data(), 32, nullptr);
    BIGNUM* y = BN_bin2bn(b.data(), 32, nullptr);
    BIGNUM* r = BN_new();
    EXPECT_EQ(f(r, x, y), 1);
    Bytes32 out;
    BN_bn2binpad(r, out.data(), 32);
    BN_free(x);
    BN_free(y);
    BN_free(r);
    return out;
  }

  BN_CTX* ctx_;
  BIGNUM* n_;
};

class Random {
 public:
  explicit Random(uint64_t seed) : gen_(seed) {}
  Bytes32 Bytes() {
    Bytes32 out;
    for (uint8_t& b : out) b = static_cast<uint8_t>(gen_());
    return out;
  }
  // A valid secret key (also a non-zero scalar below n).
  Bytes32 Scalar() {
    for (;;) {
      Bytes32 s = Bytes();
      if (secp256k1_ec_seckey_verify(secp256k1_context_static, s.data())) return s;
    }
  }

 private:
  std::mt19937_64 gen_;
};

std::array<uint8_t, 64> Join(const Bytes32& r, const Bytes32& s) {
  std::array<uint8_t, 64> out;
  std::copy(r.begin(), r.end(), out.begin());
  std::copy(s.begin(), s.end(), out.begin() + 32);
  return out;
}

std::array<uint8_t, 33> Serialize(const secp256k1_pubkey& pk) {
  std::array<uint8_t, 33> out;
  size_t len = out.size();
  secp256k1_ec_pubkey_serialize(secp256k1_context_static, out.data(), &len, &pk, SECP256K1_EC_COMPRESSED);
  return out;
}

std::optional<secp256k1_pubkey> Parse(std::span<const uint8_t> key) {
  secp256k1_pubkey pk;
  if (!secp256k1_ec_pubkey_parse(secp256k1_context_static, &pk, key.data(), key.size())) return std::nullopt;
  return pk;
}

bool IsHigh(const Bytes32& s) {
  static const Bytes32 kHalf = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0xff, 0xff, 0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4,
                                0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};
  return s > kHalf;
}

// A signature by `key` made without its private key: R = aG + bQ, r = x(R) mod n,
// s = r / b, e = a r / b, so that (e/s)G + (r/s)Q = aG + bQ = R. `expected_recid` is R's y
// parity, plus 2 when x(R) is r + n; both for s as made, before any low-S normalisation.
struct Forged {
  Bytes32 digest, r, s;
  int expected_recid;
};

std::optional<Forged> Forge(ModOrder& mod, const secp256k1_pubkey& key, const Bytes32& a, const Bytes32& b,
                            bool a_is_zero) {
  secp256k1_pubkey bq = key;
  if (!secp256k1_ec_pubkey_tweak_mul(secp256k1_context_static, &bq, b.data())) return std::nullopt;
  secp256k1_pubkey nonce_point = bq;
  if (!a_is_zero) {
    secp256k1_pubkey ag;
    if (!secp256k1_ec_pubkey_create(Context(), &ag, a.data())) return std::nullopt;
    const secp256k1_pubkey* parts[2] = {&ag, &bq};
    if (!secp256k1_ec_pubkey_combine(secp256k1_context_static, &nonce_point, parts, 2)) return std::nullopt;
  }
  const std::array<uint8_t, 33> point = Serialize(nonce_point);
  Bytes32 x;
  std::copy(point.begin() + 1, point.end(), x.begin());
  Forged f;
  f.r = mod.Reduce(x);
  if (f.r == Bytes32{}) return std::nullopt;
  f.expected_recid = (point[0] == 0x03 ? 1 : 0) | (f.r != x ? 2 : 0);
  f.s = mod.Mul(f.r, mod.Inverse(b));
  f.digest = a_is_zero ? Bytes32{} : mod.Mul(a, f.s);
  return f;
}

std::array<uint8_t, 64> HighS(const std::array<uint8_t, 64>& low) {
  std::array<uint8_t, 64> high = low;
  EXPECT_TRUE(secp256k1_ec_seckey_negate(secp256k1_context_static, high.data() + 32));
  return high;
}

// Checks FinishSignature(kCompute) on (digest, r||s) for `key` against `expected_recid`
// (stated for s as given): the low-S form comes back, with the id that libsecp256k1's own
// recovery turns back into `key`.
void ExpectRecoveryId(const Bytes32& digest, const std::array<uint8_t, 64>& rs, std::span<const uint8_t> key,
                      int expected_recid) {
  Bytes32 s;
  std::copy(rs.begin() + 32, rs.end(), s.begin());
  const bool high = IsHigh(s);
  const int want = high ? expected_recid ^ 1 : expected_recid;
  absl::StatusOr<FinishedSignature> got = FinishSignature(rs, digest, key, RecoveryId::kCompute);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->normalized, high);
  ASSERT_TRUE(got->recovery_id.has_value());
  EXPECT_EQ(*got->recovery_id, want);
  absl::StatusOr<std::array<uint8_t, 65>> recovered = RecoverPublicKey(digest, got->compact, *got->recovery_id);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(*recovered, *UncompressPublicKey(key));
  EXPECT_TRUE(FinishSignature(rs, digest, key, RecoveryId::kSkip).ok());
}

TEST(InvertModOrderTest, MatchesOpenSsl) {
  ModOrder mod;
  Random rng(1);
  const Bytes32 n = mod.Order();
  std::vector<Bytes32> values;
  Bytes32 v{};
  v[31] = 1;
  values.push_back(v);  // 1
  v[31] = 2;
  values.push_back(v);  // 2
  for (int bit = 0; bit < 256; ++bit) {  // every power of two below n
    Bytes32 p{};
    p[31 - bit / 8] = static_cast<uint8_t>(1 << (bit % 8));
    if (p < n) values.push_back(p);
  }
  Bytes32 n_minus_1 = n;
  n_minus_1[31] -= 1;
  values.push_back(n_minus_1);
  Bytes32 n_minus_2 = n;
  n_minus_2[31] -= 2;
  values.push_back(n_minus_2);
  for (int i = 0; i < 5000; ++i) {
    Bytes32 r = rng.Scalar();
    // Leading and trailing zero limbs and bytes exercise the whole-limb shifts.
    if (i % 4 == 1) std::fill(r.begin(), r.begin() + (i % 31), 0);
    if (i % 4 == 2) std::fill(r.end() - (i % 31), r.end(), 0);
    if (r != Bytes32{}) values.push_back(r);
  }
  for (const Bytes32& a : values) {
    absl::StatusOr<Bytes32> got = internal::InvertModOrder(a);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, mod.Inverse(a));
  }
}

TEST(InvertModOrderTest, RefusesZeroAndValuesNotBelowTheOrder) {
  ModOrder mod;
  Bytes32 n = mod.Order();
  EXPECT_EQ(internal::InvertModOrder(Bytes32{}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(internal::InvertModOrder(n).status().code(), absl::StatusCode::kInvalidArgument);
  n[31] += 1;
  EXPECT_EQ(internal::InvertModOrder(n).status().code(), absl::StatusCode::kInvalidArgument);
  Bytes32 all_ones;
  all_ones.fill(0xff);
  EXPECT_EQ(internal::InvertModOrder(all_ones).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RecoveryIdTest, MatchesLibsecp256k1ForRandomKeysAndDigests) {
  Random rng(2);
  int seen[2] = {0, 0};
  for (int i = 0; i < 1000; ++i) {
    const Bytes32 secret = rng.Scalar();
    const Bytes32 digest = rng.Bytes();
    const testing::RecoverableSignature want = testing::SignDigest(secret, digest);
    ++seen[want.recid & 1];
    const std::array<uint8_t, 33> pub = testing::CompressedPubkey(secret);
    const std::array<uint8_t, 65> full = testing::UncompressedPubkey(secret);
    for (const bool high : {false, true}) {
      const std::array<uint8_t, 64> raw = high ? HighS(want.rs) : want.rs;
      for (std::span<const uint8_t> key : {std::span<const uint8_t>(pub), std::span<const uint8_t>(full)}) {
        absl::StatusOr<FinishedSignature> got = FinishSignature(raw, digest, key, RecoveryId::kCompute);
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(got->compact, want.rs);
        EXPECT_EQ(got->normalized, high);
        ASSERT_TRUE(got->recovery_id.has_value());
        EXPECT_EQ(*got->recovery_id, want.recid);
      }
    }
    absl::StatusOr<int> recid = ComputeRecoveryId(digest, want.rs, pub);
    ASSERT_TRUE(recid.ok()) << recid.status();
    EXPECT_EQ(*recid, want.recid);
  }
  EXPECT_GT(seen[0], 400);
  EXPECT_GT(seen[1], 400);
}

TEST(RecoveryIdTest, AnotherKeyDigestOrRIsRefused) {
  Random rng(3);
  for (int i = 0; i < 300; ++i) {
    const Bytes32 secret = rng.Scalar();
    Bytes32 digest = rng.Bytes();
    const std::array<uint8_t, 64> rs = testing::SignDigest(secret, digest).rs;
    const std::array<uint8_t, 33> pub = testing::CompressedPubkey(secret);
    std::array<uint8_t, 33> negated = pub;  // -Q: same x, other parity
    negated[0] ^= 0x01;
    const std::array<uint8_t, 33> other = testing::CompressedPubkey(rng.Scalar());
    Bytes32 other_digest = digest;
    other_digest[i % 32] ^= static_cast<uint8_t>(1 << (i % 8));
    std::array<uint8_t, 64> other_r = rs;
    other_r[31] ^= 0x01;  // still far below n: a well-formed r that is not this signature's
    std::array<uint8_t, 64> other_s = rs;
    other_s[63] ^= 0x01;
    struct Case {
      std::array<uint8_t, 64> rs;
      Bytes32 digest;
      std::span<const uint8_t> key;
    };
    const std::vector<Case> cases = {{rs, digest, negated},       {rs, digest, other},
                                     {HighS(rs), digest, negated}, {rs, other_digest, pub},
                                     {other_r, digest, pub},       {other_s, digest, pub}};
    for (const Case& c : cases) {
      for (const RecoveryId recovery : {RecoveryId::kCompute, RecoveryId::kSkip}) {
        EXPECT_EQ(FinishSignature(c.rs, c.digest, c.key, recovery).status().code(),
                  absl::StatusCode::kPermissionDenied);
      }
      absl::StatusOr<CompactSignature> low = NormalizeLowS(c.rs);
      ASSERT_TRUE(low.ok());
      EXPECT_EQ(ComputeRecoveryId(c.digest, *low, c.key).status().code(), absl::StatusCode::kNotFound);
    }
  }
}

TEST(RecoveryIdTest, DigestsOfZeroTheOrderAndAboveIt) {
  // ECDSA reduces the digest mod n: libsecp256k1 signs such digests, and the id must follow.
  ModOrder mod;
  Random rng(4);
  Bytes32 all_ones;
  all_ones.fill(0xff);
  Bytes32 n_plus_5 = mod.Order();
  n_plus_5[31] += 5;
  for (const Bytes32& digest : {Bytes32{}, mod.Order(), n_plus_5, all_ones}) {
    for (int i = 0; i < 20; ++i) {
      const Bytes32 secret = rng.Scalar();
      const testing::RecoverableSignature want = testing::SignDigest(secret, digest);
      const std::array<uint8_t, 33> pub = testing::CompressedPubkey(secret);
      ExpectRecoveryId(digest, want.rs, pub, want.recid);
      ExpectRecoveryId(digest, HighS(want.rs), pub, want.recid ^ 1);
    }
  }
}

// Keys whose x is n or more (about 2^-128 of keys): the key is lifted with recovery id 2 or 3.
// No one knows such a key's private key, so the signatures are forged (see Forge).
TEST(RecoveryIdTest, KeysWhoseXIsAboveTheOrder) {
  ModOrder mod;
  Random rng(5);
  int keys = 0;
  for (uint8_t c = 1; c < 200 && keys < 4; ++c) {
    std::optional<Bytes32> x = mod.PlusOrder(Bytes32{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, c});
    ASSERT_TRUE(x.has_value());
    for (const uint8_t prefix : {0x02, 0x03}) {
      std::array<uint8_t, 33> key;
      key[0] = prefix;
      std::copy(x->begin(), x->end(), key.begin() + 1);
      std::optional<secp256k1_pubkey> q = Parse(key);
      if (!q.has_value()) break;  // x not on the curve: neither parity is a point
      ++keys;
      for (int i = 0; i < 25; ++i) {
        const bool zero_digest = i == 0;
        std::optional<Forged> f = Forge(mod, *q, rng.Scalar(), rng.Scalar(), zero_digest);
        ASSERT_TRUE(f.has_value());
        ExpectRecoveryId(f->digest, Join(f->r, f->s), key, f->expected_recid);
        std::array<uint8_t, 33> negated = key;
        negated[0] ^= 0x01;
        if (zero_digest) {
          // With e = 0 the nonce point is (r/s)Q, and -Q's is its mirror image with the same
          // x: ECDSA itself accepts the signature for both keys, with opposite parities.
          ExpectRecoveryId(f->digest, Join(f->r, f->s), negated, f->expected_recid ^ 1);
        } else {
          EXPECT_EQ(FinishSignature(Join(f->r, f->s), f->digest, negated, RecoveryId::kCompute).status().code(),
                    absl::StatusCode::kPermissionDenied);
        }
      }
    }
  }
  EXPECT_GE(keys, 2);
}

// Recovery ids 2 and 3: the nonce point's x is r + n, which needs r < p - n. Keys for such
// signatures come from libsecp256k1's recovery itself; if r is also an x on the curve, the
// same (r, s) recovers other keys with ids 0 and 1, which must be told apart.
TEST(RecoveryIdTest, RecoveryIdsTwoAndThree) {
  ModOrder mod;
  Random rng(6);
  int found = 0;
  for (uint8_t c = 1; c < 200 && found < 3; ++c) {
    const Bytes32 r = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, c};
    for (int i = 0; i < 5; ++i) {
      const Bytes32 digest = rng.Bytes();
      Bytes32 s = rng.Scalar();
      CompactSignature sig = Join(r, s);
      absl::StatusOr<CompactSignature> low = NormalizeLowS(sig);
      ASSERT_TRUE(low.ok());
      sig = *low;
      bool any_high_id = false;
      for (int recid = 0; recid < 4; ++recid) {
        absl::StatusOr<std::array<uint8_t, 65>> key = RecoverPublicKey(digest, sig, recid);
        if (!key.ok()) continue;
        any_high_id |= recid >= 2;
        const std::array<uint8_t, 33> compressed = *CompressPublicKey(*key);
        ExpectRecoveryId(digest, sig, compressed, recid);
        ExpectRecoveryId(digest, HighS(sig), compressed, recid ^ 1);
      }
      if (any_high_id) ++found;
    }
  }
  EXPECT_GE(found, 3);
}

// For the key Q = -(e/r)G, (e/s)G + (r/s)Q is the point at infinity, which has no x: every s
// must be refused (recovery has no answer there; the slow path decides).
TEST(RecoveryIdTest, NonceAtInfinityIsRefused) {
  ModOrder mod;
  Random rng(8);
  for (int i = 0; i < 20; ++i) {
    const Bytes32 digest = rng.Scalar();  // e below n and not zero
    const Bytes32 r = rng.Scalar();
    Bytes32 secret = mod.Mul(digest, mod.Inverse(r));
    ASSERT_TRUE(secp256k1_ec_seckey_negate(secp256k1_context_static, secret.data()));
    const std::array<uint8_t, 33> pub = testing::CompressedPubkey(secret);
    const std::array<uint8_t, 64> sig = Join(r, rng.Scalar());
    for (const RecoveryId recovery : {RecoveryId::kCompute, RecoveryId::kSkip}) {
      EXPECT_EQ(FinishSignature(sig, digest, pub, recovery).status().code(), absl::StatusCode::kPermissionDenied);
    }
  }
}

// The same kinds of cases, verdicts and ids as FinishSignature finds them, handed to
// python-ecdsa (an independent implementation in pure Python) to check.
TEST(RecoveryIdTest, PythonEcdsaAgrees) {
  ModOrder mod;
  Random rng(9);
  std::string json = "[";
  int accepted = 0;
  int refused = 0;
  int high_ids = 0;
  auto add = [&](const Bytes32& digest, const std::array<uint8_t, 64>& raw, std::span<const uint8_t> key) {
    absl::StatusOr<FinishedSignature> got = FinishSignature(raw, digest, key, RecoveryId::kCompute);
    ASSERT_TRUE(got.ok() || got.status().code() == absl::StatusCode::kPermissionDenied) << got.status();
    const std::array<uint8_t, 33> compressed = *CompressPublicKey(key);
    absl::StatusOr<CompactSignature> low = NormalizeLowS(raw);
    ASSERT_TRUE(low.ok());
    if (json.size() > 1) json += ",";
    json += "{\"key\":\"" + base::HexEncode(compressed) + "\",\"digest\":\"" + base::HexEncode(digest) +
            "\",\"sig\":\"" + base::HexEncode(*low) + "\",\"recid\":" +
            (got.ok() ? std::to_string(*got->recovery_id) : std::string("null")) + "}";
    if (got.ok()) {
      ++accepted;
      high_ids += *got->recovery_id >= 2 ? 1 : 0;
    } else {
      ++refused;
    }
  };
  for (int i = 0; i < 120; ++i) {
    const Bytes32 secret = rng.Scalar();
    const Bytes32 digest = rng.Bytes();
    const std::array<uint8_t, 64> rs = testing::SignDigest(secret, digest).rs;
    const std::array<uint8_t, 33> pub = testing::CompressedPubkey(secret);
    add(digest, i % 2 ? HighS(rs) : rs, pub);
    if (i % 4 == 0) {
      std::array<uint8_t, 33> negated = pub;
      negated[0] ^= 0x01;
      add(digest, rs, negated);
      add(digest, rs, testing::CompressedPubkey(rng.Scalar()));
    }
  }
  // A key whose x is above n, with forged signatures.
  for (uint8_t c = 1; c < 200; ++c) {
    std::optional<Bytes32> x = mod.PlusOrder(Bytes32{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, c});
    std::array<uint8_t, 33> key;
    key[0] = 0x03;
    std::copy(x->begin(), x->end(), key.begin() + 1);
    std::optional<secp256k1_pubkey> q = Parse(key);
    if (!q.has_value()) continue;
    for (int i = 0; i < 10; ++i) {
      std::optional<Forged> f = Forge(mod, *q, rng.Scalar(), rng.Scalar(), false);
      ASSERT_TRUE(f.has_value());
      add(f->digest, Join(f->r, f->s), key);
    }
    break;
  }
  // Ids 2 and 3: r = 1, 2, ... while r + n is on the curve.
  for (uint8_t c = 1; c < 200 && high_ids < 4; ++c) {
    const Bytes32 r = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, c};
    const Bytes32 digest = rng.Bytes();
    const CompactSignature sig = *NormalizeLowS(Join(r, rng.Scalar()));
    for (int recid = 2; recid < 4; ++recid) {
      absl::StatusOr<std::array<uint8_t, 65>> key = RecoverPublicKey(digest, sig, recid);
      if (key.ok()) add(digest, sig, *key);
    }
  }
  json += "]";
  EXPECT_GE(accepted, 130);
  EXPECT_GE(refused, 50);
  EXPECT_GE(high_ids, 4);

  const char* python = std::getenv("PYTHON");
  const char* src = std::getenv("RINGFENCE_SOURCE_DIR");
  ASSERT_NE(python, nullptr) << "PYTHON is not set (ctest sets it)";
  ASSERT_NE(src, nullptr) << "RINGFENCE_SOURCE_DIR is not set (ctest sets it)";
  ringfence::testing::TempDir dir("recovery-ids");
  const auto path = dir / "cases.json";
  std::ofstream(path) << json;
  const std::string cmd = std::string(python) + " " + src + "/tests/chain/check_recovery_ids.py " + path.string();
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TEST(RecoveryIdTest, MalformedSignaturesAndKeysAreInvalidArgument) {
  ModOrder mod;
  Random rng(7);
  const Bytes32 secret = rng.Scalar();
  const Bytes32 digest = rng.Bytes();
  const std::array<uint8_t, 64> good = testing::SignDigest(secret, digest).rs;
  const std::array<uint8_t, 33> pub = testing::CompressedPubkey(secret);
  Bytes32 r, s;
  std::copy(good.begin(), good.begin() + 32, r.begin());
  std::copy(good.begin() + 32, good.end(), s.begin());
  Bytes32 all_ones;
  all_ones.fill(0xff);
  Bytes32 n_plus_1 = mod.Order();
  n_plus_1[31] += 1;
  const std::vector<std::array<uint8_t, 64>> bad_sigs = {
      Join(Bytes32{}, s), Join(mod.Order(), s), Join(n_plus_1, s), Join(all_ones, s),
      Join(r, Bytes32{}), Join(r, mod.Order()), Join(r, n_plus_1), Join(r, all_ones)};
  for (const RecoveryId recovery : {RecoveryId::kCompute, RecoveryId::kSkip}) {
    for (const auto& bad : bad_sigs) {
      EXPECT_EQ(FinishSignature(bad, digest, pub, recovery).status().code(), absl::StatusCode::kInvalidArgument);
    }
    EXPECT_EQ(FinishSignature(std::span<const uint8_t>(good).first(63), digest, pub, recovery).status().code(),
              absl::StatusCode::kInvalidArgument);
    std::vector<uint8_t> longer(good.begin(), good.end());
    longer.push_back(0);
    EXPECT_EQ(FinishSignature(longer, digest, pub, recovery).status().code(), absl::StatusCode::kInvalidArgument);
  }

  // Keys: wrong lengths and prefixes, an x off the curve, an x not below p.
  std::vector<std::vector<uint8_t>> bad_keys = {{}, std::vector<uint8_t>(pub.begin() + 1, pub.end())};
  std::vector<uint8_t> k = std::vector<uint8_t>(pub.begin(), pub.end());
  k[0] = 0x04;
  bad_keys.push_back(k);
  k[0] = 0x05;
  bad_keys.push_back(k);
  std::array<uint8_t, 65> full = testing::UncompressedPubkey(secret);
  std::vector<uint8_t> f(full.begin(), full.end());
  f[0] = 0x02;
  bad_keys.push_back(f);
  f[0] = 0x06;  // the "hybrid" form, which neither chain uses
  bad_keys.push_back(f);
  f[0] = 0x04;
  f[64] ^= 0x01;  // y off the curve
  bad_keys.push_back(f);
  std::vector<uint8_t> off_curve;
  for (uint8_t c = 1; off_curve.empty(); ++c) {
    std::vector<uint8_t> candidate(33, 0);
    candidate[0] = 0x02;
    candidate[32] = c;
    if (!Parse(candidate).has_value()) off_curve = candidate;
  }
  bad_keys.push_back(off_curve);
  off_curve[0] = 0x03;
  bad_keys.push_back(off_curve);
  std::vector<uint8_t> above_p(33, 0xff);
  above_p[0] = 0x02;
  bad_keys.push_back(above_p);
  above_p[0] = 0x03;
  bad_keys.push_back(above_p);
  for (const auto& key : bad_keys) {
    for (const RecoveryId recovery : {RecoveryId::kCompute, RecoveryId::kSkip}) {
      EXPECT_EQ(FinishSignature(good, digest, key, recovery).status().code(), absl::StatusCode::kInvalidArgument)
          << key.size() << " bytes, prefix " << (key.empty() ? -1 : key[0]);
    }
  }
}

}  // namespace
}  // namespace ringfence::chain

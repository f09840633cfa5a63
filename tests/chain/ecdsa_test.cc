// FinishSignature: an HSM's raw r || s made canonical (low S), with or without its recovery
// id, and refused when malformed or not the key's signature over the digest; public keys in
// either SEC1 form.
#include <secp256k1.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "chain/ecdsa.h"
#include "chain/hashes.h"
#include "tests/chain/test_signing.h"

namespace ringfence::chain {
namespace {

// Deterministic secret keys: 32 bytes of `seed` (a valid key for every seed 1..255).
std::array<uint8_t, 32> Secret(uint8_t seed) {
  std::array<uint8_t, 32> s;
  s.fill(seed);
  return s;
}

std::array<uint8_t, 32> Digest(int i) {
  const std::vector<uint8_t> text = {'m', static_cast<uint8_t>(i), static_cast<uint8_t>(i >> 8)};
  return Sha256(text);
}

// The same signature with S replaced by n - S, as SoftHSM2 returns about half the time.
std::array<uint8_t, 64> HighS(const std::array<uint8_t, 64>& low) {
  std::array<uint8_t, 64> high = low;
  EXPECT_TRUE(secp256k1_ec_seckey_negate(secp256k1_context_static, high.data() + 32));
  return high;
}

TEST(FinishSignatureTest, NormalisesHighSAndFindsTheRecoveryId) {
  int seen_recid[2] = {0, 0};
  for (int i = 0; i < 64; ++i) {
    const auto secret = Secret(static_cast<uint8_t>(1 + i % 7));
    const auto pub = testing::CompressedPubkey(secret);
    const auto digest = Digest(i);
    const testing::RecoverableSignature want = testing::SignDigest(secret, digest);
    ++seen_recid[want.recid & 1];
    for (const bool high : {false, true}) {
      const std::array<uint8_t, 64> raw = high ? HighS(want.rs) : want.rs;
      absl::StatusOr<FinishedSignature> got = FinishSignature(raw, digest, pub, RecoveryId::kCompute);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->compact, want.rs);
      EXPECT_EQ(got->normalized, high);
      ASSERT_TRUE(got->recovery_id.has_value());
      EXPECT_EQ(*got->recovery_id, want.recid);

      absl::StatusOr<FinishedSignature> verified = FinishSignature(raw, digest, pub, RecoveryId::kSkip);
      ASSERT_TRUE(verified.ok()) << verified.status();
      EXPECT_EQ(verified->compact, want.rs);
      EXPECT_EQ(verified->normalized, high);
      EXPECT_FALSE(verified->recovery_id.has_value());
    }
  }
  // Both ids occur about equally often: 2^-63 odds that one of them never shows.
  EXPECT_GT(seen_recid[0], 0);
  EXPECT_GT(seen_recid[1], 0);
}

TEST(FinishSignatureTest, MalformedOutputIsInvalidArgument) {
  const auto pub = testing::CompressedPubkey(Secret(1));
  const auto digest = Digest(0);
  const std::vector<uint8_t> short_sig(63, 1), zero(64, 0), overflow(64, 0xff);
  for (const RecoveryId recovery : {RecoveryId::kSkip, RecoveryId::kCompute}) {
    EXPECT_EQ(FinishSignature(short_sig, digest, pub, recovery).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(FinishSignature(zero, digest, pub, recovery).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(FinishSignature(overflow, digest, pub, recovery).status().code(), absl::StatusCode::kInvalidArgument);
    const std::vector<uint8_t> not_a_key(33, 0x05);
    EXPECT_EQ(FinishSignature(testing::SignDigest(Secret(1), digest).rs, digest, not_a_key, recovery).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(FinishSignatureTest, AnotherKeysOrDigestsSignatureIsPermissionDenied) {
  const auto digest = Digest(1);
  const auto sig = testing::SignDigest(Secret(1), digest).rs;
  const auto other_key = testing::CompressedPubkey(Secret(2));
  const auto own_key = testing::CompressedPubkey(Secret(1));
  for (const RecoveryId recovery : {RecoveryId::kSkip, RecoveryId::kCompute}) {
    EXPECT_EQ(FinishSignature(sig, digest, other_key, recovery).status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(FinishSignature(sig, Digest(2), own_key, recovery).status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(FinishSignature(HighS(sig), Digest(2), own_key, recovery).status().code(),
              absl::StatusCode::kPermissionDenied);
  }
}

// A token reports a public key in either SEC1 form; both compress to the same 33 bytes.
TEST(CompressPublicKeyTest, AcceptsBothSec1FormsAndRejectsOthers) {
  const auto secret = Secret(3);
  const auto compressed = testing::CompressedPubkey(secret);
  std::array<uint8_t, 65> full = testing::UncompressedPubkey(secret);
  absl::StatusOr<std::array<uint8_t, 33>> a = CompressPublicKey(full);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, compressed);
  EXPECT_EQ(*CompressPublicKey(compressed), compressed);
  EXPECT_EQ(*UncompressPublicKey(compressed), full);
  full[64] ^= 1;  // off the curve
  EXPECT_EQ(CompressPublicKey(full).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CompressPublicKey(std::span<const uint8_t>()).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ringfence::chain

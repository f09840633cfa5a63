#include "tests/custody/cold_support.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include "base/hex.h"

namespace ringfence::custody::testing {

Identity::Identity(uint8_t seed_byte) {
  EXPECT_GE(sodium_init(), 0);
  std::array<uint8_t, 32> seed;
  seed.fill(seed_byte);
  crypto_sign_seed_keypair(public_key.data(), secret_key.data(), seed.data());
  sodium_memzero(seed.data(), seed.size());
}

Identity::~Identity() { sodium_memzero(secret_key.data(), secret_key.size()); }

std::string Identity::Hex() const { return base::HexEncode(public_key); }

namespace {

// Signs `digest` into `signature` with `by`; false (and a test failure) when there is none.
bool SignDigest(const absl::StatusOr<base::Digest32>& digest, const Identity& by, offline::Signature& signature) {
  EXPECT_TRUE(digest.ok()) << digest.status();
  if (!digest.ok()) return false;
  crypto_sign_detached(signature.data(), nullptr, digest->data(), digest->size(), by.secret_key.data());
  return true;
}

std::string Written(const absl::StatusOr<std::string>& file) {
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? *file : "";
}

}  // namespace

std::string ColdKeysSignedBy(offline::ColdKeys keys, const Identity& by) {
  keys.signer_key = by.public_key;
  if (!SignDigest(offline::ColdKeysDigest(keys), by, keys.signature)) return "";
  return Written(offline::WriteColdKeys(keys));
}

std::string SignedBundleSignedBy(offline::SignedBundle bundle, const Identity& by) {
  bundle.signer_key = by.public_key;
  if (!SignDigest(offline::SignedBundleDigest(bundle), by, bundle.signature)) return "";
  return Written(offline::WriteSignedBundle(bundle));
}

}  // namespace ringfence::custody::testing

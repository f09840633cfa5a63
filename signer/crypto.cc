#include "signer/crypto.h"

#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace ringfence::signer {

absl::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kSecp256k1:
      return "secp256k1";
    case KeyType::kEd25519:
      return "ed25519";
  }
  return "unknown";
}

absl::StatusOr<KeyType> ParseKeyTypeName(absl::string_view name) {
  if (name == "secp256k1") return KeyType::kSecp256k1;
  if (name == "ed25519") return KeyType::kEd25519;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown key type '", name, "' (expected secp256k1 or ed25519)"));
}

absl::StatusOr<std::array<uint8_t, 33>> CompressSecp256k1(std::span<const uint8_t> sec1) {
  secp256k1_pubkey pub;
  // Checked first: libsecp256k1 treats a null pointer (an empty span) as a fatal misuse.
  if ((sec1.size() != 33 && sec1.size() != 65) ||
      !secp256k1_ec_pubkey_parse(secp256k1_context_static, &pub, sec1.data(), sec1.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "public key is not a secp256k1 SEC1 point (", sec1.size(), " bytes)"));
  }
  std::array<uint8_t, 33> out{};
  size_t len = out.size();
  secp256k1_ec_pubkey_serialize(secp256k1_context_static, out.data(), &len, &pub,
                                SECP256K1_EC_COMPRESSED);
  return out;
}

absl::StatusOr<EcdsaSignature> FinishEcdsa(std::span<const uint8_t> raw,
                                           std::span<const uint8_t, 32> digest,
                                           std::span<const uint8_t> public_key) {
  if (raw.size() != kSignatureSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("token returned a ", raw.size(), "-byte ECDSA signature, expected 64 (r || s)"));
  }
  secp256k1_pubkey pub;
  if (public_key.size() != kSecp256k1CompressedSize ||
      !secp256k1_ec_pubkey_parse(secp256k1_context_static, &pub, public_key.data(),
                                 public_key.size())) {
    return absl::InvalidArgumentError("registered public key is not a compressed secp256k1 point");
  }
  static const uint8_t kZero[32] = {};
  secp256k1_ecdsa_signature sig;
  // parse_compact rejects r or s >= n; zero values parse but never verify, so reject them here.
  if (std::memcmp(raw.data(), kZero, 32) == 0 || std::memcmp(raw.data() + 32, kZero, 32) == 0 ||
      !secp256k1_ecdsa_signature_parse_compact(secp256k1_context_static, &sig, raw.data())) {
    return absl::InvalidArgumentError("token returned an ECDSA signature with r or s out of range");
  }
  EcdsaSignature out;
  out.normalized =
      secp256k1_ecdsa_signature_normalize(secp256k1_context_static, &sig, &sig) == 1;
  secp256k1_ecdsa_signature_serialize_compact(secp256k1_context_static, out.compact.data(), &sig);

  RF_CHECK(
      secp256k1_ecdsa_verify(secp256k1_context_static, &sig, digest.data(), &pub) == 1,
      "token's ECDSA signature does not verify under the key's registered public key");

  // Recovery ids 2 and 3 (r >= n - p) are astronomically rare but legitimate; try all four.
  for (int recid = 0; recid < 4; ++recid) {
    secp256k1_ecdsa_recoverable_signature rsig;
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(
            secp256k1_context_static, &rsig, out.compact.data(), recid)) {
      continue;
    }
    secp256k1_pubkey recovered;
    if (!secp256k1_ecdsa_recover(secp256k1_context_static, &recovered, &rsig, digest.data())) {
      continue;
    }
    if (secp256k1_ec_pubkey_cmp(secp256k1_context_static, &recovered, &pub) == 0) {
      out.recovery_id = recid;
      return out;
    }
  }
  RF_CHECK(false, "no recovery id recovers the key of a verified ECDSA signature");
}

absl::Status CheckEd25519(std::span<const uint8_t> signature, std::span<const uint8_t> message,
                          std::span<const uint8_t> public_key) {
  if (signature.size() != kSignatureSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token returned a ", signature.size(), "-byte Ed25519 signature, expected 64"));
  }
  if (public_key.size() != kEd25519PublicKeySize) {
    return absl::InvalidArgumentError("registered Ed25519 public key is not 32 bytes");
  }
  RF_CHECK(sodium_init() >= 0, "libsodium failed to initialise");
  RF_CHECK(
      crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                  public_key.data()) == 0,
      "token's Ed25519 signature does not verify under the key's registered public key");
  return absl::OkStatus();
}

std::array<uint8_t, 32> Sha256(std::span<const uint8_t> data) {
  std::array<uint8_t, 32> out{};
  crypto_hash_sha256(out.data(), data.data(), data.size());
  return out;
}

std::string HexEncode(std::span<const uint8_t> data) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

}  // namespace ringfence::signer

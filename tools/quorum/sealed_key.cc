#include "tools/quorum/sealed_key.h"

#include <sodium.h>

#include <charconv>
#include <cstdlib>
#include <mutex>
#include <span>
#include <vector>

#include "base/hex.h"
#include "base/status.h"
#include "base/text.h"

namespace ringfence::quorum {
namespace {

// File layout: one "name=value" per line, these names exactly once each, in this order.
constexpr const char* kFields[] = {"format", "public_key", "opslimit", "memlimit", "salt", "nonce", "sealed_seed"};
// The Ed25519 seed: the first half of libsodium's 64-byte secret key, and all the file seals.
constexpr size_t kSeedSize = crypto_sign_SEEDBYTES;

void EnsureSodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) std::abort();
  });
}

// Lowercase hex of exactly `out.size()` bytes, the only form the file format allows.
absl::Status HexField(std::string_view text, std::string_view name, std::span<uint8_t> out) {
  return base::HexDecodeInto(text, out, base::Cat("sealed key: field '", name, "'"), base::HexCase::kLowerOnly);
}

absl::StatusOr<uint64_t> U64Field(const std::string& text, std::string_view name) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty() || (text.size() > 1 && text[0] == '0')) {
    return absl::InvalidArgumentError(base::Cat("sealed key: field '", name, "' must be a decimal integer"));
  }
  return v;
}

struct Parsed {
  std::array<uint8_t, 32> public_key{};
  KdfCost cost;
  std::array<uint8_t, crypto_pwhash_SALTBYTES> salt{};
  std::array<uint8_t, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES> nonce{};
  std::array<uint8_t, kSeedSize + crypto_aead_xchacha20poly1305_ietf_ABYTES> sealed{};
};

absl::StatusOr<Parsed> Parse(std::string_view text) {
  if (text.size() > 4096) return absl::InvalidArgumentError("sealed key: file larger than 4096 bytes");
  std::vector<std::string> values;
  size_t pos = 0;
  for (const char* name : kFields) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) {
      return absl::InvalidArgumentError(base::Cat("sealed key: missing line '", name, "'"));
    }
    std::string_view line = text.substr(pos, end - pos);
    const std::string prefix = base::Cat(name, "=");
    if (line.substr(0, prefix.size()) != prefix) {
      return absl::InvalidArgumentError(
          base::Cat("sealed key: expected line '", name, "=...' at line ", values.size() + 1));
    }
    values.emplace_back(line.substr(prefix.size()));
    pos = end + 1;
  }
  if (pos != text.size()) return absl::InvalidArgumentError("sealed key: trailing data after 'sealed_seed'");
  if (values[0] != kSealedKeyMagic) {
    return absl::InvalidArgumentError(base::Cat("sealed key: field 'format' must be '", kSealedKeyMagic, "'"));
  }
  Parsed p;
  RF_RETURN_IF_ERROR(HexField(values[1], "public_key", p.public_key));
  RF_ASSIGN_OR_RETURN(const uint64_t ops, U64Field(values[2], "opslimit"));
  RF_ASSIGN_OR_RETURN(const uint64_t mem, U64Field(values[3], "memlimit"));
  if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > 64) {
    return absl::InvalidArgumentError("sealed key: field 'opslimit' out of range");
  }
  if (mem < crypto_pwhash_MEMLIMIT_MIN || mem > (4ull << 30)) {
    return absl::InvalidArgumentError("sealed key: field 'memlimit' out of range");
  }
  p.cost = {ops, mem};
  RF_RETURN_IF_ERROR(HexField(values[4], "salt", p.salt));
  RF_RETURN_IF_ERROR(HexField(values[5], "nonce", p.nonce));
  RF_RETURN_IF_ERROR(HexField(values[6], "sealed_seed", p.sealed));
  return p;
}

// The sealing key, derived from the passphrase into guarded memory.
absl::StatusOr<base::SecretBytes> DeriveKey(std::string_view passphrase, std::span<const uint8_t> salt,
                                            const KdfCost& cost) {
  base::SecretBytes key(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
  if (crypto_pwhash(key.data(), key.size(), passphrase.data(), passphrase.size(), salt.data(), cost.opslimit,
                    cost.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return absl::InternalError("sealed key: Argon2id failed (out of memory?)");
  }
  return key;
}

}  // namespace

absl::StatusOr<std::string> SealedKey::Generate(std::string_view passphrase, const KdfCost& cost,
                                                std::array<uint8_t, 32>* public_key) {
  EnsureSodium();
  if (passphrase.size() < kMinPassphraseBytes) {
    return absl::InvalidArgumentError(base::Cat("passphrase must be at least ", kMinPassphraseBytes, " bytes"));
  }
  Parsed p;
  p.cost = cost;
  base::SecretBytes sk(crypto_sign_SECRETKEYBYTES);
  crypto_sign_keypair(p.public_key.data(), sk.data());
  randombytes_buf(p.salt.data(), p.salt.size());
  randombytes_buf(p.nonce.data(), p.nonce.size());
  RF_ASSIGN_OR_RETURN(const base::SecretBytes key, DeriveKey(passphrase, p.salt, cost));
  // Only the 32-byte seed is sealed; the public half is recomputed on open and bound as AD.
  crypto_aead_xchacha20poly1305_ietf_encrypt(p.sealed.data(), nullptr, sk.data(), kSeedSize, p.public_key.data(),
                                             p.public_key.size(), nullptr, p.nonce.data(), key.data());
  *public_key = p.public_key;
  return base::Cat("format=", kSealedKeyMagic, "\n",                          //
                   "public_key=", base::HexEncode(p.public_key), "\n",        //
                   "opslimit=", p.cost.opslimit, "\n",                        //
                   "memlimit=", p.cost.memlimit, "\n",                        //
                   "salt=", base::HexEncode(p.salt), "\n",                    //
                   "nonce=", base::HexEncode(p.nonce), "\n",                  //
                   "sealed_seed=", base::HexEncode(p.sealed), "\n");
}

absl::StatusOr<std::array<uint8_t, 32>> SealedKey::PublicKeyOf(std::string_view file_text) {
  EnsureSodium();
  RF_ASSIGN_OR_RETURN(const Parsed p, Parse(file_text));
  return p.public_key;
}

absl::StatusOr<std::unique_ptr<SealedKey>> SealedKey::Open(std::string_view file_text, std::string_view passphrase) {
  EnsureSodium();
  RF_ASSIGN_OR_RETURN(const Parsed p, Parse(file_text));
  RF_ASSIGN_OR_RETURN(const base::SecretBytes key, DeriveKey(passphrase, p.salt, p.cost));
  base::SecretBytes seed(kSeedSize);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(seed.data(), nullptr, nullptr, p.sealed.data(), p.sealed.size(),
                                                 p.public_key.data(), p.public_key.size(), p.nonce.data(),
                                                 key.data()) != 0) {
    return absl::PermissionDeniedError("sealed key: wrong passphrase or tampered file");
  }
  std::unique_ptr<SealedKey> out(new SealedKey());
  out->secret_key_ = base::SecretBytes(crypto_sign_SECRETKEYBYTES);
  std::array<uint8_t, 32> derived_public{};
  crypto_sign_seed_keypair(derived_public.data(), out->secret_key_.data(), seed.data());
  if (sodium_memcmp(derived_public.data(), p.public_key.data(), 32) != 0) {
    return absl::PermissionDeniedError("sealed key: the sealed seed does not match the stored public key");
  }
  out->public_key_ = p.public_key;
  return out;
}

std::array<uint8_t, 64> SealedKey::Sign(std::span<const uint8_t> message) const {
  std::array<uint8_t, 64> sig{};
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_key_.data());
  return sig;
}

}  // namespace ringfence::quorum

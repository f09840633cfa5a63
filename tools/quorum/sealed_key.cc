#include "tools/quorum/sealed_key.h"

#include <sodium.h>

#include <charconv>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

namespace ringfence::quorum {
namespace {

// File layout: one "name=value" per line, these names exactly once each, in this order.
constexpr const char* kFields[] = {"format", "public_key", "opslimit", "memlimit", "salt", "nonce", "sealed_seed"};

void EnsureSodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) std::abort();
  });
}

std::string Hex(const unsigned char* data, size_t size) {
  std::string out(size * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, size);
  out.pop_back();
  return out;
}

absl::Status HexField(const std::string& text, std::string_view name, unsigned char* out, size_t size) {
  size_t bin_len = 0;
  if (text.size() != size * 2 ||
      sodium_hex2bin(out, size, text.data(), text.size(), nullptr, &bin_len, nullptr) != 0 ||
      bin_len != size) {
    return absl::InvalidArgumentError(std::string("sealed key: field '") + std::string(name) + "' must be " +
                                      std::to_string(size * 2) + " hex characters");
  }
  for (char c : text) {
    if (c >= 'A' && c <= 'F') {
      return absl::InvalidArgumentError(std::string("sealed key: field '") + std::string(name) + "' must be lowercase hex");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> U64Field(const std::string& text, std::string_view name) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty() || (text.size() > 1 && text[0] == '0')) {
    return absl::InvalidArgumentError(std::string("sealed key: field '") + std::string(name) + "' must be a decimal integer");
  }
  return v;
}

struct Parsed {
  std::array<uint8_t, 32> public_key{};
  KdfCost cost;
  std::array<uint8_t, crypto_pwhash_SALTBYTES> salt{};
  std::array<uint8_t, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES> nonce{};
  std::array<uint8_t, 32 + crypto_aead_xchacha20poly1305_ietf_ABYTES> sealed{};
};

absl::StatusOr<Parsed> Parse(std::string_view text) {
  if (text.size() > 4096) return absl::InvalidArgumentError("sealed key: file larger than 4096 bytes");
  std::vector<std::string> values;
  size_t pos = 0;
  for (const char* name : kFields) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) {
      return absl::InvalidArgumentError(std::string("sealed key: missing line '") + name + "'");
    }
    std::string_view line = text.substr(pos, end - pos);
    std::string prefix = std::string(name) + "=";
    if (line.substr(0, prefix.size()) != prefix) {
      return absl::InvalidArgumentError(std::string("sealed key: expected line '") + name + "=...' at line " +
                                        std::to_string(values.size() + 1));
    }
    values.emplace_back(line.substr(prefix.size()));
    pos = end + 1;
  }
  if (pos != text.size()) return absl::InvalidArgumentError("sealed key: trailing data after 'sealed_seed'");
  if (values[0] != kSealedKeyMagic) {
    return absl::InvalidArgumentError(std::string("sealed key: field 'format' must be '") + kSealedKeyMagic + "'");
  }
  Parsed p;
  if (auto s = HexField(values[1], "public_key", p.public_key.data(), p.public_key.size()); !s.ok()) return s;
  auto ops = U64Field(values[2], "opslimit");
  if (!ops.ok()) return ops.status();
  auto mem = U64Field(values[3], "memlimit");
  if (!mem.ok()) return mem.status();
  if (*ops < crypto_pwhash_OPSLIMIT_MIN || *ops > 64) {
    return absl::InvalidArgumentError("sealed key: field 'opslimit' out of range");
  }
  if (*mem < crypto_pwhash_MEMLIMIT_MIN || *mem > (4ull << 30)) {
    return absl::InvalidArgumentError("sealed key: field 'memlimit' out of range");
  }
  p.cost = {*ops, *mem};
  if (auto s = HexField(values[4], "salt", p.salt.data(), p.salt.size()); !s.ok()) return s;
  if (auto s = HexField(values[5], "nonce", p.nonce.data(), p.nonce.size()); !s.ok()) return s;
  if (auto s = HexField(values[6], "sealed_seed", p.sealed.data(), p.sealed.size()); !s.ok()) return s;
  return p;
}

// Derives the sealing key into sodium_malloc'ed memory (caller frees with sodium_free).
absl::StatusOr<unsigned char*> DeriveKey(std::string_view passphrase, const uint8_t* salt, const KdfCost& cost) {
  auto* key = static_cast<unsigned char*>(sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES));
  if (key == nullptr) return absl::InternalError("sealed key: out of secure memory");
  if (crypto_pwhash(key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES, passphrase.data(), passphrase.size(), salt,
                    cost.opslimit, cost.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    sodium_free(key);
    return absl::InternalError("sealed key: Argon2id failed (out of memory?)");
  }
  return key;
}

}  // namespace

absl::StatusOr<std::string> SealedKey::Generate(std::string_view passphrase, const KdfCost& cost,
                                                std::array<uint8_t, 32>* public_key) {
  EnsureSodium();
  if (passphrase.size() < kMinPassphraseBytes) {
    return absl::InvalidArgumentError("passphrase must be at least " + std::to_string(kMinPassphraseBytes) + " bytes");
  }
  Parsed p;
  p.cost = cost;
  auto* sk = static_cast<unsigned char*>(sodium_malloc(crypto_sign_SECRETKEYBYTES));
  if (sk == nullptr) return absl::InternalError("sealed key: out of secure memory");
  crypto_sign_keypair(p.public_key.data(), sk);
  randombytes_buf(p.salt.data(), p.salt.size());
  randombytes_buf(p.nonce.data(), p.nonce.size());
  auto key = DeriveKey(passphrase, p.salt.data(), cost);
  if (!key.ok()) {
    sodium_free(sk);
    return key.status();
  }
  // Only the 32-byte seed is sealed; the public half is recomputed on open and bound as AD.
  crypto_aead_xchacha20poly1305_ietf_encrypt(p.sealed.data(), nullptr, sk, 32, p.public_key.data(),
                                             p.public_key.size(), nullptr, p.nonce.data(), *key);
  sodium_free(*key);
  sodium_free(sk);
  *public_key = p.public_key;
  std::ostringstream out;
  out << "format=" << kSealedKeyMagic << "\n"
      << "public_key=" << Hex(p.public_key.data(), 32) << "\n"
      << "opslimit=" << p.cost.opslimit << "\n"
      << "memlimit=" << p.cost.memlimit << "\n"
      << "salt=" << Hex(p.salt.data(), p.salt.size()) << "\n"
      << "nonce=" << Hex(p.nonce.data(), p.nonce.size()) << "\n"
      << "sealed_seed=" << Hex(p.sealed.data(), p.sealed.size()) << "\n";
  return out.str();
}

absl::StatusOr<std::array<uint8_t, 32>> SealedKey::PublicKeyOf(std::string_view file_text) {
  EnsureSodium();
  auto p = Parse(file_text);
  if (!p.ok()) return p.status();
  return p->public_key;
}

absl::StatusOr<std::unique_ptr<SealedKey>> SealedKey::Open(std::string_view file_text, std::string_view passphrase) {
  EnsureSodium();
  auto p = Parse(file_text);
  if (!p.ok()) return p.status();
  auto key = DeriveKey(passphrase, p->salt.data(), p->cost);
  if (!key.ok()) return key.status();
  auto* seed = static_cast<unsigned char*>(sodium_malloc(32));
  if (seed == nullptr) {
    sodium_free(*key);
    return absl::InternalError("sealed key: out of secure memory");
  }
  int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(seed, nullptr, nullptr, p->sealed.data(), p->sealed.size(),
                                                      p->public_key.data(), p->public_key.size(), p->nonce.data(), *key);
  sodium_free(*key);
  if (rc != 0) {
    sodium_free(seed);
    return absl::PermissionDeniedError("sealed key: wrong passphrase or tampered file");
  }
  std::unique_ptr<SealedKey> out(new SealedKey());
  out->secret_key_ = static_cast<unsigned char*>(sodium_malloc(crypto_sign_SECRETKEYBYTES));
  if (out->secret_key_ == nullptr) {
    sodium_free(seed);
    return absl::InternalError("sealed key: out of secure memory");
  }
  std::array<uint8_t, 32> derived_public{};
  crypto_sign_seed_keypair(derived_public.data(), out->secret_key_, seed);
  sodium_free(seed);
  if (sodium_memcmp(derived_public.data(), p->public_key.data(), 32) != 0) {
    return absl::PermissionDeniedError("sealed key: the sealed seed does not match the stored public key");
  }
  out->public_key_ = p->public_key;
  return out;
}

SealedKey::~SealedKey() {
  if (secret_key_ != nullptr) sodium_free(secret_key_);  // sodium_free wipes before freeing
}

std::array<uint8_t, 64> SealedKey::Sign(std::span<const uint8_t> message) const {
  std::array<uint8_t, 64> sig{};
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_key_);
  return sig;
}

}  // namespace ringfence::quorum

#include "hsm_sim/crypto.h"

#include <cstring>
#include <mutex>

#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>

namespace ringfence::hsm_sim {
namespace {

secp256k1_context* g_secp_ctx = nullptr;
bool g_crypto_ok = false;
std::once_flag g_crypto_once;

void InitOnce() {
  if (sodium_init() < 0) return;
  secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  if (ctx == nullptr) return;
  // A library loaded into someone else's process must not abort it: an illegal argument
  // makes the libsecp256k1 call return 0, which every caller here treats as failure.
  secp256k1_context_set_illegal_callback(
      ctx, [](const char*, void*) {}, nullptr);
  // Randomising the context blinds the signing multiplication against side channels.
  uint8_t seed[32];
  randombytes_buf(seed, sizeof(seed));
  const int ok = secp256k1_context_randomize(ctx, seed);
  sodium_memzero(seed, sizeof(seed));
  if (!ok) {
    secp256k1_context_destroy(ctx);
    return;
  }
  // The context lives for the rest of the process: signing threads may still hold it while
  // the library is being unloaded, and it holds no secrets.
  g_secp_ctx = ctx;
  g_crypto_ok = true;
}

const secp256k1_context* Ctx() { return g_secp_ctx; }

// libsodium is handed a valid pointer even for an empty message.
const uint8_t* NonNull(std::span<const uint8_t> s) {
  static const uint8_t kEmpty = 0;
  return s.data() == nullptr ? &kEmpty : s.data();
}

constexpr uint8_t kSecp256k1Oid[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a};
constexpr uint8_t kEd25519Oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
constexpr uint8_t kEd25519GnuOid[] = {0x06, 0x09, 0x2b, 0x06, 0x01, 0x04,
                                      0x01, 0xda, 0x47, 0x0f, 0x01};
constexpr uint8_t kEdwards25519String[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
                                           'd',  's',  '2', '5', '5', '1', '9'};

template <size_t N>
bool SpanEquals(std::span<const uint8_t> a, const uint8_t (&b)[N]) {
  return a.size() == N && std::memcmp(a.data(), b, N) == 0;
}

// Reads one strict-DER INTEGER at `der[*pos]` into a 32-byte big-endian field.
bool ReadDerInteger(std::span<const uint8_t> der, size_t* pos, uint8_t out[32]) {
  if (*pos + 2 > der.size() || der[*pos] != 0x02) return false;
  const size_t len = der[*pos + 1];
  // Long-form lengths are never minimal for integers this small.
  if (len == 0 || len >= 0x80) return false;
  const size_t start = *pos + 2;
  if (start + len > der.size()) return false;
  const uint8_t* v = der.data() + start;
  if (v[0] & 0x80) return false;                                // negative
  if (len > 1 && v[0] == 0x00 && !(v[1] & 0x80)) return false;  // needless leading zero
  size_t skip = (len > 1 && v[0] == 0x00) ? 1 : 0;
  const size_t digits = len - skip;
  if (digits > 32) return false;
  std::memset(out, 0, 32);
  std::memcpy(out + (32 - digits), v + skip, digits);
  *pos = start + len;
  return true;
}

}  // namespace

bool InitCrypto() {
  std::call_once(g_crypto_once, InitOnce);
  return g_crypto_ok;
}

bool Secp256k1SecretValid(std::span<const uint8_t, kSecp256k1SecretSize> secret) {
  return secp256k1_ec_seckey_verify(Ctx(), secret.data()) == 1;
}

bool Secp256k1PublicKey(std::span<const uint8_t, kSecp256k1SecretSize> secret,
                        std::span<uint8_t, kSecp256k1UncompressedSize> out) {
  secp256k1_pubkey pub;
  if (!secp256k1_ec_pubkey_create(Ctx(), &pub, secret.data())) return false;
  size_t len = out.size();
  return secp256k1_ec_pubkey_serialize(Ctx(), out.data(), &len, &pub, SECP256K1_EC_UNCOMPRESSED) ==
             1 &&
         len == kSecp256k1UncompressedSize;
}

bool EcdsaSign(std::span<const uint8_t, kSecp256k1SecretSize> secret,
               std::span<const uint8_t, 32> digest, const uint8_t* extra_entropy,
               EcdsaSignature* out) {
  secp256k1_ecdsa_recoverable_signature sig;
  // libsecp256k1 always produces the low-S form and adjusts the recovery id to match.
  if (!secp256k1_ecdsa_sign_recoverable(Ctx(), &sig, digest.data(), secret.data(),
                                        secp256k1_nonce_function_rfc6979, extra_entropy)) {
    return false;
  }
  return secp256k1_ecdsa_recoverable_signature_serialize_compact(Ctx(), out->compact.data(),
                                                                 &out->recovery_id, &sig) == 1;
}

bool Rfc6979Nonce(std::span<const uint8_t, kSecp256k1SecretSize> secret,
                  std::span<const uint8_t, 32> digest, unsigned attempt,
                  std::span<uint8_t, 32> out) {
  return secp256k1_nonce_function_rfc6979(out.data(), digest.data(), secret.data(), nullptr,
                                          nullptr, attempt) == 1;
}

bool EcdsaVerifyCompact(std::span<const uint8_t> public_key, std::span<const uint8_t> digest32,
                        std::span<const uint8_t> signature) {
  if (digest32.size() != 32 || signature.size() != kEcdsaCompactSize) return false;
  // libsecp256k1 aborts on a NULL key pointer, so lengths are checked here first.
  if (public_key.size() != 33 && public_key.size() != kSecp256k1UncompressedSize) return false;
  secp256k1_pubkey pub;
  if (!secp256k1_ec_pubkey_parse(Ctx(), &pub, public_key.data(), public_key.size())) {
    return false;
  }
  secp256k1_ecdsa_signature sig;
  // parse_compact rejects r or s >= n; verify rejects r = 0, s = 0 and s > n/2.
  if (!secp256k1_ecdsa_signature_parse_compact(Ctx(), &sig, signature.data())) return false;
  return secp256k1_ecdsa_verify(Ctx(), &sig, digest32.data(), &pub) == 1;
}

std::optional<std::array<uint8_t, kEcdsaCompactSize>> ParseDerSignature(
    std::span<const uint8_t> der) {
  if (der.size() < 8 || der[0] != 0x30) return std::nullopt;
  const size_t body = der[1];
  if (body >= 0x80 || body + 2 != der.size()) return std::nullopt;
  std::array<uint8_t, kEcdsaCompactSize> out{};
  size_t pos = 2;
  if (!ReadDerInteger(der, &pos, out.data())) return std::nullopt;
  if (!ReadDerInteger(der, &pos, out.data() + 32)) return std::nullopt;
  if (pos != der.size()) return std::nullopt;
  return out;
}

void Ed25519KeyPair(std::span<const uint8_t, kEd25519SeedSize> seed,
                    std::span<uint8_t, kEd25519PublicSize> public_key,
                    std::span<uint8_t, kEd25519SecretSize> secret) {
  crypto_sign_ed25519_seed_keypair(public_key.data(), secret.data(), seed.data());
}

void Ed25519Sign(std::span<const uint8_t, kEd25519SecretSize> secret,
                 std::span<const uint8_t> message, std::span<uint8_t, kEd25519SignatureSize> out) {
  crypto_sign_ed25519_detached(out.data(), nullptr, NonNull(message), message.size(),
                               secret.data());
}

bool Ed25519Verify(std::span<const uint8_t> public_key, std::span<const uint8_t> message,
                   std::span<const uint8_t> signature) {
  if (public_key.size() != kEd25519PublicSize || signature.size() != kEd25519SignatureSize) {
    return false;
  }
  return crypto_sign_ed25519_verify_detached(signature.data(), NonNull(message), message.size(),
                                             public_key.data()) == 0;
}

std::optional<Curve> CurveFromEcParams(std::span<const uint8_t> ec_params) {
  if (SpanEquals(ec_params, kSecp256k1Oid)) return Curve::kSecp256k1;
  if (SpanEquals(ec_params, kEd25519Oid) || SpanEquals(ec_params, kEd25519GnuOid) ||
      SpanEquals(ec_params, kEdwards25519String)) {
    return Curve::kEd25519;
  }
  return std::nullopt;
}

std::vector<uint8_t> Secp256k1EcParams() {
  return std::vector<uint8_t>(std::begin(kSecp256k1Oid), std::end(kSecp256k1Oid));
}

std::vector<uint8_t> EncodeEcPoint(std::span<const uint8_t> point) {
  // Points here are 32 or 65 bytes, so the short length form always applies.
  std::vector<uint8_t> out;
  out.reserve(point.size() + 2);
  out.push_back(0x04);
  out.push_back(static_cast<uint8_t>(point.size()));
  out.insert(out.end(), point.begin(), point.end());
  return out;
}

std::vector<uint8_t> Seal(std::span<const uint8_t, kSealKeySize> key,
                          std::span<const uint8_t> plaintext, std::span<const uint8_t> ad) {
  std::vector<uint8_t> out(plaintext.size() + kSealOverhead);
  uint8_t* nonce = out.data();
  randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      out.data() + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &written, plaintext.data(),
      plaintext.size(), ad.data(), ad.size(), nullptr, nonce, key.data());
  return out;
}

bool Open(std::span<const uint8_t, kSealKeySize> key, std::span<const uint8_t> sealed,
          std::span<const uint8_t> ad, std::span<uint8_t> out) {
  if (sealed.size() < kSealOverhead || out.size() != sealed.size() - kSealOverhead) return false;
  unsigned long long written = 0;
  const uint8_t* nonce = sealed.data();
  return crypto_aead_xchacha20poly1305_ietf_decrypt(
             out.data(), &written, nullptr,
             sealed.data() + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
             sealed.size() - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, ad.data(), ad.size(),
             nonce, key.data()) == 0 &&
         written == out.size();
}

bool DerivePinKey(std::span<const uint8_t> pin, std::span<const uint8_t, kKdfSaltSize> salt,
                  KdfCost cost, base::SecretBytes* out) {
  static_assert(kKdfSaltSize == crypto_pwhash_SALTBYTES);
  if (cost.opslimit < crypto_pwhash_OPSLIMIT_MIN || cost.opslimit > crypto_pwhash_OPSLIMIT_MAX ||
      cost.memlimit < crypto_pwhash_MEMLIMIT_MIN || cost.memlimit > crypto_pwhash_MEMLIMIT_MAX) {
    return false;
  }
  base::SecretBytes key(32);
  if (crypto_pwhash(key.data(), key.size(), reinterpret_cast<const char*>(pin.data()), pin.size(),
                    salt.data(), cost.opslimit, cost.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return false;
  }
  *out = std::move(key);
  return true;
}

}  // namespace ringfence::hsm_sim

// An approver's Ed25519 key sealed at rest under a passphrase.
//
// The file holds the 32-byte Ed25519 seed encrypted with XChaCha20-Poly1305 under a key derived
// from the passphrase with Argon2id (libsodium crypto_pwhash). The public key is stored in the
// clear beside it and is bound to the ciphertext as associated data, so a file whose public key
// was swapped fails to open. The format is written up in docs/quorum.md.
//
// SealedKey owns its unsealed secret key in a base::SecretBytes (sodium_malloc'ed, wiped and
// freed on destruction), as are the sealing key and seed while it is opened. Every function
// throws std::bad_alloc if that guarded memory cannot be allocated. Not thread-safe; one owner.
#ifndef RINGFENCE_TOOLS_QUORUM_SEALED_KEY_H_
#define RINGFENCE_TOOLS_QUORUM_SEALED_KEY_H_

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/secret.h"

namespace ringfence::quorum {

inline constexpr char kSealedKeyMagic[] = "ringfence-approver-key/1";
inline constexpr size_t kMinPassphraseBytes = 12;

// Argon2id cost. Files record the cost they were sealed with.
struct KdfCost {
  uint64_t opslimit = 3;               // libsodium's "moderate" passes
  uint64_t memlimit = 256ull << 20;    // bytes
};

class SealedKey {
 public:
  // Generates a new Ed25519 key and returns the sealed file text. InvalidArgument when the
  // passphrase is shorter than kMinPassphraseBytes; Internal if Argon2id fails (out of memory
  // for the cost asked). The caller keeps and wipes `passphrase`.
  static absl::StatusOr<std::string> Generate(std::string_view passphrase, const KdfCost& cost,
                                              std::array<uint8_t, 32>* public_key);

  // Opens sealed file text. InvalidArgument naming the field for a malformed file;
  // PermissionDenied for a wrong passphrase or a tampered file.
  static absl::StatusOr<std::unique_ptr<SealedKey>> Open(std::string_view file_text,
                                                         std::string_view passphrase);

  // Reads only the public key of sealed file text, without the passphrase.
  static absl::StatusOr<std::array<uint8_t, 32>> PublicKeyOf(std::string_view file_text);

  SealedKey(const SealedKey&) = delete;
  SealedKey& operator=(const SealedKey&) = delete;

  const std::array<uint8_t, 32>& public_key() const { return public_key_; }
  // Pure Ed25519 signature over `message`.
  std::array<uint8_t, 64> Sign(std::span<const uint8_t> message) const;

 private:
  SealedKey() = default;
  std::array<uint8_t, 32> public_key_{};
  base::SecretBytes secret_key_;  // libsodium's 64 bytes: seed || public key
};

}  // namespace ringfence::quorum

#endif  // RINGFENCE_TOOLS_QUORUM_SEALED_KEY_H_

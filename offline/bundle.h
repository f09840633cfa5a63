// The files that cross the air gap to and from the offline signer (docs/signing-bundle.md):
// signing bundles (custodyd -> offline signer), signed bundles and cold-key files (offline
// signer -> custodyd). One reader and one writer for each, and the digests over them.
//
// Readers take a file's bytes as outside input: size limit first, then the strict JSON parser,
// exact keys, exact formats, the embedded request canonical, the digest recomputed. Every
// refusal is InvalidArgument naming the field and the rule. Readers check the form and the
// digests only; the identity signature is checked by VerifyIdentitySignature against the key
// the caller trusts (never the key a file names), and what the transaction does is checked by
// the signer (approvals, intent, segregation) and by custodyd (that it is what it exported).
//
// Pure functions; thread-safe.
#ifndef RINGFENCE_OFFLINE_BUNDLE_H_
#define RINGFENCE_OFFLINE_BUNDLE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/digest.h"
#include "proto/signer_tx.pb.h"

namespace ringfence::offline {

inline constexpr char kSigningBundleFormat[] = "ringfence/signing-bundle/v1";
inline constexpr char kSignedBundleFormat[] = "ringfence/signed-bundle/v1";
inline constexpr char kColdKeysFormat[] = "ringfence/cold-keys/v1";

inline constexpr size_t kMaxBundleFileBytes = size_t{16} << 20;
inline constexpr size_t kMaxColdKeysFileBytes = size_t{4} << 20;
// The embedded request and the signed transaction (signerd's largest valid request is
// 2,151,085 bytes).
inline constexpr size_t kMaxTransactionBytes = size_t{4} << 20;
inline constexpr size_t kMaxColdKeys = 10000;
inline constexpr size_t kMaxBundleIdBytes = 128;
inline constexpr size_t kMaxKeyIdBytes = 64;
inline constexpr size_t kMaxAssetBytes = 64;
inline constexpr uint64_t kMaxLogSequence = uint64_t{1} << 53;

using PublicKey = std::array<uint8_t, 33>;    // a cold key: compressed secp256k1
using IdentityKey = std::array<uint8_t, 32>;  // the offline signer's identity: Ed25519
using Signature = std::array<uint8_t, 64>;    // Ed25519 by the identity key

struct SigningBundle {
  std::string bundle_id;
  std::string kind;           // policy::RequestKindName text
  std::string source_wallet;  // what custodyd claims; the signer checks it against its keys
  int64_t created_at = 0;
  signer::v1::SignTransactionRequest request;
};

struct SignedBundle {
  std::string bundle_id;
  base::Digest32 bundle_digest{};
  std::string signed_tx;  // raw bytes
  std::string txid;
  uint64_t log_sequence = 0;
  IdentityKey signer_key{};
  Signature signature{};
};

struct ColdKey {
  std::string key_id;
  PublicKey public_key{};
  std::string wallet_id;
  std::string asset;
  std::string owner_class;  // "client" | "house"
  std::string tier;         // "hot" | "cold"
};

struct ColdKeys {
  int64_t created_at = 0;
  std::vector<ColdKey> keys;
  IdentityKey signer_key{};
  Signature signature{};
};

// Digests (docs/signing-bundle.md). InvalidArgument naming the field when a field cannot be
// encoded (empty or too long text, a time out of range, a request that is not canonical).
absl::StatusOr<base::Digest32> SigningBundleDigest(const SigningBundle& bundle);
absl::StatusOr<base::Digest32> SignedBundleDigest(const SignedBundle& signed_bundle);
absl::StatusOr<base::Digest32> ColdKeysDigest(const ColdKeys& cold_keys);

// Writers: the file's bytes (compact JSON). Errors as the digests'; each also checks what its
// reader checks, so a written file always reads back.
absl::StatusOr<std::string> WriteSigningBundle(const SigningBundle& bundle);
absl::StatusOr<std::string> WriteSignedBundle(const SignedBundle& signed_bundle);
absl::StatusOr<std::string> WriteColdKeys(const ColdKeys& cold_keys);

// Readers of a file's bytes. A signing bundle whose digest differs from its fields is refused
// ("digest: does not match the bundle's fields"); `digest_out`, when given, receives it.
absl::StatusOr<SigningBundle> ReadSigningBundle(std::string_view file, base::Digest32* digest_out = nullptr);
absl::StatusOr<SignedBundle> ReadSignedBundle(std::string_view file);
absl::StatusOr<ColdKeys> ReadColdKeys(std::string_view file);

// Checks `signature` over `digest` by `trusted_key` (the identity key the caller holds in its
// own configuration), and that the file names that same key. PermissionDenied when either
// fails.
absl::Status VerifyIdentitySignature(const base::Digest32& digest, const IdentityKey& named_key,
                                     const Signature& signature, const IdentityKey& trusted_key);

}  // namespace ringfence::offline

#endif  // RINGFENCE_OFFLINE_BUNDLE_H_

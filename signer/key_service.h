// KeyService: the signer's key operations on top of one token and the store.
//
// Keys are generated inside the token (CKA_ID = 16 random bytes, shown as 32 hex characters,
// the key id), registered in the store and logged in the same transaction. Signing methods
// are for signerd's own request checks (transaction signing builds on them); no RPC signs a
// caller's digest. Each signature is normalised and verified (Pkcs11Token) and then logged
// before it is returned, so a signature that is not in the log is never handed out.
//
// Borrows the token and the store, which must outlive it. Thread-safe.
#ifndef RINGFENCE_SIGNER_KEY_SERVICE_H_
#define RINGFENCE_SIGNER_KEY_SERVICE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "signer/crypto.h"
#include "signer/pkcs11_client.h"
#include "signer/request_limits.h"
#include "signer/store.h"

namespace ringfence::signer {

using Clock = std::function<int64_t()>;  // Unix milliseconds.
Clock SystemClock();

// InvalidArgument unless `key_id` is 32 lowercase hex characters.
absl::Status ValidateKeyId(const std::string& key_id);
// InvalidArgument unless `purpose` is 1..kMaxPurposeBytes printable ASCII characters.
absl::Status ValidatePurpose(const std::string& purpose);
// InvalidArgument naming the field ("binding.wallet_id: ...") unless `wallet_id` is
// 1..kMaxWalletIdBytes of [A-Za-z0-9:._-]: custodyd's id alphabet, since its wallet ids are
// "<asset id>:client-hot" and the like, and its asset ids may be upper case ("BTC").
absl::Status ValidateWalletId(std::string_view field, const std::string& wallet_id);
// InvalidArgument naming the first bad field ("binding.wallet_id", "binding.asset") unless the
// wallet id is valid and the asset is an asset id as signerd's transaction config accepts one
// (1..kMaxAssetBytes bytes), so that a binding can name every asset signerd can sign for.
absl::Status ValidateWalletBinding(const WalletBinding& binding);
// FailedPrecondition when a key of `store` is bound to binding.wallet_id with another asset,
// owner class or tier: one wallet id means one wallet everywhere, which the segregation rules
// of SignTransaction rely on. The store's error if it cannot be read.
absl::Status CheckSameWallet(SignerStore& store, const WalletBinding& binding);

class KeyService {
 public:
  KeyService(Pkcs11Token* token, SignerStore* store, Clock clock = SystemClock())
      : token_(token), store_(store), clock_(std::move(clock)) {}

  // Makes a key bound to `binding` for good. Errors: InvalidArgument for a bad purpose or
  // binding, FailedPrecondition when another key binds the same wallet id differently
  // (CheckSameWallet; nothing is generated); the token's error if generation fails.
  absl::StatusOr<KeyRecord> CreateKey(KeyType type, const std::string& purpose,
                                      const WalletBinding& binding);
  // InvalidArgument for a malformed id, NotFound for an unknown one.
  absl::StatusOr<KeyRecord> GetKey(const std::string& key_id);
  // Keys matching the filters (nullopt / empty match all; a wallet id matches only keys bound
  // to that wallet), in creation order.
  absl::StatusOr<std::vector<KeyRecord>> ListKeys(std::optional<KeyType> type,
                                                  const std::string& purpose,
                                                  const std::string& wallet_id = "");

  // Signs a 32-byte digest with a secp256k1 key and logs a "signature" entry whose fields are
  // `context` plus digest, signature and, with RecoveryId::kCompute, recovery_id.
  // FailedPrecondition if the key is not secp256k1; the token's error (the entry is not
  // written) if signing fails. The signature is low S and checked against the key either way
  // (chain::FinishSignature): kSkip verifies it, for a chain that needs no recovery id
  // (Bitcoin); kCompute finds the id with one recovery that is that check too (Ethereum).
  absl::StatusOr<chain::FinishedSignature> SignDigest(const std::string& key_id,
                                                      std::span<const uint8_t, 32> digest,
                                                      const LogFields& context, chain::RecoveryId recovery);
  // Same for an Ed25519 key over `message`; the entry holds the message's SHA-256.
  absl::StatusOr<std::array<uint8_t, 64>> SignMessage(const std::string& key_id,
                                                      std::span<const uint8_t> message,
                                                      const LogFields& context);

  SignerStore& store() { return *store_; }

 private:
  absl::StatusOr<KeyRecord> KeyOfType(const std::string& key_id, KeyType type);

  Pkcs11Token* token_;
  SignerStore* store_;
  Clock clock_;
};

}  // namespace ringfence::signer

#endif  // RINGFENCE_SIGNER_KEY_SERVICE_H_

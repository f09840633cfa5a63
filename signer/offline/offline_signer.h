// The offline signer: `signerd --offline --config COLD.toml <command>`, the same program as the
// online signer run on a machine no network reaches, for the cold wallets. It opens the token,
// its database (locked against a second signerd) and, to sign, its transaction config and
// approver registry, and it opens no socket. What it reads and writes are the air-gap files of
// docs/signing-bundle.md (offline/bundle.h):
//
//   identity     the signer's identity key: an Ed25519 key made in the token once (purpose
//                "offline-identity", bound to the inert wallet "offline-identity" so that it can
//                never be taken for a wallet key); its public key is what custodyd trusts.
//   create-keys  N secp256k1 keys bound to one wallet, made in the token, written as a cold-key
//                file signed by the identity key.
//   sign         a signing bundle in, a signed bundle out: the bundle's form and digest, then
//                its claimed source wallet against the wallet its keys are bound to, then exactly
//                the checks of online signing (TransactionSigner: decode, intent, segregation,
//                approvals v2 against this signer's own registry, replay state, the sign log),
//                and only then the signature; the answer is signed by the identity key. A
//                bundle signed before is refused unless --again asks for the same file anew.
//
// Not thread-safe; one command per process.
#ifndef RINGFENCE_SIGNER_OFFLINE_OFFLINE_SIGNER_H_
#define RINGFENCE_SIGNER_OFFLINE_OFFLINE_SIGNER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "offline/bundle.h"
#include "signer/config.h"
#include "signer/key_service.h"
#include "signer/pkcs11_client.h"
#include "signer/store.h"

namespace ringfence::signer::offline {

inline constexpr char kIdentityPurpose[] = "offline-identity";
inline constexpr char kIdentityWallet[] = "offline-identity";
inline constexpr size_t kMaxKeysPerFile = ringfence::offline::kMaxColdKeys;

class OfflineSigner {
 public:
  // Opens the token and the database of `config`. FailedPrecondition while another signerd
  // holds the database; the token's or the database's error otherwise.
  static absl::StatusOr<std::unique_ptr<OfflineSigner>> Open(const Config& config);
  ~OfflineSigner();
  OfflineSigner(const OfflineSigner&) = delete;
  OfflineSigner& operator=(const OfflineSigner&) = delete;

  // The identity key's public key. With `create`, makes it if there is none; without, NotFound
  // when there is none. FailedPrecondition if the database holds more than one.
  absl::StatusOr<ringfence::offline::IdentityKey> Identity(bool create);

  // Makes `count` (1..kMaxKeysPerFile) keys bound to `binding` and returns the cold-key file.
  // Needs the identity. Errors: InvalidArgument for the count or the binding,
  // FailedPrecondition for a wallet id bound elsewhere differently, the token's.
  absl::StatusOr<std::string> CreateKeys(const WalletBinding& binding, size_t count);

  // Signs the transaction of a signing bundle file; returns the signed bundle file. Refusals:
  // InvalidArgument (the file), FailedPrecondition / PermissionDenied "<rule>: ..." as online
  // signing (docs/sign_transaction.md) or "source_wallet: ..." when the bundle claims another
  // wallet than its keys' binding. Needs [transactions] in the config and the identity.
  // A bundle whose request this signer already signed is refused (FailedPrecondition
  // "bundle_already_signed: ...", nothing new is signed) unless `again`: then the same
  // transaction is written again (signerd's replay rule: the same bytes, never a second spend),
  // for a signed file lost on its way back.
  absl::StatusOr<std::string> Sign(std::string_view bundle_file, bool again = false);

 private:
  OfflineSigner() = default;
  // The identity key's id and public key (Identity(false)'s lookup).
  absl::StatusOr<KeyRecord> IdentityRecord();
  absl::StatusOr<ringfence::offline::Signature> SignWithIdentity(const base::Digest32& digest,
                                                                 const std::string& what);

  Config config_;
  std::shared_ptr<Pkcs11Module> module_;
  std::unique_ptr<Pkcs11Token> token_;
  int database_lock_fd_ = -1;
  std::unique_ptr<SignerStore> store_;
  std::unique_ptr<KeyService> keys_;
};

}  // namespace ringfence::signer::offline

#endif  // RINGFENCE_SIGNER_OFFLINE_OFFLINE_SIGNER_H_

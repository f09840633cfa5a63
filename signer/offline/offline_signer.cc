#include "signer/offline/offline_signer.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/text.h"
#include "chain/ecdsa.h"
#include "signer/pin.h"
#include "signer/server.h"
#include "signer/tx/service.h"
#include "signer/tx/tx_signer.h"

namespace ringfence::signer::offline {
namespace {

namespace air = ringfence::offline;

absl::Status Annotate(const absl::Status& s, std::string_view prefix) {
  return absl::Status(s.code(), base::Cat(prefix, s.message()));
}

absl::StatusOr<base::SecretBytes> ReadConfiguredPin(const Pkcs11Config& config) {
  if (!config.pin_file.empty()) return ReadPinFile(config.pin_file);
  return ReadPinEnv(config.pin_env);
}

// The key that signs a bundle's transaction: the first input's (Bitcoin) or the sender's
// (Ethereum). TransactionSigner checks that every other input belongs to the same wallet.
const std::string& SigningKeyOf(const v1::SignTransactionRequest& request) {
  if (request.chain() == "bitcoin" && !request.bitcoin_inputs().empty()) return request.bitcoin_inputs(0).key_id();
  return request.ethereum_key_id();
}

}  // namespace

absl::StatusOr<std::unique_ptr<OfflineSigner>> OfflineSigner::Open(const Config& config) {
  std::unique_ptr<OfflineSigner> s(new OfflineSigner());
  s->config_ = config;
  absl::StatusOr<std::shared_ptr<Pkcs11Module>> module = Pkcs11Module::Load(config.pkcs11.module);
  if (!module.ok()) return Annotate(module.status(), "pkcs11: ");
  s->module_ = *module;
  absl::StatusOr<base::SecretBytes> pin = ReadConfiguredPin(config.pkcs11);
  if (!pin.ok()) return Annotate(pin.status(), "pkcs11: ");
  absl::StatusOr<std::unique_ptr<Pkcs11Token>> token =
      Pkcs11Token::Open(s->module_, config.pkcs11.token_label, *std::move(pin), config.pkcs11.session_pool_size);
  if (!token.ok()) return Annotate(token.status(), "pkcs11: ");
  s->token_ = *std::move(token);
  RF_ASSIGN_OR_RETURN(s->database_lock_fd_, LockDatabase(config.server.database));
  RF_ASSIGN_OR_RETURN(s->store_, SignerStore::Open(config.server.database));
  s->keys_ = std::make_unique<KeyService>(s->token_.get(), s->store_.get());
  return s;
}

OfflineSigner::~OfflineSigner() {
  keys_.reset();
  store_.reset();
  if (database_lock_fd_ >= 0) close(database_lock_fd_);
}

absl::StatusOr<KeyRecord> OfflineSigner::IdentityRecord() {
  RF_ASSIGN_OR_RETURN(std::vector<KeyRecord> found, keys_->ListKeys(KeyType::kEd25519, kIdentityPurpose));
  if (found.empty()) {
    return absl::NotFoundError("this offline signer has no identity key yet: run `signerd --offline --config FILE identity --create`");
  }
  if (found.size() > 1) {
    return absl::FailedPreconditionError(base::Cat("the database holds ", found.size(),
                                                   " identity keys; exactly one is expected"));
  }
  if (found[0].public_key.size() != air::IdentityKey().size()) {
    return absl::InternalError(base::Cat("the identity key's public key has ", found[0].public_key.size(),
                                         " bytes, not 32"));
  }
  return found[0];
}

absl::StatusOr<air::IdentityKey> OfflineSigner::Identity(bool create) {
  absl::StatusOr<KeyRecord> record = IdentityRecord();
  if (!record.ok() && record.status().code() == absl::StatusCode::kNotFound && create) {
    // An inert binding: no transaction key is Ed25519, so this wallet can never pay anything.
    const WalletBinding binding{kIdentityWallet, "identity", OwnerClass::kHouse, Tier::kCold};
    record = keys_->CreateKey(KeyType::kEd25519, kIdentityPurpose, binding);
  }
  if (!record.ok()) return record.status();
  air::IdentityKey key;
  if (record->public_key.size() != key.size()) {
    return absl::InternalError(base::Cat("the identity key's public key has ", record->public_key.size(), " bytes, not 32"));
  }
  std::copy(record->public_key.begin(), record->public_key.end(), key.begin());
  return key;
}

absl::StatusOr<air::Signature> OfflineSigner::SignWithIdentity(const base::Digest32& digest, const std::string& what) {
  RF_ASSIGN_OR_RETURN(KeyRecord identity, IdentityRecord());
  LogFields context;
  context["offline_file"] = std::vector<uint8_t>(what.begin(), what.end());
  return keys_->SignMessage(identity.key_id, digest, context);
}

absl::StatusOr<std::string> OfflineSigner::CreateKeys(const WalletBinding& binding, size_t count) {
  if (count == 0 || count > kMaxKeysPerFile) {
    return absl::InvalidArgumentError(base::Cat("--count: must be 1 to ", kMaxKeysPerFile));
  }
  RF_RETURN_IF_ERROR(ValidateWalletBinding(binding));
  if (binding.wallet_id == kIdentityWallet) {
    return absl::InvalidArgumentError(base::Cat("binding.wallet_id: ", kIdentityWallet, " is the identity's"));
  }
  air::ColdKeys file;
  RF_ASSIGN_OR_RETURN(file.signer_key, Identity(/*create=*/false));
  file.created_at = static_cast<int64_t>(time(nullptr));
  for (size_t i = 0; i < count; ++i) {
    RF_ASSIGN_OR_RETURN(KeyRecord record, keys_->CreateKey(KeyType::kSecp256k1, "cold-key", binding));
    RF_ASSIGN_OR_RETURN(air::PublicKey compressed, chain::CompressPublicKey(record.public_key));
    file.keys.push_back({record.key_id, compressed, binding.wallet_id, binding.asset,
                         std::string(OwnerClassName(binding.owner_class)), std::string(TierName(binding.tier))});
  }
  RF_ASSIGN_OR_RETURN(base::Digest32 digest, air::ColdKeysDigest(file));
  RF_ASSIGN_OR_RETURN(file.signature, SignWithIdentity(digest, air::kColdKeysFormat));
  return air::WriteColdKeys(file);
}

absl::StatusOr<std::string> OfflineSigner::Sign(std::string_view bundle_file, bool again) {
  base::Digest32 bundle_digest;
  RF_ASSIGN_OR_RETURN(air::SigningBundle bundle, air::ReadSigningBundle(bundle_file, &bundle_digest));
  if (!config_.transactions.has_value()) {
    return absl::FailedPreconditionError("config: sign needs a [transactions] section (transaction config and approver registry)");
  }
  // The wallet the bundle claims must be the wallet its signing key is bound to here. The
  // approval digest never uses the claim: TransactionSigner takes the wallet from the bindings.
  const std::string& key_id = SigningKeyOf(bundle.request);
  absl::StatusOr<KeyRecord> key = keys_->GetKey(key_id);
  if (!key.ok()) {
    return absl::FailedPreconditionError(
        base::Cat("source_wallet: the bundle's signing key ", base::Clip(key_id), " is not a key of this signer (",
                  key.status().message(), ")"));
  }
  if (!key->binding.has_value() || key->binding->wallet_id != bundle.source_wallet) {
    return absl::FailedPreconditionError(base::Cat(
        "source_wallet: the bundle says ", base::Clip(bundle.source_wallet), " but its signing key is bound to ",
        key->binding.has_value() ? base::Clip(key->binding->wallet_id) : std::string("no wallet")));
  }
  air::SignedBundle answer;
  RF_ASSIGN_OR_RETURN(answer.signer_key, Identity(/*create=*/false));
  RF_ASSIGN_OR_RETURN(std::unique_ptr<tx::TransactionSigner> signer,
                      tx::TransactionSigner::Open(config_.transactions->config, token_.get(), store_.get()));
  RF_ASSIGN_OR_RETURN(tx::SignResult result, signer->Sign(tx::FromProto(bundle.request)));
  if (result.replayed && !again) {
    return absl::FailedPreconditionError(base::Cat(
        "bundle_already_signed: request ", base::Clip(bundle.bundle_id), " was signed before (transaction ",
        result.signed_tx.txid, "); nothing new is signed. Use --again to write the same signed transaction anew"));
  }
  answer.bundle_id = bundle.bundle_id;
  answer.bundle_digest = bundle_digest;
  answer.signed_tx.assign(result.signed_tx.bytes.begin(), result.signed_tx.bytes.end());
  answer.txid = result.signed_tx.txid;
  answer.log_sequence = result.log_sequence;
  RF_ASSIGN_OR_RETURN(base::Digest32 digest, air::SignedBundleDigest(answer));
  RF_ASSIGN_OR_RETURN(answer.signature, SignWithIdentity(digest, air::kSignedBundleFormat));
  return air::WriteSignedBundle(answer);
}

}  // namespace ringfence::signer::offline

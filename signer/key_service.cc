#include "signer/key_service.h"

#include <sodium.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "base/hex.h"
#include "base/status.h"
#include "base/text.h"
#include "chain/hashes.h"

namespace ringfence::signer {
namespace {

constexpr size_t kKeyIdBytes = 16;
static_assert(2 * kKeyIdBytes == kMaxKeyIdBytes, "a key id is its CKA_ID in hex");

absl::StatusOr<std::vector<uint8_t>> KeyIdBytes(const std::string& key_id) {
  RF_RETURN_IF_ERROR(ValidateKeyId(key_id));
  std::vector<uint8_t> out(kKeyIdBytes);
  RF_RETURN_IF_ERROR(base::HexDecodeInto(key_id, out, "key_id", base::HexCase::kLowerOnly));
  return out;
}

absl::Status CheckContext(const LogFields& context, std::initializer_list<const char*> reserved) {
  for (const char* name : reserved) {
    if (context.contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("log context field '", name, "' is reserved for the signature itself"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

Clock SystemClock() {
  return [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
}

absl::Status ValidateKeyId(const std::string& key_id) {
  bool ok = key_id.size() == 2 * kKeyIdBytes;
  for (char c : key_id) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key_id must be ", 2 * kKeyIdBytes, " lowercase hex characters (got ", key_id.size(),
        " characters)"));
  }
  return absl::OkStatus();
}

absl::Status ValidatePurpose(const std::string& purpose) {
  if (purpose.empty() || purpose.size() > kMaxPurposeBytes) {
    return absl::InvalidArgumentError(absl::StrCat("purpose must be 1 to ", kMaxPurposeBytes,
                                                   " characters (got ", purpose.size(), ")"));
  }
  for (char c : purpose) {
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError("purpose must be printable ASCII (0x20 to 0x7e)");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateWalletId(std::string_view field, const std::string& wallet_id) {
  if (wallet_id.empty() || wallet_id.size() > kMaxWalletIdBytes) {
    return absl::InvalidArgumentError(base::Cat(field, ": must be 1 to ", kMaxWalletIdBytes,
                                                " bytes of [A-Za-z0-9:._-] (got ", wallet_id.size(),
                                                " bytes)"));
  }
  for (size_t i = 0; i < wallet_id.size(); ++i) {
    const char c = wallet_id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
          c == '.' || c == '_' || c == '-')) {
      return absl::InvalidArgumentError(base::Cat(field, ": may hold only [A-Za-z0-9:._-] (byte ", i,
                                                  " of ", base::Clip(wallet_id), " is not)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateWalletBinding(const WalletBinding& binding) {
  RF_RETURN_IF_ERROR(ValidateWalletId("binding.wallet_id", binding.wallet_id));
  // The asset id rule of signer/tx's config ([[asset]] id).
  if (binding.asset.empty() || binding.asset.size() > kMaxAssetBytes) {
    return absl::InvalidArgumentError(base::Cat("binding.asset: must be 1 to ", kMaxAssetBytes,
                                                " bytes (got ", binding.asset.size(), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckSameWallet(SignerStore& store, const WalletBinding& binding) {
  absl::StatusOr<std::optional<WalletBinding>> existing = store.FindWalletBinding(binding.wallet_id);
  if (!existing.ok()) return existing.status();
  if (!existing->has_value() || **existing == binding) return absl::OkStatus();
  const WalletBinding& e = **existing;
  return absl::FailedPreconditionError(base::Cat("binding.wallet_id: wallet ", binding.wallet_id, " is already the ",
                                                 e.asset, " ", OwnerClassName(e.owner_class), "-", TierName(e.tier),
                                                 " wallet of other keys; one wallet id names one wallet"));
}

absl::StatusOr<KeyRecord> KeyService::CreateKey(KeyType type, const std::string& purpose,
                                                const WalletBinding& binding) {
  if (absl::Status s = ValidatePurpose(purpose); !s.ok()) return s;
  if (type != KeyType::kSecp256k1 && type != KeyType::kEd25519) {
    return absl::InvalidArgumentError("key_type must be secp256k1 or ed25519");
  }
  RF_RETURN_IF_ERROR(ValidateWalletBinding(binding));
  RF_RETURN_IF_ERROR(CheckSameWallet(*store_, binding));
  std::vector<uint8_t> id(kKeyIdBytes);
  randombytes_buf(id.data(), id.size());
  absl::StatusOr<TokenKey> generated = token_->GenerateKeyPair(type, id, purpose);
  if (!generated.ok()) return generated.status();
  KeyRecord record;
  record.key_id = base::HexEncode(id);
  record.type = type;
  record.purpose = purpose;
  record.public_key = generated->public_key;
  record.created_unix_ms = clock_();
  record.binding = binding;
  // If this fails the token holds an unregistered key pair: harmless, it can never be used.
  absl::StatusOr<LogEntry> logged = store_->RegisterKey(record);
  if (!logged.ok()) return logged.status();
  return record;
}

absl::StatusOr<KeyRecord> KeyService::GetKey(const std::string& key_id) {
  if (absl::Status s = ValidateKeyId(key_id); !s.ok()) return s;
  return store_->GetKey(key_id);
}

absl::StatusOr<std::vector<KeyRecord>> KeyService::ListKeys(std::optional<KeyType> type,
                                                            const std::string& purpose,
                                                            const std::string& wallet_id) {
  absl::StatusOr<std::vector<KeyRecord>> all = store_->ListKeys();
  if (!all.ok()) return all.status();
  std::vector<KeyRecord> out;
  for (KeyRecord& k : *all) {
    if (type.has_value() && k.type != *type) continue;
    if (!purpose.empty() && k.purpose != purpose) continue;
    if (!wallet_id.empty() && (!k.binding.has_value() || k.binding->wallet_id != wallet_id)) continue;
    out.push_back(std::move(k));
  }
  return out;
}

absl::StatusOr<KeyRecord> KeyService::KeyOfType(const std::string& key_id, KeyType type) {
  absl::StatusOr<KeyRecord> key = GetKey(key_id);
  if (!key.ok()) return key.status();
  if (key->type != type) {
    return absl::FailedPreconditionError(absl::StrCat("key ", key_id, " is ",
                                                      KeyTypeName(key->type), ", not ",
                                                      KeyTypeName(type)));
  }
  return key;
}

absl::StatusOr<chain::FinishedSignature> KeyService::SignDigest(const std::string& key_id,
                                                                std::span<const uint8_t, 32> digest,
                                                                const LogFields& context,
                                                                chain::RecoveryId recovery) {
  if (absl::Status s = CheckContext(context, {"digest", "signature", "recovery_id"}); !s.ok()) {
    return s;
  }
  absl::StatusOr<KeyRecord> key = KeyOfType(key_id, KeyType::kSecp256k1);
  if (!key.ok()) return key.status();
  absl::StatusOr<std::vector<uint8_t>> id = KeyIdBytes(key_id);
  if (!id.ok()) return id.status();
  absl::StatusOr<chain::FinishedSignature> sig =
      token_->SignEcdsa(*id, digest, key->public_key, recovery);
  if (!sig.ok()) return sig.status();
  LogFields fields = context;
  fields["digest"].assign(digest.begin(), digest.end());
  fields["signature"].assign(sig->compact.begin(), sig->compact.end());
  if (sig->recovery_id.has_value()) fields["recovery_id"] = {static_cast<uint8_t>(*sig->recovery_id)};
  absl::StatusOr<LogEntry> logged = store_->AppendLog(clock_(), "signature", key_id, fields);
  if (!logged.ok()) {
    return absl::Status(logged.status().code(),
                        absl::StrCat("signature made but not logged, so withheld: ",
                                     logged.status().message()));
  }
  return sig;
}

absl::StatusOr<std::array<uint8_t, 64>> KeyService::SignMessage(const std::string& key_id,
                                                                std::span<const uint8_t> message,
                                                                const LogFields& context) {
  if (absl::Status s = CheckContext(context, {"message_sha256", "signature"}); !s.ok()) return s;
  absl::StatusOr<KeyRecord> key = KeyOfType(key_id, KeyType::kEd25519);
  if (!key.ok()) return key.status();
  absl::StatusOr<std::vector<uint8_t>> id = KeyIdBytes(key_id);
  if (!id.ok()) return id.status();
  absl::StatusOr<std::array<uint8_t, 64>> sig = token_->SignEd25519(*id, message, key->public_key);
  if (!sig.ok()) return sig.status();
  LogFields fields = context;
  std::array<uint8_t, 32> h = chain::Sha256(message);
  fields["message_sha256"].assign(h.begin(), h.end());
  fields["signature"].assign(sig->begin(), sig->end());
  absl::StatusOr<LogEntry> logged = store_->AppendLog(clock_(), "signature", key_id, fields);
  if (!logged.ok()) {
    return absl::Status(logged.status().code(),
                        absl::StrCat("signature made but not logged, so withheld: ",
                                     logged.status().message()));
  }
  return sig;
}

}  // namespace ringfence::signer

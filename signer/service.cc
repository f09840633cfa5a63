#include "signer/service.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "base/text.h"
#include "signer/request_limits.h"

namespace ringfence::signer {
namespace {

v1::KeyType ToProto(KeyType type) {
  return type == KeyType::kSecp256k1 ? v1::KEY_TYPE_SECP256K1 : v1::KEY_TYPE_ED25519;
}

absl::StatusOr<KeyType> FromProto(v1::KeyType type, const char* field) {
  switch (type) {
    case v1::KEY_TYPE_SECP256K1:
      return KeyType::kSecp256k1;
    case v1::KEY_TYPE_ED25519:
      return KeyType::kEd25519;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          field, " must be KEY_TYPE_SECP256K1 or KEY_TYPE_ED25519 (got ", static_cast<int>(type), ")"));
  }
}

// The request's binding with both enums named; its strings are KeyService's to check.
absl::StatusOr<WalletBinding> FromProto(const v1::CreateKeyRequest& request) {
  if (!request.has_binding()) {
    return absl::InvalidArgumentError(
        "binding: required (the wallet the key belongs to: wallet_id, asset, owner_class, tier)");
  }
  const v1::WalletBinding& b = request.binding();
  WalletBinding out;
  out.wallet_id = b.wallet_id();
  out.asset = b.asset();
  switch (b.owner_class()) {
    case v1::OWNER_CLASS_CLIENT:
      out.owner_class = OwnerClass::kClient;
      break;
    case v1::OWNER_CLASS_HOUSE:
      out.owner_class = OwnerClass::kHouse;
      break;
    default:
      return absl::InvalidArgumentError(
          base::Cat("binding.owner_class: must be OWNER_CLASS_CLIENT or OWNER_CLASS_HOUSE (got ",
                    static_cast<int>(b.owner_class()), ")"));
  }
  switch (b.tier()) {
    case v1::TIER_HOT:
      out.tier = Tier::kHot;
      break;
    case v1::TIER_COLD:
      out.tier = Tier::kCold;
      break;
    default:
      return absl::InvalidArgumentError(base::Cat("binding.tier: must be TIER_HOT or TIER_COLD (got ",
                                                  static_cast<int>(b.tier()), ")"));
  }
  return out;
}

void Fill(const KeyRecord& k, v1::Key* out) {
  out->set_key_id(k.key_id);
  out->set_key_type(ToProto(k.type));
  out->set_purpose(k.purpose);
  out->set_public_key(std::string(k.public_key.begin(), k.public_key.end()));
  out->set_created_unix_ms(k.created_unix_ms);
  if (k.binding.has_value()) {
    v1::WalletBinding* b = out->mutable_binding();
    b->set_wallet_id(k.binding->wallet_id);
    b->set_asset(k.binding->asset);
    b->set_owner_class(k.binding->owner_class == OwnerClass::kHouse ? v1::OWNER_CLASS_HOUSE
                                                                    : v1::OWNER_CLASS_CLIENT);
    b->set_tier(k.binding->tier == Tier::kCold ? v1::TIER_COLD : v1::TIER_HOT);
  }
}

// Runs a handler body, turning any escaping exception into INTERNAL.
template <typename Body>
grpc::Status Guard(const char* rpc, Body body) {
  try {
    return ToGrpcStatus(body());
  } catch (const std::exception& e) {
    return grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat(rpc, ": internal error: ", e.what()));
  } catch (...) {
    return grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat(rpc, ": internal error"));
  }
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share their numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::Status SignerServiceImpl::CreateKey(grpc::ServerContext*, const v1::CreateKeyRequest* request,
                                          v1::CreateKeyResponse* response) {
  return Guard("CreateKey", [&]() -> absl::Status {
    if (absl::Status s = CheckRequestLimits(*request); !s.ok()) return s;
    absl::StatusOr<KeyType> type = FromProto(request->key_type(), "key_type");
    if (!type.ok()) return type.status();
    absl::StatusOr<WalletBinding> binding = FromProto(*request);
    if (!binding.ok()) return binding.status();
    absl::StatusOr<KeyRecord> key = keys_->CreateKey(*type, request->purpose(), *binding);
    if (!key.ok()) return key.status();
    Fill(*key, response->mutable_key());
    return absl::OkStatus();
  });
}

grpc::Status SignerServiceImpl::GetKey(grpc::ServerContext*, const v1::GetKeyRequest* request,
                                       v1::GetKeyResponse* response) {
  return Guard("GetKey", [&]() -> absl::Status {
    if (absl::Status s = CheckRequestLimits(*request); !s.ok()) return s;
    absl::StatusOr<KeyRecord> key = keys_->GetKey(request->key_id());
    if (!key.ok()) return key.status();
    Fill(*key, response->mutable_key());
    return absl::OkStatus();
  });
}

grpc::Status SignerServiceImpl::ListKeys(grpc::ServerContext*, const v1::ListKeysRequest* request,
                                         v1::ListKeysResponse* response) {
  return Guard("ListKeys", [&]() -> absl::Status {
    if (absl::Status s = CheckRequestLimits(*request); !s.ok()) return s;
    std::optional<KeyType> type;
    if (request->key_type() != v1::KEY_TYPE_UNSPECIFIED) {
      absl::StatusOr<KeyType> parsed = FromProto(request->key_type(), "key_type");
      if (!parsed.ok()) return parsed.status();
      type = *parsed;
    }
    if (!request->wallet_id().empty()) {
      RF_RETURN_IF_ERROR(ValidateWalletId("wallet_id", request->wallet_id()));
    }
    absl::StatusOr<std::vector<KeyRecord>> keys =
        keys_->ListKeys(type, request->purpose(), request->wallet_id());
    if (!keys.ok()) return keys.status();
    for (const KeyRecord& k : *keys) Fill(k, response->add_keys());
    return absl::OkStatus();
  });
}

}  // namespace ringfence::signer

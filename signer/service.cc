#include "signer/service.h"

#include <exception>

#include "absl/strings/str_cat.h"
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

void Fill(const KeyRecord& k, v1::Key* out) {
  out->set_key_id(k.key_id);
  out->set_key_type(ToProto(k.type));
  out->set_purpose(k.purpose);
  out->set_public_key(std::string(k.public_key.begin(), k.public_key.end()));
  out->set_created_unix_ms(k.created_unix_ms);
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
    absl::StatusOr<KeyRecord> key = keys_->CreateKey(*type, request->purpose());
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
    absl::StatusOr<std::vector<KeyRecord>> keys = keys_->ListKeys(type, request->purpose());
    if (!keys.ok()) return keys.status();
    for (const KeyRecord& k : *keys) Fill(k, response->add_keys());
    return absl::OkStatus();
  });
}

}  // namespace ringfence::signer

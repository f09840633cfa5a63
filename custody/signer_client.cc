#include "custody/signer_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdio>

#include "base/text.h"
#include "proto/signer.grpc.pb.h"
#include "proto/signer_tx.grpc.pb.h"

namespace ringfence::custody {
namespace {

using base::Cat;
namespace sv1 = ringfence::signer::v1;

constexpr size_t kMaxPurposeLength = 128;

absl::Status FromGrpc(const grpc::Status& s, std::string_view what) {
  // signerd's own refusals keep their code; a transport failure is UNAVAILABLE either way.
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      Cat("signerd ", what, ": ", base::Clip(s.error_message(), 200)));
}

absl::StatusOr<sv1::OwnerClass> OwnerClassToProto(std::string_view name) {
  if (name == "client") return sv1::OWNER_CLASS_CLIENT;
  if (name == "house") return sv1::OWNER_CLASS_HOUSE;
  return absl::InvalidArgumentError(Cat("wallet binding: owner class must be client or house, not ", base::Clip(name)));
}

absl::StatusOr<sv1::Tier> TierToProto(std::string_view name) {
  if (name == "hot") return sv1::TIER_HOT;
  if (name == "cold") return sv1::TIER_COLD;
  return absl::InvalidArgumentError(Cat("wallet binding: tier must be hot or cold, not ", base::Clip(name)));
}

// signerd's binding in custodyd's terms; INTERNAL for an owner class or tier it should never send.
absl::StatusOr<WalletBinding> FromProto(const sv1::WalletBinding& b, std::string_view what) {
  WalletBinding out{b.wallet_id(), b.asset(), "", ""};
  switch (b.owner_class()) {
    case sv1::OWNER_CLASS_CLIENT: out.owner_class = "client"; break;
    case sv1::OWNER_CLASS_HOUSE: out.owner_class = "house"; break;
    default: return absl::InternalError(Cat("signerd ", what, ": a binding without a valid owner class"));
  }
  switch (b.tier()) {
    case sv1::TIER_HOT: out.tier = "hot"; break;
    case sv1::TIER_COLD: out.tier = "cold"; break;
    default: return absl::InternalError(Cat("signerd ", what, ": a binding without a valid tier"));
  }
  return out;
}

absl::StatusOr<SignerKey> CheckKey(const sv1::Key& key, std::string_view what) {
  const std::string& id = key.key_id();
  if (id.size() != 32 || !std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      })) {
    return absl::InternalError(Cat("signerd ", what, ": malformed key id ", base::Clip(id)));
  }
  if (key.key_type() != sv1::KEY_TYPE_SECP256K1) {
    return absl::InternalError(Cat("signerd ", what, ": key ", id, " is not a secp256k1 key"));
  }
  const std::string& pub = key.public_key();
  if (pub.size() != 33 || (pub[0] != 0x02 && pub[0] != 0x03)) {
    return absl::InternalError(Cat("signerd ", what, ": key ", id, " has no 33-byte compressed public key"));
  }
  SignerKey out;
  out.key_id = id;
  out.public_key.assign(pub.begin(), pub.end());
  if (key.has_binding()) {
    absl::StatusOr<WalletBinding> binding = FromProto(key.binding(), what);
    if (!binding.ok()) return binding.status();
    out.binding = *std::move(binding);
  }
  return out;
}

class GrpcSignerClient : public SignerClient {
 public:
  GrpcSignerClient(const std::string& socket_path, std::chrono::milliseconds timeout)
      : stub_(sv1::Signer::NewStub(grpc::CreateChannel("unix:" + socket_path, grpc::InsecureChannelCredentials()))),
        timeout_(timeout) {}

  absl::StatusOr<SignerKey> CreateKey(std::string_view purpose, const WalletBinding& binding) override {
    if (purpose.empty() || purpose.size() > kMaxPurposeLength) {
      return absl::InvalidArgumentError(Cat("key purpose must be 1..", kMaxPurposeLength, " bytes"));
    }
    absl::StatusOr<sv1::OwnerClass> owner_class = OwnerClassToProto(binding.owner_class);
    if (!owner_class.ok()) return owner_class.status();
    absl::StatusOr<sv1::Tier> tier = TierToProto(binding.tier);
    if (!tier.ok()) return tier.status();
    sv1::CreateKeyRequest request;
    request.set_key_type(sv1::KEY_TYPE_SECP256K1);
    request.set_purpose(std::string(purpose));
    sv1::WalletBinding* wanted = request.mutable_binding();
    wanted->set_wallet_id(binding.wallet_id);
    wanted->set_asset(binding.asset_id);
    wanted->set_owner_class(*owner_class);
    wanted->set_tier(*tier);
    sv1::CreateKeyResponse response;
    grpc::ClientContext context;
    Prepare(context);
    grpc::Status s = stub_->CreateKey(&context, request, &response);
    if (!s.ok()) return FromGrpc(s, "CreateKey");
    absl::StatusOr<SignerKey> key = CheckKey(response.key(), "CreateKey");
    if (!key.ok()) return key.status();
    // signerd's answer is outside input like any other: a key bound elsewhere (or not at all)
    // is never used for this wallet.
    if (key->binding != binding) {
      std::fprintf(stderr, "custodyd: ERROR signer key %s is not bound to wallet %s as asked; not used\n",
                   key->key_id.c_str(), binding.wallet_id.c_str());
      return absl::InternalError(Cat("signerd CreateKey: key ", key->key_id, " is not bound to wallet ",
                                     base::Clip(binding.wallet_id), " as asked"));
    }
    return key;
  }

  absl::StatusOr<SignerKey> GetKey(std::string_view key_id) override {
    sv1::GetKeyRequest request;
    request.set_key_id(std::string(key_id));
    sv1::GetKeyResponse response;
    grpc::ClientContext context;
    Prepare(context);
    grpc::Status s = stub_->GetKey(&context, request, &response);
    if (!s.ok()) return FromGrpc(s, "GetKey");
    if (response.key().key_id() != key_id) {
      return absl::InternalError(Cat("signerd GetKey: asked for ", base::Clip(key_id), ", got another key"));
    }
    return CheckKey(response.key(), "GetKey");
  }

 private:
  void Prepare(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
    // A signerd that is restarting is waited for (within the deadline), not failed at once.
    context.set_wait_for_ready(true);
  }

  std::unique_ptr<sv1::Signer::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

class GrpcTxSignerClient : public TxSignerClient {
 public:
  GrpcTxSignerClient(const std::string& socket_path, std::chrono::milliseconds timeout)
      : stub_(sv1::TransactionSigner::NewStub(
            grpc::CreateChannel("unix:" + socket_path, grpc::InsecureChannelCredentials()))),
        timeout_(timeout) {}

  absl::StatusOr<sv1::SignTransactionResponse> SignTransaction(const sv1::SignTransactionRequest& request) override {
    sv1::SignTransactionResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
    context.set_wait_for_ready(true);
    grpc::Status s = stub_->SignTransaction(&context, request, &response);
    if (!s.ok()) {
      // Anything but signerd's verdict on the request is "ask again later".
      switch (s.error_code()) {
        case grpc::StatusCode::INVALID_ARGUMENT:
        case grpc::StatusCode::FAILED_PRECONDITION:
        case grpc::StatusCode::PERMISSION_DENIED:
          return FromGrpc(s, "SignTransaction");
        default:
          return absl::UnavailableError(
              Cat("signerd SignTransaction: ", base::Clip(s.error_message(), 200), " (gRPC code ", static_cast<int>(s.error_code()), ")"));
      }
    }
    return response;
  }

 private:
  std::unique_ptr<sv1::TransactionSigner::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

std::unique_ptr<TxSignerClient> ConnectTxSigner(const std::string& socket_path, std::chrono::milliseconds timeout) {
  return std::make_unique<GrpcTxSignerClient>(socket_path, timeout);
}

std::unique_ptr<SignerClient> ConnectSigner(const std::string& socket_path, std::chrono::milliseconds timeout) {
  return std::make_unique<GrpcSignerClient>(socket_path, timeout);
}

}  // namespace ringfence::custody

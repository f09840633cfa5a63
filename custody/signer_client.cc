#include "custody/signer_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "base/text.h"
#include "proto/signer.grpc.pb.h"

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
    sv1::CreateKeyRequest request;
    request.set_key_type(sv1::KEY_TYPE_SECP256K1);
    request.set_purpose(std::string(purpose));
    (void)binding;
    sv1::CreateKeyResponse response;
    grpc::ClientContext context;
    Prepare(context);
    grpc::Status s = stub_->CreateKey(&context, request, &response);
    if (!s.ok()) return FromGrpc(s, "CreateKey");
    return CheckKey(response.key(), "CreateKey");
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

}  // namespace

std::unique_ptr<SignerClient> ConnectSigner(const std::string& socket_path, std::chrono::milliseconds timeout) {
  return std::make_unique<GrpcSignerClient>(socket_path, timeout);
}

}  // namespace ringfence::custody

// SignerServiceImpl: the gRPC Signer service (proto/signer.proto) over a KeyService.
//
// Every handler catches everything and maps absl::Status codes to the gRPC status code of
// the same number, with the precise message. Borrows the KeyService. Thread-safe.
#ifndef RINGFENCE_SIGNER_SERVICE_H_
#define RINGFENCE_SIGNER_SERVICE_H_

#include "proto/signer.grpc.pb.h"
#include "signer/key_service.h"

namespace ringfence::signer {

grpc::Status ToGrpcStatus(const absl::Status& status);

class SignerServiceImpl final : public ringfence::signer::v1::Signer::Service {
 public:
  explicit SignerServiceImpl(KeyService* keys) : keys_(keys) {}

  grpc::Status CreateKey(grpc::ServerContext* context, const v1::CreateKeyRequest* request,
                         v1::CreateKeyResponse* response) override;
  grpc::Status GetKey(grpc::ServerContext* context, const v1::GetKeyRequest* request,
                      v1::GetKeyResponse* response) override;
  grpc::Status ListKeys(grpc::ServerContext* context, const v1::ListKeysRequest* request,
                        v1::ListKeysResponse* response) override;

 private:
  KeyService* keys_;
};

}  // namespace ringfence::signer

#endif  // RINGFENCE_SIGNER_SERVICE_H_

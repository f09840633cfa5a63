// The gRPC TransactionSigner service (proto/signer_tx.proto) over a TransactionSigner.
//
// MakeTransactionSignerService is what signerd calls to add transaction signing: it opens a
// TransactionSigner on signerd's token and database and returns the service to register with
// the server builder. The service owns the TransactionSigner; it borrows the token and the
// store, which must outlive it (destroy the service after the server has shut down).
// Handlers catch everything and return gRPC status codes equal to the absl codes, with the
// precise reason. Thread-safe.
#ifndef RINGFENCE_SIGNER_TX_SERVICE_H_
#define RINGFENCE_SIGNER_TX_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proto/signer_tx.grpc.pb.h"
#include "signer/pkcs11_client.h"
#include "signer/store.h"
#include "signer/tx/tx_signer.h"

namespace ringfence::signer::tx {

class TransactionSignerService final : public ringfence::signer::v1::TransactionSigner::Service {
 public:
  explicit TransactionSignerService(std::unique_ptr<TransactionSigner> signer)
      : signer_(std::move(signer)) {}

  grpc::Status SignTransaction(grpc::ServerContext* context,
                               const ringfence::signer::v1::SignTransactionRequest* request,
                               ringfence::signer::v1::SignTransactionResponse* response) override;

  TransactionSigner& signer() { return *signer_; }

 private:
  std::unique_ptr<TransactionSigner> signer_;
};

// Converts the wire request (no checks beyond field extraction).
TxRequest FromProto(const ringfence::signer::v1::SignTransactionRequest& request);

// Opens the transaction signer with the transaction config at `tx_config_path` (see
// TransactionSigner::Open for errors) and wraps it in the gRPC service.
absl::StatusOr<std::unique_ptr<grpc::Service>> MakeTransactionSignerService(
    const std::string& tx_config_path, Pkcs11Token* token, SignerStore* store);

}  // namespace ringfence::signer::tx

#endif  // RINGFENCE_SIGNER_TX_SERVICE_H_

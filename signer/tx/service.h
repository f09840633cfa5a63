// The gRPC TransactionSigner service (proto/signer_tx.proto) over a TransactionSigner.
//
// MakeTransactionSignerService is what signerd calls to add transaction signing: it opens a
// TransactionSigner on signerd's token and database and returns the service to register with
// the server builder. The service owns the TransactionSigner; it borrows the token and the
// store, which must outlive it (destroy the service after the server has shut down).
// The service uses gRPC's callback API: a handler only converts the request and queues it on a
// worker pool sized to the machine's cores; a worker runs the checks and the token signature,
// and the log writer answers the call once the request's log entry is durable. No thread waits
// per request, which is what kept the synchronous server from using the cores for signing.
// A full queue answers RESOURCE_EXHAUSTED at once. Errors are gRPC status codes equal to the
// absl codes, with the precise reason. Thread-safe.
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
#include "signer/tx/worker_pool.h"

namespace ringfence::signer::tx {

class TransactionSignerService final : public ringfence::signer::v1::TransactionSigner::CallbackService {
 public:
  // Requests waiting for a worker beyond this are refused with RESOURCE_EXHAUSTED.
  static constexpr size_t kMaxQueued = 4096;

  // `workers` 0 means one per hardware thread.
  explicit TransactionSignerService(std::unique_ptr<TransactionSigner> signer, size_t workers = 0);
  // Finishes every queued request before the signer goes; destroy after the server's Shutdown.
  ~TransactionSignerService() override;

  grpc::ServerUnaryReactor* SignTransaction(grpc::CallbackServerContext* context,
                                            const ringfence::signer::v1::SignTransactionRequest* request,
                                            ringfence::signer::v1::SignTransactionResponse* response) override;

  TransactionSigner& signer() { return *signer_; }

 private:
  std::unique_ptr<TransactionSigner> signer_;
  std::unique_ptr<WorkerPool> pool_;  // destroyed first: its tasks use signer_
};

// Converts the wire request (no checks beyond field extraction).
TxRequest FromProto(const ringfence::signer::v1::SignTransactionRequest& request);

// Opens the transaction signer with the transaction config at `tx_config_path` (see
// TransactionSigner::Open for errors) and wraps it in the gRPC service.
absl::StatusOr<std::unique_ptr<grpc::Service>> MakeTransactionSignerService(
    const std::string& tx_config_path, Pkcs11Token* token, SignerStore* store);

}  // namespace ringfence::signer::tx

#endif  // RINGFENCE_SIGNER_TX_SERVICE_H_

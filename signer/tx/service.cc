#include "signer/tx/service.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>

namespace ringfence::signer::tx {
namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace

TxRequest FromProto(const v1::SignTransactionRequest& p) {
  TxRequest r;
  r.request_id = p.request_id();
  r.chain = p.chain();
  r.network = p.network();
  r.unsigned_tx.assign(p.unsigned_tx().begin(), p.unsigned_tx().end());
  for (const auto& in : p.bitcoin_inputs()) r.bitcoin_inputs.push_back({in.amount(), in.key_id()});
  r.ethereum_key_id = p.ethereum_key_id();
  r.intent = {p.intent().asset(), p.intent().amount(), p.intent().destination(), p.intent().fee_cap()};
  for (const auto& a : p.approvals()) {
    r.approvals.push_back({a.approver_id(), std::vector<uint8_t>(a.signature().begin(), a.signature().end())});
  }
  switch (p.kind()) {
    case v1::REQUEST_KIND_WITHDRAWAL:
      r.kind = policy::RequestKind::kWithdrawal;
      break;
    case v1::REQUEST_KIND_SWEEP:
      r.kind = policy::RequestKind::kSweep;
      break;
    case v1::REQUEST_KIND_TOP_UP:
      r.kind = policy::RequestKind::kTopUp;
      break;
    case v1::REQUEST_KIND_FEE_REIMBURSEMENT:
      r.kind = policy::RequestKind::kFeeReimbursement;
      break;
    case v1::REQUEST_KIND_GAS_FUNDING:
      r.kind = policy::RequestKind::kGasFunding;
      break;
    default:  // unspecified or a value this build does not know: refused by the checks
      break;
  }
  r.expires_at = p.expires_at();
  return r;
}

TransactionSignerService::TransactionSignerService(std::unique_ptr<TransactionSigner> signer, size_t workers)
    : signer_(std::move(signer)),
      pool_(std::make_unique<WorkerPool>(workers != 0 ? workers : std::max(1u, std::thread::hardware_concurrency()),
                                         kMaxQueued)) {}

TransactionSignerService::~TransactionSignerService() { pool_.reset(); }

grpc::ServerUnaryReactor* TransactionSignerService::SignTransaction(grpc::CallbackServerContext* context,
                                                                    const v1::SignTransactionRequest* request,
                                                                    v1::SignTransactionResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // Set by whoever finishes the call, so that an exception after the answer cannot answer twice.
  auto answered = std::make_shared<std::atomic<bool>>(false);
  auto finish = [reactor, answered](const grpc::Status& status) {
    if (!answered->exchange(true)) reactor->Finish(status);
  };
  auto work = [this, request, response, finish] {
    try {
      signer_->SignAsync(FromProto(*request), [response, finish](absl::StatusOr<SignResult> result) {
        if (!result.ok()) return finish(ToGrpc(result.status()));
        response->set_signed_tx(std::string(result->signed_tx.bytes.begin(), result->signed_tx.bytes.end()));
        response->set_txid(result->signed_tx.txid);
        response->set_replayed(result->replayed);
        response->set_log_sequence(result->log_sequence);
        finish(grpc::Status::OK);
      });
    } catch (const std::exception& e) {
      finish(grpc::Status(grpc::StatusCode::INTERNAL, std::string("SignTransaction: ") + e.what()));
    } catch (...) {
      finish(grpc::Status(grpc::StatusCode::INTERNAL, "SignTransaction: unknown exception"));
    }
  };
  if (!pool_->TrySubmit(std::move(work))) {
    finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "overloaded: too many SignTransaction requests are waiting; retry later"));
  }
  return reactor;
}

absl::StatusOr<std::unique_ptr<grpc::Service>> MakeTransactionSignerService(
    const std::string& tx_config_path, Pkcs11Token* token, SignerStore* store) {
  auto signer = TransactionSigner::Open(tx_config_path, token, store);
  if (!signer.ok()) return signer.status();
  return std::unique_ptr<grpc::Service>(new TransactionSignerService(std::move(*signer)));
}

}  // namespace ringfence::signer::tx

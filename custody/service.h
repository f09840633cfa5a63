// CustodyService: the gRPC service of proto/custody.proto, kept thin. Each RPC
//   1. checks every field's limits and grammar first (INVALID_ARGUMENT naming the field and the
//      rule; outside input is quoted only through base::Clip), before any other work;
//   2. identifies the caller from its client certificate and checks the RPC's roles
//      (PERMISSION_DENIED, and the denial is itself an audit entry);
//   3. opens one store transaction (a read snapshot for queries), does the work, and for a
//      mutating RPC appends its audit entry and records its response under the idempotency key
//      (custody/idempotency.h) in that same transaction before committing.
// Errors: unknown ids NOT_FOUND; an action the client's state forbids FAILED_PRECONDITION; on
// any error nothing changes. No exception leaves a handler (INTERNAL, or RESOURCE_EXHAUSTED
// for memory). docs/custody-api.md is the contract in prose.
//
// Ownership: the service borrows the config, store, env, signer client and authenticator,
// which must outlive it. Thread-safety: handlers run concurrently on gRPC's threads; the
// service's only mutable state is the WatchWithdrawals wake-up (a generation counter under a
// mutex), bumped after every commit that appends a withdrawal event, and its expiry thread.
#ifndef RINGFENCE_CUSTODY_SERVICE_H_
#define RINGFENCE_CUSTODY_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "custody/allocation.h"
#include "custody/auth.h"
#include "custody/config.h"
#include "custody/env.h"
#include "custody/executor.h"
#include "custody/signer_client.h"
#include "custody/store/store.h"
#include "custody/whitelist.h"
#include "custody/withdrawals.h"
#include "proto/custody.grpc.pb.h"

namespace ringfence::custody {

// Field limits of the API (proto/custody.proto states them beside each field).
inline constexpr size_t kMaxIdLength = 64;
inline constexpr size_t kMaxClientRefLength = 128;
inline constexpr size_t kMaxReasonLength = 256;
inline constexpr size_t kMaxPageTokenLength = 256;
inline constexpr uint32_t kMaxPageSize = 1000;
inline constexpr uint32_t kDefaultPageSize = 100;
// A statement with more movements than this is refused (OUT_OF_RANGE): ask for a narrower
// from_seq..at_seq window.
inline constexpr size_t kMaxStatementMovements = 10'000;
// ListWithdrawals' state filter holds at most this many states.
inline constexpr int kMaxStateFilters = 16;
// WatchWithdrawals looks for events written by other writers (the executor) at least this
// often, and at once after the service's own commits.
inline constexpr int kWatchPollMs = 200;
// How often the service closes withdrawals and whitelist additions whose approval deadline
// passed while still pending (Withdrawals::ExpireOverdue).
inline constexpr int kExpiryIntervalMs = 1000;

// GetBalances, the call a platform makes most, is served by gRPC's callback API (on the thread
// that read the request: a few indexed reads, no hand-off to a worker thread); every other RPC
// by the synchronous API.
class CustodyService final : public v1::Custody::WithCallbackMethod_GetBalances<v1::Custody::Service> {
 public:
  // Starts the expiry thread (closes overdue approvals every kExpiryIntervalMs); the
  // destructor stops and joins it.
  CustodyService(const Config& config, store::Store& store, Env& env, SignerClient& signer,
                 const Authenticator& auth);
  ~CustodyService() override;
  CustodyService(const CustodyService&) = delete;
  CustodyService& operator=(const CustodyService&) = delete;

  // One expiry pass (what the thread runs): returns how many it closed.
  absl::StatusOr<size_t> ExpireOverdueOnce();

  grpc::Status ListAssets(grpc::ServerContext* context, const v1::ListAssetsRequest* request,
      v1::ListAssetsResponse* response) override;
  grpc::Status ListWallets(grpc::ServerContext* context, const v1::ListWalletsRequest* request,
      v1::ListWalletsResponse* response) override;
  grpc::Status CreateClient(grpc::ServerContext* context, const v1::CreateClientRequest* request,
      v1::CreateClientResponse* response) override;
  grpc::Status GetClient(grpc::ServerContext* context, const v1::GetClientRequest* request,
      v1::GetClientResponse* response) override;
  grpc::Status ListClients(grpc::ServerContext* context, const v1::ListClientsRequest* request,
      v1::ListClientsResponse* response) override;
  grpc::Status FreezeClient(grpc::ServerContext* context, const v1::FreezeClientRequest* request,
      v1::FreezeClientResponse* response) override;
  grpc::Status UnfreezeClient(grpc::ServerContext* context, const v1::UnfreezeClientRequest* request,
      v1::UnfreezeClientResponse* response) override;
  grpc::Status CreateDepositAddress(grpc::ServerContext* context, const v1::CreateDepositAddressRequest* request,
      v1::CreateDepositAddressResponse* response) override;
  grpc::Status ListDepositAddresses(grpc::ServerContext* context, const v1::ListDepositAddressesRequest* request,
      v1::ListDepositAddressesResponse* response) override;
  grpc::ServerUnaryReactor* GetBalances(grpc::CallbackServerContext* context, const v1::GetBalancesRequest* request,
                                        v1::GetBalancesResponse* response) override;
  grpc::Status ListLedgerEntries(grpc::ServerContext* context, const v1::ListLedgerEntriesRequest* request,
      v1::ListLedgerEntriesResponse* response) override;
  grpc::Status GetStatement(grpc::ServerContext* context, const v1::GetStatementRequest* request,
      v1::GetStatementResponse* response) override;
  grpc::Status GetSegregationReport(grpc::ServerContext* context, const v1::GetSegregationReportRequest* request,
      v1::GetSegregationReportResponse* response) override;
  grpc::Status ListAuditEntries(grpc::ServerContext* context, const v1::ListAuditEntriesRequest* request,
      v1::ListAuditEntriesResponse* response) override;

  grpc::Status AddWhitelistAddress(grpc::ServerContext* context, const v1::AddWhitelistAddressRequest* request,
      v1::AddWhitelistAddressResponse* response) override;
  grpc::Status RemoveWhitelistAddress(grpc::ServerContext* context, const v1::RemoveWhitelistAddressRequest* request,
      v1::RemoveWhitelistAddressResponse* response) override;
  grpc::Status ListWhitelist(grpc::ServerContext* context, const v1::ListWhitelistRequest* request,
      v1::ListWhitelistResponse* response) override;
  grpc::Status RejectWhitelistAddition(grpc::ServerContext* context, const v1::RejectWhitelistAdditionRequest* request,
      v1::RejectWhitelistAdditionResponse* response) override;
  grpc::Status CreateWithdrawal(grpc::ServerContext* context, const v1::CreateWithdrawalRequest* request,
      v1::CreateWithdrawalResponse* response) override;
  grpc::Status GetWithdrawal(grpc::ServerContext* context, const v1::GetWithdrawalRequest* request,
      v1::GetWithdrawalResponse* response) override;
  grpc::Status ListWithdrawals(grpc::ServerContext* context, const v1::ListWithdrawalsRequest* request,
      v1::ListWithdrawalsResponse* response) override;
  grpc::Status CancelWithdrawal(grpc::ServerContext* context, const v1::CancelWithdrawalRequest* request,
      v1::CancelWithdrawalResponse* response) override;
  grpc::Status WatchWithdrawals(grpc::ServerContext* context, const v1::WatchWithdrawalsRequest* request,
      grpc::ServerWriter<v1::WithdrawalEvent>* writer) override;
  grpc::Status ListPendingApprovals(grpc::ServerContext* context, const v1::ListPendingApprovalsRequest* request,
      v1::ListPendingApprovalsResponse* response) override;
  grpc::Status SubmitApproval(grpc::ServerContext* context, const v1::SubmitApprovalRequest* request,
      v1::SubmitApprovalResponse* response) override;
  grpc::Status RejectWithdrawal(grpc::ServerContext* context, const v1::RejectWithdrawalRequest* request,
      v1::RejectWithdrawalResponse* response) override;
  grpc::Status ImportColdKeys(grpc::ServerContext* context, const v1::ImportColdKeysRequest* request,
      v1::ImportColdKeysResponse* response) override;
  grpc::Status CreateHouseAddress(grpc::ServerContext* context, const v1::CreateHouseAddressRequest* request,
      v1::CreateHouseAddressResponse* response) override;
  grpc::Status GetAllocation(grpc::ServerContext* context, const v1::GetAllocationRequest* request,
      v1::GetAllocationResponse* response) override;
  grpc::Status ExportSigningBundle(grpc::ServerContext* context, const v1::ExportSigningBundleRequest* request,
                                   v1::ExportSigningBundleResponse* response) override;
  grpc::Status ImportSignedBundle(grpc::ServerContext* context, const v1::ImportSignedBundleRequest* request,
                                  v1::ImportSignedBundleResponse* response) override;
  grpc::Status GetCoverage(grpc::ServerContext* context, const v1::GetCoverageRequest* request,
      v1::GetCoverageResponse* response) override;
  grpc::Status GetReconciliation(grpc::ServerContext* context, const v1::GetReconciliationRequest* request,
      v1::GetReconciliationResponse* response) override;

  // Wakes every WatchWithdrawals stream to look for new events (the executor calls it after
  // its commits; the service after its own).
  void NotifyWithdrawalEvents();
  // The executor that exports top-ups and takes the offline signer's answers
  // (ExportSigningBundle, ImportSignedBundle); without one those RPCs are UNAVAILABLE. Set once,
  // before the server starts.
  void SetExecutor(WithdrawalExecutor* executor) { executor_ = executor; }

 private:
  // Runs one RPC: `validate` (limits and grammar), then the role check for `method`, then
  // `run`; maps the absl::Status to gRPC's and catches every exception.
  grpc::Status Serve(std::string_view method, grpc::ServerContextBase* context,
                     absl::FunctionRef<absl::Status()> validate,
                     absl::FunctionRef<absl::Status(const Caller&)> run);
  // GetAllocation and GetCoverage's figures, from one read snapshot.
  absl::StatusOr<AllocationReport> ReadAllocation(const std::string& asset_id);
  // Records a denied call in the audit log (best effort: a failure is logged, the caller is
  // denied either way).
  void AuditDenial(const Caller& caller, std::string_view method, std::string_view reason);
  // One mutating RPC: a write transaction, Idempotency::Run around `effect`, commit.
  absl::Status Mutate(std::string_view method, std::string_view idempotency_key,
                      const google::protobuf::Message& request, google::protobuf::Message* response,
                      absl::FunctionRef<absl::Status(store::Txn&)> effect);

  // Records a refused approval or rejection in the audit log in its own transaction (the
  // refused call's own transaction is dropped), best effort like AuditDenial.
  void AuditRefusal(const Caller& caller, std::string_view method, std::string_view target,
                    std::string_view approver_id, const absl::Status& refusal);
  absl::Status FillWithdrawal(store::Txn& txn, const store::WithdrawalRow& row, v1::Withdrawal* out) const;
  absl::Status FillWhitelistEntry(store::Txn& txn, const store::WhitelistEntryRow& row, v1::WhitelistEntry* out) const;

  const Config& config_;
  store::Store& store_;
  Env& env_;
  SignerClient& signer_;
  const Authenticator& auth_;
  const Whitelists whitelists_;
  const Withdrawals withdrawals_;
  WithdrawalExecutor* executor_ = nullptr;

  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  uint64_t watch_generation_ = 0;

  std::mutex expiry_mu_;
  std::condition_variable expiry_cv_;
  bool stopping_ = false;
  std::thread expiry_thread_;
};

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_SERVICE_H_

// Custodyd: everything custodyd runs, assembled from a Config: the SQLite store, the wallets
// upserted from the configured assets, the signer client, one chain adapter and deposit
// ingestor per configured chain, and the gRPC server with the Custody service, the standard
// health service and server reflection.
//
// Transport: TLS with client certificates required and verified against [server.tls] client_ca
// (gRPC's SSL credentials, OpenSSL underneath); each certificate maps to a role
// (custody/auth.h). With an insecure role (--insecure-loopback ROLE) the listener is plaintext,
// allowed only on a loopback address, and every caller is that role; a warning says so.
//
// Owns all its parts; Shutdown() is safe to call from any thread, once or more.
#ifndef RINGFENCE_CUSTODY_SERVER_H_
#define RINGFENCE_CUSTODY_SERVER_H_

#include <grpcpp/server.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "custody/auth.h"
#include "custody/chain/adapter.h"
#include "custody/config.h"
#include "custody/deposits.h"
#include "custody/env.h"
#include "custody/executor.h"
#include "custody/service.h"
#include "custody/signer_client.h"
#include "custody/store/store.h"

namespace ringfence::custody {

struct ServerOptions {
  // --insecure-loopback ROLE: plaintext on a loopback listen address, every caller this role.
  std::optional<Role> insecure_role;
  // Start the deposit ingestors' polling threads (tests that drive PollOnce turn this off).
  bool run_ingestors = true;
  // Start the withdrawal executor's thread (custody/executor.h). custodyd sets it from
  // [withdrawals] executor (on by default; see ExecutorEnabled); in-process tests that drive
  // the executor themselves leave it off.
  bool run_executor = false;
  // The executor's options (tests; custodyd's test-only kill point, docs/withdrawal-executor.md).
  ExecutorOptions executor;
};

class Custodyd {
 public:
  // Errors name the failing part: the listen address (or a plaintext listener that is not on
  // loopback), a TLS file, the database, a chain adapter, the port. Nothing is left running on
  // failure.
  static absl::StatusOr<std::unique_ptr<Custodyd>> Start(const Config& config, const ServerOptions& options,
                                                         Env& env);
  ~Custodyd();  // Shuts down if still running.
  Custodyd(const Custodyd&) = delete;
  Custodyd& operator=(const Custodyd&) = delete;

  // The address actually listened on, with the bound port ("127.0.0.1:43121").
  const std::string& address() const { return address_; }
  store::Store& store() { return *store_; }
  std::vector<std::unique_ptr<DepositIngestor>>& ingestors() { return ingestors_; }
  WithdrawalExecutor& executor() { return *executor_; }

  // Reports NOT_SERVING, stops accepting calls, lets in-flight ones finish (up to 10 s), then
  // stops the withdrawal executor and the ingestors.
  void Shutdown();

 private:
  Custodyd() = default;

  Config config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<SignerClient> signer_;
  std::vector<std::unique_ptr<chain::ChainAdapter>> adapters_;
  std::vector<std::unique_ptr<DepositIngestor>> ingestors_;
  std::unique_ptr<TxSignerClient> tx_signer_;
  std::unique_ptr<WithdrawalExecutor> executor_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<CustodyService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

// Starts custodyd, prints "listening <address>" on stdout once serving, and serves until
// SIGTERM or SIGINT, then shuts down cleanly.
// REQUIRES: called from main before any other thread exists (it blocks those signals for every
// thread and waits for them with sigwait).
absl::Status RunCustodyd(const Config& config, const ServerOptions& options);

// `custodyd check`: every invariant over the whole journal; the report is printed. Returns
// whether they hold, or an error if the database cannot be read.
absl::StatusOr<bool> CheckCustodyInvariants(const Config& config);

// `custodyd audit verify`: the audit log's hash chain, optionally against an anchor
// ("<seq>:<hex hash>" recorded earlier). The result is printed. Returns whether it verifies.
absl::StatusOr<bool> VerifyCustodyAudit(const Config& config, const std::string& anchor);

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_SERVER_H_

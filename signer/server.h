// Signerd: everything signerd runs, assembled from a Config.
//
// Start() checks the socket path, loads the PKCS#11 module, reads the PIN (file or
// environment), logs in, opens the database, and serves the Signer service and the standard
// gRPC health service on unix:<socket> only. The socket is created with mode 0600 and
// removed on shutdown; a path that already exists is refused, never replaced, since it may
// belong to a running signerd. Owns all the parts; Shutdown() is safe from any thread.
#ifndef RINGFENCE_SIGNER_SERVER_H_
#define RINGFENCE_SIGNER_SERVER_H_

#include <grpcpp/server.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "signer/config.h"
#include "signer/key_service.h"
#include "signer/pkcs11_client.h"
#include "signer/service.h"
#include "signer/store.h"

namespace ringfence::signer {

// What an additional service is built from. The parts outlive every service.
struct SignerdParts {
  const Config* config;
  Pkcs11Token* token;
  SignerStore* store;
  KeyService* keys;
};
// Builds one more gRPC service for signerd to serve beside Signer (e.g. transaction
// signing, which lives above signer_core and is wired in by main). An error stops start-up.
using ServiceFactory =
    std::function<absl::StatusOr<std::unique_ptr<grpc::Service>>(const SignerdParts&)>;

class Signerd {
 public:
  // Errors name the failing part: the socket path, the module, the PIN source, the token
  // (wrong or locked PIN), the database, an extra service. Nothing is left listening on
  // failure.
  static absl::StatusOr<std::unique_ptr<Signerd>> Start(
      const Config& config, const std::vector<ServiceFactory>& extra_services = {});
  ~Signerd();  // Shuts down if still running.
  Signerd(const Signerd&) = delete;
  Signerd& operator=(const Signerd&) = delete;

  // Stops accepting calls, lets in-flight ones finish (up to 10 s) and removes the socket.
  void Shutdown();
  KeyService& keys() { return *keys_; }

 private:
  Signerd() = default;

  Config config_;
  std::shared_ptr<Pkcs11Module> module_;
  std::unique_ptr<Pkcs11Token> token_;
  std::unique_ptr<SignerStore> store_;
  std::unique_ptr<KeyService> keys_;
  std::unique_ptr<SignerServiceImpl> service_;
  // Destroyed before the parts they borrow, after the server.
  std::vector<std::unique_ptr<grpc::Service>> extra_services_;
  std::unique_ptr<grpc::Server> server_;
  bool socket_created_ = false;
  int database_lock_fd_ = -1;  // flock'ed for signerd's life (LockDatabase)
};

// Starts signerd and serves until SIGTERM or SIGINT, then shuts down gracefully.
// REQUIRES: called from main before any other thread exists (it blocks those signals for
// every thread and waits for them with sigwait).
absl::Status RunSignerd(const Config& config,
                        const std::vector<ServiceFactory>& extra_services = {});

// Opens the configured database and verifies its sign log; returns the number of entries.
absl::StatusOr<uint64_t> VerifySignLog(const Config& config);

// Takes the exclusive lock on "<database>.lock" (flock, created 0600) that a running signerd
// holds for its whole life. Returns the descriptor that holds it (close it to release);
// FailedPrecondition if another process holds it; Unavailable if the file cannot be opened.
absl::StatusOr<int> LockDatabase(const std::string& database);

// The offline `signerd bind-key`: binds a key made before bindings existed to `binding`,
// recorded in the key registry and as a key_bound sign-log entry (SignerStore::BindKey).
// Refused (FailedPrecondition) while a signerd runs on the same database (it holds
// LockDatabase's lock), when the key is already bound, or when another key binds the same
// wallet id differently (CheckSameWallet); InvalidArgument for a malformed key id or binding;
// NotFound for an unknown key. Nothing is changed on any error.
absl::StatusOr<LogEntry> BindKeyOffline(const Config& config, const std::string& key_id,
                                        const WalletBinding& binding, const Clock& clock = SystemClock());

}  // namespace ringfence::signer

#endif  // RINGFENCE_SIGNER_SERVER_H_

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

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "signer/config.h"
#include "signer/key_service.h"
#include "signer/pkcs11_client.h"
#include "signer/service.h"
#include "signer/store.h"

namespace ringfence::signer {

class Signerd {
 public:
  // Errors name the failing part: the socket path, the module, the PIN source, the token
  // (wrong or locked PIN), the database. Nothing is left listening on failure.
  static absl::StatusOr<std::unique_ptr<Signerd>> Start(const Config& config);
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
  std::unique_ptr<grpc::Server> server_;
  bool socket_created_ = false;
};

// Starts signerd and serves until SIGTERM or SIGINT, then shuts down gracefully.
// REQUIRES: called from main before any other thread exists (it blocks those signals for
// every thread and waits for them with sigwait).
absl::Status RunSignerd(const Config& config);

// Opens the configured database and verifies its sign log; returns the number of entries.
absl::StatusOr<uint64_t> VerifySignLog(const Config& config);

}  // namespace ringfence::signer

#endif  // RINGFENCE_SIGNER_SERVER_H_

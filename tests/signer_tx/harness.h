// SignerHarness: a transaction signer served over a real Unix-socket gRPC server, in process,
// on a real PKCS#11 token (hsm_sim or SoftHSM2) in a private token directory, with signerd's
// real SQLite database. It provisions the token, creates signerd's keys through KeyService,
// writes the transaction config and approver registry, opens the service with
// MakeTransactionSignerService and starts a gRPC server on <dir>/signer.sock.
//
// Used by the service tests and the benchmark. Test-only: failures abort with a message.
// One harness per token kind per process at a time (a PKCS#11 module is initialised once per
// process). Not thread-safe itself; the stub and the service are.
#ifndef RINGFENCE_TESTS_SIGNER_TX_HARNESS_H_
#define RINGFENCE_TESTS_SIGNER_TX_HARNESS_H_

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <string>

#include "proto/signer_tx.grpc.pb.h"
#include "signer/pkcs11_client.h"
#include "signer/store.h"
#include "tests/signer_tx/fixture.h"

namespace ringfence::signer::tx::testing {

enum class TokenKind { kHsmSim, kSoftHsm };
std::string TokenKindName(TokenKind kind);
// From "hsm_sim" / "softhsm"; aborts otherwise.
TokenKind ParseTokenKind(const std::string& name);

class SignerHarness {
 public:
  // Sets the module's environment (HSM_SIM_DIR or SOFTHSM2_CONF under `dir`), provisions the
  // token, creates three secp256k1 keys (input, change, eth) and starts serving.
  SignerHarness(TokenKind kind, const std::filesystem::path& dir, size_t session_pool_size = 4);
  ~SignerHarness();

  const World& world() const { return world_; }
  ringfence::signer::v1::TransactionSigner::Stub& stub() { return *stub_; }
  Pkcs11Token& token() { return *token_; }
  SignerStore& store() { return *store_; }
  grpc::Service& service() { return *service_; }
  const std::filesystem::path& socket_path() const { return socket_; }
  std::string module_path() const;

  // Stops the server and the service, closes the database, and opens everything again on the
  // same token and database (what a signerd restart does).
  void Restart();

 private:
  void StartServing();
  void StopServing();

  TokenKind kind_;
  std::filesystem::path dir_;
  std::filesystem::path socket_;
  std::shared_ptr<Pkcs11Module> module_;
  std::unique_ptr<Pkcs11Token> token_;
  std::unique_ptr<SignerStore> store_;
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ringfence::signer::v1::TransactionSigner::Stub> stub_;
  World world_;
};

// The wire form of a TxRequest.
ringfence::signer::v1::SignTransactionRequest ToProto(const TxRequest& request);

}  // namespace ringfence::signer::tx::testing

#endif  // RINGFENCE_TESTS_SIGNER_TX_HARNESS_H_

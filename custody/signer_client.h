// SignerClient: custodyd's only way to keys. It asks signerd, over signerd's Unix socket and the
// Signer service of proto/signer.proto, to create a key bound to one wallet, or to describe a
// key. custodyd never sees a private key; what comes back is a key id and a public key, both
// checked here before anyone derives an address from them (signerd's answer is outside input).
//
// SignerClient is an interface so that tests and the benchmark can stand in for signerd;
// ConnectSigner() gives the real one. Implementations are thread-safe.
#ifndef RINGFENCE_CUSTODY_SIGNER_CLIENT_H_
#define RINGFENCE_CUSTODY_SIGNER_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/signer_tx.pb.h"

namespace ringfence::custody {

// The wallet a key belongs to from the moment it is made (issue 11, "Wallets and keys").
struct WalletBinding {
  std::string wallet_id;    // "<asset>:client-hot"
  std::string asset_id;
  std::string owner_class;  // "client" | "house"
  std::string tier;         // "hot" | "cold"
  bool operator==(const WalletBinding&) const = default;
};

// A secp256k1 key as signerd reports it.
struct SignerKey {
  std::string key_id;               // 32 lowercase hex digits
  std::vector<uint8_t> public_key;  // 33-byte compressed SEC1
  // The wallet signerd has the key bound to; absent for a key made before signerd kept bindings.
  std::optional<WalletBinding> binding;
};

class SignerClient {
 public:
  virtual ~SignerClient() = default;

  // A new secp256k1 key, labelled `purpose` (1..128 printable bytes) and bound to `binding`
  // (owner class "client" or "house", tier "hot" or "cold"; signerd checks the ids).
  // UNAVAILABLE when signerd cannot be reached; signerd's own refusals pass through with their
  // code; INTERNAL when its answer is malformed (a bad key id or public key) or the key it
  // reports is not bound to exactly `binding`: such a key must not be used.
  virtual absl::StatusOr<SignerKey> CreateKey(std::string_view purpose, const WalletBinding& binding) = 0;

  // An existing key. NOT_FOUND for a key signerd does not know.
  virtual absl::StatusOr<SignerKey> GetKey(std::string_view key_id) = 0;
};

// custodyd's way to have a transaction signed: signerd's TransactionSigner service
// (proto/signer_tx.proto) over the same socket. An interface so that the executor's tests and
// the benchmark choose what signs. Implementations are thread-safe.
class TxSignerClient {
 public:
  virtual ~TxSignerClient() = default;
  // signerd's answer as sent (the caller checks it against what it asked to be signed).
  // signerd's refusals keep their code (INVALID_ARGUMENT, FAILED_PRECONDITION,
  // PERMISSION_DENIED: nothing was signed); UNAVAILABLE or DEADLINE_EXCEEDED when signerd, its
  // token or its log failed or could not be reached: the same request may be sent again and
  // gets the same signed transaction if one was made.
  virtual absl::StatusOr<signer::v1::SignTransactionResponse> SignTransaction(
      const signer::v1::SignTransactionRequest& request) = 0;
};

std::unique_ptr<TxSignerClient> ConnectTxSigner(const std::string& socket_path,
                                                std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A client for signerd at `socket_path` (the channel connects lazily, so this never fails;
// each call waits at most `timeout` for signerd, including for the socket to appear).
std::unique_ptr<SignerClient> ConnectSigner(const std::string& socket_path,
                                            std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_SIGNER_CLIENT_H_

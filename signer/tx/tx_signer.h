// TransactionSigner: SignTransaction without the transport. For each request it runs the pure
// checks (CheckTransaction), applies the state rules (TxState), signs every digest through
// PKCS#11 (CKM_ECDSA, normalised to low S, checked against the key: verified for Bitcoin,
// recovered for Ethereum, which also gives the recovery id), assembles the signed transaction,
// and records the request, the decision and the result in signerd's
// hash-chained sign log, durably (GroupCommitter), before returning. A refusal is logged the
// same way before it is returned.
//
// Borrows the token and the store (both must outlive it); owns its configuration, registry,
// state and log writer. Thread-safe: many requests run at once, limited by the token's session
// pool and batched by the log writer.
#ifndef RINGFENCE_SIGNER_TX_TX_SIGNER_H_
#define RINGFENCE_SIGNER_TX_TX_SIGNER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "signer/pkcs11_client.h"
#include "signer/store.h"
#include "signer/tx/approver_registry.h"
#include "signer/tx/group_commit.h"
#include "signer/tx/tx_check.h"
#include "signer/tx/tx_config.h"
#include "signer/tx/tx_state.h"

namespace ringfence::signer::tx {

struct SignResult {
  SignedTx signed_tx;
  bool replayed = false;
  uint64_t log_sequence = 0;
};

// Signs one digest of a checked transaction through the token (key ids are the token's CKA_ID
// in lowercase hex), normalises it to low S and checks it against the key: verified for
// Bitcoin, recovered for Ethereum (which also gives the recovery id). A well-formed signature
// that fails its check is a broken invariant and aborts, as in signer_core. Errors: the
// token's (Unavailable etc.) or a malformed signature from the token (Unavailable).
absl::StatusOr<JobSignature> SignJobOnToken(Pkcs11Token& token, ChainKind kind, const SignJob& job);

class TransactionSigner {
 public:
  // Loads the transaction config at `config_path` and the approver registry it names, checks
  // them against each other, creates/loads the state tables, and logs "tx_signer_started" with
  // both files' SHA-256. Errors name the file and the field (InvalidArgument/NotFound) or the
  // database (Unavailable/Internal).
  static absl::StatusOr<std::unique_ptr<TransactionSigner>> Open(
      const std::string& config_path, Pkcs11Token* token, SignerStore* store,
      std::function<int64_t()> clock = nullptr);
  ~TransactionSigner();

  // Checks, signs and logs one request. Refusals: FailedPrecondition or PermissionDenied with
  // "<rule>: <detail>" (docs/sign_transaction.md). Token failures: the token's error
  // (Unavailable etc.); nothing is signed or claimed. Log failures: Unavailable.
  absl::StatusOr<SignResult> Sign(const TxRequest& request);

  // Sign without waiting for the log: runs the checks and the token signature on the calling
  // thread, then hands the log write to the log writer and returns. `done` gets exactly what
  // Sign would return, once: on the log writer's thread after the entry is durable (or on the
  // calling thread if the request ends before reaching the log). `done` must be short.
  using SignDone = std::function<void(absl::StatusOr<SignResult>)>;
  void SignAsync(const TxRequest& request, SignDone done);

  const ApproverRegistry& registry() const { return registry_; }
  const GroupCommitter& committer() const { return *committer_; }

 private:
  TransactionSigner() = default;
  absl::Status LoadKeys();
  // The current snapshot; *stale is set when the registry changed since it was read.
  std::shared_ptr<const OwnKeys> Keys(bool* stale = nullptr);
  static LogFields RefusalFields(const TxRequest& request, const absl::Status& refusal);
  // Logs the refusal, then calls `done` with it (or with the log's error if logging failed).
  void Refuse(const TxRequest& request, absl::Status refusal, const SignDone& done);

  Pkcs11Token* token_ = nullptr;
  SignerStore* store_ = nullptr;
  std::function<int64_t()> clock_;
  TxConfig config_;
  ApproverRegistry registry_;
  std::unique_ptr<TxState> state_;
  std::unique_ptr<GroupCommitter> committer_;
  std::mutex keys_mu_;
  std::shared_ptr<const OwnKeys> keys_;  // Guarded by keys_mu_ (the snapshot is immutable).
  // store_->key_generation() when keys_ was read; a request that finds it changed re-reads the
  // keys first, so that a key made or bound through this signerd is never missed by the
  // segregation rules (a new house key as a withdrawal's destination, say).
  uint64_t keys_generation_ = 0;  // Guarded by keys_mu_.
};

}  // namespace ringfence::signer::tx

#endif  // RINGFENCE_SIGNER_TX_TX_SIGNER_H_

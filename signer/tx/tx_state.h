// TxState: the state rules of SignTransaction, kept in signerd's SQLite database (tables
// tx_request, tx_eth_nonce, tx_btc_outpoint; docs/sign_transaction.md).
//
// - A request id is signed for one transaction only: the same transaction again gets the
//   stored signed transaction back; another one is refused (request_conflict).
// - An Ethereum nonce of a sender on a chain id is used by one request only (nonce_reused).
// - A Bitcoin outpoint is spent by one request only (outpoint_spent).
//
// Memory holds only the claims of requests in flight (reserved, not yet committed or
// released); what was committed is looked up in the database, so memory and start time do
// not grow with the number of transactions ever signed. The lookups go through a read-only
// connection of TxState's own to the same file, never through the SignerStore connection,
// whose mutex the log writer holds for a whole batch including its fsync.
//
// Reserve() decides under a mutex against what is committed and what is in flight, and hands
// the caller a TxClaim holding the claims while it signs. The claim is released on every path
// (its destructor, also while an exception unwinds) unless the caller commits it explicitly
// with TxClaim::Commit() once the rows (written by WriteRows through the caller's
// GroupCommitter write, durable together with the sign log entry) are in the database. A
// second request for an id that is in flight with the same transaction waits for the first to
// finish. Owns its read connection and prepared statements. Thread-safe; it must outlive every
// TxClaim it handed out.
#ifndef RINGFENCE_SIGNER_TX_TX_STATE_H_
#define RINGFENCE_SIGNER_TX_TX_STATE_H_

#include <array>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "signer/store.h"
#include "signer/tx/tx_check.h"

struct sqlite3;
struct sqlite3_stmt;

namespace ringfence::signer::tx {

// What a signed request left behind.
struct SignedRecord {
  std::array<uint8_t, 32> fingerprint{};
  std::vector<uint8_t> signed_tx;
  std::string txid;
  uint64_t log_sequence = 0;
};

class TxState;

// The claims of one request in flight (its request id, nonce or outpoints), from Reserve until
// the request is committed or given up. Move-only. Released when it is destroyed or
// overwritten without Commit(), so an early return or an exception between Reserve and the
// durable write never leaves a request id, nonce or outpoint claimed until restart. An empty
// claim (default-constructed, moved from, committed or released) holds nothing. Not
// thread-safe itself: one owner at a time.
class TxClaim {
 public:
  TxClaim() = default;
  TxClaim(TxClaim&& other) noexcept;
  TxClaim& operator=(TxClaim&& other) noexcept;
  TxClaim(const TxClaim&) = delete;
  TxClaim& operator=(const TxClaim&) = delete;
  ~TxClaim() { Release(); }

  // After the request's rows are durable (never before: Reserve relies on it): the claims
  // leave memory, the database answers for them from now on.
  void Commit();
  // The request was not signed (a refusal, a token or log failure): frees the claims at once,
  // so that a retry need not wait for the destructor.
  void Release();
  bool held() const { return state_ != nullptr; }

 private:
  friend class TxState;
  using NonceKey = std::tuple<uint64_t, std::array<uint8_t, 20>, uint64_t>;
  using OutpointKey = std::pair<std::array<uint8_t, 32>, uint32_t>;

  TxState* state_ = nullptr;  // null when nothing is held
  std::string request_id_;
  std::optional<NonceKey> nonce_;
  std::vector<OutpointKey> outpoints_;
};

class TxState {
 public:
  // Creates the tables if missing (inside `store`'s transaction) and opens the read-only
  // connection to the same file; loads nothing. Unavailable/Internal on a database error.
  static absl::StatusOr<std::unique_ptr<TxState>> Open(SignerStore* store);

  struct Decision {
    // Set when the request id was already signed for this very transaction.
    std::optional<SignedRecord> replay;
    // Otherwise the request's claims, held until committed or released (see TxClaim).
    TxClaim claim;
  };

  // Claims the request id, nonce and outpoints of `checked` for this caller, or returns the
  // stored result of an identical earlier request. FailedPrecondition "request_conflict: ...",
  // "nonce_reused: ..." or "outpoint_spent: ..." naming the other request otherwise;
  // Unavailable if the database cannot be read. When no replay is returned the decision's
  // claim holds the request until it is committed (after a durable write) or dropped.
  absl::StatusOr<Decision> Reserve(const CheckedTx& checked);

  // Inside the durable write: inserts the rows for `checked`. Errors are SQLite's.
  // REQUIRES: called from one thread at a time (the log writer); it keeps its prepared
  // statements between calls.
  absl::Status WriteRows(SignerStore::Txn& txn, const CheckedTx& checked, const SignedRecord& record);
  ~TxState();

 private:
  friend class TxClaim;
  using NonceKey = TxClaim::NonceKey;
  using OutpointKey = TxClaim::OutpointKey;

  // Drops `claim`'s entries from memory and wakes the waiters (TxClaim's Commit and Release).
  void Drop(const TxClaim& claim);

  TxState() = default;
  // The cached statement for `sql` on `db` (prepared on first use), reset and unbound.
  absl::StatusOr<sqlite3_stmt*> Statement(sqlite3* db, int slot, const char* sql);
  // Committed state, read through read_db_. REQUIRES: mu_ held. nullopt when absent;
  // Unavailable on a read error.
  absl::StatusOr<std::optional<SignedRecord>> LookupRequest(const std::string& request_id);
  absl::StatusOr<std::optional<std::string>> LookupNonce(const EthNonceClaim& nonce);
  absl::StatusOr<std::optional<std::string>> LookupOutpoint(const chain::OutPoint& outpoint);
  // The cached read statement in `slot` (prepared on first use), reset and unbound.
  // REQUIRES: mu_ held.
  absl::StatusOr<sqlite3_stmt*> ReadStatement(int slot, const char* sql);
  // One read transaction on read_db_ around a Reserve's lookups, ended when the ReadTxn goes.
  // REQUIRES: mu_ held for the ReadTxn's whole life.
  class ReadTxn {
   public:
    explicit ReadTxn(TxState* state) : state_(state) {}
    ReadTxn(ReadTxn&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
    ReadTxn& operator=(ReadTxn&&) = delete;
    ~ReadTxn() {
      if (state_ != nullptr) state_->EndRead();
    }

   private:
    TxState* state_;
  };
  absl::StatusOr<ReadTxn> BeginRead();
  void EndRead();
  static constexpr int kBeginSlot = 3;
  static constexpr int kCommitSlot = 4;

  std::mutex mu_;
  std::condition_variable changed_;
  // Claims of requests in flight only; committed ones live in the database.
  std::map<std::string, std::array<uint8_t, 32>> in_flight_;         // Guarded by mu_.
  std::map<NonceKey, std::string> nonces_;                           // Guarded by mu_.
  std::map<OutpointKey, std::string> outpoints_;                     // Guarded by mu_.

  // The read-only connection and its prepared lookups. Guarded by mu_: a Reserve must read
  // the database and the claims in flight as one step (see Reserve in tx_state.cc), so the
  // reads happen under mu_ anyway and a separate mutex would add nothing.
  sqlite3* read_db_ = nullptr;                                      // Guarded by mu_.
  std::array<sqlite3_stmt*, 5> read_statements_{};                  // Guarded by mu_.

  // Prepared statements of WriteRows; used by the log writer thread only.
  sqlite3* statements_db_ = nullptr;
  std::array<sqlite3_stmt*, 3> statements_{};
};

}  // namespace ringfence::signer::tx

#endif  // RINGFENCE_SIGNER_TX_TX_STATE_H_

// Store: custodyd's durable state behind one interface, so that the embedded SQLite file and a
// server database (PostgreSQL, a later issue) are interchangeable.
//
// Every read and write happens inside a Txn. Rules that depend on concurrency are written for
// concurrent writers with row locks, never for SQLite's single writer: a method documented
// "locks" takes the row (or the account balance) for update until Commit or rollback, so that
// two transactions that read-modify-write the same balance serialise on it (SQLite gets this
// for free from BEGIN IMMEDIATE; PostgreSQL will use SELECT ... FOR UPDATE). A Txn that is
// destroyed without Commit() rolls back and leaves nothing behind.
//
// Amounts are base::Amount and are summed in C++ (16-byte big-endian BLOBs in SQLite), never by
// SQL SUM. Times are Unix milliseconds from the caller's clock (the store has no clock).
//
// Thread-safety: a Store is thread-safe; each Txn belongs to one thread at a time.
#ifndef RINGFENCE_CUSTODY_STORE_STORE_H_
#define RINGFENCE_CUSTODY_STORE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/amount.h"

namespace ringfence::custody::store {

struct ClientRow {
  std::string client_id;
  std::string client_ref;
  bool frozen = false;
  std::string frozen_reason;
  int64_t created_unix_ms = 0;
};

struct WalletRow {
  std::string wallet_id;    // "<asset>:client-hot" ...
  std::string asset_id;
  std::string owner_class;  // "client" | "house"
  std::string tier;         // "hot" | "cold"
  std::string signer;       // named signer holding its keys
};

struct AddressRow {
  std::string address;
  std::string asset_id;
  std::string wallet_id;
  std::string client_id;    // empty for a wallet's own (non-deposit) address
  std::string key_id;
  int64_t created_unix_ms = 0;
};

// A posting moves `amount` on one account, as a debit or a credit. An entry's postings balance
// per asset: the sum of debits equals the sum of credits.
struct Posting {
  std::string account;  // docs/ledger.md names the accounts
  bool debit = false;
  base::Amount amount;
};

struct JournalEntry {
  uint64_t seq = 0;           // assigned by AppendJournal
  std::string asset_id;
  std::string kind;           // "deposit", "deposit_reversal", ...
  std::string reference;      // what it is about ("<txid>:<index>")
  std::vector<Posting> postings;
  int64_t created_unix_ms = 0;
};

// An account's running balance as debits and credits so far (both non-negative): its signed
// balance is debits - credits for an asset account, credits - debits for a liability.
struct AccountBalance {
  base::Amount debits;
  base::Amount credits;
};

enum class DepositStatus { kPending, kCredited, kOrphaned };

struct DepositRow {
  std::string chain;
  std::string txid;
  uint32_t index = 0;
  std::string address;
  std::string asset_id;
  std::string client_id;      // empty: a transfer to one of our addresses that is no deposit address
  base::Amount amount;
  uint64_t block_height = 0;
  std::string block_hash;
  DepositStatus status = DepositStatus::kPending;
  uint64_t credited_seq = 0;  // journal entry that credited it, when credited
};

struct ChainBlockRow {
  std::string chain;
  uint64_t height = 0;
  std::string hash;
  std::string parent_hash;
};

struct IdempotencyRow {
  std::string key;
  std::string method;         // the RPC's full name
  std::string request_hash;   // hex SHA-256 of the deterministic request bytes
  std::string response;       // the serialized first response
};

struct AuditRow {
  uint64_t seq = 0;
  int64_t unix_ms = 0;
  std::string actor;
  std::string action;
  std::string subject;
  std::string details;        // canonical JSON
  std::string prev_hash;      // hex
  std::string hash;           // hex
};

// Where a paginated listing resumes: rows strictly after (or, for newest-first journals, before)
// this cursor. Empty means from the start.
struct Page {
  std::string after;   // id / key cursor, or a decimal seq for journals
  uint32_t limit = 100;
};

class Txn {
 public:
  virtual ~Txn() = default;

  // Makes every write durable (synchronous=FULL / fsync'd WAL). After an error the Txn is
  // rolled back and must not be used.
  virtual absl::Status Commit() = 0;

  // --- idempotency ---------------------------------------------------------------------------
  // Locks the key's row (if any) until the end of the transaction.
  virtual absl::StatusOr<std::optional<IdempotencyRow>> GetIdempotency(const std::string& key) = 0;
  virtual absl::Status PutIdempotency(const IdempotencyRow& row) = 0;

  // --- clients ---------------------------------------------------------------------------------
  virtual absl::StatusOr<std::optional<ClientRow>> GetClient(const std::string& client_id) = 0;
  virtual absl::StatusOr<std::optional<ClientRow>> GetClientByRef(const std::string& client_ref) = 0;
  // ALREADY_EXISTS if the id or the ref is taken.
  virtual absl::Status InsertClient(const ClientRow& row) = 0;
  virtual absl::Status UpdateClientFrozen(const std::string& client_id, bool frozen, const std::string& reason) = 0;
  virtual absl::StatusOr<std::vector<ClientRow>> ListClients(const Page& page) = 0;  // by client_id

  // --- wallets and addresses -------------------------------------------------------------------
  virtual absl::Status UpsertWallet(const WalletRow& row) = 0;
  virtual absl::StatusOr<std::vector<WalletRow>> ListWallets() = 0;
  // ALREADY_EXISTS if the address is known.
  virtual absl::Status InsertAddress(const AddressRow& row) = 0;
  virtual absl::StatusOr<std::optional<AddressRow>> GetAddress(const std::string& address) = 0;
  virtual absl::StatusOr<std::vector<AddressRow>> ListAddressesOfClient(const std::string& client_id,
                                                                        const std::string& asset_id,
                                                                        const Page& page) = 0;
  virtual absl::StatusOr<std::vector<AddressRow>> ListAddressesOfWallet(const std::string& wallet_id) = 0;

  // --- ledger ----------------------------------------------------------------------------------
  // Locks the account's balance row until the end of the transaction; zero for a new account.
  virtual absl::StatusOr<AccountBalance> GetBalanceForUpdate(const std::string& account) = 0;
  virtual absl::StatusOr<AccountBalance> GetBalance(const std::string& account) = 0;
  // Every account with a balance row whose name starts with `prefix`, by name.
  virtual absl::StatusOr<std::vector<std::pair<std::string, AccountBalance>>> ListBalances(
      const std::string& prefix) = 0;
  // Appends the entry with the next seq and applies its postings to the balances (which the
  // caller has locked). REQUIRES: the caller checked balance and non-negativity (the ledger
  // layer does); the store checks only that debits equal credits and aborts otherwise.
  virtual absl::StatusOr<uint64_t> AppendJournal(JournalEntry entry) = 0;
  virtual absl::StatusOr<uint64_t> LastJournalSeq() = 0;
  // Entries with a posting on an account starting with `account_prefix`, newest first,
  // seq < page.after (if set). Optional asset filter.
  virtual absl::StatusOr<std::vector<JournalEntry>> ListJournal(const std::string& account_prefix,
                                                                const std::string& asset_id,
                                                                const Page& page) = 0;
  // Entries with from_seq < seq <= to_seq touching `account_prefix`, oldest first.
  virtual absl::StatusOr<std::vector<JournalEntry>> JournalRange(const std::string& account_prefix,
                                                                 uint64_t from_seq, uint64_t to_seq) = 0;

  // --- chain ingestion -------------------------------------------------------------------------
  virtual absl::StatusOr<std::optional<ChainBlockRow>> GetChainBlock(const std::string& chain, uint64_t height) = 0;
  virtual absl::StatusOr<std::optional<ChainBlockRow>> LastChainBlock(const std::string& chain) = 0;
  virtual absl::Status PutChainBlock(const ChainBlockRow& row) = 0;
  // Forgets blocks above `height` (a reorganisation).
  virtual absl::Status DeleteChainBlocksAbove(const std::string& chain, uint64_t height) = 0;
  // Idempotent on (chain, txid, index): a second insert of the same transfer in the same block
  // is a no-op returning false; the same transfer in another block replaces the orphaned row.
  virtual absl::StatusOr<bool> UpsertDeposit(const DepositRow& row) = 0;
  virtual absl::StatusOr<std::vector<DepositRow>> ListDeposits(const std::string& chain, DepositStatus status) = 0;
  virtual absl::StatusOr<std::vector<DepositRow>> ListDepositsAbove(const std::string& chain, uint64_t height) = 0;
  // Pending deposits with block_height <= max_height, by height: those a new block may have
  // brought to their confirmation count, without reading the ones still too shallow.
  virtual absl::StatusOr<std::vector<DepositRow>> ListPendingDepositsUpTo(const std::string& chain,
                                                                          uint64_t max_height) = 0;
  virtual absl::StatusOr<std::vector<DepositRow>> ListPendingDepositsOfClient(const std::string& client_id) = 0;
  virtual absl::Status SetDepositStatus(const std::string& chain, const std::string& txid, uint32_t index,
                                        DepositStatus status, uint64_t credited_seq) = 0;
  // Last chain-observed balance per wallet (for ListWallets and the segregation report).
  virtual absl::Status PutObservedBalance(const std::string& wallet_id, base::Amount amount, uint64_t height) = 0;
  virtual absl::StatusOr<std::optional<std::pair<base::Amount, uint64_t>>> GetObservedBalance(
      const std::string& wallet_id) = 0;

  // --- audit log -------------------------------------------------------------------------------
  // Locks the head so appends are serialised; the caller computes the hash over the head.
  virtual absl::StatusOr<std::optional<AuditRow>> AuditHeadForUpdate() = 0;
  virtual absl::Status AppendAudit(const AuditRow& row) = 0;
  virtual absl::StatusOr<std::vector<AuditRow>> ListAudit(uint64_t after_seq, uint32_t limit) = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  // Starts a read-write transaction (SQLite: BEGIN IMMEDIATE). UNAVAILABLE if the database is
  // gone; the caller may retry ABORTED (a serialisation failure on a server database).
  virtual absl::StatusOr<std::unique_ptr<Txn>> Begin() = 0;
  // A read-only snapshot transaction; writes through it fail.
  virtual absl::StatusOr<std::unique_ptr<Txn>> BeginRead() = 0;
};

}  // namespace ringfence::custody::store

#endif  // RINGFENCE_CUSTODY_STORE_STORE_H_

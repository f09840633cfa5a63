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
#include <span>
#include <string>
#include <string_view>
#include <utility>
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

// --- whitelists, withdrawals, holds, approvals, policy decisions (schema version 2) ----------
// docs/ledger.md ("Tables (version 2)") and /work/notes' withdrawal schema describe them.

enum class WhitelistState { kPendingApproval, kActive, kRejected, kExpired, kRemoved };
// "pending_approval", "active", "rejected", "expired", "removed".
std::string_view WhitelistStateName(WhitelistState state);
std::optional<WhitelistState> ParseWhitelistState(std::string_view name);

struct WhitelistEntryRow {
  std::string entry_id;           // "wl_" + 16 hex digits
  std::string client_id;
  std::string asset_id;
  std::string address;            // canonical
  std::string label;
  WhitelistState state = WhitelistState::kPendingApproval;
  std::string requester;          // principal id
  uint32_t approvals_required = 0;
  std::string approval_group;     // "" when no approvals are required
  int64_t expires_at_unix_s = 0;  // approvals must be made before this
  int64_t approved_at_unix_s = 0;   // 0 until approved
  int64_t usable_from_unix_s = 0;   // 0 until approved
  std::string reason;             // rejection / removal reason
  std::string policy_hash;
  int64_t created_unix_ms = 0;
  int64_t updated_unix_ms = 0;
};

// One line of a whitelist entry's history (the audit log holds the same, hash-chained).
struct WhitelistChangeRow {
  uint64_t seq = 0;               // assigned by AppendWhitelistChange
  std::string entry_id;
  std::string action;             // "requested", "approval", "approved", "rejected", "expired", "removed"
  std::string actor;
  std::string details;            // canonical JSON
  int64_t unix_ms = 0;
};

enum class WithdrawalState {
  kDenied,
  kPendingApproval,
  kApproved,
  kSigning,
  kSigned,
  kBroadcast,
  kConfirmed,
  kRejected,
  kCancelled,
  kFailed,
};
// "denied", "pending_approval", "approved", "signing", "signed", "broadcast", "confirmed",
// "rejected", "cancelled", "failed".
std::string_view WithdrawalStateName(WithdrawalState state);
std::optional<WithdrawalState> ParseWithdrawalState(std::string_view name);
// Denied, confirmed, rejected, cancelled and failed are final: no transition leaves them.
bool IsFinal(WithdrawalState state);

struct WithdrawalRow {
  std::string withdrawal_id;      // "w_" + 16 hex digits
  uint64_t ordinal = 0;           // creation order, assigned by InsertWithdrawal (1, 2, ...)
  std::string client_id;
  std::string asset_id;
  base::Amount amount;            // what the destination receives
  std::string destination;        // canonical
  std::string whitelist_entry_id; // "" if the destination had no entry (then state is denied)
  std::string source_wallet_id;   // "<asset>:client-hot"
  std::string kind = "withdrawal";  // or "sweep": an internal move, with no client, decision or hold
  std::string chain;              // digest fields, as configured when the withdrawal was made
  std::string network;
  base::Amount fee_cap;           // base units of fee_asset
  std::string fee_asset;          // the chain's native asset
  bool fee_charged_to_client = false;  // native assets: the hold includes fee_cap
  std::string requester;
  WithdrawalState state = WithdrawalState::kPendingApproval;
  std::string reason;
  uint32_t approvals_required = 0;
  std::string approval_group;
  int64_t not_before_unix_s = 0;  // 0: no delay
  int64_t expires_at_unix_s = 0;  // approvals must be made before this; bound by the digest
  uint64_t decision_id = 0;       // policy_decisions row
  std::string policy_hash;
  std::string txid;               // set by RecordSigned
  std::string signed_tx;          // raw signed transaction bytes, set by RecordSigned
  std::optional<base::Amount> network_fee;  // set by SettleWithdrawal
  uint64_t confirmed_height = 0;  // set by SettleWithdrawal
  int64_t created_unix_ms = 0;
  int64_t updated_unix_ms = 0;
  uint64_t event_seq = 0;         // the last withdrawal_events seq of this withdrawal
};

// An internal move (sweep, top-up, fee reimbursement) rather than a client's withdrawal: no
// client, no policy decision, no hold; the executor's alone, and not the platform's to see.
inline bool IsInternalMove(const WithdrawalRow& row) { return row.kind != "withdrawal"; }

enum class HoldState { kHeld, kReleased, kSettled };

// What a withdrawal reserved of its client's balance: `amount` (the withdrawal's amount plus,
// when the client pays the fee, its fee cap) moved client available -> held by journal entry
// `placed_seq`; closed by a release (back to available) or a settlement.
struct HoldRow {
  std::string withdrawal_id;
  std::string client_id;
  std::string asset_id;
  base::Amount amount;
  HoldState state = HoldState::kHeld;
  uint64_t placed_seq = 0;
  uint64_t closed_seq = 0;        // the entry that released or settled it (0 while held)
};

struct ApprovalRow {
  std::string target_id;          // a withdrawal id, a whitelist entry id or an asset freeze id
  std::string target_kind;        // "withdrawal" | "whitelist_add" | "asset_freeze"
  std::string approver_id;
  std::string signature;          // 64 bytes, Ed25519
  std::string digest;             // 32 bytes the signature verified over
  int64_t unix_ms = 0;
};

// A recorded policy decision: the canonical record of policy/record.h (kind, policy hash,
// input, output), replayable by `custodyd policy replay`.
struct PolicyDecisionRow {
  uint64_t decision_id = 0;       // assigned by InsertPolicyDecision (1, 2, ...)
  std::string kind;               // "withdrawal" | "whitelist_change" | "quorum"
  std::string subject_id;         // the withdrawal or whitelist entry it decided
  std::string policy_hash;
  std::string record_json;
  int64_t unix_ms = 0;
};

// One state change of one withdrawal; seq is strictly increasing over all withdrawals
// (WatchWithdrawals resumes from it).
struct WithdrawalEventRow {
  uint64_t seq = 0;
  std::string withdrawal_id;
  std::string client_id;
  WithdrawalState state = WithdrawalState::kPendingApproval;
  std::string reason;
  int64_t unix_ms = 0;
};

struct WithdrawalFilter {
  std::string client_id;                 // "" any
  std::string asset_id;                  // "" any
  std::vector<WithdrawalState> states;   // empty: any
  std::vector<std::string> kinds;        // empty: any ("withdrawal", "sweep", ...)
};

// Where a paginated listing resumes: rows strictly after (or, for newest-first journals, before)
// this cursor. Empty means from the start.
struct Page {
  std::string after;   // id / key cursor, or a decimal seq for journals
  uint32_t limit = 100;
};

// --- reconciliation (schema version 5; custody/reconciler.h, docs/ledger.md) ----------------

// The last reconciliation of one wallet: its chain balance at `height` against what the ledger
// leads one to expect there. Signed figures are decimal text ("-1500", "0", "42").
struct ReconciliationRow {
  std::string wallet_id;
  std::string asset_id;
  std::string chain;
  uint64_t height = 0;
  std::string block_hash;
  base::Amount chain_balance;     // the sum over the wallet's addresses
  base::Amount ledger_balance;    // wallet:<wallet_id> on the books
  std::string expected;           // ledger balance + movements in flight the chain already shows
  std::string difference;         // chain balance - expected
  std::string acknowledged;       // the difference approvers accepted by lifting a freeze ("0" at first)
  std::string state;              // "ok" (difference == acknowledged) | "mismatch"
  std::string addresses;          // canonical JSON: [{"address":..,"balance":..}, ...]
  uint64_t ledger_seq = 0;        // the journal point the figures are of
  int64_t unix_ms = 0;
};

enum class FreezeState { kFrozen, kLifted };
// "frozen", "lifted".
std::string_view FreezeStateName(FreezeState state);

// A freeze of an asset's outgoing movements, raised by the reconciler and lifted by approvals
// (target id = freeze_id, digest policy::FreezeLiftDigest).
struct AssetFreezeRow {
  std::string freeze_id;          // "fz_" + 16 hex digits
  std::string asset_id;
  std::string reason;             // "balance_mismatch", "unknown_transfer" or both, comma-separated
  std::string details;            // canonical JSON: the wallets' differences and the unknown transfers
  uint64_t height = 0;            // the block height it was raised at
  FreezeState state = FreezeState::kFrozen;
  uint32_t approvals_required = 0;
  std::string approval_group;
  int64_t created_unix_ms = 0;
  int64_t updated_unix_ms = 0;
};

// A transfer to one of a client wallet's own addresses (no deposit address) or of another
// asset than the address's, not from our own transaction: booked to unattributed:<asset> by
// the deposit ingestor, recorded here by the reconciler, acknowledged when a freeze lifts.
struct UnknownTransferRow {
  std::string chain;
  std::string txid;
  uint32_t index = 0;
  std::string asset_id;
  std::string address;
  std::string wallet_id;
  base::Amount amount;
  uint64_t block_height = 0;
  bool acknowledged = false;
  std::string freeze_id;          // the freeze it was acknowledged by ("" until then)
  int64_t recorded_unix_ms = 0;
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
  // Addresses in the order they were stored, each with its position, after position `after`
  // (0: from the first), at most `limit` (1..10000). Positions only grow and address rows are
  // never changed or deleted, so a reader that keeps a copy of the addresses (the deposit
  // ingestor's watch set) reads only what was added since the last position it saw. SQLite:
  // the rowid; a server database: a sequence column.
  virtual absl::StatusOr<std::vector<std::pair<uint64_t, AddressRow>>> ListAddressesAddedAfter(uint64_t after,
                                                                                              uint32_t limit) = 0;
  // How many addresses are stored (all wallets): with the above, lets such a reader tell that
  // its copy is whole.
  virtual absl::StatusOr<uint64_t> CountAddresses() = 0;

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
  // AppendJournal for several entries at once: they take consecutive seqs in their order (the
  // first is returned) and each balance they touch is read and written once, with the sum of
  // their postings on it. All or nothing: an append failing half-way leaves none of them.
  // INVALID_ARGUMENT for an empty list. Same REQUIRES as AppendJournal, for every entry and
  // for the balances after the whole list (the ledger's PostBatch checks them in order).
  virtual absl::StatusOr<uint64_t> AppendJournalBatch(std::span<const JournalEntry> entries) = 0;
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

  // --- whitelists ------------------------------------------------------------------------------
  // ALREADY_EXISTS if the id is taken or the client already has a live (pending_approval or
  // active) entry for this asset and address; NOT_FOUND if the client is unknown.
  virtual absl::Status InsertWhitelistEntry(const WhitelistEntryRow& row) = 0;
  // Locks the entry's row until the end of the transaction.
  virtual absl::StatusOr<std::optional<WhitelistEntryRow>> GetWhitelistEntry(const std::string& entry_id) = 0;
  // The live (pending_approval or active) entry for (client, asset, address), if any.
  virtual absl::StatusOr<std::optional<WhitelistEntryRow>> GetLiveWhitelistEntry(const std::string& client_id,
                                                                                const std::string& asset_id,
                                                                                const std::string& address) = 0;
  // Writes state, approved_at, usable_from, reason and updated_unix_ms. NOT_FOUND if absent.
  virtual absl::Status UpdateWhitelistEntry(const WhitelistEntryRow& row) = 0;
  // A client's entries by entry_id (asset optional; live ones only unless include_inactive).
  virtual absl::StatusOr<std::vector<WhitelistEntryRow>> ListWhitelist(const std::string& client_id,
                                                                      const std::string& asset_id,
                                                                      bool include_inactive, const Page& page) = 0;
  // Every entry in pending_approval, by entry_id.
  virtual absl::StatusOr<std::vector<WhitelistEntryRow>> ListPendingWhitelistEntries(const Page& page) = 0;
  virtual absl::StatusOr<uint64_t> AppendWhitelistChange(const WhitelistChangeRow& row) = 0;
  virtual absl::StatusOr<std::vector<WhitelistChangeRow>> ListWhitelistChanges(const std::string& entry_id) = 0;

  // --- policy decisions ------------------------------------------------------------------------
  // Returns the new decision_id.
  virtual absl::StatusOr<uint64_t> InsertPolicyDecision(const PolicyDecisionRow& row) = 0;
  virtual absl::StatusOr<std::optional<PolicyDecisionRow>> GetPolicyDecision(uint64_t decision_id) = 0;
  // Decisions with decision_id > after_id, oldest first, at most `limit` (1..10000).
  virtual absl::StatusOr<std::vector<PolicyDecisionRow>> ListPolicyDecisions(uint64_t after_id, uint32_t limit) = 0;

  // --- withdrawals (request side) --------------------------------------------------------------
  // Serialises everything that reads an asset's outflows to decide a withdrawal (rolling
  // windows across clients): call it first in CreateWithdrawal's transaction. SQLite: a no-op
  // (BEGIN IMMEDIATE already serialises writers); a server database locks the asset's row.
  virtual absl::Status LockAssetOutflows(const std::string& asset_id) = 0;
  // Inserts the row (its ordinal is assigned) and its first event (row.state, row.reason).
  // ALREADY_EXISTS if the id is taken; NOT_FOUND for an unknown client or wallet.
  // Returns the event seq.
  virtual absl::StatusOr<uint64_t> InsertWithdrawal(const WithdrawalRow& row) = 0;
  // Locks the withdrawal's row until the end of the transaction.
  virtual absl::StatusOr<std::optional<WithdrawalRow>> GetWithdrawal(const std::string& withdrawal_id) = 0;
  // Newest first (by ordinal); page.after is the decimal ordinal rows must be below.
  virtual absl::StatusOr<std::vector<WithdrawalRow>> ListWithdrawals(const WithdrawalFilter& filter,
                                                                    const Page& page) = 0;
  // Withdrawals that count against the velocity windows: clients' withdrawals (never internal
  // moves) of this asset (and client, unless empty), created at or after `since_unix_ms`, in any state that holds or moved funds
  // (pending_approval, approved, signing, signed, broadcast, confirmed). Oldest first.
  virtual absl::StatusOr<std::vector<WithdrawalRow>> ListOutflows(const std::string& asset_id,
                                                                 const std::string& client_id,
                                                                 int64_t since_unix_ms) = 0;
  // Moves a withdrawal from one of `from` to `to`, sets reason and updated_unix_ms, appends
  // the event. FAILED_PRECONDITION naming both states if it is not in `from`; NOT_FOUND if
  // absent. Returns the event seq. (The executor functions below are this with their rules.)
  virtual absl::StatusOr<uint64_t> TransitionWithdrawal(const std::string& withdrawal_id,
                                                        std::span<const WithdrawalState> from, WithdrawalState to,
                                                        const std::string& reason, int64_t now_unix_ms) = 0;
  virtual absl::StatusOr<std::vector<WithdrawalEventRow>> ListWithdrawalEvents(uint64_t after_seq,
                                                                              const std::string& client_id,
                                                                              uint32_t limit) = 0;
  virtual absl::StatusOr<uint64_t> LastWithdrawalEventSeq() = 0;
  // The withdrawal whose signed transaction on `chain` has `txid` (recorded by RecordSigned,
  // before any broadcast), if any: the deposit ingestor does not count our own transactions'
  // outputs to our addresses (Bitcoin change) as deposits.
  virtual absl::StatusOr<std::optional<std::string>> FindWithdrawalByTxid(const std::string& chain,
                                                                          const std::string& txid) = 0;

  // Withdrawals in pending_approval whose approval deadline (expires_at_unix_s) is at or before
  // `now_unix_s`, oldest first, at most `limit` (1..10000).
  virtual absl::StatusOr<std::vector<WithdrawalRow>> ListOverdueWithdrawals(int64_t now_unix_s, uint32_t limit) = 0;
  // Whitelist entries in pending_approval whose deadline has passed likewise, by entry_id.
  virtual absl::StatusOr<std::vector<WhitelistEntryRow>> ListOverdueWhitelistEntries(int64_t now_unix_s,
                                                                                    uint32_t limit) = 0;

  // --- holds -----------------------------------------------------------------------------------
  // ALREADY_EXISTS if the withdrawal already has a hold.
  virtual absl::Status InsertHold(const HoldRow& row) = 0;
  // Locks the hold's row.
  virtual absl::StatusOr<std::optional<HoldRow>> GetHold(const std::string& withdrawal_id) = 0;
  // Held -> released or settled, recording the journal entry that did it. FAILED_PRECONDITION
  // if it is not held.
  virtual absl::Status CloseHold(const std::string& withdrawal_id, HoldState to, uint64_t closed_seq) = 0;
  // Every hold still held (for the invariant check: their sum per client and asset equals the
  // client's held account).
  virtual absl::StatusOr<std::vector<HoldRow>> ListOpenHolds() = 0;

  // --- approvals -------------------------------------------------------------------------------
  // ALREADY_EXISTS if this approver already approved the target.
  virtual absl::Status InsertApproval(const ApprovalRow& row) = 0;
  // In the order they were recorded.
  virtual absl::StatusOr<std::vector<ApprovalRow>> ListApprovals(const std::string& target_id) = 0;

  // --- the withdrawal executor (custody/executor.*) -------------------------------------------
  // Approved withdrawals whose not_before has passed, and every withdrawal in signing, signed
  // or broadcast (to resume after a restart), at most `limit` in all: those still to sign or
  // send first (oldest first), then those broadcast and waiting for confirmation (oldest
  // first), so that a backlog of unconfirmed transactions never starves new withdrawals.
  virtual absl::StatusOr<std::vector<WithdrawalRow>> ListExecutable(int64_t now_unix_s, uint32_t limit) = 0;
  // The ids of every withdrawal in signing, signed or broadcast (those whose built transaction
  // may still spend), oldest first, at most `limit`.
  virtual absl::StatusOr<std::vector<std::string>> ListUnfinishedIds(uint32_t limit) = 0;
  // approved -> signing, durably before signerd is asked. FAILED_PRECONDITION unless approved
  // and not_before <= now_unix_ms / 1000. Returns the row as claimed.
  virtual absl::StatusOr<WithdrawalRow> ClaimWithdrawalForSigning(const std::string& withdrawal_id,
                                                                  int64_t now_unix_ms) = 0;
  // signing -> signed with the txid and the raw signed bytes. FAILED_PRECONDITION unless
  // signing; INVALID_ARGUMENT for an empty txid or signed_tx.
  virtual absl::Status RecordSigned(const std::string& withdrawal_id, const std::string& txid,
                                    const std::string& signed_tx, int64_t now_unix_ms) = 0;
  // signed -> broadcast. FAILED_PRECONDITION unless signed.
  virtual absl::Status RecordBroadcast(const std::string& withdrawal_id, int64_t now_unix_ms) = 0;
  // broadcast -> confirmed with the fee paid and the confirmation height; the hold becomes
  // settled by `settle_seq` (the journal entry the caller posted in this transaction).
  // FAILED_PRECONDITION unless broadcast and held.
  virtual absl::Status SettleWithdrawal(const std::string& withdrawal_id, base::Amount network_fee,
                                        uint64_t confirmed_height, uint64_t settle_seq, int64_t now_unix_ms) = 0;
  // signing, signed or broadcast -> failed with `reason`; the hold becomes released by
  // `release_seq` (the journal entry the caller posted in this transaction).
  virtual absl::Status FailWithdrawal(const std::string& withdrawal_id, const std::string& reason,
                                      uint64_t release_seq, int64_t now_unix_ms) = 0;

  // --- reconciliation (custody/reconciler.h) ---------------------------------------------------
  // Deposits on `chain` with no client (booked to unattributed:<asset> or, for a house
  // address, to the house) that are not orphaned, by (txid, index).
  virtual absl::StatusOr<std::vector<DepositRow>> ListClientlessDeposits(const std::string& chain) = 0;
  // Inserts or replaces the wallet's row; an existing row keeps its `acknowledged` (only
  // SetAcknowledgedDifference changes it). NOT_FOUND for an unknown wallet.
  virtual absl::Status PutReconciliation(const ReconciliationRow& row) = 0;
  // Every wallet's last reconciliation, by wallet_id.
  virtual absl::StatusOr<std::vector<ReconciliationRow>> ListReconciliations() = 0;
  // NOT_FOUND if the wallet has no reconciliation row.
  virtual absl::Status SetAcknowledgedDifference(const std::string& wallet_id, const std::string& difference) = 0;
  // ALREADY_EXISTS if the id is taken or the asset already has a freeze in state frozen (at
  // most one per asset, enforced by the store, so concurrent reconcilers cannot raise two).
  virtual absl::Status InsertFreeze(const AssetFreezeRow& row) = 0;
  // Locks the freeze's row until the end of the transaction.
  virtual absl::StatusOr<std::optional<AssetFreezeRow>> GetFreeze(const std::string& freeze_id) = 0;
  // The asset's freeze in state frozen, if any.
  virtual absl::StatusOr<std::optional<AssetFreezeRow>> GetActiveFreeze(const std::string& asset_id) = 0;
  // Every freeze (frozen ones only when `frozen_only`), newest first, at most `limit` (1..10000).
  virtual absl::StatusOr<std::vector<AssetFreezeRow>> ListFreezes(bool frozen_only, uint32_t limit) = 0;
  // frozen -> lifted. FAILED_PRECONDITION unless frozen; NOT_FOUND if absent.
  virtual absl::Status LiftFreeze(const std::string& freeze_id, int64_t now_unix_ms) = 0;
  // Idempotent on (chain, txid, index): returns false (and changes nothing) if recorded already.
  virtual absl::StatusOr<bool> InsertUnknownTransfer(const UnknownTransferRow& row) = 0;
  // Every unknown transfer of the asset ("" any), by (chain, txid, index).
  virtual absl::StatusOr<std::vector<UnknownTransferRow>> ListUnknownTransfers(const std::string& asset_id) = 0;
  // Marks it acknowledged by `freeze_id`. NOT_FOUND if absent (or no such freeze);
  // FAILED_PRECONDITION if it is acknowledged already.
  virtual absl::Status AcknowledgeUnknownTransfer(const std::string& chain, const std::string& txid, uint32_t index,
                                                  const std::string& freeze_id) = 0;

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
  // The same for a transaction expected to be large (a run of blocks' deposits: thousands of
  // statements). A store that commits several writers' transactions together runs this one in
  // a commit of its own, opened by it, so that it pays none of a joining member's costs (in
  // SQLite a savepoint, whose statement journal grows with every page it changes and is walked
  // at the end of each statement). Otherwise as Begin().
  virtual absl::StatusOr<std::unique_ptr<Txn>> BeginLarge() { return Begin(); }
  // A read-only snapshot transaction; writes through it fail.
  virtual absl::StatusOr<std::unique_ptr<Txn>> BeginRead() = 0;
};

}  // namespace ringfence::custody::store

#endif  // RINGFENCE_CUSTODY_STORE_STORE_H_

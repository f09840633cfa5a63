// Ledger: custodyd's double-entry bookkeeping over a store::Txn. Every movement of value is one
// JournalEntry whose postings balance (debits == credits) in one asset; the rules and the
// account names are written up in docs/ledger.md.
//
// Account names (each belongs to exactly one asset):
//   client:<client_id>:<asset>:available   client liability, credit-normal
//   client:<client_id>:<asset>:held        client liability reserved for a withdrawal, credit-normal
//   wallet:<wallet_id>                     what a wallet holds on the books, debit-normal
//   inflight:<wallet_id>                   paid out of a wallet's clients' claims but still in the
//                                          wallet until the chain settles it, credit-normal
//   fees:<asset>                           network fees the house has paid, debit-normal
//   house:<asset>:equity                   the house's own funds, credit-normal
//   unattributed:<asset>                   transfers to our addresses that are no deposit
//                                          address, owed to whoever sent them, credit-normal
//   receivable:<wallet_id>                 what the house owes a client wallet: network fees
//                                          of internal moves (sweeps) paid from the client
//                                          wallet's coins, until the house pays them back;
//                                          debit-normal, counted with the client wallets'
//                                          holdings by the segregation invariant
// where wallet ids are "<asset>:<owner class>-<tier>" (owner class client|house, tier hot|cold).
//
// Ledger::Post is the only way entries are written. It validates the entry (a rule broken by
// what the caller passed is an error and nothing is written), locks every account it touches in
// name order (GetBalanceForUpdate: under a server database two posts on the same accounts
// serialise and never deadlock), checks with checked arithmetic that no account overflows and
// none goes below zero on its normal side, and appends. What it has checked and then finds
// broken (the store applying something other than what was checked) aborts through RF_CHECK.
//
// Stateless; thread-safe as far as the Txn passed in is (one thread per Txn).
#ifndef RINGFENCE_CUSTODY_LEDGER_H_
#define RINGFENCE_CUSTODY_LEDGER_H_

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/amount.h"
#include "custody/store/store.h"

namespace ringfence::custody {

// Limits on what an entry may carry, checked before anything else.
inline constexpr size_t kMaxPostingsPerEntry = 64;
inline constexpr size_t kMaxKindLength = 32;         // [a-z0-9_]
inline constexpr size_t kMaxReferenceLength = 256;   // printable ASCII
inline constexpr size_t kMaxLedgerIdLength = 64;     // asset and client ids: [A-Za-z0-9._-]

enum class AccountKind {
  kClientAvailable,
  kClientHeld,
  kWallet,
  kInflight,
  kFees,
  kHouseEquity,
  kUnattributed,
  kReceivable,
};

enum class NormalSide { kDebit, kCredit };

// An account name taken apart.
struct Account {
  AccountKind kind = AccountKind::kWallet;
  std::string asset_id;
  std::string client_id;    // client accounts only
  std::string wallet_id;    // wallet, inflight and receivable accounts only
  std::string owner_class;  // wallet, inflight and receivable accounts: "client" | "house"
  std::string tier;         // wallet, inflight and receivable accounts: "hot" | "cold"
};

// Parses an account name of the grammar above. InvalidArgument naming `field` and the rule.
absl::StatusOr<Account> ParseAccount(std::string_view name, std::string_view field = "account");

// Parses a wallet id "<asset>:<client|house>-<hot|cold>" into an Account of kind kWallet.
absl::StatusOr<Account> ParseWalletId(std::string_view wallet_id, std::string_view field = "wallet_id");

NormalSide NormalSideOf(AccountKind kind);

// Account names. REQUIRES: the ids are valid (ParseAccount accepts the result).
std::string ClientAvailableAccount(std::string_view client_id, std::string_view asset_id);
std::string ClientHeldAccount(std::string_view client_id, std::string_view asset_id);
std::string WalletAccount(std::string_view wallet_id);
std::string InflightAccount(std::string_view wallet_id);
std::string FeesAccount(std::string_view asset_id);
std::string HouseEquityAccount(std::string_view asset_id);
std::string UnattributedAccount(std::string_view asset_id);
std::string ReceivableAccount(std::string_view wallet_id);
// Every account of one client starts with this ("client:<client_id>:").
std::string ClientAccountPrefix(std::string_view client_id);
// Wallet ids by convention.
std::string WalletId(std::string_view asset_id, std::string_view owner_class, std::string_view tier);

// An account's balance on its normal side (debits - credits for debit-normal accounts, credits -
// debits for credit-normal ones). Aborts if it is negative: Post never lets that happen, so a
// negative balance is a broken invariant.
base::Amount NormalBalance(NormalSide side, const store::AccountBalance& balance, std::string_view account);

// A client's position in one asset.
struct ClientPositionValue {
  base::Amount available;
  base::Amount held;
};

class Ledger {
 public:
  // Validates, locks, checks and appends `entry` (its seq is assigned; created_unix_ms is the
  // caller's clock). Returns the new seq.
  // INVALID_ARGUMENT naming the field for a malformed entry (bad asset, kind, reference or
  // account name, an account of another asset, a zero amount, fewer than 2 or more than
  // kMaxPostingsPerEntry postings, debits != credits); OUT_OF_RANGE if a sum would exceed
  // 2^128 - 1 (the entry's totals or an account's running debits or credits);
  // FAILED_PRECONDITION if an account would go below zero on its normal side. In each case
  // nothing is written. Store errors pass through (the caller then drops the Txn).
  // REQUIRES: `txn` is a read-write transaction.
  static absl::StatusOr<uint64_t> Post(store::Txn& txn, store::JournalEntry entry);

  // Post for several entries as one unit, for a writer with many at once (the deposit
  // ingestor: every credit of a block). Each entry is checked as Post checks it, and judged
  // against the balances the entries before it leave, so the batch is accepted exactly when
  // posting its entries one by one in this order would be; the accounts of all of them are
  // locked once, in name order, and each balance is written once. The entries take
  // consecutive seqs in their order; returns the first. On any error nothing is written and
  // the message names the entry (entries[3] ("deposit" "<reference>"): ...); INVALID_ARGUMENT
  // for an empty list. REQUIRES: `txn` is a read-write transaction.
  static absl::StatusOr<uint64_t> PostBatch(store::Txn& txn, std::span<const store::JournalEntry> entries);

  // The deposit credit of the design: debit wallet:<wallet_id>, credit the client's available
  // account (or unattributed:<asset> when client_id is empty). Not posted; pass it to Post.
  static store::JournalEntry DepositCredit(std::string_view asset_id, std::string_view wallet_id,
                                           std::string_view client_id, base::Amount amount,
                                           std::string_view reference, int64_t now_unix_ms);

  // The client's available and held balance in `asset_id` now (zero for an unknown client).
  static absl::StatusOr<ClientPositionValue> ClientPosition(store::Txn& txn, std::string_view client_id,
                                                            std::string_view asset_id);

  // What a wallet holds on the books now.
  static absl::StatusOr<base::Amount> WalletHolding(store::Txn& txn, std::string_view wallet_id);

  // The client's positions per asset as of journal point `seq` (entries with seq <= `seq`),
  // replayed from the client's postings: what a statement shows. Assets the client never had
  // are absent. Checked arithmetic; DATA_LOSS if the journal does not add up (a negative or
  // overflowing replayed balance), which only a damaged file can cause.
  static absl::StatusOr<std::map<std::string, ClientPositionValue>> PositionsAt(store::Txn& txn,
                                                                               std::string_view client_id,
                                                                               uint64_t seq);
};

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_LEDGER_H_

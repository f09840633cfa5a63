// Invariant checks over custodyd's books (ARCHITECTURE.md invariant 1, segregation, and the
// journal's own consistency), returned as data: GetSegregationReport shows the figures,
// `custodyd check` exits non-zero when they do not hold, and the tests call CheckInvariants
// after every commit.
//
// Per asset, with the account kinds of custody/ledger.h and every figure on its normal side:
//   client liabilities     L = sum of client:*:<asset>:available + held
//   unattributed           U = unattributed:<asset> (funds in client wallets owed to whoever
//                              sent them; shown apart from L)
//   client wallet holdings H = sum of wallet:<asset>:client-*
//   in flight              I = sum of inflight:<asset>:client-*
//   receivables            R = sum of receivable:<asset>:client-* (owed by the house: fees of
//                              internal moves paid from client coins, until paid back)
//   segregation holds when H + R - I == L + U: the client wallets hold, with what the house
//   owes them, exactly what is owed to clients (and to the senders of unattributed
//   transfers), to the last base unit. R is reported apart, so a shortfall the house has not
//   yet made good is visible, never hidden.
//   house wallets          the house side must balance on its own: house holdings + fees ==
//                          house equity + house in flight; any excess in house wallets is
//                          client money there (house_client_funds, must be 0).
// Beside those, with InvariantScope::kFull, the whole journal is read once: every entry
// balances (debits == credits, all postings in the entry's asset, valid account names), and the
// balances replayed from the journal equal the stored balances of every account.
//
// A failed check is reported, never aborted on: this is the tool that looks at a file that
// may have been damaged. Store errors are returned as errors.
//
// Stateless; thread-safe as far as the Txn passed in is (use a read Txn: one snapshot).
#ifndef RINGFENCE_CUSTODY_INVARIANTS_H_
#define RINGFENCE_CUSTODY_INVARIANTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/amount.h"
#include "custody/store/store.h"

namespace ringfence::custody {

struct AssetInvariants {
  std::string asset_id;
  base::Amount client_liabilities;        // L
  base::Amount unattributed;              // U
  base::Amount client_wallet_holdings;    // H
  base::Amount in_flight;                 // I
  base::Amount receivables;               // R
  base::Amount house_holdings;            // sum of wallet:<asset>:house-*
  base::Amount house_in_flight;           // sum of inflight:<asset>:house-*
  base::Amount house_equity;              // house:<asset>:equity
  base::Amount fees;                      // fees:<asset>
  // Client wallets as last observed on the chain (Txn::GetObservedBalance); absent until every
  // client wallet of the asset has been observed. chain_height is the lowest observed height.
  std::optional<base::Amount> client_wallet_chain_holdings;
  uint64_t chain_height = 0;
  // |(H + R - I) - (L + U)|, and whether H + R - I falls short of L + U.
  base::Amount difference;
  bool difference_negative = false;
  base::Amount house_client_funds;        // must be zero
  bool segregated = false;                // H + R - I == L + U
  bool journal_balanced = true;           // kFull: every entry of this asset balances
  bool holds = false;                     // all of the above, and no problem recorded for the asset
  std::vector<std::string> problems;      // one line each, naming the account, figure or seq
};

struct InvariantReport {
  uint64_t ledger_seq = 0;                // the journal point the figures are at
  std::vector<AssetInvariants> assets;    // the requested assets, then any other found, by id
  bool journal_checked = false;           // kFull ran
  bool journal_balanced = true;           // every entry balanced and replayed to the stored balances
  uint64_t first_bad_seq = 0;             // first entry that did not balance (0: none)
  std::vector<std::string> problems;      // not tied to one asset (a malformed account name, ...)
  bool holds = false;                     // every asset holds and there are no general problems
};

enum class InvariantScope {
  kBalances,  // the segregation figures from the stored balances (a report)
  kFull,      // and read the whole journal (tests, `custodyd check`)
};

// REQUIRES: `txn` sees one consistent snapshot (a read Txn, or the write Txn that is open).
absl::StatusOr<InvariantReport> CheckInvariants(store::Txn& txn, const std::vector<std::string>& assets,
                                                InvariantScope scope = InvariantScope::kFull);

// The report as text for logs and `custodyd check`: one line per asset with its figures and
// "holds"/"BROKEN", then one line per problem.
std::string FormatInvariantReport(const InvariantReport& report);

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_INVARIANTS_H_

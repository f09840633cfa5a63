#include "custody/invariants.h"

#include <algorithm>
#include <map>
#include <set>

#include "base/status.h"
#include "base/text.h"
#include "custody/ledger.h"

namespace ringfence::custody {

using base::Amount;
using base::Cat;
using base::Clip;

namespace {

// Journal entries read per JournalRange call in a full check.
constexpr uint64_t kScanChunk = 4096;

// Adds `value` to `*figure`; on overflow records a problem and leaves the figure unchanged.
void AddTo(Amount* figure, Amount value, std::string_view what, AssetInvariants* asset) {
  const std::optional<Amount> sum = figure->CheckedAdd(value);
  if (!sum) {
    asset->problems.push_back(Cat(what, " exceeds 2^128 - 1"));
    return;
  }
  *figure = *sum;
}

// The scan of one entry: empty when it balances, else why not.
std::string EntryProblem(const store::JournalEntry& entry) {
  if (entry.postings.size() < 2) return Cat("journal entry ", entry.seq, " has fewer than 2 postings");
  Amount debits, credits;
  for (const store::Posting& p : entry.postings) {
    absl::StatusOr<Account> account = ParseAccount(p.account);
    if (!account.ok()) return Cat("journal entry ", entry.seq, ": ", account.status().message());
    if (account->asset_id != entry.asset_id) {
      return Cat("journal entry ", entry.seq, " (", Clip(entry.asset_id), ") posts to ", Clip(p.account, 100),
                 " of another asset");
    }
    Amount& side = p.debit ? debits : credits;
    const std::optional<Amount> sum = side.CheckedAdd(p.amount);
    if (!sum) return Cat("journal entry ", entry.seq, ": its ", p.debit ? "debits" : "credits", " overflow");
    side = *sum;
  }
  if (debits != credits) {
    return Cat("journal entry ", entry.seq, " does not balance: debits ", debits.ToBaseUnitString(), ", credits ",
               credits.ToBaseUnitString());
  }
  return "";
}

}  // namespace

absl::StatusOr<InvariantReport> CheckInvariants(store::Txn& txn, const std::vector<std::string>& assets,
                                                InvariantScope scope) {
  InvariantReport report;
  RF_ASSIGN_OR_RETURN(report.ledger_seq, txn.LastJournalSeq());
  RF_ASSIGN_OR_RETURN(const auto balances, txn.ListBalances(""));
  RF_ASSIGN_OR_RETURN(const std::vector<store::WalletRow> wallets, txn.ListWallets());

  std::vector<std::string> order(assets.begin(), assets.end());
  std::map<std::string, AssetInvariants> by_asset;
  for (const std::string& id : assets) by_asset[id].asset_id = id;
  auto asset = [&](const std::string& id) -> AssetInvariants& {
    auto [it, inserted] = by_asset.try_emplace(id);
    if (inserted) {
      it->second.asset_id = id;
      order.push_back(id);
    }
    return it->second;
  };

  // Wallets: the id carries asset, owner class and tier, and the row must agree with it.
  std::map<std::string, store::WalletRow> wallet_rows;
  for (const store::WalletRow& w : wallets) {
    absl::StatusOr<Account> parsed = ParseWalletId(w.wallet_id);
    if (!parsed.ok()) {
      report.problems.push_back(Cat("wallet ", Clip(w.wallet_id), ": ", parsed.status().message()));
      continue;
    }
    AssetInvariants& a = asset(parsed->asset_id);
    if (parsed->asset_id != w.asset_id || parsed->owner_class != w.owner_class || parsed->tier != w.tier) {
      a.problems.push_back(Cat("wallet ", w.wallet_id, " is recorded as ", Clip(w.asset_id), " ",
                               Clip(w.owner_class), "/", Clip(w.tier), ", which its id contradicts"));
    }
    wallet_rows.emplace(w.wallet_id, w);
  }

  for (const auto& [name, balance] : balances) {
    absl::StatusOr<Account> account = ParseAccount(name);
    if (!account.ok()) {
      report.problems.push_back(Cat("balances: ", account.status().message()));
      continue;
    }
    AssetInvariants& a = asset(account->asset_id);
    const NormalSide side = NormalSideOf(account->kind);
    const std::optional<Amount> value = side == NormalSide::kDebit ? balance.debits.CheckedSub(balance.credits)
                                                                   : balance.credits.CheckedSub(balance.debits);
    if (!value) {
      a.problems.push_back(Cat("account ", Clip(name, 100), " is below zero on its normal side (debits ",
                               balance.debits.ToBaseUnitString(), ", credits ", balance.credits.ToBaseUnitString(),
                               ")"));
      continue;
    }
    const bool is_wallet = account->kind == AccountKind::kWallet || account->kind == AccountKind::kInflight ||
                           account->kind == AccountKind::kReceivable;
    if (is_wallet && !wallet_rows.contains(account->wallet_id)) {
      a.problems.push_back(Cat("account ", Clip(name, 100), " names wallet ", account->wallet_id,
                               ", which is not a recorded wallet"));
    }
    const bool client_wallet = account->owner_class == "client";
    switch (account->kind) {
      case AccountKind::kClientAvailable:
      case AccountKind::kClientHeld:
        AddTo(&a.client_liabilities, *value, "client liabilities", &a);
        break;
      case AccountKind::kUnattributed:
        AddTo(&a.unattributed, *value, "unattributed", &a);
        break;
      case AccountKind::kWallet:
        AddTo(client_wallet ? &a.client_wallet_holdings : &a.house_holdings, *value,
              client_wallet ? "client wallet holdings" : "house holdings", &a);
        break;
      case AccountKind::kInflight:
        AddTo(client_wallet ? &a.in_flight : &a.house_in_flight, *value,
              client_wallet ? "in flight" : "house in flight", &a);
        break;
      case AccountKind::kReceivable:
        AddTo(&a.receivables, *value, "receivables", &a);
        break;
      case AccountKind::kFees:
        AddTo(&a.fees, *value, "fees", &a);
        break;
      case AccountKind::kHouseEquity:
        AddTo(&a.house_equity, *value, "house equity", &a);
        break;
    }
  }

  // What the chain showed for the client wallets, once every one of them has been observed.
  std::map<std::string, bool> all_observed;
  for (const auto& [id, w] : wallet_rows) {
    if (w.owner_class != "client") continue;
    AssetInvariants& a = asset(w.asset_id);
    RF_ASSIGN_OR_RETURN(const auto observed, txn.GetObservedBalance(id));
    auto [flag, first] = all_observed.try_emplace(w.asset_id, true);
    if (!observed) {
      flag->second = false;
      continue;
    }
    Amount sum = a.client_wallet_chain_holdings.value_or(Amount::Zero());
    AddTo(&sum, observed->first, "client wallet chain holdings", &a);
    a.client_wallet_chain_holdings = sum;
    a.chain_height = first ? observed->second : std::min(a.chain_height, observed->second);
  }
  for (const auto& [id, observed] : all_observed) {
    if (!observed) {
      by_asset[id].client_wallet_chain_holdings.reset();
      by_asset[id].chain_height = 0;
    }
  }

  if (scope == InvariantScope::kFull) {
    report.journal_checked = true;
    std::map<std::string, store::AccountBalance> replayed;
    uint64_t expected_seq = 1;
    for (uint64_t from = 0; from < report.ledger_seq; from += kScanChunk) {
      const uint64_t to = std::min(report.ledger_seq, from + kScanChunk);
      RF_ASSIGN_OR_RETURN(const std::vector<store::JournalEntry> entries, txn.JournalRange("", from, to));
      for (const store::JournalEntry& entry : entries) {
        if (entry.seq != expected_seq) {
          report.problems.push_back(Cat("journal entries ", expected_seq, "..", entry.seq - 1, " are missing"));
          if (report.first_bad_seq == 0) report.first_bad_seq = expected_seq;
          report.journal_balanced = false;
        }
        expected_seq = entry.seq + 1;
        const std::string problem = EntryProblem(entry);
        if (!problem.empty()) {
          AssetInvariants& a = asset(entry.asset_id);
          a.journal_balanced = false;
          a.problems.push_back(problem);
          report.journal_balanced = false;
          if (report.first_bad_seq == 0) report.first_bad_seq = entry.seq;
        }
        for (const store::Posting& p : entry.postings) {
          store::AccountBalance& b = replayed[p.account];
          Amount& side = p.debit ? b.debits : b.credits;
          const std::optional<Amount> sum = side.CheckedAdd(p.amount);
          if (!sum) {
            report.problems.push_back(Cat("replaying the journal, account ", Clip(p.account, 100),
                                          " overflows at entry ", entry.seq));
            report.journal_balanced = false;
            continue;
          }
          side = *sum;
        }
      }
    }
    if (expected_seq != report.ledger_seq + 1) {
      report.problems.push_back(Cat("journal entries ", expected_seq, "..", report.ledger_seq, " are missing"));
      report.journal_balanced = false;
      if (report.first_bad_seq == 0) report.first_bad_seq = expected_seq;
    }
    // The stored balances must be exactly the journal replayed: an account on one side only, or
    // with other totals, means a balance was written without its entry (or an entry lost).
    std::map<std::string, store::AccountBalance> stored(balances.begin(), balances.end());
    std::set<std::string> names;
    for (const auto& [name, unused] : stored) names.insert(name);
    for (const auto& [name, unused] : replayed) names.insert(name);
    for (const std::string& name : names) {
      const store::AccountBalance s = stored.contains(name) ? stored[name] : store::AccountBalance{};
      const store::AccountBalance r = replayed.contains(name) ? replayed[name] : store::AccountBalance{};
      if (s.debits != r.debits || s.credits != r.credits) {
        report.problems.push_back(Cat("account ", Clip(name, 100), ": stored debits/credits ",
                                      s.debits.ToBaseUnitString(), "/", s.credits.ToBaseUnitString(),
                                      " but the journal adds up to ", r.debits.ToBaseUnitString(), "/",
                                      r.credits.ToBaseUnitString()));
        report.journal_balanced = false;
      }
    }
  }

  if (scope == InvariantScope::kFull) {
    // Withdrawal holds: each client's held account is exactly the holds still open whose
    // withdrawal has not left for the chain (from broadcast on, the amount sits in in-flight),
    // and no finished withdrawal keeps a hold open.
    std::map<std::string, Amount> expected_held;
    RF_ASSIGN_OR_RETURN(std::vector<store::HoldRow> open_holds, txn.ListOpenHolds());
    for (const store::HoldRow& h : open_holds) {
      RF_ASSIGN_OR_RETURN(std::optional<store::WithdrawalRow> w, txn.GetWithdrawal(h.withdrawal_id));
      if (!w) {
        report.problems.push_back(Cat("hold of ", Clip(h.withdrawal_id), " has no withdrawal"));
        continue;
      }
      if (store::IsFinal(w->state)) {
        report.problems.push_back(Cat("withdrawal ", w->withdrawal_id, " is ", store::WithdrawalStateName(w->state),
                                      " but its hold of ", h.amount.ToBaseUnitString(), " is still open"));
        continue;
      }
      if (w->state == store::WithdrawalState::kBroadcast) continue;
      Amount& sum = expected_held[ClientHeldAccount(h.client_id, h.asset_id)];
      const std::optional<Amount> next = sum.CheckedAdd(h.amount);
      if (!next) {
        report.problems.push_back(Cat("holds of ", h.client_id, " in ", h.asset_id, " exceed 2^128 - 1"));
        continue;
      }
      sum = *next;
    }
    for (const auto& [name, balance] : balances) {
      absl::StatusOr<Account> account = ParseAccount(name);
      if (!account.ok() || account->kind != AccountKind::kClientHeld) continue;
      if (balance.credits < balance.debits) continue;  // reported above as below zero
      const Amount held = *balance.credits.CheckedSub(balance.debits);
      auto it = expected_held.find(name);
      const Amount expected = it == expected_held.end() ? Amount::Zero() : it->second;
      if (held != expected) {
        report.problems.push_back(Cat("account ", Clip(name, 100), " holds ", held.ToBaseUnitString(),
                                      " but its open withdrawal holds add up to ", expected.ToBaseUnitString()));
      }
      if (it != expected_held.end()) expected_held.erase(it);
    }
    for (const auto& [name, expected] : expected_held) {
      if (!expected.is_zero()) {
        report.problems.push_back(Cat("account ", Clip(name, 100), " holds 0 but its open withdrawal holds add up to ",
                                      expected.ToBaseUnitString()));
      }
    }
  }

  report.holds = report.problems.empty() && report.journal_balanced;
  for (const std::string& id : order) {
    AssetInvariants& a = by_asset[id];
    // H + R - I against L + U, compared as H + R against I + L + U so that nothing goes negative.
    Amount owed = a.in_flight;
    AddTo(&owed, a.client_liabilities, "in flight + liabilities", &a);
    AddTo(&owed, a.unattributed, "in flight + liabilities + unattributed", &a);
    Amount held = a.client_wallet_holdings;
    AddTo(&held, a.receivables, "client wallet holdings + receivables", &a);
    a.difference_negative = held < owed;
    a.difference = a.difference_negative ? base::AmountOrDie(owed.CheckedSub(held))
                                         : base::AmountOrDie(held.CheckedSub(owed));
    a.segregated = a.difference.is_zero();
    if (!a.segregated) {
      a.problems.push_back(Cat("client wallets hold ", a.client_wallet_holdings.ToBaseUnitString(), " + receivables ",
                               a.receivables.ToBaseUnitString(), " - in flight ",
                               a.in_flight.ToBaseUnitString(), ", but clients are owed ",
                               a.client_liabilities.ToBaseUnitString(), " + unattributed ",
                               a.unattributed.ToBaseUnitString(), " (", a.difference_negative ? "short by " : "over by ",
                               a.difference.ToBaseUnitString(), ")"));
    }
    Amount house_side = a.house_holdings;
    AddTo(&house_side, a.fees, "house holdings + fees", &a);
    Amount house_owned = a.house_equity;
    AddTo(&house_owned, a.house_in_flight, "house equity + in flight", &a);
    a.house_client_funds = house_side > house_owned ? base::AmountOrDie(house_side.CheckedSub(house_owned))
                                                    : Amount::Zero();
    if (!a.house_client_funds.is_zero()) {
      a.problems.push_back(Cat("house wallets hold ", a.house_client_funds.ToBaseUnitString(),
                               " beyond the house's own equity: client funds in a house wallet"));
    }
    a.holds = a.problems.empty() && a.journal_balanced;
    if (!a.holds) report.holds = false;
    report.assets.push_back(a);
  }
  return report;
}

std::string FormatInvariantReport(const InvariantReport& report) {
  std::string out = Cat("ledger seq ", report.ledger_seq, report.journal_checked ? ", journal checked" : "",
                        ": ", report.holds ? "holds" : "BROKEN", "\n");
  for (const AssetInvariants& a : report.assets) {
    out += Cat("  ", a.asset_id, ": ", a.holds ? "holds" : "BROKEN", " client_liabilities=",
               a.client_liabilities.ToBaseUnitString(), " unattributed=", a.unattributed.ToBaseUnitString(),
               " client_wallet_holdings=", a.client_wallet_holdings.ToBaseUnitString(),
               " in_flight=", a.in_flight.ToBaseUnitString(), " receivables=", a.receivables.ToBaseUnitString(),
               " house_holdings=", a.house_holdings.ToBaseUnitString(),
               " house_client_funds=", a.house_client_funds.ToBaseUnitString(), " difference=",
               a.difference_negative ? "-" : "", a.difference.ToBaseUnitString(), "\n");
    for (const std::string& p : a.problems) out += Cat("    problem: ", p, "\n");
  }
  for (const std::string& p : report.problems) out += Cat("  problem: ", p, "\n");
  return out;
}

}  // namespace ringfence::custody

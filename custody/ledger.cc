#include "custody/ledger.h"

#include <algorithm>
#include <span>
#include <vector>

#include "base/check.h"
#include "base/status.h"
#include "base/text.h"

namespace ringfence::custody {

using base::Amount;
using base::Cat;
using base::Clip;

namespace {

constexpr size_t kMaxAccountLength = 256;

bool IsIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

absl::Status CheckId(std::string_view id, std::string_view field, std::string_view what) {
  if (id.empty() || id.size() > kMaxLedgerIdLength) {
    return absl::InvalidArgumentError(
        Cat(field, ": ", what, " must be 1..", kMaxLedgerIdLength, " bytes, got ", Clip(id)));
  }
  for (char c : id) {
    if (!IsIdChar(c)) {
      return absl::InvalidArgumentError(Cat(field, ": ", what, " ", Clip(id), " may hold only [A-Za-z0-9._-]"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckKind(std::string_view kind) {
  if (kind.empty() || kind.size() > kMaxKindLength) {
    return absl::InvalidArgumentError(Cat("kind must be 1..", kMaxKindLength, " bytes, got ", Clip(kind)));
  }
  for (char c : kind) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return absl::InvalidArgumentError(Cat("kind ", Clip(kind), " may hold only [a-z0-9_]"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckReference(std::string_view reference) {
  if (reference.size() > kMaxReferenceLength) {
    return absl::InvalidArgumentError(
        Cat("reference is ", reference.size(), " bytes, above the limit of ", kMaxReferenceLength));
  }
  for (char c : reference) {
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(Cat("reference ", Clip(reference), " must be printable ASCII"));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string_view> SplitColons(std::string_view text) {
  std::vector<std::string_view> parts;
  for (;;) {
    const size_t colon = text.find(':');
    parts.push_back(text.substr(0, colon));
    if (colon == std::string_view::npos) return parts;
    text.remove_prefix(colon + 1);
  }
}

// Per account: the entry's debits and credits on it.
struct Movement {
  NormalSide side = NormalSide::kDebit;
  Amount debits;
  Amount credits;
};

}  // namespace

absl::StatusOr<Account> ParseWalletId(std::string_view wallet_id, std::string_view field) {
  const size_t colon = wallet_id.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(
        Cat(field, ": wallet id ", Clip(wallet_id), " is not <asset>:<client|house>-<hot|cold>"));
  }
  Account account;
  account.kind = AccountKind::kWallet;
  account.asset_id = std::string(wallet_id.substr(0, colon));
  RF_RETURN_IF_ERROR(CheckId(account.asset_id, field, "the wallet's asset"));
  const std::string_view role = wallet_id.substr(colon + 1);
  if (role == "client-hot" || role == "client-cold" || role == "house-hot" || role == "house-cold") {
    const size_t dash = role.find('-');
    account.owner_class = std::string(role.substr(0, dash));
    account.tier = std::string(role.substr(dash + 1));
  } else {
    return absl::InvalidArgumentError(
        Cat(field, ": wallet id ", Clip(wallet_id), " must end in client-hot, client-cold, house-hot or house-cold"));
  }
  account.wallet_id = std::string(wallet_id);
  return account;
}

absl::StatusOr<Account> ParseAccount(std::string_view name, std::string_view field) {
  if (name.empty() || name.size() > kMaxAccountLength) {
    return absl::InvalidArgumentError(
        Cat(field, ": an account name must be 1..", kMaxAccountLength, " bytes, got ", Clip(name)));
  }
  const std::vector<std::string_view> parts = SplitColons(name);
  auto bad = [&](std::string_view rule) {
    return absl::InvalidArgumentError(Cat(field, ": account ", Clip(name), " ", rule));
  };
  const std::string_view type = parts[0];
  Account account;
  if (type == "client") {
    if (parts.size() != 4) return bad("is not client:<client_id>:<asset>:available|held");
    RF_RETURN_IF_ERROR(CheckId(parts[1], field, "client id"));
    RF_RETURN_IF_ERROR(CheckId(parts[2], field, "asset id"));
    if (parts[3] == "available") {
      account.kind = AccountKind::kClientAvailable;
    } else if (parts[3] == "held") {
      account.kind = AccountKind::kClientHeld;
    } else {
      return bad("must end in :available or :held");
    }
    account.client_id = std::string(parts[1]);
    account.asset_id = std::string(parts[2]);
    return account;
  }
  if (type == "wallet" || type == "inflight" || type == "receivable") {
    if (parts.size() != 3) return bad(Cat("is not ", type, ":<asset>:<client|house>-<hot|cold>"));
    RF_ASSIGN_OR_RETURN(account, ParseWalletId(name.substr(type.size() + 1), field));
    account.kind = type == "wallet"     ? AccountKind::kWallet
                   : type == "inflight" ? AccountKind::kInflight
                                        : AccountKind::kReceivable;
    if (account.kind == AccountKind::kReceivable && account.owner_class != "client") {
      return bad("is a receivable of a house wallet; only client wallets have receivables");
    }
    return account;
  }
  if (type == "fees" || type == "unattributed") {
    if (parts.size() != 2) return bad(Cat("is not ", type, ":<asset>"));
    RF_RETURN_IF_ERROR(CheckId(parts[1], field, "asset id"));
    account.kind = type == "fees" ? AccountKind::kFees : AccountKind::kUnattributed;
    account.asset_id = std::string(parts[1]);
    return account;
  }
  if (type == "house") {
    if (parts.size() != 3 || parts[2] != "equity") return bad("is not house:<asset>:equity");
    RF_RETURN_IF_ERROR(CheckId(parts[1], field, "asset id"));
    account.kind = AccountKind::kHouseEquity;
    account.asset_id = std::string(parts[1]);
    return account;
  }
  return bad("has no known type (client, wallet, inflight, receivable, fees, house, unattributed)");
}

NormalSide NormalSideOf(AccountKind kind) {
  switch (kind) {
    case AccountKind::kWallet:
    case AccountKind::kFees:
    case AccountKind::kReceivable:
      return NormalSide::kDebit;
    case AccountKind::kClientAvailable:
    case AccountKind::kClientHeld:
    case AccountKind::kInflight:
    case AccountKind::kHouseEquity:
    case AccountKind::kUnattributed:
      return NormalSide::kCredit;
  }
  return NormalSide::kCredit;
}

std::string ClientAvailableAccount(std::string_view client_id, std::string_view asset_id) {
  return Cat("client:", client_id, ":", asset_id, ":available");
}
std::string ClientHeldAccount(std::string_view client_id, std::string_view asset_id) {
  return Cat("client:", client_id, ":", asset_id, ":held");
}
std::string WalletAccount(std::string_view wallet_id) { return Cat("wallet:", wallet_id); }
std::string InflightAccount(std::string_view wallet_id) { return Cat("inflight:", wallet_id); }
std::string FeesAccount(std::string_view asset_id) { return Cat("fees:", asset_id); }
std::string HouseEquityAccount(std::string_view asset_id) { return Cat("house:", asset_id, ":equity"); }
std::string UnattributedAccount(std::string_view asset_id) { return Cat("unattributed:", asset_id); }
std::string ReceivableAccount(std::string_view wallet_id) { return Cat("receivable:", wallet_id); }
std::string ClientAccountPrefix(std::string_view client_id) { return Cat("client:", client_id, ":"); }
std::string WalletId(std::string_view asset_id, std::string_view owner_class, std::string_view tier) {
  return Cat(asset_id, ":", owner_class, "-", tier);
}

Amount NormalBalance(NormalSide side, const store::AccountBalance& balance, std::string_view account) {
  const std::optional<Amount> value = side == NormalSide::kDebit ? balance.debits.CheckedSub(balance.credits)
                                                                 : balance.credits.CheckedSub(balance.debits);
  RF_CHECK(value.has_value(), Cat("account ", Clip(account, 100), " is below zero on its normal side (debits ",
                                  balance.debits.ToBaseUnitString(), ", credits ", balance.credits.ToBaseUnitString(),
                                  ")"));
  return *value;
}

namespace {

// Step 1 of Post for one entry: its fields, accounts and amounts, and that it balances.
// Appends the entry's net movement per account to `movements` (one element per account, by
// name).
absl::Status CheckEntry(const store::JournalEntry& entry, std::vector<std::pair<std::string_view, Movement>>* movements) {
  RF_RETURN_IF_ERROR(CheckId(entry.asset_id, "asset_id", "asset id"));
  RF_RETURN_IF_ERROR(CheckKind(entry.kind));
  RF_RETURN_IF_ERROR(CheckReference(entry.reference));
  if (entry.postings.size() < 2 || entry.postings.size() > kMaxPostingsPerEntry) {
    return absl::InvalidArgumentError(
        Cat("postings: an entry has 2..", kMaxPostingsPerEntry, " postings, got ", entry.postings.size()));
  }
  Amount total_debits, total_credits;
  const size_t first = movements->size();
  for (size_t i = 0; i < entry.postings.size(); ++i) {
    const store::Posting& p = entry.postings[i];
    const std::string field = Cat("postings[", i, "]");
    RF_ASSIGN_OR_RETURN(Account account, ParseAccount(p.account, Cat(field, ".account")));
    if (account.asset_id != entry.asset_id) {
      return absl::InvalidArgumentError(Cat(field, ".account: ", Clip(p.account, 100), " belongs to asset ",
                                            account.asset_id, ", the entry is in ", entry.asset_id));
    }
    if (p.amount.is_zero()) return absl::InvalidArgumentError(Cat(field, ".amount must be above zero"));
    Amount& total = p.debit ? total_debits : total_credits;
    const std::optional<Amount> sum = total.CheckedAdd(p.amount);
    if (!sum) {
      return absl::OutOfRangeError(
          Cat("postings: the entry's ", p.debit ? "debits" : "credits", " exceed 2^128 - 1"));
    }
    total = *sum;
    // At most kMaxPostingsPerEntry accounts: a linear search is the cheap way to merge them.
    auto it = std::find_if(movements->begin() + static_cast<std::ptrdiff_t>(first), movements->end(),
                           [&](const auto& m) { return m.first == p.account; });
    if (it == movements->end()) {
      movements->emplace_back(p.account, Movement{NormalSideOf(account.kind), Amount(), Amount()});
      it = movements->end() - 1;
    }
    // Bounded by the entry's total, which did not overflow.
    Amount& side = p.debit ? it->second.debits : it->second.credits;
    side = base::AmountOrDie(side.CheckedAdd(p.amount));
  }
  if (total_debits != total_credits) {
    return absl::InvalidArgumentError(Cat("postings: the entry does not balance: debits ",
                                          total_debits.ToBaseUnitString(), ", credits ",
                                          total_credits.ToBaseUnitString()));
  }
  // In name order, so that of several accounts an entry cannot move, the first by name is named.
  std::sort(movements->begin() + static_cast<std::ptrdiff_t>(first), movements->end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return absl::OkStatus();
}

// Step 3 of Post for one account: `balance` moved by `m`, or why it may not be.
absl::StatusOr<store::AccountBalance> Apply(std::string_view name, const store::AccountBalance& balance,
                                            const Movement& m) {
  const std::optional<Amount> debits = balance.debits.CheckedAdd(m.debits);
  const std::optional<Amount> credits = balance.credits.CheckedAdd(m.credits);
  if (!debits || !credits) {
    return absl::OutOfRangeError(
        Cat("account ", Clip(name, 100), ": its running ", !debits ? "debits" : "credits", " would exceed 2^128 - 1"));
  }
  const bool below_zero = m.side == NormalSide::kDebit ? *debits < *credits : *credits < *debits;
  if (below_zero) {
    return absl::FailedPreconditionError(
        Cat("account ", Clip(name, 100), " has ", NormalBalance(m.side, balance, name).ToBaseUnitString(),
            " and cannot go below zero (the entry takes ",
            (m.side == NormalSide::kDebit ? m.credits : m.debits).ToBaseUnitString(), " and gives ",
            (m.side == NormalSide::kDebit ? m.debits : m.credits).ToBaseUnitString(), ")"));
  }
  return store::AccountBalance{*debits, *credits};
}

// Post and PostBatch: every entry checked, the accounts of all of them locked once in name
// order, each entry judged in turn against the balances the ones before it leave, then all
// appended together and the balances read back. `name_entries` prefixes an error with the
// entry it is about (PostBatch); Post's errors are the entry's own.
absl::StatusOr<uint64_t> PostEntries(store::Txn& txn, std::span<const store::JournalEntry> entries,
                                     bool name_entries) {
  auto about = [&](size_t i, const absl::Status& s) {
    if (!name_entries) return s;
    return absl::Status(s.code(), Cat("entries[", i, "] (", Clip(entries[i].kind), " ", Clip(entries[i].reference, 80),
                                      "): ", s.message()));
  };
  if (entries.empty()) return absl::InvalidArgumentError("entries: at least one entry to post");
  std::vector<std::pair<std::string_view, Movement>> movements;
  std::vector<size_t> ends;  // entry i's movements are [ends[i-1], ends[i])
  movements.reserve(entries.size() * 2);
  ends.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    if (absl::Status s = CheckEntry(entries[i], &movements); !s.ok()) return about(i, s);
    ends.push_back(movements.size());
  }

  // Every account, in name order: the lock order, and the running balance while judging.
  std::map<std::string_view, store::AccountBalance> balances;
  for (const auto& [name, m] : movements) balances.emplace(name, store::AccountBalance{});
  for (auto& [name, balance] : balances) {
    RF_ASSIGN_OR_RETURN(balance, txn.GetBalanceForUpdate(std::string(name)));
  }
  for (size_t i = 0, begin = 0; i < entries.size(); begin = ends[i], ++i) {
    for (size_t k = begin; k < ends[i]; ++k) {
      store::AccountBalance& balance = balances.find(movements[k].first)->second;
      absl::StatusOr<store::AccountBalance> moved = Apply(movements[k].first, balance, movements[k].second);
      if (!moved.ok()) return about(i, moved.status());
      balance = *moved;
    }
  }

  RF_ASSIGN_OR_RETURN(const uint64_t first, txn.AppendJournalBatch(entries));
  for (const auto& [name, want] : balances) {
    RF_ASSIGN_OR_RETURN(store::AccountBalance got, txn.GetBalance(std::string(name)));
    RF_CHECK(got.debits == want.debits && got.credits == want.credits,
             Cat("journal entries ", first, "..", first + entries.size() - 1, " left account ", Clip(name, 100),
                 " at a balance other than the one the ledger checked"));
  }
  return first;
}

}  // namespace

absl::StatusOr<uint64_t> Ledger::Post(store::Txn& txn, store::JournalEntry entry) {
  return PostEntries(txn, std::span<const store::JournalEntry>(&entry, 1), /*name_entries=*/false);
}

absl::StatusOr<uint64_t> Ledger::PostBatch(store::Txn& txn, std::span<const store::JournalEntry> entries) {
  return PostEntries(txn, entries, /*name_entries=*/true);
}

store::JournalEntry Ledger::DepositCredit(std::string_view asset_id, std::string_view wallet_id,
                                          std::string_view client_id, Amount amount, std::string_view reference,
                                          int64_t now_unix_ms) {
  store::JournalEntry entry;
  entry.asset_id = std::string(asset_id);
  entry.kind = "deposit";
  entry.reference = std::string(reference);
  entry.created_unix_ms = now_unix_ms;
  entry.postings.push_back(store::Posting{WalletAccount(wallet_id), /*debit=*/true, amount});
  entry.postings.push_back(store::Posting{
      client_id.empty() ? UnattributedAccount(asset_id) : ClientAvailableAccount(client_id, asset_id),
      /*debit=*/false, amount});
  return entry;
}

absl::StatusOr<ClientPositionValue> Ledger::ClientPosition(store::Txn& txn, std::string_view client_id,
                                                          std::string_view asset_id) {
  const std::string available = ClientAvailableAccount(client_id, asset_id);
  const std::string held = ClientHeldAccount(client_id, asset_id);
  RF_ASSIGN_OR_RETURN(store::AccountBalance a, txn.GetBalance(available));
  RF_ASSIGN_OR_RETURN(store::AccountBalance h, txn.GetBalance(held));
  return ClientPositionValue{NormalBalance(NormalSide::kCredit, a, available),
                             NormalBalance(NormalSide::kCredit, h, held)};
}

absl::StatusOr<Amount> Ledger::WalletHolding(store::Txn& txn, std::string_view wallet_id) {
  const std::string account = WalletAccount(wallet_id);
  RF_ASSIGN_OR_RETURN(store::AccountBalance balance, txn.GetBalance(account));
  return NormalBalance(NormalSide::kDebit, balance, account);
}

absl::StatusOr<std::map<std::string, ClientPositionValue>> Ledger::PositionsAt(store::Txn& txn,
                                                                              std::string_view client_id,
                                                                              uint64_t seq) {
  const std::string prefix = ClientAccountPrefix(client_id);
  RF_ASSIGN_OR_RETURN(std::vector<store::JournalEntry> entries, txn.JournalRange(prefix, 0, seq));
  std::map<std::string, ClientPositionValue> positions;
  for (const store::JournalEntry& entry : entries) {
    // Credits first, then debits: each entry leaves every balance at or above zero, but within
    // an entry a debit may be listed before the credit that covers it.
    for (const bool debit_pass : {false, true}) {
      for (const store::Posting& p : entry.postings) {
        if (p.debit != debit_pass || p.account.compare(0, prefix.size(), prefix) != 0) continue;
        absl::StatusOr<Account> account = ParseAccount(p.account);
        if (!account.ok()) {
          return absl::DataLossError(Cat("journal entry ", entry.seq, ": ", account.status().message()));
        }
        ClientPositionValue& position = positions[account->asset_id];
        Amount& value = account->kind == AccountKind::kClientHeld ? position.held : position.available;
        const std::optional<Amount> next = p.debit ? value.CheckedSub(p.amount) : value.CheckedAdd(p.amount);
        if (!next) {
          return absl::DataLossError(Cat("journal entry ", entry.seq, " takes account ", Clip(p.account, 100),
                                         p.debit ? " below zero" : " above 2^128 - 1", " on replay"));
        }
        value = *next;
      }
    }
  }
  return positions;
}

}  // namespace ringfence::custody

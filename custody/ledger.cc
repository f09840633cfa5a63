#include "custody/ledger.h"

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
  if (type == "wallet" || type == "inflight") {
    if (parts.size() != 3) return bad(Cat("is not ", type, ":<asset>:<client|house>-<hot|cold>"));
    RF_ASSIGN_OR_RETURN(account, ParseWalletId(name.substr(type.size() + 1), field));
    account.kind = type == "wallet" ? AccountKind::kWallet : AccountKind::kInflight;
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
  return bad("has no known type (client, wallet, inflight, fees, house, unattributed)");
}

NormalSide NormalSideOf(AccountKind kind) {
  switch (kind) {
    case AccountKind::kWallet:
    case AccountKind::kFees:
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

absl::StatusOr<uint64_t> Ledger::Post(store::Txn& txn, store::JournalEntry entry) {
  RF_RETURN_IF_ERROR(CheckId(entry.asset_id, "asset_id", "asset id"));
  RF_RETURN_IF_ERROR(CheckKind(entry.kind));
  RF_RETURN_IF_ERROR(CheckReference(entry.reference));
  if (entry.postings.size() < 2 || entry.postings.size() > kMaxPostingsPerEntry) {
    return absl::InvalidArgumentError(
        Cat("postings: an entry has 2..", kMaxPostingsPerEntry, " postings, got ", entry.postings.size()));
  }
  Amount total_debits, total_credits;
  std::map<std::string, Movement> movements;  // ordered by name: the lock order
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
    Movement& m = movements[p.account];
    m.side = NormalSideOf(account.kind);
    // Bounded by the entry's total, which did not overflow.
    Amount& side = p.debit ? m.debits : m.credits;
    side = base::AmountOrDie(side.CheckedAdd(p.amount));
  }
  if (total_debits != total_credits) {
    return absl::InvalidArgumentError(Cat("postings: the entry does not balance: debits ",
                                          total_debits.ToBaseUnitString(), ", credits ",
                                          total_credits.ToBaseUnitString()));
  }

  std::map<std::string, store::AccountBalance> expected;
  for (const auto& [name, m] : movements) {
    RF_ASSIGN_OR_RETURN(store::AccountBalance balance, txn.GetBalanceForUpdate(name));
    const std::optional<Amount> debits = balance.debits.CheckedAdd(m.debits);
    const std::optional<Amount> credits = balance.credits.CheckedAdd(m.credits);
    if (!debits || !credits) {
      return absl::OutOfRangeError(
          Cat("account ", Clip(name, 100), ": its running ", !debits ? "debits" : "credits", " would exceed 2^128 - 1"));
    }
    const bool below_zero = m.side == NormalSide::kDebit ? *debits < *credits : *credits < *debits;
    if (below_zero) {
      const store::AccountBalance before = balance;
      return absl::FailedPreconditionError(
          Cat("account ", Clip(name, 100), " has ", NormalBalance(m.side, before, name).ToBaseUnitString(),
              " and cannot go below zero (the entry takes ",
              (m.side == NormalSide::kDebit ? m.credits : m.debits).ToBaseUnitString(), " and gives ",
              (m.side == NormalSide::kDebit ? m.debits : m.credits).ToBaseUnitString(), ")"));
    }
    expected[name] = store::AccountBalance{*debits, *credits};
  }

  RF_ASSIGN_OR_RETURN(const uint64_t seq, txn.AppendJournal(std::move(entry)));
  for (const auto& [name, want] : expected) {
    RF_ASSIGN_OR_RETURN(store::AccountBalance got, txn.GetBalance(name));
    RF_CHECK(got.debits == want.debits && got.credits == want.credits,
             Cat("journal entry ", seq, " left account ", Clip(name, 100),
                 " at a balance other than the one the ledger checked"));
  }
  return seq;
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

#include "tools/custody_cli/render.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "base/amount.h"
#include "base/text.h"

namespace ringfence::custody_cli {
namespace {

using base::Cat;

std::string OwnerClassName(v1::OwnerClass c) {
  switch (c) {
    case v1::OWNER_CLASS_CLIENT:
      return "client";
    case v1::OWNER_CLASS_HOUSE:
      return "house";
    default:
      return "unspecified";
  }
}

std::string TierName(v1::Tier t) {
  switch (t) {
    case v1::TIER_HOT:
      return "hot";
    case v1::TIER_COLD:
      return "cold";
    default:
      return "unspecified";
  }
}

std::string NextPage(const std::string& token) {
  return token.empty() ? "" : Cat("next page: --page-token ", token, "\n");
}

// "label  value" lines with the labels padded to one width.
std::string Fields(const std::vector<std::pair<std::string, std::string>>& fields, std::string_view indent) {
  size_t width = 0;
  for (const auto& [label, unused] : fields) width = std::max(width, label.size());
  std::string out;
  for (const auto& [label, value] : fields) {
    out += Cat(indent, label, std::string(width - label.size() + 2, ' '), value, "\n");
  }
  return out;
}

std::string PostingsLine(const v1::LedgerEntry& e) {
  std::string out;
  for (const v1::Posting& p : e.postings()) {
    const bool debit = !p.debit().empty() && p.debit() != "0";
    out += Cat("      ", debit ? "debit  " : "credit ", p.account(), "  ",
               ShowAmount(debit ? p.debit() : p.credit(), e.decimals(), e.asset_id()), "\n");
  }
  return out;
}

std::string Entries(const google::protobuf::RepeatedPtrField<v1::LedgerEntry>& entries) {
  std::string out;
  for (const v1::LedgerEntry& e : entries) {
    out += Cat("  seq ", e.seq(), "  ", ShowTime(e.created_unix_ms()), "  ", e.asset_id(), "  ", e.kind(), "  ",
               e.reference(), "\n");
    out += PostingsLine(e);
  }
  return out;
}

std::string Positions(const google::protobuf::RepeatedPtrField<v1::Position>& positions) {
  Table t({"ASSET", "AVAILABLE", "HELD"});
  for (const v1::Position& p : positions) {
    t.AddRow({p.asset_id(), ShowAmount(p.available(), p.decimals(), p.asset_id()),
              ShowAmount(p.held(), p.decimals(), p.asset_id())});
  }
  std::string out;
  const std::string table = t.Render();
  size_t start = 0;
  while (start < table.size()) {
    const size_t end = table.find('\n', start);
    out += Cat("  ", table.substr(start, end - start + 1));
    start = end + 1;
  }
  return out;
}

}  // namespace

Table::Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }

void Table::AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

std::string Table::Render() const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string ShowAmount(std::string_view base_units, uint32_t decimals, std::string_view asset_id) {
  if (base_units.empty()) return "-";
  absl::StatusOr<base::Amount> amount = base::ParseBaseUnits(base_units);
  if (!amount.ok() || decimals > static_cast<uint32_t>(base::kMaxDecimals)) {
    return Cat(base::Clip(base_units, 48), " (as received: not a valid amount with ", decimals, " decimals)");
  }
  return base::FormatLabelledAmount(*amount, static_cast<int>(decimals), asset_id);
}

std::string ShowTime(int64_t unix_ms) {
  if (unix_ms <= 0) return "-";
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &tm);
  char millis[8];
  std::snprintf(millis, sizeof(millis), ".%03dZ", static_cast<int>(unix_ms % 1000));
  return Cat(buffer, millis);
}

std::string RenderJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string out;
  // Printing a message of a generated type cannot fail; an empty object is the safe fallback.
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) out = "{}\n";
  if (out.empty() || out.back() != '\n') out += "\n";
  return out;
}

std::string RenderAssets(const v1::ListAssetsResponse& response) {
  Table t({"ASSET", "CHAIN", "NETWORK", "DECIMALS", "CONFIRMATIONS", "ERC-20 CONTRACT"});
  for (const v1::Asset& a : response.assets()) {
    t.AddRow({a.asset_id(), a.chain(), a.network(), Cat(a.decimals()), Cat(a.confirmations()),
              a.erc20_contract().empty() ? "-" : a.erc20_contract()});
  }
  return t.Render();
}

std::string RenderWallets(const v1::ListWalletsResponse& response) {
  std::string out;
  for (const v1::Wallet& w : response.wallets()) {
    const std::string chain =
        w.chain_balance().empty()
            ? "not observed yet"
            : Cat(ShowAmount(w.chain_balance(), w.decimals(), w.asset_id()), " at height ", w.chain_height());
    out += Cat(w.wallet_id(), "\n");
    out += Fields({{"owner/tier", Cat(OwnerClassName(w.owner_class()), " ", TierName(w.tier()))},
                   {"signer", w.signer()},
                   {"ledger balance", ShowAmount(w.ledger_balance(), w.decimals(), w.asset_id())},
                   {"chain balance", chain},
                   {"addresses", Cat(w.addresses_size())}},
                  "  ");
    for (const std::string& a : w.addresses()) out += Cat("    ", a, "\n");
  }
  return out;
}

std::string RenderClient(const v1::Client& c) {
  return Fields({{"client_id", c.client_id()},
                 {"client_ref", c.client_ref()},
                 {"frozen", c.frozen() ? Cat("yes (", c.frozen_reason(), ")") : "no"},
                 {"created", ShowTime(c.created_unix_ms())}},
                "");
}

std::string RenderClients(const v1::ListClientsResponse& response) {
  Table t({"CLIENT ID", "CLIENT REF", "FROZEN", "CREATED"});
  for (const v1::Client& c : response.clients()) {
    t.AddRow({c.client_id(), c.client_ref(), c.frozen() ? Cat("yes: ", c.frozen_reason()) : "no",
              ShowTime(c.created_unix_ms())});
  }
  return t.Render() + NextPage(response.next_page_token());
}

std::string RenderDepositAddress(const v1::DepositAddress& a) {
  return Fields({{"address", a.address()},
                 {"client_id", a.client_id()},
                 {"asset", a.asset_id()},
                 {"wallet", a.wallet_id()},
                 {"signer key", a.key_id()},
                 {"created", ShowTime(a.created_unix_ms())}},
                "");
}

std::string RenderDepositAddresses(const v1::ListDepositAddressesResponse& response) {
  Table t({"ADDRESS", "ASSET", "WALLET", "CREATED"});
  for (const v1::DepositAddress& a : response.deposit_addresses()) {
    t.AddRow({a.address(), a.asset_id(), a.wallet_id(), ShowTime(a.created_unix_ms())});
  }
  return t.Render() + NextPage(response.next_page_token());
}

std::string RenderBalances(const v1::GetBalancesResponse& response) {
  std::string out = Cat("client ", response.client_id(), " at ledger seq ", response.ledger_seq(), "\n");
  Table t({"ASSET", "AVAILABLE", "HELD", "PENDING"});
  for (const v1::AssetBalance& b : response.balances()) {
    t.AddRow({b.asset_id(), ShowAmount(b.available(), b.decimals(), b.asset_id()),
              ShowAmount(b.held(), b.decimals(), b.asset_id()), ShowAmount(b.pending(), b.decimals(), b.asset_id())});
  }
  out += t.Render();
  for (const v1::AssetBalance& b : response.balances()) {
    for (const v1::PendingDeposit& p : b.pending_deposits()) {
      out += Cat("  pending ", b.asset_id(), " ", ShowAmount(p.amount(), b.decimals(), b.asset_id()), " to ",
                 p.address(), ": ", p.confirmations(), " of ", p.required_confirmations(), " confirmations (", p.txid(),
                 ":", p.index(), ")\n");
    }
  }
  return out;
}

std::string RenderLedger(const v1::ListLedgerEntriesResponse& response) {
  if (response.entries().empty()) return "no ledger entries\n";
  return Cat("ledger entries, newest first\n", Entries(response.entries()), NextPage(response.next_page_token()));
}

std::string RenderStatement(const v1::GetStatementResponse& r) {
  std::string out = Cat("statement for client ", r.client_id(), " (", r.client_ref(), "), generated ",
                        ShowTime(r.generated_unix_ms()), "\n");
  out += Cat("opening positions at ledger seq ", r.from_seq(), "\n", Positions(r.opening()));
  out += Cat("movements (", r.movements_size(), "), oldest first\n", Entries(r.movements()));
  out += Cat("closing positions at ledger seq ", r.at_seq(), "\n", Positions(r.closing()));
  return out;
}

std::string RenderSegregationReport(const v1::GetSegregationReportResponse& r) {
  std::string out = Cat("segregation report at ledger seq ", r.ledger_seq(), ", generated ",
                        ShowTime(r.generated_unix_ms()), ": ", r.holds() ? "holds" : "BROKEN", "\n");
  for (const v1::AssetSegregation& a : r.assets()) {
    auto show = [&a](const std::string& v) { return ShowAmount(v, a.decimals(), a.asset_id()); };
    const std::string chain = a.client_wallet_chain_holdings().empty()
                                  ? "not observed yet"
                                  : Cat(show(a.client_wallet_chain_holdings()), " at height ", a.chain_height());
    const std::string difference =
        a.difference() == "0" ? show(a.difference())
                              : Cat(a.difference_negative() ? "short by " : "over by ", show(a.difference()));
    out += Cat(a.asset_id(), ": ", a.holds() ? "holds" : "BROKEN", "\n");
    out += Fields({{"client liabilities", show(a.client_liabilities())},
                   {"unattributed", show(a.unattributed())},
                   {"client wallet holdings", show(a.client_wallet_holdings())},
                   {"  as seen on the chain", chain},
                   {"receivables from the house", show(a.receivables())},
                   {"in flight", show(a.in_flight())},
                   {"house holdings", show(a.house_holdings())},
                   {"client funds in house wallets", show(a.house_client_funds())},
                   {"difference", difference}},
                  "  ");
  }
  return out;
}

namespace {

// Basis points as a percentage with two decimals: 250 -> "2.50%".
std::string ShowBps(uint32_t bps) {
  char text[32];
  std::snprintf(text, sizeof(text), "%u.%02u%%", bps / 100, bps % 100);
  return text;
}

// A reference-asset value, or "-" without a price.
std::string ShowValue(const std::string& value, uint32_t decimals, const std::string& reference) {
  return value.empty() ? "-" : ShowAmount(value, decimals, reference);
}

}  // namespace

std::string RenderAllocation(const v1::GetAllocationResponse& r) {
  std::string out = Cat("allocation at ledger seq ", r.ledger_seq(), "\n");
  for (const v1::AssetAllocation& a : r.assets()) {
    auto show = [&a](const std::string& v) { return ShowAmount(v, a.decimals(), a.asset_id()); };
    out += Cat(a.asset_id(), ": hot ", ShowBps(a.hot_share_bps()), " of client holdings, cap ", ShowBps(a.hot_cap_bps()),
               a.over_cap() ? " (OVER THE CAP)" : "", "\n");
    out += Fields({{"client-hot", show(a.client_hot())},
                   {"client-cold", show(a.client_cold())},
                   {"total", show(a.client_total())},
                   {"most that may be hot", show(a.hot_cap())},
                   {"reserved for withdrawals", show(a.reserved_for_withdrawals())},
                   {"sweeping now", show(a.sweeping())},
                   {"policy decision", Cat(a.action(), " ", show(a.decided_amount()), " (", a.reason(), ")")},
                   {"planned sweep", Cat(show(a.planned_sweep()), " (min ", show(a.min_sweep()), ")")},
                   {"topping up now", show(a.topping_up())},
                   {"planned top-up", show(a.planned_top_up())},
                   {"cold addresses", Cat(a.cold_addresses())},
                   {"hot / cold value", Cat(ShowValue(a.hot_value(), r.reference_decimals(), r.reference()), " / ",
                                            ShowValue(a.cold_value(), r.reference_decimals(), r.reference()))}},
                  "  ");
  }
  out += Cat("allocation rules: policy ", r.policy_hash(), "\n");
  if (!r.reference().empty()) {
    out += Cat("all assets in ", r.reference(), r.aggregate_complete() ? "" : " (some assets have no price)", ": hot ",
               ShowBps(r.aggregate_hot_share_bps()), ", cap ", ShowBps(r.aggregate_hot_cap_bps()),
               r.aggregate_over_cap() ? " (OVER THE CAP)" : "", "\n");
    out += Fields({{"hot", ShowValue(r.hot_value(), r.reference_decimals(), r.reference())},
                   {"cold", ShowValue(r.cold_value(), r.reference_decimals(), r.reference())}},
                  "  ");
  }
  return out;
}

std::string RenderCoverage(const v1::GetCoverageResponse& r) {
  std::string out = Cat("coverage at ledger seq ", r.ledger_seq(), "\n");
  for (const v1::AssetCoverage& a : r.assets()) {
    auto show = [&a](const std::string& v) { return ShowAmount(v, a.decimals(), a.asset_id()); };
    out += Cat(a.asset_id(), ": ", a.covered() ? "covered" : "SHORTFALL", "\n");
    std::vector<std::pair<std::string, std::string>> fields = {
        {"required", Cat(show(a.required()), " (all of hot ", show(a.client_hot()), " + ", ShowBps(a.cold_share_bps()),
                         " of cold ", show(a.client_cold()), ")")},
        {"configured", show(a.configured())},
        {"shortfall", show(a.shortfall())}};
    for (const v1::CoverPolicy& p : a.policies()) fields.emplace_back(Cat("  policy ", p.policy()), show(p.amount()));
    out += Fields(fields, "  ");
  }
  if (!r.reference().empty()) {
    out += Cat("all assets in ", r.reference(), r.aggregate_complete() ? "" : " (some assets have no price)", "\n");
    out += Fields({{"required", ShowValue(r.required_value(), r.reference_decimals(), r.reference())},
                   {"configured", ShowValue(r.configured_value(), r.reference_decimals(), r.reference())},
                   {"shortfall", ShowValue(r.shortfall_value(), r.reference_decimals(), r.reference())}},
                  "  ");
  }
  return out;
}

std::string RenderReconciliation(const v1::GetReconciliationResponse& r) {
  std::string out = r.configured() ? "reconciliation of chain against ledger (base units)\n"
                                   : "reconciliation is not configured (no [reconciliation] section)\n";
  for (const v1::AssetReconciliationState& a : r.assets()) {
    out += Cat(a.asset_id(), ": ", a.frozen() ? Cat("FROZEN by ", a.freeze_id(), " (", a.reason(), ")") : "not frozen", "\n");
  }
  if (r.wallets_size() > 0) {
    Table t({"WALLET", "HEIGHT", "CHAIN", "LEDGER", "EXPECTED", "DIFFERENCE", "ACKNOWLEDGED", "STATE"});
    for (const v1::WalletReconciliation& w : r.wallets()) {
      t.AddRow({w.wallet_id(), Cat(w.height()), w.chain_balance(), w.ledger_balance(), w.expected(), w.difference(),
                w.acknowledged(), w.state()});
    }
    out += t.Render();
  }
  if (r.unknown_transfers_size() > 0) {
    out += "unknown incoming transfers:\n";
    Table t({"TRANSFER", "ASSET", "AMOUNT", "ADDRESS", "WALLET", "HEIGHT", "ACKNOWLEDGED"});
    for (const v1::UnknownTransfer& u : r.unknown_transfers()) {
      t.AddRow({Cat(u.txid(), ":", u.index()), u.asset_id(), u.amount(), u.address(), u.wallet_id(), Cat(u.block_height()),
                u.acknowledged() ? Cat("yes (", u.freeze_id(), ")") : "NO"});
    }
    out += t.Render();
  }
  if (r.freezes_size() > 0) {
    out += "freezes, newest first:\n";
    Table t({"FREEZE", "ASSET", "REASON", "HEIGHT", "STATE", "APPROVALS", "SINCE"});
    for (const v1::AssetFreeze& f : r.freezes()) {
      t.AddRow({f.freeze_id(), f.asset_id(), f.reason(), Cat(f.height()), f.state(),
                Cat(f.approved_by_size(), "/", f.approvals_required(), " of ", f.approval_group()),
                ShowTime(f.created_unix_ms())});
    }
    out += t.Render();
  }
  return out;
}

std::string RenderAudit(const v1::ListAuditEntriesResponse& response) {
  Table t({"SEQ", "TIME", "ACTOR", "ACTION", "SUBJECT", "DETAILS"});
  for (const v1::AuditEntry& e : response.entries()) {
    t.AddRow({Cat(e.seq()), ShowTime(e.unix_ms()), e.actor(), e.action(), e.subject(), e.details()});
  }
  std::string out = t.Render();
  if (!response.entries().empty()) {
    const v1::AuditEntry& last = response.entries(response.entries_size() - 1);
    out += Cat("last entry ", last.seq(), " hash ", last.hash(), "; next page: --after-seq ", last.seq(), "\n");
  }
  return out;
}


namespace {

// "PENDING_APPROVAL" for WHITELIST_STATE_PENDING_APPROVAL: the enum's name without its prefix.
template <typename Enum>
std::string StateName(const google::protobuf::EnumDescriptor* descriptor, Enum value, std::string_view prefix) {
  const google::protobuf::EnumValueDescriptor* v = descriptor->FindValueByNumber(static_cast<int>(value));
  if (v == nullptr) return Cat("unknown (", static_cast<int>(value), ")");
  std::string name = v->name();
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

std::string UnixSeconds(int64_t s) { return s == 0 ? "-" : ShowTime(s * 1000); }

std::string Joined(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += Cat(out.empty() ? "" : ", ", item);
  return out.empty() ? "-" : out;
}

std::string ApprovalsLine(const google::protobuf::RepeatedPtrField<std::string>& approvals, uint32_t required,
                          const std::string& group) {
  if (required == 0) return "none needed";
  return Cat(approvals.size(), " of ", required, " from ", group, " (", Joined(approvals), ")");
}

}  // namespace

std::string RenderWhitelistEntry(const v1::WhitelistEntry& e) {
  return Fields({{"entry_id", e.entry_id()},
                 {"client_id", e.client_id()},
                 {"asset", e.asset_id()},
                 {"address", e.address()},
                 {"label", e.label().empty() ? "-" : e.label()},
                 {"state", StateName(v1::WhitelistState_descriptor(), e.state(), "WHITELIST_STATE_")},
                 {"approvals", ApprovalsLine(e.approvals(), e.approvals_required(), e.approval_group())},
                 {"usable", e.usable() ? "yes" : Cat("no (from ", UnixSeconds(e.usable_from_unix_s()), ")")},
                 {"reason", e.reason().empty() ? "-" : e.reason()},
                 {"digest", e.digest_hex()}},
                "");
}

std::string RenderWhitelist(const v1::ListWhitelistResponse& response) {
  Table t({"ENTRY", "ASSET", "ADDRESS", "STATE", "USABLE", "LABEL"});
  for (const v1::WhitelistEntry& e : response.entries()) {
    t.AddRow({e.entry_id(), e.asset_id(), e.address(),
              StateName(v1::WhitelistState_descriptor(), e.state(), "WHITELIST_STATE_"), e.usable() ? "yes" : "no",
              e.label()});
  }
  return t.Render() + NextPage(response.next_page_token());
}

std::string RenderWithdrawal(const v1::Withdrawal& w) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"withdrawal_id", w.withdrawal_id()},
      {"client_id", w.client_id()},
      {"state", StateName(v1::WithdrawalState_descriptor(), w.state(), "WITHDRAWAL_STATE_")},
      {"amount", ShowAmount(w.amount(), w.decimals(), w.asset_id())},
      {"destination", w.destination()},
      {"source wallet", w.source_wallet()},
      {"fee cap", Cat(w.fee_cap(), " base units of ", w.fee_asset(),
                      w.fee_charged_to_client() ? " (charged to the client)" : " (paid by the house)")},
      {"held", ShowAmount(w.held(), w.decimals(), w.asset_id())},
      {"approvals", ApprovalsLine(w.approvals(), w.approvals_required(), w.approval_group())},
      {"rules", Joined(w.matched_rules())},
      {"txid", w.txid().empty() ? "-" : w.txid()},
      {"network fee", w.network_fee().empty() ? "-" : Cat(w.network_fee(), " base units of ", w.fee_asset())},
      {"reason", w.reason().empty() ? "-" : w.reason()},
      {"updated", ShowTime(w.updated_unix_ms())}};
  for (const v1::PolicyDenial& d : w.denials()) fields.push_back({"denied", Cat(d.reason(), " (", d.rule(), ")")});
  return Fields(fields, "");
}

std::string RenderWithdrawals(const v1::ListWithdrawalsResponse& response) {
  Table t({"WITHDRAWAL", "CLIENT", "STATE", "AMOUNT", "DESTINATION", "TXID"});
  for (const v1::Withdrawal& w : response.withdrawals()) {
    t.AddRow({w.withdrawal_id(), w.client_id(),
              StateName(v1::WithdrawalState_descriptor(), w.state(), "WITHDRAWAL_STATE_"),
              ShowAmount(w.amount(), w.decimals(), w.asset_id()), w.destination(), w.txid().empty() ? "-" : w.txid()});
  }
  return t.Render() + NextPage(response.next_page_token());
}

}  // namespace ringfence::custody_cli

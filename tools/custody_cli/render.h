// How custodyctl shows custodyd's answers. For people: plain text in aligned columns, every
// amount in the asset's display unit with the exact base units labelled beside it
// (base::FormatLabelledAmount, "1.5 BTC (150000000 base units)"). For programs: the message in
// protobuf's canonical JSON mapping (lowerCamelCase names, 64-bit integers as strings, every
// field present, defaults included).
//
// Pure functions of the messages; thread-safe.
#ifndef RINGFENCE_TOOLS_CUSTODY_CLI_RENDER_H_
#define RINGFENCE_TOOLS_CUSTODY_CLI_RENDER_H_

#include <google/protobuf/message.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proto/custody.pb.h"

namespace ringfence::custody_cli {

namespace v1 = ringfence::custody::v1;

// Columns padded to their widest cell, two spaces apart; the last column is not padded.
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void AddRow(std::vector<std::string> cells);
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// A base-unit amount string as a person reads it: "1.5 BTC (150000000 base units)". An empty
// string (a figure not observed yet) is "-"; one that is not a canonical amount or decimals
// above 38 are shown as received, marked, rather than guessed at.
std::string ShowAmount(std::string_view base_units, uint32_t decimals, std::string_view asset_id);

// `message` in protobuf's JSON mapping, indented, with a final newline.
std::string RenderJson(const google::protobuf::Message& message);

std::string RenderAssets(const v1::ListAssetsResponse& response);
std::string RenderWallets(const v1::ListWalletsResponse& response);
std::string RenderClient(const v1::Client& client);
std::string RenderClients(const v1::ListClientsResponse& response);
std::string RenderDepositAddress(const v1::DepositAddress& address);
std::string RenderDepositAddresses(const v1::ListDepositAddressesResponse& response);
std::string RenderBalances(const v1::GetBalancesResponse& response);
std::string RenderLedger(const v1::ListLedgerEntriesResponse& response);
std::string RenderStatement(const v1::GetStatementResponse& response);
std::string RenderSegregationReport(const v1::GetSegregationReportResponse& response);
std::string RenderAudit(const v1::ListAuditEntriesResponse& response);
std::string RenderAllocation(const v1::GetAllocationResponse& response);
std::string RenderCoverage(const v1::GetCoverageResponse& response);
std::string RenderReconciliation(const v1::GetReconciliationResponse& response);
std::string RenderWhitelistEntry(const v1::WhitelistEntry& entry);
std::string RenderWhitelist(const v1::ListWhitelistResponse& response);
std::string RenderWithdrawal(const v1::Withdrawal& withdrawal);
std::string RenderWithdrawals(const v1::ListWithdrawalsResponse& response);

// A Unix-millisecond time as "2026-12-05T14:12:14.123Z" (UTC).
std::string ShowTime(int64_t unix_ms);

}  // namespace ringfence::custody_cli

#endif  // RINGFENCE_TOOLS_CUSTODY_CLI_RENDER_H_

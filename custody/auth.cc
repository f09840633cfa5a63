#include "custody/auth.h"

#include <grpc/grpc_security_constants.h>

#include <algorithm>

#include "base/text.h"

namespace ringfence::custody {
namespace {

using base::Cat;

constexpr unsigned Bit(Role r) { return 1u << static_cast<unsigned>(r); }
constexpr unsigned kPlatform = Bit(Role::kPlatform);
constexpr unsigned kApprover = Bit(Role::kApprover);
constexpr unsigned kAuditor = Bit(Role::kAuditor);
constexpr unsigned kAdmin = Bit(Role::kAdmin);

struct MethodRoles {
  std::string_view method;
  unsigned roles;
};

// proto/custody.proto's "Roles:" comments; tests/custody/config_test.cc compares the two.
constexpr MethodRoles kTable[] = {
    {"ListAssets", kPlatform | kApprover | kAuditor | kAdmin},
    {"ListWallets", kApprover | kAuditor | kAdmin},
    {"CreateClient", kPlatform},
    {"GetClient", kPlatform | kApprover | kAuditor | kAdmin},
    {"ListClients", kPlatform | kAuditor | kAdmin},
    {"FreezeClient", kAdmin},
    {"UnfreezeClient", kAdmin},
    {"CreateDepositAddress", kPlatform},
    {"ListDepositAddresses", kPlatform | kAuditor},
    {"GetBalances", kPlatform | kApprover | kAuditor},
    {"ListLedgerEntries", kPlatform | kAuditor},
    {"GetStatement", kPlatform | kAuditor},
    {"GetSegregationReport", kAuditor | kAdmin},
    {"ListAuditEntries", kAuditor | kAdmin},
    {"AddWhitelistAddress", kPlatform},
    {"RemoveWhitelistAddress", kPlatform | kAdmin},
    {"ListWhitelist", kPlatform | kApprover | kAuditor | kAdmin},
    {"RejectWhitelistAddition", kApprover},
    {"CreateWithdrawal", kPlatform},
    {"GetWithdrawal", kPlatform | kApprover | kAuditor | kAdmin},
    {"ListWithdrawals", kPlatform | kApprover | kAuditor | kAdmin},
    {"CancelWithdrawal", kPlatform | kAdmin},
    {"WatchWithdrawals", kPlatform | kApprover | kAuditor | kAdmin},
    {"ListPendingApprovals", kApprover | kAuditor},
    {"SubmitApproval", kApprover},
    {"RejectWithdrawal", kApprover},
    {"ImportColdKeys", kAdmin},
    {"CreateHouseAddress", kAdmin},
    {"GetAllocation", kApprover | kAuditor | kAdmin},
    {"GetCoverage", kApprover | kAuditor | kAdmin},
    {"ExportSigningBundle", kApprover | kAdmin},
    {"ImportSignedBundle", kApprover | kAdmin},
    {"GetReconciliation", kApprover | kAuditor | kAdmin},
};

constexpr std::string_view kMethods[] = {
    "ListAssets",   "ListWallets",          "CreateClient",         "GetClient",   "ListClients",
    "FreezeClient", "UnfreezeClient",       "CreateDepositAddress", "ListDepositAddresses",
    "GetBalances",  "ListLedgerEntries",    "GetStatement",         "GetSegregationReport",
    "ListAuditEntries",
    "AddWhitelistAddress", "RemoveWhitelistAddress", "ListWhitelist", "RejectWhitelistAddition",
    "CreateWithdrawal", "GetWithdrawal", "ListWithdrawals", "CancelWithdrawal", "WatchWithdrawals",
    "ListPendingApprovals", "SubmitApproval", "RejectWithdrawal", "ImportColdKeys",
    "CreateHouseAddress", "GetAllocation", "GetCoverage", "ExportSigningBundle", "ImportSignedBundle",
    "GetReconciliation",
};

unsigned RolesOf(std::string_view method) {
  for (const MethodRoles& row : kTable) {
    if (row.method == method) return row.roles;
  }
  return 0;
}

std::string Printable(std::string_view text) {
  std::string out(text.substr(0, kMaxIdentityLength));
  for (char& c : out) {
    if (c < 0x20 || c >= 0x7f) c = '?';
  }
  if (text.size() > kMaxIdentityLength) out += Cat("...(", text.size(), " bytes)");
  return out;
}

}  // namespace

std::string Caller::Actor() const {
  return Cat(role.has_value() ? RoleName(*role) : std::string_view("unknown"), ":", identity);
}

std::span<const std::string_view> CustodyMethods() { return kMethods; }

std::vector<Role> AllowedRoles(std::string_view method) {
  std::vector<Role> out;
  const unsigned roles = RolesOf(method);
  for (Role r : kAllRoles) {
    if (roles & Bit(r)) out.push_back(r);
  }
  return out;
}

bool IsAllowed(std::string_view method, Role role) { return (RolesOf(method) & Bit(role)) != 0; }

Authenticator::Authenticator(std::vector<RoleMapping> mappings, std::optional<Role> insecure_role)
    : mappings_(std::move(mappings)), insecure_role_(insecure_role) {}

Caller Authenticator::Match(std::string_view subject, std::span<const std::string> sans) const {
  Caller caller;
  caller.identity = Printable(subject.empty() ? std::string_view("(no subject)") : subject);
  caller.subject = std::string(subject);
  caller.sans.assign(sans.begin(), sans.end());
  unsigned matched = 0;
  for (const RoleMapping& m : mappings_) {
    const bool hit = m.subject.empty() ? std::find(sans.begin(), sans.end(), m.san) != sans.end()
                                       : m.subject == subject;
    if (hit) matched |= Bit(m.role);
  }
  if (matched == 0) {
    caller.why_no_role = "the client certificate matches no [[roles]] rule";
  } else if ((matched & (matched - 1)) != 0) {
    // Two roles for one certificate would let it act as either; refuse rather than pick one.
    caller.why_no_role = "the client certificate matches rules of more than one role";
  } else {
    for (Role r : kAllRoles) {
      if (matched == Bit(r)) caller.role = r;
    }
  }
  return caller;
}

Caller Authenticator::Identify(const grpc::AuthContext& context) const {
  if (insecure_role_.has_value()) {
    Caller caller;
    caller.role = insecure_role_;
    caller.identity = "insecure-loopback";
    return caller;
  }
  if (!context.IsPeerAuthenticated()) {
    Caller caller;
    caller.identity = "(no client certificate)";
    caller.why_no_role = "the call carries no verified client certificate";
    return caller;
  }
  std::string subject;
  for (const grpc::string_ref& v : context.FindPropertyValues(GRPC_X509_SUBJECT_PROPERTY_NAME)) {
    subject.assign(v.data(), v.size());
  }
  std::vector<std::string> sans;
  for (const char* name : {GRPC_X509_SAN_PROPERTY_NAME, GRPC_PEER_URI_PROPERTY_NAME, GRPC_PEER_DNS_PROPERTY_NAME}) {
    for (const grpc::string_ref& v : context.FindPropertyValues(name)) sans.emplace_back(v.data(), v.size());
  }
  return Match(subject, sans);
}

}  // namespace ringfence::custody

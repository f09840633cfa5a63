// Who is calling, and may they: the caller's role from the client certificate that TLS has
// already verified against the configured CA, and the table of which roles may call which RPC
// (the "Roles:" comments of proto/custody.proto, kept in step by a test).
//
// A certificate maps to a role when its subject equals a [[roles]] rule's `subject` (RFC 2253
// form, as gRPC reports it) or one of its subject alternative names equals a rule's `san`. A
// certificate that matches no rule, or rules of two different roles, has no role and is denied
// every RPC. With --insecure-loopback every caller is the role given there.
//
// What a denial does (PERMISSION_DENIED and an audit entry) is the service's business; this
// file only decides. Authenticator is immutable after construction and thread-safe.
#ifndef RINGFENCE_CUSTODY_AUTH_H_
#define RINGFENCE_CUSTODY_AUTH_H_

#include <grpcpp/security/auth_context.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "custody/config.h"

namespace ringfence::custody {

// Longest certificate subject an audit entry records (longer ones are clipped).
inline constexpr size_t kMaxIdentityLength = 256;

struct Caller {
  std::optional<Role> role;  // none: the certificate maps to no role (or to several)
  std::string identity;      // the certificate subject, or "insecure-loopback"
  std::string why_no_role;   // set when role is empty
  std::string subject;       // the certificate subject as gRPC reported it ("" without one)
  std::vector<std::string> sans;  // its subject alternative names (approver bindings match them)

  // The audit log's actor: "<role>:<identity>", or "unknown:<identity>" without a role.
  std::string Actor() const;
};

// The RPCs of ringfence.custody.v1.Custody by short name ("CreateClient"), in the proto's order.
std::span<const std::string_view> CustodyMethods();

// The roles allowed to call `method` (a short name); empty for a method not in the table, so an
// RPC added to the proto without a row here is denied to everyone.
std::vector<Role> AllowedRoles(std::string_view method);
bool IsAllowed(std::string_view method, Role role);

class Authenticator {
 public:
  // `insecure_role` set: every caller is that role (plaintext on loopback only; main checks
  // the address).
  Authenticator(std::vector<RoleMapping> mappings, std::optional<Role> insecure_role);

  // The caller behind a gRPC call's authentication context (x509_subject and every subject
  // alternative name gRPC reports: x509_subject_alternative_name, peer_uri, peer_dns).
  Caller Identify(const grpc::AuthContext& context) const;

  // The decision itself, on the certificate's parts.
  Caller Match(std::string_view subject, std::span<const std::string> sans) const;

 private:
  std::vector<RoleMapping> mappings_;
  std::optional<Role> insecure_role_;
};

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_AUTH_H_

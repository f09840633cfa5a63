// Whitelists: per client and asset, the destinations a withdrawal may pay (issue 12).
//
// An addition is requested by the platform, needs the asset's whitelist quorum under the
// policy (approvers sign the whitelist-change digest of docs/approval-digest.md,
// "ringfence/whitelist/v1", over the entry id, client, asset, canonical address and the
// approval deadline), and once approved is usable only after the asset's cooling-off period.
// A removal is immediate and needs no approval. Every step is a whitelist_changes row and an
// audit entry, and each quorum evaluation is a recorded policy decision.
//
// Addresses must arrive canonical (lowercase bech32 of the asset's network; EIP-55 for
// Ethereum): another spelling of a valid address is refused naming the field, so one
// destination never has two entries or two digests.
//
// Every method works inside the caller's write Txn and changes nothing on error (the caller
// drops the Txn). Stateless apart from the borrowed Config; thread-safe.
#ifndef RINGFENCE_CUSTODY_WHITELIST_H_
#define RINGFENCE_CUSTODY_WHITELIST_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "custody/config.h"
#include "custody/store/store.h"
#include "policy/approval_digest.h"

namespace ringfence::custody {

inline constexpr size_t kMaxAddressLength = 128;
inline constexpr size_t kMaxLabelLength = 128;

// OK if `address` is a valid address of `asset`'s chain and network in canonical form.
// INVALID_ARGUMENT naming `field` and the rule otherwise (checksum, network, spelling).
absl::Status CheckCanonicalAddress(const AssetConfig& asset, std::string_view field, std::string_view address);

// The policy, or FAILED_PRECONDITION when custodyd has no [withdrawals] section.
absl::StatusOr<const policy::Policy*> PolicyOf(const Config& config);

struct WhitelistAddArgs {
  std::string client_id;
  std::string asset_id;
  std::string address;
  std::string label;
  std::string requester;  // principal id
};

class Whitelists {
 public:
  explicit Whitelists(const Config& config) : config_(config) {}

  // A new entry in pending_approval with id `entry_id`. NOT_FOUND for an unknown client or
  // asset; FAILED_PRECONDITION for a frozen client, an asset without policy rules, or a live
  // entry for the same address; INVALID_ARGUMENT for a non-canonical address.
  absl::StatusOr<store::WhitelistEntryRow> RequestAdd(store::Txn& txn, const WhitelistAddArgs& args,
                                                      std::string_view actor, const std::string& entry_id,
                                                      int64_t now_unix_ms) const;

  // Removes a pending or active entry at once. NOT_FOUND / FAILED_PRECONDITION (already gone).
  absl::StatusOr<store::WhitelistEntryRow> Remove(store::Txn& txn, const std::string& entry_id,
                                                  const std::string& reason, std::string_view actor,
                                                  int64_t now_unix_ms) const;

  // Counts `approver`'s approval: the entry is pending and not expired, the approver is a
  // member of the entry's group and not its requester, and the signature verifies over
  // Digest(entry). When the quorum is met the entry becomes active. PERMISSION_DENIED for a
  // refused approver or signature, FAILED_PRECONDITION for the entry's state or deadline,
  // ALREADY_EXISTS for an approver who already approved.
  absl::StatusOr<store::WhitelistEntryRow> Approve(store::Txn& txn, const std::string& entry_id,
                                                   const ApproverConfig& approver, std::string_view signature,
                                                   std::string_view actor, int64_t now_unix_ms) const;

  // pending_approval -> rejected.
  absl::StatusOr<store::WhitelistEntryRow> Reject(store::Txn& txn, const std::string& entry_id,
                                                  const ApproverConfig& approver, const std::string& reason,
                                                  std::string_view actor, int64_t now_unix_ms) const;

  // The whitelist-change digest of an entry.
  static absl::StatusOr<policy::ApprovalDigestBytes> Digest(const store::WhitelistEntryRow& entry);

 private:
  absl::Status Record(store::Txn& txn, const store::WhitelistEntryRow& entry, std::string_view action,
                      std::string_view actor, const std::string& details_json, int64_t now_unix_ms) const;

  const Config& config_;
};

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_WHITELIST_H_

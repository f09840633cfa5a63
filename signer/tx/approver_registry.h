// signerd's approver registry: who may approve a transaction (approver id -> Ed25519 public
// key), how many approvals an amount needs per asset (quorum tiers), how many an internal
// sweep to one of the custodian's registered cold addresses needs, and those cold addresses.
//
// The registry is signerd's own file, never taken from the caller; its SHA-256 is logged when
// signerd starts. The format is in docs/sign_transaction.md. An ApproverRegistry is immutable
// once parsed, so it may be shared between threads.
#ifndef RINGFENCE_SIGNER_TX_APPROVER_REGISTRY_H_
#define RINGFENCE_SIGNER_TX_APPROVER_REGISTRY_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/amount.h"

namespace ringfence::signer::tx {

struct QuorumTier {
  base::Amount from;  // this tier applies to amounts >= from (up to the next tier's from)
  int approvals = 0;  // distinct approvers needed
};

struct AssetQuorum {
  std::vector<QuorumTier> tiers;  // strictly increasing `from`, the first from 0
  int internal_sweep_approvals = 0;
};

class ApproverRegistry {
 public:
  // Parses the registry's TOML text. Returns InvalidArgument naming the field and the rule for
  // unknown keys, a missing field, a malformed or duplicate approver id or public key, tiers
  // out of order, a quorum larger than the number of approvers, or a duplicate cold address.
  static absl::StatusOr<ApproverRegistry> Parse(std::string_view toml_text);
  // Reads and parses `path`; also records the file's SHA-256. Returns NotFound/InvalidArgument.
  static absl::StatusOr<ApproverRegistry> Load(const std::filesystem::path& path);

  // The approver's public key, or nullptr if `approver_id` is not registered.
  const std::array<uint8_t, 32>* FindApprover(std::string_view approver_id) const;

  // Approvals needed to move `amount` of `asset`, by the internal-sweep rule when
  // `internal_sweep`. Returns PermissionDenied when the registry has no quorum for the asset.
  absl::StatusOr<int> RequiredApprovals(std::string_view asset, base::Amount amount,
                                        bool internal_sweep) const;

  // True when `address` (canonical text) is a registered cold address for `asset`.
  bool IsColdAddress(std::string_view asset, std::string_view address) const;

  const std::set<std::pair<std::string, std::string>>& cold_addresses() const {
    return cold_addresses_;
  }
  // Assets that have a quorum rule.
  std::vector<std::string> QuorumAssets() const;
  size_t approver_count() const { return approvers_.size(); }
  // Lowercase hex SHA-256 of the registry text as read.
  const std::string& sha256_hex() const { return sha256_hex_; }

 private:
  std::map<std::string, std::array<uint8_t, 32>, std::less<>> approvers_;
  std::map<std::string, AssetQuorum, std::less<>> quorum_;
  std::set<std::pair<std::string, std::string>> cold_addresses_;  // (asset, address)
  std::string sha256_hex_;
};

}  // namespace ringfence::signer::tx

#endif  // RINGFENCE_SIGNER_TX_APPROVER_REGISTRY_H_

// Distinct identifier types for the things policy decisions talk about: assets, clients,
// principals (requesters and approvers), approver groups and destination addresses. Each is a
// string underneath, but they do not convert into each other, so a client id cannot be passed
// where an approver is expected.
//
// Immutable value types; safe to share between threads.
#ifndef RINGFENCE_POLICY_IDS_H_
#define RINGFENCE_POLICY_IDS_H_

#include <compare>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace ringfence::policy {

// Returns OK if `text` is a well-formed identifier: 1..128 characters from
// [A-Za-z0-9._:@-]. `what` names the field in the InvalidArgument message otherwise.
absl::Status ValidateIdText(std::string_view text, std::string_view what);
// Returns OK if `text` is a well-formed address: 1..256 printable ASCII characters, no spaces.
absl::Status ValidateAddressText(std::string_view text, std::string_view what);

template <typename Tag>
class StrongId {
 public:
  StrongId() = default;
  explicit StrongId(std::string value) : value_(std::move(value)) {}

  // Validates the text the way Tag requires; returns InvalidArgument naming `what`.
  static absl::StatusOr<StrongId> Parse(std::string_view text, std::string_view what) {
    absl::Status s = Tag::kIsAddress ? ValidateAddressText(text, what) : ValidateIdText(text, what);
    if (!s.ok()) return s;
    return StrongId(std::string(text));
  }

  const std::string& value() const { return value_; }

  friend auto operator<=>(const StrongId&, const StrongId&) = default;
  friend bool operator==(const StrongId&, const StrongId&) = default;

 private:
  std::string value_;
};

struct AssetIdTag { static constexpr bool kIsAddress = false; };
struct ClientIdTag { static constexpr bool kIsAddress = false; };
struct PrincipalIdTag { static constexpr bool kIsAddress = false; };
struct GroupIdTag { static constexpr bool kIsAddress = false; };
struct AddressTag { static constexpr bool kIsAddress = true; };

using AssetId = StrongId<AssetIdTag>;          // "BTC", "ETH", "USDC-ETH"
using ClientId = StrongId<ClientIdTag>;        // a platform's client
using PrincipalId = StrongId<PrincipalIdTag>;  // a person or service that requests or approves
using GroupId = StrongId<GroupIdTag>;          // an approver group named in the policy
using Address = StrongId<AddressTag>;          // a destination address, chain-specific text

}  // namespace ringfence::policy

#endif  // RINGFENCE_POLICY_IDS_H_

#include "policy/ids.h"

#include "absl/status/status.h"
#include "policy/text.h"

namespace ringfence::policy {

absl::Status ValidateIdText(std::string_view text, std::string_view what) {
  if (text.empty() || text.size() > 128) {
    return absl::InvalidArgumentError(internal::Cat(what, ": identifier must be 1..128 characters"));
  }
  for (char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          internal::Cat(what, ": identifier may contain only A-Z a-z 0-9 . _ : @ -"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateAddressText(std::string_view text, std::string_view what) {
  if (text.empty() || text.size() > 256) {
    return absl::InvalidArgumentError(internal::Cat(what, ": address must be 1..256 characters"));
  }
  for (char c : text) {
    if (c <= 0x20 || c >= 0x7f) {
      return absl::InvalidArgumentError(
          internal::Cat(what, ": address may contain only printable ASCII without spaces"));
    }
  }
  return absl::OkStatus();
}

}  // namespace ringfence::policy

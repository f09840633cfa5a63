#include "reserves/strict_json.h"

#include "base/text.h"
#include "reserves/amount.h"

namespace ringfence::reserves {

namespace {

std::string Where(std::string_view where, std::string_view key) { return base::Cat(where, ".", key); }

}  // namespace

absl::StatusOr<std::string> GetId(const Json& j, std::string_view key, std::string_view where) {
  auto s = GetString(j, key, where);
  if (!s.ok()) return s.status();
  if (!IsValidId(*s)) {
    return absl::InvalidArgumentError(
        base::Cat(Where(where, key), ": must be 1 to 64 characters of [A-Za-z0-9._:-]"));
  }
  return s;
}

absl::StatusOr<Hash32> GetHash(const Json& j, std::string_view key, std::string_view where) {
  Hash32 h;
  absl::Status st = GetHexInto(j, key, where, h);
  if (!st.ok()) return st;
  return h;
}

absl::StatusOr<base::Amount> GetAmount(const Json& j, std::string_view key, std::string_view where) {
  auto s = GetString(j, key, where);
  if (!s.ok()) {
    // A present value of another type: the spec's wording for amounts.
    if (j.is_object() && j.contains(std::string(key))) {
      return absl::InvalidArgumentError(base::Cat(Where(where, key), ": amounts must be JSON strings"));
    }
    return s.status();
  }
  return ParseAmount(*s, Where(where, key));
}

}  // namespace ringfence::reserves

// Strict JSON for custody-por/1 files (spec section 1): the parser and the generic field
// helpers are base/strict_json.h (RFC 8259 through a SAX parser, duplicate keys, fractions,
// exponents and negative numbers rejected, a nesting limit); this adds the spec's own field
// rules: ids, hashes and keys as lowercase hex of exact length, amounts as canonical strings,
// integers <= 2^53.
//
// Pure functions; thread-safe. Every failure is InvalidArgument naming the file/field path
// and the rule.
#ifndef RINGFENCE_RESERVES_STRICT_JSON_H_
#define RINGFENCE_RESERVES_STRICT_JSON_H_

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/amount.h"
#include "base/strict_json.h"
#include "reserves/hash.h"

namespace ringfence::reserves {

// The strict parser and the generic field helpers are base/strict_json.h; custody-por/1 adds
// ids, hashes and amounts in the spec's wording.
using base::DumpCompact;
using base::ExpectObject;
using base::GetArray;
using base::GetHexInto;
using base::GetInteger;
using base::GetString;
using base::Json;
using base::ParseStrictJson;

inline constexpr uint64_t kMaxJsonInteger = uint64_t{1} << 53;

// An id of [A-Za-z0-9._:-]{1,64}.
absl::StatusOr<std::string> GetId(const Json& j, std::string_view key, std::string_view where);
absl::StatusOr<Hash32> GetHash(const Json& j, std::string_view key, std::string_view where);
// A canonical amount string (reserves::ParseAmount's wording); a non-string value is refused as
// "amounts must be JSON strings".
absl::StatusOr<base::Amount> GetAmount(const Json& j, std::string_view key, std::string_view where);

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_STRICT_JSON_H_

// Strict JSON for custody-por/1 files (spec section 1): RFC 8259 syntax through nlohmann's
// SAX parser, with duplicate keys rejected (the DOM parser would silently keep the last one),
// no fractional, exponent or negative numbers, and a nesting limit. The field helpers below
// enforce the schema rules: an object has exactly the expected keys, hashes and keys are
// lowercase hex of exact length, amounts are canonical strings, integers are <= 2^53.
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
#include "nlohmann/json.hpp"
#include "reserves/hash.h"

namespace ringfence::reserves {

using Json = nlohmann::json;

inline constexpr uint64_t kMaxJsonInteger = uint64_t{1} << 53;

// Parses `text` as one JSON value. `what` names the input in errors ("manifest.json").
absl::StatusOr<Json> ParseStrictJson(std::string_view text, std::string_view what);

// Each helper: `where` is the path of the enclosing object for error messages.
absl::Status ExpectObject(const Json& j, std::string_view where, std::initializer_list<std::string_view> keys);
absl::StatusOr<std::string> GetString(const Json& j, std::string_view key, std::string_view where);
// An id of [A-Za-z0-9._:-]{1,64}.
absl::StatusOr<std::string> GetId(const Json& j, std::string_view key, std::string_view where);
absl::StatusOr<uint64_t> GetInteger(const Json& j, std::string_view key, std::string_view where, uint64_t max);
absl::StatusOr<Hash32> GetHash(const Json& j, std::string_view key, std::string_view where);
absl::Status GetHexInto(const Json& j, std::string_view key, std::string_view where, std::span<uint8_t> out);
absl::StatusOr<base::Amount> GetAmount(const Json& j, std::string_view key, std::string_view where);
absl::StatusOr<const Json*> GetArray(const Json& j, std::string_view key, std::string_view where);

// Compact serialisation used for every JSON file the tool writes (no insignificant whitespace).
std::string DumpCompact(const Json& j);

}  // namespace ringfence::reserves

#endif  // RINGFENCE_RESERVES_STRICT_JSON_H_

// Strict JSON for files that come from outside (proof-of-reserves packages, signing bundles):
// RFC 8259 syntax through nlohmann's SAX parser, with duplicate keys rejected (the DOM parser
// would silently keep the last one), no fractional, exponent or negative numbers, and a nesting
// limit of 32. The field helpers enforce schema rules: an object has exactly the expected keys,
// strings are strings, integers are non-negative and bounded, hex has an exact length.
//
// Pure functions; thread-safe. Every failure is InvalidArgument naming the input or the field
// path and the rule; outside text is quoted clipped (base::Clip).
#ifndef RINGFENCE_BASE_STRICT_JSON_H_
#define RINGFENCE_BASE_STRICT_JSON_H_

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace ringfence::base {

using Json = nlohmann::json;

// Parses `text` as one JSON value. `what` names the input in errors ("manifest.json").
absl::StatusOr<Json> ParseStrictJson(std::string_view text, std::string_view what);

// Each helper: `where` is the path of the enclosing object for error messages ("bundle",
// "assets[2]"); the field is named as where.key.
absl::Status ExpectObject(const Json& j, std::string_view where, std::initializer_list<std::string_view> keys);
absl::StatusOr<std::string> GetString(const Json& j, std::string_view key, std::string_view where);
// A non-negative JSON integer of at most `max`.
absl::StatusOr<uint64_t> GetInteger(const Json& j, std::string_view key, std::string_view where, uint64_t max);
// Exactly out.size() bytes written as 2 * out.size() lowercase hex characters.
absl::Status GetHexInto(const Json& j, std::string_view key, std::string_view where, std::span<uint8_t> out);
absl::StatusOr<const Json*> GetArray(const Json& j, std::string_view key, std::string_view where);

// Compact serialisation (no insignificant whitespace); refuses invalid UTF-8 (throws
// nlohmann's type_error), so write only strings that passed the parser or were made in code.
std::string DumpCompact(const Json& j);

}  // namespace ringfence::base

#endif  // RINGFENCE_BASE_STRICT_JSON_H_

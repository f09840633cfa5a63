// Strict field access for signer/tx's TOML files: every key must be known, every required key
// present, and each value of the expected type. Errors name the full path of the field.
//
// Internal to signer/tx. Functions only; thread-safe on distinct tables.
#ifndef RINGFENCE_SIGNER_TX_TOML_FIELDS_H_
#define RINGFENCE_SIGNER_TX_TOML_FIELDS_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include <toml++/toml.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringfence::signer::tx::toml_fields {

// InvalidArgument naming `path`.`key` for the first key of `table` not in `allowed`.
absl::Status OnlyKeys(const toml::table& table, std::string_view path,
                      std::initializer_list<std::string_view> allowed);

// The string at `key`; InvalidArgument if missing (when required) or not a string.
absl::StatusOr<std::string> String(const toml::table& table, std::string_view path,
                                   std::string_view key);
absl::StatusOr<int64_t> Integer(const toml::table& table, std::string_view path,
                                std::string_view key);

// Parses TOML text; InvalidArgument with the parser's line and column on a syntax error.
absl::StatusOr<toml::table> ParseText(std::string_view text, std::string_view what);

}  // namespace ringfence::signer::tx::toml_fields

#endif  // RINGFENCE_SIGNER_TX_TOML_FIELDS_H_

#include "signer/tx/toml_fields.h"

#include <algorithm>

#include "base/text.h"

namespace ringfence::signer::tx::toml_fields {

using base::Cat;

absl::Status OnlyKeys(const toml::table& table, std::string_view path,
                      std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : table) {
    if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end()) {
      return absl::InvalidArgumentError(
          Cat(path, path.empty() ? "" : ".", key.str(), ": unknown field"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> String(const toml::table& table, std::string_view path,
                                   std::string_view key) {
  const toml::node* node = table.get(key);
  const std::string where = Cat(path, path.empty() ? "" : ".", key);
  if (node == nullptr) return absl::InvalidArgumentError(Cat(where, ": missing"));
  const auto* s = node->as_string();
  if (s == nullptr) return absl::InvalidArgumentError(Cat(where, ": must be a string"));
  return s->get();
}

absl::StatusOr<int64_t> Integer(const toml::table& table, std::string_view path,
                                std::string_view key) {
  const toml::node* node = table.get(key);
  const std::string where = Cat(path, path.empty() ? "" : ".", key);
  if (node == nullptr) return absl::InvalidArgumentError(Cat(where, ": missing"));
  const auto* i = node->as_integer();
  if (i == nullptr) return absl::InvalidArgumentError(Cat(where, ": must be an integer"));
  return i->get();
}

absl::StatusOr<toml::table> ParseText(std::string_view text, std::string_view what) {
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(Cat(what, ": TOML syntax error at line ",
                                                   e.source().begin.line, " column ",
                                                   e.source().begin.column, ": ",
                                                   e.description()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(Cat(what, ": ", e.what()));
  }
}

}  // namespace ringfence::signer::tx::toml_fields

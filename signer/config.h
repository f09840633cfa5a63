// signerd's configuration: a TOML file parsed strictly (docs/signer.md).
//
// Every field is checked: an unknown or missing field, a wrong type or a value out of range
// is an InvalidArgument error naming the field ("pkcs11.session_pool_size") and the rule.
// Sections for later features get their own struct and parser here; until then they are
// unknown and refused. Plain values, thread-compatible.
#ifndef RINGFENCE_SIGNER_CONFIG_H_
#define RINGFENCE_SIGNER_CONFIG_H_

#include <cstddef>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace ringfence::signer {

inline constexpr size_t kMaxConfigSize = 1 << 20;
inline constexpr size_t kMaxSessionPoolSize = 64;

struct ServerConfig {
  std::string socket;    // Absolute path of the Unix socket; must not exist at start.
  std::string database;  // Absolute path of signerd's SQLite database.
};

struct Pkcs11Config {
  std::string module;       // Absolute path of the PKCS#11 module.
  std::string token_label;  // 1..32 bytes.
  std::string pin_file;     // Exactly one of pin_file (absolute path) and pin_env is set.
  std::string pin_env;
  size_t session_pool_size = 4;  // 1..kMaxSessionPoolSize; optional, default 4.
};

// Optional [transactions] section: turns on transaction signing (signer/tx), whose own
// configuration (networks, approvers, limits) lives in the file named here.
struct TransactionsConfig {
  std::string config;  // Absolute path.
};

struct Config {
  ServerConfig server;
  Pkcs11Config pkcs11;
  std::optional<TransactionsConfig> transactions;
};

// Parses TOML text. `source` names the text in error messages (usually the file path).
absl::StatusOr<Config> ParseConfig(absl::string_view text, absl::string_view source);

// Reads and parses `path`. NotFound if it does not exist; InvalidArgument if it is larger than
// kMaxConfigSize or does not parse.
absl::StatusOr<Config> LoadConfig(const std::string& path);

}  // namespace ringfence::signer

#endif  // RINGFENCE_SIGNER_CONFIG_H_

#include "signer/config.h"

#include <sys/stat.h>

#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ringfence::signer {
namespace {

// toml++ speaks std::string_view; this abseil build has its own string_view.
std::string_view Std(absl::string_view s) { return std::string_view(s.data(), s.size()); }
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Longest Unix socket path: sockaddr_un.sun_path holds 108 bytes including the NUL.
constexpr size_t kMaxSocketPath = 107;

// Reads one TOML table, remembering which keys were consumed so that Finish() can name any
// the parser does not know.
class Section {
 public:
  Section(const toml::table& table, std::string name) : table_(table), name_(std::move(name)) {}

  std::string Path(absl::string_view key) const { return absl::StrCat(name_, ".", key); }

  // Empty optional-like result: sets `present` false when the key is absent.
  absl::StatusOr<std::string> String(absl::string_view key, bool required, bool* present = nullptr) {
    seen_.insert(std::string(key));
    const toml::node* node = table_.get(Std(key));
    if (present != nullptr) *present = node != nullptr;
    if (node == nullptr) {
      if (required) return Missing(key);
      return std::string();
    }
    const toml::value<std::string>* v = node->as_string();
    if (v == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("config: field '", Path(key), "' must be a string"));
    }
    return v->get();
  }

  absl::StatusOr<int64_t> Integer(absl::string_view key, bool required, int64_t fallback,
                                  int64_t min, int64_t max) {
    seen_.insert(std::string(key));
    const toml::node* node = table_.get(Std(key));
    if (node == nullptr) {
      if (required) return Missing(key);
      return fallback;
    }
    const toml::value<int64_t>* v = node->as_integer();
    if (v == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("config: field '", Path(key), "' must be an integer"));
    }
    if (v->get() < min || v->get() > max) {
      return absl::InvalidArgumentError(absl::StrCat("config: field '", Path(key),
                                                     "' must be between ", min, " and ", max,
                                                     " (got ", v->get(), ")"));
    }
    return v->get();
  }

  absl::Status Finish() const {
    for (const auto& [key, node] : table_) {
      if (!seen_.contains(std::string(key.str()))) {
        return absl::InvalidArgumentError(
            absl::StrCat("config: unknown field '", Path(Absl(key.str())), "'"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Missing(absl::string_view key) const {
    return absl::InvalidArgumentError(
        absl::StrCat("config: missing required field '", Path(key), "'"));
  }

 private:
  const toml::table& table_;
  std::string name_;
  std::set<std::string> seen_;
};

absl::Status CheckAbsolutePath(const std::string& value, const std::string& field) {
  if (value.empty() || value.front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("config: field '", field, "' must be an absolute path (got '", value, "')"));
  }
  if (value.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("config: field '", field, "' contains a NUL"));
  }
  return absl::OkStatus();
}

absl::StatusOr<const toml::table*> RequiredTable(const toml::table& root, absl::string_view name) {
  const toml::node* node = root.get(Std(name));
  if (node == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("config: missing required section [", name, "]"));
  }
  const toml::table* table = node->as_table();
  if (table == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("config: '", name, "' must be a section ([", name, "])"));
  }
  return table;
}

absl::StatusOr<ServerConfig> ParseServer(const toml::table& table) {
  Section s(table, "server");
  ServerConfig out;
  absl::StatusOr<std::string> socket = s.String("socket", true);
  if (!socket.ok()) return socket.status();
  if (absl::Status c = CheckAbsolutePath(*socket, s.Path("socket")); !c.ok()) return c;
  if (socket->size() > kMaxSocketPath) {
    return absl::InvalidArgumentError(absl::StrCat("config: field 'server.socket' is ",
                                                   socket->size(), " bytes; a Unix socket path holds at most ",
                                                   kMaxSocketPath));
  }
  out.socket = *socket;
  absl::StatusOr<std::string> database = s.String("database", true);
  if (!database.ok()) return database.status();
  if (absl::Status c = CheckAbsolutePath(*database, s.Path("database")); !c.ok()) return c;
  out.database = *database;
  if (absl::Status f = s.Finish(); !f.ok()) return f;
  return out;
}

absl::StatusOr<Pkcs11Config> ParsePkcs11(const toml::table& table) {
  Section s(table, "pkcs11");
  Pkcs11Config out;
  absl::StatusOr<std::string> module = s.String("module", true);
  if (!module.ok()) return module.status();
  if (absl::Status c = CheckAbsolutePath(*module, s.Path("module")); !c.ok()) return c;
  out.module = *module;

  absl::StatusOr<std::string> label = s.String("token_label", true);
  if (!label.ok()) return label.status();
  if (label->empty() || label->size() > 32) {
    return absl::InvalidArgumentError(
        "config: field 'pkcs11.token_label' must be 1 to 32 bytes (a PKCS#11 token label)");
  }
  out.token_label = *label;

  bool has_file = false, has_env = false;
  absl::StatusOr<std::string> pin_file = s.String("pin_file", false, &has_file);
  if (!pin_file.ok()) return pin_file.status();
  absl::StatusOr<std::string> pin_env = s.String("pin_env", false, &has_env);
  if (!pin_env.ok()) return pin_env.status();
  if (has_file == has_env) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config: exactly one of 'pkcs11.pin_file' and 'pkcs11.pin_env' must be set (",
        has_file ? "both are" : "neither is", ")"));
  }
  if (has_file) {
    if (absl::Status c = CheckAbsolutePath(*pin_file, s.Path("pin_file")); !c.ok()) return c;
    out.pin_file = *pin_file;
  } else {
    if (pin_env->empty() || pin_env->find('=') != std::string::npos ||
        pin_env->find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          "config: field 'pkcs11.pin_env' must be a non-empty environment variable name without '='");
    }
    out.pin_env = *pin_env;
  }
  absl::StatusOr<int64_t> pool =
      s.Integer("session_pool_size", false, 4, 1, static_cast<int64_t>(kMaxSessionPoolSize));
  if (!pool.ok()) return pool.status();
  out.session_pool_size = static_cast<size_t>(*pool);
  if (absl::Status f = s.Finish(); !f.ok()) return f;
  return out;
}

absl::StatusOr<TransactionsConfig> ParseTransactions(const toml::table& table) {
  Section s(table, "transactions");
  TransactionsConfig out;
  absl::StatusOr<std::string> config = s.String("config", true);
  if (!config.ok()) return config.status();
  if (absl::Status c = CheckAbsolutePath(*config, s.Path("config")); !c.ok()) return c;
  out.config = *config;
  if (absl::Status f = s.Finish(); !f.ok()) return f;
  return out;
}

}  // namespace

absl::StatusOr<Config> ParseConfig(absl::string_view text, absl::string_view source) {
  if (text.size() > kMaxConfigSize) {
    return absl::InvalidArgumentError(absl::StrCat("config '", source, "' is larger than ",
                                                   kMaxConfigSize, " bytes"));
  }
  toml::table root;
  try {
    root = toml::parse(Std(text), Std(source));
  } catch (const toml::parse_error& e) {
    const toml::source_position& at = e.source().begin;
    return absl::InvalidArgumentError(absl::StrCat("config '", source, "' line ", at.line,
                                                   " column ", at.column, ": ", Absl(e.description())));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("config '", source, "': ", e.what()));
  }
  Config config;
  for (const auto& [key, node] : root) {
    if (key.str() != "server" && key.str() != "pkcs11" && key.str() != "transactions") {
      return absl::InvalidArgumentError(absl::StrCat("config: unknown field '", Absl(key.str()), "'"));
    }
  }
  absl::StatusOr<const toml::table*> server = RequiredTable(root, "server");
  if (!server.ok()) return server.status();
  absl::StatusOr<ServerConfig> parsed_server = ParseServer(**server);
  if (!parsed_server.ok()) return parsed_server.status();
  config.server = *std::move(parsed_server);

  absl::StatusOr<const toml::table*> pkcs11 = RequiredTable(root, "pkcs11");
  if (!pkcs11.ok()) return pkcs11.status();
  absl::StatusOr<Pkcs11Config> parsed_pkcs11 = ParsePkcs11(**pkcs11);
  if (!parsed_pkcs11.ok()) return parsed_pkcs11.status();
  config.pkcs11 = *std::move(parsed_pkcs11);

  if (root.contains("transactions")) {
    absl::StatusOr<const toml::table*> tx = RequiredTable(root, "transactions");
    if (!tx.ok()) return tx.status();
    absl::StatusOr<TransactionsConfig> parsed_tx = ParseTransactions(**tx);
    if (!parsed_tx.ok()) return parsed_tx.status();
    config.transactions = *std::move(parsed_tx);
  }
  return config;
}

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("config file '", path, "' does not exist"));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("config file '", path, "' is not a regular file"));
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxConfigSize) {
    return absl::InvalidArgumentError(absl::StrCat("config file '", path, "' is larger than ",
                                                   kMaxConfigSize, " bytes"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("config file '", path, "' cannot be read"));
  std::ostringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path);
}

}  // namespace ringfence::signer

#include "custody/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>
#include <toml++/toml.h>

#include "absl/status/status.h"
#include "base/status.h"
#include "base/text.h"
#include "base/hex.h"
#include "chain/eth_address.h"
#include "policy/ids.h"

namespace ringfence::custody {
namespace {

using base::Cat;

// Longest Unix socket path: sockaddr_un.sun_path holds 108 bytes including the NUL.
constexpr size_t kMaxSocketPath = 107;
constexpr size_t kMaxPathLength = 4096;
constexpr size_t kMaxAssetIdLength = 32;
constexpr size_t kMaxMatchLength = 1024;

absl::Status FieldError(std::string_view path, std::string_view rule) {
  return absl::InvalidArgumentError(Cat("config: field '", path, "' ", rule));
}

// Reads one TOML table, remembering which keys were asked for, so that Finish() can name any
// key the parser does not know.
class Section {
 public:
  Section(const toml::table& table, std::string path) : table_(table), path_(std::move(path)) {}

  std::string Path(std::string_view key) const { return path_.empty() ? std::string(key) : Cat(path_, ".", key); }

  // The string at `key`; "" when absent and not required (`present` tells which).
  absl::StatusOr<std::string> String(std::string_view key, bool required, bool* present = nullptr) {
    seen_.insert(std::string(key));
    const toml::node* node = table_.get(key);
    if (present != nullptr) *present = node != nullptr;
    if (node == nullptr) {
      if (required) return Missing(key);
      return std::string();
    }
    const toml::value<std::string>* v = node->as_string();
    if (v == nullptr) return FieldError(Path(key), "must be a string");
    if (v->get().find('\0') != std::string::npos) return FieldError(Path(key), "contains a NUL byte");
    return v->get();
  }

  absl::StatusOr<int64_t> Integer(std::string_view key, bool required, int64_t fallback, int64_t min,
                                  int64_t max) {
    seen_.insert(std::string(key));
    const toml::node* node = table_.get(key);
    if (node == nullptr) {
      if (required) return Missing(key);
      return fallback;
    }
    const toml::value<int64_t>* v = node->as_integer();
    if (v == nullptr) return FieldError(Path(key), "must be an integer");
    if (v->get() < min || v->get() > max) {
      return FieldError(Path(key), Cat("must be between ", min, " and ", max, " (got ", v->get(), ")"));
    }
    return v->get();
  }

  absl::StatusOr<bool> Boolean(std::string_view key, bool fallback) {
    seen_.insert(std::string(key));
    const toml::node* node = table_.get(key);
    if (node == nullptr) return fallback;
    const toml::value<bool>* v = node->as_boolean();
    if (v == nullptr) return FieldError(Path(key), "must be true or false");
    return v->get();
  }

  // The sub-table at `key`, or nullptr when absent and not required.
  absl::StatusOr<const toml::table*> Table(std::string_view key, bool required) {
    seen_.insert(std::string(key));
    const toml::node* node = table_.get(key);
    if (node == nullptr) {
      if (required) return absl::InvalidArgumentError(Cat("config: missing required section [", Path(key), "]"));
      return nullptr;
    }
    const toml::table* table = node->as_table();
    if (table == nullptr) return FieldError(Path(key), Cat("must be a section ([", Path(key), "])"));
    return table;
  }

  // The array of tables at `key` ([[key]]); empty when absent and not required.
  absl::StatusOr<std::vector<const toml::table*>> Tables(std::string_view key, bool required, size_t max) {
    seen_.insert(std::string(key));
    std::vector<const toml::table*> out;
    const toml::node* node = table_.get(key);
    if (node == nullptr) {
      if (required) return absl::InvalidArgumentError(Cat("config: missing required section [[", Path(key), "]]"));
      return out;
    }
    const toml::array* array = node->as_array();
    if (array == nullptr) return FieldError(Path(key), Cat("must be an array of tables ([[", Path(key), "]])"));
    if (array->size() > max) return FieldError(Path(key), Cat("has ", array->size(), " entries; at most ", max));
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::table* t = (*array)[i].as_table();
      if (t == nullptr) return FieldError(Cat(Path(key), "[", i, "]"), "must be a table");
      out.push_back(t);
    }
    if (required && out.empty()) return FieldError(Path(key), "must have at least one entry");
    return out;
  }

  absl::Status Finish() const {
    for (const auto& [key, node] : table_) {
      if (!seen_.contains(std::string(key.str()))) {
        return absl::InvalidArgumentError(Cat("config: unknown field '", Path(key.str()), "'"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Missing(std::string_view key) const {
    return absl::InvalidArgumentError(Cat("config: missing required field '", Path(key), "'"));
  }

 private:
  const toml::table& table_;
  std::string path_;
  std::set<std::string> seen_;
};

absl::Status CheckAbsolutePath(const std::string& value, const std::string& field, size_t max = kMaxPathLength) {
  if (value.empty() || value.front() != '/') {
    return FieldError(field, Cat("must be an absolute path (got ", base::Clip(value), ")"));
  }
  if (value.size() > max) return FieldError(field, Cat("is ", value.size(), " bytes; at most ", max));
  return absl::OkStatus();
}

bool IsPrintable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

absl::StatusOr<ServerConfig> ParseServer(const toml::table& table) {
  Section s(table, "server");
  ServerConfig out;
  RF_ASSIGN_OR_RETURN(out.listen, s.String("listen", true));
  if (out.listen.size() > 256 || !SplitListen(out.listen).has_value()) {
    return FieldError(s.Path("listen"), Cat("must be host:port with a port of 0..65535 (got ",
                                            base::Clip(out.listen), ")"));
  }
  RF_ASSIGN_OR_RETURN(const toml::table* tls, s.Table("tls", false));
  if (tls != nullptr) {
    Section t(*tls, "server.tls");
    TlsConfig c;
    RF_ASSIGN_OR_RETURN(c.cert, t.String("cert", true));
    RF_RETURN_IF_ERROR(CheckAbsolutePath(c.cert, t.Path("cert")));
    RF_ASSIGN_OR_RETURN(c.key, t.String("key", true));
    RF_RETURN_IF_ERROR(CheckAbsolutePath(c.key, t.Path("key")));
    RF_ASSIGN_OR_RETURN(c.client_ca, t.String("client_ca", true));
    RF_RETURN_IF_ERROR(CheckAbsolutePath(c.client_ca, t.Path("client_ca")));
    RF_RETURN_IF_ERROR(t.Finish());
    out.tls = std::move(c);
  }
  RF_RETURN_IF_ERROR(s.Finish());
  return out;
}

absl::StatusOr<RoleMapping> ParseRoleMapping(const toml::table& table, const std::string& path) {
  Section s(table, path);
  RoleMapping out;
  RF_ASSIGN_OR_RETURN(std::string name, s.String("name", true));
  std::optional<Role> role = ParseRole(name);
  if (!role.has_value()) {
    return FieldError(s.Path("name"), Cat("must be platform, approver, auditor or admin (got ", base::Clip(name), ")"));
  }
  out.role = *role;
  bool has_subject = false, has_san = false;
  RF_ASSIGN_OR_RETURN(out.subject, s.String("subject", false, &has_subject));
  RF_ASSIGN_OR_RETURN(out.san, s.String("san", false, &has_san));
  if (has_subject == has_san) {
    return absl::InvalidArgumentError(Cat("config: exactly one of '", s.Path("subject"), "' and '", s.Path("san"),
                                          "' must be set (", has_subject ? "both are" : "neither is", ")"));
  }
  const std::string& match = has_subject ? out.subject : out.san;
  const std::string field = s.Path(has_subject ? "subject" : "san");
  if (match.empty() || match.size() > kMaxMatchLength || !IsPrintable(match)) {
    return FieldError(field, Cat("must be 1..", kMaxMatchLength, " printable ASCII bytes"));
  }
  RF_RETURN_IF_ERROR(s.Finish());
  return out;
}

bool IsAssetId(std::string_view id) {
  if (id.empty() || id.size() > kMaxAssetIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

bool IsNetworkName(std::string_view n) {
  if (n.empty() || n.size() > 32) return false;
  return std::all_of(n.begin(), n.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

// Base units in `field` of `s`, zero when absent.
absl::StatusOr<base::Amount> OptionalBaseUnits(Section& s, const char* field) {
  bool present = false;
  RF_ASSIGN_OR_RETURN(std::string text, s.String(field, false, &present));
  if (!present) return base::Amount::Zero();
  absl::StatusOr<base::Amount> amount = base::ParseBaseUnits(text);
  if (!amount.ok()) return FieldError(s.Path(field), Cat("must be base units: ", amount.status().message()));
  return *amount;
}

absl::StatusOr<AssetConfig> ParseAsset(const toml::table& table, const std::string& path) {
  Section s(table, path);
  AssetConfig out;
  RF_ASSIGN_OR_RETURN(out.id, s.String("id", true));
  if (!IsAssetId(out.id)) {
    return FieldError(s.Path("id"), Cat("must be 1..", kMaxAssetIdLength, " bytes of [A-Za-z0-9._-] (got ",
                                        base::Clip(out.id), ")"));
  }
  RF_ASSIGN_OR_RETURN(out.chain, s.String("chain", true));
  if (out.chain != "bitcoin" && out.chain != "ethereum") {
    return FieldError(s.Path("chain"), Cat("must be bitcoin or ethereum (got ", base::Clip(out.chain), ")"));
  }
  RF_ASSIGN_OR_RETURN(out.network, s.String("network", true));
  if (out.chain == "bitcoin" && BitcoinHrp(out.network).empty()) {
    return FieldError(s.Path("network"),
                      Cat("must be mainnet, testnet, signet or regtest for bitcoin (got ", base::Clip(out.network), ")"));
  }
  if (!IsNetworkName(out.network)) {
    return FieldError(s.Path("network"), Cat("must be 1..32 bytes of [a-z0-9-] (got ", base::Clip(out.network), ")"));
  }
  RF_ASSIGN_OR_RETURN(int64_t decimals, s.Integer("decimals", true, 0, 0, base::kMaxDecimals));
  out.decimals = static_cast<uint32_t>(decimals);
  RF_ASSIGN_OR_RETURN(int64_t confirmations, s.Integer("confirmations", true, 1, 1, 10000));
  out.confirmations = static_cast<uint32_t>(confirmations);
  bool has_contract = false;
  RF_ASSIGN_OR_RETURN(out.erc20_contract, s.String("erc20_contract", false, &has_contract));
  if (has_contract) {
    if (out.chain != "ethereum") return FieldError(s.Path("erc20_contract"), "is only allowed for ethereum assets");
    absl::StatusOr<chain::EthAddress> contract = chain::ParseEthAddress(out.erc20_contract);
    if (!contract.ok() || chain::EthChecksumAddress(*contract) != out.erc20_contract) {
      return FieldError(s.Path("erc20_contract"),
                        Cat("must be an EIP-55 checksummed address (got ", base::Clip(out.erc20_contract), ")"));
    }
  }
  bool has_fee_cap = false;
  RF_ASSIGN_OR_RETURN(std::string fee_cap, s.String("withdrawal_fee_cap", false, &has_fee_cap));
  if (has_fee_cap) {
    absl::StatusOr<base::Amount> cap = base::ParseBaseUnits(fee_cap);
    if (!cap.ok()) return FieldError(s.Path("withdrawal_fee_cap"), Cat("must be base units: ", cap.status().message()));
    if (cap->is_zero()) return FieldError(s.Path("withdrawal_fee_cap"), "must be above 0");
    out.withdrawal_fee_cap = *cap;
  }
  bool has_threshold = false;
  RF_ASSIGN_OR_RETURN(std::string threshold, s.String("receivable_threshold", false, &has_threshold));
  if (has_threshold) {
    absl::StatusOr<base::Amount> t = base::ParseBaseUnits(threshold);
    if (!t.ok() || t->is_zero()) return FieldError(s.Path("receivable_threshold"), "must be base units above 0");
    out.receivable_threshold = *t;
  }
  bool has_price = false;
  RF_ASSIGN_OR_RETURN(std::string price, s.String("price", false, &has_price));
  if (has_price) {
    absl::StatusOr<base::Amount> p = base::ParseBaseUnits(price);
    if (!p.ok() || p->is_zero() || p->base_units() > UINT64_MAX) {
      return FieldError(s.Path("price"), "must be base units of the reference asset, 1..2^64 - 1");
    }
    if (out.decimals > 19) return FieldError(s.Path("price"), "needs an asset of at most 19 decimals");
    out.price = static_cast<uint64_t>(p->base_units());
  }
  RF_RETURN_IF_ERROR(s.Finish());
  return out;
}

// An Ed25519 public key given as 64 hex digits in `field` of `s` (required).
absl::StatusOr<std::array<uint8_t, 32>> Ed25519PublicKey(Section& s, const char* field) {
  RF_ASSIGN_OR_RETURN(std::string key, s.String(field, true));
  absl::StatusOr<std::vector<uint8_t>> bytes = base::HexDecode(key);
  if (!bytes.ok() || bytes->size() != 32) return FieldError(s.Path(field), "must be 64 hex digits (an Ed25519 public key)");
  std::array<uint8_t, 32> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

absl::StatusOr<ApproverConfig> ParseApprover(const toml::table& table, const std::string& path) {
  Section s(table, path);
  ApproverConfig out;
  RF_ASSIGN_OR_RETURN(out.id, s.String("id", true));
  RF_RETURN_IF_ERROR(policy::ValidateIdText(out.id, s.Path("id")));
  RF_ASSIGN_OR_RETURN(out.public_key, Ed25519PublicKey(s, "public_key"));
  bool has_subject = false, has_san = false;
  RF_ASSIGN_OR_RETURN(out.subject, s.String("subject", false, &has_subject));
  RF_ASSIGN_OR_RETURN(out.san, s.String("san", false, &has_san));
  if (has_subject && has_san) {
    return absl::InvalidArgumentError(Cat("config: at most one of '", s.Path("subject"), "' and '", s.Path("san"),
                                          "' may be set"));
  }
  for (const auto& [field, value, present] : {std::tuple{"subject", out.subject, has_subject},
                                              std::tuple{"san", out.san, has_san}}) {
    if (present && (value.empty() || value.size() > kMaxMatchLength || !IsPrintable(value))) {
      return FieldError(s.Path(field), Cat("must be 1..", kMaxMatchLength, " printable ASCII bytes"));
    }
  }
  RF_RETURN_IF_ERROR(s.Finish());
  return out;
}

absl::StatusOr<ChainConfig> ParseChain(const toml::table& table, const std::string& path) {
  Section s(table, path);
  ChainConfig out;
  RF_ASSIGN_OR_RETURN(out.name, s.String("name", true));
  if (out.name != "bitcoin" && out.name != "ethereum") {
    return FieldError(s.Path("name"), Cat("must be bitcoin or ethereum (got ", base::Clip(out.name), ")"));
  }
  RF_ASSIGN_OR_RETURN(out.kind, s.String("kind", true));
  if (out.kind != "chainsim") {
    return FieldError(s.Path("kind"), Cat("must be chainsim (got ", base::Clip(out.kind), ")"));
  }
  RF_ASSIGN_OR_RETURN(out.endpoint, s.String("endpoint", true));
  if (out.endpoint.rfind("unix:", 0) == 0) {
    RF_RETURN_IF_ERROR(CheckAbsolutePath(out.endpoint.substr(5), s.Path("endpoint") + " (after unix:)", kMaxSocketPath));
  } else if (out.endpoint.size() > 256 || !SplitListen(out.endpoint).has_value()) {
    return FieldError(s.Path("endpoint"), Cat("must be unix:/absolute/path or host:port (got ",
                                              base::Clip(out.endpoint), ")"));
  }
  RF_ASSIGN_OR_RETURN(int64_t interval, s.Integer("poll_interval_ms", false, 1000, 10, 600000));
  out.poll_interval_ms = static_cast<uint32_t>(interval);
  RF_RETURN_IF_ERROR(s.Finish());
  return out;
}

absl::Status CrossCheck(const Config& config) {
  std::set<std::string> ids;
  std::set<std::pair<std::string, std::string>> contracts;
  for (size_t i = 0; i < config.assets.size(); ++i) {
    const AssetConfig& a = config.assets[i];
    const std::string path = Cat("assets[", i, "]");
    if (!ids.insert(a.id).second) return FieldError(path + ".id", Cat("repeats asset ", base::Clip(a.id)));
    if (config.FindChain(a.chain) == nullptr) {
      return FieldError(path + ".chain", Cat("names chain ", base::Clip(a.chain), " which has no [[chains]] entry"));
    }
    if (!a.erc20_contract.empty() && !contracts.insert({a.chain, a.erc20_contract}).second) {
      return FieldError(path + ".erc20_contract", "repeats another asset's contract");
    }
    // One adapter serves a chain, so every asset on it is on the same network.
    for (size_t j = 0; j < i; ++j) {
      if (config.assets[j].chain == a.chain && config.assets[j].network != a.network) {
        return FieldError(path + ".network", Cat("is ", base::Clip(a.network), " but assets[", j, "] on chain ",
                                                 a.chain, " is on ", base::Clip(config.assets[j].network)));
      }
    }
  }
  std::set<std::string> chains;
  for (size_t i = 0; i < config.chains.size(); ++i) {
    if (!chains.insert(config.chains[i].name).second) {
      return FieldError(Cat("chains[", i, "].name"), Cat("repeats chain ", config.chains[i].name));
    }
  }
  std::set<std::string> natives;
  for (const AssetConfig& a : config.assets) {
    if (a.erc20_contract.empty() && !natives.insert(a.chain).second) {
      return absl::InvalidArgumentError(Cat("config: chain ", a.chain, " has more than one native asset"));
    }
  }
  std::set<std::string> approver_ids;
  std::set<std::string> approver_keys;
  for (size_t i = 0; i < config.approvers.size(); ++i) {
    const ApproverConfig& a = config.approvers[i];
    if (!approver_ids.insert(a.id).second) return FieldError(Cat("approvers[", i, "].id"), "repeats an earlier approver");
    // One key under two ids would let one person count twice.
    if (!approver_keys.insert(std::string(a.public_key.begin(), a.public_key.end())).second) {
      return FieldError(Cat("approvers[", i, "].public_key"), "repeats an earlier approver's key");
    }
  }
  std::set<std::pair<std::string, std::string>> matches;
  for (size_t i = 0; i < config.roles.size(); ++i) {
    const RoleMapping& r = config.roles[i];
    std::pair<std::string, std::string> key = r.subject.empty() ? std::pair{std::string("san"), r.san}
                                                                 : std::pair{std::string("subject"), r.subject};
    if (!matches.insert(key).second) {
      return FieldError(Cat("roles[", i, "].", key.first), "repeats an earlier rule (a certificate maps to one role)");
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kPlatform:
      return "platform";
    case Role::kApprover:
      return "approver";
    case Role::kAuditor:
      return "auditor";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : kAllRoles) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

const AssetConfig* Config::FindAsset(std::string_view id) const {
  for (const AssetConfig& a : assets) {
    if (a.id == id) return &a;
  }
  return nullptr;
}

const ApproverConfig* Config::FindApprover(std::string_view id) const {
  for (const ApproverConfig& a : approvers) {
    if (a.id == id) return &a;
  }
  return nullptr;
}

const ChainConfig* Config::FindChain(std::string_view name) const {
  for (const ChainConfig& c : chains) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::vector<store::WalletRow> WalletsOf(const AssetConfig& asset) {
  return {
      {ClientHotWallet(asset.id), asset.id, "client", "hot", "hot"},
      {Cat(asset.id, ":client-cold"), asset.id, "client", "cold", "cold"},
      {Cat(asset.id, ":house-hot"), asset.id, "house", "hot", "hot"},
  };
}

std::string ClientHotWallet(std::string_view asset_id) { return Cat(asset_id, ":client-hot"); }

std::string_view BitcoinHrp(std::string_view network) {
  if (network == "mainnet") return "bc";
  if (network == "testnet" || network == "signet") return "tb";
  if (network == "regtest") return "bcrt";
  return "";
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  // 127.0.0.0/8 written as a dotted quad.
  if (host.rfind("127.", 0) != 0) return false;
  int parts = 0;
  size_t start = 0;
  while (start <= host.size()) {
    size_t end = host.find('.', start);
    if (end == std::string_view::npos) end = host.size();
    std::string_view part = host.substr(start, end - start);
    int value = -1;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || part.size() > 3 || ec != std::errc() || ptr != part.data() + part.size() || value > 255) {
      return false;
    }
    ++parts;
    start = end + 1;
  }
  return parts == 4;
}

std::optional<std::pair<std::string, uint16_t>> SplitListen(std::string_view listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = listen.substr(0, colon);
  std::string_view port = listen.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
  } else if (host.find(':') != std::string_view::npos) {
    return std::nullopt;  // a bare IPv6 address must be bracketed
  }
  if (!IsPrintable(host) || host.find(' ') != std::string_view::npos) return std::nullopt;
  if (port.empty() || port.size() > 5) return std::nullopt;
  uint32_t value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || ptr != port.data() + port.size() || value > 65535) return std::nullopt;
  return std::pair{std::string(host), static_cast<uint16_t>(value)};
}

absl::StatusOr<Config> ParseConfig(std::string_view text, std::string_view source) {
  if (text.size() > kMaxConfigSize) {
    return absl::InvalidArgumentError(Cat("config ", base::Clip(source, 256), " is larger than ", kMaxConfigSize, " bytes"));
  }
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const toml::source_position& at = e.source().begin;
    return absl::InvalidArgumentError(
        Cat("config '", source, "' line ", at.line, " column ", at.column, ": ", e.description()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(Cat("config '", source, "': ", e.what()));
  }

  Section s(root, "");
  Config config;
  RF_ASSIGN_OR_RETURN(const toml::table* server, s.Table("server", true));
  RF_ASSIGN_OR_RETURN(config.server, ParseServer(*server));

  RF_ASSIGN_OR_RETURN(std::vector<const toml::table*> roles, s.Tables("roles", false, kMaxRoleMappings));
  for (size_t i = 0; i < roles.size(); ++i) {
    RF_ASSIGN_OR_RETURN(RoleMapping r, ParseRoleMapping(*roles[i], Cat("roles[", i, "]")));
    config.roles.push_back(std::move(r));
  }

  RF_ASSIGN_OR_RETURN(const toml::table* database, s.Table("database", true));
  {
    Section d(*database, "database");
    RF_ASSIGN_OR_RETURN(config.database_path, d.String("path", true));
    RF_RETURN_IF_ERROR(CheckAbsolutePath(config.database_path, d.Path("path")));
    RF_RETURN_IF_ERROR(d.Finish());
  }
  RF_ASSIGN_OR_RETURN(const toml::table* signer, s.Table("signer", true));
  {
    Section g(*signer, "signer");
    RF_ASSIGN_OR_RETURN(config.signer_socket, g.String("socket", true));
    RF_RETURN_IF_ERROR(CheckAbsolutePath(config.signer_socket, g.Path("socket"), kMaxSocketPath));
    RF_RETURN_IF_ERROR(g.Finish());
  }

  RF_ASSIGN_OR_RETURN(std::vector<const toml::table*> assets, s.Tables("assets", true, kMaxAssets));
  for (size_t i = 0; i < assets.size(); ++i) {
    RF_ASSIGN_OR_RETURN(AssetConfig a, ParseAsset(*assets[i], Cat("assets[", i, "]")));
    config.assets.push_back(std::move(a));
  }
  RF_ASSIGN_OR_RETURN(std::vector<const toml::table*> chains, s.Tables("chains", true, kMaxChains));
  for (size_t i = 0; i < chains.size(); ++i) {
    RF_ASSIGN_OR_RETURN(ChainConfig c, ParseChain(*chains[i], Cat("chains[", i, "]")));
    config.chains.push_back(std::move(c));
  }
  RF_ASSIGN_OR_RETURN(std::vector<const toml::table*> approvers, s.Tables("approvers", false, kMaxApprovers));
  for (size_t i = 0; i < approvers.size(); ++i) {
    RF_ASSIGN_OR_RETURN(ApproverConfig a, ParseApprover(*approvers[i], Cat("approvers[", i, "]")));
    config.approvers.push_back(std::move(a));
  }
  RF_ASSIGN_OR_RETURN(const toml::table* withdrawals, s.Table("withdrawals", false));
  if (withdrawals != nullptr) {
    Section w(*withdrawals, "withdrawals");
    WithdrawalsConfig c;
    RF_ASSIGN_OR_RETURN(c.policy_path, w.String("policy", true));
    RF_RETURN_IF_ERROR(CheckAbsolutePath(c.policy_path, w.Path("policy")));
    RF_ASSIGN_OR_RETURN(c.approval_window_seconds,
                        w.Integer("approval_window_seconds", false, 86400, kMinApprovalWindowSeconds,
                                  kMaxApprovalWindowSeconds));
    RF_ASSIGN_OR_RETURN(c.executor, w.Boolean("executor", true));
    RF_RETURN_IF_ERROR(w.Finish());
    config.withdrawals = std::move(c);
  }
  RF_ASSIGN_OR_RETURN(const toml::table* allocation, s.Table("allocation", false));
  if (allocation != nullptr) {
    Section a(*allocation, "allocation");
    AllocationConfig c;
    RF_ASSIGN_OR_RETURN(c.reference, a.String("reference", true));
    if (!IsAssetId(c.reference)) {
      return FieldError(a.Path("reference"), Cat("must be 1..", kMaxAssetIdLength, " bytes of [A-Za-z0-9._-]"));
    }
    RF_ASSIGN_OR_RETURN(int64_t decimals, a.Integer("reference_decimals", false, 2, 0, 18));
    c.reference_decimals = static_cast<uint32_t>(decimals);
    RF_RETURN_IF_ERROR(a.Finish());
    config.allocation = std::move(c);
  }
  RF_ASSIGN_OR_RETURN(const toml::table* coverage, s.Table("coverage", false));
  if (coverage != nullptr) {
    Section c(*coverage, "coverage");
    config.coverage.configured = true;
    RF_ASSIGN_OR_RETURN(std::vector<const toml::table*> covers, c.Tables("cover", false, kMaxCovers));
    for (size_t i = 0; i < covers.size(); ++i) {
      Section v(*covers[i], Cat("coverage.cover[", i, "]"));
      CoverConfig cover;
      RF_ASSIGN_OR_RETURN(cover.policy, v.String("policy", true));
      if (cover.policy.empty() || cover.policy.size() > 128 || !IsPrintable(cover.policy)) {
        return FieldError(v.Path("policy"), "must be 1..128 printable ASCII bytes");
      }
      RF_ASSIGN_OR_RETURN(cover.asset_id, v.String("asset", true));
      if (config.FindAsset(cover.asset_id) == nullptr) {
        return FieldError(v.Path("asset"), Cat("names ", base::Clip(cover.asset_id), ", which is no [[assets]] id"));
      }
      RF_ASSIGN_OR_RETURN(cover.amount, OptionalBaseUnits(v, "amount"));
      RF_RETURN_IF_ERROR(v.Finish());
      config.coverage.covers.push_back(std::move(cover));
    }
    RF_RETURN_IF_ERROR(c.Finish());
  }
  RF_ASSIGN_OR_RETURN(const toml::table* reconciliation, s.Table("reconciliation", false));
  if (reconciliation != nullptr) {
    Section r(*reconciliation, "reconciliation");
    ReconciliationConfig c;
    RF_ASSIGN_OR_RETURN(int64_t k, r.Integer("lift_approvals", false, 2, 1, 16));
    c.lift_approvals = static_cast<uint32_t>(k);
    RF_ASSIGN_OR_RETURN(c.lift_group, r.String("lift_group", true));
    if (!IsAssetId(c.lift_group)) {
      return FieldError(r.Path("lift_group"), Cat("must be 1..", kMaxAssetIdLength, " bytes of [A-Za-z0-9._-]"));
    }
    RF_RETURN_IF_ERROR(r.Finish());
    if (!config.withdrawals.has_value() || !config.withdrawals->executor) {
      return FieldError("reconciliation", "needs a [withdrawals] section with executor = true (the reconciler runs in "
                                          "the executor's passes; the policy names the lift group)");
    }
    config.reconciliation = std::move(c);
  }
  RF_ASSIGN_OR_RETURN(const toml::table* cold_signer, s.Table("cold_signer", false));
  if (cold_signer != nullptr) {
    Section c(*cold_signer, "cold_signer");
    ColdSignerConfig cold;
    RF_ASSIGN_OR_RETURN(cold.identity_key, Ed25519PublicKey(c, "identity_key"));
    RF_RETURN_IF_ERROR(c.Finish());
    config.cold_signer = cold;
  }
  RF_RETURN_IF_ERROR(s.Finish());
  RF_RETURN_IF_ERROR(CrossCheck(config));
  return config;
}

absl::Status AttachPolicy(Config& config, std::string_view policy_text) {
  if (!config.withdrawals.has_value()) return absl::FailedPreconditionError("config: no [withdrawals] section");
  absl::StatusOr<policy::Policy> parsed = policy::ParsePolicy(policy_text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        Cat("config: withdrawals.policy ", base::Clip(config.withdrawals->policy_path, 200), ": ", parsed.status().message()));
  }
  for (const auto& [id, asset] : parsed->assets) {
    const AssetConfig* configured = config.FindAsset(id.value());
    const std::string field = Cat("withdrawals.policy: assets.", id.value());
    if (configured == nullptr) return FieldError(field, "is not a configured [[assets]] id");
    if (static_cast<uint32_t>(asset.decimals) != configured->decimals) {
      return FieldError(field + ".decimals", Cat("is ", asset.decimals, " but the asset has ", configured->decimals));
    }
    // One source for the cover held: custodyd's named [[coverage.cover]] instruments.
    if (!asset.configured_cover.is_zero()) {
      return FieldError(field + ".coverage.configured_cover",
                        "must be 0 for custodyd: the cover held is configured as [[coverage.cover]] instruments");
    }
  }
  // The policy is the one source of the allocation rules (hot cap, target, floor, minimum
  // sweep, top-up quorum): an asset custodyd serves without rules there is a configuration
  // error, not an asset left to defaults. (An asset without a withdrawal_fee_cap may have rules:
  // its withdrawals are refused for want of the fee cap, and it is never swept or topped up.)
  for (const AssetConfig& asset : config.assets) {
    if (parsed->FindAsset(policy::AssetId(asset.id)) == nullptr) {
      return FieldError(Cat("withdrawals.policy: assets.", asset.id),
                        Cat("is missing: [[assets]] ", asset.id,
                            " is served, and its allocation rules (hot_cap, hot_target, hot_floor, min_sweep, "
                            "top_up_approvals) come from the policy"));
    }
  }
  for (const auto& [id, group] : parsed->groups) {
    for (const policy::PrincipalId& member : group.members) {
      if (config.FindApprover(member.value()) == nullptr) {
        return FieldError(Cat("withdrawals.policy: groups.", id.value(), ".members"),
                          Cat("names ", base::Clip(member.value()), " which is no [[approvers]] id"));
      }
    }
  }
  if (config.reconciliation.has_value()) {
    const policy::ApproverGroup* group = parsed->FindGroup(policy::GroupId(config.reconciliation->lift_group));
    if (group == nullptr) {
      return FieldError("reconciliation.lift_group",
                        Cat("names ", base::Clip(config.reconciliation->lift_group), ", which is no group of the policy"));
    }
    if (group->members.size() < config.reconciliation->lift_approvals) {
      return FieldError("reconciliation.lift_approvals",
                        Cat("is ", config.reconciliation->lift_approvals, " but group ", config.reconciliation->lift_group,
                            " has only ", group->members.size(), " members"));
    }
  }
  config.withdrawals->policy = std::make_shared<const policy::Policy>(*std::move(parsed));
  config.withdrawals->policy_text = std::string(policy_text);
  return absl::OkStatus();
}

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return absl::NotFoundError(Cat("config file '", path, "' does not exist"));
  if (!S_ISREG(st.st_mode)) return absl::InvalidArgumentError(Cat("config file '", path, "' is not a regular file"));
  if (static_cast<uint64_t>(st.st_size) > kMaxConfigSize) {
    return absl::InvalidArgumentError(Cat("config file '", path, "' is larger than ", kMaxConfigSize, " bytes"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(Cat("config file '", path, "' cannot be read"));
  std::ostringstream text;
  text << in.rdbuf();
  RF_ASSIGN_OR_RETURN(Config config, ParseConfig(text.str(), path));
  if (config.withdrawals.has_value()) {
    const std::string& policy_path = config.withdrawals->policy_path;
    struct stat pst {};
    if (stat(policy_path.c_str(), &pst) != 0) {
      return absl::NotFoundError(Cat("config: withdrawals.policy '", policy_path, "' does not exist"));
    }
    if (!S_ISREG(pst.st_mode) || static_cast<uint64_t>(pst.st_size) > policy::kMaxPolicyBytes) {
      return absl::InvalidArgumentError(Cat("config: withdrawals.policy '", policy_path,
                                            "' is not a regular file of at most ", policy::kMaxPolicyBytes, " bytes"));
    }
    std::ifstream pin(policy_path, std::ios::binary);
    if (!pin) return absl::InvalidArgumentError(Cat("config: withdrawals.policy '", policy_path, "' cannot be read"));
    std::ostringstream ptext;
    ptext << pin.rdbuf();
    RF_RETURN_IF_ERROR(AttachPolicy(config, ptext.str()));
  }
  return config;
}

std::string NativeAssetOf(const Config& config, const AssetConfig& asset) {
  if (asset.erc20_contract.empty()) return asset.id;
  for (const AssetConfig& a : config.assets) {
    if (a.chain == asset.chain && a.erc20_contract.empty()) return a.id;
  }
  return "";
}

}  // namespace ringfence::custody

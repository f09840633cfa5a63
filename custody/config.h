// custodyd's configuration: a TOML file parsed strictly (docs/custody-api.md, "Configuration").
//
// Every field is checked: an unknown or missing field, a wrong type or a value out of range is
// an InvalidArgument error naming the field by its path ("assets[1].decimals") and the rule.
// The wallets are not configured one by one: every asset gets the three wallets
// "<asset>:client-hot", "<asset>:client-cold" and "<asset>:house-hot" (WalletsOf), upserted
// into the store at start.
//
// Plain values, thread-compatible: parse once, then share read-only.
#ifndef RINGFENCE_CUSTODY_CONFIG_H_
#define RINGFENCE_CUSTODY_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "custody/store/store.h"

namespace ringfence::custody {

inline constexpr size_t kMaxConfigSize = 1 << 20;
inline constexpr size_t kMaxRoleMappings = 256;
inline constexpr size_t kMaxAssets = 64;
inline constexpr size_t kMaxChains = 8;

// The four callers of the API (issue 11). A certificate maps to exactly one.
enum class Role { kPlatform, kApprover, kAuditor, kAdmin };
inline constexpr Role kAllRoles[] = {Role::kPlatform, Role::kApprover, Role::kAuditor, Role::kAdmin};

// "platform", "approver", "auditor", "admin".
std::string_view RoleName(Role role);
// The inverse of RoleName; std::nullopt for any other text.
std::optional<Role> ParseRole(std::string_view name);

// The server's own certificate and the CA that client certificates must chain to (PEM files).
struct TlsConfig {
  std::string cert;       // absolute path
  std::string key;        // absolute path
  std::string client_ca;  // absolute path
};

struct ServerConfig {
  // "host:port" (IPv6 in brackets); port 0 lets the system choose.
  std::string listen;
  // Absent: custodyd serves only with --insecure-loopback (and then only on a loopback host).
  std::optional<TlsConfig> tls;
};

// One certificate-to-role rule: a client certificate whose subject (RFC 2253 form, as gRPC
// reports it: "CN=platform-1,O=Ringfence") equals `subject`, or which carries a subject
// alternative name equal to `san` ("ringfence:role:platform"), is `role`. Exactly one of
// subject and san is set.
struct RoleMapping {
  Role role = Role::kPlatform;
  std::string subject;
  std::string san;
};

struct AssetConfig {
  std::string id;              // 1..32 bytes of [A-Za-z0-9._-], e.g. "BTC", "USDC-ETH"
  std::string chain;           // "bitcoin" | "ethereum"; names a [[chains]] entry
  std::string network;         // bitcoin: mainnet | testnet | signet | regtest; ethereum: 1..32 of [a-z0-9-]
  uint32_t decimals = 0;       // 0..38
  uint32_t confirmations = 1;  // 1..10000
  std::string erc20_contract;  // EIP-55 form; ethereum only, empty for a native asset
};

struct ChainConfig {
  std::string name;                // "bitcoin" | "ethereum" (the ChainAdapter's chain())
  std::string kind;                // "chainsim" (real nodes: later issues)
  std::string endpoint;            // gRPC target: "unix:/abs/path" or "host:port"
  uint32_t poll_interval_ms = 1000;  // 10..600000
};

struct Config {
  ServerConfig server;
  std::vector<RoleMapping> roles;
  std::string database_path;  // [database] path, absolute
  std::string signer_socket;  // [signer] socket, absolute
  std::vector<AssetConfig> assets;
  std::vector<ChainConfig> chains;

  // The asset with this id, or nullptr.
  const AssetConfig* FindAsset(std::string_view id) const;
  const ChainConfig* FindChain(std::string_view name) const;
};

// Parses TOML text. `source` names the text in error messages (usually the file path).
absl::StatusOr<Config> ParseConfig(std::string_view text, std::string_view source);

// Reads and parses `path`. NotFound if it does not exist; InvalidArgument if it is not a
// regular file, is larger than kMaxConfigSize or does not parse.
absl::StatusOr<Config> LoadConfig(const std::string& path);

// The three wallets of an asset, in the order client-hot, client-cold, house-hot. Hot wallets
// are served by the signer named "hot", cold ones by "cold".
std::vector<store::WalletRow> WalletsOf(const AssetConfig& asset);
std::string ClientHotWallet(std::string_view asset_id);

// The segwit human-readable part of a Bitcoin network ("bc", "tb", "bcrt"); empty for any
// other network.
std::string_view BitcoinHrp(std::string_view network);

// True if `host` (the part of a listen address before the port) is a loopback address:
// 127.0.0.0/8, ::1 or "localhost".
bool IsLoopbackHost(std::string_view host);
// Splits "host:port" / "[v6]:port"; std::nullopt if it has no port or the port is not 0..65535.
std::optional<std::pair<std::string, uint16_t>> SplitListen(std::string_view listen);

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_CONFIG_H_

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
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/amount.h"
#include "custody/store/store.h"
#include "policy/config.h"

namespace ringfence::custody {

inline constexpr size_t kMaxConfigSize = 1 << 20;
inline constexpr size_t kMaxRoleMappings = 256;
inline constexpr size_t kMaxAssets = 64;
inline constexpr size_t kMaxChains = 8;
inline constexpr size_t kMaxApprovers = 256;
inline constexpr size_t kMaxCovers = 256;  // [[coverage.cover]] entries
// Approvals of a withdrawal or whitelist addition must be made within this window of its
// creation (the digest binds the deadline): [withdrawals] approval_window_seconds bounds.
inline constexpr int64_t kMinApprovalWindowSeconds = 60;
inline constexpr int64_t kMaxApprovalWindowSeconds = 30 * 86400;

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
  // The most network fee a withdrawal of this asset may pay, in base units of the chain's
  // native asset (sat, wei; also wei for an ERC-20). Absent: withdrawals of it are refused.
  std::optional<base::Amount> withdrawal_fee_cap;
  // The hot/cold allocation rules (cap, target, floor, minimum sweep) are not here: they come
  // from the policy's [assets.<id>.allocation] (custody/allocation.h, AllocationPolicy).
  // What the house owes the client-hot wallet (receivable:<asset>:client-hot: fees of sweeps and
  // token gas) is paid back from house-hot once it reaches this many base units; absent: never
  // automatically.
  std::optional<base::Amount> receivable_threshold;
  // Base units of [allocation] reference per whole unit of this asset (10^decimals base
  // units), for the aggregate figures; absent: the asset is left out of them.
  std::optional<uint64_t> price;
};

// One approver: the id the policy's groups name and approvals carry, and the Ed25519 public
// key their signatures verify under. `subject`/`san` (at most one): only a caller whose
// certificate matches may submit or reject for this approver; neither set: any caller with
// the approver role may submit an approval made with this key (the signature is what counts).
struct ApproverConfig {
  std::string id;                        // policy principal grammar: 1..128 of [A-Za-z0-9._:@-]
  std::array<uint8_t, 32> public_key{};  // "public_key" = 64 hex digits
  std::string subject;
  std::string san;
};

// [withdrawals]: the policy that decides withdrawals and whitelist additions, and how long
// approvals may take.
struct WithdrawalsConfig {
  std::string policy_path;  // absolute path of a policy file (docs/policy.md)
  int64_t approval_window_seconds = 86400;
  // `executor` (default true): custodyd runs the withdrawal executor (custody/executor.h), which
  // signs, broadcasts and settles approved withdrawals. false: withdrawals are requested,
  // approved, rejected and cancelled, but an approved one waits (its hold kept) until a custodyd
  // with the executor on takes it; for maintenance of the signer or the chain side.
  bool executor = true;
  // Set by LoadConfig / AttachPolicy (ParseConfig reads no other file): the parsed policy and
  // the text it came from (its hash is policy->hash).
  std::shared_ptr<const policy::Policy> policy;
  std::string policy_text;
};

struct ChainConfig {
  std::string name;                // "bitcoin" | "ethereum" (the ChainAdapter's chain())
  std::string kind;                // "chainsim" (real nodes: later issues)
  std::string endpoint;            // gRPC target: "unix:/abs/path" or "host:port"
  uint32_t poll_interval_ms = 1000;  // 10..600000
};

// [cold_signer]: the offline signer that serves the client-cold wallets. Files it writes
// (cold-key files, signed bundles; docs/signing-bundle.md) are believed only when signed by
// this identity key, the Ed25519 public key `signerd --offline ... identity` prints.
struct ColdSignerConfig {
  std::array<uint8_t, 32> identity_key{};  // "identity_key" = 64 hex digits
};

// [allocation]: the reference asset the aggregate allocation and coverage are valued in. The
// aggregate hot cap is the policy's [allocation] aggregate_hot_cap.
struct AllocationConfig {
  std::string reference;            // e.g. "USD"; 1..32 bytes of [A-Za-z0-9._-]
  uint32_t reference_decimals = 2;  // 0..18
};

// [coverage]: insurance or compensation cover held, by named instrument. The cover required per
// asset (all of the client-hot holdings and the policy's cold_share of the client-cold
// holdings, rounded up) is the policy's rule (policy::DecideCoverage).
struct CoverConfig {
  std::string policy;  // its name, 1..128 printable bytes
  std::string asset_id;
  base::Amount amount;  // base units of the asset
};
struct CoverageConfig {
  bool configured = false;  // a [coverage] section is present: shortfalls raise alerts
  std::vector<CoverConfig> covers;  // [[coverage.cover]]
};

// [reconciliation]: custodyd compares chain balances with the ledger at every new block
// (custody/reconciler.h). A difference freezes the asset's outgoing movements; lifting the
// freeze takes lift_approvals signatures of distinct members of the policy group lift_group.
// Requires [withdrawals] with its executor (the reconciler runs in the executor's passes).
struct ReconciliationConfig {
  uint32_t lift_approvals = 2;  // 1..16
  std::string lift_group;       // a group of the withdrawal policy
};

struct Config {
  ServerConfig server;
  std::vector<RoleMapping> roles;
  std::string database_path;  // [database] path, absolute
  std::string signer_socket;  // [signer] socket, absolute
  std::vector<AssetConfig> assets;
  std::vector<ChainConfig> chains;
  std::vector<ApproverConfig> approvers;      // [[approvers]]
  std::optional<WithdrawalsConfig> withdrawals;  // absent: no whitelist or withdrawal RPC serves
  std::optional<ColdSignerConfig> cold_signer;   // absent: no cold keys can be imported
  std::optional<AllocationConfig> allocation;    // absent: no aggregate figures
  CoverageConfig coverage;                        // [coverage]; defaults when absent
  std::optional<ReconciliationConfig> reconciliation;  // absent: no reconciliation, no freezes

  // The asset with this id, or nullptr.
  const AssetConfig* FindAsset(std::string_view id) const;
  const ChainConfig* FindChain(std::string_view name) const;
  const ApproverConfig* FindApprover(std::string_view id) const;
};

// Parses TOML text. `source` names the text in error messages (usually the file path).
absl::StatusOr<Config> ParseConfig(std::string_view text, std::string_view source);

// Reads and parses `path`, and with a [withdrawals] section also its policy file
// (AttachPolicy). NotFound if a file does not exist; InvalidArgument if it is not a regular
// file, is too large or does not parse.
absl::StatusOr<Config> LoadConfig(const std::string& path);

// Parses `policy_text` (policy/config.h) into config.withdrawals and checks it against the
// config: the policy's assets are exactly the configured assets (same decimals; a configured
// asset the policy lacks is an error naming it), every approver-group member is an [[approvers]] id, and a
// [reconciliation] lift_group is a group with at least lift_approvals members. InvalidArgument
// naming the field otherwise. REQUIRES: config.withdrawals is set.
absl::Status AttachPolicy(Config& config, std::string_view policy_text);

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

// The native asset of `asset`'s chain: `asset` itself unless it is an ERC-20 token, else the
// configured asset on the same chain without a contract ("" if none is configured). A token's
// gas is paid in it.
std::string NativeAssetOf(const Config& config, const AssetConfig& asset);

}  // namespace ringfence::custody

#endif  // RINGFENCE_CUSTODY_CONFIG_H_

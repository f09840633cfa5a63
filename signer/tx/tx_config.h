// TxConfig: what signerd's transaction signing is configured for, read from its own TOML file
// (format in docs/sign_transaction.md): the Bitcoin network and Ethereum network + chain id it
// signs for, the assets it knows (native coin or ERC-20 token contract), and the path of the
// approver registry, which is loaded with it.
//
// Nothing here comes from a request: the checks compare each request against these values.
// Plain immutable values once loaded; safe to share between threads.
#ifndef RINGFENCE_SIGNER_TX_TX_CONFIG_H_
#define RINGFENCE_SIGNER_TX_TX_CONFIG_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "chain/bech32.h"
#include "signer/store.h"
#include "signer/tx/approver_registry.h"

namespace ringfence::signer::tx {

enum class ChainKind { kBitcoin, kEthereum };

// "bitcoin" / "ethereum".
std::string_view ChainName(ChainKind chain);

struct AssetConfig {
  std::string id;
  ChainKind chain = ChainKind::kBitcoin;
  // Set for an ERC-20 token: the contract a transfer must call. Unset for the native coin.
  std::optional<std::array<uint8_t, 20>> erc20_contract;
};

struct BitcoinConfig {
  std::string network;  // "mainnet", "testnet" or "regtest"
  chain::BitcoinNetwork kind = chain::BitcoinNetwork::kRegtest;
};

struct EthereumConfig {
  std::string network;  // a name, e.g. "mainnet", "sepolia", "devnet"
  uint64_t chain_id = 0;
};

// A wallet signerd knows from its configuration rather than from its own keys' bindings: the
// cold wallet of each asset (served by the offline signer), or a house wallet elsewhere. The
// segregation rules (docs/sign_transaction.md) recognise its addresses as that wallet's.
struct RegisteredWallet {
  WalletBinding wallet;                // wallet_id, asset, owner_class, tier
  std::vector<std::string> addresses;  // canonical address text for the asset's chain
};

// The most addresses one [[wallet]] entry may list.
inline constexpr size_t kMaxRegisteredWalletAddresses = 10000;

struct TxConfig {
  std::optional<BitcoinConfig> bitcoin;
  std::optional<EthereumConfig> ethereum;
  std::map<std::string, AssetConfig, std::less<>> assets;
  std::filesystem::path approver_registry_path;
  std::vector<RegisteredWallet> wallets;  // [[wallet]] entries, in file order

  const AssetConfig* FindAsset(std::string_view id) const;
};

// Parses the configuration text; `base_dir` resolves a relative approver_registry path.
// InvalidArgument naming the field for an unknown or missing field, an unknown network, chain
// id 0, an asset on an unconfigured chain, a malformed contract address, two native assets
// on one chain, or a [[wallet]] with a malformed id, an unknown asset, owner or tier, no
// addresses, an address that is not canonical for the asset's chain and network, a duplicate
// id, or an address already listed by another wallet.
absl::StatusOr<TxConfig> ParseTxConfig(std::string_view text, const std::filesystem::path& base_dir);

// Cross-checks the registry against the configuration: every quorum and cold address names a
// configured asset, and every cold address is the canonical address text for its chain and
// network. InvalidArgument naming the entry otherwise.
absl::Status ValidateRegistryAgainstConfig(const ApproverRegistry& registry, const TxConfig& config);

// Canonical destination text: for Bitcoin, a segwit address of the configured network in
// lowercase; for Ethereum, the EIP-55 checksummed form. Returns the decoded destination
// (scriptPubKey for Bitcoin, 20-byte address for Ethereum) or FailedPrecondition naming
// `field` and the rule.
absl::StatusOr<std::vector<uint8_t>> ParseCanonicalBitcoinDestination(std::string_view text,
                                                                       const BitcoinConfig& config,
                                                                       std::string_view field);
absl::StatusOr<std::array<uint8_t, 20>> ParseCanonicalEthereumDestination(std::string_view text,
                                                                           std::string_view field);

}  // namespace ringfence::signer::tx

#endif  // RINGFENCE_SIGNER_TX_TX_CONFIG_H_

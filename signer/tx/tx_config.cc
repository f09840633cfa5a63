#include "signer/tx/tx_config.h"

#include <map>
#include <set>

#include "base/text.h"
#include "chain/eth_address.h"
#include "signer/key_service.h"
#include "signer/request_limits.h"
#include "signer/tx/toml_fields.h"

namespace ringfence::signer::tx {

using base::Cat;

namespace {
namespace tf = toml_fields;
}  // namespace

std::string_view ChainName(ChainKind chain) {
  return chain == ChainKind::kBitcoin ? "bitcoin" : "ethereum";
}

const AssetConfig* TxConfig::FindAsset(std::string_view id) const {
  auto it = assets.find(id);
  return it == assets.end() ? nullptr : &it->second;
}

namespace {

// The [[wallet]] entries; `config`'s chains and assets are already parsed.
absl::Status ParseRegisteredWallets(const toml::table& root, TxConfig* config) {
  const toml::node* node = root.get("wallet");
  if (node == nullptr) return absl::OkStatus();
  const toml::array* wallets = node->as_array();
  if (wallets == nullptr) return absl::InvalidArgumentError("wallet: must be an array of tables ([[wallet]])");
  std::set<std::string, std::less<>> ids;
  std::map<std::string, std::string, std::less<>> address_owner;  // address -> wallet id
  for (size_t i = 0; i < wallets->size(); ++i) {
    const std::string path = Cat("wallet[", i, "]");
    const toml::table* t = wallets->get(i)->as_table();
    if (t == nullptr) return absl::InvalidArgumentError(Cat(path, ": must be a table"));
    if (auto st = tf::OnlyKeys(*t, path, {"id", "asset", "owner", "tier", "addresses"}); !st.ok()) return st;
    RegisteredWallet w;
    auto id = tf::String(*t, path, "id");
    if (!id.ok()) return id.status();
    if (auto st = ValidateWalletId(Cat(path, ".id"), *id); !st.ok()) return st;
    w.wallet.wallet_id = *id;
    auto asset_id = tf::String(*t, path, "asset");
    if (!asset_id.ok()) return asset_id.status();
    const AssetConfig* asset = config->FindAsset(*asset_id);
    if (asset == nullptr) {
      return absl::InvalidArgumentError(
          Cat(path, ".asset: ", base::Clip(*asset_id), " is not a configured [[asset]]"));
    }
    w.wallet.asset = *asset_id;
    auto owner = tf::String(*t, path, "owner");
    if (!owner.ok()) return owner.status();
    auto owner_class = ParseOwnerClassName(*owner);
    if (!owner_class.ok()) {
      return absl::InvalidArgumentError(Cat(path, ".owner: ", base::Clip(*owner), " is not client or house"));
    }
    w.wallet.owner_class = *owner_class;
    auto tier_name = tf::String(*t, path, "tier");
    if (!tier_name.ok()) return tier_name.status();
    auto tier = ParseTierName(*tier_name);
    if (!tier.ok()) {
      return absl::InvalidArgumentError(Cat(path, ".tier: ", base::Clip(*tier_name), " is not hot or cold"));
    }
    w.wallet.tier = *tier;
    const toml::node* addresses_node = t->get("addresses");
    if (addresses_node == nullptr) return absl::InvalidArgumentError(Cat(path, ".addresses: missing"));
    const toml::array* addresses = addresses_node->as_array();
    if (addresses == nullptr || addresses->empty()) {
      return absl::InvalidArgumentError(Cat(path, ".addresses: must be a non-empty array of address strings"));
    }
    if (addresses->size() > kMaxRegisteredWalletAddresses) {
      return absl::InvalidArgumentError(Cat(path, ".addresses: ", addresses->size(), " entries, at most ",
                                            kMaxRegisteredWalletAddresses));
    }
    for (size_t j = 0; j < addresses->size(); ++j) {
      const std::string field = Cat(path, ".addresses[", j, "]");
      const std::optional<std::string> text = addresses->get(j)->value<std::string>();
      if (!text) return absl::InvalidArgumentError(Cat(field, ": must be a string"));
      absl::Status st = asset->chain == ChainKind::kBitcoin
                            ? ParseCanonicalBitcoinDestination(*text, *config->bitcoin, field).status()
                            : ParseCanonicalEthereumDestination(*text, field).status();
      if (!st.ok()) return absl::InvalidArgumentError(st.message());
      auto [it, added] = address_owner.emplace(*text, w.wallet.wallet_id);
      if (!added) {
        return absl::InvalidArgumentError(Cat(field, ": ", *text, " is already an address of wallet ", it->second));
      }
      w.addresses.push_back(*text);
    }
    if (!ids.insert(w.wallet.wallet_id).second) {
      return absl::InvalidArgumentError(Cat(path, ".id: duplicate wallet \"", w.wallet.wallet_id, "\""));
    }
    config->wallets.push_back(std::move(w));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TxConfig> ParseTxConfig(std::string_view text, const std::filesystem::path& base_dir) {
  auto parsed = tf::ParseText(text, "transaction config");
  if (!parsed.ok()) return parsed.status();
  const toml::table& root = *parsed;
  if (auto st = tf::OnlyKeys(root, "", {"approver_registry", "bitcoin", "ethereum", "asset", "wallet"});
      !st.ok()) {
    return st;
  }
  TxConfig config;
  auto registry = tf::String(root, "", "approver_registry");
  if (!registry.ok()) return registry.status();
  if (registry->empty()) return absl::InvalidArgumentError("approver_registry: must not be empty");
  std::filesystem::path reg_path(*registry);
  config.approver_registry_path = reg_path.is_absolute() ? reg_path : base_dir / reg_path;

  if (const toml::node* n = root.get("bitcoin")) {
    const toml::table* t = n->as_table();
    if (t == nullptr) return absl::InvalidArgumentError("bitcoin: must be a table");
    if (auto st = tf::OnlyKeys(*t, "bitcoin", {"network"}); !st.ok()) return st;
    auto network = tf::String(*t, "bitcoin", "network");
    if (!network.ok()) return network.status();
    BitcoinConfig btc;
    btc.network = *network;
    if (*network == "mainnet") btc.kind = chain::BitcoinNetwork::kMainnet;
    else if (*network == "testnet") btc.kind = chain::BitcoinNetwork::kTestnet;
    else if (*network == "regtest") btc.kind = chain::BitcoinNetwork::kRegtest;
    else {
      return absl::InvalidArgumentError(
          Cat("bitcoin.network: \"", *network, "\" is not one of mainnet, testnet, regtest"));
    }
    config.bitcoin = btc;
  }
  if (const toml::node* n = root.get("ethereum")) {
    const toml::table* t = n->as_table();
    if (t == nullptr) return absl::InvalidArgumentError("ethereum: must be a table");
    if (auto st = tf::OnlyKeys(*t, "ethereum", {"network", "chain_id"}); !st.ok()) return st;
    auto network = tf::String(*t, "ethereum", "network");
    if (!network.ok()) return network.status();
    if (network->empty() || network->size() > kMaxNetworkBytes) {  // a request must carry it
      return absl::InvalidArgumentError(Cat("ethereum.network: must be 1-", kMaxNetworkBytes, " characters"));
    }
    auto chain_id = tf::Integer(*t, "ethereum", "chain_id");
    if (!chain_id.ok()) return chain_id.status();
    if (*chain_id <= 0) {
      return absl::InvalidArgumentError(
          Cat("ethereum.chain_id: ", *chain_id, " must be positive (EIP-155 replay protection)"));
    }
    config.ethereum = EthereumConfig{*network, static_cast<uint64_t>(*chain_id)};
  }

  const toml::node* assets_node = root.get("asset");
  const toml::array* assets = assets_node ? assets_node->as_array() : nullptr;
  if (assets == nullptr || assets->empty()) {
    return absl::InvalidArgumentError("asset: at least one [[asset]] entry is required");
  }
  bool native_seen[2] = {false, false};
  for (size_t i = 0; i < assets->size(); ++i) {
    const std::string path = Cat("asset[", i, "]");
    const toml::table* t = assets->get(i)->as_table();
    if (t == nullptr) return absl::InvalidArgumentError(Cat(path, ": must be a table"));
    if (auto st = tf::OnlyKeys(*t, path, {"id", "chain", "erc20_contract"}); !st.ok()) return st;
    AssetConfig asset;
    auto id = tf::String(*t, path, "id");
    if (!id.ok()) return id.status();
    if (id->empty() || id->size() > kMaxAssetBytes) {  // a request must carry it
      return absl::InvalidArgumentError(Cat(path, ".id: must be 1-", kMaxAssetBytes, " characters"));
    }
    asset.id = *id;
    auto chain_name = tf::String(*t, path, "chain");
    if (!chain_name.ok()) return chain_name.status();
    if (*chain_name == "bitcoin") {
      asset.chain = ChainKind::kBitcoin;
      if (!config.bitcoin) {
        return absl::InvalidArgumentError(Cat(path, ".chain: bitcoin is not configured ([bitcoin] missing)"));
      }
    } else if (*chain_name == "ethereum") {
      asset.chain = ChainKind::kEthereum;
      if (!config.ethereum) {
        return absl::InvalidArgumentError(Cat(path, ".chain: ethereum is not configured ([ethereum] missing)"));
      }
    } else {
      return absl::InvalidArgumentError(
          Cat(path, ".chain: \"", *chain_name, "\" is not one of bitcoin, ethereum"));
    }
    if (t->get("erc20_contract") != nullptr) {
      if (asset.chain != ChainKind::kEthereum) {
        return absl::InvalidArgumentError(Cat(path, ".erc20_contract: only ethereum assets have one"));
      }
      auto contract_text = tf::String(*t, path, "erc20_contract");
      if (!contract_text.ok()) return contract_text.status();
      auto contract = chain::ParseEthAddress(*contract_text);
      if (!contract.ok()) {
        return absl::InvalidArgumentError(
            Cat(path, ".erc20_contract: ", contract.status().message()));
      }
      asset.erc20_contract = *contract;
    } else {
      bool& seen = native_seen[asset.chain == ChainKind::kBitcoin ? 0 : 1];
      if (seen) {
        return absl::InvalidArgumentError(
            Cat(path, ": a second native asset for ", ChainName(asset.chain)));
      }
      seen = true;
    }
    if (!config.assets.emplace(asset.id, asset).second) {
      return absl::InvalidArgumentError(Cat(path, ".id: duplicate asset \"", asset.id, "\""));
    }
  }
  if (auto st = ParseRegisteredWallets(root, &config); !st.ok()) return st;
  return config;
}

absl::StatusOr<std::vector<uint8_t>> ParseCanonicalBitcoinDestination(std::string_view text,
                                                                       const BitcoinConfig& config,
                                                                       std::string_view field) {
  auto addr = chain::DecodeSegwitAddress(text);
  if (!addr.ok()) {
    return absl::FailedPreconditionError(
        Cat(field, ": ", base::Clip(text), " is not a segwit address: ", addr.status().message()));
  }
  const std::string_view hrp = chain::SegwitHrp(config.kind);
  if (addr->hrp != hrp) {
    return absl::FailedPreconditionError(Cat(field, ": ", base::Clip(text), " is not a ", config.network,
                                             " address (expected prefix ", hrp, "1)"));
  }
  auto canonical = chain::EncodeSegwitAddress(*addr);
  if (!canonical.ok() || *canonical != text) {
    return absl::FailedPreconditionError(Cat(field, ": ", base::Clip(text),
                                             " is not in canonical (lowercase) form"));
  }
  auto script = chain::SegwitScriptPubKey(addr->witness_version, addr->program);
  if (!script.ok()) {
    return absl::FailedPreconditionError(Cat(field, ": ", script.status().message()));
  }
  return *script;
}

absl::StatusOr<std::array<uint8_t, 20>> ParseCanonicalEthereumDestination(std::string_view text,
                                                                           std::string_view field) {
  auto addr = chain::ParseEthAddress(text);
  if (!addr.ok()) {
    return absl::FailedPreconditionError(
        Cat(field, ": ", base::Clip(text), " is not an Ethereum address: ", addr.status().message()));
  }
  if (chain::EthChecksumAddress(*addr) != text) {
    return absl::FailedPreconditionError(
        Cat(field, ": ", base::Clip(text), " is not in canonical EIP-55 checksummed form (",
            chain::EthChecksumAddress(*addr), ")"));
  }
  return *addr;
}

absl::Status ValidateRegistryAgainstConfig(const ApproverRegistry& registry, const TxConfig& config) {
  for (const std::string& asset_id : registry.QuorumAssets()) {
    if (config.FindAsset(asset_id) == nullptr) {
      return absl::InvalidArgumentError(
          Cat("quorum.", asset_id, ": asset \"", asset_id, "\" is not configured"));
    }
  }
  for (const auto& [asset_id, address] : registry.cold_addresses()) {
    const AssetConfig* asset = config.FindAsset(asset_id);
    if (asset == nullptr) {
      return absl::InvalidArgumentError(
          Cat("cold_address ", address, ": asset \"", asset_id, "\" is not configured"));
    }
    absl::Status st;
    if (asset->chain == ChainKind::kBitcoin) {
      st = ParseCanonicalBitcoinDestination(address, *config.bitcoin, "cold_address").status();
    } else {
      st = ParseCanonicalEthereumDestination(address, "cold_address").status();
    }
    if (!st.ok()) return absl::InvalidArgumentError(Cat(st.message(), " (asset ", asset_id, ")"));
  }
  return absl::OkStatus();
}

}  // namespace ringfence::signer::tx

#include "tools/chainsim/ledger.h"

#include <algorithm>

#include "base/check.h"
#include "base/hex.h"
#include "base/text.h"
#include "chain/bech32.h"
#include "chain/bitcoin_tx.h"
#include "tools/chainsim/ledger_internal.h"

namespace ringfence::chainsim {

std::string_view ChainName(ChainId chain) {
  return chain == ChainId::kBitcoin ? kBitcoinName : kEthereumName;
}

absl::StatusOr<ChainId> ParseChainName(std::string_view name, std::string_view field) {
  if (name == kBitcoinName) return ChainId::kBitcoin;
  if (name == kEthereumName) return ChainId::kEthereum;
  return absl::InvalidArgumentError(
      base::Cat(field, ": unknown chain ", base::Clip(name), " (expected \"bitcoin\" or \"ethereum\")"));
}

absl::StatusOr<uint64_t> Ledger::NextNonce(const chain::EthAddress&) const {
  return absl::UnimplementedError("nonces exist on account chains only");
}

absl::StatusOr<std::vector<UnspentCoin>> Ledger::Unspent(const std::unordered_set<std::string>&) const {
  return absl::UnimplementedError("unspent outputs exist on UTXO chains only");
}

Ledger::Ledger(const Ledger& other, bool keep_history)
    : keep_history_(keep_history),
      height_(other.height_),
      balances_(other.balances_),
      known_txids_(other.known_txids_) {
  if (keep_history) history_ = other.history_;
}

base::Amount Ledger::BalanceAt(const std::string& key, uint64_t height) const {
  RF_CHECK(keep_history_, "BalanceAt on a ledger without history");
  auto it = history_.find(key);
  if (it == history_.end()) return base::Amount::Zero();
  const auto& entries = it->second;
  // The last entry at or below `height`.
  auto after = std::upper_bound(entries.begin(), entries.end(), height,
                                [](uint64_t h, const std::pair<uint64_t, base::Uint128>& e) { return h < e.first; });
  if (after == entries.begin()) return base::Amount::Zero();
  return base::Amount(std::prev(after)->second);
}

base::Uint128 Ledger::Balance(const std::string& key) const {
  auto it = balances_.find(key);
  return it == balances_.end() ? 0 : it->second;
}

void Ledger::SetBalance(const std::string& key, base::Uint128 value) {
  if (value == 0) {
    balances_.erase(key);
  } else {
    balances_[key] = value;
  }
  if (!keep_history_) return;
  auto& entries = history_[key];
  if (!entries.empty() && entries.back().first == height_) {
    entries.back().second = value;
  } else {
    RF_CHECK(entries.empty() || entries.back().first < height_, "balance history out of height order");
    entries.emplace_back(height_, value);
  }
}

std::unique_ptr<Ledger> NewLedger(ChainId chain, const TokenRegistry* tokens, bool keep_history) {
  if (chain == ChainId::kBitcoin) return NewBitcoinLedger(keep_history);
  return NewEthereumLedger(tokens, keep_history);
}

absl::StatusOr<std::string> TxidOf(ChainId chain, const TxRecord& tx) {
  if (chain == ChainId::kEthereum) return EthTxid(tx);
  absl::StatusOr<chain::Transaction> parsed = chain::ParseTransaction(tx.raw);
  if (!parsed.ok()) return absl::FailedPreconditionError(base::Cat("decode: ", parsed.status().message()));
  return chain::DisplayHex(chain::Txid(*parsed));
}

std::string BitcoinBalanceKey(std::string_view canonical_address) { return std::string(canonical_address); }

std::string EthBalanceKey(const chain::EthAddress& holder) { return base::HexEncode(holder); }

std::string EthTokenBalanceKey(const chain::EthAddress& contract, const chain::EthAddress& holder) {
  return base::Cat(base::HexEncode(contract), "/", base::HexEncode(holder));
}

absl::StatusOr<std::string> CanonicalAddress(ChainId chain, std::string_view address, std::string_view field) {
  if (chain == ChainId::kEthereum) {
    absl::StatusOr<chain::EthAddress> parsed = chain::ParseEthAddress(address);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          base::Cat(field, ": ", base::Clip(address), " is not an Ethereum address: ", parsed.status().message()));
    }
    return chain::EthChecksumAddress(*parsed);
  }
  absl::StatusOr<chain::SegwitAddress> parsed = chain::DecodeSegwitAddress(address);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        base::Cat(field, ": ", base::Clip(address), " is not a segwit address: ", parsed.status().message()));
  }
  if (parsed->hrp != kRegtestHrp) {
    return absl::InvalidArgumentError(
        base::Cat(field, ": ", base::Clip(address), " is not a regtest address (HRP must be \"bcrt\")"));
  }
  return chain::EncodeSegwitAddress(*parsed);
}

absl::StatusOr<std::vector<uint8_t>> MakeBitcoinCredit(uint64_t serial, std::string_view address,
                                                       base::Amount amount) {
  if (amount.is_zero()) return absl::InvalidArgumentError("amount: a credit must be above zero");
  if (amount.base_units() > chain::kMaxMoney) {
    return absl::InvalidArgumentError(
        base::Cat("amount: ", amount.ToBaseUnitString(), " satoshi is above 21,000,000 BTC"));
  }
  absl::StatusOr<std::string> canonical = CanonicalAddress(ChainId::kBitcoin, address, "address");
  if (!canonical.ok()) return canonical.status();
  absl::StatusOr<std::vector<uint8_t>> script = chain::ScriptPubKeyForAddress(*canonical);
  if (!script.ok()) return absl::InvalidArgumentError(base::Cat("address: ", script.status().message()));
  chain::Transaction tx;
  tx.version = 2;
  chain::TxIn in;
  in.prevout.vout = 0xffffffff;  // the null outpoint, as a coinbase spends
  in.script_sig.push_back(8);
  for (int shift = 56; shift >= 0; shift -= 8) in.script_sig.push_back(static_cast<uint8_t>(serial >> shift));
  tx.inputs.push_back(std::move(in));
  tx.outputs.push_back(chain::TxOut{static_cast<uint64_t>(amount.base_units()), *std::move(script)});
  return chain::Serialize(tx);
}

}  // namespace ringfence::chainsim

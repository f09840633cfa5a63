// The Bitcoin (regtest) ledger: unspent outputs, and the rules a broadcast spend must meet.
// tools/chainsim/README.md lists the rules in the order they are checked.
#include <map>

#include "base/text.h"
#include "chain/bech32.h"
#include "chain/bitcoin_tx.h"
#include "chain/ecdsa.h"
#include "chain/hashes.h"
#include "tools/chainsim/ledger_internal.h"

namespace ringfence::chainsim {
namespace {

using base::Cat;

struct Coin {
  uint64_t value = 0;
  std::vector<uint8_t> script_pubkey;
  std::string address;  // canonical bech32
  uint64_t height = 0;  // the block that created it (meaningful in a ledger with history)
};

absl::Status Refuse(std::string message) { return absl::FailedPreconditionError(std::move(message)); }

bool IsNullOutPoint(const chain::OutPoint& p) {
  return p.vout == 0xffffffff && p.txid == std::array<uint8_t, 32>{};
}

class BitcoinLedger final : public Ledger {
 public:
  explicit BitcoinLedger(bool keep_history) : Ledger(keep_history) {}
  BitcoinLedger(const BitcoinLedger& other, bool keep_history) : Ledger(other, keep_history), coins_(other.coins_) {}

  absl::StatusOr<Applied> Apply(const TxRecord& record) override;

  std::unique_ptr<Ledger> CloneWithoutHistory() const override {
    return std::make_unique<BitcoinLedger>(*this, false);
  }

  absl::StatusOr<std::vector<UnspentCoin>> Unspent(const std::unordered_set<std::string>& addresses) const override {
    std::vector<UnspentCoin> out;
    // A development chain holds few coins; a scan is simpler than an index kept through
    // reorganisations.
    for (const auto& [outpoint, coin] : coins_) {
      if (!addresses.contains(coin.address)) continue;
      out.push_back(UnspentCoin{outpoint.txid, outpoint.vout, coin.address, coin.value, coin.height, coin.script_pubkey});
    }
    return out;
  }

 private:
  // Checks input `i` of a broadcast spend and returns the coin it spends.
  absl::StatusOr<const Coin*> CheckInput(const chain::Transaction& tx, const chain::Bip143Shared& shared,
                                         size_t i) const;

  std::map<chain::OutPoint, Coin> coins_;
};

absl::StatusOr<const Coin*> BitcoinLedger::CheckInput(const chain::Transaction& tx,
                                                      const chain::Bip143Shared& shared, size_t i) const {
  const chain::TxIn& in = tx.inputs[i];
  const std::string where = Cat("input ", i, ": ");
  if (IsNullOutPoint(in.prevout)) return Refuse(Cat(where, "spends the null outpoint (coinbase inputs are not accepted)"));
  auto coin = coins_.find(in.prevout);
  if (coin == coins_.end()) {
    return Refuse(Cat(where, "spends ", chain::DisplayHex(in.prevout.txid), ":", in.prevout.vout,
                      ", which is not an unspent output (unknown, or already spent in the chain or the mempool)"));
  }
  absl::StatusOr<std::array<uint8_t, 20>> key_hash = chain::ParseP2wpkhScriptPubKey(coin->second.script_pubkey);
  if (!key_hash.ok()) return Refuse(Cat(where, "spends a non-P2WPKH output (only P2WPKH spends are supported)"));
  if (!in.script_sig.empty()) return Refuse(Cat(where, "scriptSig must be empty for a P2WPKH spend"));
  if (in.witness.size() != 2) {
    return Refuse(Cat(where, "a P2WPKH witness has 2 items (signature, public key), got ", in.witness.size()));
  }
  const std::vector<uint8_t>& pubkey = in.witness[1];
  if (pubkey.size() != 33 || (pubkey[0] != 0x02 && pubkey[0] != 0x03)) {
    return Refuse(Cat(where, "the witness public key must be 33 bytes, compressed"));
  }
  if (!chain::CompressPublicKey(pubkey).ok()) return Refuse(Cat(where, "the witness public key is not on the curve"));
  if (chain::Hash160(pubkey) != *key_hash) {
    return Refuse(Cat(where, "the witness public key does not hash to the key hash the output pays"));
  }
  const std::vector<uint8_t>& item = in.witness[0];
  if (item.empty() || item.back() != chain::kSighashAll) {
    return Refuse(Cat(where, "the signature's sighash type must be SIGHASH_ALL (0x01)"));
  }
  absl::StatusOr<chain::CompactSignature> sig =
      chain::ParseDerSignature(std::span<const uint8_t>(item.data(), item.size() - 1));
  if (!sig.ok()) return Refuse(Cat(where, "signature is not strict DER: ", sig.status().message()));
  if (!chain::IsLowS(*sig)) return Refuse(Cat(where, "signature has a high S (only low-S signatures are valid)"));
  absl::StatusOr<std::array<uint8_t, 32>> sighash = chain::Bip143Sighash(
      tx, shared, i, chain::P2wpkhScriptCode(*key_hash), coin->second.value, chain::kSighashAll);
  if (!sighash.ok()) return Refuse(Cat(where, "sighash: ", sighash.status().message()));
  if (!chain::VerifyEcdsa(*sighash, *sig, pubkey).ok()) {
    return Refuse(Cat(where, "signature does not verify (BIP-143 sighash, SIGHASH_ALL, the output's key)"));
  }
  return &coin->second;
}

absl::StatusOr<Applied> BitcoinLedger::Apply(const TxRecord& record) {
  absl::StatusOr<chain::Transaction> parsed = chain::ParseTransaction(record.raw);
  if (!parsed.ok()) return Refuse(Cat("decode: ", parsed.status().message()));
  const chain::Transaction& tx = *parsed;
  Applied out;
  out.id = chain::Txid(tx);
  out.txid = chain::DisplayHex(out.id);
  if (Knows(out.txid)) return absl::AlreadyExistsError(Cat("transaction ", out.txid, " is already known"));

  std::vector<const Coin*> spent;
  base::Uint128 in_sum = 0;
  if (record.kind == TxKind::kCredit) {
    if (tx.inputs.size() != 1 || !IsNullOutPoint(tx.inputs[0].prevout) || tx.outputs.size() != 1) {
      return Refuse("credit: not a coinbase-like transaction with one output");
    }
  } else {
    const chain::Bip143Shared shared = chain::Bip143Precompute(tx);
    for (size_t i = 0; i < tx.inputs.size(); ++i) {
      absl::StatusOr<const Coin*> coin = CheckInput(tx, shared, i);
      if (!coin.ok()) return coin.status();
      spent.push_back(*coin);
      in_sum += (*coin)->value;
    }
  }

  base::Uint128 out_sum = 0;
  for (size_t j = 0; j < tx.outputs.size(); ++j) {
    const chain::TxOut& output = tx.outputs[j];
    absl::StatusOr<chain::SegwitAddress> segwit = chain::SegwitAddressFromScriptPubKey(output.script_pubkey, kRegtestHrp);
    absl::StatusOr<std::string> address =
        segwit.ok() ? chain::EncodeSegwitAddress(*segwit) : absl::StatusOr<std::string>(segwit.status());
    if (!address.ok()) return Refuse(Cat("output ", j, ": does not pay a regtest segwit address: ", address.status().message()));
    if (output.value == 0) return Refuse(Cat("output ", j, ": pays zero satoshi"));
    out_sum += output.value;
    out.payments.push_back(Payment{static_cast<uint32_t>(j), *std::move(address), "", base::Amount(output.value)});
  }
  if (record.kind == TxKind::kSigned && out_sum > in_sum) {
    return Refuse(Cat("outputs pay ", base::Uint128ToString(out_sum), " satoshi, more than the ",
                      base::Uint128ToString(in_sum), " the inputs spend (the fee would be negative)"));
  }

  // Valid: apply. Balances are sums of unspent outputs, so neither update can wrap (each coin
  // is at most 21e6 BTC and a 128-bit sum of them would need 2^77 coins).
  for (size_t i = 0; i < spent.size(); ++i) {
    const std::string key = BitcoinBalanceKey(spent[i]->address);
    SetBalance(key, Balance(key) - spent[i]->value);
    coins_.erase(tx.inputs[i].prevout);
  }
  for (size_t j = 0; j < tx.outputs.size(); ++j) {
    const Payment& p = out.payments[j];
    const std::string key = BitcoinBalanceKey(p.to_address);
    SetBalance(key, Balance(key) + p.amount.base_units());
    coins_.emplace(chain::OutPoint{out.id, static_cast<uint32_t>(j)},
                   Coin{tx.outputs[j].value, tx.outputs[j].script_pubkey, p.to_address, height()});
  }
  Remember(out.txid);
  return out;
}

}  // namespace

std::unique_ptr<Ledger> NewBitcoinLedger(bool keep_history) { return std::make_unique<BitcoinLedger>(keep_history); }

}  // namespace ringfence::chainsim

#include "custody/txbuild.h"

#include <algorithm>
#include <optional>

#include "base/status.h"

#include "base/hex.h"
#include "base/text.h"
#include "chain/bech32.h"
#include "chain/erc20.h"
#include "chain/eth_address.h"

namespace ringfence::custody::txbuild {
namespace {

using base::Cat;

absl::StatusOr<ringfence::chain::OutPoint> OutPointOf(const Coin& coin, size_t i) {
  ringfence::chain::OutPoint p;
  absl::Status s = base::HexDecodeInto(coin.txid, p.txid, Cat("candidates[", i, "].txid"));
  if (!s.ok() || coin.txid.size() != 64) {
    return absl::InvalidArgumentError(Cat("candidates[", i, "].txid: ", base::Clip(coin.txid), " is not 64 hex digits"));
  }
  std::reverse(p.txid.begin(), p.txid.end());  // display order -> internal order
  p.vout = coin.vout;
  return p;
}

// The transaction of `inputs` paying `amount` to `destination` and, when `change` > 0,
// `change` to `change_script`.
ringfence::chain::Transaction Assemble(const std::vector<ringfence::chain::OutPoint>& inputs, const std::vector<uint8_t>& destination,
                            uint64_t amount, const std::vector<uint8_t>& change_script, uint64_t change) {
  ringfence::chain::Transaction tx;
  tx.version = 2;
  for (const ringfence::chain::OutPoint& p : inputs) {
    ringfence::chain::TxIn in;
    in.prevout = p;
    tx.inputs.push_back(std::move(in));
  }
  tx.outputs.push_back(ringfence::chain::TxOut{amount, destination});
  if (change > 0) tx.outputs.push_back(ringfence::chain::TxOut{change, change_script});
  return tx;
}

absl::StatusOr<base::Amount> Mul(base::Amount a, uint64_t b, std::string_view what) {
  const base::Uint128 x = a.base_units();
  if (b != 0 && x > (~base::Uint128{0}) / b) return absl::OutOfRangeError(Cat(what, " overflows 128 bits"));
  return base::Amount(x * b);
}

}  // namespace

absl::StatusOr<BitcoinPlan> BuildBitcoinSpend(const BitcoinSpend& spend) {
  if (spend.amount == 0 || spend.amount > ringfence::chain::kMaxMoney) {
    return absl::InvalidArgumentError(Cat("amount: ", spend.amount, " satoshi is outside 1..21,000,000 BTC"));
  }
  if (spend.sat_per_vbyte == 0) return absl::InvalidArgumentError("sat_per_vbyte: zero");
  absl::StatusOr<std::vector<uint8_t>> destination = ringfence::chain::ScriptPubKeyForAddress(spend.destination);
  if (!destination.ok()) return absl::InvalidArgumentError(Cat("destination: ", destination.status().message()));
  absl::StatusOr<std::vector<uint8_t>> change_script = ringfence::chain::ScriptPubKeyForAddress(spend.change_address);
  if (!change_script.ok() || !ringfence::chain::ParseP2wpkhScriptPubKey(*change_script).ok()) {
    return absl::InvalidArgumentError(Cat("change_address: ", base::Clip(spend.change_address), " is not a P2WPKH address"));
  }

  std::vector<std::pair<Coin, ringfence::chain::OutPoint>> coins;
  for (size_t i = 0; i < spend.candidates.size(); ++i) {
    RF_ASSIGN_OR_RETURN(ringfence::chain::OutPoint p, OutPointOf(spend.candidates[i], i));
    if (spend.candidates[i].amount == 0 || spend.candidates[i].amount > ringfence::chain::kMaxMoney) {
      return absl::InvalidArgumentError(Cat("candidates[", i, "].amount: ", spend.candidates[i].amount, " is out of range"));
    }
    coins.emplace_back(spend.candidates[i], p);
  }
  std::sort(coins.begin(), coins.end(), [](const auto& a, const auto& b) { return ConsideredBefore(a.first, b.first); });
  coins.erase(std::unique(coins.begin(), coins.end(), [](const auto& a, const auto& b) { return a.second == b.second; }),
              coins.end());

  std::vector<ringfence::chain::OutPoint> chosen;
  BitcoinPlan plan;
  uint64_t sum = 0;
  bool fee_capped = false;
  uint64_t lowest_fee_over_cap = 0;
  for (size_t n = 0; n < coins.size() && n < kMaxInputs; ++n) {
    chosen.push_back(coins[n].second);
    plan.inputs.push_back(coins[n].first);
    sum += coins[n].first.amount;  // at most 500 x 21e6 BTC: no overflow in 64 bits
    if (sum < spend.amount) continue;
    // With change: the fee of the two-output transaction.
    const ringfence::chain::Transaction with_change = Assemble(chosen, *destination, spend.amount, *change_script, 1);
    const uint64_t vsize2 = ringfence::chain::MaxSignedP2wpkhVsize(with_change);
    const uint64_t fee2 = vsize2 * spend.sat_per_vbyte;
    if (sum >= spend.amount + fee2 && sum - spend.amount - fee2 >= kDustLimit) {
      if (base::Amount(fee2) > spend.fee_cap) {
        fee_capped = true;
        lowest_fee_over_cap = lowest_fee_over_cap == 0 ? fee2 : std::min(lowest_fee_over_cap, fee2);
        continue;
      }
      plan.change = sum - spend.amount - fee2;
      plan.fee = fee2;
      plan.unsigned_tx = Assemble(chosen, *destination, spend.amount, *change_script, plan.change);
      plan.max_vsize = ringfence::chain::MaxSignedP2wpkhVsize(plan.unsigned_tx);
      return plan;
    }
    // Without change: whatever is left over is the fee, and must at least pay the rate.
    const ringfence::chain::Transaction no_change = Assemble(chosen, *destination, spend.amount, *change_script, 0);
    const uint64_t vsize1 = ringfence::chain::MaxSignedP2wpkhVsize(no_change);
    const uint64_t fee1 = sum - spend.amount;
    if (fee1 < vsize1 * spend.sat_per_vbyte) continue;
    if (base::Amount(fee1) > spend.fee_cap) {
      fee_capped = true;
      lowest_fee_over_cap = lowest_fee_over_cap == 0 ? fee1 : std::min(lowest_fee_over_cap, fee1);
      continue;
    }
    plan.change = 0;
    plan.fee = fee1;
    plan.unsigned_tx = no_change;
    plan.max_vsize = vsize1;
    return plan;
  }
  if (fee_capped) {
    return absl::FailedPreconditionError(Cat("fee_above_cap: the fee at ", spend.sat_per_vbyte, " sat/vB would be at least ",
                                             lowest_fee_over_cap, " satoshi, above the cap of ",
                                             spend.fee_cap.ToBaseUnitString()));
  }
  uint64_t available = 0;
  for (size_t n = 0; n < coins.size() && n < kMaxInputs; ++n) available += coins[n].first.amount;
  return absl::FailedPreconditionError(Cat("insufficient_funds: ", coins.size(), " spendable coins",
                                           coins.size() > kMaxInputs ? Cat(" (the largest ", kMaxInputs, " considered)") : "",
                                           " hold ", available, " satoshi; ", spend.amount,
                                           " satoshi and the fee at ", spend.sat_per_vbyte, " sat/vB are needed"));
}

absl::StatusOr<EthereumPlan> BuildEthereumSpend(const EthereumSpend& spend) {
  if (spend.chain_id == 0) return absl::InvalidArgumentError("chain_id: zero");
  if (spend.amount.is_zero()) return absl::InvalidArgumentError("amount: zero");
  absl::StatusOr<ringfence::chain::EthAddress> destination = ringfence::chain::ParseEthAddress(spend.destination);
  if (!destination.ok()) return absl::InvalidArgumentError(Cat("destination: ", destination.status().message()));
  const bool token = !spend.token_contract.empty();
  std::optional<ringfence::chain::EthAddress> contract;
  if (token) {
    absl::StatusOr<ringfence::chain::EthAddress> parsed = ringfence::chain::ParseEthAddress(spend.token_contract);
    if (!parsed.ok()) return absl::InvalidArgumentError(Cat("token_contract: ", parsed.status().message()));
    contract = *parsed;
  }
  const uint64_t gas_limit = token ? kErc20GasLimit : kNativeGasLimit;
  const std::optional<base::Amount> floor = spend.base_fee_per_gas.CheckedAdd(spend.max_priority_fee_per_gas);
  if (!floor || floor->is_zero()) return absl::InvalidArgumentError("base_fee_per_gas: no fee at all, or overflowing");
  std::optional<base::Amount> wanted = spend.base_fee_per_gas.CheckedAdd(*floor);  // 2 x base + priority
  if (!wanted) return absl::InvalidArgumentError("base_fee_per_gas: overflows");
  base::Amount max_fee_per_gas = *wanted;
  RF_ASSIGN_OR_RETURN(base::Amount max_fee, Mul(max_fee_per_gas, gas_limit, "max fee"));
  if (max_fee > spend.fee_cap) {
    // As much headroom as the cap allows, but never below what the node says is needed now.
    max_fee_per_gas = base::Amount(spend.fee_cap.base_units() / gas_limit);
    if (max_fee_per_gas < *floor) {
      RF_ASSIGN_OR_RETURN(base::Amount needed, Mul(*floor, gas_limit, "fee"));
      return absl::FailedPreconditionError(Cat("fee_above_cap: ", gas_limit, " gas at ", floor->ToBaseUnitString(),
                                               " wei (base + priority fee) is ", needed.ToBaseUnitString(),
                                               " wei, above the cap of ", spend.fee_cap.ToBaseUnitString()));
    }
    RF_ASSIGN_OR_RETURN(max_fee, Mul(max_fee_per_gas, gas_limit, "max fee"));
  }
  EthereumPlan plan;
  plan.tx.chain_id = spend.chain_id;
  plan.tx.nonce = spend.nonce;
  plan.tx.max_priority_fee_per_gas = ringfence::chain::U256::FromU128(spend.max_priority_fee_per_gas.base_units());
  plan.tx.max_fee_per_gas = ringfence::chain::U256::FromU128(max_fee_per_gas.base_units());
  plan.tx.gas_limit = gas_limit;
  if (token) {
    plan.tx.to = *contract;
    plan.tx.data = ringfence::chain::EncodeErc20Transfer(ringfence::chain::Erc20Transfer{*destination, ringfence::chain::U256::FromU128(spend.amount.base_units())});
  } else {
    plan.tx.to = *destination;
    plan.tx.value = ringfence::chain::U256::FromU128(spend.amount.base_units());
  }
  plan.unsigned_payload = ringfence::chain::EncodeUnsignedEip1559(plan.tx);
  plan.max_fee = max_fee;
  return plan;
}

absl::StatusOr<size_t> ChooseEthSender(const std::vector<EthAccount>& accounts, bool token, base::Amount amount,
                                       base::Amount max_fee, bool smallest) {
  std::optional<size_t> best;
  for (size_t i = 0; i < accounts.size(); ++i) {
    const EthAccount& a = accounts[i];
    bool can_pay = false;
    if (token) {
      can_pay = a.token >= amount && a.native >= max_fee;
    } else {
      const std::optional<base::Amount> need = amount.CheckedAdd(max_fee);
      can_pay = need.has_value() && a.native >= *need;
    }
    if (!can_pay) continue;
    const base::Amount held = token ? a.token : a.native;
    const base::Amount best_held = best ? (token ? accounts[*best].token : accounts[*best].native) : base::Amount();
    if (!best || (smallest ? held < best_held : held > best_held)) best = i;
  }
  if (!best) {
    return absl::FailedPreconditionError(Cat("insufficient_funds: none of the wallet's ", accounts.size(),
                                             " accounts holds ", amount.ToBaseUnitString(), token ? " token base units" : " wei",
                                             " and ", max_fee.ToBaseUnitString(), " wei of fee"));
  }
  return *best;
}

namespace {

void Intent(const SignRequestFields& f, signer::v1::SignTransactionRequest& req) {
  req.set_request_id(f.request_id);
  req.set_chain(f.chain);
  req.set_network(f.network);
  req.set_kind(f.kind);
  req.set_expires_at(f.expires_at_unix_s);
  signer::v1::TransactionIntent* intent = req.mutable_intent();
  intent->set_asset(f.asset);
  intent->set_amount(f.amount.ToBaseUnitString());
  intent->set_destination(f.destination);
  intent->set_fee_cap(f.fee_cap.ToBaseUnitString());
}

}  // namespace

signer::v1::SignTransactionRequest BitcoinSignRequest(const SignRequestFields& fields, const BitcoinPlan& plan) {
  signer::v1::SignTransactionRequest req;
  Intent(fields, req);
  const std::vector<uint8_t> raw = ringfence::chain::SerializeWithoutWitness(plan.unsigned_tx);
  req.set_unsigned_tx(std::string(raw.begin(), raw.end()));
  for (const Coin& c : plan.inputs) {
    signer::v1::BitcoinInputSpend* in = req.add_bitcoin_inputs();
    in->set_amount(c.amount);
    in->set_key_id(c.key_id);
  }
  return req;
}

signer::v1::SignTransactionRequest EthereumSignRequest(const SignRequestFields& fields, const EthereumPlan& plan,
                                                       const std::string& sender_key_id) {
  signer::v1::SignTransactionRequest req;
  Intent(fields, req);
  req.set_unsigned_tx(std::string(plan.unsigned_payload.begin(), plan.unsigned_payload.end()));
  req.set_ethereum_key_id(sender_key_id);
  return req;
}

}  // namespace ringfence::custody::txbuild

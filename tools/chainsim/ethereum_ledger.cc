// The Ethereum (chain id 1337) ledger: account balances and nonces, ERC-20 balances of the
// registered tokens, and the rules a broadcast EIP-1559 transaction must meet.
// tools/chainsim/README.md lists the rules in the order they are checked.
#include <map>

#include "base/amount.h"
#include "base/hex.h"
#include "base/text.h"
#include "chain/erc20.h"
#include "chain/eth_tx.h"
#include "chain/keccak.h"
#include "tools/chainsim/ledger_internal.h"

namespace ringfence::chainsim {
namespace {

using base::Cat;
using base::Uint128;

absl::Status Refuse(std::string message) { return absl::FailedPreconditionError(std::move(message)); }

// A credit record: tag (1 native, 2 token) || u64be serial || to (20) || [contract (20)] ||
// u128be amount.
constexpr uint8_t kNativeCredit = 1;
constexpr uint8_t kTokenCredit = 2;
constexpr size_t kNativeCreditSize = 1 + 8 + 20 + 16;
constexpr size_t kTokenCreditSize = kNativeCreditSize + 20;
constexpr std::string_view kCreditIdDomain = "ringfence/chainsim/ethereum/credit/v1";

struct EthCredit {
  chain::EthAddress to{};
  std::optional<chain::EthAddress> contract;
  Uint128 amount = 0;
};

absl::StatusOr<EthCredit> DecodeEthCredit(std::span<const uint8_t> raw) {
  if (raw.empty() || (raw[0] == kNativeCredit ? raw.size() != kNativeCreditSize
                                              : raw[0] != kTokenCredit || raw.size() != kTokenCreditSize)) {
    return Refuse("credit: malformed credit record");
  }
  EthCredit credit;
  size_t at = 1 + 8;
  std::copy_n(raw.begin() + at, 20, credit.to.begin());
  at += 20;
  if (raw[0] == kTokenCredit) {
    credit.contract.emplace();
    std::copy_n(raw.begin() + at, 20, credit.contract->begin());
    at += 20;
  }
  credit.amount = base::Amount::FromBigEndian(raw.subspan(at).first<16>()).base_units();
  return credit;
}

class EthereumLedger final : public Ledger {
 public:
  EthereumLedger(const TokenRegistry* tokens, bool keep_history) : Ledger(keep_history), tokens_(tokens) {}
  EthereumLedger(const EthereumLedger& other, bool keep_history)
      : Ledger(other, keep_history), tokens_(other.tokens_), nonces_(other.nonces_) {}

  absl::StatusOr<Applied> Apply(const TxRecord& record) override;

  std::unique_ptr<Ledger> CloneWithoutHistory() const override {
    return std::make_unique<EthereumLedger>(*this, false);
  }

  absl::StatusOr<uint64_t> NextNonce(const chain::EthAddress& address) const override {
    auto it = nonces_.find(address);
    return it == nonces_.end() ? 0 : it->second;
  }

 private:
  bool IsToken(const chain::EthAddress& address, int64_t seq) const {
    auto it = tokens_->find(address);
    return it != tokens_->end() && it->second.registered_seq < seq;
  }
  absl::StatusOr<Applied> ApplyCredit(const TxRecord& record);
  absl::StatusOr<Applied> ApplySigned(const TxRecord& record);

  const TokenRegistry* tokens_;
  std::map<chain::EthAddress, uint64_t> nonces_;
};

absl::StatusOr<Applied> EthereumLedger::Apply(const TxRecord& record) {
  return record.kind == TxKind::kCredit ? ApplyCredit(record) : ApplySigned(record);
}

std::array<uint8_t, 32> CreditId(std::span<const uint8_t> raw) {
  chain::Keccak256Hasher hasher;
  hasher.Update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kCreditIdDomain.data()),
                                         kCreditIdDomain.size()));
  hasher.Update(raw);
  return hasher.Finish();
}

absl::StatusOr<Applied> EthereumLedger::ApplyCredit(const TxRecord& record) {
  absl::StatusOr<EthCredit> credit = DecodeEthCredit(record.raw);
  if (!credit.ok()) return credit.status();
  Applied out;
  out.id = CreditId(record.raw);
  out.txid = base::HexEncode(out.id);
  if (Knows(out.txid)) return absl::AlreadyExistsError(Cat("transaction ", out.txid, " is already known"));
  std::string key;
  if (credit->contract.has_value()) {
    if (!IsToken(*credit->contract, record.seq)) {
      return Refuse(Cat("token_contract: ", chain::EthChecksumAddress(*credit->contract), " is not a registered token"));
    }
    key = EthTokenBalanceKey(*credit->contract, credit->to);
  } else {
    key = EthBalanceKey(credit->to);
  }
  std::optional<base::Amount> sum = base::Amount(Balance(key)).CheckedAdd(base::Amount(credit->amount));
  if (!sum.has_value()) return Refuse("credit: the balance would exceed 2^128 - 1");
  SetBalance(key, sum->base_units());
  out.payments.push_back(Payment{0, chain::EthChecksumAddress(credit->to),
                                 credit->contract.has_value() ? chain::EthChecksumAddress(*credit->contract) : "",
                                 base::Amount(credit->amount)});
  Remember(out.txid);
  return out;
}

absl::StatusOr<Applied> EthereumLedger::ApplySigned(const TxRecord& record) {
  absl::StatusOr<chain::EthTxKind> kind = chain::DetectEthTxKind(record.raw);
  if (!kind.ok()) return Refuse(Cat("decode: ", kind.status().message()));
  if (*kind != chain::EthTxKind::kEip1559) return Refuse("decode: only EIP-1559 (type 2) transactions are accepted");
  absl::StatusOr<chain::SignedEip1559Tx> decoded = chain::DecodeSignedEip1559(record.raw);
  if (!decoded.ok()) return Refuse(Cat("decode: ", decoded.status().message()));
  const chain::Eip1559Tx& tx = decoded->tx;
  Applied out;
  out.id = chain::EthTxHash(record.raw);
  out.txid = base::HexEncode(out.id);
  if (Knows(out.txid)) return absl::AlreadyExistsError(Cat("transaction ", out.txid, " is already known"));

  if (tx.chain_id != kEthereumChainId) {
    return Refuse(Cat("chain id: expected ", kEthereumChainId, ", got ", tx.chain_id));
  }
  absl::StatusOr<chain::EthAddress> sender = chain::RecoverSender(*decoded);
  if (!sender.ok()) return Refuse(Cat("signature: ", sender.status().message()));
  const uint64_t next_nonce = *NextNonce(*sender);
  if (tx.nonce != next_nonce) {
    return Refuse(Cat("nonce: expected ", next_nonce, " (the sender's next nonce), got ", tx.nonce));
  }
  if (!tx.to.has_value()) return Refuse("to: contract creation is not supported");
  if (tx.gas_limit < kMinGasLimit) return Refuse(Cat("gas limit: ", tx.gas_limit, " is below ", kMinGasLimit));
  if (tx.max_priority_fee_per_gas > tx.max_fee_per_gas) {
    return Refuse("max_priority_fee_per_gas: above max_fee_per_gas");
  }
  absl::StatusOr<Uint128> value = tx.value.ToU128("value");
  if (!value.ok()) return Refuse(std::string(value.status().message()));
  absl::StatusOr<Uint128> max_fee = chain::MaxFeeWei(tx);
  if (!max_fee.ok()) return Refuse(Cat("fee: ", max_fee.status().message()));
  std::optional<base::Amount> cost = base::Amount(*value).CheckedAdd(base::Amount(*max_fee));
  if (!cost.has_value()) return Refuse("value + gas_limit * max_fee_per_gas exceeds 2^128 - 1");
  const std::string sender_key = EthBalanceKey(*sender);
  const Uint128 sender_balance = Balance(sender_key);
  if (sender_balance < cost->base_units()) {
    return Refuse(Cat("insufficient funds: balance ", base::Uint128ToString(sender_balance),
                      " wei, value + gas_limit * max_fee_per_gas = ", cost->ToBaseUnitString(), " wei"));
  }

  // The token leg, checked in full before anything changes.
  const bool to_token = IsToken(*tx.to, record.seq);
  chain::Erc20Transfer token_transfer;
  std::string from_token_key, to_token_key;
  Uint128 token_amount = 0;
  if (to_token) {
    if (*value != 0) return Refuse("value: a token contract accepts no ether (value must be 0)");
    absl::StatusOr<chain::Erc20Transfer> transfer = chain::DecodeErc20Transfer(tx.data);
    if (!transfer.ok()) return Refuse(Cat("data: not ERC-20 transfer calldata: ", transfer.status().message()));
    token_transfer = *transfer;
    absl::StatusOr<Uint128> amount = token_transfer.amount.ToU128("token amount");
    if (!amount.ok()) return Refuse(std::string(amount.status().message()));
    token_amount = *amount;
    from_token_key = EthTokenBalanceKey(*tx.to, *sender);
    to_token_key = EthTokenBalanceKey(*tx.to, token_transfer.to);
    if (Balance(from_token_key) < token_amount) {
      return Refuse(Cat("token balance: ", base::Uint128ToString(Balance(from_token_key)),
                        " is below the transfer's ", base::Uint128ToString(token_amount)));
    }
    if (token_transfer.to != *sender &&
        !base::Amount(Balance(to_token_key)).CheckedAdd(base::Amount(token_amount)).has_value()) {
      return Refuse("token balance: the recipient's balance would exceed 2^128 - 1");
    }
  } else if (!tx.data.empty()) {
    return Refuse("data: must be empty (the only contracts here are registered ERC-20 tokens)");
  }
  const std::string to_key = EthBalanceKey(*tx.to);
  // The recipient's balance after the sender pays (the same account when sending to itself).
  const Uint128 to_before = *tx.to == *sender ? sender_balance - cost->base_units() : Balance(to_key);
  if (!base::Amount(to_before).CheckedAdd(base::Amount(*value)).has_value()) {
    return Refuse("value: the recipient's balance would exceed 2^128 - 1");
  }

  // Valid: apply. The whole fee the sender signed for (gas_limit * max_fee_per_gas) is burnt.
  SetBalance(sender_key, sender_balance - cost->base_units());
  if (*value != 0) SetBalance(to_key, Balance(to_key) + *value);
  nonces_[*sender] = next_nonce + 1;
  if (to_token) {
    SetBalance(from_token_key, Balance(from_token_key) - token_amount);
    SetBalance(to_token_key, Balance(to_token_key) + token_amount);
    out.payments.push_back(Payment{0, chain::EthChecksumAddress(token_transfer.to), chain::EthChecksumAddress(*tx.to),
                                   base::Amount(token_amount)});
  } else if (*value != 0) {
    out.payments.push_back(Payment{0, chain::EthChecksumAddress(*tx.to), "", base::Amount(*value)});
  }
  Remember(out.txid);
  return out;
}

}  // namespace

std::string EthTxid(const TxRecord& tx) {
  return base::HexEncode(tx.kind == TxKind::kCredit ? CreditId(tx.raw) : chain::EthTxHash(tx.raw));
}

std::unique_ptr<Ledger> NewEthereumLedger(const TokenRegistry* tokens, bool keep_history) {
  return std::make_unique<EthereumLedger>(tokens, keep_history);
}

absl::StatusOr<std::vector<uint8_t>> MakeEthCredit(uint64_t serial, std::string_view address,
                                                   std::string_view token_contract, base::Amount amount) {
  if (amount.is_zero()) return absl::InvalidArgumentError("amount: a credit must be above zero");
  absl::StatusOr<chain::EthAddress> to = chain::ParseEthAddress(address);
  if (!to.ok()) {
    return absl::InvalidArgumentError(
        Cat("address: ", base::Clip(address), " is not an Ethereum address: ", to.status().message()));
  }
  std::optional<chain::EthAddress> contract;
  if (!token_contract.empty()) {
    absl::StatusOr<chain::EthAddress> parsed = chain::ParseEthAddress(token_contract);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(Cat("token_contract: ", base::Clip(token_contract),
                                            " is not an Ethereum address: ", parsed.status().message()));
    }
    contract = *parsed;
  }
  std::vector<uint8_t> raw;
  raw.push_back(contract.has_value() ? kTokenCredit : kNativeCredit);
  for (int shift = 56; shift >= 0; shift -= 8) raw.push_back(static_cast<uint8_t>(serial >> shift));
  raw.insert(raw.end(), to->begin(), to->end());
  if (contract.has_value()) raw.insert(raw.end(), contract->begin(), contract->end());
  const std::array<uint8_t, 16> be = amount.ToBigEndian();
  raw.insert(raw.end(), be.begin(), be.end());
  return raw;
}

}  // namespace ringfence::chainsim

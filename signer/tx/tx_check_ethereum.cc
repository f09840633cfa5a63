// The Ethereum half of CheckTransaction: EIP-1559 and legacy EIP-155 transfers of the native
// coin or of an ERC-20 token.
#include "base/hex.h"
#include "base/text.h"
#include "chain/erc20.h"
#include "chain/eth_address.h"
#include "chain/eth_tx.h"
#include "signer/tx/tx_check_internal.h"

namespace ringfence::signer::tx::internal {

using base::Cat;

namespace {

// The fields both transaction forms share, as far as the checks go.
struct EthFields {
  uint64_t chain_id = 0;
  uint64_t nonce = 0;
  std::optional<chain::EthAddress> to;
  chain::U256 value;
  const std::vector<uint8_t>* data = nullptr;
  absl::StatusOr<base::Uint128> max_fee = base::Uint128{0};
  std::array<uint8_t, 32> signing_hash{};
};

std::string AddressText(const chain::EthAddress& a) { return chain::EthChecksumAddress(a); }

}  // namespace

absl::Status CheckEthereum(const TxRequest& r, const TxConfig& config, const OwnKeys& keys,
                           const ParsedIntent& intent, CheckedTx* out) {
  if (!r.bitcoin_inputs.empty()) {
    return Refuse("request_malformed", "bitcoin_inputs are set on an ethereum request");
  }
  const OwnKey* sender = keys.ById(r.ethereum_key_id);
  if (sender == nullptr) {
    return Refuse("sender_key_unknown", Cat("ethereum_key_id ", base::Clip(r.ethereum_key_id),
                                            " is not a secp256k1 key of signerd"));
  }
  // Segregation: the sending key's wallet is the source wallet.
  if (!sender->binding) {
    return Refuse("key_unbound", Cat("ethereum_key_id ", sender->key_id,
                                     " has no wallet binding; it cannot sign until an operator binds it "
                                     "(signerd bind-key)"));
  }
  out->source_wallet = *sender->binding;
  if (out->source_wallet.asset != r.intent.asset) {
    return Refuse("sender_wrong_wallet",
                  Cat("the sending key ", sender->key_id, " belongs to wallet ", out->source_wallet.wallet_id,
                      " of asset ", out->source_wallet.asset, ", the request moves ", r.intent.asset));
  }
  auto destination = ParseCanonicalEthereumDestination(r.intent.destination, "intent.destination");
  if (!destination.ok()) return Refuse("destination_malformed", destination.status().message());
  if (auto st = CheckKindRules(r, config, keys, out); !st.ok()) return st;

  auto kind = chain::DetectEthTxKind(r.unsigned_tx);
  if (!kind.ok()) return Refuse("tx_decode", Cat("unsigned_tx: ", kind.status().message()));
  EthFields f;
  if (*kind == chain::EthTxKind::kEip1559) {
    auto tx = chain::DecodeUnsignedEip1559(r.unsigned_tx);
    if (!tx.ok()) return Refuse("tx_decode", Cat("unsigned_tx: ", tx.status().message()));
    if (!tx->access_list.empty()) {
      return Refuse("access_list_present",
                    "the transaction carries an access list; signerd signs plain transfers only");
    }
    out->eip1559 = std::move(*tx);
    const chain::Eip1559Tx& t = *out->eip1559;
    f = {t.chain_id, t.nonce, t.to, t.value, &t.data, chain::MaxFeeWei(t), chain::Eip1559SigningHash(t)};
  } else {
    auto tx = chain::DecodeUnsignedLegacy(r.unsigned_tx);
    if (!tx.ok()) return Refuse("tx_decode", Cat("unsigned_tx: ", tx.status().message()));
    out->legacy = std::move(*tx);
    const chain::LegacyTx& t = *out->legacy;
    f = {t.chain_id, t.nonce, t.to, t.value, &t.data, chain::MaxFeeWei(t), chain::LegacySigningHash(t)};
  }
  const uint64_t want_chain_id = config.ethereum->chain_id;
  if (f.chain_id != want_chain_id) {
    return Refuse("chain_id_mismatch", Cat("the transaction is for chain id ", f.chain_id,
                                           ", signerd signs for chain id ", want_chain_id, " (",
                                           config.ethereum->network, ")"));
  }
  if (!f.to) return Refuse("destination_missing", "the transaction creates a contract; it pays no one");
  auto value = f.value.ToU128("value");
  if (!value.ok()) return Refuse("amount_mismatch", Cat("the transaction ", value.status().message()));

  if (!intent.asset->erc20_contract) {
    if (*f.to != *destination) {
      return Refuse("destination_mismatch", Cat("the transaction pays ", AddressText(*f.to),
                                                ", the intent destination is ", r.intent.destination));
    }
    if (base::Amount(*value) != intent.amount) {
      return Refuse("amount_mismatch", Cat("the transaction sends ", base::Uint128ToString(*value),
                                           " wei, the intent amount is ", intent.amount.ToBaseUnitString(),
                                           " wei"));
    }
    if (!f.data->empty()) {
      return Refuse("calldata_present", Cat("the transaction carries ", f.data->size(),
                                            " bytes of calldata; a plain transfer carries none"));
    }
  } else {
    const chain::EthAddress& contract = *intent.asset->erc20_contract;
    if (*f.to != contract) {
      return Refuse("token_contract_mismatch",
                    Cat("the transaction calls ", AddressText(*f.to), ", the ", r.intent.asset,
                        " contract is ", AddressText(contract)));
    }
    if (*value != 0) {
      return Refuse("value_with_token_transfer",
                    Cat("the transaction also sends ", base::Uint128ToString(*value), " wei to the token contract"));
    }
    auto transfer = chain::DecodeErc20Transfer(*f.data);
    if (!transfer.ok()) return Refuse("calldata_malformed", Cat("calldata: ", transfer.status().message()));
    if (transfer->to != *destination) {
      return Refuse("destination_mismatch", Cat("the token transfer pays ", AddressText(transfer->to),
                                                ", the intent destination is ", r.intent.destination));
    }
    auto token_amount = transfer->amount.ToU128("transfer amount");
    if (!token_amount.ok() || base::Amount(*token_amount) != intent.amount) {
      return Refuse("amount_mismatch",
                    Cat("the token transfer moves ",
                        token_amount.ok() ? base::Uint128ToString(*token_amount) : std::string("more than 2^128 - 1"),
                        " base units, the intent amount is ", intent.amount.ToBaseUnitString(),
                        " base units"));
    }
  }
  if (!f.max_fee.ok()) return Refuse("fee_invalid", f.max_fee.status().message());
  if (base::Amount(*f.max_fee) > intent.fee_cap) {
    return Refuse("fee_above_cap", Cat("the most the transaction can pay in fees is ", base::Uint128ToString(*f.max_fee),
                                       " wei (gas limit times ",
                                       out->eip1559 ? "max fee per gas" : "gas price", "), the cap is ",
                                       intent.fee_cap.ToBaseUnitString(), " wei"));
  }
  out->fee = base::Amount(*f.max_fee);
  out->jobs.push_back({sender->key_id, sender->public_key, f.signing_hash});
  out->nonce = EthNonceClaim{f.chain_id, sender->eth_address, f.nonce};
  return absl::OkStatus();
}

absl::StatusOr<SignedTx> AssembleEthereum(const CheckedTx& checked, const JobSignature& signature) {
  auto sig = chain::MakeEthSignature(signature.compact, signature.recovery_id);
  if (!sig.ok()) return sig.status();
  absl::StatusOr<std::vector<uint8_t>> raw =
      checked.eip1559 ? chain::EncodeSignedEip1559(*checked.eip1559, *sig)
                      : chain::EncodeSignedLegacy(*checked.legacy, *sig);
  if (!raw.ok()) return raw.status();
  SignedTx out;
  out.txid = "0x" + base::HexEncode(chain::EthTxHash(*raw));
  out.bytes = std::move(*raw);
  return out;
}

}  // namespace ringfence::signer::tx::internal

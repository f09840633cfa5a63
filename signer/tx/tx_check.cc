#include "signer/tx/tx_check.h"

#include <cstring>
#include <set>

#include "base/hex.h"
#include "base/text.h"
#include "chain/bech32.h"
#include "chain/eth_address.h"
#include "chain/hashes.h"
#include "signer/tx/amount.h"
#include "signer/tx/approval.h"
#include "signer/tx/tx_check_internal.h"

namespace ringfence::signer::tx {

using base::Cat;

namespace {

constexpr char kFingerprintTag[] = "ringfence/sign-request/v1";

using internal::Deny;
using internal::ParsedIntent;
using internal::Refuse;

void AppendU32(std::vector<uint8_t>* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<uint8_t>(v >> shift));
}
void AppendU64(std::vector<uint8_t>* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<uint8_t>(v >> shift));
}
void AppendBytes(std::vector<uint8_t>* out, std::span<const uint8_t> bytes) {
  AppendU32(out, static_cast<uint32_t>(bytes.size()));
  out->insert(out->end(), bytes.begin(), bytes.end());
}
void AppendText(std::vector<uint8_t>* out, std::string_view text) {
  AppendBytes(out, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::array<uint8_t, 32> Fingerprint(const TxRequest& r) {
  std::vector<uint8_t> body;
  AppendText(&body, r.chain);
  AppendText(&body, r.network);
  AppendBytes(&body, r.unsigned_tx);
  AppendU32(&body, static_cast<uint32_t>(r.bitcoin_inputs.size()));
  for (const auto& in : r.bitcoin_inputs) {
    AppendU64(&body, in.amount);
    AppendText(&body, in.key_id);
  }
  AppendText(&body, r.ethereum_key_id);
  const auto tag = chain::Sha256(std::span(reinterpret_cast<const uint8_t*>(kFingerprintTag),
                                           std::strlen(kFingerprintTag)));
  std::vector<uint8_t> msg(tag.begin(), tag.end());
  msg.insert(msg.end(), tag.begin(), tag.end());
  msg.insert(msg.end(), body.begin(), body.end());
  return chain::Sha256(msg);
}

// The output's address, or the hex of its script: only its first bytes when it is long, since
// a script in a request's transaction may be as large as the transaction.
std::string DescribeScript(std::span<const uint8_t> script, std::string_view hrp) {
  auto addr = chain::SegwitAddressFromScriptPubKey(script, hrp);
  if (addr.ok()) {
    auto text = chain::EncodeSegwitAddress(*addr);
    if (text.ok()) return *text;
  }
  constexpr size_t kShownBytes = 42;  // the longest witness program script
  if (script.size() <= kShownBytes) return Cat("script ", base::HexEncode(script));
  return Cat("script ", base::HexEncode(script.first(kShownBytes)), "...(", script.size(), " bytes)");
}

absl::Status CheckRequestShape(const TxRequest& r) {
  if (r.request_id.empty() || r.request_id.size() > kMaxRequestIdBytes) {
    return Refuse("request_malformed",
                  Cat("request_id must be 1-", kMaxRequestIdBytes, " bytes, got ", r.request_id.size()));
  }
  for (unsigned char c : r.request_id) {
    if (c < 0x21 || c > 0x7e) {
      return Refuse("request_malformed", "request_id must be printable ASCII without spaces");
    }
  }
  if (r.approvals.size() > kMaxApprovals) {
    return Refuse("request_malformed",
                  Cat("approvals: ", r.approvals.size(), " given, at most ", kMaxApprovals));
  }
  if (!r.kind) {
    return Refuse("request_malformed", "kind: must be withdrawal, sweep, top_up, fee_reimbursement or gas_funding");
  }
  if (r.unsigned_tx.empty()) return Refuse("tx_decode", "unsigned_tx is empty");
  return absl::OkStatus();
}

absl::StatusOr<ParsedIntent> ParseIntent(const TxRequest& r, const TxConfig& config, ChainKind chain) {
  ParsedIntent out;
  out.asset = config.FindAsset(r.intent.asset);
  if (out.asset == nullptr) {
    return Refuse("asset_unknown", Cat("intent.asset ", base::Clip(r.intent.asset), " is not configured in signerd"));
  }
  if (out.asset->chain != chain) {
    return Refuse("asset_chain_mismatch", Cat("intent.asset ", r.intent.asset, " is on ",
                                              ChainName(out.asset->chain), ", the request is for ",
                                              ChainName(chain)));
  }
  auto amount = ParseAmountField(r.intent.amount, "intent.amount");
  if (!amount.ok()) return Refuse("intent_malformed", amount.status().message());
  auto fee_cap = ParseAmountField(r.intent.fee_cap, "intent.fee_cap");
  if (!fee_cap.ok()) return Refuse("intent_malformed", fee_cap.status().message());
  out.amount = *amount;
  out.fee_cap = *fee_cap;
  return out;
}

// Verifies every approval and the quorum. Any bad approval refuses the request.
absl::Status CheckApprovals(const TxRequest& r, const ParsedIntent& intent,
                            const ApproverRegistry& registry, CheckedTx* out) {
  policy::ApprovalSubject subject;
  subject.request_id = r.request_id;
  subject.kind = out->kind;
  // Never a request field: the wallet the signing keys are bound to (CheckSourceWallet).
  subject.source_wallet = out->source_wallet.wallet_id;
  subject.expires_at = r.expires_at;
  subject.chain = r.chain;
  subject.network = r.network;
  subject.asset = r.intent.asset;
  subject.amount = intent.amount;
  subject.destination = r.intent.destination;
  subject.fee_cap = intent.fee_cap;
  auto digest = policy::ApprovalDigest(subject);
  if (!digest.ok()) return Refuse("request_malformed", digest.status().message());

  out->internal_sweep = out->kind == policy::RequestKind::kSweep &&
                        registry.IsColdAddress(r.intent.asset, r.intent.destination);
  auto required = registry.RequiredApprovals(r.intent.asset, intent.amount, out->internal_sweep);
  if (!required.ok()) return Deny("quorum_rule_missing", required.status().message());
  out->approvals_required = *required;

  std::set<std::string, std::less<>> seen;
  for (size_t i = 0; i < r.approvals.size(); ++i) {
    const ApprovalInput& a = r.approvals[i];
    const auto* key = registry.FindApprover(a.approver_id);
    if (key == nullptr) {
      return Deny("approver_unknown", Cat("approvals[", i, "]: approver ", base::Clip(a.approver_id),
                                          " is not in signerd's approver registry"));
    }
    if (!seen.insert(a.approver_id).second) {
      return Deny("approver_duplicate", Cat("approvals[", i, "]: approver ", base::Clip(a.approver_id),
                                            " already approved this request; each approver counts once"));
    }
    if (!VerifyApprovalSignature(*key, a.signature, *digest)) {
      return Deny("approval_signature",
                  Cat("approvals[", i, "]: the signature of ", base::Clip(a.approver_id),
                      " does not verify over this request's approval digest v2 (request id, kind, source "
                      "wallet ", out->source_wallet.wallet_id, ", chain, network, intent and expiry; "
                      "docs/approval-digest.md)"));
    }
    out->approvers.push_back(a.approver_id);
  }
  if (static_cast<int>(out->approvers.size()) < *required) {
    return Deny("quorum_not_met",
                Cat("approvals: ", out->approvers.size(), " valid approval(s), the ",
                    out->internal_sweep ? "internal-sweep rule" : "quorum rule", " for ",
                    intent.amount.ToBaseUnitString(), " base units of ", r.intent.asset, " needs ",
                    *required));
  }
  return absl::OkStatus();
}

absl::Status CheckBitcoin(const TxRequest& r, const TxConfig& config, const OwnKeys& keys,
                          const ParsedIntent& intent, CheckedTx* out) {
  const BitcoinConfig& btc = *config.bitcoin;
  if (!r.ethereum_key_id.empty()) {
    return Refuse("request_malformed", "ethereum_key_id is set on a bitcoin request");
  }
  auto dest_script = ParseCanonicalBitcoinDestination(r.intent.destination, btc, "intent.destination");
  if (!dest_script.ok()) return Refuse("destination_malformed", dest_script.status().message());

  auto tx = chain::ParseTransaction(r.unsigned_tx);
  if (!tx.ok()) return Refuse("tx_decode", Cat("unsigned_tx: ", tx.status().message()));
  if (tx->HasWitness()) {
    return Refuse("tx_decode", "unsigned_tx already carries witness data; send it unsigned");
  }
  for (size_t i = 0; i < tx->inputs.size(); ++i) {
    if (!tx->inputs[i].script_sig.empty()) {
      return Refuse("input_not_p2wpkh",
                    Cat("input ", i, " has a scriptSig; signerd spends native P2WPKH outputs only"));
    }
  }
  if (r.bitcoin_inputs.size() != tx->inputs.size()) {
    return Refuse("inputs_mismatch", Cat("bitcoin_inputs has ", r.bitcoin_inputs.size(),
                                         " entries, the transaction has ", tx->inputs.size(), " inputs"));
  }
  std::vector<uint64_t> amounts;
  std::vector<const OwnKey*> input_keys;
  for (size_t i = 0; i < r.bitcoin_inputs.size(); ++i) {
    const OwnKey* key = keys.ById(r.bitcoin_inputs[i].key_id);
    if (key == nullptr) {
      return Refuse("input_key_unknown", Cat("bitcoin_inputs[", i, "].key_id ",
                                             base::Clip(r.bitcoin_inputs[i].key_id),
                                             " is not a secp256k1 key of signerd"));
    }
    if (r.bitcoin_inputs[i].amount > chain::kMaxMoney) {
      return Refuse("input_amount", Cat("bitcoin_inputs[", i, "].amount exceeds 21 million BTC"));
    }
    amounts.push_back(r.bitcoin_inputs[i].amount);
    input_keys.push_back(key);
  }
  // Segregation: every input is owned by keys of one wallet, the source wallet.
  if (input_keys.empty()) return Refuse("inputs_mismatch", "the transaction has no inputs");
  for (size_t i = 0; i < input_keys.size(); ++i) {
    const OwnKey* key = input_keys[i];
    if (!key->binding) {
      return Refuse("key_unbound", Cat("bitcoin_inputs[", i, "].key_id ", key->key_id,
                                       " has no wallet binding; it cannot sign until an operator binds it "
                                       "(signerd bind-key)"));
    }
    if (key->binding->wallet_id != input_keys[0]->binding->wallet_id) {
      return Refuse("inputs_span_wallets",
                    Cat("input ", i, " is owned by key ", key->key_id, " of wallet ", key->binding->wallet_id,
                        ", input 0 by key ", input_keys[0]->key_id, " of wallet ",
                        input_keys[0]->binding->wallet_id, "; a transaction spends one wallet"));
    }
  }
  out->source_wallet = *input_keys[0]->binding;
  if (out->source_wallet.asset != r.intent.asset) {
    return Refuse("asset_mismatch", Cat("the inputs belong to wallet ", out->source_wallet.wallet_id, " of asset ",
                                        out->source_wallet.asset, ", the request moves ", r.intent.asset));
  }
  if (auto st = internal::CheckKindRules(r, config, keys, out); !st.ok()) return st;

  // The destination first, so that paying another address is reported as such.
  std::optional<size_t> dest_index;
  for (size_t i = 0; i < tx->outputs.size(); ++i) {
    const chain::TxOut& o = tx->outputs[i];
    if (o.script_pubkey != *dest_script) continue;
    if (dest_index) {
      return Refuse("destination_repeated", Cat("outputs ", *dest_index, " and ", i,
                                                " both pay the destination; the intent is one payment"));
    }
    dest_index = i;
    if (base::Amount(o.value) != intent.amount) {
      return Refuse("amount_mismatch", Cat("output ", i, " pays the destination ", o.value,
                                           " sat, the intent amount is ", intent.amount.ToBaseUnitString(),
                                           " sat"));
    }
  }
  if (!dest_index) {
    return Refuse("destination_missing",
                  Cat("no output pays the intent destination ", r.intent.destination));
  }
  const std::string_view hrp = chain::SegwitHrp(btc.kind);
  for (size_t i = 0; i < tx->outputs.size(); ++i) {
    if (i == *dest_index) continue;
    const chain::TxOut& o = tx->outputs[i];
    auto key_hash = chain::ParseP2wpkhScriptPubKey(o.script_pubkey);
    const OwnKey* own = key_hash.ok() ? keys.ByKeyHash(*key_hash) : nullptr;
    if (own != nullptr && own->binding && own->binding->wallet_id == out->source_wallet.wallet_id) continue;
    const std::string described = DescribeScript(o.script_pubkey, hrp);
    if (own != nullptr || keys.WalletAt(described) != nullptr) {
      const WalletBinding* other = own != nullptr ? (own->binding ? &*own->binding : nullptr) : keys.WalletAt(described);
      return Refuse("change_leaves_wallet",
                    Cat("output ", i, " pays ", o.value, " sat to ", described, ", ",
                        other != nullptr ? Cat("an address of wallet ", other->wallet_id)
                                         : std::string("an unbound key of signerd"),
                        "; change must return to the source wallet ", out->source_wallet.wallet_id));
    }
    return Refuse("output_foreign", Cat("output ", i, " pays ", o.value, " sat to ", described,
                                        ", which is neither the destination nor a key of signerd"));
  }

  auto fee = chain::Fee(*tx, amounts);
  if (!fee.ok()) return Refuse("fee_invalid", fee.status().message());
  if (base::Amount(*fee) > intent.fee_cap) {
    return Refuse("fee_above_cap", Cat("the fee is ", *fee, " sat (inputs minus outputs), the cap is ",
                                       intent.fee_cap.ToBaseUnitString(), " sat"));
  }
  out->fee = base::Amount(*fee);

  // The prevouts, sequences and outputs hashes are the same for every input: computed once.
  const chain::Bip143Shared shared = chain::Bip143Precompute(*tx);
  for (size_t i = 0; i < tx->inputs.size(); ++i) {
    const auto script_code = chain::P2wpkhScriptCode(input_keys[i]->key_hash);
    auto sighash = chain::Bip143Sighash(*tx, shared, i, script_code, amounts[i], chain::kSighashAll);
    if (!sighash.ok()) return Refuse("tx_decode", sighash.status().message());
    out->jobs.push_back({input_keys[i]->key_id, input_keys[i]->public_key, *sighash});
    out->outpoints.push_back(tx->inputs[i].prevout);
  }
  out->bitcoin_tx = std::move(*tx);
  return absl::OkStatus();
}

}  // namespace

namespace internal {

absl::Status Refuse(std::string_view rule, absl::string_view detail) {
  return absl::FailedPreconditionError(Cat(rule, ": ", detail));
}

absl::Status Deny(std::string_view rule, absl::string_view detail) {
  return absl::PermissionDeniedError(Cat(rule, ": ", detail));
}

absl::Status CheckKindRules(const TxRequest& r, const TxConfig& config, const OwnKeys& keys, const CheckedTx* out) {
  const WalletBinding& source = out->source_wallet;
  const std::string_view kind = policy::RequestKindName(out->kind);
  const WalletBinding* dest = keys.WalletAt(r.intent.destination);
  const std::string source_text = Cat(OwnerClassName(source.owner_class), "-", TierName(source.tier), " wallet ",
                                      source.wallet_id);
  // The other wallet a move between wallets must pay: its owner class and tier.
  std::optional<std::pair<OwnerClass, Tier>> target;
  switch (out->kind) {
    case policy::RequestKind::kWithdrawal:
      if (dest != nullptr && source.owner_class == OwnerClass::kClient && dest->owner_class == OwnerClass::kHouse) {
        return Refuse("client_funds_to_house",
                      Cat("the destination ", r.intent.destination, " is an address of house wallet ",
                          dest->wallet_id, "; client funds (", source_text, ") never pay a house wallet"));
      }
      if (dest != nullptr && source.owner_class == OwnerClass::kHouse && dest->owner_class == OwnerClass::kClient) {
        return Refuse("house_pays_client",
                      Cat("the destination ", r.intent.destination, " is an address of client wallet ",
                          dest->wallet_id, "; a house wallet pays a client wallet only by a fee_reimbursement"));
      }
      return absl::OkStatus();
    case policy::RequestKind::kSweep:
    case policy::RequestKind::kTopUp: {
      if (source.owner_class != OwnerClass::kClient) {
        return Refuse("kind_owner_mismatch", Cat("a ", kind, " moves a client wallet's funds between its tiers; the "
                                                  "inputs belong to ", source_text));
      }
      const Tier from = out->kind == policy::RequestKind::kSweep ? Tier::kHot : Tier::kCold;
      if (source.tier != from) {
        return Refuse("kind_tier_mismatch", Cat("a ", kind, " leaves a ", TierName(from), " wallet; the inputs belong to ",
                                                 source_text));
      }
      target = {OwnerClass::kClient, from == Tier::kHot ? Tier::kCold : Tier::kHot};
      break;
    }
    case policy::RequestKind::kFeeReimbursement:
      if (source.owner_class != OwnerClass::kHouse) {
        return Refuse("kind_owner_mismatch",
                      Cat("a fee_reimbursement is paid by a house wallet; the inputs belong to ", source_text));
      }
      if (source.tier != Tier::kHot) {
        return Refuse("kind_tier_mismatch",
                      Cat("a fee_reimbursement leaves a house-hot wallet; the inputs belong to ", source_text));
      }
      target = {OwnerClass::kClient, Tier::kHot};
      break;
    case policy::RequestKind::kGasFunding: {
      // Ether into one of a token's accounts, so that the account can pay the gas of a transfer
      // of the token (a sweep, a withdrawal, a top-up from cold): from the chain's native coin's
      // client-hot wallet to an account of a token's client wallet (hot or cold) on the same
      // chain, and nowhere else.
      if (source.owner_class != OwnerClass::kClient) {
        return Refuse("kind_owner_mismatch",
                      Cat("a gas_funding is paid by a client-hot wallet; the inputs belong to ", source_text));
      }
      if (source.tier != Tier::kHot) {
        return Refuse("kind_tier_mismatch",
                      Cat("a gas_funding leaves a client-hot wallet; the inputs belong to ", source_text));
      }
      const AssetConfig* from = config.FindAsset(source.asset);
      if (from == nullptr || from->erc20_contract.has_value()) {
        return Refuse("kind_asset_mismatch", Cat("a gas_funding pays its chain's native coin; the inputs belong to ",
                                                 source_text, ", a token's wallet"));
      }
      const AssetConfig* to = dest == nullptr ? nullptr : config.FindAsset(dest->asset);
      if (dest == nullptr || dest->owner_class != OwnerClass::kClient || to == nullptr ||
          !to->erc20_contract.has_value() || to->chain != from->chain) {
        return Refuse("destination_not_registered_wallet",
                      Cat("a gas_funding from ", source_text, " pays an account of a token's client wallet on ",
                          ChainName(from->chain), "; the destination ", r.intent.destination, " is ",
                          dest == nullptr ? std::string("no wallet signerd knows")
                                          : Cat("an address of ", OwnerClassName(dest->owner_class), "-",
                                                TierName(dest->tier), " wallet ", dest->wallet_id, " (", dest->asset,
                                                ")")));
      }
      return absl::OkStatus();
    }
  }
  if (dest == nullptr || dest->owner_class != target->first || dest->tier != target->second ||
      dest->asset != source.asset) {
    return Refuse("destination_not_registered_wallet",
                  Cat("a ", kind, " from ", source_text, " pays the ", source.asset, " ",
                      OwnerClassName(target->first), "-", TierName(target->second),
                      " wallet registered with signerd; the destination ", r.intent.destination, " is ",
                      dest == nullptr ? std::string("no wallet signerd knows")
                                      : Cat("an address of ", OwnerClassName(dest->owner_class), "-",
                                            TierName(dest->tier), " wallet ", dest->wallet_id, " (", dest->asset, ")")));
  }
  return absl::OkStatus();
}

}  // namespace internal

absl::StatusOr<OwnKeys> OwnKeys::Build(const std::vector<OwnKeyInput>& keys, const TxConfig& config) {
  OwnKeys out;
  auto describe = [](const WalletBinding& w) {
    return Cat(w.asset, " ", OwnerClassName(w.owner_class), "-", TierName(w.tier));
  };
  auto add_address = [&out](const std::string& address, const std::string& wallet_id) -> absl::Status {
    auto [it, added] = out.wallet_by_address_.emplace(address, wallet_id);
    if (!added && it->second != wallet_id) {
      return absl::InvalidArgumentError(
          Cat("address ", address, " belongs to wallet ", it->second, " and to wallet ", wallet_id));
    }
    return absl::OkStatus();
  };
  for (const RegisteredWallet& w : config.wallets) {
    out.wallets_.emplace(w.wallet.wallet_id, w.wallet);
    for (const std::string& address : w.addresses) {
      if (auto st = add_address(address, w.wallet.wallet_id); !st.ok()) return st;
    }
  }
  for (const OwnKeyInput& in : keys) {
    OwnKey k{in.key_id, in.public_key, {}, {}, in.binding};
    auto eth = chain::EthAddressFromPubkeyBytes(in.public_key);
    if (!eth.ok()) {
      return absl::InvalidArgumentError(Cat("key ", in.key_id, ": ", eth.status().message()));
    }
    k.eth_address = *eth;
    k.key_hash = chain::Hash160(in.public_key);
    if (in.binding) {
      const WalletBinding& b = *in.binding;
      auto [it, added] = out.wallets_.emplace(b.wallet_id, b);
      if (!added && !(it->second == b)) {
        return absl::InvalidArgumentError(Cat("key ", in.key_id, " is bound to wallet ", b.wallet_id, " as ",
                                              describe(b), ", which signerd already knows as ", describe(it->second)));
      }
      // The key receives at its address on its asset's chain; a key of an asset signerd does not
      // sign for has none here.
      if (const AssetConfig* asset = config.FindAsset(b.asset)) {
        std::string address;
        if (asset->chain == ChainKind::kBitcoin) {
          auto text = chain::P2wpkhAddress(chain::SegwitHrp(config.bitcoin->kind), k.key_hash);
          if (!text.ok()) return text.status();
          address = *text;
        } else {
          address = chain::EthChecksumAddress(k.eth_address);
        }
        if (auto st = add_address(address, b.wallet_id); !st.ok()) return st;
      }
    }
    out.by_key_hash_.emplace(k.key_hash, in.key_id);
    out.by_eth_address_.emplace(k.eth_address, in.key_id);
    out.by_id_.emplace(in.key_id, std::move(k));
  }
  return out;
}

const WalletBinding* OwnKeys::Wallet(std::string_view wallet_id) const {
  auto it = wallets_.find(wallet_id);
  return it == wallets_.end() ? nullptr : &it->second;
}

const WalletBinding* OwnKeys::WalletAt(std::string_view address) const {
  auto it = wallet_by_address_.find(address);
  return it == wallet_by_address_.end() ? nullptr : Wallet(it->second);
}

const OwnKey* OwnKeys::ById(std::string_view key_id) const {
  auto it = by_id_.find(key_id);
  return it == by_id_.end() ? nullptr : &it->second;
}

const OwnKey* OwnKeys::ByKeyHash(const std::array<uint8_t, 20>& key_hash) const {
  auto it = by_key_hash_.find(key_hash);
  return it == by_key_hash_.end() ? nullptr : ById(it->second);
}

const OwnKey* OwnKeys::ByEthAddress(const std::array<uint8_t, 20>& address) const {
  auto it = by_eth_address_.find(address);
  return it == by_eth_address_.end() ? nullptr : ById(it->second);
}

absl::Status ExpiredRefusal(const TxRequest& request, int64_t now_unix_seconds) {
  return Deny("approval_expired", Cat("the approvals expired at ", request.expires_at,
                                      " (Unix seconds); signerd's clock reads ", now_unix_seconds));
}

absl::StatusOr<CheckedTx> CheckTransaction(const TxRequest& request, const TxConfig& config,
                                           const ApproverRegistry& registry, const OwnKeys& keys,
                                           int64_t now_unix_seconds, Expiry expiry) {
  if (auto st = CheckRequestShape(request); !st.ok()) return st;
  const bool expired = request.expires_at <= now_unix_seconds;
  if (expired && expiry == Expiry::kRefuse) return ExpiredRefusal(request, now_unix_seconds);
  CheckedTx out;
  out.expired = expired;
  out.request_id = request.request_id;
  out.kind = *request.kind;
  if (request.chain == "bitcoin") {
    out.chain = ChainKind::kBitcoin;
    if (!config.bitcoin) return Refuse("chain_not_configured", "signerd signs no bitcoin transactions");
    if (request.network != config.bitcoin->network) {
      return Refuse("network_mismatch", Cat("the request is for bitcoin ", base::Clip(request.network),
                                            ", signerd is configured for ", config.bitcoin->network));
    }
  } else if (request.chain == "ethereum") {
    out.chain = ChainKind::kEthereum;
    if (!config.ethereum) return Refuse("chain_not_configured", "signerd signs no ethereum transactions");
    if (request.network != config.ethereum->network) {
      return Refuse("network_mismatch", Cat("the request is for ethereum ", base::Clip(request.network),
                                            ", signerd is configured for ", config.ethereum->network));
    }
  } else {
    return Refuse("request_malformed", Cat("chain ", base::Clip(request.chain), " is not bitcoin or ethereum"));
  }
  auto intent = ParseIntent(request, config, out.chain);
  if (!intent.ok()) return intent.status();
  out.amount = intent->amount;

  if (out.chain == ChainKind::kBitcoin) {
    if (auto st = CheckBitcoin(request, config, keys, *intent, &out); !st.ok()) return st;
  } else {
    if (auto st = internal::CheckEthereum(request, config, keys, *intent, &out); !st.ok()) return st;
  }
  if (auto st = CheckApprovals(request, *intent, registry, &out); !st.ok()) return st;
  out.fingerprint = Fingerprint(request);
  return out;
}

absl::StatusOr<SignedTx> AssembleSignedTx(const CheckedTx& checked,
                                          std::span<const JobSignature> signatures) {
  if (signatures.size() != checked.jobs.size()) {
    return absl::FailedPreconditionError(Cat("assemble: ", signatures.size(), " signatures for ",
                                             checked.jobs.size(), " digests"));
  }
  if (checked.chain == ChainKind::kBitcoin) {
    chain::Transaction tx = checked.bitcoin_tx;
    for (size_t i = 0; i < signatures.size(); ++i) {
      const auto item = chain::P2wpkhSignatureItem(signatures[i].compact);
      if (auto st = chain::SetP2wpkhWitness(tx, i, item, checked.jobs[i].public_key); !st.ok()) {
        return st;
      }
    }
    SignedTx out;
    out.bytes = chain::Serialize(tx);
    out.txid = chain::DisplayHex(chain::Txid(tx));
    return out;
  }
  return internal::AssembleEthereum(checked, signatures[0]);
}

}  // namespace ringfence::signer::tx

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
  subject.chain = r.chain;
  subject.network = r.network;
  subject.asset = r.intent.asset;
  subject.amount = intent.amount;
  subject.destination = r.intent.destination;
  subject.fee_cap = intent.fee_cap;
  auto digest = policy::ApprovalDigest(subject);
  if (!digest.ok()) return Refuse("request_malformed", digest.status().message());

  out->internal_sweep = registry.IsColdAddress(r.intent.asset, r.intent.destination);
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
                      " does not verify over this request's approval digest (request id, chain, "
                      "network and intent; docs/approval-digest.md)"));
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
    if (key_hash.ok() && keys.ByKeyHash(*key_hash) != nullptr) continue;  // change
    return Refuse("output_foreign", Cat("output ", i, " pays ", o.value, " sat to ",
                                        DescribeScript(o.script_pubkey, hrp),
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

}  // namespace internal

absl::StatusOr<OwnKeys> OwnKeys::Build(
    const std::vector<std::pair<std::string, std::array<uint8_t, 33>>>& keys) {
  OwnKeys out;
  for (const auto& [id, pub] : keys) {
    OwnKey k;
    k.key_id = id;
    k.public_key = pub;
    auto eth = chain::EthAddressFromPubkeyBytes(pub);
    if (!eth.ok()) {
      return absl::InvalidArgumentError(Cat("key ", id, ": ", eth.status().message()));
    }
    k.eth_address = *eth;
    k.key_hash = chain::Hash160(pub);
    out.by_key_hash_.emplace(k.key_hash, id);
    out.by_eth_address_.emplace(k.eth_address, id);
    out.by_id_.emplace(id, std::move(k));
  }
  return out;
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

absl::StatusOr<CheckedTx> CheckTransaction(const TxRequest& request, const TxConfig& config,
                                           const ApproverRegistry& registry, const OwnKeys& keys) {
  if (auto st = CheckRequestShape(request); !st.ok()) return st;
  CheckedTx out;
  out.request_id = request.request_id;
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

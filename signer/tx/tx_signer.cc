#include "signer/tx/tx_signer.h"

#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>

#include "base/hex.h"
#include "base/text.h"
#include "chain/hashes.h"
#include "signer/tx/request_limits.h"

namespace ringfence::signer::tx {

using base::Cat;

namespace {

std::vector<uint8_t> Bytes(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(Cat(what, " ", path.string(), ": cannot be read"));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (buffer.str().size() > (1u << 20)) {
    return absl::InvalidArgumentError(Cat(what, " ", path.string(), ": larger than 1 MiB"));
  }
  return buffer.str();
}

std::string Sha256Hex(std::string_view text) {
  return base::HexEncode(chain::Sha256(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
}

std::string RuleOf(const absl::Status& status) {
  const absl::string_view m = status.message();
  const size_t colon = m.find(':');
  return colon == absl::string_view::npos ? std::string("error") : std::string(m.substr(0, colon));
}

}  // namespace

// A Bitcoin witness needs no recovery id, and for Ethereum the recovery that finds it already
// proves the signature; so each chain pays for just the check it needs (chain::FinishSignature).
absl::StatusOr<JobSignature> SignJobOnToken(Pkcs11Token& token, ChainKind kind, const SignJob& job) {
  auto id = base::HexDecode(job.key_id, "key_id");
  if (!id.ok()) return absl::InternalError(Cat("key id ", job.key_id, " is not hex"));
  auto sig = token.SignEcdsa(*id, job.digest, job.public_key,
                             kind == ChainKind::kBitcoin ? chain::RecoveryId::kSkip : chain::RecoveryId::kCompute);
  if (!sig.ok()) return sig.status();
  return JobSignature{sig->compact, sig->recovery_id.value_or(0)};
}

absl::StatusOr<std::unique_ptr<TransactionSigner>> TransactionSigner::Open(
    const std::string& config_path, Pkcs11Token* token, SignerStore* store,
    std::function<int64_t()> clock) {
  std::unique_ptr<TransactionSigner> s(new TransactionSigner());
  s->token_ = token;
  s->store_ = store;
  s->clock_ = clock ? std::move(clock) : [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  auto config_text = ReadFile(config_path, "transaction config");
  if (!config_text.ok()) return config_text.status();
  auto config = ParseTxConfig(*config_text, std::filesystem::path(config_path).parent_path());
  if (!config.ok()) {
    return absl::InvalidArgumentError(Cat("transaction config ", config_path, ": ", config.status().message()));
  }
  s->config_ = std::move(*config);
  auto registry = ApproverRegistry::Load(s->config_.approver_registry_path);
  if (!registry.ok()) return registry.status();
  s->registry_ = std::move(*registry);
  if (auto st = ValidateRegistryAgainstConfig(s->registry_, s->config_); !st.ok()) {
    return absl::InvalidArgumentError(
        Cat("approver registry ", s->config_.approver_registry_path.string(), ": ", st.message()));
  }
  auto state = TxState::Open(store);
  if (!state.ok()) return state.status();
  s->state_ = std::move(*state);
  if (auto st = s->LoadKeys(); !st.ok()) return st;
  // Lingering 500 us under load: an fsync here costs about as much CPU as signing a
  // transaction, so fuller batches leave more of the cores to signing (bench_signer_tx).
  s->committer_ = std::make_unique<GroupCommitter>(store, 512, std::chrono::microseconds(500), 16);

  LogFields fields;
  fields["approver_registry"] = Bytes(s->config_.approver_registry_path.string());
  fields["approver_registry_sha256"] = Bytes(s->registry_.sha256_hex());
  fields["config"] = Bytes(config_path);
  fields["config_sha256"] = Bytes(Sha256Hex(*config_text));
  if (s->config_.bitcoin) fields["bitcoin_network"] = Bytes(s->config_.bitcoin->network);
  if (s->config_.ethereum) {
    fields["ethereum_network"] = Bytes(s->config_.ethereum->network);
    fields["ethereum_chain_id"] = Bytes(std::to_string(s->config_.ethereum->chain_id));
  }
  const int64_t now = s->clock_();
  auto logged = s->committer_->Submit([&](SignerStore::Txn& txn) -> absl::Status {
    return txn.AppendLog(now, "tx_signer_started", "", fields).status();
  });
  if (!logged.ok()) return logged;
  return s;
}

TransactionSigner::~TransactionSigner() = default;

absl::Status TransactionSigner::LoadKeys() {
  // Read before the keys: a write after this point bumps the generation again.
  const uint64_t generation = store_->key_generation();
  auto records = store_->ListKeys();
  if (!records.ok()) return records.status();
  std::vector<OwnKeyInput> keys;
  for (const KeyRecord& k : *records) {
    if (k.type != KeyType::kSecp256k1 || k.public_key.size() != 33) continue;
    OwnKeyInput in;
    in.key_id = k.key_id;
    std::copy(k.public_key.begin(), k.public_key.end(), in.public_key.begin());
    in.binding = k.binding;
    keys.push_back(std::move(in));
  }
  auto own = OwnKeys::Build(keys, config_);
  if (!own.ok()) return own.status();
  auto snapshot = std::make_shared<const OwnKeys>(std::move(*own));
  std::lock_guard<std::mutex> lock(keys_mu_);
  keys_ = std::move(snapshot);
  keys_generation_ = generation;
  return absl::OkStatus();
}

std::shared_ptr<const OwnKeys> TransactionSigner::Keys(bool* stale) {
  std::lock_guard<std::mutex> lock(keys_mu_);
  if (stale != nullptr) *stale = keys_generation_ != store_->key_generation();
  return keys_;
}

LogFields TransactionSigner::RefusalFields(const TxRequest& r, const absl::Status& refusal) {
  LogFields fields;
  fields["decision"] = Bytes("refused");
  fields["request_id"] = Bytes(LoggedField(r.request_id, kMaxRequestIdBytes));
  fields["chain"] = Bytes(LoggedField(r.chain, kMaxChainBytes));
  fields["network"] = Bytes(LoggedField(r.network, kMaxNetworkBytes));
  fields["unsigned_tx_sha256"] = Bytes(base::HexEncode(chain::Sha256(r.unsigned_tx)));
  fields["intent_asset"] = Bytes(LoggedField(r.intent.asset, kMaxAssetBytes));
  fields["intent_amount"] = Bytes(LoggedField(r.intent.amount, kMaxAmountBytes));
  fields["intent_destination"] = Bytes(LoggedField(r.intent.destination, kMaxDestinationBytes));
  fields["intent_fee_cap"] = Bytes(LoggedField(r.intent.fee_cap, kMaxAmountBytes));
  fields["kind"] = Bytes(r.kind ? policy::RequestKindName(*r.kind) : std::string_view("unknown"));
  fields["expires_at"] = Bytes(std::to_string(r.expires_at));
  fields["code"] = Bytes(absl::StatusCodeToString(refusal.code()));
  fields["rule"] = Bytes(RuleOf(refusal));
  fields["reason"] = Bytes(std::string(refusal.message()));
  return fields;
}

void TransactionSigner::Refuse(const TxRequest& request, absl::Status refusal, const SignDone& done) {
  auto fields = std::make_shared<const LogFields>(RefusalFields(request, refusal));
  const int64_t now = clock_();
  committer_->SubmitAsync(
      [fields, now](SignerStore::Txn& txn) -> absl::Status {
        return txn.Append(now, "tx_refused", "", *fields).status();
      },
      [refusal = std::move(refusal), done](absl::Status logged) {
        // A refusal that could not be logged is still a refusal; the caller learns both.
        done(logged.ok() ? refusal : logged);
      });
}

absl::StatusOr<SignResult> TransactionSigner::Sign(const TxRequest& request) {
  std::promise<absl::StatusOr<SignResult>> outcome;
  SignAsync(request, [&outcome](absl::StatusOr<SignResult> result) { outcome.set_value(std::move(result)); });
  return outcome.get_future().get();
}

void TransactionSigner::SignAsync(const TxRequest& request, SignDone done) {
  if (auto st = CheckRequestLimits(request); !st.ok()) return Refuse(request, st, done);
  bool stale = false;
  auto keys = Keys(&stale);
  if (stale) {
    if (auto st = LoadKeys(); !st.ok()) return done(absl::UnavailableError(Cat("reading keys: ", st.message())));
    keys = Keys();
  }
  const int64_t now_seconds = clock_() / 1000;
  // No second try after a refusal: the snapshot is current (every registry write goes through
  // this store, the only one on the database while signerd holds its lock), so a refusal is
  // final and cannot make signerd re-read every key on a caller's demand.
  // Expired approvals are refused after the state check, not before: the same transaction
  // signed before the expiry is still answered with its stored signature (nothing new signed).
  auto checked = CheckTransaction(request, config_, registry_, *keys, now_seconds, Expiry::kRecord);
  if (!checked.ok()) return Refuse(request, checked.status(), done);

  auto decision = state_->Reserve(*checked);
  if (!decision.ok()) return Refuse(request, decision.status(), done);
  if (!decision->replay && checked->expired) {
    decision->claim.Release();
    return Refuse(request, ExpiredRefusal(request, now_seconds), done);
  }
  if (decision->replay) {
    const SignedRecord& rec = *decision->replay;
    auto fields = std::make_shared<LogFields>();
    (*fields)["decision"] = Bytes("replayed");
    (*fields)["request_id"] = Bytes(request.request_id);
    (*fields)["fingerprint"] = std::vector<uint8_t>(rec.fingerprint.begin(), rec.fingerprint.end());
    (*fields)["txid"] = Bytes(rec.txid);
    (*fields)["signed_seq"] = Bytes(std::to_string(rec.log_sequence));
    SignResult result;
    result.signed_tx = {rec.signed_tx, rec.txid};
    result.replayed = true;
    result.log_sequence = rec.log_sequence;
    const int64_t now = clock_();
    committer_->SubmitAsync(
        [fields, now](SignerStore::Txn& txn) -> absl::Status {
          return txn.Append(now, "tx_replayed", "", *fields).status();
        },
        [result = std::move(result), done](absl::Status logged) {
          if (!logged.ok()) return done(logged);
          done(result);
        });
    return;
  }

  std::vector<JobSignature> signatures;
  for (const SignJob& job : checked->jobs) {
    auto sig = SignJobOnToken(*token_, checked->chain, job);
    if (!sig.ok()) {
      decision->claim.Release();
      return Refuse(request,
                    absl::UnavailableError(Cat("token_error: signing with key ", job.key_id,
                                               " failed: ", sig.status().message())),
                    done);
    }
    signatures.push_back(*sig);
  }
  auto signed_tx = AssembleSignedTx(*checked, signatures);
  if (!signed_tx.ok()) {
    decision->claim.Release();
    return done(absl::InternalError(Cat("assembling the signed transaction: ", signed_tx.status().message())));
  }

  // What the log write and its completion share; the write may run twice (batch retry).
  struct Signing {
    CheckedTx checked;
    TxClaim claim;  // released if the write never reports back
    LogFields fields;
    SignedRecord record;
    SignResult result;
  };
  auto signing = std::make_shared<Signing>();
  LogFields& fields = signing->fields;
  fields["decision"] = Bytes("signed");
  fields["request_id"] = Bytes(request.request_id);
  fields["chain"] = Bytes(request.chain);
  fields["network"] = Bytes(request.network);
  fields["intent_asset"] = Bytes(request.intent.asset);
  fields["intent_amount"] = Bytes(request.intent.amount);
  fields["intent_destination"] = Bytes(request.intent.destination);
  fields["intent_fee_cap"] = Bytes(request.intent.fee_cap);
  fields["kind"] = Bytes(policy::RequestKindName(checked->kind));
  fields["source_wallet"] = Bytes(checked->source_wallet.wallet_id);
  fields["expires_at"] = Bytes(std::to_string(request.expires_at));
  fields["fee"] = Bytes(checked->fee.ToBaseUnitString());
  fields["fingerprint"] = std::vector<uint8_t>(checked->fingerprint.begin(), checked->fingerprint.end());
  fields["internal_sweep"] = Bytes(checked->internal_sweep ? "true" : "false");
  fields["approvals_required"] = Bytes(std::to_string(checked->approvals_required));
  std::string approvers, key_ids, input_amounts;
  for (const auto& a : checked->approvers) approvers += (approvers.empty() ? "" : ",") + a;
  for (const auto& j : checked->jobs) key_ids += (key_ids.empty() ? "" : ",") + j.key_id;
  for (const auto& in : request.bitcoin_inputs) {
    input_amounts += (input_amounts.empty() ? "" : ",") + std::to_string(in.amount);
  }
  fields["approvers"] = Bytes(approvers);
  fields["key_ids"] = Bytes(key_ids);
  if (!input_amounts.empty()) fields["input_amounts"] = Bytes(input_amounts);
  std::vector<uint8_t> digests, sigs;
  for (size_t i = 0; i < signatures.size(); ++i) {
    digests.insert(digests.end(), checked->jobs[i].digest.begin(), checked->jobs[i].digest.end());
    sigs.insert(sigs.end(), signatures[i].compact.begin(), signatures[i].compact.end());
    sigs.push_back(static_cast<uint8_t>(signatures[i].recovery_id));
  }
  fields["digests"] = std::move(digests);
  fields["signatures"] = std::move(sigs);  // 65 bytes each: r || s || recovery id
  fields["signed_tx"] = signed_tx->bytes;
  fields["txid"] = Bytes(signed_tx->txid);

  signing->record.fingerprint = checked->fingerprint;
  signing->record.signed_tx = signed_tx->bytes;
  signing->record.txid = signed_tx->txid;
  signing->result.signed_tx = *std::move(signed_tx);
  signing->checked = *std::move(checked);
  signing->claim = std::move(decision->claim);
  const int64_t now = clock_();
  committer_->SubmitAsync(
      [this, signing, now](SignerStore::Txn& txn) -> absl::Status {
        static const std::string kNoKey;
        const std::string& first_key = signing->checked.jobs.empty() ? kNoKey : signing->checked.jobs[0].key_id;
        auto seq = txn.Append(now, "tx_signed", first_key, signing->fields);
        if (!seq.ok()) return seq.status();
        signing->record.log_sequence = *seq;
        return state_->WriteRows(txn, signing->checked, signing->record);
      },
      [signing, done](absl::Status logged) {
        if (!logged.ok()) {
          signing->claim.Release();
          return done(absl::UnavailableError(
              Cat("log_error: the signature could not be logged, so it is withheld: ", logged.message())));
        }
        signing->claim.Commit();
        signing->result.log_sequence = signing->record.log_sequence;
        done(std::move(signing->result));
      });
}

}  // namespace ringfence::signer::tx

#include "tests/signer_tx/harness.h"

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "base/hex.h"
#include "signer/key_service.h"
#include "signer/request_limits.h"
#include "signer/tx/service.h"

namespace ringfence::signer::tx::testing {
namespace {

constexpr char kLabel[] = "ringfence-tx";
constexpr char kSoPin[] = "so-pin-4321";
constexpr char kUserPin[] = "user-pin-1234";

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::cerr << "signer_tx harness: " << what << ": " << status << "\n";
  std::abort();
}

template <typename T>
T OrDie(absl::StatusOr<T> v, const std::string& what) {
  if (!v.ok()) Die(what, v.status());
  return std::move(*v);
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) {
    std::cerr << "signer_tx harness: cannot write " << path << "\n";
    std::abort();
  }
}

}  // namespace

std::string TokenKindName(TokenKind kind) { return kind == TokenKind::kHsmSim ? "hsm_sim" : "softhsm"; }

TokenKind ParseTokenKind(const std::string& name) {
  if (name == "hsm_sim") return TokenKind::kHsmSim;
  if (name == "softhsm") return TokenKind::kSoftHsm;
  std::cerr << "signer_tx harness: unknown token kind \"" << name << "\" (hsm_sim or softhsm)\n";
  std::abort();
}

std::string SignerHarness::module_path() const {
  return kind_ == TokenKind::kHsmSim ? std::string(RINGFENCE_HSM_SIM_MODULE)
                                     : std::string(RINGFENCE_SOFTHSM2_MODULE);
}

SignerHarness::SignerHarness(TokenKind kind, const std::filesystem::path& dir, size_t pool_size)
    : kind_(kind), dir_(dir), socket_(dir / "signer.sock") {
  if (kind == TokenKind::kHsmSim) {
    setenv("HSM_SIM_DIR", (dir / "hsm").c_str(), 1);
    setenv("HSM_SIM_ARGON2_OPSLIMIT", "1", 1);
    setenv("HSM_SIM_ARGON2_MEMLIMIT_KIB", "8", 1);
  } else {
    std::filesystem::create_directories(dir / "softhsm-tokens");
    WriteFile(dir / "softhsm2.conf", "directories.tokendir = " + (dir / "softhsm-tokens").string() +
                                         "\nobjectstore.backend = file\nlog.level = ERROR\n");
    setenv("SOFTHSM2_CONF", (dir / "softhsm2.conf").c_str(), 1);
  }
  module_ = OrDie(Pkcs11Module::Load(module_path()), "loading " + module_path());
  OrDie(module_->InitToken(kLabel, base::SecretBytes::CopyOf(kSoPin), base::SecretBytes::CopyOf(kUserPin)),
        "initialising the token");
  token_ = OrDie(Pkcs11Token::Open(module_, kLabel, base::SecretBytes::CopyOf(kUserPin), pool_size), "logging in");
  store_ = OrDie(SignerStore::Open((dir / "signer.db").string()), "opening the database");

  KeyService keys(token_.get(), store_.get());
  std::vector<std::pair<std::string, std::array<uint8_t, 33>>> own;
  for (const OwnKeySpec& spec : OwnKeySpecs()) {
    KeyRecord k;
    if (spec.binding) {
      k = OrDie(keys.CreateKey(KeyType::kSecp256k1, spec.purpose, *spec.binding), "creating a key");
    } else {
      // A key from before bindings: generated and registered as signerd did then, unbound.
      std::vector<uint8_t> id(16);
      for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(0xb0 + i);
      TokenKey generated = OrDie(token_->GenerateKeyPair(KeyType::kSecp256k1, id, spec.purpose), "generating a key");
      k.key_id = base::HexEncode(id);
      k.type = KeyType::kSecp256k1;
      k.purpose = spec.purpose;
      k.public_key = generated.public_key;
      k.created_unix_ms = 1;
      OrDie(store_->RegisterKey(k), "registering an unbound key");
    }
    std::pair<std::string, std::array<uint8_t, 33>> entry;
    entry.first = k.key_id;
    std::copy(k.public_key.begin(), k.public_key.end(), entry.second.begin());
    own.push_back(entry);
  }
  world_ = MakeWorld(&own);
  WriteFile(dir / "signer_tx.toml", world_.config_toml);
  WriteFile(dir / "approvers.toml", world_.registry_toml);
  StartServing();
}

SignerHarness::~SignerHarness() {
  StopServing();
  token_.reset();
  store_.reset();
}

void SignerHarness::StartServing() {
  service_ = OrDie(MakeTransactionSignerService((dir_ / "signer_tx.toml").string(), token_.get(),
                                                store_.get()),
                   "opening the transaction signer");
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_.string(), grpc::InsecureServerCredentials());
  builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxRequestBytes));  // as signerd
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (!server_) {
    std::cerr << "signer_tx harness: cannot serve on " << socket_ << "\n";
    std::abort();
  }
  stub_ = ringfence::signer::v1::TransactionSigner::NewStub(
      grpc::CreateChannel("unix:" + socket_.string(), grpc::InsecureChannelCredentials()));
}

void SignerHarness::StopServing() {
  stub_.reset();
  if (server_) {
    server_->Shutdown();
    server_->Wait();
    server_.reset();
  }
  service_.reset();
  std::filesystem::remove(socket_);
}

void SignerHarness::Restart() {
  StopServing();
  store_.reset();
  store_ = OrDie(SignerStore::Open((dir_ / "signer.db").string()), "reopening the database");
  StartServing();
}

ringfence::signer::v1::SignTransactionRequest ToProto(const TxRequest& r) {
  ringfence::signer::v1::SignTransactionRequest p;
  p.set_request_id(r.request_id);
  p.set_chain(r.chain);
  p.set_network(r.network);
  p.set_unsigned_tx(std::string(r.unsigned_tx.begin(), r.unsigned_tx.end()));
  for (const auto& in : r.bitcoin_inputs) {
    auto* x = p.add_bitcoin_inputs();
    x->set_amount(in.amount);
    x->set_key_id(in.key_id);
  }
  p.set_ethereum_key_id(r.ethereum_key_id);
  p.mutable_intent()->set_asset(r.intent.asset);
  p.mutable_intent()->set_amount(r.intent.amount);
  p.mutable_intent()->set_destination(r.intent.destination);
  p.mutable_intent()->set_fee_cap(r.intent.fee_cap);
  if (r.kind) {
    switch (*r.kind) {
      case policy::RequestKind::kWithdrawal:
        p.set_kind(ringfence::signer::v1::REQUEST_KIND_WITHDRAWAL);
        break;
      case policy::RequestKind::kSweep:
        p.set_kind(ringfence::signer::v1::REQUEST_KIND_SWEEP);
        break;
      case policy::RequestKind::kTopUp:
        p.set_kind(ringfence::signer::v1::REQUEST_KIND_TOP_UP);
        break;
      case policy::RequestKind::kFeeReimbursement:
        p.set_kind(ringfence::signer::v1::REQUEST_KIND_FEE_REIMBURSEMENT);
        break;
      case policy::RequestKind::kGasFunding:
        p.set_kind(ringfence::signer::v1::REQUEST_KIND_GAS_FUNDING);
        break;
    }
  }
  p.set_expires_at(r.expires_at);
  for (const auto& a : r.approvals) {
    auto* x = p.add_approvals();
    x->set_approver_id(a.approver_id);
    x->set_signature(std::string(a.signature.begin(), a.signature.end()));
  }
  return p;
}

}  // namespace ringfence::signer::tx::testing

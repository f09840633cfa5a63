// ringfence_demo: plays custodyd's part in the end-to-end demo (scripts/demo.sh) until
// custodyd exists. It asks signerd for keys, builds an unsigned Bitcoin withdrawal with the
// chain codecs, and sends it to signerd with the approvals the `quorum` tool produced; then it
// shows signerd refusing a tampered transaction and a short quorum. It holds no key itself.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "base/amount.h"
#include "base/hex.h"
#include "chain/bech32.h"
#include "chain/bitcoin_tx.h"
#include "chain/hashes.h"
#include "proto/signer.grpc.pb.h"
#include "proto/signer_tx.grpc.pb.h"
#include "rpc/health_client.h"

namespace {

namespace v1 = ringfence::signer::v1;
namespace chain = ringfence::chain;

// The demo moves bitcoin only: its amounts are satoshi, shown to people in BTC.
constexpr char kAsset[] = "BTC";
constexpr int kAssetDecimals = 8;

std::string ShowSat(uint64_t sat) {
  return ringfence::base::FormatLabelledAmount(ringfence::base::Amount(sat), kAssetDecimals, kAsset);
}

struct Withdrawal {
  std::string request_id;
  std::string destination;
  uint64_t amount = 0;
  uint64_t fee_cap = 0;
  uint64_t fee = 0;
  int64_t expires_at = 0;  // Unix seconds; bound by the approvals (approval digest v2)
  std::vector<std::string> approval_files;
};

// Sends one SignTransaction and prints what signerd answered. Returns the gRPC status.
grpc::Status Sign(v1::TransactionSigner::Stub& stub, const v1::SignTransactionRequest& request, const char* label) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::SignTransactionResponse response;
  grpc::Status s = stub.SignTransaction(&ctx, request, &response);
  if (s.ok()) {
    std::printf("  %-34s signed  txid %s%s (log entry %llu)\n", label, response.txid().c_str(),
                response.replayed() ? ", replayed" : "", static_cast<unsigned long long>(response.log_sequence()));
    if (!response.replayed()) {
      std::printf("    %s\n", ringfence::base::HexEncode(response.signed_tx()).c_str());
    }
  } else {
    std::printf("  %-34s REFUSED %s: %s\n", label,
                s.error_code() == grpc::StatusCode::PERMISSION_DENIED ? "PERMISSION_DENIED" :
                s.error_code() == grpc::StatusCode::FAILED_PRECONDITION ? "FAILED_PRECONDITION" : "error",
                s.error_message().c_str());
  }
  return s;
}

int Run(const std::string& socket, const Withdrawal& w) {
  auto channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  absl::Status serving =
      ringfence::rpc::WaitForServing(channel, v1::Signer::service_full_name(), std::chrono::seconds(30));
  if (!serving.ok()) {
    std::fprintf(stderr, "ringfence_demo: signerd at %s is not serving: %s\n", socket.c_str(),
                 std::string(serving.message()).c_str());
    return 1;
  }
  auto keys = v1::Signer::NewStub(channel);
  auto signer = v1::TransactionSigner::NewStub(channel);

  // 1. Keys are made inside the token; only public keys come back.
  auto create = [&](const char* purpose, v1::Key* out) {
    grpc::ClientContext ctx;
    v1::CreateKeyRequest req;
    req.set_key_type(v1::KEY_TYPE_SECP256K1);
    req.set_purpose(purpose);
    req.mutable_binding()->set_wallet_id("btc:client-hot");
    req.mutable_binding()->set_asset(kAsset);
    req.mutable_binding()->set_owner_class(v1::OWNER_CLASS_CLIENT);
    req.mutable_binding()->set_tier(v1::TIER_HOT);
    v1::CreateKeyResponse resp;
    grpc::Status s = keys->CreateKey(&ctx, req, &resp);
    if (!s.ok()) {
      std::fprintf(stderr, "ringfence_demo: CreateKey: %s\n", s.error_message().c_str());
      return false;
    }
    *out = resp.key();
    return true;
  };
  v1::Key deposit, change;
  if (!create("btc-hot-deposit", &deposit) || !create("btc-hot-change", &change)) return 1;
  auto address_of = [](const v1::Key& k) {
    std::vector<uint8_t> pub(k.public_key().begin(), k.public_key().end());
    return *chain::P2wpkhAddress("bcrt", chain::Hash160(pub));
  };
  std::printf("signerd created keys inside the token:\n  %s  %s  %s\n  %s  %s  %s\n", deposit.key_id().c_str(),
              deposit.purpose().c_str(), address_of(deposit).c_str(), change.key_id().c_str(), change.purpose().c_str(),
              address_of(change).c_str());

  // 2. The unsigned withdrawal: a 2 BTC deposit output pays the destination and the rest, less
  // the fee, goes back to signerd's own change key.
  const uint64_t kDeposit = 200'000'000;
  if (w.amount > kDeposit || w.fee > kDeposit - w.amount) {
    std::fprintf(stderr, "ringfence_demo: amount %s plus fee %s is more than the deposit of %s\n",
                 ShowSat(w.amount).c_str(), ShowSat(w.fee).c_str(), ShowSat(kDeposit).c_str());
    return 1;
  }
  chain::Transaction tx;
  chain::TxIn in;
  in.prevout.txid = chain::Sha256(std::vector<uint8_t>{'d', 'e', 'p', 'o', 's', 'i', 't'});
  in.prevout.vout = 0;
  in.sequence = 0xfffffffd;
  tx.inputs.push_back(in);
  auto dest_script = chain::ScriptPubKeyForAddress(w.destination);
  if (!dest_script.ok()) {
    std::fprintf(stderr, "ringfence_demo: destination: %s\n", std::string(dest_script.status().message()).c_str());
    return 1;
  }
  std::vector<uint8_t> change_pub(change.public_key().begin(), change.public_key().end());
  tx.outputs.push_back({w.amount, *dest_script});
  tx.outputs.push_back({kDeposit - w.amount - w.fee, chain::P2wpkhScriptPubKey(chain::Hash160(change_pub))});
  std::vector<uint8_t> unsigned_tx = chain::Serialize(tx);
  std::printf("unsigned withdrawal %s: %s to %s, fee %s, %zu bytes\n", w.request_id.c_str(),
              ShowSat(w.amount).c_str(), w.destination.c_str(), ShowSat(w.fee).c_str(), unsigned_tx.size());

  v1::SignTransactionRequest request;
  request.set_request_id(w.request_id);
  request.set_chain("bitcoin");
  request.set_network("regtest");
  request.set_kind(v1::REQUEST_KIND_WITHDRAWAL);
  request.set_expires_at(w.expires_at);
  request.set_unsigned_tx(std::string(unsigned_tx.begin(), unsigned_tx.end()));
  auto* spend = request.add_bitcoin_inputs();
  spend->set_amount(kDeposit);
  spend->set_key_id(deposit.key_id());
  auto* intent = request.mutable_intent();
  intent->set_asset(kAsset);
  intent->set_amount(std::to_string(w.amount));
  intent->set_destination(w.destination);
  intent->set_fee_cap(std::to_string(w.fee_cap));
  for (const std::string& file : w.approval_files) {
    std::ifstream f(file);
    nlohmann::json j = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.contains("approver_id") || !j.contains("signature")) {
      std::fprintf(stderr, "ringfence_demo: %s is not a quorum approval\n", file.c_str());
      return 1;
    }
    auto* a = request.add_approvals();
    a->set_approver_id(j["approver_id"].get<std::string>());
    absl::StatusOr<std::vector<uint8_t>> sig =
        ringfence::base::HexDecode(j["signature"].get<std::string>(), "signature");
    if (!sig.ok()) {
      std::fprintf(stderr, "ringfence_demo: %s: %s\n", file.c_str(), std::string(sig.status().message()).c_str());
      return 1;
    }
    a->set_signature(std::string(sig->begin(), sig->end()));
  }

  // 3. signerd decodes, checks and signs; then the same request again, and attempts it refuses.
  std::printf("SignTransaction over %s:\n", socket.c_str());
  if (!Sign(*signer, request, "approved withdrawal").ok()) return 1;
  if (!Sign(*signer, request, "same request again").ok()) return 1;

  v1::SignTransactionRequest tampered = request;
  chain::Transaction evil = tx;
  evil.outputs[0].script_pubkey = chain::P2wpkhScriptPubKey(chain::Hash160(std::vector<uint8_t>{'e', 'v', 'i', 'l'}));
  std::vector<uint8_t> evil_bytes = chain::Serialize(evil);
  tampered.set_request_id(w.request_id + "-tampered");
  tampered.set_unsigned_tx(std::string(evil_bytes.begin(), evil_bytes.end()));
  bool refused = !Sign(*signer, tampered, "destination swapped in the tx").ok();

  v1::SignTransactionRequest short_quorum = request;
  short_quorum.mutable_approvals()->DeleteSubrange(1, short_quorum.approvals_size() - 1);
  refused = !Sign(*signer, short_quorum, "one approval instead of two").ok() && refused;

  v1::SignTransactionRequest other = request;
  chain::Transaction other_tx = tx;
  other_tx.locktime = 1;
  std::vector<uint8_t> other_bytes = chain::Serialize(other_tx);
  other.set_unsigned_tx(std::string(other_bytes.begin(), other_bytes.end()));
  refused = !Sign(*signer, other, "another tx for the same request").ok() && refused;
  if (!refused) {
    std::fprintf(stderr, "ringfence_demo: signerd signed something it should have refused\n");
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ringfence_demo: drive signerd as custodyd will (demo only)"};
  std::string socket;
  Withdrawal w;
  app.add_option("--socket", socket, "signerd's Unix socket")->required();
  app.add_option("--request-id", w.request_id)->required();
  app.add_option("--destination", w.destination, "whitelisted bech32 address")->required();
  app.add_option("--amount", w.amount, "base units (satoshi)")->required();
  app.add_option("--fee", w.fee, "base units (satoshi)")->required();
  app.add_option("--fee-cap", w.fee_cap, "base units (satoshi)")->required();
  app.add_option("--expires-at", w.expires_at, "when the approvals expire, Unix seconds (as given to `quorum sign`)")
      ->required();
  app.add_option("--approval", w.approval_files, "approval JSON from `quorum sign`")->required();
  CLI11_PARSE(app, argc, argv);
  return Run(socket, w);
}

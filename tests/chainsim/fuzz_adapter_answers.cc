// custodyd's chain adapter (ChainsimAdapter) under arbitrary node answers. A node's answer is
// outside input: whatever it says, each call either returns what the adapter promises (a
// block at the height asked whose transfers pay only addresses asked about, balances one per
// address, unspent outputs of the addresses asked, largest first, below the tip, ...) or
// refuses the answer as DATA_LOSS (ABORTED for a block that changed between requests) with a
// bounded message. The node is an in-process gRPC service answering every call with the fuzz
// input's message; see adapter_answers_fuzz.h for the input's form.
#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"
#include "base/check.h"
#include "base/hex.h"
#include "chain/bitcoin_tx.h"
#include "chain/eth_tx.h"
#include "custody/chain/chainsim_adapter.h"
#include "proto/chainsim.grpc.pb.h"
#include "tests/chainsim/adapter_answers_fuzz.h"

namespace {

namespace v1 = ringfence::chainsim::v1;
using ringfence::chainsim::testing::AnswerKind;
using ringfence::custody::chain::ChainsimAdapter;

// The answer every call gets while one input runs. Written before the call, read by the
// server's thread during it; the call itself orders the two.
std::string g_answer;

template <typename Response>
grpc::Status Answer(Response* resp) {
  // The harness checked that the bytes parse as the message of the call it makes.
  return resp->ParseFromString(g_answer) ? grpc::Status::OK : grpc::Status(grpc::StatusCode::INTERNAL, "unparsed");
}

class AnsweringNode final : public v1::Node::Service {
 public:
  grpc::Status GetTip(grpc::ServerContext*, const v1::GetTipRequest*, v1::GetTipResponse* r) override { return Answer(r); }
  grpc::Status GetBlock(grpc::ServerContext*, const v1::GetBlockRequest*, v1::GetBlockResponse* r) override {
    return Answer(r);
  }
  grpc::Status GetBalance(grpc::ServerContext*, const v1::GetBalanceRequest*, v1::GetBalanceResponse* r) override {
    return Answer(r);
  }
  grpc::Status GetBalances(grpc::ServerContext*, const v1::GetBalancesRequest*, v1::GetBalancesResponse* r) override {
    return Answer(r);
  }
  grpc::Status Broadcast(grpc::ServerContext*, const v1::BroadcastRequest*, v1::BroadcastResponse* r) override {
    return Answer(r);
  }
  grpc::Status GetNonce(grpc::ServerContext*, const v1::GetNonceRequest*, v1::GetNonceResponse* r) override {
    return Answer(r);
  }
  grpc::Status ListUnspent(grpc::ServerContext*, const v1::ListUnspentRequest*, v1::ListUnspentResponse* r) override {
    return Answer(r);
  }
  grpc::Status GetFeeEstimate(grpc::ServerContext*, const v1::GetFeeEstimateRequest*,
                              v1::GetFeeEstimateResponse* r) override {
    return Answer(r);
  }
  grpc::Status GetTransaction(grpc::ServerContext*, const v1::GetTransactionRequest*,
                              v1::GetTransactionResponse* r) override {
    return Answer(r);
  }
};

struct Harness {
  AnsweringNode node;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<ChainsimAdapter> btc;
  std::unique_ptr<ChainsimAdapter> eth;
  std::vector<uint8_t> signed_tx = ringfence::chainsim::testing::FuzzSignedTx();
};

Harness& TheHarness() {
  static Harness* h = [] {
    auto* harness = new Harness;
    grpc::ServerBuilder builder;
    builder.RegisterService(&harness->node);
    harness->server = builder.BuildAndStart();
    RF_CHECK(harness->server != nullptr, "the in-process node");
    auto channel = harness->server->InProcessChannel(grpc::ChannelArguments());
    harness->btc = *ChainsimAdapter::Create("bitcoin", channel);
    harness->eth = *ChainsimAdapter::Create("ethereum", channel);
    return harness;
  }();
  return *h;
}

bool IsHash(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A refusal is DATA_LOSS (or ABORTED where `aborted_ok`) with a bounded message.
void CheckRefusal(const absl::Status& s, bool aborted_ok = false) {
  RF_CHECK(s.code() == absl::StatusCode::kDataLoss || (aborted_ok && s.code() == absl::StatusCode::kAborted),
           "a node's answer refused with another code than DATA_LOSS");
  RF_CHECK(s.message().size() <= 1024, "a refusal that quotes the answer unclipped");
}

template <typename T>
bool Refused(const absl::StatusOr<T>& result, bool aborted_ok = false) {
  if (result.ok()) return false;
  CheckRefusal(result.status(), aborted_ok);
  return true;
}

void CheckRef(const ringfence::custody::chain::BlockRef& ref) {
  RF_CHECK(IsHash(ref.hash) && IsHash(ref.parent_hash) && ref.hash != ref.parent_hash, "a malformed block reference");
}

void CheckBlock(ChainsimAdapter& adapter, const std::vector<std::string>& watched) {
  auto block = adapter.GetBlock(ringfence::chainsim::testing::kFuzzHeight, watched);
  if (Refused(block, /*aborted_ok=*/true)) return;
  RF_CHECK(block->ref.height == ringfence::chainsim::testing::kFuzzHeight, "a block at another height");
  CheckRef(block->ref);
  const std::unordered_set<std::string> asked(watched.begin(), watched.end());
  std::set<std::tuple<std::string, uint32_t, std::string>> seen;
  for (const auto& t : block->transfers) {
    RF_CHECK(IsHash(t.txid), "a transfer with a malformed txid");
    RF_CHECK(asked.contains(t.to_address), "a transfer to an address not asked about");
    RF_CHECK(seen.emplace(t.txid, t.index, t.token_contract).second, "a transfer listed twice");
  }
}

void Run(AnswerKind kind) {
  using namespace ringfence::chainsim::testing;
  Harness& h = TheHarness();
  const std::string alice = FuzzAlice(), bob = FuzzBob();
  switch (kind) {
    case AnswerKind::kTip: {
      auto tip = h.btc->Tip();
      if (!Refused(tip)) CheckRef(*tip);
      break;
    }
    case AnswerKind::kBitcoinBlock:
      CheckBlock(*h.btc, {alice, bob});
      break;
    case AnswerKind::kEthereumBlock:
      CheckBlock(*h.eth, {FuzzCarol(), FuzzDave()});
      break;
    case AnswerKind::kBalance:
      Refused(h.btc->BalanceAt(alice, "", kFuzzHeight));
      break;
    case AnswerKind::kBalances: {
      const std::vector<std::string> asked = {alice, bob, alice};
      auto balances = h.btc->BalancesAt(asked, "", kFuzzHeight);
      if (Refused(balances)) break;
      RF_CHECK(balances->size() == 3, "not one balance per address asked");
      RF_CHECK((*balances)[0] == (*balances)[2], "one address with two balances");
      break;
    }
    case AnswerKind::kBroadcast: {
      auto txid = h.eth->Broadcast(h.signed_tx);
      if (Refused(txid)) break;
      RF_CHECK(*txid == ringfence::base::HexEncode(ringfence::chain::EthTxHash(h.signed_tx)),
               "a broadcast answered with another transaction's id");
      break;
    }
    case AnswerKind::kUnspent: {
      const std::vector<std::string> asked = {alice, bob};
      auto unspent = h.btc->ListUnspent(asked);
      if (Refused(unspent)) break;
      CheckRef(unspent->tip);
      uint64_t previous = UINT64_MAX;
      for (const auto& u : unspent->outputs) {
        RF_CHECK(u.address == alice || u.address == bob, "an output of an address not asked about");
        RF_CHECK(u.amount >= 1 && u.amount <= ringfence::chain::kMaxMoney, "an output amount out of range");
        RF_CHECK(u.amount <= previous, "outputs not largest first");
        RF_CHECK(u.height <= unspent->tip.height, "an output above the tip");
        previous = u.amount;
      }
      break;
    }
    case AnswerKind::kNonce: {
      auto nonce = h.eth->Nonce(FuzzCarol());
      if (!Refused(nonce)) RF_CHECK(nonce->pending >= nonce->confirmed, "a pending nonce below the confirmed one");
      break;
    }
    case AnswerKind::kBitcoinFee: {
      auto fee = h.btc->EstimateFee();
      if (!Refused(fee)) RF_CHECK(!fee->sat_per_vbyte.is_zero(), "no bitcoin fee advised");
      break;
    }
    case AnswerKind::kEthereumFee:
      Refused(h.eth->EstimateFee());
      break;
    case AnswerKind::kTransaction: {
      auto status = h.btc->GetTransaction(FuzzTxid());
      if (Refused(status)) break;
      CheckRef(status->tip);
      if (status->state == ringfence::custody::chain::TxState::kConfirmed) {
        RF_CHECK(status->height >= 1 && status->height <= status->tip.height, "a confirmation outside the chain");
        RF_CHECK(status->confirmations == status->tip.height - status->height + 1, "confirmations that do not add up");
      }
      break;
    }
    case AnswerKind::kCount:
      break;
  }
}

// Whether `bytes` parse as the answer to `kind`'s call (anything else is not an answer to it).
bool ParsesAs(AnswerKind kind, const std::string& bytes) {
  switch (kind) {
    case AnswerKind::kTip: return v1::GetTipResponse().ParseFromString(bytes);
    case AnswerKind::kBitcoinBlock:
    case AnswerKind::kEthereumBlock: return v1::GetBlockResponse().ParseFromString(bytes);
    case AnswerKind::kBalance: return v1::GetBalanceResponse().ParseFromString(bytes);
    case AnswerKind::kBalances: return v1::GetBalancesResponse().ParseFromString(bytes);
    case AnswerKind::kBroadcast: return v1::BroadcastResponse().ParseFromString(bytes);
    case AnswerKind::kUnspent: return v1::ListUnspentResponse().ParseFromString(bytes);
    case AnswerKind::kNonce: return v1::GetNonceResponse().ParseFromString(bytes);
    case AnswerKind::kBitcoinFee:
    case AnswerKind::kEthereumFee: return v1::GetFeeEstimateResponse().ParseFromString(bytes);
    case AnswerKind::kTransaction: return v1::GetTransactionResponse().ParseFromString(bytes);
    case AnswerKind::kCount: return false;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (1u << 20)) return 0;
  const auto kind = static_cast<AnswerKind>(data[0] % static_cast<uint8_t>(AnswerKind::kCount));
  std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if (!ParsesAs(kind, bytes)) return 0;
  g_answer = std::move(bytes);
  Run(kind);
  return 0;
}

#include "custody/chain/chainsim_adapter.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <set>
#include <tuple>
#include <unordered_set>

#include "base/hex.h"
#include "base/status.h"
#include "base/text.h"
#include "chain/bech32.h"
#include "chain/bitcoin_tx.h"
#include "chain/eth_address.h"
#include "chain/eth_tx.h"

namespace ringfence::custody::chain {
namespace {

namespace v1 = ringfence::chainsim::v1;
using base::Cat;

// chainsim's request limits (proto/chainsim.proto).
constexpr size_t kMaxAddress = 90;
constexpr size_t kMaxContract = 42;
constexpr size_t kMaxRawTransaction = 400'000;
constexpr size_t kMaxWatchPerRequest = 10'000;
constexpr size_t kMaxEndpoint = 256;
constexpr size_t kMaxAmountText = 39;
// The largest answer accepted: 10,000 transfers of well under 300 bytes each fit easily.
constexpr int kMaxAnswerBytes = 8 << 20;
// How much of a node's error message is quoted.
constexpr size_t kNodeMessageClip = 200;

bool IsHash(const std::string& s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

ChainsimAdapter::ChainsimAdapter(std::string chain, bool ethereum, std::shared_ptr<grpc::Channel> channel,
                                 ChainsimAdapterOptions options)
    : chain_(std::move(chain)),
      ethereum_(ethereum),
      options_(options),
      stub_(v1::Node::NewStub(std::move(channel))) {}

absl::StatusOr<std::unique_ptr<ChainsimAdapter>> ChainsimAdapter::Create(const std::string& chain,
                                                                         const std::string& endpoint,
                                                                         ChainsimAdapterOptions options) {
  if (endpoint.empty() || endpoint.size() > kMaxEndpoint) {
    return absl::InvalidArgumentError(Cat("endpoint: ", endpoint.size(), " bytes, 1..", kMaxEndpoint, " allowed"));
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxAnswerBytes);
  return Create(chain, grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args), options);
}

absl::StatusOr<std::unique_ptr<ChainsimAdapter>> ChainsimAdapter::Create(const std::string& chain,
                                                                         std::shared_ptr<grpc::Channel> channel,
                                                                         ChainsimAdapterOptions options) {
  if (chain != "bitcoin" && chain != "ethereum") {
    return absl::InvalidArgumentError(Cat("chain: ", base::Clip(chain), " is not \"bitcoin\" or \"ethereum\""));
  }
  if (options.watch_chunk < 1 || options.watch_chunk > kMaxWatchPerRequest) {
    return absl::InvalidArgumentError(Cat("watch_chunk: ", options.watch_chunk, " is outside 1..", kMaxWatchPerRequest));
  }
  if (channel == nullptr) return absl::InvalidArgumentError("channel: null");
  return std::unique_ptr<ChainsimAdapter>(new ChainsimAdapter(chain, chain == "ethereum", std::move(channel), options));
}

std::unique_ptr<grpc::ClientContext> ChainsimAdapter::Context() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + options_.deadline);
  return context;
}

absl::Status ChainsimAdapter::FromGrpc(const grpc::Status& status, std::string_view call) const {
  const std::string message =
      Cat("chainsim ", chain_, " ", call, ": ", base::Clip(status.error_message(), kNodeMessageClip));
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::UnavailableError(message);
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()), message);
    default:
      // Anything else (INTERNAL, UNKNOWN, ...) is the node's failure, not a verdict on our
      // request.
      return absl::UnavailableError(message);
  }
}

absl::Status ChainsimAdapter::Malformed(std::string_view what) const {
  return absl::DataLossError(Cat("chainsim ", chain_, ": malformed answer: ", what));
}

absl::Status ChainsimAdapter::CheckRef(const v1::BlockRef& ref, std::string_view call) const {
  if (!IsHash(ref.hash())) return Malformed(Cat(call, " block hash ", base::Clip(ref.hash()), " is not 64 lowercase hex digits"));
  if (!IsHash(ref.parent_hash())) {
    return Malformed(Cat(call, " parent hash ", base::Clip(ref.parent_hash()), " is not 64 lowercase hex digits"));
  }
  if (ref.hash() == ref.parent_hash()) return Malformed(Cat(call, " block ", ref.height(), " is its own parent"));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ChainsimAdapter::Canonical(const std::string& address, std::string_view field) const {
  if (address.size() > kMaxAddress) {
    return absl::InvalidArgumentError(Cat(field, ": ", address.size(), " bytes, at most ", kMaxAddress));
  }
  if (ethereum_) {
    absl::StatusOr<ringfence::chain::EthAddress> parsed = ringfence::chain::ParseEthAddress(address);
    if (!parsed.ok()) return absl::InvalidArgumentError(Cat(field, ": ", parsed.status().message()));
    return ringfence::chain::EthChecksumAddress(*parsed);
  }
  absl::StatusOr<ringfence::chain::SegwitAddress> parsed = ringfence::chain::DecodeSegwitAddress(address);
  if (!parsed.ok()) return absl::InvalidArgumentError(Cat(field, ": ", parsed.status().message()));
  absl::StatusOr<std::string> encoded = ringfence::chain::EncodeSegwitAddress(*parsed);
  if (!encoded.ok()) return absl::InvalidArgumentError(Cat(field, ": ", encoded.status().message()));
  return encoded;
}

absl::StatusOr<BlockRef> ChainsimAdapter::Tip() {
  v1::GetTipRequest req;
  req.set_chain(chain_);
  v1::GetTipResponse resp;
  auto context = Context();
  if (grpc::Status s = stub_->GetTip(context.get(), req, &resp); !s.ok()) return FromGrpc(s, "GetTip");
  if (!resp.has_tip()) return Malformed("GetTip without a tip");
  RF_RETURN_IF_ERROR(CheckRef(resp.tip(), "GetTip"));
  return BlockRef{resp.tip().height(), resp.tip().hash(), resp.tip().parent_hash()};
}

absl::StatusOr<Block> ChainsimAdapter::GetBlock(uint64_t height, std::span<const std::string> watched) {
  // Each address once: asked twice (in two requests), it would rightly be answered twice.
  std::vector<std::string> canonical;
  std::unordered_set<std::string> unique;
  canonical.reserve(watched.size());
  for (size_t i = 0; i < watched.size(); ++i) {
    RF_ASSIGN_OR_RETURN(std::string c, Canonical(watched[i], Cat("watched[", i, "]")));
    if (unique.insert(c).second) canonical.push_back(std::move(c));
  }
  Block block;
  std::set<std::tuple<std::string, uint32_t, std::string>> seen;
  size_t next = 0;
  bool first = true;
  // One request even for an empty watch set: the block's identity is needed either way.
  while (first || next < canonical.size()) {
    const size_t end = std::min(canonical.size(), next + options_.watch_chunk);
    v1::GetBlockRequest req;
    req.set_chain(chain_);
    req.set_height(height);
    std::unordered_set<std::string> asked;
    for (size_t i = next; i < end; ++i) {
      req.add_watched_addresses(canonical[i]);
      asked.insert(canonical[i]);
    }
    v1::GetBlockResponse resp;
    auto context = Context();
    if (grpc::Status s = stub_->GetBlock(context.get(), req, &resp); !s.ok()) return FromGrpc(s, "GetBlock");
    if (!resp.has_block()) return Malformed("GetBlock without a block");
    RF_RETURN_IF_ERROR(CheckRef(resp.block(), "GetBlock"));
    if (resp.block().height() != height) {
      return Malformed(Cat("GetBlock for height ", height, " answered height ", resp.block().height()));
    }
    if (first) {
      block.ref = BlockRef{height, resp.block().hash(), resp.block().parent_hash()};
    } else if (resp.block().hash() != block.ref.hash || resp.block().parent_hash() != block.ref.parent_hash) {
      return absl::AbortedError(Cat("chainsim ", chain_, ": block ", height, " changed while its transfers were read; ask again"));
    }
    for (int i = 0; i < resp.transfers_size(); ++i) {
      const v1::Transfer& t = resp.transfers(i);
      const std::string where = Cat("GetBlock ", height, " transfer ", i, ": ");
      if (!IsHash(t.txid())) return Malformed(Cat(where, "txid ", base::Clip(t.txid()), " is not 64 lowercase hex digits"));
      if (!asked.contains(t.to_address())) {
        return Malformed(Cat(where, "address ", base::Clip(t.to_address()), " is not one that was asked about"));
      }
      if (!t.token_contract().empty()) {
        if (!ethereum_) return Malformed(Cat(where, "a token contract on bitcoin"));
        absl::StatusOr<ringfence::chain::EthAddress> contract =
            t.token_contract().size() <= kMaxContract ? ringfence::chain::ParseEthAddress(t.token_contract())
                                                      : absl::InvalidArgumentError("too long");
        if (!contract.ok() || ringfence::chain::EthChecksumAddress(*contract) != t.token_contract()) {
          return Malformed(Cat(where, "token contract ", base::Clip(t.token_contract()), " is not an EIP-55 address"));
        }
      }
      if (t.amount().size() > kMaxAmountText) return Malformed(Cat(where, "amount ", base::Clip(t.amount()), " is too long"));
      absl::StatusOr<base::Amount> amount = base::ParseBaseUnits(t.amount());
      if (!amount.ok()) return Malformed(Cat(where, amount.status().message()));
      if (!seen.emplace(t.txid(), t.index(), t.token_contract()).second) {
        return Malformed(Cat(where, "transfer ", t.txid(), ":", t.index(), " appears twice"));
      }
      block.transfers.push_back(Transfer{t.txid(), t.index(), t.to_address(), t.token_contract(), *amount});
    }
    first = false;
    next = end;
  }
  return block;
}

absl::StatusOr<base::Amount> ChainsimAdapter::BalanceAt(const std::string& address, const std::string& token_contract,
                                                        uint64_t height) {
  RF_ASSIGN_OR_RETURN(std::string canonical, Canonical(address, "address"));
  if (token_contract.size() > kMaxContract) {
    return absl::InvalidArgumentError(Cat("token_contract: ", token_contract.size(), " bytes, at most ", kMaxContract));
  }
  v1::GetBalanceRequest req;
  req.set_chain(chain_);
  req.set_address(canonical);
  req.set_token_contract(token_contract);
  req.set_height(height);
  v1::GetBalanceResponse resp;
  auto context = Context();
  if (grpc::Status s = stub_->GetBalance(context.get(), req, &resp); !s.ok()) return FromGrpc(s, "GetBalance");
  if (resp.height() != height) {
    return Malformed(Cat("GetBalance at height ", height, " answered height ", resp.height()));
  }
  if (resp.amount().size() > kMaxAmountText) return Malformed(Cat("GetBalance amount ", base::Clip(resp.amount()), " is too long"));
  absl::StatusOr<base::Amount> amount = base::ParseBaseUnits(resp.amount());
  if (!amount.ok()) return Malformed(Cat("GetBalance: ", amount.status().message()));
  return *amount;
}

absl::StatusOr<std::string> ChainsimAdapter::Broadcast(std::span<const uint8_t> signed_tx) {
  if (signed_tx.empty() || signed_tx.size() > kMaxRawTransaction) {
    return absl::InvalidArgumentError(
        Cat("signed_tx: ", signed_tx.size(), " bytes, 1..", kMaxRawTransaction, " allowed"));
  }
  // The txid the answer must carry, computed from our own bytes.
  std::string expected;
  if (ethereum_) {
    expected = base::HexEncode(ringfence::chain::EthTxHash(signed_tx));
  } else {
    absl::StatusOr<ringfence::chain::Transaction> tx = ringfence::chain::ParseTransaction(signed_tx);
    if (!tx.ok()) return absl::InvalidArgumentError(Cat("signed_tx: ", tx.status().message()));
    expected = ringfence::chain::DisplayHex(ringfence::chain::Txid(*tx));
  }
  v1::BroadcastRequest req;
  req.set_chain(chain_);
  req.set_raw_transaction(std::string(reinterpret_cast<const char*>(signed_tx.data()), signed_tx.size()));
  v1::BroadcastResponse resp;
  auto context = Context();
  if (grpc::Status s = stub_->Broadcast(context.get(), req, &resp); !s.ok()) return FromGrpc(s, "Broadcast");
  if (resp.txid() != expected) {
    return Malformed(Cat("Broadcast answered txid ", base::Clip(resp.txid(), 64), ", the transaction's is ", expected));
  }
  return expected;
}

}  // namespace ringfence::custody::chain

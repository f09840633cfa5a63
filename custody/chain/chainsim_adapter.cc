#include "custody/chain/chainsim_adapter.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <set>
#include <tuple>
#include <unordered_map>
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
constexpr size_t kMaxUnspentAddresses = 1'000;
constexpr int kMaxUnspentOutputs = 5'000;
constexpr size_t kMaxScriptPubKey = 42;
// Fee advice beyond these is not advice but an attack on the fee cap's headroom.
constexpr uint64_t kMaxSatPerVbyte = 1'000'000;
constexpr uint64_t kMaxWeiPerGas = 1'000'000'000'000'000ULL;
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

absl::StatusOr<base::Amount> ChainsimAdapter::AmountAnswer(std::string_view where, const std::string& text) const {
  if (text.size() > kMaxAmountText) return Malformed(Cat(where, "amount ", base::Clip(text), " is too long"));
  absl::StatusOr<base::Amount> amount = base::ParseBaseUnits(text);
  if (!amount.ok()) return Malformed(Cat(where, amount.status().message()));
  return amount;
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
      RF_ASSIGN_OR_RETURN(base::Amount amount, AmountAnswer(where, t.amount()));
      if (!seen.emplace(t.txid(), t.index(), t.token_contract()).second) {
        return Malformed(Cat(where, "transfer ", t.txid(), ":", t.index(), " appears twice"));
      }
      block.transfers.push_back(Transfer{t.txid(), t.index(), t.to_address(), t.token_contract(), amount});
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
  return AmountAnswer("GetBalance: ", resp.amount());
}

absl::StatusOr<std::vector<base::Amount>> ChainsimAdapter::BalancesAt(std::span<const std::string> addresses,
                                                                      const std::string& token_contract,
                                                                      uint64_t height) {
  if (token_contract.size() > kMaxContract) {
    return absl::InvalidArgumentError(Cat("token_contract: ", token_contract.size(), " bytes, at most ", kMaxContract));
  }
  // Each distinct address is asked about once; `slot[i]` is where addresses[i]'s answer is.
  std::vector<std::string> distinct;
  std::vector<size_t> slot(addresses.size());
  {
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < addresses.size(); ++i) {
      RF_ASSIGN_OR_RETURN(std::string c, Canonical(addresses[i], Cat("addresses[", i, "]")));
      auto [it, fresh] = index.emplace(std::move(c), distinct.size());
      if (fresh) distinct.push_back(it->first);
      slot[i] = it->second;
    }
  }
  std::vector<base::Amount> balances;
  balances.reserve(distinct.size());
  for (size_t first = 0; first < distinct.size(); first += kBalanceChunk) {
    const size_t end = std::min(distinct.size(), first + kBalanceChunk);
    v1::GetBalancesRequest req;
    req.set_chain(chain_);
    for (size_t i = first; i < end; ++i) req.add_addresses(distinct[i]);
    req.set_token_contract(token_contract);
    req.set_height(height);
    v1::GetBalancesResponse resp;
    auto context = Context();
    if (grpc::Status s = stub_->GetBalances(context.get(), req, &resp); !s.ok()) return FromGrpc(s, "GetBalances");
    if (resp.height() != height) {
      return Malformed(Cat("GetBalances at height ", height, " answered height ", resp.height()));
    }
    if (static_cast<size_t>(resp.amounts_size()) != end - first) {
      return Malformed(Cat("GetBalances answered ", resp.amounts_size(), " amounts for ", end - first, " addresses"));
    }
    for (int i = 0; i < resp.amounts_size(); ++i) {
      RF_ASSIGN_OR_RETURN(base::Amount amount, AmountAnswer(Cat("GetBalances amount ", i, ": "), resp.amounts(i)));
      balances.push_back(amount);
    }
  }
  std::vector<base::Amount> out;
  out.reserve(addresses.size());
  for (size_t s : slot) out.push_back(balances[s]);
  return out;
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

absl::StatusOr<UnspentSet> ChainsimAdapter::ListUnspent(std::span<const std::string> addresses) {
  if (ethereum_) return absl::InvalidArgumentError("ListUnspent: ethereum is an account chain");
  if (addresses.empty() || addresses.size() > kMaxUnspentAddresses) {
    return absl::InvalidArgumentError(Cat("addresses: ", addresses.size(), " entries, 1..", kMaxUnspentAddresses, " allowed"));
  }
  v1::ListUnspentRequest req;
  req.set_chain(chain_);
  std::unordered_set<std::string> asked;
  for (size_t i = 0; i < addresses.size(); ++i) {
    RF_ASSIGN_OR_RETURN(std::string c, Canonical(addresses[i], Cat("addresses[", i, "]")));
    if (asked.insert(c).second) req.add_addresses(c);
  }
  v1::ListUnspentResponse resp;
  auto context = Context();
  if (grpc::Status s = stub_->ListUnspent(context.get(), req, &resp); !s.ok()) return FromGrpc(s, "ListUnspent");
  if (!resp.has_tip()) return Malformed("ListUnspent without a tip");
  RF_RETURN_IF_ERROR(CheckRef(resp.tip(), "ListUnspent"));
  if (resp.outputs_size() > kMaxUnspentOutputs) {
    return Malformed(Cat("ListUnspent answered ", resp.outputs_size(), " outputs, at most ", kMaxUnspentOutputs));
  }
  UnspentSet out;
  out.tip = BlockRef{resp.tip().height(), resp.tip().hash(), resp.tip().parent_hash()};
  out.truncated = resp.truncated();
  std::set<std::pair<std::string, uint32_t>> seen;
  out.outputs.reserve(resp.outputs_size());
  for (int i = 0; i < resp.outputs_size(); ++i) {
    const v1::UnspentOutput& o = resp.outputs(i);
    const std::string where = Cat("ListUnspent output ", i, ": ");
    if (!IsHash(o.txid())) return Malformed(Cat(where, "txid ", base::Clip(o.txid()), " is not 64 lowercase hex digits"));
    if (!asked.contains(o.address())) {
      return Malformed(Cat(where, "address ", base::Clip(o.address()), " is not one that was asked about"));
    }
    RF_ASSIGN_OR_RETURN(base::Amount amount, AmountAnswer(where, o.amount()));
    if (amount.is_zero() || amount.base_units() > ringfence::chain::kMaxMoney) {
      return Malformed(Cat(where, "amount ", o.amount(), " is outside 1..21,000,000 BTC"));
    }
    if (o.height() > out.tip.height) {
      return Malformed(Cat(where, "height ", o.height(), " is above the tip ", out.tip.height));
    }
    if (o.script_pubkey().size() > kMaxScriptPubKey) {
      return Malformed(Cat(where, "script_pubkey of ", o.script_pubkey().size(), " bytes"));
    }
    absl::StatusOr<std::vector<uint8_t>> script = ringfence::chain::ScriptPubKeyForAddress(o.address());
    if (!script.ok() || std::string(script->begin(), script->end()) != o.script_pubkey()) {
      return Malformed(Cat(where, "script_pubkey is not the one of ", o.address()));
    }
    if (!seen.emplace(o.txid(), o.vout()).second) return Malformed(Cat(where, o.txid(), ":", o.vout(), " appears twice"));
    const uint64_t value = static_cast<uint64_t>(amount.base_units());
    if (!out.outputs.empty() && value > out.outputs.back().amount) return Malformed(Cat(where, "not largest first"));
    out.outputs.push_back(Utxo{o.txid(), o.vout(), o.address(), value, o.height(), *std::move(script)});
  }
  return out;
}

absl::StatusOr<AccountNonce> ChainsimAdapter::Nonce(const std::string& address) {
  if (!ethereum_) return absl::InvalidArgumentError("Nonce: bitcoin has no account nonces");
  RF_ASSIGN_OR_RETURN(std::string canonical, Canonical(address, "address"));
  v1::GetNonceRequest req;
  req.set_chain(chain_);
  req.set_address(canonical);
  v1::GetNonceResponse resp;
  auto context = Context();
  if (grpc::Status s = stub_->GetNonce(context.get(), req, &resp); !s.ok()) return FromGrpc(s, "GetNonce");
  if (resp.pending_nonce() < resp.confirmed_nonce()) {
    return Malformed(Cat("GetNonce pending nonce ", resp.pending_nonce(), " is below the confirmed ", resp.confirmed_nonce()));
  }
  return AccountNonce{resp.confirmed_nonce(), resp.pending_nonce()};
}

absl::StatusOr<FeeEstimate> ChainsimAdapter::EstimateFee() {
  v1::GetFeeEstimateRequest req;
  req.set_chain(chain_);
  v1::GetFeeEstimateResponse resp;
  auto context = Context();
  if (grpc::Status s = stub_->GetFeeEstimate(context.get(), req, &resp); !s.ok()) return FromGrpc(s, "GetFeeEstimate");
  auto field = [&](std::string_view name, const std::string& text, uint64_t max) -> absl::StatusOr<base::Amount> {
    RF_ASSIGN_OR_RETURN(base::Amount amount, AmountAnswer(Cat("GetFeeEstimate ", name, ": "), text));
    if (amount.base_units() > max) return Malformed(Cat("GetFeeEstimate ", name, " ", text, " is above ", max));
    return amount;
  };
  FeeEstimate out;
  RF_ASSIGN_OR_RETURN(out.sat_per_vbyte, field("sat_per_vbyte", resp.sat_per_vbyte(), kMaxSatPerVbyte));
  RF_ASSIGN_OR_RETURN(out.base_fee_per_gas, field("base_fee_per_gas", resp.base_fee_per_gas(), kMaxWeiPerGas));
  RF_ASSIGN_OR_RETURN(out.max_priority_fee_per_gas,
                      field("max_priority_fee_per_gas", resp.max_priority_fee_per_gas(), kMaxWeiPerGas));
  if (!ethereum_ && out.sat_per_vbyte.is_zero()) return Malformed("GetFeeEstimate sat_per_vbyte is zero on bitcoin");
  if (ethereum_ && out.base_fee_per_gas.is_zero() && out.max_priority_fee_per_gas.is_zero()) {
    return Malformed("GetFeeEstimate advises no fee at all on ethereum");
  }
  return out;
}

absl::StatusOr<TxStatus> ChainsimAdapter::GetTransaction(const std::string& txid) {
  if (!IsHash(txid)) return absl::InvalidArgumentError(Cat("txid: ", base::Clip(txid), " is not 64 lowercase hex digits"));
  v1::GetTransactionRequest req;
  req.set_chain(chain_);
  req.set_txid(txid);
  v1::GetTransactionResponse resp;
  auto context = Context();
  if (grpc::Status s = stub_->GetTransaction(context.get(), req, &resp); !s.ok()) return FromGrpc(s, "GetTransaction");
  if (!resp.has_tip()) return Malformed("GetTransaction without a tip");
  RF_RETURN_IF_ERROR(CheckRef(resp.tip(), "GetTransaction"));
  TxStatus out;
  out.tip = BlockRef{resp.tip().height(), resp.tip().hash(), resp.tip().parent_hash()};
  switch (resp.state()) {
    case v1::GetTransactionResponse::STATE_UNKNOWN:
      out.state = TxState::kUnknown;
      break;
    case v1::GetTransactionResponse::STATE_MEMPOOL:
      out.state = TxState::kMempool;
      break;
    case v1::GetTransactionResponse::STATE_CONFIRMED:
      out.state = TxState::kConfirmed;
      if (resp.height() < 1 || resp.height() > out.tip.height) {
        return Malformed(Cat("GetTransaction height ", resp.height(), " is outside 1..", out.tip.height));
      }
      if (!IsHash(resp.block_hash())) {
        return Malformed(Cat("GetTransaction block hash ", base::Clip(resp.block_hash()), " is not 64 lowercase hex digits"));
      }
      if (resp.confirmations() != out.tip.height - resp.height() + 1) {
        return Malformed(Cat("GetTransaction confirmations ", resp.confirmations(), " disagree with height ", resp.height(),
                             " and tip ", out.tip.height));
      }
      if (resp.height() == out.tip.height && resp.block_hash() != out.tip.hash) {
        return Malformed("GetTransaction block hash is not the tip's at the tip height");
      }
      out.height = resp.height();
      out.block_hash = resp.block_hash();
      out.confirmations = resp.confirmations();
      break;
    default:
      return Malformed(Cat("GetTransaction state ", static_cast<int>(resp.state()), " is unknown"));
  }
  return out;
}

}  // namespace ringfence::custody::chain

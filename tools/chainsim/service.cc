#include "tools/chainsim/service.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <exception>
#include <unordered_set>

#include "base/amount.h"
#include "base/status.h"
#include "base/text.h"
#include "chain/bitcoin_tx.h"

namespace ringfence::chainsim {
namespace {

using base::Cat;

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

// Runs a handler body; no exception crosses the gRPC boundary.
template <typename Body>
grpc::Status Handle(Body body) {
  try {
    return ToGrpc(body());
  } catch (const std::exception& e) {
    return grpc::Status(grpc::StatusCode::INTERNAL, Cat("chainsim: ", base::Clip(e.what(), 200)));
  } catch (...) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "chainsim: unexpected exception");
  }
}

absl::Status CheckSize(std::string_view field, size_t size, size_t max) {
  if (size <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(Cat(field, ": ", size, " bytes, at most ", max, " allowed"));
}

absl::StatusOr<ChainId> ChainField(const std::string& chain) {
  RF_RETURN_IF_ERROR(CheckSize("chain", chain.size(), kMaxChainField));
  return ParseChainName(chain);
}

absl::StatusOr<base::Amount> AmountField(std::string_view field, const std::string& text) {
  RF_RETURN_IF_ERROR(CheckSize(field, text.size(), kMaxAmountField));
  absl::StatusOr<base::Amount> amount = base::ParseBaseUnits(text);
  if (!amount.ok()) return absl::InvalidArgumentError(Cat(field, ": ", amount.status().message()));
  return amount;
}

void ToProto(const BlockInfo& info, v1::BlockRef* out) {
  out->set_height(info.height);
  out->set_hash(info.hash);
  out->set_parent_hash(info.parent_hash);
}

// A credit request's fields, sizes checked; `prefix` names it within a batch ("credits[3].").
absl::StatusOr<CreditSpec> CreditFields(const v1::CreditRequest& req, const std::string& prefix) {
  CreditSpec spec;
  absl::StatusOr<ChainId> chain = ChainField(req.chain());
  if (!chain.ok()) return absl::InvalidArgumentError(Cat(prefix, chain.status().message()));
  spec.chain = *chain;
  RF_RETURN_IF_ERROR(CheckSize(Cat(prefix, "address"), req.address().size(), kMaxAddressField));
  RF_RETURN_IF_ERROR(CheckSize(Cat(prefix, "token_contract"), req.token_contract().size(), kMaxContractField));
  RF_ASSIGN_OR_RETURN(spec.amount, AmountField(Cat(prefix, "amount"), req.amount()));
  spec.address = req.address();
  spec.token_contract = req.token_contract();
  return spec;
}

absl::Status Prefixed(const std::string& prefix, const absl::Status& s) {
  if (prefix.empty()) return s;
  return absl::Status(s.code(), Cat(prefix, s.message()));
}

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

grpc::Status NodeService::GetTip(grpc::ServerContext*, const v1::GetTipRequest* req, v1::GetTipResponse* resp) {
  return Handle([&]() -> absl::Status {
    RF_ASSIGN_OR_RETURN(ChainId chain, ChainField(req->chain()));
    ToProto(sim_->Tip(chain), resp->mutable_tip());
    return absl::OkStatus();
  });
}

grpc::Status NodeService::GetBlock(grpc::ServerContext*, const v1::GetBlockRequest* req,
                                   v1::GetBlockResponse* resp) {
  return Handle([&]() -> absl::Status {
    RF_ASSIGN_OR_RETURN(ChainId chain, ChainField(req->chain()));
    if (req->watched_addresses_size() > static_cast<int>(kMaxWatchedAddresses)) {
      return absl::InvalidArgumentError(Cat("watched_addresses: ", req->watched_addresses_size(),
                                            " entries, at most ", kMaxWatchedAddresses, " allowed"));
    }
    for (int i = 0; i < req->watched_addresses_size(); ++i) {
      RF_RETURN_IF_ERROR(CheckSize(Cat("watched_addresses[", i, "]"), req->watched_addresses(i).size(), kMaxAddressField));
    }
    std::unordered_set<std::string> watched;
    for (int i = 0; i < req->watched_addresses_size(); ++i) {
      RF_ASSIGN_OR_RETURN(std::string canonical,
                          CanonicalAddress(chain, req->watched_addresses(i), Cat("watched_addresses[", i, "]")));
      watched.insert(std::move(canonical));
    }
    RF_ASSIGN_OR_RETURN(BlockView view, sim_->GetBlock(chain, req->height(), watched));
    ToProto(view.ref, resp->mutable_block());
    resp->set_transaction_count(view.transaction_count);
    for (const TransferInfo& t : view.transfers) {
      v1::Transfer* out = resp->add_transfers();
      out->set_txid(t.txid);
      out->set_index(t.payment.index);
      out->set_to_address(t.payment.to_address);
      out->set_token_contract(t.payment.token_contract);
      out->set_amount(t.payment.amount.ToBaseUnitString());
    }
    return absl::OkStatus();
  });
}

grpc::Status NodeService::GetBalance(grpc::ServerContext*, const v1::GetBalanceRequest* req,
                                     v1::GetBalanceResponse* resp) {
  return Handle([&]() -> absl::Status {
    RF_ASSIGN_OR_RETURN(ChainId chain, ChainField(req->chain()));
    RF_RETURN_IF_ERROR(CheckSize("address", req->address().size(), kMaxAddressField));
    RF_RETURN_IF_ERROR(CheckSize("token_contract", req->token_contract().size(), kMaxContractField));
    RF_ASSIGN_OR_RETURN(base::Amount amount,
                        sim_->Balance(chain, req->address(), req->token_contract(), req->height()));
    resp->set_amount(amount.ToBaseUnitString());
    resp->set_height(req->height());
    return absl::OkStatus();
  });
}

grpc::Status NodeService::GetBalances(grpc::ServerContext*, const v1::GetBalancesRequest* req,
                                      v1::GetBalancesResponse* resp) {
  return Handle([&]() -> absl::Status {
    RF_ASSIGN_OR_RETURN(ChainId chain, ChainField(req->chain()));
    if (req->addresses_size() < 1 || req->addresses_size() > static_cast<int>(kMaxBalanceAddresses)) {
      return absl::InvalidArgumentError(
          Cat("addresses: ", req->addresses_size(), " entries, 1..", kMaxBalanceAddresses, " allowed"));
    }
    for (int i = 0; i < req->addresses_size(); ++i) {
      RF_RETURN_IF_ERROR(CheckSize(Cat("addresses[", i, "]"), req->addresses(i).size(), kMaxAddressField));
    }
    RF_RETURN_IF_ERROR(CheckSize("token_contract", req->token_contract().size(), kMaxContractField));
    const std::vector<std::string> addresses(req->addresses().begin(), req->addresses().end());
    RF_ASSIGN_OR_RETURN(std::vector<base::Amount> amounts,
                        sim_->Balances(chain, addresses, req->token_contract(), req->height()));
    for (const base::Amount& amount : amounts) resp->add_amounts(amount.ToBaseUnitString());
    resp->set_height(req->height());
    return absl::OkStatus();
  });
}

grpc::Status NodeService::Broadcast(grpc::ServerContext*, const v1::BroadcastRequest* req,
                                    v1::BroadcastResponse* resp) {
  return Handle([&]() -> absl::Status {
    RF_ASSIGN_OR_RETURN(ChainId chain, ChainField(req->chain()));
    RF_RETURN_IF_ERROR(CheckSize("raw_transaction", req->raw_transaction().size(), kMaxRawTransaction));
    if (req->raw_transaction().empty()) return absl::InvalidArgumentError("raw_transaction: empty");
    const std::string& raw = req->raw_transaction();
    RF_ASSIGN_OR_RETURN(
        BroadcastResult result,
        sim_->Broadcast(chain, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(raw.data()), raw.size())));
    resp->set_txid(result.txid);
    resp->set_already_known(result.already_known);
    return absl::OkStatus();
  });
}

grpc::Status NodeService::GetNonce(grpc::ServerContext*, const v1::GetNonceRequest* req, v1::GetNonceResponse* resp) {
  return Handle([&]() -> absl::Status {
    RF_ASSIGN_OR_RETURN(ChainId chain, ChainField(req->chain()));
    RF_RETURN_IF_ERROR(CheckSize("address", req->address().size(), kMaxAddressField));
    RF_ASSIGN_OR_RETURN(Nonces nonces, sim_->Nonce(chain, req->address()));
    resp->set_confirmed_nonce(nonces.confirmed);
    resp->set_pending_nonce(nonces.pending);
    return absl::OkStatus();
  });
}

grpc::Status NodeService::ListUnspent(grpc::ServerContext*, const v1::ListUnspentRequest* req,
                                      v1::ListUnspentResponse* resp) {
  return Handle([&]() -> absl::Status {
    RF_ASSIGN_OR_RETURN(ChainId chain, ChainField(req->chain()));
    if (req->addresses_size() < 1 || req->addresses_size() > static_cast<int>(kMaxUnspentAddresses)) {
      return absl::InvalidArgumentError(
          Cat("addresses: ", req->addresses_size(), " entries, 1..", kMaxUnspentAddresses, " allowed"));
    }
    for (int i = 0; i < req->addresses_size(); ++i) {
      RF_RETURN_IF_ERROR(CheckSize(Cat("addresses[", i, "]"), req->addresses(i).size(), kMaxAddressField));
    }
    std::vector<std::string> addresses(req->addresses().begin(), req->addresses().end());
    RF_ASSIGN_OR_RETURN(UnspentView view, sim_->ListUnspent(chain, addresses));
    ToProto(view.tip, resp->mutable_tip());
    resp->set_truncated(view.truncated);
    for (const UnspentCoin& coin : view.outputs) {
      v1::UnspentOutput* out = resp->add_outputs();
      out->set_txid(chain::DisplayHex(coin.txid));
      out->set_vout(coin.vout);
      out->set_address(coin.address);
      out->set_amount(base::Amount(coin.value).ToBaseUnitString());
      out->set_height(coin.height);
      out->set_script_pubkey(std::string(coin.script_pubkey.begin(), coin.script_pubkey.end()));
    }
    return absl::OkStatus();
  });
}

grpc::Status NodeService::GetFeeEstimate(grpc::ServerContext*, const v1::GetFeeEstimateRequest* req,
                                         v1::GetFeeEstimateResponse* resp) {
  return Handle([&]() -> absl::Status {
    RF_ASSIGN_OR_RETURN(ChainId chain, ChainField(req->chain()));
    const FeeAdvice advice = sim_->FeeEstimate(chain);
    resp->set_sat_per_vbyte(advice.sat_per_vbyte.ToBaseUnitString());
    resp->set_base_fee_per_gas(advice.base_fee_per_gas.ToBaseUnitString());
    resp->set_max_priority_fee_per_gas(advice.max_priority_fee_per_gas.ToBaseUnitString());
    return absl::OkStatus();
  });
}

grpc::Status NodeService::GetTransaction(grpc::ServerContext*, const v1::GetTransactionRequest* req,
                                         v1::GetTransactionResponse* resp) {
  return Handle([&]() -> absl::Status {
    RF_ASSIGN_OR_RETURN(ChainId chain, ChainField(req->chain()));
    RF_RETURN_IF_ERROR(CheckSize("txid", req->txid().size(), kTxidField));
    RF_ASSIGN_OR_RETURN(TxLocation where, sim_->FindTransaction(chain, req->txid()));
    ToProto(where.tip, resp->mutable_tip());
    switch (where.state) {
      case TxState::kUnknown:
        resp->set_state(v1::GetTransactionResponse::STATE_UNKNOWN);
        break;
      case TxState::kMempool:
        resp->set_state(v1::GetTransactionResponse::STATE_MEMPOOL);
        break;
      case TxState::kConfirmed:
        resp->set_state(v1::GetTransactionResponse::STATE_CONFIRMED);
        resp->set_height(where.height);
        resp->set_block_hash(where.block_hash);
        resp->set_confirmations(where.tip.height - where.height + 1);
        break;
    }
    return absl::OkStatus();
  });
}

grpc::Status ControlService::GetBroadcastCount(grpc::ServerContext*, const v1::GetBroadcastCountRequest* req,
                                               v1::GetBroadcastCountResponse* resp) {
  return Handle([&]() -> absl::Status {
    RF_ASSIGN_OR_RETURN(ChainId chain, ChainField(req->chain()));
    RF_RETURN_IF_ERROR(CheckSize("txid", req->txid().size(), kTxidField));
    if (!req->txid().empty() && (req->txid().size() != kTxidField || !IsLowerHex(req->txid()))) {
      return absl::InvalidArgumentError(Cat("txid: ", base::Clip(req->txid(), 64), " is not 64 lowercase hex digits"));
    }
    const BroadcastCount count = sim_->BroadcastCounts(chain, req->txid());
    resp->set_received(count.received);
    resp->set_accepted(count.accepted);
    return absl::OkStatus();
  });
}

grpc::Status ControlService::Credit(grpc::ServerContext*, const v1::CreditRequest* req, v1::CreditResponse* resp) {
  return Handle([&]() -> absl::Status {
    RF_ASSIGN_OR_RETURN(CreditSpec spec, CreditFields(*req, ""));
    RF_ASSIGN_OR_RETURN(std::vector<std::string> txids, sim_->Credit(std::span<const CreditSpec>(&spec, 1)));
    resp->set_txid(txids.front());
    return absl::OkStatus();
  });
}

grpc::Status ControlService::CreditBatch(grpc::ServerContext*, const v1::CreditBatchRequest* req,
                                         v1::CreditBatchResponse* resp) {
  return Handle([&]() -> absl::Status {
    if (req->credits_size() < 1 || req->credits_size() > static_cast<int>(kMaxCreditBatch)) {
      return absl::InvalidArgumentError(
          Cat("credits: ", req->credits_size(), " entries, 1..", kMaxCreditBatch, " allowed"));
    }
    std::vector<CreditSpec> specs;
    specs.reserve(req->credits_size());
    for (int i = 0; i < req->credits_size(); ++i) {
      RF_ASSIGN_OR_RETURN(CreditSpec spec, CreditFields(req->credits(i), Cat("credits[", i, "].")));
      specs.push_back(std::move(spec));
    }
    size_t failed = 0;
    absl::StatusOr<std::vector<std::string>> txids = sim_->Credit(specs, &failed);
    if (!txids.ok()) {
      if (absl::IsInternal(txids.status())) return txids.status();
      return Prefixed(Cat("credits[", failed, "]."), txids.status());
    }
    for (std::string& txid : *txids) resp->add_txids(std::move(txid));
    return absl::OkStatus();
  });
}

grpc::Status ControlService::Mine(grpc::ServerContext*, const v1::MineRequest* req, v1::MineResponse* resp) {
  return Handle([&]() -> absl::Status {
    RF_ASSIGN_OR_RETURN(ChainId chain, ChainField(req->chain()));
    RF_ASSIGN_OR_RETURN(BlockInfo tip, sim_->Mine(chain, req->blocks()));
    ToProto(tip, resp->mutable_tip());
    return absl::OkStatus();
  });
}

grpc::Status ControlService::Reorg(grpc::ServerContext*, const v1::ReorgRequest* req, v1::ReorgResponse* resp) {
  return Handle([&]() -> absl::Status {
    RF_ASSIGN_OR_RETURN(ChainId chain, ChainField(req->chain()));
    RF_ASSIGN_OR_RETURN(ChainChange change, sim_->Reorg(chain, req->depth(), req->keep_transactions()));
    ToProto(change.tip, resp->mutable_tip());
    for (std::string& txid : change.evicted_txids) resp->add_evicted_txids(std::move(txid));
    return absl::OkStatus();
  });
}

grpc::Status ControlService::DropBroadcast(grpc::ServerContext*, const v1::DropBroadcastRequest* req,
                                           v1::DropBroadcastResponse* resp) {
  return Handle([&]() -> absl::Status {
    RF_ASSIGN_OR_RETURN(ChainId chain, ChainField(req->chain()));
    RF_RETURN_IF_ERROR(CheckSize("txid", req->txid().size(), kTxidField));
    if (req->txid().size() != kTxidField || !IsLowerHex(req->txid())) {
      return absl::InvalidArgumentError(Cat("txid: ", base::Clip(req->txid()), " is not 64 lowercase hex digits"));
    }
    RF_ASSIGN_OR_RETURN(std::vector<std::string> evicted, sim_->DropBroadcast(chain, req->txid()));
    for (std::string& txid : evicted) resp->add_evicted_txids(std::move(txid));
    return absl::OkStatus();
  });
}

grpc::Status ControlService::RegisterToken(grpc::ServerContext*, const v1::RegisterTokenRequest* req,
                                           v1::RegisterTokenResponse* resp) {
  return Handle([&]() -> absl::Status {
    RF_RETURN_IF_ERROR(CheckSize("contract", req->contract().size(), kMaxContractField));
    RF_ASSIGN_OR_RETURN(std::string contract, sim_->RegisterToken(req->contract(), req->decimals()));
    resp->set_contract(contract);
    return absl::OkStatus();
  });
}

absl::Status CheckListenAddress(std::string_view address) {
  constexpr size_t kMaxListen = 200;
  if (address.size() > kMaxListen) {
    return absl::InvalidArgumentError(Cat("--listen: ", address.size(), " bytes, at most ", kMaxListen));
  }
  if (address.starts_with("unix:")) {
    if (address.size() < 7 || address[5] != '/') {
      return absl::InvalidArgumentError(Cat("--listen: ", base::Clip(address), " needs an absolute path after unix:"));
    }
    return absl::OkStatus();
  }
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(Cat("--listen: ", base::Clip(address), " is not host:port or unix:PATH"));
  }
  const std::string_view host = address.substr(0, colon);
  const std::string_view port = address.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return absl::InvalidArgumentError(Cat("--listen: port ", base::Clip(port), " is not 0..65535"));
  }
  // 127.0.0.0/8 written as four decimal octets.
  auto is_ipv4_loopback = [](std::string_view h) {
    if (!h.starts_with("127.")) return false;
    int parts = 0;
    size_t at = 0;
    while (at <= h.size()) {
      const size_t dot = std::min(h.find('.', at), h.size());
      unsigned octet = 0;
      auto [p, e] = std::from_chars(h.data() + at, h.data() + dot, octet);
      if (dot == at || e != std::errc() || p != h.data() + dot || octet > 255) return false;
      ++parts;
      at = dot + 1;
    }
    return parts == 4;
  };
  if (host != "localhost" && host != "[::1]" && !is_ipv4_loopback(host)) {
    return absl::InvalidArgumentError(Cat("--listen: host ", base::Clip(host),
                                          " is not a loopback address (127.0.0.0/8, localhost, [::1]); chainsim "
                                          "has no authentication and must not be reachable from other machines"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ChainsimServer>> ChainsimServer::Start(const std::string& state_path,
                                                                      const std::string& listen) {
  RF_RETURN_IF_ERROR(CheckListenAddress(listen));
  std::unique_ptr<ChainsimServer> s(new ChainsimServer());
  RF_ASSIGN_OR_RETURN(s->sim_, Simulator::Open(state_path));
  s->node_ = std::make_unique<NodeService>(s->sim_.get());
  s->control_ = std::make_unique<ControlService>(s->sim_.get());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.RegisterService(s->node_.get());
  builder.RegisterService(s->control_.get());
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || (!listen.starts_with("unix:") && port == 0)) {
    return absl::UnavailableError(Cat("cannot listen on ", base::Clip(listen, 200)));
  }
  if (listen.starts_with("unix:")) {
    s->address_ = listen;
  } else {
    s->address_ = Cat(listen.substr(0, listen.rfind(':')), ":", port);
  }
  grpc::HealthCheckServiceInterface* health = s->server_->GetHealthCheckService();
  health->SetServingStatus(v1::Node::service_full_name(), true);
  health->SetServingStatus(v1::Control::service_full_name(), true);
  return s;
}

void ChainsimServer::Shutdown() {
  if (server_ == nullptr) return;
  server_->GetHealthCheckService()->Shutdown();
  // Shutdown completes only once every client connection is gone, and an idle gRPC client
  // notices the server's GOAWAY only at its next poll (up to 5 s later). Calls still running
  // after this grace period are cancelled: each change is one SQLite transaction, committed
  // whole or not at all, and a client that retries a broadcast gets already_known.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(250));
  server_->Wait();
  server_.reset();
}

ChainsimServer::~ChainsimServer() { Shutdown(); }

}  // namespace ringfence::chainsim

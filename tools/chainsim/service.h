// The gRPC face of chainsim (proto/chainsim.proto): the Node and Control services over one
// Simulator, and the server that hosts them with the health and reflection services.
//
// Handlers check every field's size first (the maxima below, stated in the proto), then hand
// the request to the Simulator, and translate its absl::Status one to one into a gRPC status.
// No exception leaves a handler. The services keep no state of their own and are thread-safe;
// the Simulator must outlive them.
#ifndef RINGFENCE_TOOLS_CHAINSIM_SERVICE_H_
#define RINGFENCE_TOOLS_CHAINSIM_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "proto/chainsim.grpc.pb.h"
#include "tools/chainsim/simulator.h"

namespace ringfence::chainsim {

inline constexpr size_t kMaxChainField = 16;
inline constexpr size_t kMaxAddressField = 90;
inline constexpr size_t kMaxContractField = 42;
inline constexpr size_t kMaxAmountField = 39;
inline constexpr size_t kMaxWatchedAddresses = 10'000;
inline constexpr size_t kMaxRawTransaction = 400'000;
inline constexpr size_t kTxidField = 64;
// Large enough for the biggest request (10,000 credits or watched addresses, a 400,000-byte
// transaction) with room to spare.
inline constexpr int kMaxMessageBytes = 8 << 20;

class NodeService final : public v1::Node::Service {
 public:
  explicit NodeService(Simulator* sim) : sim_(sim) {}
  grpc::Status GetTip(grpc::ServerContext*, const v1::GetTipRequest* req, v1::GetTipResponse* resp) override;
  grpc::Status GetBlock(grpc::ServerContext*, const v1::GetBlockRequest* req, v1::GetBlockResponse* resp) override;
  grpc::Status GetBalance(grpc::ServerContext*, const v1::GetBalanceRequest* req,
                          v1::GetBalanceResponse* resp) override;
  grpc::Status GetBalances(grpc::ServerContext*, const v1::GetBalancesRequest* req,
                           v1::GetBalancesResponse* resp) override;
  grpc::Status Broadcast(grpc::ServerContext*, const v1::BroadcastRequest* req, v1::BroadcastResponse* resp) override;
  grpc::Status GetNonce(grpc::ServerContext*, const v1::GetNonceRequest* req, v1::GetNonceResponse* resp) override;
  grpc::Status ListUnspent(grpc::ServerContext*, const v1::ListUnspentRequest* req,
                           v1::ListUnspentResponse* resp) override;
  grpc::Status GetFeeEstimate(grpc::ServerContext*, const v1::GetFeeEstimateRequest* req,
                              v1::GetFeeEstimateResponse* resp) override;
  grpc::Status GetTransaction(grpc::ServerContext*, const v1::GetTransactionRequest* req,
                              v1::GetTransactionResponse* resp) override;

 private:
  Simulator* sim_;
};

class ControlService final : public v1::Control::Service {
 public:
  explicit ControlService(Simulator* sim) : sim_(sim) {}
  grpc::Status Credit(grpc::ServerContext*, const v1::CreditRequest* req, v1::CreditResponse* resp) override;
  grpc::Status CreditBatch(grpc::ServerContext*, const v1::CreditBatchRequest* req,
                           v1::CreditBatchResponse* resp) override;
  grpc::Status Mine(grpc::ServerContext*, const v1::MineRequest* req, v1::MineResponse* resp) override;
  grpc::Status Reorg(grpc::ServerContext*, const v1::ReorgRequest* req, v1::ReorgResponse* resp) override;
  grpc::Status DropBroadcast(grpc::ServerContext*, const v1::DropBroadcastRequest* req,
                             v1::DropBroadcastResponse* resp) override;
  grpc::Status RegisterToken(grpc::ServerContext*, const v1::RegisterTokenRequest* req,
                             v1::RegisterTokenResponse* resp) override;
  grpc::Status GetBroadcastCount(grpc::ServerContext*, const v1::GetBroadcastCountRequest* req,
                                 v1::GetBroadcastCountResponse* resp) override;

 private:
  Simulator* sim_;
};

// Checks a --listen value: "unix:/absolute/path", or host:port with a loopback host
// (127.0.0.0/8, "localhost", "[::1]") and a port 0..65535. InvalidArgument otherwise.
absl::Status CheckListenAddress(std::string_view address);

// chainsim's server: the Simulator over `state_path`, Node, Control, health and reflection,
// listening on `listen` (CheckListenAddress). Shutdown (or destruction) stops it.
class ChainsimServer {
 public:
  static absl::StatusOr<std::unique_ptr<ChainsimServer>> Start(const std::string& state_path,
                                                               const std::string& listen);
  ~ChainsimServer();

  // What a client dials: "127.0.0.1:54321" with the port actually bound, or "unix:/path".
  const std::string& address() const { return address_; }
  void Shutdown();

 private:
  ChainsimServer() = default;

  std::string address_;
  std::unique_ptr<Simulator> sim_;
  std::unique_ptr<NodeService> node_;
  std::unique_ptr<ControlService> control_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace ringfence::chainsim

#endif  // RINGFENCE_TOOLS_CHAINSIM_SERVICE_H_
